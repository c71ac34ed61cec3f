"""Experiment tracking and the model registry: MLflow with a local store under the data root
(``<data root>/mlflow``: a SQLite database and an artifact folder; no server needed, ``make
mlflow`` shows it in MLflow's UI).

MLflow stores absolute artifact locations; a store opened in another folder than it was written
in (the data root copied with ``cp -a`` or moved) has them re-rooted first, so that the copy's
training never writes into — and its champion never points into — the original.

Every training run is an MLflow run (its settings, per-epoch metrics, the figures it reports, its
plots and the checkpoint) and registers a model version tagged with the Dagster run id and the
version of its inputs. Consumers use the version under the ``champion`` alias; the alias moves
only when the model passed its gate, and rolling back is moving the alias to an older version.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

CHAMPION = "champion"
STYLE_MODEL = "style_classifier"  # the registry's name of the sex&style classifier (catalogue: product_classifier_<level>)
CHECKPOINT_DIR = "checkpoint"
UI_PORT = 5000

os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # its database set-up logs at INFO (before our logger line applies)
logging.getLogger("mlflow").setLevel(logging.WARNING)  # its database set-up logs at INFO on every first use


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    run_id: str
    experiment_id: str
    checkpoint: Path  # the checkpoint file of this version, in MLflow's artifact store
    tags: dict = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    def run_url(self, port: int = UI_PORT) -> str:
        return f"http://127.0.0.1:{port}/#/experiments/{self.experiment_id}/runs/{self.run_id}"


def _local(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


@dataclass(frozen=True)
class Registry:
    root: Path  # <data root>/mlflow: the artifacts (and, without tracking_uri, the SQLite store)
    tracking_uri: str | None = None  # a database server's store (the cluster mode: postgresql://…)

    @property
    def uri(self) -> str:
        return self.tracking_uri or f"sqlite:///{Path(self.root).resolve() / 'mlflow.db'}"

    def client(self):
        from mlflow import MlflowClient

        Path(self.root).mkdir(parents=True, exist_ok=True)
        if not self.tracking_uri:
            reroot(Path(self.root))
        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def experiment_id(self, client, name: str) -> str:
        from mlflow.exceptions import MlflowException

        found = client.get_experiment_by_name(name)
        if found:
            return found.experiment_id
        location = (Path(self.root).resolve() / "artifacts" / name).as_uri()
        try:
            return client.create_experiment(name, artifact_location=location)
        except MlflowException:  # created a moment ago by a concurrent training (a shared store)
            found = client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id

    def log_training(self, name: str, checkpoint: Path, params: dict, history: list[dict], metrics: dict,
                     files: list[Path], tags: dict) -> ModelVersion:
        """One MLflow run for one training: params, per-epoch metrics (every numeric field of
        ``history``), final ``metrics``, ``files`` (plots, reports) and the checkpoint; then a new
        version of registered model ``name`` from that checkpoint, with ``tags``."""
        from mlflow.entities import Metric, Param
        from mlflow.exceptions import MlflowException

        client = self.client()
        experiment = self.experiment_id(client, name)
        run = client.create_run(experiment, tags=tags, run_name=tags.get("dagster_run_id"))
        run_id, now = run.info.run_id, int(time.time() * 1000)
        series = [Metric(key, float(value), now, int(record.get("epoch", step)))
                  for step, record in enumerate(history) for key, value in record.items()
                  if key != "epoch" and _number(value)]
        per_epoch = {m.key for m in series}  # a final figure under an epoch series' name is that series at the chosen epoch
        series += [Metric(key if key not in per_epoch else f"chosen_{key}", float(value), now, 0)
                   for key, value in metrics.items() if _number(value)]
        for i in range(0, len(series), 1000):  # MLflow's batch limit
            client.log_batch(run_id, metrics=series[i:i + 1000])
        values = [Param(k, str(v)[:6000]) for k, v in sorted(params.items())]
        for i in range(0, len(values), 100):
            client.log_batch(run_id, params=values[i:i + 100])
        for path in files:
            client.log_artifact(run_id, str(path), artifact_path="reports")
        client.log_artifact(run_id, str(checkpoint), artifact_path=CHECKPOINT_DIR)
        client.set_terminated(run_id)
        try:
            client.create_registered_model(name)
        except MlflowException:  # it exists
            pass
        source = f"{run.info.artifact_uri}/{CHECKPOINT_DIR}"
        version = client.create_model_version(name, source=source, run_id=run_id, tags=tags)
        return ModelVersion(name, int(version.version), run_id, experiment, _local(source) / Path(checkpoint).name,
                            dict(tags))

    def set_champion(self, name: str, version: int) -> None:
        """Point the ``champion`` alias at ``version`` (a rollback is this, with an older one)."""
        client = self.client()
        client.get_model_version(name, str(version))  # a clear error when there is no such version
        for attempt in range(6):
            try:
                client.set_registered_model_alias(name, CHAMPION, str(version))
                return
            except Exception as exc:  # noqa: BLE001 - MLflow's alias write is a read-then-insert: two
                # registrations moving the alias at once on a shared store collide on its unique key
                if attempt == 5 or not any(w in str(exc).lower() for w in ("unique", "duplicate", "integrity")):
                    raise
                time.sleep(0.2 * (attempt + 1) + random.random() * 0.2)

    def champion(self, name: str) -> ModelVersion | None:
        """The version under the ``champion`` alias, or None when there is none yet."""
        from mlflow.exceptions import MlflowException

        client = self.client()
        try:
            found = client.get_model_version_by_alias(name, CHAMPION)
        except MlflowException:
            return None
        return self._version(client, found)

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, oldest first."""
        from mlflow.exceptions import MlflowException

        client = self.client()
        try:
            aliases = dict(client.get_registered_model(name).aliases or {})  # alias -> version
        except MlflowException:
            return []
        found = client.search_model_versions(f"name = '{name}'")
        return sorted((self._version(client, v, aliases) for v in found), key=lambda v: v.version)

    def _version(self, client, found, aliases: dict | None = None) -> ModelVersion:
        run = client.get_run(found.run_id)
        folder = _local(found.source)
        files = sorted(folder.glob("*.pt")) if folder.is_dir() else []
        named = tuple(a for a, v in (aliases or {}).items() if str(v) == str(found.version))
        return ModelVersion(found.name, int(found.version), found.run_id, run.info.experiment_id,
                            files[0] if files else folder / "model.pt", dict(found.tags or {}),
                            named or tuple(getattr(found, "aliases", ()) or ()))


