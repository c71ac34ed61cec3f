"""Stage 1-2 preprocessing: background removal, white-ratio IQR check, crop/pad/resize.

The per-image work is partitioned by split × shard (a stable hash of the file name): a backfill
from the web UI fans out into one run per partition, each on its own worker or pod. Each partition
keeps its own manifest under the data root; the unpartitioned tables `segmented_images` and
`cropped_images` gather them (and check that every partition is present and current), redo the
white-ratio outliers over the whole set, and go to DuckDB for the stages downstream.
Jobs that include these assets run every partition in one run by default (IMAGE_RUN_TAGS).
"""

import json
import os

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from ..core.batch import load_manifest, save_manifest, shard_of
from ..core.cropping import crop_images
from ..core.imaging import iqr_bounds, iqr_outliers
from ..core.scanning import IMAGE_FOLDERS
from ..core.segmentation import SegmentationSettings, redo_outliers, segment_images
from ..resources import DataRootResource, SegmentationResource
from .metadata import markdown, quarantine_check, table_metadata

GROUP = "images"
IMAGE_SHARDS = 4
image_partitions = dg.MultiPartitionsDefinition({
    "split": dg.StaticPartitionsDefinition(list(IMAGE_FOLDERS)),
    "shard": dg.StaticPartitionsDefinition([str(i) for i in range(IMAGE_SHARDS)]),
})
_KEYS = image_partitions.get_partition_keys()
# Run tags for "every partition in one run": the default of the jobs that include image assets,
# so `dagster job execute` and the job launchpad need no partition choice.
IMAGE_RUN_TAGS = {"dagster/asset_partition_range_start": _KEYS[0], "dagster/asset_partition_range_end": _KEYS[-1]}
# A backfill launches one run per partition: that is what fans out across workers.
PER_PARTITION = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)


def _partitions(context: dg.AssetExecutionContext) -> list[tuple[str, str]]:
    """(split, shard) pairs of this run; a clear error when the run names no partition."""
    if not (context.has_partition_key or context.has_partition_key_range):
        raise dg.Failure(f"{context.op.name} is partitioned by split × shard: launch it for a partition (a backfill "
                         f"in the web UI) or through a job that covers them all (images_job, full_pipeline_job).")
    keys = [k if isinstance(k, dg.MultiPartitionKey) else image_partitions.get_partition_key_from_str(k)
            for k in context.partition_keys]
    return [(k.keys_by_dimension["split"], k.keys_by_dimension["shard"]) for k in keys]


def _shards(df: pd.DataFrame) -> pd.Series:
    """Each row's shard (computed once per table, then reused for every partition)."""
    return df.file_name.map(lambda n: shard_of(n, IMAGE_SHARDS)).rename("shard")


def _in_partition(df: pd.DataFrame, shards: pd.Series, split: str, shard: str) -> pd.DataFrame:
    return df[(df.split == split) & (shards == int(shard))]


def _manifest_dir(data_root: DataRootResource, stage: str):
    return data_root.path / "images" / "partitions" / stage


