"""Stage 3-2: like/dislike predictions compared across the seed's method, honest variants,
baselines and a stronger honest predictor — kept current in seconds when new answers arrive.

``preference_model`` fits every method on the training answers and the features only, and is
refitted only when those (or its settings) change. ``preference_models`` scores the validation
answers: rows of answers already scored with the same fit are reused and only new or changed
answers are scored, which equals a full recompute (each answer's scores depend on the fit, the
training answers and the features only). Thresholds chosen on validation (the seed protocol)
and the metrics are recomputed over all answers every time.
"""

import dataclasses

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from ..core.common import plots
from ..core.common.artifacts import Artifact, content_version
from ..core.common.atomic import write_bytes
from ..core.common.uncertainty import roc_points
from ..core.preferences.answers import ANSWER, ANSWER_COLUMNS, answers_with_features, scoring_side
from ..core.preferences.features import FeatureMatrix, load_feature_matrix
from ..core.preferences.methods import (ORDER, fit_methods, load_fit, metrics_table, readable, save_fit, score_methods,
                                       thresholds_and_protocols)
from ..core.preferences.profile import FOLDS, PROFILE_FIELDS
from ..core.preferences.scores import encode
from ..io_managers import ArtifactStore, WarehouseResource
from ..resources import DataRootResource
from .conventions import ARTIFACT, EAGER, PREFERENCES, markdown, table_output
# On the path from new survey files to the predictions: in a run these steps go before the ones
# that wait beside them (leakage report, per-respondent lists), which the predictions do not need.
PREDICTIONS_FIRST = {"dagster/priority": "1"}
# The DuckDB I/O manager loads only the columns of valid_labels the preference steps read.
VALID_LABELS_IN = dg.AssetIn(metadata={"columns": ANSWER_COLUMNS})


class PreferenceFitConfig(dg.Config):
    autoencoder_epochs: int = Field(default=200, ge=1, description="Epochs of the seed's autoencoder variant.")


def usable_answers(context, valid_labels: pd.DataFrame, fm: FeatureMatrix) -> tuple[pd.DataFrame, dict, int]:
    """(answers whose image has features, image key → feature row, how many answers were left
    out), with a warning naming the images left out."""
    answers, rows, left_out = answers_with_features(valid_labels, fm)
    without = len(valid_labels) - len(answers)
    if without:  # their image was quarantined in the image stage: reported, not scored
        context.log.warning(f"{without} answers are about images without features (quarantined in the "
                            f"image stage; see image_set_quarantine_empty) and are left out, e.g. {left_out[:3]}")
    return answers, rows, without


@dg.asset(group_name=PREFERENCES, kinds={"scikitlearn", "pytorch"}, io_manager_key=ARTIFACT, code_version="1",
          automation_condition=EAGER, op_tags=PREDICTIONS_FIRST, ins={"valid_labels": VALID_LABELS_IN})
def preference_model(context: dg.AssetExecutionContext, config: PreferenceFitConfig, artifact_store: ArtifactStore,
                     feature_matrix: Artifact, valid_labels: pd.DataFrame):
    """Every preference method fitted on the training answers and image features only: honest
    thresholds (leave-one-out training scores), the autoencoder's codes, the stacked weights.
    Refitted only when the training answers, the features or the settings change."""
    fm = load_feature_matrix(feature_matrix.path)
    answers, rows, _ = usable_answers(context, valid_labels, fm)
    train = answers[answers.split == "Train"].sort_values(ANSWER, ignore_index=True)
    known = [c for c in ("R_id", "image", "like", "class_label", *PROFILE_FIELDS) if c in train.columns]
    key = content_version(train[known], feature_matrix.version, config.model_dump())
    previous = artifact_store.current(context.asset_key)
    if previous and previous.inputs_version == key:
        context.log.info(f"training answers, features and settings unchanged: the fit {previous.version} is kept")
        return dg.Output(previous, data_version=dg.DataVersion(key), metadata={"refitted": False})
    context.log.info(f"fitting every method on {len(train)} training answers "
                     + ("(first fit)" if previous is None else "(training answers, features or settings changed)"))
    e_train, _ = encode(train, train.iloc[:0], rows, column="image")
    side = scoring_side(None, train, train.iloc[:0], rows, len(fm.features))
    fit = fit_methods(fm.features, e_train, config.autoencoder_epochs, side)
    path = save_fit(artifact_store.version_folder(context) / "fit.npz", fit)
    context.log.info(f"profile_honest: C {fit.profile.c} chosen by {FOLDS}-fold cross-validation on the training answers "
                     f"(held-out log-loss per C: {fit.profile.cv_log_loss})")
    artifact = Artifact(path=str(path), kind="preference_fit", inputs_version=key, version=path.parent.name,
                        settings={"autoencoder_epochs": config.autoencoder_epochs, "training_answers": len(train),
                                  "feature_matrix_version": feature_matrix.version})
    return dg.Output(artifact, data_version=dg.DataVersion(key),
                     metadata={"refitted": True, "thresholds": dg.MetadataValue.json(fit.thresholds),
                               "profile_model_C": fit.profile.c,
                               "profile_model_cv_log_loss": dg.MetadataValue.json(fit.profile.cv_log_loss)})


