"""The cluster mode with real runs: the image stage's partitions as one run each, launched at once
through the run queue by a real daemon (each run its own process, as a pod would be), and a survey
refresh from the command line beside them — every run succeeds, none waits on a lock, and every
table equals the embedded mode's single run over the same files (EXCEPT ALL = 0 both ways)."""

import os
import shutil
import subprocess
import sys
import time

import dagster as dg

from fashion_assets.assets.images import image_partitions
from fashion_assets.cli import cluster
from fashion_assets.core.common import warehouse
from fashion_assets.definitions import build_definitions
from fashion_assets.storage import MODE_ENV, storage_for
from fashion_assets_tests import REPO, running_daemon

BIN = os.path.dirname(sys.executable)


def _env(root) -> dict:
    return {**os.environ, MODE_ENV: "cluster", "FASHION_ASSETS_DATA_ROOT": str(root),
            "DAGSTER_HOME": str(cluster.dagster_home(root)), "PYTHONUNBUFFERED": "1"}


def _dagster(root, *args, wait=True):
    command = [f"{BIN}/dagster", *args, "-m", "fashion_assets.definitions"]
    if not wait:
        return subprocess.Popen(command, env=_env(root), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    done = subprocess.run(command, env=_env(root), cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return done


TIMINGS = {"seconds"}  # how long an image took: the one column two runs never share


def _differences(root, reference) -> dict:
    """Per table of both: rows in one and not the other, both ways, with the data roots'
    own folders taken out of every text value (the two roots are different folders) and the timings left out."""
    out = {}
    with warehouse.connect(storage_for(root, "cluster").warehouse) as conn:
        conn.execute(f"ATTACH '{reference / 'warehouse.duckdb'}' AS ref (READ_ONLY)")
        try:
            tables = [t for t, in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = "
                                               "'fashion' GROUP BY table_name HAVING count(DISTINCT table_catalog) = 2")
                      .fetchall()]
            for table in tables:
                columns = conn.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_catalog = "
                                       "'ref' AND table_schema = 'fashion' AND table_name = ? ORDER BY ordinal_position",
                                       [table]).fetchall()
                columns = [(c, kind) for c, kind in columns if c not in TIMINGS]

                def select(name, base):
                    shown = [f"replace(\"{c}\", '{base}/', '')" if kind == "VARCHAR" else f'"{c}"' for c, kind in columns]
                    return f"SELECT {', '.join(shown)} FROM {name}"

                a, b = select(f"lake.fashion.{table}", root.resolve()), select(f"ref.fashion.{table}", reference.resolve())
                out[table] = tuple(conn.execute(f"SELECT count(*) FROM ({x} EXCEPT ALL {y})").fetchone()[0]
                                   for x, y in ((a, b), (b, a)))
        finally:
            conn.execute("DETACH ref")
    return out


def test_partition_runs_through_the_queue_and_a_refresh_beside_them_equal_one_embedded_run(cluster_root, tiny_root,
                                                                                          tmp_path):
    root, partitions = cluster_root, image_partitions.get_partition_keys()
    shutil.copytree(tiny_root / "raw", root / "raw")
    _dagster(root, "job", "execute", "-j", "tables_job")  # what the image stage reads
    with running_daemon(_env(root), tmp_path / "daemon.log"):
        launched = time.time()
        _dagster(root, "job", "backfill", "-j", "segmentation_job", "--partitions", ",".join(partitions), "--noprompt")
        refresh = _dagster(root, "job", "execute", "-j", "tables_job", wait=False)  # the survey refresh, beside them
        with dg.DagsterInstance.from_config(str(cluster.dagster_home(root))) as instance:
            deadline, runs = time.time() + 600, []
            while time.time() < deadline:
                runs = [r for r in instance.get_run_records(dg.RunsFilter(job_name="segmentation_job"))
                        if r.create_timestamp.timestamp() >= launched - 1]
                if len(runs) == len(partitions) and all(r.dagster_run.is_finished for r in runs):
                    break
                time.sleep(1)
            statuses = {r.dagster_run.tags.get("dagster/partition"): r.dagster_run.status for r in runs}
            spans = sorted((r.start_time - launched, r.end_time - launched) for r in runs if r.end_time)
            logs = "".join(e.message or "" for r in runs for e in instance.all_logs(r.dagster_run.run_id))
        refreshed = refresh.communicate(timeout=600)[0]
    print(f"partition runs' (start, end), s after launch: {[(round(a, 1), round(b, 1)) for a, b in spans]}")
    assert statuses == {p: dg.DagsterRunStatus.SUCCESS for p in partitions}, (tmp_path / "daemon.log").read_text()[-3000:]
    assert refresh.returncode == 0, refreshed[-4000:]
    assert "Could not set lock" not in logs + refreshed and "waiting for its turn" not in logs + refreshed
    at_once = max(sum(a <= t < b for a, b in spans) for t, _ in spans)
    assert at_once >= 4, spans  # writers at once, not one after another
    # The embedded mode's single run over the same files.
    reference = tmp_path / "reference"
    shutil.copytree(tiny_root / "raw", reference / "raw")
    defs = build_definitions(reference)  # embedded: the test session's mode
    with dg.DagsterInstance.ephemeral() as instance:
        assert defs.resolve_job_def("tables_job").execute_in_process(instance=instance).success
        assert defs.resolve_job_def("images_job").execute_in_process(instance=instance).success
    common = _differences(root, reference)
    assert {"image_table", "label_table", "valid_labels", "segmented_images", "segmentation_quarantine"} <= set(common)
    assert common == {t: (0, 0) for t in common}



