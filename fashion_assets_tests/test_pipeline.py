"""Smoke test: the whole graph on tiny data with planted faults, as `make run` runs it; then new
survey answers refresh the predictions incrementally, equal to a full recompute; then new photos
get their predictions and contact sheet."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
from PIL import Image
from scipy.special import softmax

from fashion_assets.core.preferences.answers import scoring_side
from fashion_assets.core.preferences.methods import load_fit
from fashion_assets.core.classifier.baselines import pooled_scores
from fashion_assets.core.classifier.export import onnx_session, run_onnx
from fashion_assets.core.preferences.features import load_feature_matrix
from fashion_assets.core.preferences.methods import NEW_IMAGE_METHODS, ORDER, score_methods
from fashion_assets.core.preferences.scores import encode
from fashion_assets.core.classifier.data import load_uint8
from fashion_assets.definitions import build_definitions
from fashion_assets.resources import DataRootResource, SegmentationResource
from fashion_assets.sensors import incoming_photos_sensor

CONFIG = {"ops": {"style_classifier": {"config": {"image_size": 32, "epochs": 4, "samples_per_epoch": 256,
                                                  "batch_size": 16}},
                  "preference_model": {"config": {"autoencoder_epochs": 5}}}}
PHOTOS = Path(__file__).parent / "fixtures" / "fashion_products" / "images"
OLD = time.time() - 3600
LABEL_CHAIN = ["label_table", "label_quarantine", "valid_labels", "preference_model", "preference_predictions",
               "preference_metrics"]


@pytest.fixture(scope="module")
def pipeline(tiny_root, tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    shutil.copytree(tiny_root / "raw", root / "raw")
    defs = build_definitions(root, SegmentationResource(model_home=str(root / "no_models")))
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("full_pipeline_job").execute_in_process(instance=instance, run_config=CONFIG)
    return root, defs, result


def test_the_whole_graph_on_tiny_data_with_faults(pipeline):
    _, defs, result = pipeline
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["image_set_complete"].passed and checks["style_classifier_beats_chance"].passed
    image_set = defs.load_asset_value("image_set")
    fm = load_feature_matrix(defs.load_asset_value("feature_matrix").path)
    assert fm.features.shape == (image_set.sha1.nunique(), 512) and len(fm.index) == len(image_set)
    neighbours = defs.load_asset_value("image_neighbours")
    assert (neighbours.sha1 != neighbours.neighbour_sha1).all()
    metrics = defs.load_asset_value("preference_metrics").set_index("method")
    valid = defs.load_asset_value("valid_labels")
    scored = valid[(valid.split == "Validation") & valid.jpg_name.isin(set(image_set[image_set.split == "Validation"].file_name))]
    assert metrics.loc["seed", "answers_all"] == len(scored)
    assert metrics.loc["copy_if_seen_else_majority", "accuracy_all"] >= metrics.loc["respondent_majority", "accuracy_all"]
    preds = defs.load_asset_value("preference_predictions")
    assert {"seed_score", "stacked_honest_predicted", "unseen", "actual"} <= set(preds.columns)
    assert np.isfinite(preds.stacked_honest_score).all()


def _refresh(defs):
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(list(defs.assets), selection=LABEL_CHAIN, resources=defs.resources, instance=instance,
                                run_config={"ops": {"preference_model": {"config": {"autoencoder_epochs": 5}}}})
    assert result.success
    return result


def _copy_answer(root, folder: str, valid, split: str, suffix: str):
    """A new survey file: an existing valid answer of ``split`` under a new survey ID."""
    name = valid[valid.split == split].file_name.iloc[0]
    (root / "raw" / folder / name.replace(".json", f"{suffix}.json")).write_bytes((root / "raw" / folder / name).read_bytes())


def test_new_answers_refresh_the_predictions_incrementally_as_a_full_recompute_would(pipeline):
    root, defs, _ = pipeline
    before = defs.load_asset_value("preference_predictions")
    _copy_answer(root, "validation_label", defs.load_asset_value("valid_labels"), "Validation", "8")
    result = _refresh(defs)
    model_meta = result.asset_materializations_for_node("preference_model")[0].metadata
    assert model_meta["refitted"].value is False  # validation answers only: the fit is kept
    meta = result.asset_materializations_for_node("preference_models")[0].metadata
    assert meta["answers_scored_now"].value == 1
    preds = defs.load_asset_value("preference_predictions")
    assert len(preds) == len(before) + 1
    # Stored scores equal scoring every answer again with the same fit.
    fit = load_fit(result.output_for_node("preference_model").path)
    fm = load_feature_matrix(defs.load_asset_value("feature_matrix").path)
    rows = dict(zip(fm.index.split + "/" + fm.index.file_name, fm.index.row))
    valid = defs.load_asset_value("valid_labels").assign(like=lambda d: (d.Q5 == 2).astype(int),
                                                        image=lambda d: d.split + "/" + d.jpg_name)
    valid = valid[valid.image.isin(rows)]
    train = valid[valid.split == "Train"]
    test = valid[valid.split == "Validation"].set_index(["file_name", "R_id", "jpg_name"]).loc[
        list(zip(preds.file_name, preds.R_id, preds.jpg_name))].reset_index()
    e_train, e_test = encode(train, test, rows, column="image")
    full = score_methods(fm.features, fit, e_train, e_test, scoring_side(fit, train, test, rows, len(fm.features)))
    assert "profile_honest" in full
    for method in ORDER:
        np.testing.assert_allclose(preds[f"{method}_score"], full[method], rtol=0, atol=1e-9, err_msg=method)
    # A new training answer changes what the methods learn from: refitted, and it says so.
    _copy_answer(root, "training_label", defs.load_asset_value("valid_labels"), "Train", "9")
    result = _refresh(defs)
    assert result.asset_materializations_for_node("preference_model")[0].metadata["refitted"].value is True
    assert result.asset_materializations_for_node("preference_models")[0].metadata["answers_scored_now"].value == len(preds)



def _old(path):
    os.utime(path, (OLD, OLD))  # past the sensor's settle time
    return path


def test_new_photos_dropped_into_incoming_get_classes_neighbours_fans_and_a_contact_sheet(pipeline):
    root, defs, _ = pipeline
    incoming = root / "incoming"
    incoming.mkdir()
    photos = sorted(PHOTOS.iterdir())[:3]
    for p in photos[:-1]:
        _old(shutil.copy(p, incoming / p.name))
    future = time.time() + 365 * 86400  # a camera with a wrong clock: filed like any other once it stops changing
    shutil.copy(photos[-1], incoming / photos[-1].name)
    os.utime(incoming / photos[-1].name, (future, future))
    (incoming / "notes.txt").write_text("not a photo")
    _old(incoming / "notes.txt")
    resources = {"data_root": DataRootResource(root=str(root))}
    with dg.DagsterInstance.ephemeral() as instance:
        seen = incoming_photos_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        assert not seen.run_requests and "filed once they stop changing" in seen.skip_reason.skip_message
        tick = incoming_photos_sensor(dg.build_sensor_context(instance=instance, resources=resources, cursor=seen.cursor))
        (request,) = tick.run_requests
        (batch,) = tick.dynamic_partitions_requests[0].partition_keys
        assert request.partition_key == batch
        assert sorted(os.listdir(incoming / batch)) == sorted([p.name for p in photos] + ["notes.txt"])
        instance.add_dynamic_partitions("incoming_batches", [batch])
        job = defs.resolve_job_def("new_photos_job")
        assert job.execute_in_process(partition_key=batch, instance=instance).success

        preds = defs.load_asset_value("incoming_predictions", partition_key=batch, instance=instance)
        assert sorted(preds.file_name) == sorted(p.name for p in photos)
        assert (preds.probability_1 >= preds.probability_2).all() and (preds.probability_2 >= preds.probability_3).all()
        image_set = defs.load_asset_value("image_set")
        assert set(preds.class_1) <= set(image_set.class_label)
        crops = defs.load_asset_value("incoming_images", partition_key=batch, instance=instance)
        assert {Image.open(c).size for c in crops.crop} == {(int(image_set["size"].iloc[0]),) * 2}  # as training crops
        # The classes are the pooled classifier's: the ONNX logits with the champion's colour expert.
        onnx = defs.load_asset_value("classifier_onnx", instance=instance)
        x = load_uint8(list(crops.set_index("file_name").loc[preds.file_name, "crop"]), onnx.settings["image_size"])
        entry = json.loads((onnx.folder / onnx.settings["colour_expert"]).read_text())
        pooled = softmax(pooled_scores(run_onnx(onnx_session(onnx.path), x)["logits"], x, entry), axis=1)
        np.testing.assert_allclose(preds.probability_1, pooled.max(axis=1), atol=1e-6)
        assert entry["weight"] == onnx.settings["network_weight"]
        quarantine = defs.load_asset_value("incoming_quarantine", partition_key=batch, instance=instance)
        assert list(quarantine.file_name) == ["notes.txt"] and "decode" in quarantine.reason[0]
        matches = defs.load_asset_value("incoming_matches", partition_key=batch, instance=instance)
        neighbours, fans = matches[matches.kind == "neighbour"], matches[matches.kind == "respondent"]
        assert set(neighbours.match) <= set(image_set[image_set.split == "Train"].file_name)
        valid = defs.load_asset_value("valid_labels")
        assert set(fans["match"]) <= set(valid[valid.split == "Train"].R_id.astype(str))
        for _, mine in matches.groupby(["file_name", "kind"]):
            assert list(mine["rank"]) == list(range(1, len(mine) + 1)) and mine.score.is_monotonic_decreasing
        honest = defs.load_asset_value("preference_metrics", instance=instance)
        honest = honest[honest.method.isin(NEW_IMAGE_METHODS) & (honest.protocol == "honest")]
        assert set(fans.method) == {honest.set_index("method").roc_auc_unseen.idxmax()}  # the best honest method
        sheet = Path(preds.contact_sheet.iloc[0]).read_text()
        assert all(p.name in sheet for p in photos) and "notes.txt" in sheet

        # Nothing new: no run. A photo added to the batch: that partition runs again, only it is new.
        again = incoming_photos_sensor(dg.build_sensor_context(instance=instance, resources=resources, cursor=tick.cursor))
        assert not again.run_requests
        _old(shutil.copy(sorted(PHOTOS.iterdir())[3], incoming / batch / "late.jpg"))
        seen = incoming_photos_sensor(dg.build_sensor_context(instance=instance, resources=resources, cursor=tick.cursor))
        assert not seen.run_requests and "settling" in seen.skip_reason.skip_message
        changed = incoming_photos_sensor(dg.build_sensor_context(instance=instance, resources=resources, cursor=seen.cursor))
        assert [r.partition_key for r in changed.run_requests] == [batch] and not changed.dynamic_partitions_requests
        result = job.execute_in_process(partition_key=batch, instance=instance)
        # The new photo and the quarantined file (tried again) are processed; the rest keep their rows.
        assert result.asset_materializations_for_node("incoming_crops")[0].metadata["processed"].value == 2
        preds = defs.load_asset_value("incoming_predictions", partition_key=batch, instance=instance)
        assert "late.jpg" in set(preds.file_name) and len(preds) == 4
        assert len(list((root / "artifacts" / "incoming_predictions" / batch).glob("*.html"))) == 1
        # A photo taken out of the batch: its rows and its files (segmented and crop) go.
        gone = crops[crops.file_name == photos[0].name].iloc[0]
        assert Path(gone.crop).exists() and Path(gone.segmented).exists()
        (incoming / batch / photos[0].name).unlink()
        assert job.execute_in_process(partition_key=batch, instance=instance).success
        preds = defs.load_asset_value("incoming_predictions", partition_key=batch, instance=instance)
        assert photos[0].name not in set(preds.file_name) and len(preds) == 3
        assert not Path(gone.crop).exists() and not Path(gone.segmented).exists()


def _files(root: Path) -> dict:
    """Every file under ``root``: its size and mtime (what a write would change)."""
    return {str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in root.rglob("*")
            if p.is_file() or p.is_symlink()}


def _text_naming(root: Path, where: Path) -> list[str]:
    """Values in the warehouse and in MLflow's store of ``root`` that name a path under ``where``."""
    import sqlite3

    import duckdb

    found = []
    with duckdb.connect(str(root / "warehouse.duckdb"), config={"custom_user_agent": "dagster"}) as conn:
        for schema, table, column in conn.execute("SELECT table_schema, table_name, column_name FROM "
                                                  "information_schema.columns WHERE data_type = 'VARCHAR'").fetchall():
            n = conn.execute(f'SELECT count(*) FROM "{schema}"."{table}" WHERE contains("{column}", ?)',
                             [str(where) + "/"]).fetchone()[0]
            found += [f"{table}.{column}: {n}"] if n else []
    with sqlite3.connect(root / "mlflow" / "mlflow.db") as conn:
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            for column in [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]:
                n = conn.execute(f'SELECT count(*) FROM "{table}" WHERE instr(CAST("{column}" AS TEXT), ?) > 0',
                                 [str(where) + "/"]).fetchone()[0]
                found += [f"mlflow {table}.{column}: {n}"] if n else []
    return found


