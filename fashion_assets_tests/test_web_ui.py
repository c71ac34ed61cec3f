"""The web UI as a user drives it: `dagster dev` on the project's definitions, a real headless
Chromium (Debian's package, driven by Playwright — no browser download) opens the asset graph,
launches a materialization of the table assets, waits for the run to succeed and reads the check
results; after a new survey file is observed, the tables built from it are marked unsynced (stale);
a backfill of the image partitions fans out. Screenshots go to test-artifacts/web_ui/.

CI installs Chromium and Playwright (.ci/run), so there a missing browser is a failure; on a
developer machine without them the test is skipped with the reason.
"""

import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from fashion_assets.demo_data.writer import GeneratorConfig, generate
from fashion_assets.runs.launcher import PID_TAG

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("FASHION_ASSETS_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = REPO / "test-artifacts" / "web_ui"
# Without the background-networking flags Chromium keeps dialling Google's hosts, which a closed
# network refuses; --no-sandbox because CI runs as root.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
LOCATION = "fashion_assets.definitions"  # the code location's name under `dagster dev -m`
RUN_TIMEOUT_S = 240


def _missing() -> list[str]:
    missing = []
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    return missing


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(base: str, query: str) -> dict:
    req = urllib.request.Request(f"{base}/graphql", data=json.dumps({"query": query}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())["data"]


def _wait_until_loaded(base: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dagster dev exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            entries = _graphql(base, "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }")
            statuses = {e["name"]: e["loadStatus"] for e in entries["workspaceOrError"]["locationEntries"]}
            if statuses.get(LOCATION) == "LOADED":
                return
        except (OSError, KeyError, TypeError, ValueError):
            pass
        time.sleep(1)
    raise TimeoutError(f"the web UI did not load {LOCATION} within {timeout}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def ui_data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui_data_root")
    generate(root / "raw", GeneratorConfig(scale=0.02, seed=7, width=96, height=128, faults=False, workers=2),
             log=lambda _: None)
    return root


@pytest.fixture(scope="module")
def web_ui(ui_data_root):
    """`dagster dev` on a fresh data root (clean tiny demo data) and a fresh instance; its URL."""
    missing = _missing()
    if missing:
        message = "the browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message + " (.ci/run installs them)")
        pytest.skip(message)
    root = ui_data_root
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    env = {**os.environ, "FASHION_ASSETS_DATA_ROOT": str(root), "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    log = root / "dagster_dev.log"
    with log.open("w") as out:
        # Its own process group, SIGINT back to default: started from a non-interactive shell,
        # `dagster dev` otherwise ignores SIGINT/SIGTERM and outlives the test.
        proc = subprocess.Popen([sys.executable, "-m", "dagster", "dev", "-m", LOCATION, "-h", "127.0.0.1", "-p", str(port)],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_loaded(base, proc, log)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_for_run(base: str, run_id: str, timeout: float = RUN_TIMEOUT_S) -> str:
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = _graphql(base, f'{{ runOrError(runId: "{run_id}") {{ ... on Run {{ status }} }} }}')["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2)
    return status


@contextlib.contextmanager
def _browser_page():
    """A page of headless Debian Chromium; screenshots go to ARTIFACTS."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1600, "height": 1000})
        finally:
            browser.close()


def _dismiss_welcome(page) -> None:
    """A fresh instance greets the first visit with a newsletter dialog."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=5000)
        skip.click()
    except Exception:  # noqa: BLE001 - no dialog is fine
        pass


def test_materialize_tables_from_the_web_ui(web_ui):
    from playwright.sync_api import expect

    with _browser_page() as page:
        # 1. The asset graph of the tables group.
        page.goto(f"{web_ui}/locations/{LOCATION}/asset-groups/tables")
        _dismiss_welcome(page)
        for asset in ("image_table", "label_table", "valid_labels", "leakage_report"):
            expect(page.get_by_text(asset, exact=True).first).to_be_visible(timeout=30_000)
        page.screenshot(path=ARTIFACTS / "01_asset_graph.png")

        # 2. Materialize the group as a user does: the "Materialize all" button.
        page.get_by_role("button", name="Materialize all").click()
        launched = page.get_by_text(re.compile(r"Launched run"))
        expect(launched).to_be_visible(timeout=30_000)
        href = page.locator("a[href^='/runs/']").first.get_attribute("href")
        run_id = href.rsplit("/", 1)[-1]

        # 3. The run page until the run succeeds.
        page.goto(f"{web_ui}/runs/{run_id}")
        status = _wait_for_run(web_ui, run_id)
        assert status == "SUCCESS", f"run {run_id} ended {status}"
        expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=30_000)
        page.screenshot(path=ARTIFACTS / "02_run_success.png")

        # 4. The check results, where a user reads them: the asset's Checks tab.
        page.goto(f"{web_ui}/assets/image_table?view=checks")
        expect(page.get_by_text("image_table_style_vocabulary").first).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Passed", exact=True).first).to_be_visible(timeout=30_000)
        page.screenshot(path=ARTIFACTS / "03_checks.png")

        # The graph now shows every asset of the group materialized by that run.
        page.goto(f"{web_ui}/locations/{LOCATION}/asset-groups/tables")
        expect(page.get_by_text("image_table", exact=True).first).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Materialized", exact=True).first).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Never materialized")).to_have_count(0)
        page.screenshot(path=ARTIFACTS / "04_asset_graph_after.png")

    # What the UI showed is what the instance recorded: every table asset materialized by that run.
    data = _graphql(web_ui, f'{{ runOrError(runId: "{run_id}") {{ ... on Run {{ assetMaterializations {{ assetKey {{ path }} }} }} }} }}')
    materialized = {m["assetKey"]["path"][-1] for m in data["runOrError"]["assetMaterializations"]}
    assert {"image_table", "label_table", "valid_labels", "leakage_report", "style_counts"} <= materialized
    # The daemon launched it with the project's launcher (dagster.yaml): forked from its warm server.
    tags = _graphql(web_ui, f'{{ runOrError(runId: "{run_id}") {{ ... on Run {{ tags {{ key value }} }} }} }}')
    assert PID_TAG in {t["key"] for t in tags["runOrError"]["tags"]}


def _materialize_tables_if_needed(web_ui: str) -> None:
    """The later tests need the tables (run alone, the first test has not made them)."""
    from dagster_graphql import DagsterGraphQLClient

    latest = _graphql(web_ui, '{ assetOrError(assetKey: {path: ["label_table"]}) { ... on Asset { '
                              'assetMaterializations(limit: 1) { runId } } } }')["assetOrError"]
    if not latest.get("assetMaterializations"):
        host, port = web_ui.removeprefix("http://").split(":")
        run_id = DagsterGraphQLClient(host, port_number=int(port)).submit_job_execution(
            "tables_job", repository_location_name=LOCATION)
        assert _wait_for_run(web_ui, run_id) == "SUCCESS"


def test_a_new_survey_file_marks_the_tables_built_from_it_unsynced(web_ui, ui_data_root):
    """A user drops a survey file into the label folder and observes the source (the button on
    raw_labels' page; raw_data_sensor does the same when switched on): the graph marks the label
    tables unsynced — stale — and the image tables, which did not change, stay synced."""
    from playwright.sync_api import expect

    _materialize_tables_if_needed(web_ui)
    folder = ui_data_root / "raw" / "validation_label"
    template = sorted(folder.glob("*.json"))[0]
    (folder / template.name.replace(".json", "9.json")).write_bytes(template.read_bytes())
    with _browser_page() as page:
        page.goto(f"{web_ui}/assets/raw_labels")
        _dismiss_welcome(page)
        page.get_by_role("button", name="Observe").click()
        expect(page.get_by_text(re.compile(r"Launched run"))).to_be_visible(timeout=30_000)
        run_id = page.locator("a[href^='/runs/']").first.get_attribute("href").rsplit("/", 1)[-1]
        assert _wait_for_run(web_ui, run_id) == "SUCCESS"
        page.goto(f"{web_ui}/locations/{LOCATION}/asset-groups/tables")
        expect(page.get_by_text("label_table", exact=True).first).to_be_visible(timeout=30_000)
        expect(page.get_by_text(re.compile(r"^Unsynced")).first).to_be_visible(timeout=30_000)
        page.screenshot(path=ARTIFACTS / "07_unsynced_after_new_survey_file.png")
    stale = _graphql(web_ui, '{ assetNodes { assetKey { path } staleStatus } }')["assetNodes"]
    status = {n["assetKey"]["path"][-1]: n["staleStatus"] for n in stale}
    assert status["label_table"] == status["label_quarantine"] == "STALE"
    assert status["image_table"] == "FRESH"


def test_a_backfill_of_the_image_partitions_fans_out(web_ui):
    """A backfill of segmented_images over every split × shard (what the asset's "Materialize…"
    dialog launches) becomes one run per partition, all succeeding."""
    from playwright.sync_api import expect

    from fashion_assets.assets.images import image_partitions

    _materialize_tables_if_needed(web_ui)
    launched = _graphql(web_ui, 'mutation { launchPartitionBackfill(backfillParams: {allPartitions: true, '
                                'assetSelection: [{path: ["segmented_images"]}, {path: ["segmentation_quarantine"]}]}) '
                                '{ __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }')
    backfill_id = launched["launchPartitionBackfill"].get("backfillId")
    assert backfill_id, launched
    deadline, status = time.monotonic() + 2 * RUN_TIMEOUT_S, None
    while time.monotonic() < deadline:
        status = _graphql(web_ui, f'{{ partitionBackfillOrError(backfillId: "{backfill_id}") '
                                  f'{{ ... on PartitionBackfill {{ status }} }} }}')["partitionBackfillOrError"]["status"]
        if status in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"):
            break
        time.sleep(3)
    runs = _graphql(web_ui, f'{{ runsOrError(filter: {{tags: [{{key: "dagster/backfill", value: "{backfill_id}"}}]}}) '
                            f'{{ ... on Runs {{ results {{ status tags {{ key value }} }} }} }} }}')["runsOrError"]["results"]
    def partition_of(run) -> str:
        # A partition run is tagged with dagster/partition (or a one-key range).
        tags = {t["key"]: t["value"] for t in run["tags"]}
        if "dagster/partition" in tags:
            return tags["dagster/partition"]
        assert tags["dagster/asset_partition_range_start"] == tags["dagster/asset_partition_range_end"], tags
        return tags["dagster/asset_partition_range_start"]

    partitions = {partition_of(r) for r in runs}
    assert len(runs) == len(image_partitions.get_partition_keys()) == 8, (status, runs)
    assert partitions == set(image_partitions.get_partition_keys())
    assert {r["status"] for r in runs} == {"SUCCESS"}, status

    with _browser_page() as page:
        page.goto(f"{web_ui}/runs/b/{backfill_id}")
        _dismiss_welcome(page)
        expect(page.get_by_text("segmented_images").first).to_be_visible(timeout=30_000)
        expect(page.get_by_text("100% completed").first).to_be_visible(timeout=30_000)
        page.screenshot(path=ARTIFACTS / "05_backfill.png")
        page.goto(f"{web_ui}/assets/segmented_images?view=partitions")
        expect(page.get_by_text("Materialized (8)").first).to_be_visible(timeout=30_000)
        page.screenshot(path=ARTIFACTS / "06_partitions.png")
