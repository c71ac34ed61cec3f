"""The fork server behind :class:`fashion_assets.runs.launcher.PreloadedRunLauncher`: a plain Python
process that imports the code location and the libraries once, opens the instance, and forks one
worker per launched run; the worker runs the run as ``dagster api execute_run`` does."""

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
    from .internals import InstanceRef, deserialize_value

    return dg.DagsterInstance.from_ref(deserialize_value(instance_ref, InstanceRef))


def run_worker(instance: dg.DagsterInstance, run_id: str) -> int:
    """Execute one launched run in this process, as ``dagster api execute_run`` does."""
    from .internals import capture_interrupts, execute_run_command_body, setup_interrupt_handlers

    signal.signal(signal.SIGINT, signal.default_int_handler)
    setup_interrupt_handlers()  # SIGTERM (terminate) acts as SIGINT: the run is interrupted, then CANCELED
    with capture_interrupts():
        with instance:
            return execute_run_command_body(run_id, instance, lambda event: None, set_exit_code_on_failure=True)


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


class ForkServer:
    """The launcher's handle on one fork server process (a plain Python process, so that its
    workers are ordinary main processes: they may start process pools of their own)."""

    def __init__(self, preload: list[str], instance_ref: str):
        ours, theirs = socket.socketpair()
        code = (f"from fashion_assets.runs.fork_server import serve; serve({theirs.fileno()}, {preload!r}, "
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


