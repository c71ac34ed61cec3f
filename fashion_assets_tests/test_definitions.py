import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg

import fashion_assets
from fashion_assets.definitions import build_definitions, defs


def _defined_in_package() -> tuple[set[dg.AssetKey], set[dg.AssetCheckKey]]:
    """Every asset and check object at module level anywhere in the package."""
    assets, checks = set(), set()
    for info in pkgutil.walk_packages(fashion_assets.__path__, "fashion_assets."):
        if info.name.endswith("__main__") or info.name == "fashion_assets.definitions_k8s":
            continue
        for value in vars(importlib.import_module(info.name)).values():
            if isinstance(value, dg.AssetsDefinition):
                assets |= set(value.keys)
                checks |= set(value.check_keys)
            elif isinstance(value, dg.SourceAsset):
                assets.add(value.key)
            elif isinstance(value, dg.AssetChecksDefinition):
                checks |= set(value.check_keys)
    return assets, checks


def test_every_asset_and_check_in_the_package_is_in_the_definitions(tmp_path):
    dg.Definitions.validate_loadable(defs)
    graph = build_definitions(tmp_path).resolve_asset_graph()
    assets, checks = _defined_in_package()
    assert len(assets) >= 30 and len(checks) >= 10
    assert assets == set(graph.get_all_asset_keys())
    assert checks == set(graph.asset_check_keys)


def test_every_materializable_asset_has_a_code_version(tmp_path):
    graph = build_definitions(tmp_path).resolve_asset_graph()
    missing = [k.to_user_string() for k in graph.materializable_asset_keys if not graph.get(k).code_version]
    assert not missing


def test_core_does_not_import_dagster():
    # Every module under fashion_assets.core, imported in a fresh interpreter.
    code = ("import importlib, pkgutil, sys, fashion_assets.core as core\n"
            "names = [m.name for m in pkgutil.walk_packages(core.__path__, 'fashion_assets.core.') "
            "if not m.name.endswith('__main__')]\n"
            "[importlib.import_module(n) for n in names]\n"
            "assert len(names) > 15, names\n"
            "bad = [m for m in sys.modules if m.split('.')[0] == 'dagster']; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_definitions_and_the_scoring_path_load_neither_torch_nor_scikit_learn():
    """A run's process imports the definitions first (the daemon starts one per run); torch and
    scikit-learn cost about 3 s of that, so only the steps that train or run a network import them.
    Scoring answers and the metrics (what a survey refresh runs) need neither."""
    code = """
import sys
import numpy as np
import fashion_assets.definitions
from fashion_assets.core.preferences.methods import MethodFit, metrics_table, score_methods
from fashion_assets.core.preferences.scores import Encoded
from fashion_assets.core.common.uncertainty import roc_points
rng = np.random.default_rng(0)
x = rng.normal(size=(12, 8))
train = Encoded(np.repeat(np.arange(6), 5), rng.integers(0, 12, 30), rng.integers(0, 2, 30), 6, 12)
test = Encoded(np.arange(6), rng.integers(0, 12, 6), np.array([0, 1, 0, 1, 1, 0]), 6, 12)
fit = MethodFit(0.5, rng.normal(size=(12, 3)), {"seed_honest": 0.0, "autoencoder_honest": 0.0, "user_based": 0.0,
                "stacked_honest": 0.5}, np.zeros(5), 0.0)
scores = score_methods(x, fit, train, test)
table = metrics_table(fit, test.y, np.ones(6, bool), scores, respondents=test.r, n_boot=20)
assert len(table) >= 9 and roc_points(test.y, scores["seed"])[0][-1] == 1.0
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "sklearn", "matplotlib", "torchvision"})
assert not heavy, heavy
"""
    subprocess.run([sys.executable, "-c", code], check=True)


def test_after_new_answers_the_predictions_run_before_the_reports_beside_them(tmp_path):
    """In the run raw_data_sensor requests for survey files, the steps the predictions need go
    first when several are ready (the in-process executor takes the highest dagster/priority):
    the leakage report and the per-respondent lists wait."""
    from fashion_assets.sensors import FOLLOWING

    graph = build_definitions(tmp_path).resolve_asset_graph()
    priority = {k.path[-1]: int((graph.get(k).assets_def.op.tags or {}).get("dagster/priority", 0))
                for k in FOLLOWING["raw_labels"]}
    assert priority["preference_model"] > priority["leakage_report"]
    assert priority["preference_predictions"] > max(priority["user_preferences"], priority["leakage_report"])


def test_make_champion_rebuilds_everything_after_the_champion_except_the_photo_batches(tmp_path):
    """`make champion VERSION=N` materializes the Makefile's selection from the CLI; a partitioned
    asset in it stops the whole command ("Asset has partitions, but no '--partition' option")."""
    make = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    selections = dict(re.findall(r"^(\w*CHAMPION_REBUILD) := (.+)$", make, re.M))
    graph = build_definitions(tmp_path).resolve_asset_graph()
    chosen = {}
    for name, champion in (("CHAMPION_REBUILD", "champion_classifier"), ("PRODUCT_CHAMPION_REBUILD", "product_champion")):
        chosen[name] = dg.AssetSelection.from_string(selections[name]).resolve(graph)
        after = dg.AssetSelection.assets(champion).downstream().resolve(graph)
        assert chosen[name] == {k for k in after if not graph.get(k).is_partitioned}
    rebuilt = {k.to_user_string() for k in chosen["CHAMPION_REBUILD"]}
    assert {"classifier_onnx", "feature_matrix", "preference_predictions"} <= rebuilt
    assert "incoming_predictions" not in rebuilt


def test_a_setting_out_of_range_stops_its_step_before_any_work_naming_the_field(tmp_path):
    """``image_size: 0`` once failed deep in training: every numeric setting has its range, checked
    when the step starts (Dagster checks the types at launch)."""
    import pytest
    from pydantic import ValidationError

    from fashion_assets.assets.classifier import StyleClassifierConfig

    for bad, field in (({"image_size": 0}, "image_size"), ({"epochs": 0}, "epochs"),
                       ({"holdout_fraction": 1.0}, "holdout_fraction"), ({"random_erasing": 2.0}, "random_erasing")):
        with pytest.raises(ValidationError, match=field):
            StyleClassifierConfig(**bad)
    for folder in ("training_label", "validation_label", "training_image", "validation_image"):
        (tmp_path / "raw" / folder).mkdir(parents=True)
    root = build_definitions(tmp_path)
    with dg.instance_for_test() as instance:
        result = dg.materialize(list(root.assets), selection=["label_table", "label_quarantine"], resources=root.resources,
                                instance=instance, raise_on_error=False,
                                run_config={"ops": {"label_files": {"config": {"chunk_size": 0}}}})
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.event_specific_data.error.to_string()
    assert "chunk_size" in message and "greater than or equal to 1" in message
    assert not (tmp_path / "warehouse.duckdb").exists()  # nothing was parsed or stored
