"""Jobs: one per stage (the stages are asset groups), and the whole pipeline. The jobs that read
the raw folders observe them first (their data versions: what the tables were built from, which
the nightly schedule and the UI's staleness compare with the folders now)."""

import dagster as dg

from .assets.images import IMAGE_RUN_TAGS, image_partitions
from .assets.new_photos import incoming_batches

tables_job = dg.define_asset_job(
    "tables_job", selection=dg.AssetSelection.groups("tables", include_sources=True),
    description="Observe the raw folders, parse them and build every table of SPEC §2 with its checks.")

images_job = dg.define_asset_job(
    "images_job", selection=dg.AssetSelection.groups("images"),
    description="Background removal, outlier redo, crop/pad/resize and the checked image set (all partitions in "
                "one run; a backfill of the partitioned assets fans out instead).",
    tags=IMAGE_RUN_TAGS)

segmentation_job = dg.define_asset_job(
    "segmentation_job", selection=dg.AssetSelection.assets("segmented_images", "segmentation_quarantine"),
    partitions_def=image_partitions,
    description="Background removal of one split × shard: a backfill of it is one run per partition, which is what "
                "fans out across workers (pods, or processes of the cluster mode).")

classifier_job = dg.define_asset_job(
    "classifier_job", selection=dg.AssetSelection.groups("classifier"),
    description="Channel statistics, training plan, ResNet-18 training and evaluation.")

preferences_job = dg.define_asset_job(
    "preferences_job", selection=dg.AssetSelection.groups("preferences"),
    description="Feature matrix, neighbours and the like/dislike predictions with their comparison.")

full_pipeline_job = dg.define_asset_job(
    "full_pipeline_job", selection=dg.AssetSelection.groups("tables", "images", "classifier", "preferences",
                                                            include_sources=True),
    description="Every stage, end to end (the image partitions all in this run); the raw folders are observed "
                "first, so that their data versions are what the tables record having been built from.",
    tags=IMAGE_RUN_TAGS)

catalogue_job = dg.define_asset_job(
    "catalogue_job", selection=dg.AssetSelection.groups("catalogue"),
    description="Product catalogue: products with images, refined classes, label balance, classifier, recommendations.")

new_photos_job = dg.define_asset_job(
    "new_photos_job", selection=dg.AssetSelection.groups("new_photos"), partitions_def=incoming_batches,
    description="One batch of new photos (a folder of <data root>/incoming): segment, crop, classify, similar "
                "training images, likely fans, contact sheet.")

ALL_JOBS = [tables_job, images_job, segmentation_job, classifier_job, preferences_job, full_pipeline_job, catalogue_job, new_photos_job]
