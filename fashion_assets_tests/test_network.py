"""No network use at run time: the image stage, with the real rembg/onnxruntime path, makes no
connection attempt (Python sockets refused and recorded; under strace, no inet connect at all)
and onnxruntime keeps no telemetry."""

import os
import shutil
import subprocess
import sys
import textwrap

import torch

from fashion_assets.demo_data.writer import GeneratorConfig, generate
from fashion_assets_tests.core.images.test_segmentation import FixedMask, export

GUARD = textwrap.dedent("""
    import os, socket, traceback
    LOG = os.environ["NET_GUARD_LOG"]
    def _refuse(what, detail):
        with open(LOG, "a") as f:
            f.write(f"{what} {detail!r}\\n{''.join(traceback.format_stack(limit=6))}\\n")
        raise OSError(f"network refused by the test guard: {what} {detail!r}")
    socket.getaddrinfo = lambda *a, **k: _refuse("getaddrinfo", a[:2])
    _connect = socket.socket.connect
    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _refuse("connect", address)
        return _connect(self, address)
    socket.socket.connect = connect
""")

STAGE = textwrap.dedent("""
    import sys
    import dagster as dg
    from fashion_assets.assets.images import IMAGE_RUN_TAGS
    from fashion_assets.definitions import build_definitions
    from fashion_assets.resources import SegmentationResource
    root, models = sys.argv[1], sys.argv[2]
    defs = build_definitions(root, SegmentationResource(model_home=models, secondary_model="u2net_human_seg"))
    stage = ["image_table", "image_quarantine", "segmented_images", "segmentation_quarantine",
             "segmentation_outliers", "cropped_images", "crop_quarantine", "image_set"]
    with dg.instance_for_test() as instance:
        result = dg.materialize(list(defs.assets), selection=stage, resources=defs.resources, instance=instance,
                                tags=IMAGE_RUN_TAGS)
    assert result.success
    backends = set(defs.load_asset_value("segmented_images").backend)
    assert backends == {"rembg:u2net_human_seg"}, backends
    print("stage ok")
""")


def test_the_image_stage_makes_no_connection_attempt(tmp_path):
    generate(tmp_path / "raw", GeneratorConfig(scale=0.005, seed=9, width=96, height=128, workers=1), log=lambda _: None)
    models = tmp_path / "rembg"
    mask = torch.zeros(1, 1, 320, 320)
    mask[..., 40:280, 100:220] = 1.0
    export(FixedMask(mask), 320, models / "models" / "u2net_human_seg" / "u2net_human_seg.onnx")
    (tmp_path / "guard").mkdir()
    (tmp_path / "guard" / "sitecustomize.py").write_text(GUARD)
    home = tmp_path / "home"  # onnxruntime's telemetry store would appear under $HOME/.cache
    home.mkdir()
    log, trace = tmp_path / "net.log", tmp_path / "strace.log"
    env = {**os.environ, "HOME": str(home), "NET_GUARD_LOG": str(log), "DAGSTER_HOME": str(tmp_path / "dh"),
           "PYTHONPATH": os.pathsep.join([str(tmp_path / "guard"), os.environ.get("PYTHONPATH", "")])}
    env.pop("ORT_DISABLE_TELEMETRY", None)  # the package itself must switch telemetry off
    (tmp_path / "dh").mkdir()
    command = [sys.executable, "-c", STAGE, str(tmp_path), str(models)]
    strace = shutil.which("strace")
    if strace:  # also catches native code (onnxruntime's uploader) that bypasses Python's socket module
        command = [strace, "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect", "-o", str(trace), *command]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "stage ok" in done.stdout, done.stderr[-3000:]
    assert not log.exists(), log.read_text()
    assert not list(home.rglob(".onnxruntime")), "onnxruntime kept telemetry"
    if strace:
        inet = [line for line in trace.read_text().splitlines() if "AF_INET" in line]
        assert not inet, inet[:5]
