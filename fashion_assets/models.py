"""The model registry from the command line (MLflow's store under the data root).

  python -m fashion_assets.models list            every registered classifier version: its tags, whether champion
  python -m fashion_assets.models champion N      move the 'champion' alias to version N (a rollback or a promotion)

After moving the alias, materialize ``champion_classifier`` and what follows it (``make champion
VERSION=N`` does both) and every downstream asset is rebuilt from that version.
"""

from __future__ import annotations

import sys

from .assets.classifier import MODEL_NAME
from .core.registry import CHAMPION, Registry
from .resources import DataRootResource, data_root_from_env


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    registry = Registry(DataRootResource(root=data_root_from_env()).mlflow)
    if args == ["list"] or not args:
        versions = registry.versions(MODEL_NAME)
        if not versions:
            print(f"no {MODEL_NAME} version is registered yet (in {registry.root})")
        for v in versions:
            mark = f" <- {CHAMPION}" if CHAMPION in v.aliases else ""
            print(f"  version {v.version:<3} dagster run {v.tags.get('dagster_run_id', '?')[:8]}  inputs "
                  f"{v.tags.get('inputs_version', '?')}  {v.run_url()}{mark}")
        return 0
    if len(args) == 2 and args[0] == "champion" and args[1].isdigit():
        try:
            registry.set_champion(MODEL_NAME, int(args[1]))
        except Exception as exc:  # MLflow's error names the missing version
            print(f"cannot make version {args[1]} the champion: {exc}", file=sys.stderr)
            return 1
        print(f"{MODEL_NAME} version {args[1]} is the champion now; materialize champion_classifier and what "
              "follows it to rebuild from it")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
