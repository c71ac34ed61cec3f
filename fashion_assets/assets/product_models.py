"""Product catalogue models: a classifier per label level and similar-item recommendations.
Same trainer, inference and report as the sex&style classifier; the classifier is an artifact
whose handle tells the recommendations its level, image size and normalisation."""

import io

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from ..core.common.artifacts import Artifact, content_version
from ..core.common.atomic import atomic_path, write_bytes
from ..core.images.batch import sha1_of
from ..core.preferences.features import top_k_neighbours
from ..core.catalogue.products import precision_at_k, three_way_split
from ..io_managers import ArtifactStore
from ..resources import DataRootResource, ModelRegistryResource, TorchDeviceResource
from .classifier import ARTIFACT, GPU_TAGS
from .metadata import markdown, table_output
from .registry import champion_output

GROUP = "catalogue"


class ProductClassifierConfig(dg.Config):
    level: str = Field(default="Class", description="Label level: masterCategory, Class or articleType.")
    min_items: int = Field(default=20, ge=1, description="Classes with fewer products are left out (articleType has many tiny ones).")
    image_size: int = Field(default=64, ge=32, description="Training resolution (the photos are 224x224).")
    epochs: int = Field(default=10, ge=1, description="Maximum epochs; the epoch is chosen on the validation split.")
    samples_per_epoch: int = Field(default=0, ge=0, description="0 = one pass over the training split.")
    recipe: str = Field(default="improved", description="'seed' or 'improved' (the same recipes as the style classifier).")
    pretrained_weights: str | None = Field(default=None, description="Local torchvision ResNet-18 state_dict file for "
                                                                      "transfer learning; none = from scratch (no download).")


PRODUCT_GATE = "product_classifier_beats_majority"


@dg.asset(group_name=GROUP, kinds={"pytorch"}, pool="gpu", op_tags=GPU_TAGS, io_manager_key=ARTIFACT, code_version="3",
          check_specs=[dg.AssetCheckSpec(PRODUCT_GATE, asset="product_classifier", blocking=True,
                                         description="The chosen model beats the majority class on the validation split "
                                                     "it was chosen on (gates the champion alias and downstream use).")])
