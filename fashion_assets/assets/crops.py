"""Stage 1-2 preprocessing, part 2: crop/pad/resize per partition, and the checked image set.

``image_set`` is what the classifier and the features use: one row per usable image with its
crop and class. Its blocking check says whether every image of ``image_table`` is accounted for
(cropped from its current segmentation, or quarantined with a reason) — completeness is a check
on stored rows, not something each consumer parses files for.
"""

import dagster as dg
import pandas as pd
from pydantic import Field

from ..core.common.artifacts import content_version
from ..core.images.cropping import crop_images
from ..core.images.accounting import account_images
from ..io_managers import ArtifactStore, WarehouseResource
from .images import EAGER, GROUP, image_step, partition_of, run_partitions, workers_or_cores
from .metadata import markdown, table_metadata


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


@dg.asset(group_name=GROUP, kinds={"duckdb"}, code_version="2", automation_condition=EAGER,
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
    yield dg.AssetCheckResult(
        check_name=QUARANTINE_CHECK, passed=quarantine.empty, severity=dg.AssetCheckSeverity.WARN,
        description="every image could be segmented and cropped" if quarantine.empty else f"{len(quarantine)} images quarantined",
        metadata={"quarantined": dg.MetadataValue.int(len(quarantine)),
                  "rows": dg.MetadataValue.md(markdown(quarantine.head(200)))})
