"""One batch of new photos, predicted: the exported classifier's top classes (its logits pooled
with its colour expert, as in validation), the most similar training images (cosine of the same
champion's features) and the respondents most likely to like each photo (a preference method
fitted on the training answers only)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..preferences.features import FeatureMatrix, best_k, nearest
from .batches import class_posteriors, top_classes


@dataclass
class BatchPrediction:
    classes: pd.DataFrame  # per photo (in the photos' order): top classes and probabilities
    matches: pd.DataFrame  # per photo: neighbours, then likely fans, ranked
    training_images: int  # the neighbours were looked for among these


def classify(onnx_path: str | Path, settings: dict, crops: list[str], dimensions: int) -> dict[str, np.ndarray]:
    """Logits (pooled with the colour expert named in ``settings``, beside the model file) and
    features of the crops, from the exported classifier (onnxruntime)."""
    from ..classifier.baselines import pooled_scores
    from ..classifier.data import load_uint8
    from ..classifier.export import onnx_session, run_onnx

    if not crops:
        return {"logits": np.zeros((0, len(settings["class_names"]))), "features": np.zeros((0, dimensions))}
    images = load_uint8(crops, settings["image_size"])
    out = run_onnx(onnx_session(onnx_path), images)
    if settings.get("colour_expert"):  # the classifier's classes: its logits pooled with its colour expert
        expert = json.loads((Path(onnx_path).parent / settings["colour_expert"]).read_text())
        out["logits"] = pooled_scores(out["logits"], images, expert)
    return out


def predict_batch(batch: str, photos: pd.DataFrame, out: dict[str, np.ndarray], class_names: list[str],
                  fm: FeatureMatrix, fm_version: str, image_set: pd.DataFrame, train: pd.DataFrame, rows: dict,
                  fit, method: str, k_classes: int, k_neighbours: int, k_respondents: int) -> BatchPrediction:
    """Top classes, nearest training images and likely fans of ``photos`` (``out``: classify's
    result for them). ``train``: the training answers whose image has features; ``fit``: the
    preference methods' fit (a MethodFit), scored with ``method``."""
    from ..preferences.answers import scoring_side
    from ..preferences.methods import score_new_images
    from ..preferences.scores import encode

    classes = top_classes(out["logits"], class_names, k_classes)
    # Nearest training images (the feature matrix is of the same champion as the ONNX model).
    train_images = fm.index[fm.index.split == "Train"].merge(
        image_set[["split", "file_name", "class_label", "crop"]], on=["split", "file_name"])
    idx, sim = nearest(out["features"], fm.features[train_images.row.to_numpy()], k_neighbours)
    # Likely fans: the fit's method, on the training answers only (as for validation answers).
    e_train, _ = encode(train, train.iloc[:0], rows, column="image")
    respondents = np.array(sorted(set(train.R_id)))  # encode's respondent order
    side = scoring_side(fit, train, train.iloc[:0], rows, len(fm.features))
    if side is not None:  # a new photo's class is not labelled: its class posteriors stand in
        side = side.with_new_images(class_posteriors(out["logits"], class_names))
    scores = score_new_images(fm.features, fit, e_train, out["features"], side)[method]
    fans, fan_scores = best_k(scores, min(k_respondents, scores.shape[1]))

    n, k_n, k_r = len(photos), idx.shape[1], fans.shape[1]
    neighbour_rows = train_images.iloc[idx.ravel()]
    matches = pd.concat([
        pd.DataFrame({"file_name": np.repeat(photos.file_name, k_n), "kind": "neighbour", "rank": np.tile(np.arange(1, k_n + 1), n),
                      "match": neighbour_rows.file_name.to_numpy(), "score": sim.ravel(),
                      "class_label": neighbour_rows.class_label.to_numpy(), "crop": neighbour_rows.crop.to_numpy()}),
        pd.DataFrame({"file_name": np.repeat(photos.file_name, k_r), "kind": "respondent", "rank": np.tile(np.arange(1, k_r + 1), n),
                      "match": respondents[fans.ravel()].astype(str), "score": fan_scores.ravel(), "class_label": None,
                      "crop": None})], ignore_index=True).assign(partition=batch)
    matches["method"] = np.where(matches.kind == "neighbour", f"cosine, {fm_version}", method)
    return BatchPrediction(classes, matches, len(train_images))


def sheet_notes(classifier_version: str, training_images: int, method: str, training_answers: int, auc: float,
                baseline_auc: float) -> list[str]:
    """What the contact sheet says about how its predictions were made."""
    return [f"Classifier {classifier_version} (ONNX, onnxruntime); similar images: cosine of its 512-d features "
            f"against the {training_images} training images.",
            f"Fans: {method}, fitted on {training_answers} training answers: the honest method with the best ROC AUC on "
            f"unseen validation answers ({auc:.3f}; respondent_majority, which ignores the photo: {baseline_auc:.3f}) "
            "among those that can score a photo nobody has answered yet. A new photo has no answers of its own: it "
            "is scored from each respondent's answers about other images (and, for profile_honest, their profile "
            "against the photo's class posteriors); validation images had a labelled class and other respondents' "
            "answers, so expect less than that AUC."]