def product_classifier(context: dg.AssetExecutionContext, config: ProductClassifierConfig, artifact_store: ArtifactStore,
                       torch_device: TorchDeviceResource, model_registry: ModelRegistryResource,
                       product_classes: pd.DataFrame):
    """ResNet-18 on one label level of the catalogue: stratified train/validation/test, the epoch
    chosen on validation, the test split scored once (accuracy, macro and weighted F1, report)."""
    import torch
    from sklearn.metrics import classification_report, f1_score
    from ..core.classifier import evaluation
    from ..core.common import plots
    from ..core.classifier.training import TrainConfig, fit, load_classifier
    from ..core.classifier.inference import predict_logits
    from ..core.classifier.data import channel_stats, load_uint8

    if config.level not in product_classes.columns:
        raise dg.Failure(f"unknown level {config.level!r}; valid: masterCategory, subCategory, articleType, Class")
    counts = product_classes[config.level].value_counts()
    items = product_classes[product_classes[config.level].map(counts) >= config.min_items].reset_index(drop=True)
    names = sorted(items[config.level].unique())
    y = items[config.level].map({c: i for i, c in enumerate(names)}).to_numpy()
    x = load_uint8(list(items.image), config.image_size)
    tr, va, te = three_way_split(y)
    mean, std = (torch.tensor(v) for v in channel_stats(x[tr]))
    device = torch_device.torch_device()
    cfg = TrainConfig(recipe=config.recipe, epochs=config.epochs, image_size=config.image_size,
                      samples_per_epoch=config.samples_per_epoch or len(tr), patience=config.epochs)
    init = torch.load(config.pretrained_weights, map_location="cpu", weights_only=True) if config.pretrained_weights else None
    inputs_version = content_version(items[["id", config.level]], config.model_dump())
    result = fit((x[tr], y[tr]), (x[va], y[va]), names, mean, std, cfg, device, artifact_store.work_folder(context),
                 log=context.log.info, resume=False, init_state=init, inputs_version=inputs_version)
    version = artifact_store.version_folder(context)
    model_path = result["best_path"].replace(version / "model.pt")
    model, ckpt = load_classifier(model_path, device)
    pred = predict_logits(model, x[te], mean, std, device, tta_flip=ckpt["recipe"]["tta_flip"]).argmax(1).numpy()
    majority = float((y[te] == np.bincount(y[tr]).argmax()).mean())
    summary = {"level": config.level, "classes": len(names), "items": len(items), "test_items": int(len(te)),
               "accuracy": float((pred == y[te]).mean()), "majority_baseline": majority,
               "f1_macro": float(f1_score(y[te], pred, average="macro")),
               "f1_weighted": float(f1_score(y[te], pred, average="weighted")),
               "best_epoch": result["best"]["epoch"], "from": "pretrained file" if init else "scratch", "device": str(device)}
    report = pd.DataFrame(classification_report(y[te], pred, labels=range(len(names)), target_names=names,
                                                output_dict=True, zero_division=0)).T.round(3).reset_index(names="label")
    png = plots.confusion(evaluation.confusion(y[te], pred, len(names)), names)
    write_bytes(version / "confusion_matrix.png", png)
    artifact = Artifact(path=str(model_path), kind="classifier", inputs_version=inputs_version, version=version.name,
                        settings={"level": config.level, "image_size": config.image_size, "class_names": names,
                                  "mean": mean.tolist(), "std": std.tolist(), "recipe": config.recipe})
    write_bytes(version / "test_report.csv", report.to_csv(index=False).encode())
    registered = model_registry.registry().log_training(
        f"product_classifier_{config.level}", model_path, config.model_dump(), result["history"], summary,
        [version / "confusion_matrix.png", version / "test_report.csv"],
        tags={"dagster_run_id": context.run_id, "inputs_version": inputs_version, "dagster_asset": "product_classifier"})
    # The champion alias of this level moves only when the gate passes (on the split that chose the epoch).
    chosen, majority_va = result["best"]["holdout_accuracy"], float((y[va] == np.bincount(y[tr]).argmax()).mean())
    passed = chosen > majority_va
    if passed:
        model_registry.registry().set_champion(registered.name, registered.version)
    context.log.info(f"registered {registered.name} version {registered.version}; "
                     + ("it is the champion now" if passed else f"it failed {PRODUCT_GATE}: the champion stays"))
    yield dg.Output(artifact, data_version=dg.DataVersion(sha1_of(model_path)[:20]), metadata={
        "mlflow_run": dg.MetadataValue.url(registered.run_url()),
        "registered_version": dg.MetadataValue.int(registered.version),
        "summary": dg.MetadataValue.json(summary), "accuracy": dg.MetadataValue.float(round(summary["accuracy"], 4)),
        "report": dg.MetadataValue.md(markdown(report)),
        "confusion_matrix": dg.MetadataValue.md(plots.markdown_image(png, "confusion")),
        "champion": dg.MetadataValue.bool(passed)})
    yield dg.AssetCheckResult(check_name=PRODUCT_GATE, passed=passed, metadata={"majority_rate": majority_va},
                              description=f"validation-split accuracy {chosen:.1%} against {majority_va:.1%} for the "
                                          "majority class")


@dg.asset(group_name=GROUP, kinds={"mlflow", "pytorch"}, io_manager_key=ARTIFACT, code_version="1")
def product_champion(context: dg.AssetExecutionContext, model_registry: ModelRegistryResource,
                     product_classifier: Artifact):
    """The registered product classifier version under the 'champion' alias, for the label level
    of the latest training (read from its handle): what the product features use."""
    level = product_classifier.settings["level"]
    return champion_output(context, model_registry.registry(), f"product_classifier_{level}", PRODUCT_GATE, level=level)


