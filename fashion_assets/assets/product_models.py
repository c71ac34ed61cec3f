"""Product catalogue models: classifiers per label level (ResNet-18 from scratch beside
EfficientNet-Lite0 fine-tuned from ImageNet weights) and similar-item recommendations.
Same trainer, inference and report as the sex&style classifier; the classifier is an artifact
whose handle tells the recommendations its level, image size and normalisation (its champion
version is chosen in registry.py)."""

from typing import Literal

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from ..core.catalogue.products import LEVELS
from ..core.classifier import weights
from ..core.common.artifacts import Artifact, content_version
from ..core.common.atomic import write_bytes, write_npz
from ..core.common.plots import markdown_image
from ..core.images.batch import sha1_of
from ..io_managers import ArtifactStore
from ..resources import DataRootResource, ModelRegistryResource, TorchDeviceResource
from .conventions import (ARTIFACT, CATALOGUE, GPU_POOL, GPU_TAGS, markdown, register_and_gate, registered_metadata,
                          table_output)


class ProductClassifierConfig(dg.Config):
    level: str = Field(default="Class", description="Label level: masterCategory, Class or articleType.")
    min_items: int = Field(default=20, ge=1, description="Classes with fewer products are left out (articleType has many tiny ones).")
    image_size: int = Field(default=64, ge=32, description="Training resolution (the photos are 224x224).")
    epochs: int = Field(default=10, ge=1, description="Maximum epochs; the epoch is chosen on the validation split.")
    samples_per_epoch: int = Field(default=0, ge=0, description="0 = one pass over the training split.")
    recipe: str = Field(default="improved", description="'seed', 'improved' or 'transfer' (the style classifier's recipes).")
    architecture: Literal["resnet18", "efficientnet_lite0"] = Field(default="resnet18", description="The network.")
    pretrained_weights: str | None = Field(default=None, description="Local torchvision ResNet-18 state_dict file for "
                                                                      "transfer learning; none = from scratch (no download).")


class ProductTransferConfig(ProductClassifierConfig):
    image_size: int = Field(default=96, ge=32, description="Training resolution (the photos are 224x224; "
                                                           "a multiple of 32 keeps TensorFlow's padding exact).")
    epochs: int = Field(default=5, ge=1, description="Maximum epochs; the epoch is chosen on the validation split.")
    recipe: str = Field(default="transfer", description="'transfer': 'improved' at half its peak learning rate.")
    architecture: Literal["resnet18", "efficientnet_lite0"] = Field(default="efficientnet_lite0", description="The network.")
    pretrained_weights: str | None = Field(default=str(weights.weights_path()), description=(
        "Local ImageNet state dict (EfficientNet-Lite0: put in place by `make pretrained`; nothing is downloaded)."))


PRODUCT_GATE = "product_classifier_beats_majority"


def _product_classifier(name: str, config_class: type[ProductClassifierConfig], description: str):
    @dg.asset(name=name, group_name=CATALOGUE, kinds={"pytorch"}, pool=GPU_POOL, op_tags=GPU_TAGS,
              io_manager_key=ARTIFACT, code_version="4", description=description,
              check_specs=[dg.AssetCheckSpec(PRODUCT_GATE, asset=name, description=(
                  "The chosen model beats the majority class on the validation split it was chosen on; only then "
                  "may it take the champion alias, which is all that product_features reads (so a failed "
                  "training of one network does not stop the other's champion from being used)."))])
    def train(context: dg.AssetExecutionContext, config: config_class, artifact_store: ArtifactStore,
              torch_device: TorchDeviceResource, model_registry: ModelRegistryResource, product_classes: pd.DataFrame):
        from ..core.catalogue.models import champion_stays, train_product_classifier

        if config.level not in LEVELS or config.level not in product_classes.columns:
            raise dg.Failure(f"unknown level {config.level!r}; valid: {', '.join(LEVELS)}")
        settings, version = config.model_dump(), artifact_store.version_folder(context)
        try:
            r = train_product_classifier(product_classes, settings, torch_device.torch_device(),
                                         artifact_store.work_folder(context), version, context.log.info)
        except (FileNotFoundError, ValueError) as exc:  # a missing or unfitting weights file, named
            raise dg.Failure(str(exc)) from exc
        registry, model = model_registry.registry(), f"product_classifier_{config.level}"
        champion = registry.champion(model)
        stays = champion_stays(champion.tags if champion else None, r.split_version, r.chosen_accuracy)
        registered = register_and_gate(context, registry, model, r.model_path, settings, r.history, r.summary, r.files,
                                       r.inputs_version, r.passed, PRODUCT_GATE, stays=stays, tags={
                                           "split_version": r.split_version, "architecture": config.architecture,
                                           "validation_accuracy": f"{r.chosen_accuracy:.6f}"})
        artifact = Artifact(path=str(r.model_path), kind="classifier", inputs_version=r.inputs_version,
                            version=version.name, settings=r.settings)
        yield dg.Output(artifact, data_version=dg.DataVersion(sha1_of(r.model_path)[:20]), metadata={
            "summary": dg.MetadataValue.json(r.summary), "accuracy": dg.MetadataValue.float(round(r.summary["accuracy"], 4)),
            "validation_accuracy": dg.MetadataValue.float(round(r.chosen_accuracy, 4)),
            "report": dg.MetadataValue.md(markdown(r.report)),
            "confusion_matrix": dg.MetadataValue.md(markdown_image(r.confusion_png, "confusion")),
            **registered_metadata(registered, r.passed and not stays)})
        yield dg.AssetCheckResult(check_name=PRODUCT_GATE, passed=r.passed, metadata={"majority_rate": r.majority_accuracy},
                                  description=f"validation-split accuracy {r.chosen_accuracy:.1%} against "
                                              f"{r.majority_accuracy:.1%} for the majority class")

    return train


