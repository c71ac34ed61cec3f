"""The tables job over a tiny generated dataset reproduces the generator's ground truth exactly."""

import json

import dagster as dg
import pandas as pd
import pytest

from fashion_assets.core.tables.scanning import IMAGE_FOLDERS, LABEL_FOLDERS


@pytest.fixture(scope="module")
def load(tables_run):
    defs, _ = tables_run
    return defs.load_asset_value


def _checks(tables_run):
    _, result = tables_run
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_style_counts_equal_the_generated_images(load, truth):
    counts = load("style_counts")
    known = counts[counts["style"] != "hipster"]
    got_train = {f"{r.style}_{r.sex}": r.train for r in known.itertuples()}
    got_val = {f"{r.style}_{r.sex}": r.validation for r in known.itertuples()}
    assert got_train == truth["images_per_class"]["Train"]
    assert got_val == truth["images_per_class"]["Validation"]
    assert (counts.total == counts.train + counts.validation).all()


def test_valid_labels_use_the_full_name_and_report_the_seed_join(load, truth, tables_run):
    valid = load("valid_labels")
    assert valid.groupby("split").size().to_dict() == truth["valid_labels"]
    per_class = valid.groupby(["split", "class_label"]).size()
    for split in ("Train", "Validation"):
        assert per_class[split].to_dict() == truth["valid_labels_per_class"][split]
    assert valid.R_id.nunique() == truth["respondents"]
    _, result = tables_run
    meta = result.asset_materializations_for_node("valid_labels")[0].metadata
    assert meta["seed_id_only_join_per_split"].value == truth["valid_labels_id_join"]


def test_leakage_counts_equal_the_planted_ones(load, truth):
    report = load("leakage_report")
    kinds = report.kind.value_counts()
    leak = truth["leakage"]
    assert kinds["image_same_name"] == leak["validation_images_in_training_by_name"]
    assert kinds["image_same_content"] == leak["validation_images_in_training_by_content_only"]
    assert kinds["repeated_answer"] == leak["repeated_validation_answers"]
    assert kinds["contradicting_answer"] == leak["contradicting_answer_pairs"]
    dups = report[report.kind == "exact_duplicate"].groupby("split").size().to_dict()
    assert dups == leak["exact_duplicate_answers"]


def test_top_respondents_in_order_and_in_the_html_report(load, truth, tiny_root):
    prefs = load("user_preferences")
    top = prefs.head(100)
    assert [[int(r), int(n)] for r, n in zip(top.R_id, top.answers)] == truth["top_respondents"]
    html = (tiny_root / "reports" / "preference_report.html").read_text()
    positions = [html.index(f"<th>{r}</th>") for r, _ in truth["top_respondents"]]
    assert positions == sorted(positions)
    assert "overflow: auto" in html  # scrollable, as the seed's report
    row = prefs.iloc[0]
    assert len(row.train_liked) + len(row.train_disliked) + len(row.validation_liked) + len(row.validation_disliked) == row.answers


def test_every_fault_is_quarantined_with_its_reason(load, truth):
    quarantine = pd.concat([load("image_quarantine"), load("label_quarantine")])
    reasons = {(q.folder, q.file_name): q.reason for q in quarantine.itertuples()}
    expected = [f for f in truth["faults"] if f["expect"] == "quarantine"]
    assert len(expected) == len(quarantine)
    for fault in expected:
        assert fault["reason"] in reasons[(fault["folder"], fault["file_name"])], fault


def test_nothing_is_lost_inputs_equal_rows_plus_quarantine(load, tiny_root):
    images, labels = load("image_table"), load("label_table")
    img_q, lab_q = load("image_quarantine"), load("label_quarantine")
    for split, folder in IMAGE_FOLDERS.items():
        files = len(list((tiny_root / "raw" / folder).iterdir()))
        assert files == (images.split == split).sum() + (img_q.folder == folder).sum()
    for split, folder in LABEL_FOLDERS.items():
        files = len(list((tiny_root / "raw" / folder).iterdir()))
        assert files == (labels.split == split).sum() + (lab_q.folder == folder).sum()