def _gather(data_root: DataRootResource, stage: str, expected: pd.DataFrame, key: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every partition's manifest and quarantine of one stage. Fails, naming the partitions, when
    one is missing or older than its inputs (``key`` = the input-hash column, compared with
    ``expected``'s, so nothing stale or missing goes downstream silently)."""
    folder = _manifest_dir(data_root, stage)
    manifests, quarantines, missing, stale = [], [], [], []
    shards = _shards(expected)
    for split in IMAGE_FOLDERS:
        for shard in map(str, range(IMAGE_SHARDS)):
            name = f"{split}-{shard}"
            want = _in_partition(expected, shards, split, shard)
            if not (folder / f"{name}.json").exists():
                missing.append(name)
                continue
            manifest, quarantine = load_manifest(folder / f"{name}.json"), load_manifest(folder / f"{name}.quarantine.json")
            done = dict(zip(manifest.file_name, manifest[key])) if len(manifest) else {}
            failed = set(quarantine.file_name) if len(quarantine) else set()
            gone = set(done) - set(want.file_name)  # images removed since the partition ran
            if gone or any(done.get(f, h) != h or (f not in done and f not in failed) for f, h in zip(want.file_name, want[key])):
                stale.append(name)
            manifests.append(manifest)
            quarantines.append(quarantine)
    if missing or stale:
        raise dg.Failure(f"image partitions not materialized: {missing or 'none'}; older than their inputs: "
                         f"{stale or 'none'} — materialize them (a backfill in the web UI, or images_job)")
    manifest = pd.concat([m for m in manifests if len(m)], ignore_index=True) if any(len(m) for m in manifests) else pd.DataFrame()
    columns = ["split", "file_name", "reason"]
    quarantine = (pd.concat([q for q in quarantines if len(q)], ignore_index=True)[columns]
                  if any(len(q) for q in quarantines) else pd.DataFrame(columns=columns))
    return manifest, quarantine


class SegmentationConfig(dg.Config):
    max_side: int = Field(default=1024, description="Segmented images are written at most this large (0 = original).")
    workers: int = Field(default=0, description="Worker processes, one model session each; 0 = one per core.")


def _settings(segmenter: SegmentationResource, config: SegmentationConfig) -> SegmentationSettings:
    return SegmentationSettings(primary=segmenter.primary_model, secondary=segmenter.secondary_model or None,
                                model_home=segmenter.model_home, max_side=config.max_side)


@dg.asset(group_name=GROUP, kinds={"onnx", "opencv"}, partitions_def=image_partitions, backfill_policy=PER_PARTITION)
def segmented_image_files(context: dg.AssetExecutionContext, config: SegmentationConfig, data_root: DataRootResource,
                          segmenter: SegmentationResource, image_table: pd.DataFrame) -> dg.MaterializeResult:
    """Background-removed copies (white background) of one split × shard's images, under
    images/segmented/; rembg when its model file is present, else GrabCut. Incremental: only new
    or changed images are processed. Outliers are redone over the whole set by segmented_images."""
    items = image_table.assign(folder=image_table.split.map(IMAGE_FOLDERS))
    items["source"] = [str(data_root.raw / f / n) for f, n in zip(items.folder, items.file_name)]
    folder = _manifest_dir(data_root, "segmented")
    reports, shards = {}, _shards(items)
    for split, shard in _partitions(context):
        part = _in_partition(items, shards, split, shard)
        manifest, quarantine, report = segment_images(
            part[["split", "folder", "file_name", "source", "sha1"]], data_root.path / "images" / "segmented",
            _settings(segmenter, config), workers=config.workers or os.cpu_count() or 1, log=context.log.info,
            manifest_path=folder / f"{split}-{shard}.json", redo=False)
        save_manifest(quarantine, folder / f"{split}-{shard}.quarantine.json")
        (folder / f"{split}-{shard}.report.json").write_text(json.dumps(report))
        reports[f"{split}-{shard}"] = {**report, "images": len(part), "quarantined": len(quarantine)}
    return dg.MaterializeResult(metadata={"partitions": dg.MetadataValue.json(reports),
                                          "processed": dg.MetadataValue.int(sum(r["processed"] for r in reports.values()))})


@dg.multi_asset(
    outs={
        "segmented_images": dg.AssetOut(description="Manifest of the background-removed images (white background), "
                                                    "one row per image: output path, backend, white ratio, time.",
                                        group_name=GROUP, kinds={"duckdb"}),
        "segmentation_quarantine": dg.AssetOut(description="Images that could not be segmented, with the reason.",
                                               group_name=GROUP, kinds={"duckdb"}),
    },
    deps=[segmented_image_files],
)
def segmentation(context: dg.AssetExecutionContext, config: SegmentationConfig, data_root: DataRootResource,
                 segmenter: SegmentationResource, image_table: pd.DataFrame):
    """Gather every partition's segmentation, then redo the white-ratio IQR outliers (quartiles of
    the whole set) with the secondary model when its file is present."""
    manifest, quarantine = _gather(data_root, "segmented", image_table, "sha1")
    folder = _manifest_dir(data_root, "segmented")
    partition_reports = [json.loads(p.read_text()) for p in sorted(folder.glob("*.report.json"))]
    manifest, redo_quarantine, report = redo_outliers(manifest, _settings(segmenter, config),
                                                      workers=config.workers or os.cpu_count() or 1, log=context.log.info)
    if report.get("redone"):
        # Redone rows go back to their partition's manifest, so the next run keeps them.
        for (split, shard), rows in manifest.groupby(["split", _shards(manifest)]):
            save_manifest(rows.reset_index(drop=True), folder / f"{split}-{shard}.json")
    quarantine = pd.concat([quarantine, pd.DataFrame(redo_quarantine, columns=quarantine.columns)], ignore_index=True)
    report = {"primary": sorted({r["primary"] for r in partition_reports}),
              "processed": sum(r["processed"] for r in partition_reports),
              "unchanged": sum(r["unchanged"] for r in partition_reports), **report}
    backends = manifest.backend.value_counts().to_dict() if len(manifest) else {}
    yield dg.Output(manifest.drop(columns=["settings_key"], errors="ignore"), "segmented_images", metadata={
        **table_metadata(manifest), "backends": dg.MetadataValue.json(backends),
        "report": dg.MetadataValue.json(report),
        "folder": dg.MetadataValue.path(str(data_root.path / "images" / "segmented")),
        "mean_seconds_per_image": dg.MetadataValue.float(round(float(manifest.seconds.mean()), 4) if len(manifest) else 0.0)})
    yield dg.Output(quarantine, "segmentation_quarantine", metadata=table_metadata(quarantine, 50))


@dg.asset_check(asset="segmented_images", description="White-pixel ratios inside [Q1-1.5·IQR, Q3+1.5·IQR]; outliers listed.")
def segmented_images_white_ratio_iqr(segmented_images: pd.DataFrame) -> dg.AssetCheckResult:
    ratios = segmented_images.white_ratio.to_numpy(dtype=float)
    outliers = segmented_images[iqr_outliers(ratios)] if len(ratios) else segmented_images
    lo, hi = iqr_bounds(ratios) if len(ratios) else (np.nan, np.nan)
    return dg.AssetCheckResult(
        passed=outliers.empty, severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(outliers)} of {len(ratios)} images have a white ratio outside [{lo:.3f}, {hi:.3f}]",
        metadata={"outliers": dg.MetadataValue.int(len(outliers)),
                  "bounds": dg.MetadataValue.json([round(float(lo), 4), round(float(hi), 4)]),
                  "outlier_images": dg.MetadataValue.md(markdown(
                      outliers[["split", "file_name", "backend", "white_ratio"]].sort_values("white_ratio")))})


class CropConfig(dg.Config):
    size: int = Field(default=224, description="Output side in pixels (the seed used ResNet's 224).")
    workers: int = Field(default=0, description="Worker processes; 0 = one per core.")


def _crop_items(segmented_images: pd.DataFrame) -> pd.DataFrame:
    items = segmented_images.assign(folder=segmented_images.split.map(IMAGE_FOLDERS),
                                    source=segmented_images.output, source_sha1=segmented_images.output_sha1)
    return items[["split", "folder", "file_name", "source", "source_sha1"]]


@dg.asset(group_name=GROUP, kinds={"opencv"}, partitions_def=image_partitions, backfill_policy=PER_PARTITION)
def cropped_image_files(context: dg.AssetExecutionContext, config: CropConfig, data_root: DataRootResource,
                        segmented_images: pd.DataFrame) -> dg.MaterializeResult:
    """One split × shard's segmented images cropped to their largest contour's bounding box, the
    width padded with white to keep the aspect ratio, resized to size×size, under
    images/cropped_<size>/. Incremental on the segmented file's hash."""
    items = _crop_items(segmented_images)
    folder = _manifest_dir(data_root, f"cropped_{config.size}")
    counts, shards = {}, _shards(items)
    for split, shard in _partitions(context):
        manifest, quarantine = crop_images(_in_partition(items, shards, split, shard), data_root.path / "images" / f"cropped_{config.size}",
                                           config.size, workers=config.workers or os.cpu_count() or 1,
                                           log=context.log.info, manifest_path=folder / f"{split}-{shard}.json")
        save_manifest(quarantine, folder / f"{split}-{shard}.quarantine.json")
        counts[f"{split}-{shard}"] = {"cropped": len(manifest), "quarantined": len(quarantine)}
    return dg.MaterializeResult(metadata={"partitions": dg.MetadataValue.json(counts)})


@dg.multi_asset(
    outs={
        "cropped_images": dg.AssetOut(description="Manifest of the cropped size×size images: bounding box, sizes.",
                                      group_name=GROUP, kinds={"duckdb"}),
        "crop_quarantine": dg.AssetOut(description="Segmented images that could not be cropped, with the reason.",
                                       group_name=GROUP, kinds={"duckdb"}),
    },
    deps=[cropped_image_files],
)
def cropping(context: dg.AssetExecutionContext, config: CropConfig, data_root: DataRootResource,
             segmented_images: pd.DataFrame):
    """Gather every partition's crops (checked complete and current against segmented_images)."""
    expected = segmented_images.assign(source_sha1=segmented_images.output_sha1)
    manifest, quarantine = _gather(data_root, f"cropped_{config.size}", expected, "source_sha1")
    yield dg.Output(manifest, "cropped_images", metadata={
        **table_metadata(manifest), "folder": dg.MetadataValue.path(str(data_root.path / "images" / f"cropped_{config.size}"))})
    yield dg.Output(quarantine, "crop_quarantine", metadata=table_metadata(quarantine, 50))


@dg.asset_check(asset="crop_quarantine", description="Every segmented image could be cropped (WARN lists the rest).")
def crop_quarantine_empty(crop_quarantine: pd.DataFrame) -> dg.AssetCheckResult:
    return quarantine_check(crop_quarantine, "segmented image")


@dg.asset_check(asset="segmentation_quarantine", description="Every image could be segmented (WARN lists the rest).")
def segmentation_quarantine_empty(segmentation_quarantine: pd.DataFrame) -> dg.AssetCheckResult:
    return quarantine_check(segmentation_quarantine, "image")


image_assets = [segmented_image_files, segmentation, cropped_image_files, cropping]
image_checks = [segmented_images_white_ratio_iqr, crop_quarantine_empty, segmentation_quarantine_empty]