@dg.asset(group_name=GROUP, kinds={"pytorch", "numpy"}, pool="gpu", op_tags=GPU_TAGS, io_manager_key=ARTIFACT,
          code_version="1")
def product_features(context: dg.AssetExecutionContext, torch_device: TorchDeviceResource, artifact_store: ArtifactStore,
                     product_champion: Artifact, product_classes: pd.DataFrame):
    """512-d features (the product classifier's layer before its head) of every product, in id
    order; image size and normalisation come from the classifier's checkpoint."""
    from ..core.classifier.training import load_classifier
    from ..core.classifier.inference import extract_features
    from ..core.classifier.data import load_uint8

    items = product_classes.sort_values("id", ignore_index=True)
    model, ckpt = load_classifier(product_champion.path)
    feats = extract_features(model, load_uint8(list(items.image), ckpt["config"]["image_size"]), ckpt["mean"],
                             ckpt["std"], torch_device.torch_device())
    path = artifact_store.version_folder(context) / "product_features.npz"
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, features=feats, id=items.id.to_numpy())
    version = content_version(product_champion.version, items[["id", "image"]])
    return dg.Output(Artifact(path=str(path), kind="feature_matrix", inputs_version=version, version=path.parent.name,
                              settings={"level": product_champion.settings["level"],
                                        "classifier_version": product_champion.version, "products": len(items)}),
                     data_version=dg.DataVersion(version), metadata={"shape": list(feats.shape)})


class RecommendationConfig(dg.Config):
    k: int = Field(default=5, ge=1, description="Similar products per product.")


@dg.asset(group_name=GROUP, kinds={"duckdb"}, code_version="3")
def product_recommendations(context: dg.AssetExecutionContext, config: RecommendationConfig, data_root: DataRootResource,
                            product_features: Artifact, product_classes: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """Top-k visually similar products per product (cosine on the classifier's features), never the
    product itself; precision@k against the same articleType; a contact sheet of examples."""
    from PIL import Image
    from ..core.common import plots

    items = product_classes.sort_values("id", ignore_index=True)
    data = np.load(product_features.path)
    if not np.array_equal(data["id"], items.id.to_numpy()):
        raise dg.Failure("product_features was computed for other products than product_classes holds now: "
                         "materialize product_features again")
    idx, sim = top_k_neighbours(data["features"], config.k)
    art = items.articleType.to_numpy()
    p_at_k = precision_at_k(idx, art)
    recs = pd.DataFrame({"id": np.repeat(items.id.to_numpy(), idx.shape[1]), "rank": np.tile(np.arange(1, idx.shape[1] + 1), len(items)),
                         "similar_id": items.id.to_numpy()[idx.ravel()], "cosine": sim.ravel(),
                         "same_articleType": (art[idx] == art[:, None]).ravel()})
    sheet = Image.new("RGB", (80 * (config.k + 1), 80 * 6), "white")
    for row, q in enumerate(np.linspace(0, len(items) - 1, 6).astype(int)):
        for col, j in enumerate([q, *idx[q]]):
            sheet.paste(Image.open(items.image[j]).convert("RGB").resize((76, 76)), (80 * col + 2, 80 * row + 2))
    png = io.BytesIO()
    sheet.save(png, format="PNG")
    path = write_bytes(data_root.reports / "product_recommendations.png", png.getvalue())
    context.log.info(f"precision@{config.k} (same articleType): {p_at_k:.3f}")
    return table_output(recs, **{f"precision_at_{config.k}_same_articleType": dg.MetadataValue.float(round(p_at_k, 4)),
                                 "classifier_level": product_features.settings["level"],
                                 "contact_sheet": dg.MetadataValue.md(plots.markdown_image(png.getvalue(), "examples")),
                                 "contact_sheet_path": dg.MetadataValue.path(str(path))})
