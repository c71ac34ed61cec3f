"""The model registry from the command line (MLflow's store of the storage mode).

  python -m fashion_assets.cli.models list                  every registered classifier version: its tags, whether champion
  python -m fashion_assets.cli.models champion N            move the 'champion' alias to version N (a rollback or a promotion)
  python -m fashion_assets.cli.models --model NAME ...      the same for another registered model, e.g. product_classifier_Class

After moving the alias, materialize the champion asset and what follows it (``champion_classifier``
and its downstream assets except the new-photo batches, or ``product_champion`` and its downstream
ones for a product classifier; ``make champion VERSION=N [MODEL=NAME]`` does both) and every
downstream asset is rebuilt from that version.
"""

from __future__ import annotations

import argparse
import sys

from ..core.registry import STYLE_MODEL
from ..core.registry import CHAMPION, Registry
from ..resources import DataRootResource, data_root_from_env
from ..storage import storage_for


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fashion_assets.cli.models", description="The model registry.")
    parser.add_argument("--model", default=STYLE_MODEL, help=f"registered model (default {STYLE_MODEL})")
    parser.add_argument("command", nargs="?", default="list", choices=["list", "champion"])
    parser.add_argument("version", nargs="?", type=int)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    root = data_root_from_env()
    registry, name = Registry(DataRootResource(root=root).mlflow, storage_for(root).tracking_uri), args.model
    if args.command == "list":
        versions = registry.versions(name)
        if not versions:
            print(f"no {name} version is registered yet (in {registry.root})")
        for v in versions:
            mark = f" <- {CHAMPION}" if CHAMPION in v.aliases else ""
            print(f"  version {v.version:<3} dagster run {v.tags.get('dagster_run_id', '?')[:8]}  inputs "
                  f"{v.tags.get('inputs_version', '?')}  {v.run_url()}{mark}")
        return 0
    if args.version is None:
        parser.error("champion needs a version number")
    try:
        registry.set_champion(name, args.version)
    except Exception as exc:  # MLflow's error names the missing version
        print(f"cannot make version {args.version} the champion: {exc}", file=sys.stderr)
        return 1
    asset = "champion_classifier" if name == STYLE_MODEL else "product_champion"
    print(f"{name} version {args.version} is the champion now; materialize {asset} and what follows it to rebuild "
          "from it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
