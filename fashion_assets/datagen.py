"""Alias so the generator runs as ``python -m fashion_assets.datagen``."""

from fashion_assets.core.datagen.__main__ import main

if __name__ == "__main__":
    raise SystemExit(main())