def _scores(previous: pd.DataFrame, test: pd.DataFrame, fit_version: str, score,
            methods: list[str]) -> tuple[dict[str, np.ndarray], int]:
    """Every method's scores of the test answers in order: stored ones where the answer was scored
    with this fit before, ``score(new answers)`` for the rest. Returns (scores, answers scored now)."""
    columns = [f"{m}_score" for m in methods]
    usable = (not previous.empty and "fit_version" in previous.columns and set(columns) <= set(previous.columns))
    old = previous[previous.fit_version == fit_version][ANSWER + columns] if usable else pd.DataFrame(columns=ANSWER + columns)
    merged = test[ANSWER].merge(old.drop_duplicates(ANSWER), on=ANSWER, how="left")
    new = merged[columns[0]].isna().to_numpy()
    if new.any():
        fresh = score(test[new].reset_index(drop=True))
        for m in methods:
            merged.loc[new, f"{m}_score"] = fresh[m]
    return {m: merged[f"{m}_score"].to_numpy(dtype=float) for m in methods}, int(new.sum())


@dg.multi_asset(
    outs={"preference_predictions": dg.AssetOut(group_name=PREFERENCES, kinds={"duckdb"}, code_version="3", automation_condition=EAGER,
                                                description="Per validation answer: every method's score and prediction."),
          "preference_metrics": dg.AssetOut(group_name=PREFERENCES, kinds={"duckdb"}, code_version="3", automation_condition=EAGER,
                                            description="Accuracy and ROC AUC of every method, on all and on unseen answers.")},
    op_tags=PREDICTIONS_FIRST, ins={"valid_labels": VALID_LABELS_IN},
)
def preference_models(context: dg.AssetExecutionContext, data_root: DataRootResource, warehouse: WarehouseResource,
                      preference_model: Artifact, feature_matrix: Artifact, valid_labels: pd.DataFrame):
    """Predict each validation answer's like/dislike from training answers and image features only;
    answers already scored with the same fit keep their scores."""
    fm, fit = load_feature_matrix(feature_matrix.path), load_fit(preference_model.path)
    if preference_model.settings.get("feature_matrix_version") != feature_matrix.version:
        fit = dataclasses.replace(fit, median_x=None)  # fitted on other features: their median is not these
    answers, rows, without = usable_answers(context, valid_labels, fm)
    train = answers[answers.split == "Train"]
    test = answers[answers.split == "Validation"].sort_values(ANSWER, ignore_index=True)

    def score(new: pd.DataFrame) -> dict[str, np.ndarray]:
        e_train, e_new = encode(train, new, rows, column="image")
        return score_methods(fm.features, fit, e_train, e_new, scoring_side(fit, train, new, rows, len(fm.features)))

    methods = [m for m in ORDER if m != "profile_honest" or fit.profile is not None]
    scores, scored = _scores(warehouse.previous_rows("preference_predictions"), test, preference_model.version, score,
                             methods)
    context.log.info(f"{scored} validation answers scored, {len(test) - scored} kept (same fit {preference_model.version})")
    seen = set(zip(train.R_id, train.jpg_name))
    unseen = np.array([(r, j) not in seen for r, j in zip(test.R_id, test.jpg_name)], dtype=bool)
    y = test.like.to_numpy()
    thresholds, _ = thresholds_and_protocols(fit, y, scores)
    preds = test[["R_id", "jpg_name", "file_name", "like"]].rename(columns={"like": "actual"}).assign(unseen=unseen)
    for name in methods:
        preds[f"{name}_score"] = scores[name]
        preds[f"{name}_predicted"] = (scores[name] > thresholds[name]).astype(int)
    preds["fit_version"] = preference_model.version
    # The predictions are committed first: what a user waits for after new answers land. The
    # metrics (1,000 bootstrap resamples) and the ROC figure come after.
    yield table_output(preds, output_name="preference_predictions", answers_without_features=dg.MetadataValue.int(without),
                       answers_scored_now=dg.MetadataValue.int(scored))
    table = metrics_table(fit, y, unseen, scores, respondents=test.R_id.to_numpy())
    honest = table[table.protocol == "honest"].sort_values("accuracy_unseen", ascending=False)
    best = honest.method.iloc[0]
    curves = {f"{name} (all)": roc_points(y, scores[name])[:2] for name in ("seed", "seed_honest", best)}
    if unseen.any():
        curves[f"{best} (unseen)"] = roc_points(y[unseen], scores[best][unseen])[:2]
    png = plots.roc_curves(curves)
    write_bytes(data_root.reports / "preference_roc.png", png)
    shown = readable(table)
    context.log.info("figures with 95% bootstrap intervals (respondents resampled):\n" + shown.to_string(index=False))
    yield table_output(table, preview_rows=20, output_name="preference_metrics",
                       table=dg.MetadataValue.md(markdown(shown)),
                       best_honest_unseen=dg.MetadataValue.json(honest.iloc[0][["method", "accuracy_unseen",
                                                                                 "roc_auc_unseen"]].to_dict()),
                       roc_curve=dg.MetadataValue.md(plots.markdown_image(png, "ROC")))
