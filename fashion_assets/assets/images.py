"""Stage 1-2 preprocessing: background removal, white-ratio IQR check, crop/pad/resize.

Image folders are files under the data root; their manifests (one row per image) go to DuckDB.
"""

import os

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from ..core.cropping import crop_images
from ..core.imaging import iqr_bounds, iqr_outliers
from ..core.scanning import IMAGE_FOLDERS
from ..core.segmentation import SegmentationSettings, segment_images
from ..resources import DataRootResource, SegmentationResource
from .metadata import markdown, quarantine_check, table_metadata

GROUP = "images"


class SegmentationConfig(dg.Config):
    max_side: int = Field(default=1024, description="Segmented images are written at most this large (0 = original).")
    workers: int = Field(default=0, description="Worker processes, one model session each; 0 = one per core.")


@dg.multi_asset(
    outs={
        "segmented_images": dg.AssetOut(description="Manifest of the background-removed images (white background), "
                                                    "one row per image: output path, backend, white ratio, time.",
                                        group_name=GROUP, kinds={"duckdb", "onnx"}),
        "segmentation_quarantine": dg.AssetOut(description="Images that could not be segmented, with the reason.",
                                               group_name=GROUP, kinds={"duckdb"}),
    },
)
def segmentation(context: dg.AssetExecutionContext, config: SegmentationConfig, data_root: DataRootResource,
                 segmenter: SegmentationResource, image_table: pd.DataFrame):
    """Remove the background of every image of both splits (rembg when its model file is present,
    else GrabCut); white-ratio outliers are redone with the secondary model when available.
    Incremental: only new or changed images are processed."""
    folders = {split: folder for split, folder in IMAGE_FOLDERS.items()}
    items = image_table.assign(folder=image_table.split.map(folders))
    items["source"] = [str(data_root.raw / f / n) for f, n in zip(items.folder, items.file_name)]
    settings = SegmentationSettings(primary=segmenter.primary_model, secondary=segmenter.secondary_model or None,
                                    model_home=segmenter.model_home, max_side=config.max_side)
    manifest, quarantine, report = segment_images(
        items[["split", "folder", "file_name", "source", "sha1"]], data_root.path / "images" / "segmented",
        settings, workers=config.workers or os.cpu_count() or 1, log=context.log.info)
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


@dg.multi_asset(
    outs={
        "cropped_images": dg.AssetOut(description="Manifest of the cropped size×size images: bounding box, sizes.",
                                      group_name=GROUP, kinds={"duckdb"}),
        "crop_quarantine": dg.AssetOut(description="Segmented images that could not be cropped, with the reason.",
                                       group_name=GROUP, kinds={"duckdb"}),
    },
)
def cropping(context: dg.AssetExecutionContext, config: CropConfig, data_root: DataRootResource,
             segmented_images: pd.DataFrame):
    """Crop every segmented image to its largest contour's bounding box, pad the width with white to
    keep the aspect ratio, resize to size×size. Incremental on the segmented file's hash."""
    items = segmented_images.assign(folder=segmented_images.split.map(IMAGE_FOLDERS),
                                    source=segmented_images.output, source_sha1=segmented_images.output_sha1)
    manifest, quarantine = crop_images(items[["split", "folder", "file_name", "source", "source_sha1"]],
                                       data_root.path / "images" / f"cropped_{config.size}", config.size,
                                       workers=config.workers or os.cpu_count() or 1, log=context.log.info)
    yield dg.Output(manifest, "cropped_images", metadata={
        **table_metadata(manifest), "folder": dg.MetadataValue.path(str(data_root.path / "images" / f"cropped_{config.size}"))})
    yield dg.Output(quarantine, "crop_quarantine", metadata=table_metadata(quarantine, 50))


@dg.asset_check(asset="crop_quarantine", description="Every segmented image could be cropped (WARN lists the rest).")
def crop_quarantine_empty(crop_quarantine: pd.DataFrame) -> dg.AssetCheckResult:
    return quarantine_check(crop_quarantine, "segmented image")


@dg.asset_check(asset="segmentation_quarantine", description="Every image could be segmented (WARN lists the rest).")
def segmentation_quarantine_empty(segmentation_quarantine: pd.DataFrame) -> dg.AssetCheckResult:
    return quarantine_check(segmentation_quarantine, "image")


image_assets = [segmentation, cropping]
image_checks = [segmented_images_white_ratio_iqr, crop_quarantine_empty, segmentation_quarantine_empty]