def test_checks_report_the_planted_problems(tables_run, truth):
    checks = _checks(tables_run)
    for name in ("image_quarantine_empty", "label_quarantine_empty", "leakage_report_split_leakage"):
        assert not checks[name].passed and checks[name].severity == dg.AssetCheckSeverity.WARN, name
    vocab = checks["image_table_style_vocabulary"]
    assert not vocab.passed and vocab.severity == dg.AssetCheckSeverity.ERROR
    unknown = [f["file_name"] for f in truth["faults"] if f["expect"] == "unknown_style"]
    assert all(name in vocab.metadata["examples"].value for name in unknown)
    assert checks["label_table_style_vocabulary"].passed
    # At this tiny scale some classes happen to have no validation answer: the check must say so.
    complete = all(len(truth["valid_labels_per_class"][s]) == 31 for s in ("Train", "Validation"))
    coverage = checks["valid_labels_coverage"]
    assert coverage.passed == complete
    missing = coverage.metadata["classes_without_labels"].value
    assert len(missing) == sum(31 - len(truth["valid_labels_per_class"][s]) for s in ("Train", "Validation"))
    leak = checks["leakage_report_split_leakage"].metadata
    assert leak["repeated_validation_answers"].value == truth["leakage"]["repeated_validation_answers"]


def test_rematerializing_is_idempotent(tiny_root, tables_run, load):
    defs, _ = tables_run
    before = load("valid_labels")
    with dg.DagsterInstance.ephemeral() as instance:
        assert defs.resolve_job_def("tables_job").execute_in_process(instance=instance).success
    after = defs.load_asset_value("valid_labels")
    pd.testing.assert_frame_equal(before, after)


def test_label_table_parses_only_new_files_and_equals_a_full_reparse(tmp_path):
    from fashion_assets.demo_data.writer import GeneratorConfig, generate
    from fashion_assets.definitions import build_definitions

    generate(tmp_path / "raw", GeneratorConfig(scale=0.005, seed=4, width=64, height=96, workers=1), log=lambda _: None)
    defs = build_definitions(tmp_path)

    def run(**config):
        with dg.instance_for_test() as instance:
            result = dg.materialize(list(defs.assets), selection=["label_table", "label_quarantine"], instance=instance,
                                    resources=defs.resources, run_config={"ops": {"label_files": {"config": config}}})
        assert result.success
        meta = result.asset_materializations_for_node("label_files")[0].metadata
        return defs.load_asset_value("label_table"), meta["files"].value

    first, counts = run()
    assert counts["parsed"] == counts["files"]
    folder = tmp_path / "raw" / "validation_label"
    template = sorted(folder.iterdir())[0]
    (folder / template.name.replace(".json", "7.json")).write_bytes(template.read_bytes())
    incremental, counts = run()
    assert counts["parsed"] == 1 and len(incremental) == len(first) + 1
    # The stored table is changed in place: an edited file's row replaced, a deleted file's row gone.
    edited, deleted = sorted(folder.iterdir())[1:3]
    doc = json.loads(edited.read_text())
    doc["user"]["R_id"] = 987654321
    edited.write_text(json.dumps(doc))
    deleted.unlink()
    incremental, counts = run()
    assert counts["parsed"] == 1 and counts["rows_removed"] == 2 and len(incremental) == len(first)
    val = incremental[incremental.split == "Validation"].set_index("file_name")
    assert val.loc[edited.name, "R_id"] == 987654321 and deleted.name not in val.index
    full, counts = run(full_reparse=True)
    assert counts["parsed"] == counts["files"]
    order = ["split", "file_name"]  # stored by inserts and deletes: no row order
    pd.testing.assert_frame_equal(incremental.sort_values(order, ignore_index=True), full.sort_values(order, ignore_index=True))
