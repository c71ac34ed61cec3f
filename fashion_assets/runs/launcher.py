"""Runs start in a process forked from a warm one, not a fresh Python.

Dagster's default launcher starts every run in a new Python process that imports Dagster, the
libraries and the project's definitions again: 2-3 s on the 2-core machine before the run starts,
longer than the whole incremental survey refresh's steps. :class:`PreloadedRunLauncher` (set in
``dagster.yaml``) keeps one *fork server* (``fork_server.py``): a process, started on the first launch, that has
imported the modules in ``preload``. Each run is a fork of it, so its imports are already done,
and then runs exactly as ``dagster api execute_run`` would (the run worker Dagster's own
container launchers use): same events, same run monitoring, same cancellation.

- **Never stale.** The server remembers the version of the project's source files it imported
  (``core.sources``); when a file changed, the next launch starts a new server first, so an edit
  is in the next run, as with the default launcher. Running runs are not touched.
- **Only what it can serve.** A run whose code location is not one of the preloaded modules, or
  runs under another Python (another virtual environment), goes to the default launcher, as does
  every run when the server cannot start (an import error in the project: the default launcher
  then reports it as usual).
- **Cancellation.** The worker's pid is a run tag; terminating sends it SIGTERM, which Dagster's
  run worker turns into an interrupt (the run ends CANCELED).
- torch is not preloaded on purpose: a forked process must not inherit a started thread pool or
  an initialised CUDA context. Steps that need it import it themselves, as before.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

import dagster as dg
from .internals import (ConfigurableClassData, DefaultRunLauncher, LaunchRunContext, ModuleCodePointer,
                        PackageCodePointer, serialize_value)

from ..core.common.sources import same_interpreter, source_version, watched_locations
from .fork_server import ForkServer

PID_TAG = "fashion_assets/run_worker_pid"
DEFAULT_PRELOAD = ["fashion_assets.definitions"]


class PreloadedRunLauncher(DefaultRunLauncher):
    """Launches each run in a process forked from a server that has already imported ``preload``
    (falls back to the default launcher for runs it cannot serve)."""

    def __init__(self, inst_data: ConfigurableClassData | None = None, preload: list[str] | None = None):
        super().__init__(inst_data=inst_data)
        self.preload = list(preload or DEFAULT_PRELOAD)
        self._watched = watched_locations(self.preload)
        self._server: ForkServer | None = None
        self._server_version: str | None = None
        self._lock = threading.Lock()
        self.servers_started = 0

    @classmethod
    def config_type(cls):
        return {"preload": dg.Field([str], is_required=False, default_value=DEFAULT_PRELOAD,
                                    description="Modules the fork server imports once: the code location's module "
                                                "first (runs of other code locations use the default launcher), then "
                                                "libraries the runs use.")}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value):
        return cls(inst_data=inst_data, **config_value)

    def serves(self, run: dg.DagsterRun) -> bool:
        """Whether the run's code is a preloaded module, under this Python."""
        origin = run.job_code_origin
        if origin is None:
            return False
        repository = origin.repository_origin
        pointer = repository.code_pointer
        return (isinstance(pointer, (ModuleCodePointer, PackageCodePointer)) and pointer.module in self.preload
                and same_interpreter(repository.executable_path, sys.executable))

    def _current_server(self) -> ForkServer:
        """The fork server, started anew when there is none, it died, or the source files changed
        since it imported them (call with the lock held)."""
        version = source_version(self._watched)
        if self._server is not None and (version != self._server_version or not self._server.is_alive()):
            self._server.close()
            self._server = None
        if self._server is None:
            self._server = ForkServer(self.preload, serialize_value(self._instance.get_ref()))
            self._server_version = version
            self.servers_started += 1
        return self._server

    def warm(self) -> None:
        """Start the fork server now, not with the first run (the first run otherwise waits for
        its imports, as with the default launcher)."""
        with self._lock:
            self._current_server()

    def _fork(self, run_id: str) -> int:
        """A worker for the run, from a current server (one new server, once, if the old one is gone)."""
        ref = serialize_value(self._instance.get_ref())
        with self._lock:
            for attempt in (1, 2):
                try:
                    return self._current_server().fork(ref, run_id)
                except (EOFError, OSError):  # the server died (killed?) or could not be started
                    if self._server is not None:
                        self._server.close()
                        self._server = None
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        if not self.serves(run):
            return super().launch_run(context)
        try:
            pid = self._fork(run.run_id)
        except RuntimeError as exc:  # the project does not import: the default launcher reports it
            self._instance.report_engine_event(f"{exc}; launching with the default launcher", run)
            return super().launch_run(context)
        self._instance.add_run_tags(run.run_id, {PID_TAG: str(pid)})

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if run is None or PID_TAG not in run.tags:
            return super().terminate(run_id)
        if run.is_finished:
            return False
        self._instance.report_run_canceling(run)
        try:
            os.kill(int(run.tags[PID_TAG]), signal.SIGTERM)
        except ProcessLookupError:
            return False
        return True

    def dispose(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.close()
                self._server = None
        super().dispose()


def create_run(instance: dg.DagsterInstance, module: str, job_name: str, asset_selection=None, tags=None,
               run_config=None, attribute: str = "defs", working_directory: str | None = None) -> dg.DagsterRun:
    """A run of ``job_name`` in the code location ``module`` (its ``attribute``), created as the
    daemon creates one for a sensor's run request: with the code origin a launcher starts it from.
    Launch it with ``instance.launch_run(run.run_id, workspace=None)`` (benchmarks and tests)."""
    from .internals import ReconstructableRepository

    repository = ReconstructableRepository.for_module(module, attribute, working_directory=working_directory or os.getcwd())
    job = repository.get_reconstructable_job(job_name)
    if asset_selection:
        job = job.get_subset(asset_selection=set(asset_selection))
    return instance.create_run_for_job(job_def=job.get_definition(), run_config=run_config or {}, tags=tags or {},
                                      job_code_origin=job.get_python_origin(),
                                      asset_selection=frozenset(asset_selection) if asset_selection else None)