def _cli(root: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FASHION_ASSETS_DATA_ROOT": str(root), "DAGSTER_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", *args], env=env, capture_output=True, text=True, timeout=600)


def test_a_copied_or_moved_data_root_is_self_contained(pipeline, tmp_path):
    """A root copied with ``cp -a`` and trained once sent its checkpoint into the original's
    mlflow/, and the copy's champion pointed there (MLflow stores absolute locations)."""
    root, _, _ = pipeline
    copy = tmp_path / "copy"
    shutil.copytree(root, copy, symlinks=True)  # as cp -a: contents, links and mtimes
    original = _files(root)
    defs = build_definitions(copy, SegmentationResource(model_home=str(copy / "no_models")))
    with dg.DagsterInstance.ephemeral() as instance:
        assert defs.resolve_job_def("full_pipeline_job").execute_in_process(instance=instance, run_config=CONFIG).success
    assert _files(root) == original  # nothing written into the original
    registry = defs.resources["model_registry"].registry()
    versions = registry.versions("style_classifier")
    assert [v.version for v in versions] == [1, 2]  # the original's version 1 and the copy's training
    assert all(v.checkpoint.is_relative_to(copy) and v.checkpoint.exists() for v in versions)
    assert defs.load_asset_value("champion_classifier").path.startswith(str(copy) + "/")
    assert not _text_naming(copy, root)
    # Moved: the original gone from under it (renamed), the root works where it is now.
    moved = tmp_path / "moved"
    copy.rename(moved)
    defs = build_definitions(moved, SegmentationResource(model_home=str(moved / "no_models")))
    with dg.DagsterInstance.ephemeral() as instance:
        assert defs.resolve_job_def("full_pipeline_job").execute_in_process(instance=instance, run_config=CONFIG).success
    assert not copy.exists() and not _text_naming(moved, copy)
    assert defs.load_asset_value("feature_matrix").path.startswith(str(moved) + "/")

    # New photos from the command line (make photos) on that root, with an instance of its own.
    home = tmp_path / "dagster_home"
    home.mkdir()
    (moved / "incoming" / "spring").mkdir(parents=True)
    for p in sorted(PHOTOS.iterdir())[:2]:
        shutil.copy(p, moved / "incoming" / "spring" / p.name)
    first = _cli(moved, home, "fashion_assets.cli.photos")
    assert first.returncode == 0 and "spring: 2 photos" in first.stdout, first.stderr[-2000:]
    # The warehouse lost the batch's predictions (make clean-data, make run) while the instance
    # still records them: the batch is predicted again, not "every batch has predictions".
    import duckdb

    with duckdb.connect(str(moved / "warehouse.duckdb"), config={"custom_user_agent": "dagster"}) as conn:
        conn.execute("DROP TABLE fashion.incoming_predictions")
    again = _cli(moved, home, "fashion_assets.cli.photos")
    assert again.returncode == 0 and "spring: 2 photos" in again.stdout, (again.stdout, again.stderr[-2000:])
    # The champion alias moved by hand, without the rebuild: the photos are still predicted with
    # the materialized version, and the command says so, naming both and the remedy.
    assert _cli(moved, home, "fashion_assets.cli.models", "champion", "1").returncode == 0
    stale = _cli(moved, home, "fashion_assets.cli.photos", "spring")
    assert stale.returncode == 0
    assert ("champion is version 1, but the materialized models (classifier_onnx, feature_matrix) are from version 3"
            in stale.stderr and "make champion VERSION=1" in stale.stderr), stale.stderr[-2000:]