def reroot(root: Path) -> int:
    """Rewrite the store's absolute locations when it was written under another folder than
    ``root`` (told by the experiments' artifact locations, ``<root>/artifacts/<name>``): every
    text value naming the old root names the same place under this one, in one transaction.
    Returns how many values changed."""
    import sqlite3

    db = Path(root) / "mlflow.db"
    if not db.exists():
        return 0
    new_uri, new_path = Path(root).resolve().as_uri(), str(Path(root).resolve())
    with sqlite3.connect(db, timeout=60) as conn:
        try:
            locations = [r[0] for r in conn.execute("SELECT artifact_location FROM experiments")]
        except sqlite3.OperationalError:  # not created yet
            return 0
        olds = {loc.rsplit("/artifacts/", 1)[0] for loc in locations
                if loc and "/artifacts/" in loc and not loc.startswith(new_uri + "/")}
        changed = 0
        for old_uri in olds:
            old_path = unquote(urlparse(old_uri).path)
            for table, in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
                for _, column, kind, *_ in conn.execute(f'PRAGMA table_info("{table}")').fetchall():
                    if kind.upper() not in ("TEXT", "") and not kind.upper().startswith("VARCHAR"):
                        continue
                    for old, new in ((old_uri + "/", new_uri + "/"), (old_path + "/", new_path + "/")):
                        changed += conn.execute(
                            f'UPDATE "{table}" SET "{column}" = ? || substr("{column}", ?) WHERE substr("{column}", 1, ?) = ?',
                            [new, len(old) + 1, len(old), old]).rowcount
        if changed:
            logging.getLogger(__name__).warning(f"{db} was written in another folder ({', '.join(sorted(olds))}): "
                                                f"{changed} locations now name the same places under {root}")
    return changed


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def champion_drift(registry, name: str, materialized: str) -> str | None:
    """A warning when the registry's champion alias has moved since ``materialized`` (the version
    string of the champion handle the new-photo assets use, ``v<N>-<digest>``) was built, else None."""
    champion = registry.champion(name)
    used = materialized.split("-", 1)[0].lstrip("v")
    if champion is None or str(champion.version) == used:
        return None
    return (f"the registry's {name} champion is version {champion.version}, but the materialized models (classifier_onnx, "
            f"feature_matrix) are from version {used}: photos are predicted with version {used} until they are rebuilt — "
            f"`make champion VERSION={champion.version}` (or materialize champion_classifier and what follows in the UI)")