product_classifier = _product_classifier("product_classifier", ProductClassifierConfig, (
    "ResNet-18 from scratch on one label level of the catalogue: stratified train/validation/test, the epoch "
    "chosen on validation, the test split scored once (accuracy, macro and weighted F1, report)."))
product_transfer_classifier = _product_classifier("product_transfer_classifier", ProductTransferConfig, (
    "EfficientNet-Lite0 fine-tuned from its ImageNet weights (a local file, `make pretrained`) on one label level, "
    "with the scratch model's splits, gate and report; registered as versions of the same model, the champion "
    "only when it does at least as well as the champion on the validation split."))


@dg.asset(group_name=CATALOGUE, kinds={"pytorch", "numpy"}, pool=GPU_POOL, op_tags=GPU_TAGS, io_manager_key=ARTIFACT,
          code_version="1")
def product_features(context: dg.AssetExecutionContext, torch_device: TorchDeviceResource, artifact_store: ArtifactStore,
                     product_champion: Artifact, product_classes: pd.DataFrame):
    """512-d features (the product classifier's layer before its head) of every product, in id
    order; image size and normalisation come from the classifier's checkpoint."""
    from ..core.classifier.inference import features_of_files

    items = product_classes.sort_values("id", ignore_index=True)
    feats, _ = features_of_files(product_champion.path, list(items.image), torch_device.torch_device())
    path = write_npz(artifact_store.version_folder(context) / "product_features.npz", features=feats,
                     id=items.id.to_numpy())
    version = content_version(product_champion.version, items[["id", "image"]])
    return dg.Output(Artifact(path=str(path), kind="feature_matrix", inputs_version=version, version=path.parent.name,
                              settings={"level": product_champion.settings["level"],
                                        "classifier_version": product_champion.version, "products": len(items)}),
                     data_version=dg.DataVersion(version), metadata={"shape": list(feats.shape)})


class RecommendationConfig(dg.Config):
    k: int = Field(default=5, ge=1, description="Similar products per product.")


@dg.asset(group_name=CATALOGUE, kinds={"duckdb"}, code_version="3")
def product_recommendations(context: dg.AssetExecutionContext, config: RecommendationConfig, data_root: DataRootResource,
                            product_features: Artifact, product_classes: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """Top-k visually similar products per product (cosine on the classifier's features), never the
    product itself; precision@k against the same articleType; a contact sheet of examples."""
    from ..core.catalogue.models import recommend

    items = product_classes.sort_values("id", ignore_index=True)
    data = np.load(product_features.path)
    if not np.array_equal(data["id"], items.id.to_numpy()):
        raise dg.Failure("product_features was computed for other products than product_classes holds now: "
                         "materialize product_features again")
    recs = recommend(items, data["features"], config.k)
    path = write_bytes(data_root.reports / "product_recommendations.png", recs.contact_sheet)
    context.log.info(f"precision@{config.k} (same articleType): {recs.precision_at_k:.3f}")
    return table_output(recs.table, **{
        f"precision_at_{config.k}_same_articleType": dg.MetadataValue.float(round(recs.precision_at_k, 4)),
        "classifier_level": product_features.settings["level"],
        "contact_sheet": dg.MetadataValue.md(markdown_image(recs.contact_sheet, "examples")),
        "contact_sheet_path": dg.MetadataValue.path(str(path))})
