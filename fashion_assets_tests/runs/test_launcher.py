"""PreloadedRunLauncher: runs fork from a warm server, see source edits, can be cancelled, and
fall back to Dagster's default launcher for what they cannot serve."""

import os
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from fashion_assets.runs.launcher import PID_TAG, PreloadedRunLauncher, create_run
from fashion_assets_tests import REPO


CODE = '''
import os
import time
from pathlib import Path

import dagster as dg

VALUE = {value}


@dg.asset
def stamp() -> None:
    Path(os.environ["LAUNCHER_TEST_OUT"], f"{{os.getpid()}}.txt").write_text(str(VALUE))


@dg.asset
def sleeper() -> None:
    Path(os.environ["LAUNCHER_TEST_OUT"], "sleeping").write_text("")
    for _ in range(600):
        time.sleep(0.1)


defs = dg.Definitions(assets=[stamp, sleeper], executor=dg.in_process_executor)
'''


def _write_module(folder: Path, name: str, value: int, bump_ns: int = 0) -> None:
    path = folder / f"{name}.py"
    path.write_text(CODE.format(value=value))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump_ns))


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A code location module on the path, an output folder, and an instance using the launcher."""
    code, out = tmp_path / "code", tmp_path / "out"
    code.mkdir()
    out.mkdir()
    _write_module(code, "launcher_test_defs", 1)
    monkeypatch.syspath_prepend(str(code))
    monkeypatch.setenv("LAUNCHER_TEST_PATH", str(code))
    monkeypatch.setenv("LAUNCHER_TEST_OUT", str(out))
    config = {"run_launcher": {"module": "fashion_assets.runs.launcher", "class": "PreloadedRunLauncher",
                               "config": {"preload": ["launcher_test_defs"]}}}
    with dg.instance_for_test(overrides=config) as instance:
        yield code, out, instance
        instance.run_launcher.dispose()


def _create(instance, asset: str, module: str = "launcher_test_defs") -> dg.DagsterRun:
    code = next(p for p in os.environ["LAUNCHER_TEST_PATH"].split(os.pathsep))
    return create_run(instance, module, "__ASSET_JOB", [dg.AssetKey(asset)], working_directory=code)


def _launch(instance, asset: str, module: str = "launcher_test_defs") -> dg.DagsterRun:
    run = _create(instance, asset, module)
    instance.launch_run(run.run_id, workspace=None)
    return run


def _finished(instance, run_id: str, timeout: float = 60) -> dg.DagsterRun:
    deadline = time.time() + timeout
    while not (run := instance.get_run_by_id(run_id)).is_finished:
        assert time.time() < deadline, f"run {run_id} still {run.status}"
        time.sleep(0.1)
    return run


def test_runs_fork_from_one_warm_server_and_run_as_dagster_runs_them(project):
    code, out, instance = project
    launcher = instance.run_launcher
    assert isinstance(launcher, PreloadedRunLauncher)
    runs = [_finished(instance, _launch(instance, "stamp").run_id) for _ in range(2)]
    assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * 2
    assert launcher.servers_started == 1  # the second run forked from the same server
    pids = [int(r.tags[PID_TAG]) for r in runs]
    assert len(set(pids)) == 2 and os.getpid() not in pids  # a worker process per run, not this process
    for run, pid in zip(runs, pids):
        start = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_START)[0]
        assert start.dagster_event.pid == pid  # the worker is what run monitoring and dead_run_sensor watch
        assert (out / f"{pid}.txt").read_text() == "1"
    assert instance.get_latest_materialization_event(dg.AssetKey("stamp")).run_id == runs[-1].run_id


def test_an_edited_source_file_is_in_the_next_run(project):
    code, out, instance = project
    first = _finished(instance, _launch(instance, "stamp").run_id)
    _write_module(code, "launcher_test_defs", 2, bump_ns=10**9)  # the user edits the code
    second = _finished(instance, _launch(instance, "stamp").run_id)
    assert [(out / f"{r.tags[PID_TAG]}.txt").read_text() for r in (first, second)] == ["1", "2"]
    assert instance.run_launcher.servers_started == 2


def test_a_killed_server_is_replaced_by_the_next_launch(project):
    code, out, instance = project
    assert _finished(instance, _launch(instance, "stamp").run_id).status == dg.DagsterRunStatus.SUCCESS
    instance.run_launcher._server.process.kill()  # killed (out of memory, by hand)
    instance.run_launcher._server.process.wait()
    assert _finished(instance, _launch(instance, "stamp").run_id).status == dg.DagsterRunStatus.SUCCESS
    assert instance.run_launcher.servers_started == 2


def test_terminating_a_run_cancels_it(project):
    code, out, instance = project
    run = _launch(instance, "sleeper")
    deadline = time.time() + 30
    while not (out / "sleeping").exists():
        assert time.time() < deadline, "the step never started"
        time.sleep(0.05)
    assert instance.run_launcher.terminate(run.run_id)
    assert _finished(instance, run.run_id, timeout=30).status == dg.DagsterRunStatus.CANCELED


def test_runs_it_cannot_serve_go_to_the_default_launcher(project):
    code, out, instance = project
    _write_module(code, "launcher_test_other", 1)
    run = _create(instance, "stamp", "launcher_test_other")
    assert not instance.run_launcher.serves(run)  # not a preloaded module
    with pytest.raises(dg.DagsterInvariantViolationError, match="workspace"):  # the default launcher's own check
        instance.launch_run(run.run_id, workspace=None)
    assert instance.run_launcher.servers_started == 0


def test_a_project_that_does_not_import_is_reported_and_left_to_the_default_launcher(tmp_path, monkeypatch):
    (tmp_path / "launcher_test_broken.py").write_text("raise ImportError('this project does not import')\n")
    _write_module(tmp_path, "launcher_test_defs", 1)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("LAUNCHER_TEST_PATH", str(tmp_path))
    config = {"run_launcher": {"module": "fashion_assets.runs.launcher", "class": "PreloadedRunLauncher",
                               "config": {"preload": ["launcher_test_defs", "launcher_test_broken"]}}}
    with dg.instance_for_test(overrides=config) as instance:
        run = _create(instance, "stamp")
        with pytest.raises(dg.DagsterInvariantViolationError, match="workspace"):
            instance.launch_run(run.run_id, workspace=None)
        said = " ".join(e.message for e in instance.all_logs(run.run_id) if e.message)
        assert "could not import" in said and "this project does not import" in said


def test_the_projects_instance_settings_use_the_launcher():
    settings = yaml.safe_load((REPO / "dagster.yaml").read_text())
    with dg.instance_for_test(overrides=settings) as instance:
        launcher = instance.run_launcher
        assert isinstance(launcher, PreloadedRunLauncher)
        assert launcher.preload[0] == "fashion_assets.definitions"
        assert not any(m.split(".")[0] == "torch" for m in launcher.preload)  # never forked with torch loaded