def test_the_web_ui_on_the_cluster_instance_launches_and_shows_runs(cluster_root, tiny_root):
    """The browser test, once, against the cluster mode: `dagster dev` over the cluster instance;
    a user materializes the tables group with the button, the run succeeds, and the Runs page lists
    it beside the runs other processes recorded in the same PostgreSQL (the partition runs above)."""
    import re
    import signal

    from playwright.sync_api import expect

    from fashion_assets_tests.test_web_ui import (ARTIFACTS, LOCATION, _browser_page, _dismiss_welcome, _free_port,
                                                  _missing, _wait_for_run, _wait_until_loaded)

    missing = _missing()
    if missing:
        if os.environ.get("CI"):
            raise AssertionError("the browser test needs " + " and ".join(missing))
        import pytest

        pytest.skip("the browser test needs " + " and ".join(missing))
    root = cluster_root
    if not (root / "raw").exists():
        shutil.copytree(tiny_root / "raw", root / "raw")
    port, log = _free_port(), root / "dagster_dev.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "dagster", "dev", "-m", LOCATION, "-h", "127.0.0.1", "-p", str(port)],
                                cwd=REPO, env=_env(root), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_loaded(base, proc, log)
        with dg.DagsterInstance.from_config(str(cluster.dagster_home(root))) as instance:
            # Runs of a backfill are listed under the backfill's row; the others one by one.
            before = {r.dagster_run.run_id for r in instance.get_run_records()
                      if "dagster/backfill" not in r.dagster_run.tags}
        with _browser_page() as page:
            page.goto(f"{base}/locations/{LOCATION}/asset-groups/tables")
            _dismiss_welcome(page)
            expect(page.get_by_text("label_table", exact=True).first).to_be_visible(timeout=30_000)
            page.get_by_role("button", name="Materialize all").click()
            expect(page.get_by_text(re.compile(r"Launched run"))).to_be_visible(timeout=30_000)
            run_id = page.locator("a[href^='/runs/']").first.get_attribute("href").rsplit("/", 1)[-1]
            assert _wait_for_run(base, run_id) == "SUCCESS"
            page.goto(f"{base}/runs")
            expect(page.locator(f"a[href='/runs/{run_id}']").first).to_be_visible(timeout=30_000)
            for other in sorted(before)[:3]:  # runs recorded by other processes, shown from the same server
                expect(page.locator(f"a[href='/runs/{other}']").first).to_be_attached(timeout=30_000)
            page.screenshot(path=ARTIFACTS / "08_cluster_mode_runs.png")
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    with dg.DagsterInstance.from_config(str(cluster.dagster_home(root))) as instance:
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS
    with warehouse.connect(storage_for(root, "cluster").warehouse) as conn:
        assert conn.execute("SELECT count(*) FROM fashion.label_table").fetchone()[0] > 0


def test_raw_data_sensor_on_the_cluster_instance_marks_and_refreshes_the_label_tables(cluster_root, tiny_root,
                                                                                     monkeypatch):
    """The sensor works the same in the cluster mode: its ticks' events recorded in PostgreSQL, a
    new survey file marks the label tables stale there, and the run it requests brings them up to
    date in the lake."""
    from dagster._core.definitions.data_version import StaleStatus
    from dagster._utils.test.data_versions import get_stale_status_resolver

    from fashion_assets.resources import DataRootResource
    from fashion_assets_tests.test_sensors import OLD, write

    root = cluster_root
    if not (root / "raw").exists():
        shutil.copytree(tiny_root / "raw", root / "raw")
    for path in (root / "raw").rglob("*"):
        os.utime(path, (OLD, OLD))  # settled long ago
    monkeypatch.setenv(MODE_ENV, "cluster")
    defs = build_definitions(root)
    assert defs.resources["warehouse"].database.startswith("ducklake:")
    with dg.DagsterInstance.from_config(str(cluster.dagster_home(root))) as instance:
        sensor = defs.resolve_sensor_def("raw_data_sensor")

        def settled_tick(cursor=None):
            context = lambda c: dg.build_sensor_context(instance=instance, definitions=defs, cursor=c,  # noqa: E731
                                                        resources={"data_root": DataRootResource(root=str(root))})
            seen_once = sensor.evaluate_tick(context(cursor))
            return sensor.evaluate_tick(context(seen_once.cursor))

        first = settled_tick()
        for event in first.asset_events:
            instance.report_runless_asset_event(event)
        assert defs.resolve_job_def("tables_job").execute_in_process(instance=instance).success
        folder = root / "raw" / "validation_label"
        name = sorted(folder.iterdir())[0].name
        new = write(folder / name.replace(".json", "5.json"), (folder / name).read_text())
        result = settled_tick(first.cursor)
        assert [e.asset_key.path[-1] for e in result.asset_events] == ["raw_labels"] and len(result.run_requests) == 1
        for event in result.asset_events:
            instance.report_runless_asset_event(event)
        stale = get_stale_status_resolver(instance, list(defs.assets))
        assert stale.get_status(dg.AssetKey("label_table")) == StaleStatus.STALE
        assert stale.get_status(dg.AssetKey("image_table")) == StaleStatus.FRESH
        request = result.run_requests[0]
        tables = [k for k in request.asset_selection if k.path[-1] in ("label_table", "label_quarantine", "valid_labels")]
        assert dg.materialize(list(defs.assets), selection=tables, resources=defs.resources, instance=instance,
                              tags=request.tags).success
        assert get_stale_status_resolver(instance, list(defs.assets)).get_status(dg.AssetKey("label_table")) == \
            StaleStatus.FRESH
    with warehouse.connect(storage_for(root, "cluster").warehouse) as conn:
        assert conn.execute("SELECT count(*) FROM fashion.label_table WHERE file_name = ?", [new.name]).fetchone()[0] == 1
