"""Runs start in a process forked from a warm one, not a fresh Python.

Dagster's default launcher starts every run in a new Python process that imports Dagster, the
libraries and the project's definitions again: 2-3 s on the 2-core machine before the run starts,
longer than the whole incremental survey refresh's steps. :class:`PreloadedRunLauncher` (set in
``dagster.yaml``) keeps one *fork server*: a process, started on the first launch, that has
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

import gc
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import traceback

import dagster as dg
from dagster._core.code_pointer import ModuleCodePointer, PackageCodePointer
from dagster._core.launcher import DefaultRunLauncher, LaunchRunContext
from dagster._serdes import ConfigurableClassData, serialize_value

from .core.sources import same_interpreter, source_version, watched_locations

PID_TAG = "fashion_assets/run_worker_pid"
DEFAULT_PRELOAD = ["fashion_assets.definitions"]
# What every run worker imports on its way to the first step (found by listing the modules a
# forked worker added): imported once in the server instead. Internal names: one that a Dagster
# release renames is skipped, not an error.
RUN_WORKER_MODULES = ["dagster._cli.api", "dagster._core.executor.in_process", "dagster._core.execution.plan.active",
                      "dagster._core.storage.local_compute_log_manager", "dagster._core.system_config.composite_descent",
                      "dagster._core.definitions.repository_definition.repository_data_builder",
                      "dagster._core.definitions.external_asset", "dagster._core.utility_ops", "dagster._utils.temp_file",
                      "dagster._utils.test.definitions", "dagster._core.workspace.autodiscovery", "watchdog.observers.polling",
                      "pandas.io.formats.string", "pandas.core.reshape.reshape"]


def _instance(instance_ref: str) -> dg.DagsterInstance:
    from dagster._core.instance.ref import InstanceRef
    from dagster._serdes import deserialize_value

    return dg.DagsterInstance.from_ref(deserialize_value(instance_ref, InstanceRef))


def run_worker(instance: dg.DagsterInstance, run_id: str) -> int:
    """Execute one launched run in this process, as ``dagster api execute_run`` does."""
    from dagster._cli.api import _execute_run_command_body
    from dagster._utils.interrupts import capture_interrupts, setup_interrupt_handlers

    signal.signal(signal.SIGINT, signal.default_int_handler)
    setup_interrupt_handlers()  # SIGTERM (terminate) acts as SIGINT: the run is interrupted, then CANCELED
    with capture_interrupts():
        with instance:
            return _execute_run_command_body(run_id, instance, lambda event: None, set_exit_code_on_failure=True)


def _reap(*_) -> None:
    """Collect the exit status of finished workers (no zombies are left)."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def serve(fd: int, preload: list[str], path: list[str], instance_ref: str) -> None:
    """The fork server (``python -c``, socket ``fd`` to the launcher): import ``preload`` and open
    the launcher's instance (its storage set up once, not per run), then fork one worker per
    request line (instance ref, run id), answering each with the worker's pid. Ends when the
    launcher's end of the socket closes (its process ended) or sends an empty request."""
    sys.path[:] = path
    sock = socket.socket(fileno=fd)
    stream = sock.makefile("rw", encoding="utf-8")

    def answer(value) -> None:
        stream.write(json.dumps(value) + "\n")
        stream.flush()

    try:
        for name in preload:
            importlib.import_module(name)
        for name in RUN_WORKER_MODULES:
            try:
                importlib.import_module(name)
            except ImportError:
                pass

        opened = _instance(instance_ref)
        opened.get_runs(limit=1)  # its storage is ready (and the query compiled) before the first fork
        if threading.active_count() > 1:  # a thread would not survive a fork: each worker opens its own
            opened = None
        # What is loaded now is shared with every worker, copy-on-write: frozen, the garbage
        # collector of a worker does not walk (and so copy) it.
        gc.collect()
        gc.freeze()
    except BaseException:
        answer({"error": traceback.format_exc()})
        return
    answer({"ready": os.getpid()})
    signal.signal(signal.SIGCHLD, _reap)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in the terminal is for the runs, not the server
    while True:
        try:
            line = stream.readline()
        except OSError:
            return
        request = json.loads(line) if line.strip() else None
        if request is None:
            return
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                stream.close()
                sock.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # its own subprocesses are its business
                ref = request["instance_ref"]
                code = run_worker(opened if opened is not None and ref == instance_ref else _instance(ref),
                                  request["run_id"])
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        answer({"pid": pid})


class _ForkServer:
    """The launcher's handle on one fork server process (a plain Python process, so that its
    workers are ordinary main processes: they may start process pools of their own)."""

    def __init__(self, preload: list[str], instance_ref: str):
        ours, theirs = socket.socketpair()
        code = (f"from fashion_assets.launcher import serve; serve({theirs.fileno()}, {preload!r}, "
                f"{list(sys.path)!r}, {instance_ref!r})")
        self.process = subprocess.Popen([sys.executable, "-c", code], pass_fds=[theirs.fileno()])
        theirs.close()
        self.sock, self.stream = ours, ours.makefile("rw", encoding="utf-8")
        status = self._receive()
        if "ready" not in status:
            self.close()
            raise RuntimeError(f"the run fork server could not import {preload}:\n"
                               + status.get("error", f"it exited with code {self.process.poll()}"))

    def _receive(self) -> dict:
        line = self.stream.readline()
        if not line:
            raise EOFError("the run fork server closed its socket")
        return json.loads(line)

    def is_alive(self) -> bool:
        return self.process.poll() is None

    def fork(self, instance_ref: str, run_id: str) -> int:
        self.stream.write(json.dumps({"instance_ref": instance_ref, "run_id": run_id}) + "\n")
        self.stream.flush()
        return int(self._receive()["pid"])

    def close(self) -> None:
        try:
            self.stream.write("\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass
        for closable in (self.stream, self.sock):
            try:
                closable.close()
            except OSError:
                pass
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()


class PreloadedRunLauncher(DefaultRunLauncher):
    """Launches each run in a process forked from a server that has already imported ``preload``
    (falls back to the default launcher for runs it cannot serve)."""

    def __init__(self, inst_data: ConfigurableClassData | None = None, preload: list[str] | None = None):
        super().__init__(inst_data=inst_data)
        self.preload = list(preload or DEFAULT_PRELOAD)
        self._watched = watched_locations(self.preload)
        self._server: _ForkServer | None = None
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

    def _current_server(self) -> _ForkServer:
        """The fork server, started anew when there is none, it died, or the source files changed
        since it imported them (call with the lock held)."""
        version = source_version(self._watched)
        if self._server is not None and (version != self._server_version or not self._server.is_alive()):
            self._server.close()
            self._server = None
        if self._server is None:
            self._server = _ForkServer(self.preload, serialize_value(self._instance.get_ref()))
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
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    repository = ReconstructableRepository.for_module(module, attribute, working_directory=working_directory or os.getcwd())
    job = repository.get_reconstructable_job(job_name)
    if asset_selection:
        job = job.get_subset(asset_selection=set(asset_selection))
    return instance.create_run_for_job(job_def=job.get_definition(), run_config=run_config or {}, tags=tags or {},
                                      job_code_origin=job.get_python_origin(),
                                      asset_selection=frozenset(asset_selection) if asset_selection else None)
