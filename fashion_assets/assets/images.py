"""Stage 1-2 preprocessing: background removal, the white-ratio outlier redo, crop/pad/resize,
and the checked image set.

Per-image work is partitioned by split × shard (``Train-0`` … ``Validation-3``; the shard is a
stable hash of the file name): a backfill from the web UI fans out into one run per partition.
Each partitioned step is a DuckDB table (one row per image, a ``partition`` column) whose files
live in the artifact store; it continues from its own previous rows, so only new or changed
images are processed, and the I/O manager removes files no row names any more. Jobs that
include these assets run every partition in one run (IMAGE_RUN_TAGS).

``image_set`` is what the classifier and the features use: one row per usable image with its
crop and class. Its blocking check says whether every image of ``image_table`` is accounted for
(cropped from its current segmentation, or quarantined with a reason) — completeness is a check
on stored rows, not something each consumer parses files for.
"""

import os

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from ..core.common.artifacts import content_version
from ..core.images.accounting import account_images
from ..core.images.batch import shard_of
from ..core.images.cropping import crop_images
from ..core.images.imaging import iqr_bounds
from ..core.images.segmentation import redo_outliers, segment_images
from ..io_managers import FILE_COLUMN, ArtifactStore, WarehouseResource
from ..resources import SegmentationResource
from .conventions import (EAGER, IMAGES, PARTITIONED_TABLE, WorkersConfig, markdown, quarantine_check, table_metadata,
                          workers_or_cores)

SHARDS_ENV = "FASHION_ASSETS_IMAGE_SHARDS"
DEFAULT_SHARDS = 4  # 8 partitions: enough runs for a few workers; each still a few hundred images at full scale


def shard_count() -> int:
    """Shards per split, the setting ``FASHION_ASSETS_IMAGE_SHARDS`` (the same for the code server
    and every run and step process). More shards, more runs that can work at once (the cluster
    mode; pods); changing it re-partitions, so every image is segmented and cropped once again."""
    text = os.environ.get(SHARDS_ENV, "").strip() or str(DEFAULT_SHARDS)
    if not text.isdigit() or not 1 <= int(text) <= 256:
        raise ValueError(f"{SHARDS_ENV}={text!r}: shards per split is a whole number from 1 to 256 (default {DEFAULT_SHARDS})")
    return int(text)


IMAGE_SHARDS = shard_count()
SPLITS = ("Train", "Validation")
image_partitions = dg.StaticPartitionsDefinition([f"{s}-{k}" for s in SPLITS for k in range(IMAGE_SHARDS)])
_KEYS = image_partitions.get_partition_keys()
# "Every partition in one run": the default of the jobs that include image assets, so that
# `dagster job execute` and the job launchpad need no partition choice.
IMAGE_RUN_TAGS = {"dagster/asset_partition_range_start": _KEYS[0], "dagster/asset_partition_range_end": _KEYS[-1]}
# A backfill launches one run per partition: that is what fans out across workers.
PER_PARTITION = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
PARTITIONED_IMAGE_SET = {**PARTITIONED_TABLE, FILE_COLUMN: "output"}


def partition_of(splits: pd.Series, file_names: pd.Series) -> pd.Series:
    """Each image's partition key, e.g. ``Train-2``."""
    return splits + "-" + file_names.map(lambda n: str(shard_of(n, IMAGE_SHARDS)))


def run_partitions(context: dg.AssetExecutionContext) -> list[str]:
    """The partitions of this run; a clear error when the run names none."""
    if not (context.has_partition_key or context.has_partition_key_range):
        raise dg.Failure(f"{context.op.name} is partitioned by split × shard: launch it for a partition (a backfill "
                         f"in the web UI) or through a job that covers them all (images_job, full_pipeline_job).")
    return list(context.partition_keys)


def image_step(images: str, images_about: str, quarantine: str, quarantine_about: str, kind: str):
    """A partitioned per-image step: its image set (table + files) and its quarantine table."""
    return dg.multi_asset(
        outs={images: dg.AssetOut(description=images_about, group_name=IMAGES, kinds={"duckdb", kind},
                                  metadata=PARTITIONED_IMAGE_SET, code_version="2", automation_condition=EAGER),
              quarantine: dg.AssetOut(description=quarantine_about, group_name=IMAGES, kinds={"duckdb"},
                                      metadata=PARTITIONED_TABLE, code_version="2", automation_condition=EAGER)},
        partitions_def=image_partitions, backfill_policy=PER_PARTITION)


