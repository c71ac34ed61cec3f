"""Stage 3-1/3-2: image features from the classifier, neighbours, and like/dislike predictions
compared across the seed's method, honest variants, baselines and a stronger honest predictor.

The feature matrix is an artifact built from the classifier's handle: the image size and the
normalisation come from the checkpoint, never from a setting of its own. It has one row per
distinct image (by content); an index maps every (split, file name) to its row.
"""

import dagster as dg
import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_curve

from ..core import plots
from ..core.artifacts import Artifact, content_version
from ..core.atomic import atomic_path, write_bytes
from ..core.classifier import load_classifier
from ..core.features import load_feature_matrix, top_k_neighbours
from ..core.inference import extract_features
from ..core.preferences import compare_methods, encode
from ..core.training_data import load_uint8
from ..io_managers import ArtifactStore
from ..resources import DataRootResource, TorchDeviceResource
from .classifier import ARTIFACT, GPU_TAGS
from .metadata import markdown, table_metadata, table_output

GROUP = "preferences"


@dg.asset(group_name=GROUP, kinds={"pytorch", "numpy"}, pool="gpu", op_tags=GPU_TAGS, io_manager_key=ARTIFACT,
          code_version="2")
def feature_matrix(context: dg.AssetExecutionContext, torch_device: TorchDeviceResource, artifact_store: ArtifactStore,
                   style_classifier: Artifact, image_set: pd.DataFrame):
    """512-d features (the classifier's penultimate layer) of every distinct image of both splits,
    with an index from (split, file name) to the feature row."""
    model, ckpt = load_classifier(style_classifier.path)
    size = ckpt["config"]["image_size"]
    distinct = image_set.drop_duplicates("sha1").sort_values("sha1", ignore_index=True)
    device = torch_device.torch_device()
    x = extract_features(model, load_uint8(list(distinct.crop), size), ckpt["mean"], ckpt["std"], device)
    row = dict(zip(distinct.sha1, range(len(distinct))))
    index = image_set[["split", "file_name", "sha1"]].assign(row=image_set.sha1.map(row))
    path = artifact_store.version_folder(context) / "feature_matrix.npz"
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, features=x, sha1=np.array(distinct.sha1, dtype=str), split=np.array(index.split, dtype=str),
                     file_name=np.array(index.file_name, dtype=str), row=index.row.to_numpy())
    version = content_version(style_classifier.version, image_set[["split", "file_name", "sha1", "crop_sha1"]])
    artifact = Artifact(path=str(path), kind="feature_matrix", inputs_version=version, version=path.parent.name,
                        settings={"image_size": size, "classifier_version": style_classifier.version,
                                  "dimensions": int(x.shape[1]), "images": int(x.shape[0])})
    return dg.Output(artifact, data_version=dg.DataVersion(version), metadata={
        "shape": list(x.shape), "device": str(device), "image_size": size,
        "classifier_version": style_classifier.version, "files_indexed": len(index)})


class NeighbourConfig(dg.Config):
    k: int = 10


@dg.asset(group_name=GROUP, kinds={"duckdb"}, code_version="2")
def image_neighbours(config: NeighbourConfig, feature_matrix: Artifact) -> dg.Output[pd.DataFrame]:
    """Top-k cosine neighbours of every distinct image (blocked; no dense similarity matrix is kept)."""
    fm = load_feature_matrix(feature_matrix.path)
    idx, sim = top_k_neighbours(fm.features, config.k)
    name = fm.index.drop_duplicates("row").set_index("row").file_name
    k = idx.shape[1]
    df = pd.DataFrame({"sha1": np.repeat(fm.sha1, k), "file_name": np.repeat(name.reindex(range(len(fm.sha1))).to_numpy(), k),
                       "rank": np.tile(np.arange(1, k + 1), len(fm.sha1)), "neighbour_sha1": fm.sha1[idx.ravel()],
                       "neighbour": name.reindex(idx.ravel()).to_numpy(), "cosine": sim.ravel()})
    return table_output(df)


class PreferenceConfig(dg.Config):
    autoencoder_epochs: int = 200


@dg.multi_asset(
    outs={"preference_predictions": dg.AssetOut(group_name=GROUP, kinds={"duckdb"}, code_version="2",
                                                description="Per validation answer: every method's score and prediction."),
          "preference_metrics": dg.AssetOut(group_name=GROUP, kinds={"duckdb"}, code_version="2",
                                            description="Accuracy and ROC AUC of every method, on all and on unseen answers.")},
)
def preference_models(context: dg.AssetExecutionContext, config: PreferenceConfig, data_root: DataRootResource,
                      feature_matrix: Artifact, valid_labels: pd.DataFrame):
    """Predict each validation answer's like/dislike from training answers and image features only."""
    fm = load_feature_matrix(feature_matrix.path)
    rows = dict(zip(fm.index.split + "/" + fm.index.file_name, fm.index.row))
    answers = valid_labels[["R_id", "jpg_name", "split", "Q5", "file_name"]].assign(
        like=(valid_labels.Q5 == 2).astype(int), image=valid_labels.split + "/" + valid_labels.jpg_name)
    without = ~answers.image.isin(rows)
    if without.any():  # their image was quarantined in the image stage: reported, not scored
        context.log.warning(f"{int(without.sum())} answers are about images without features (quarantined in the "
                            f"image stage; see image_set_quarantine_empty) and are left out, e.g. "
                            f"{sorted(answers.image[without].unique())[:3]}")
    answers = answers[~without]
    train, test = answers[answers.split == "Train"], answers[answers.split == "Validation"].reset_index(drop=True)
    e_train, e_test = encode(train, test, rows, column="image")
    seen = set(zip(train.R_id, train.jpg_name))
    unseen = np.array([(r, j) not in seen for r, j in zip(test.R_id, test.jpg_name)], dtype=bool)
    table, scores = compare_methods(fm.features, e_train, e_test, unseen, config.autoencoder_epochs)
    thresholds = dict(zip(table.method, table.threshold))
    preds = test[["R_id", "jpg_name", "file_name", "like"]].rename(columns={"like": "actual"}).assign(unseen=unseen)
    for name, s in scores.items():
        preds[f"{name}_score"] = s
        preds[f"{name}_predicted"] = (s > thresholds[name]).astype(int)
    honest = table[table.protocol == "honest"].sort_values("accuracy_unseen", ascending=False)
    best = honest.method.iloc[0]
    curves = {f"{name} (all)": roc_curve(e_test.y, scores[name])[:2] for name in ("seed", "seed_honest", best)}
    if unseen.any():
        curves[f"{best} (unseen)"] = roc_curve(e_test.y[unseen], scores[best][unseen])[:2]
    png = plots.roc_curves(curves)
    write_bytes(data_root.reports / "preference_roc.png", png)
    shown = table.round(4)
    context.log.info("\n" + shown.to_string(index=False))
    yield table_output(preds, output_name="preference_predictions",
                       answers_without_features=dg.MetadataValue.int(int(without.sum())))
    yield table_output(table, preview_rows=20, output_name="preference_metrics",
                       table=dg.MetadataValue.md(markdown(shown)),
                       best_honest_unseen=dg.MetadataValue.json(honest.iloc[0][["method", "accuracy_unseen",
                                                                                 "roc_auc_unseen"]].to_dict()),
                       roc_curve=dg.MetadataValue.md(plots.markdown_image(png, "ROC")))
