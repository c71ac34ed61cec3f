"""Stage 3-1/3-2: image features from the classifier, neighbours, and like/dislike predictions
compared across the seed's method, honest variants, baselines and a stronger honest predictor."""

import dagster as dg
import numpy as np
import pandas as pd
import torch
from pydantic import Field
from sklearn.metrics import roc_curve

from ..core import plots
from ..core.classifier import load_classifier
from ..core.features import extract_features, top_k_neighbours
from ..core.preferences import compare_methods, encode
from ..core.training_data import load_uint8
from ..resources import DataRootResource, TorchDeviceResource
from .classifier import GPU_TAGS
from .metadata import markdown, table_metadata

GROUP = "preferences"


class FeatureConfig(dg.Config):
    recipe: str = Field(default="improved", description="Which trained classifier's checkpoint to use.")
    image_size: int = Field(default=224, description="Must match the classifier's training resolution.")


@dg.asset(group_name=GROUP, kinds={"pytorch", "numpy"}, pool="gpu", op_tags=GPU_TAGS, deps=["style_classifier"])
def feature_matrix(context: dg.AssetExecutionContext, config: FeatureConfig, data_root: DataRootResource,
                   torch_device: TorchDeviceResource, cropped_images: pd.DataFrame) -> dg.MaterializeResult:
    """512-d features (the classifier with fc → identity) of every image of both splits, one row per
    image name (validation copies of training files share their row), saved as .npz with its index."""
    images = cropped_images.drop_duplicates("file_name").sort_values("file_name", ignore_index=True)
    model, ckpt = load_classifier(data_root.path / "models" / f"style_classifier_{config.recipe}" / "best.pt")
    device = torch_device.torch_device()
    x = extract_features(model, load_uint8(list(images.output), config.image_size),
                         torch.tensor(ckpt["mean"]), torch.tensor(ckpt["std"]), device)
    path = data_root.path / "features" / "feature_matrix.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, features=x, names=np.array(images.file_name, dtype=str))
    tmp.replace(path)
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(path)), "shape": list(x.shape),
                                          "device": str(device)})


def load_features(data_root: DataRootResource) -> tuple[np.ndarray, list[str]]:
    data = np.load(data_root.path / "features" / "feature_matrix.npz", allow_pickle=False)
    return data["features"], [str(n) for n in data["names"]]


class NeighbourConfig(dg.Config):
    k: int = Field(default=10, description="Neighbours per image.")


@dg.asset(group_name=GROUP, kinds={"duckdb"}, deps=["feature_matrix"])
def image_neighbours(config: NeighbourConfig, data_root: DataRootResource) -> dg.Output[pd.DataFrame]:
    """Top-k cosine neighbours of every image (blocked; no dense similarity matrix is kept)."""
    x, names = load_features(data_root)
    idx, sim = top_k_neighbours(x, config.k)
    df = pd.DataFrame({"file_name": np.repeat(names, idx.shape[1]), "rank": np.tile(np.arange(1, idx.shape[1] + 1), len(names)),
                       "neighbour": np.array(names)[idx.ravel()], "cosine": sim.ravel()})
    return dg.Output(df, metadata=table_metadata(df))


class PreferenceConfig(dg.Config):
    autoencoder_epochs: int = Field(default=200, description="Epochs of the seed's autoencoder variant.")


@dg.multi_asset(
    outs={"preference_predictions": dg.AssetOut(group_name=GROUP, kinds={"duckdb"},
                                                description="Per validation answer: every method's score and prediction."),
          "preference_metrics": dg.AssetOut(group_name=GROUP, kinds={"duckdb"},
                                            description="Accuracy and ROC AUC of every method, on all and on unseen answers.")},
    deps=["feature_matrix"],
)
def preference_models(context: dg.AssetExecutionContext, config: PreferenceConfig, data_root: DataRootResource,
                      valid_labels: pd.DataFrame):
    """Predict each validation answer's like/dislike from training answers and image features only."""
    x, names = load_features(data_root)
    answers = valid_labels[["R_id", "jpg_name", "split", "Q5", "file_name"]].assign(like=(valid_labels.Q5 == 2).astype(int))
    train, test = answers[answers.split == "Train"], answers[answers.split == "Validation"].reset_index(drop=True)
    e_train, e_test = encode(train, test, names)
    seen = set(zip(train.R_id, train.jpg_name))
    unseen = np.array([(r, j) not in seen for r, j in zip(test.R_id, test.jpg_name)], dtype=bool)
    table, scores = compare_methods(x, e_train, e_test, unseen, config.autoencoder_epochs)
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
    (data_root.reports / "preference_roc.png").parent.mkdir(parents=True, exist_ok=True)
    (data_root.reports / "preference_roc.png").write_bytes(png)
    shown = table.round(4)
    context.log.info("\n" + shown.to_string(index=False))
    yield dg.Output(preds, "preference_predictions", metadata=table_metadata(preds))
    yield dg.Output(table, "preference_metrics", metadata={
        **table_metadata(table, 20), "table": dg.MetadataValue.md(markdown(shown)),
        "best_honest_unseen": dg.MetadataValue.json(honest.iloc[0][["method", "accuracy_unseen", "roc_auc_unseen"]].to_dict()),
        "roc_curve": dg.MetadataValue.md(plots.markdown_image(png, "ROC"))})


preference_assets = [feature_matrix, image_neighbours, preference_models]
