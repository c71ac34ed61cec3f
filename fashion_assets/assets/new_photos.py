"""Predictions for new photos: each arrival batch in ``<data root>/incoming/`` is a partition.

``incoming_photos_sensor`` files loose photos into a batch folder and adds one partition per
batch (or per folder dropped in whole); ``python -m fashion_assets.cli.photos`` does the same once,
by hand. A batch's photos are segmented and cropped with the training images' code and settings
(the segmenter resource, the crop size of ``image_set``), classified by the exported champion
(onnxruntime), matched to the most similar training images (the feature matrix of the same
champion) and to the respondents most likely to like them (the best honest preference method
that can score an unanswered image). Results are DuckDB tables and an HTML contact sheet.
"""

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from ..core.common.artifacts import Artifact, content_version
from ..core.common.atomic import write_text
from ..core.images.cropping import crop_images
from ..core.images.segmentation import segment_images
from ..core.new_photos.batches import list_batch
from ..core.new_photos.contact_sheet import contact_sheet, markdown_preview
from ..core.preferences.answers import answers_with_features
from ..core.preferences.features import load_feature_matrix
from ..core.preferences.methods import load_fit
from ..io_managers import FILE_COLUMN, ArtifactStore, WarehouseResource
from ..resources import DataRootResource, SegmentationResource
from .conventions import NEW_PHOTOS, PARTITIONED_TABLE as TABLE, WorkersConfig, quarantine_check, table_metadata, workers_or_cores

incoming_batches = dg.DynamicPartitionsDefinition(name="incoming_batches")
SPLIT = "incoming"
QUARANTINE_COLUMNS = ["partition", "file_name", "sha1", "stage", "reason"]
SEGMENTED = {"output": "segmented", "output_sha1": "segmented_sha1"}  # segment_images' columns → ours
CROPPED = {"source": "segmented", "source_sha1": "segmented_sha1", "output": "crop", "output_sha1": "crop_sha1"}


def crop_size(image_set: pd.DataFrame) -> int:
    """The crop size the training images were made with (one setting, in one place: cropping's config)."""
    sizes = sorted(map(int, image_set["size"].unique()))
    if len(sizes) != 1:
        raise dg.Failure(f"image_set mixes crop sizes {sizes}: materialize the image stage again before new photos")
    return sizes[0]


@dg.multi_asset(
    outs={"incoming_images": dg.AssetOut(
              group_name=NEW_PHOTOS, kinds={"duckdb", "opencv"}, code_version="1",
              metadata={**TABLE, FILE_COLUMN: ["segmented", "crop"]},
              description="A batch's usable photos: background removed and cropped as the training images are."),
          "incoming_quarantine": dg.AssetOut(
              group_name=NEW_PHOTOS, kinds={"duckdb"}, code_version="1", metadata=TABLE,
              description="A batch's files that could not be read, segmented or cropped, with the stage and the reason.")},
    partitions_def=incoming_batches,
    check_specs=[dg.AssetCheckSpec("incoming_quarantine_empty", asset="incoming_quarantine",
                                   description="Every file of the batch was usable (WARN lists the rest).")])
def incoming_crops(context: dg.AssetExecutionContext, config: WorkersConfig, data_root: DataRootResource,
                   segmenter: SegmentationResource, warehouse: WarehouseResource, artifact_store: ArtifactStore,
                   image_set: pd.DataFrame):
    """Segment and crop one batch (only new or changed photos; the rest keep their rows)."""
    batch = context.partition_key
    listing, unreadable = list_batch(data_root.incoming / batch)
    out_dir = str(artifact_store.folder(dg.AssetKey("incoming_images"), batch))
    items = listing.assign(partition=batch, split=SPLIT, out_dir=out_dir)[
        ["partition", "split", "file_name", "source", "sha1", "out_dir"]]
    previous = warehouse.previous_rows("incoming_images", [batch])
    workers = workers_or_cores(config.workers)
    segmented, seg_quarantine, report = segment_images(
        items, previous.rename(columns={v: k for k, v in SEGMENTED.items()}), segmenter.settings(),
        workers=workers, log=context.log.info)
    size = crop_size(image_set)
    to_crop = segmented.rename(columns={"source": "photo", **SEGMENTED}).rename(
        columns={"segmented": "source", "segmented_sha1": "source_sha1"}).assign(out_dir=out_dir)
    cropped, crop_quarantine = crop_images(to_crop, previous.rename(columns={v: k for k, v in CROPPED.items()}),
                                           size, workers=workers, log=context.log.info)
    rows = cropped.rename(columns=CROPPED)
    quarantine = pd.concat([unreadable.assign(partition=batch, sha1=None, stage="read"),
                            seg_quarantine.assign(stage="segmentation"), crop_quarantine.assign(stage="crop")],
                           ignore_index=True)[QUARANTINE_COLUMNS]
    context.log.info(f"{batch}: {len(rows)} photos usable, {len(quarantine)} quarantined ({report['primary']})")
    yield dg.Output(rows, "incoming_images", data_version=dg.DataVersion(content_version(rows[["file_name", "crop_sha1"]])),
                    metadata={**table_metadata(rows), "segmenter": report["primary"], "crop_size": size,
                              "processed": dg.MetadataValue.int(report["processed"])})
    yield dg.Output(quarantine, "incoming_quarantine", metadata=table_metadata(quarantine, 50))
    yield quarantine_check(quarantine, "new photo", "incoming_quarantine")


