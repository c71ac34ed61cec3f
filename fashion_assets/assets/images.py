"""Stage 1-2 preprocessing, part 1: background removal and the white-ratio outlier redo.

Per-image work is partitioned by split × shard (``Train-0`` … ``Validation-3``; the shard is a
stable hash of the file name): a backfill from the web UI fans out into one run per partition.
Each partitioned step is a DuckDB table (one row per image, a ``partition`` column) whose files
live in the artifact store; it continues from its own previous rows, so only new or changed
images are processed, and the I/O manager removes files no row names any more. Jobs that
include these assets run every partition in one run (IMAGE_RUN_TAGS).
"""

import os

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from ..core.images.batch import shard_of
from ..core.images.imaging import iqr_bounds
from ..core.images.segmentation import SegmentationSettings, redo_outliers, segment_images
from ..io_managers import FILE_COLUMN, ArtifactStore, WarehouseResource
from ..resources import SegmentationResource
from .metadata import markdown, table_metadata

GROUP = "images"
IMAGE_SHARDS = 4
SPLITS = ("Train", "Validation")
image_partitions = dg.StaticPartitionsDefinition([f"{s}-{k}" for s in SPLITS for k in range(IMAGE_SHARDS)])
_KEYS = image_partitions.get_partition_keys()
# "Every partition in one run": the default of the jobs that include image assets, so that
# `dagster job execute` and the job launchpad need no partition choice.
IMAGE_RUN_TAGS = {"dagster/asset_partition_range_start": _KEYS[0], "dagster/asset_partition_range_end": _KEYS[-1]}
# A backfill launches one run per partition: that is what fans out across workers.
PER_PARTITION = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
PARTITIONED_TABLE = {"partition_expr": "partition"}
PARTITIONED_IMAGE_SET = {**PARTITIONED_TABLE, FILE_COLUMN: "output"}
# The image stage follows new data when automation is on (every step is incremental and cheap).
EAGER = dg.AutomationCondition.eager()


def partition_of(splits: pd.Series, file_names: pd.Series) -> pd.Series:
    """Each image's partition key, e.g. ``Train-2``."""
    return splits + "-" + file_names.map(lambda n: str(shard_of(n, IMAGE_SHARDS)))


def run_partitions(context: dg.AssetExecutionContext) -> list[str]:
    """The partitions of this run; a clear error when the run names none."""
    if not (context.has_partition_key or context.has_partition_key_range):
        raise dg.Failure(f"{context.op.name} is partitioned by split × shard: launch it for a partition (a backfill "
                         f"in the web UI) or through a job that covers them all (images_job, full_pipeline_job).")
    return list(context.partition_keys)


def workers_or_cores(workers: int) -> int:
    return workers or os.cpu_count() or 1


class WorkersConfig(dg.Config):
    workers: int = Field(default=0, ge=0, description="Worker processes (one model session each); 0 = one per core.")


def image_step(images: str, images_about: str, quarantine: str, quarantine_about: str, kind: str):
    """A partitioned per-image step: its image set (table + files) and its quarantine table."""
    return dg.multi_asset(
        outs={images: dg.AssetOut(description=images_about, group_name=GROUP, kinds={"duckdb", kind},
                                  metadata=PARTITIONED_IMAGE_SET, code_version="2", automation_condition=EAGER),
              quarantine: dg.AssetOut(description=quarantine_about, group_name=GROUP, kinds={"duckdb"},
                                      metadata=PARTITIONED_TABLE, code_version="2", automation_condition=EAGER)},
        partitions_def=image_partitions, backfill_policy=PER_PARTITION)


def segmentation_settings(segmenter: SegmentationResource) -> SegmentationSettings:
    return SegmentationSettings(primary=segmenter.primary_model, secondary=segmenter.secondary_model or None,
                                model_home=segmenter.model_home, max_side=segmenter.max_side)


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
    rows, quarantine, report = segment_images(items, previous, segmentation_settings(segmenter),
                                              workers=workers_or_cores(config.workers), log=context.log.info)
    backends = rows.backend.value_counts().to_dict() if len(rows) else {}
    yield dg.Output(rows, "segmented_images", metadata={
        **table_metadata(rows), "report": dg.MetadataValue.json(report), "backends": dg.MetadataValue.json(backends),
        "partitions": dg.MetadataValue.json(partitions), "processed": dg.MetadataValue.int(report["processed"])})
    yield dg.Output(quarantine, "segmentation_quarantine", metadata=table_metadata(quarantine, 50))


WHITE_RATIO_CHECK = "segmentation_outliers_white_ratio_iqr"


@dg.asset(group_name=GROUP, kinds={"duckdb", "onnx"}, code_version="2", metadata={FILE_COLUMN: "output"},
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
    redo, report = redo_outliers(segmented_images, previous, out_dir, segmentation_settings(segmenter),
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