@image_step("segmented_images", "Background-removed copies (white background), one row per image of the partition: "
                                "source hash, output file, backend, white ratio.",
            "segmentation_quarantine", "Images of the partition that could not be decoded or segmented, with the reason.",
            kind="onnx")
def segmentation(context: dg.AssetExecutionContext, config: WorkersConfig, segmenter: SegmentationResource,
                 warehouse: WarehouseResource, artifact_store: ArtifactStore, image_table: pd.DataFrame):
    """Remove the background of one split × shard's images: rembg when its model file is present,
    else GrabCut. Incremental: only new or changed images (content hash, settings) are processed."""
    partitions = run_partitions(context)
    items = image_table.assign(partition=partition_of(image_table.split, image_table.file_name), source=image_table.path)
    items = items[items.partition.isin(partitions)][["partition", "split", "file_name", "sha1", "source"]]
    key = dg.AssetKey("segmented_images")
    items["out_dir"] = items.partition.map({p: str(artifact_store.folder(key, p)) for p in partitions})
    previous = warehouse.previous_rows("segmented_images", partitions)
    rows, quarantine, report = segment_images(items, previous, segmenter.settings(),
                                              workers=workers_or_cores(config.workers), log=context.log.info)
    backends = rows.backend.value_counts().to_dict() if len(rows) else {}
    yield dg.Output(rows, "segmented_images", metadata={
        **table_metadata(rows), "report": dg.MetadataValue.json(report), "backends": dg.MetadataValue.json(backends),
        "partitions": dg.MetadataValue.json(partitions), "processed": dg.MetadataValue.int(report["processed"])})
    yield dg.Output(quarantine, "segmentation_quarantine", metadata=table_metadata(quarantine, 50))


WHITE_RATIO_CHECK = "segmentation_outliers_white_ratio_iqr"


@dg.asset(group_name=IMAGES, kinds={"duckdb", "onnx"}, code_version="2", metadata={FILE_COLUMN: "output"},
          automation_condition=EAGER,
          check_specs=[dg.AssetCheckSpec(WHITE_RATIO_CHECK, asset="segmentation_outliers",
                                         description="No white-pixel ratio is left outside [Q1-1.5·IQR, Q3+1.5·IQR] "
                                                     "after the redo (WARN lists them).")])
def segmentation_outliers(context: dg.AssetExecutionContext, config: WorkersConfig, segmenter: SegmentationResource,
                          warehouse: WarehouseResource, artifact_store: ArtifactStore,
                          segmented_images: pd.DataFrame):
    """The white-ratio IQR outliers of the whole segmented set (the quartiles need every image),
    redone with the secondary model when its file is present; one row per outlier with the
    redone file, or the reason it was not redone."""
    out_dir = artifact_store.folder(context.asset_key)
    previous = warehouse.previous_rows("segmentation_outliers")
    redo, report = redo_outliers(segmented_images, previous, out_dir, segmenter.settings(),
                                 workers=workers_or_cores(config.workers), log=context.log.info)
    ratios = segmented_images.white_ratio.to_numpy(dtype=float)
    lo, hi = iqr_bounds(ratios) if len(ratios) else (np.nan, np.nan)
    final = redo.white_ratio.fillna(redo.first_white_ratio).to_numpy(dtype=float)
    remaining = redo[(final < lo) | (final > hi)]
    yield dg.Output(redo, metadata={**table_metadata(redo), "report": dg.MetadataValue.json(report)})
    yield dg.AssetCheckResult(
        check_name=WHITE_RATIO_CHECK, passed=remaining.empty, severity=dg.AssetCheckSeverity.WARN,
        description=(f"{len(remaining)} of {len(ratios)} images have a white ratio outside [{lo:.3f}, {hi:.3f}] "
                     f"after the redo ({report['outliers_first_pass']} before)"),
        metadata={"outliers": dg.MetadataValue.int(len(remaining)),
                  "outliers_first_pass": dg.MetadataValue.int(report["outliers_first_pass"]),
                  "redone": dg.MetadataValue.int(report["redone"]),
                  "bounds": dg.MetadataValue.json([round(float(lo), 4), round(float(hi), 4)]),
                  "outlier_images": dg.MetadataValue.md(markdown(
                      remaining[["split", "file_name", "first_white_ratio", "white_ratio", "reason"]]))})


class CropConfig(dg.Config):
    size: int = Field(default=224, ge=32, description="Output side in pixels (the seed used ResNet's 224).")
    workers: int = Field(default=0, ge=0, description="Worker processes; 0 = one per core.")