class NewPhotoConfig(dg.Config):
    top_classes: int = Field(default=3, ge=1, description="Classes shown per photo.")
    neighbours: int = Field(default=5, ge=1, description="Most similar training images per photo.")
    respondents: int = Field(default=5, ge=1, description="Respondents most likely to like each photo.")


def same_champion(classifier_onnx: Artifact, feature_matrix: Artifact, preference_model: Artifact) -> None:
    """The ONNX model, the feature matrix and the preference fit must come from one classifier version."""
    onnx_v, fm_v = classifier_onnx.settings["classifier_version"], feature_matrix.settings["classifier_version"]
    if onnx_v != fm_v:
        raise dg.Failure(f"classifier_onnx is from classifier {onnx_v} but feature_matrix from {fm_v}: "
                         "materialize champion_classifier's downstream assets first (make champion, or the UI)")
    if preference_model.settings.get("feature_matrix_version") != feature_matrix.version:
        raise dg.Failure(f"preference_model was fitted on feature matrix {preference_model.settings.get('feature_matrix_version')}, "
                         f"not the current {feature_matrix.version}: materialize preference_model first")


def best_new_image_method(preference_metrics: pd.DataFrame) -> tuple[str, float, float]:
    """The honest method (of those that can score an unanswered image) with the best ROC AUC on
    unseen validation answers — ranking respondents is what the AUC measures — with that AUC and
    the AUC of ``respondent_majority`` (the baseline that ignores the photo), for comparison."""
    from ..core.preferences.methods import NEW_IMAGE_METHODS

    auc = preference_metrics.set_index("method").roc_auc_unseen
    honest = preference_metrics[preference_metrics.method.isin(NEW_IMAGE_METHODS)
                                & (preference_metrics.protocol == "honest")].set_index("method").roc_auc_unseen.dropna()
    if honest.empty:
        raise dg.Failure("preference_metrics has no unseen ROC AUC for an honest method that can score new photos "
                         f"({', '.join(NEW_IMAGE_METHODS)}): are there unseen validation answers?")
    return str(honest.idxmax()), float(honest.max()), float(auc.get("respondent_majority", np.nan))


@dg.multi_asset(
    outs={"incoming_predictions": dg.AssetOut(
              group_name=NEW_PHOTOS, kinds={"duckdb", "onnx"}, code_version="1",
              metadata={**TABLE, FILE_COLUMN: "contact_sheet"},
              description="Per new photo: the top classes with probabilities, and the batch's contact sheet."),
          "incoming_matches": dg.AssetOut(
              group_name=NEW_PHOTOS, kinds={"duckdb"}, code_version="1", metadata=TABLE,
              description="Per new photo: its most similar training images (with their class and crop) and the "
                          "respondents most likely to like it, ranked, with the score and the method.")},
    partitions_def=incoming_batches)
def incoming_predictions(context: dg.AssetExecutionContext, config: NewPhotoConfig, artifact_store: ArtifactStore,
                         incoming_images: pd.DataFrame, incoming_quarantine: pd.DataFrame, classifier_onnx: Artifact,
                         feature_matrix: Artifact, preference_model: Artifact, image_set: pd.DataFrame,
                         valid_labels: pd.DataFrame, preference_metrics: pd.DataFrame):
    """Classify one batch with the exported champion, find each photo's nearest training images
    and rank the respondents by the best honest preference method; write the contact sheet."""
    from ..core.new_photos.predict import classify, predict_batch, sheet_notes

    batch = context.partition_key
    same_champion(classifier_onnx, feature_matrix, preference_model)
    s = classifier_onnx.settings
    photos = incoming_images.sort_values("file_name", ignore_index=True)
    out = classify(classifier_onnx.path, s, list(photos.crop), int(feature_matrix.settings["dimensions"]))
    fm = load_feature_matrix(feature_matrix.path)
    answers, rows, _ = answers_with_features(valid_labels, fm)
    train = answers[answers.split == "Train"]
    method, auc, baseline_auc = best_new_image_method(preference_metrics)
    p = predict_batch(batch, photos, out, s["class_names"], fm, feature_matrix.version, image_set, train, rows,
                      load_fit(preference_model.path), method, config.top_classes, config.neighbours, config.respondents)
    notes = sheet_notes(s["classifier_version"], p.training_images, method, len(train), auc, baseline_auc)
    sheet = contact_sheet(batch, photos.assign(**p.classes), p.matches, incoming_quarantine, notes)
    path = artifact_store.folder(dg.AssetKey("incoming_predictions"), batch) / f"contact_sheet-{content_version(sheet)[:12]}.html"
    write_text(path, sheet)
    predictions = pd.concat([photos[["partition", "file_name", "sha1", "crop"]], p.classes], axis=1).assign(
        classifier_version=s["classifier_version"], preference_method=method, contact_sheet=str(path))
    context.log.info(f"{batch}: {len(photos)} photos classified; contact sheet {path}")
    yield dg.Output(predictions, "incoming_predictions", metadata={
        **table_metadata(predictions), "contact_sheet": dg.MetadataValue.path(str(path)),
        "photos": dg.MetadataValue.int(len(photos)), "quarantined": dg.MetadataValue.int(len(incoming_quarantine)),
        "sheet": dg.MetadataValue.md(markdown_preview(photos.assign(**p.classes), p.matches)),
        "preference_method": method})
    yield dg.Output(p.matches, "incoming_matches", metadata=table_metadata(p.matches, 20))
