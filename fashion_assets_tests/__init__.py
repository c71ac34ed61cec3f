"""The tests, mirroring the package: tests of ``fashion_assets/X/y.py`` are in ``X/test_y.py``."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"  # real catalogue photos (a few), read-only