@image_step("cropped_images", "The partition's segmented figures cropped to their bounding box, width padded with "
                              "white, resized to size×size: one row per image with the crop file and the box in source pixels.",
            "crop_quarantine", "Segmented images of the partition that could not be cropped (blank, too small), with the reason.",
            kind="opencv")
def cropping(context: dg.AssetExecutionContext, config: CropConfig, warehouse: WarehouseResource,
             artifact_store: ArtifactStore, segmented_images: pd.DataFrame, segmentation_outliers: pd.DataFrame):
    """Crop one split × shard's segmented images (the redone file where an outlier was redone).
    Incremental on the segmented file's hash and the size."""
    partitions = run_partitions(context)
    items = final_segmentations(segmented_images, segmentation_outliers)
    items = items[items.partition.isin(partitions)]
    key = dg.AssetKey("cropped_images")
    items = items.assign(out_dir=items.partition.map({p: str(artifact_store.folder(key, p)) for p in partitions}))
    rows, quarantine = crop_images(items, warehouse.previous_rows("cropped_images", partitions), config.size,
                                   workers=workers_or_cores(config.workers), log=context.log.info)
    yield dg.Output(rows, "cropped_images", metadata={**table_metadata(rows), "partitions": dg.MetadataValue.json(partitions)})
    yield dg.Output(quarantine, "crop_quarantine", metadata=table_metadata(quarantine, 50))


def final_segmentations(segmented: pd.DataFrame, outliers: pd.DataFrame) -> pd.DataFrame:
    """Per image, the segmented file to crop: the redone one where an outlier was redone."""
    redone = outliers[outliers.output.notna()].set_index(["partition", "file_name"])
    items = segmented[["partition", "split", "file_name", "sha1", "output", "output_sha1", "backend"]].copy()
    keys = pd.MultiIndex.from_frame(items[["partition", "file_name"]])
    hit = keys.isin(redone.index)
    for column in ("output", "output_sha1", "backend"):
        items.loc[hit, column] = redone.loc[keys[hit], column].to_numpy()
    return items.rename(columns={"output": "source", "output_sha1": "source_sha1"})


COMPLETE_CHECK, QUARANTINE_CHECK = "image_set_complete", "image_set_quarantine_empty"


@dg.asset(group_name=IMAGES, kinds={"duckdb"}, code_version="2", automation_condition=EAGER,
          check_specs=[dg.AssetCheckSpec(COMPLETE_CHECK, asset="image_set", blocking=True,
                                         description="Every image of image_table is cropped from its current "
                                                     "segmentation or quarantined; lists missing or stale partitions."),
                       dg.AssetCheckSpec(QUARANTINE_CHECK, asset="image_set",
                                         description="No image was quarantined by segmentation or cropping (WARN lists them).")])
def image_set(context: dg.AssetExecutionContext, image_table: pd.DataFrame, segmented_images: pd.DataFrame,
              segmentation_outliers: pd.DataFrame, segmentation_quarantine: pd.DataFrame,
              cropped_images: pd.DataFrame, crop_quarantine: pd.DataFrame):
    """Every usable image with its crop, class and hashes: what the classifier and the features use."""
    expected = final_segmentations(segmented_images, segmentation_outliers)
    quarantine = pd.concat([segmentation_quarantine.assign(stage="segmentation"), crop_quarantine.assign(stage="crop")],
                           ignore_index=True)
    table = image_table.assign(partition=partition_of(image_table.split, image_table.file_name))
    images, problems = account_images(table, expected, cropped_images, quarantine)
    version = content_version(images[["split", "file_name", "crop_sha1", "class_label"]])
    yield dg.Output(images, data_version=dg.DataVersion(version), metadata={
        **table_metadata(images), "per_split": images.groupby("split").size().to_dict(),
        "crop_size": dg.MetadataValue.json(sorted(map(int, images["size"].unique()))), "content_version": version})
    stale = problems[problems.problem != "quarantined"]
    yield dg.AssetCheckResult(
        check_name=COMPLETE_CHECK, passed=stale.empty,
        description=("every image is cropped from its current segmentation or quarantined" if stale.empty else
                     f"{len(stale)} images are missing or out of date in partitions {sorted(stale.partition.unique())}: "
                     "materialize them (images_job, or a backfill of segmentation/cropping)"),
        metadata={"missing_or_stale": dg.MetadataValue.int(len(stale)),
                  "partitions": dg.MetadataValue.json(sorted(stale.partition.unique())),
                  "examples": dg.MetadataValue.md(markdown(stale.head(50)))})
    yield quarantine_check(quarantine, "image", "image_set", QUARANTINE_CHECK,
                           all_usable="every image could be segmented and cropped")
