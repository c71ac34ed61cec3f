"""The quiet job runner of `make run`: a line per step, the steps' own progress, the complete log
in a file; a run config out of range refused before the run is launched, naming the field."""

import os
import re
import shutil
import subprocess
import sys

import yaml

from fashion_assets.cli.run import config_problems
from fashion_assets.definitions import defs


def test_settings_out_of_range_are_named_before_launch():
    job = defs.resolve_job_def("full_pipeline_job")
    problems = config_problems(job, {"ops": {"style_classifier": {"config": {"image_size": 0, "epochs": 8}},
                                             "cropping": {"config": {"size": 16}}, "no_such_step": {}}})
    assert "ops.style_classifier.config.image_size: Input should be greater than or equal to 32 (got 0)" in problems
    assert any(p.startswith("ops.cropping.config.size:") for p in problems)
    assert "ops.no_such_step: no such step in full_pipeline_job" in problems
    assert config_problems(job, yaml.safe_load(open("configs/demo.yaml"))) == []


def _run(root, *args):
    env = {**os.environ, "FASHION_ASSETS_DATA_ROOT": str(root), "DAGSTER_HOME": str(root / "dagster_home")}
    (root / "dagster_home").mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-m", "fashion_assets.cli.run", *args], env=env, capture_output=True,
                          text=True, timeout=600)


def test_a_bad_run_config_launches_nothing(tmp_path):
    (tmp_path / "bad.yaml").write_text("ops:\n  label_files:\n    config:\n      chunk_size: 0\n")
    out = _run(tmp_path, "tables_job", "-c", str(tmp_path / "bad.yaml"))
    assert out.returncode == 2 and "ops.label_files.config.chunk_size" in out.stderr
    assert not (tmp_path / "warehouse.duckdb").exists() and not (tmp_path / "logs").exists()


def test_the_terminal_shows_steps_and_progress_and_the_file_has_every_event(tiny_root, tmp_path):
    shutil.copytree(tiny_root / "raw", tmp_path / "raw")
    out = _run(tmp_path, "tables_job")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    lines = out.stdout.splitlines()
    steps = ["raw_images", "raw_labels",  # the job observes the raw folders first
             "image_files", "label_files", "style_counts", "valid_labels", "leakage_report", "user_preferences",
             "preference_report"]
    for step in steps:
        assert any(re.fullmatch(rf"\d\d:\d\d:\d\d  {step} …", line) for line in lines), step
        assert any(re.fullmatch(rf"\d\d:\d\d:\d\d  {step} done in \d+\.\d s", line) for line in lines), step
    assert any("label files parsed" in line for line in lines)  # what a step logs at INFO
    assert any("check label_quarantine_empty did not pass" in line for line in lines)  # the tiny root has faults
    assert "DEBUG" not in out.stdout and "LOADED_INPUT" not in out.stdout and len(lines) < 40
    assert re.search(r"tables_job: succeeded in \d+ min \d+ s", lines[-1])
    (log,) = (tmp_path / "logs").glob("tables_job-*.log")
    assert log.name.split("-")[-1][:-4] in lines[0] and str(log) in lines[0]
    text = log.read_text()
    assert text.count("STEP_START") == len(steps) and "LOADED_INPUT" in text
