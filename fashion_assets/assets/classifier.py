"""Stage 1-2 model: channel statistics, the training plan, the ResNet-18 sex&style classifier and
its honest evaluation (holdout-selected; official validation scored once; unseen part apart).

The classifier is an artifact: its checkpoint and reports go into a version folder of the
artifact store, and downstream assets receive the handle (image size, classes, normalisation
are read from it). Training resumes only an interrupted run on the same inputs and settings.
"""

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from ..core.common.artifacts import Artifact
from ..core.common.plots import markdown_image
from ..core.images.batch import sha1_of
from ..core.tables.vocabulary import CLASS_LABELS
from ..io_managers import ArtifactStore
from ..resources import ModelRegistryResource, TorchDeviceResource
from .conventions import (ARTIFACT, CLASSIFIER, EAGER, GPU_POOL, GPU_TAGS, STYLE_MODEL, markdown, register_and_gate,
                          registered_metadata, table_output)

SEED_MEAN, SEED_STD = [0.8752, 0.8656, 0.8636], [0.2598, 0.2734, 0.2761]


@dg.asset(group_name=CLASSIFIER, kinds={"duckdb", "pytorch"}, code_version="2", automation_condition=EAGER)
def channel_stats(context: dg.AssetExecutionContext, image_set: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """Per-channel mean and std over the cropped training images (one vectorised pass, in chunks)."""
    from ..core.classifier.data import channel_stats_of_files, known_images

    train = known_images(image_set, "Train")
    mean, std = channel_stats_of_files(list(train.crop))
    df = pd.DataFrame({"channel": ["R", "G", "B"], "mean": mean, "std": std, "seed_mean": SEED_MEAN, "seed_std": SEED_STD})
    context.log.info(f"channel stats of {len(train)} images: mean {np.round(mean, 4)}, std {np.round(std, 4)}")
    return table_output(df, images=len(train), table=dg.MetadataValue.md(markdown(df)))


class TrainingPlanConfig(dg.Config):
    target_per_class: int = Field(default=2000, ge=1, description="Samples per class the augmentation aims at (the seed's 2,000).")


@dg.asset(group_name=CLASSIFIER, kinds={"duckdb"}, code_version="2", automation_condition=EAGER)
def training_plan(config: TrainingPlanConfig, image_set: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """Per class: training images, the seed's augmentation multiplier, and the samples that gives."""
    from ..core.classifier.data import known_images, training_plan as compute_training_plan

    train = known_images(image_set, "Train")
    if train.empty:
        raise dg.Failure("image_set has no training image with a known class: nothing to plan")
    plan = compute_training_plan(train.class_label, config.target_per_class)
    return table_output(plan, preview_rows=31, classes=len(plan), augmented_samples=int(plan.augmented_samples.sum()),
                        classes_without_images=dg.MetadataValue.json(sorted(set(CLASS_LABELS) - set(plan.class_label))))


class StyleClassifierConfig(dg.Config):
    recipe: str = Field(default="improved", description="'seed' (the seed's recipe) or 'improved'.")
    epochs: int = Field(default=30, ge=1, description="Maximum epochs (early stopping on the holdout may end sooner).")
    batch_size: int = Field(default=64, ge=1, description="Images per step.")
    image_size: int = Field(default=224, ge=32, description="Training resolution (the crops are resized to it); the feature "
                                                     "matrix and every consumer read it from the checkpoint.")
    samples_per_epoch: int = Field(default=0, ge=0, description="0 = the seed's augmented dataset size (training_plan's "
                                                          "augmented samples, ~61.6k at full scale) less the holdout share.")
    patience: int = Field(default=8, ge=1, description="Epochs without holdout improvement before stopping.")
    holdout_fraction: float = Field(default=0.15, gt=0, lt=1, description="Stratified share of training images used to pick the epoch.")
    seed_protocol: bool = Field(default=True, description="Also score validation every epoch to report the seed's "
                                                          "protocol (best epoch on validation); never used to choose.")
    resume: bool = Field(default=True, description="Continue an interrupted run when its inputs and settings match.")
    cpu_channels_last: bool = Field(default=False, description="On a CPU: channels-last memory layout (a GPU always "
                                                               "uses it). benchmarks/cpu_training.py measures it.")
    cpu_bf16: bool = Field(default=False, description="On a CPU with bf16 instructions (avx512_bf16, AMX): bfloat16 "
                                                      "autocast while training; the checkpoint stays float32.")
    mixup: float = Field(default=0.0, ge=0, description="Mixup's Beta(a, a) parameter a (0 = off): each batch is blended with "
                                                  "a shuffled copy of itself, and its loss likewise.")
    random_erasing: float = Field(default=0.0, ge=0, le=1, description="Probability that a training image has a random rectangle "
                                                           "(2-33% of it) replaced by noise (0 = off).")
    colour_jitter: float = Field(default=0.2, ge=0, le=1, description="Brightness, contrast and saturation jitter of the training "
                                                         "augmentation (0.2 = ±20%; 0 = colours kept as photographed).")


BEATS_CHANCE = "style_classifier_beats_chance"
BEATS_BASELINE = "style_classifier_beats_baseline"


@dg.asset(group_name=CLASSIFIER, kinds={"pytorch"}, pool=GPU_POOL, op_tags=GPU_TAGS, io_manager_key=ARTIFACT,
          code_version="4",
          check_specs=[dg.AssetCheckSpec(BEATS_CHANCE, asset="style_classifier", blocking=True,
                                         description="The chosen model beats chance on the training holdout "
                                                     "(gates downstream use)."),
                       dg.AssetCheckSpec(BEATS_BASELINE, asset="style_classifier",
                                         description="The model beats every simple baseline (majority class, colour "
                                                     "histograms + logistic regression) on the holdout (WARN).")])
def style_classifier(context: dg.AssetExecutionContext, config: StyleClassifierConfig, torch_device: TorchDeviceResource,
                     artifact_store: ArtifactStore, model_registry: ModelRegistryResource, image_set: pd.DataFrame,
                     leakage_report: pd.DataFrame, channel_stats: pd.DataFrame, training_plan: pd.DataFrame):
    """ResNet-18 (no pretrained weights) over the 31 sex&style classes. The epoch is chosen on a
    holdout carved from training; the official validation set is scored once with that model and
    reported on all images and on the unseen ones (not in training by name or content)."""
    from ..core.classifier.evaluation import readable_comparison
    from ..core.classifier.style import train_and_evaluate

    settings, version = config.model_dump(), artifact_store.version_folder(context)
    r = train_and_evaluate(image_set, leakage_report, channel_stats, training_plan, settings,
                           torch_device.torch_device(), artifact_store.work_folder(context), version, context.log.info)
    gate = beats_chance(r.summary["holdout_accuracy"], r.classes, r.holdout_images)
    registered = register_and_gate(context, model_registry.registry(), STYLE_MODEL, r.model_path, settings, r.history,
                                   r.flat_metrics(), r.files, r.inputs_version, gate.passed, BEATS_CHANCE)
    artifact = Artifact(path=str(r.model_path), kind="classifier", inputs_version=r.inputs_version,
                        version=version.name, settings=r.settings)
    yield dg.Output(artifact, data_version=dg.DataVersion(sha1_of(r.model_path)[:20]), metadata={
        "summary": dg.MetadataValue.json(r.summary),
        "validation_accuracy": dg.MetadataValue.float(round(r.summary["validation_accuracy"], 4)),
        "unseen_accuracy": dg.MetadataValue.float(round(r.summary["unseen_accuracy"], 4)),
        "pooled_unseen_accuracy": dg.MetadataValue.float(round(r.summary["pooled"]["unseen_accuracy"], 4)),
        "accuracy (official vs unseen)": dg.MetadataValue.md(markdown(r.side_by_side)),
        "model vs baselines": dg.MetadataValue.md(markdown(readable_comparison(r.comparison))),
        "per_class": dg.MetadataValue.md(markdown(r.report)), **registered_metadata(registered, gate.passed),
        **{name: dg.MetadataValue.md(markdown_image(png, name)) for name, png in r.figures.items()}})
    yield gate
    yield beats_baseline(r.summary["holdout_accuracy"], r.baselines)


def beats_chance(holdout_accuracy: float, classes: int, holdout_images: int) -> dg.AssetCheckResult:
    """Passed when the chosen model's holdout accuracy is above 1/classes; a clear failure, not a
    crash, when there is no holdout to judge by."""
    chance = 1 / max(classes, 1)
    if holdout_images == 0 or np.isnan(holdout_accuracy):
        return dg.AssetCheckResult(check_name=BEATS_CHANCE, passed=False,
                                   description="no holdout images to judge the model by: nothing to check, so the "
                                               "model is not passed downstream (add training images)")
    return dg.AssetCheckResult(check_name=BEATS_CHANCE, passed=holdout_accuracy > chance,
                               description=f"holdout accuracy {holdout_accuracy:.1%} vs chance {chance:.1%}",
                               metadata={"holdout_accuracy": holdout_accuracy, "chance": round(chance, 4)})


def beats_baseline(holdout_accuracy: float, baselines: list) -> dg.AssetCheckResult:
    """WARN when a simple baseline trained on the same split does as well on the holdout."""
    best = max(baselines, key=lambda b: -1 if np.isnan(b.holdout_accuracy) else b.holdout_accuracy)
    passed = bool(holdout_accuracy > best.holdout_accuracy)
    return dg.AssetCheckResult(
        check_name=BEATS_BASELINE, passed=passed, severity=dg.AssetCheckSeverity.WARN,
        description=(f"holdout accuracy {holdout_accuracy:.1%} against {best.holdout_accuracy:.1%} for {best.name}"
                     + ("" if passed else ": the network has learned no more than the baseline")),
        metadata={"holdout_accuracy": holdout_accuracy, "best_baseline": best.name,
                  "best_baseline_holdout_accuracy": best.holdout_accuracy})
