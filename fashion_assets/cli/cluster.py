"""The cluster mode's PostgreSQL server on this machine (``make cluster-up`` / ``cluster-down``).

  python -m fashion_assets.cli.cluster up [--port N]   start it (created on first use), then write the settings
  python -m fashion_assets.cli.cluster down            stop it (its data stays)
  python -m fashion_assets.cli.cluster status          whether it runs, and where
  python -m fashion_assets.cli.cluster init            on a server of your own (libpq's PGHOST, PGPORT, PGUSER,
                                                       PGPASSWORD; Kubernetes): the databases, the lake, MLflow's tables

The server is Debian's ``postgresql`` package (installed with apt when missing, as root or with
sudo), its files in ``<data root>/cluster/postgres``, listening on 127.0.0.1 only (and a socket in
``<data root>/cluster/socket``), one user ``fashion`` with a generated password (SCRAM) kept in
``<data root>/cluster/pgpass`` (mode 600). PostgreSQL refuses to run as root: as root the server
runs as the ``postgres`` user, which then owns its folder. ``up`` is idempotent: it creates the
databases the cluster mode uses (``fashion_assets.storage.DATABASES``) and the warehouse's lake if
missing, and writes ``server.json`` (how the project finds the server) and the cluster instance's
``dagster.yaml`` (``<data root>/cluster/dagster_home``: the project's instance settings with
dagster-postgres storage).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from ..core.common.atomic import write_text
from ..resources import data_root_from_env
from ..storage import CLUSTER_FOLDER, DATABASES, SERVER_FILE, Server, storage_for

DEFAULT_PORT = 55432
USER = "fashion"
HOST = "127.0.0.1"  # never another address
REPO = Path(__file__).resolve().parents[2]
SERVER_USER = "postgres"  # the account the server runs as when we are root


class ClusterError(RuntimeError):
    pass


def folder(root: str | Path) -> Path:
    return Path(root).expanduser().resolve() / CLUSTER_FOLDER


def dagster_home(root: str | Path) -> Path:
    return folder(root) / "dagster_home"


def pg_bindir(install: bool = True) -> Path:
    """The folder of PostgreSQL's server programs (the newest installed version); with ``install``,
    Debian's package is installed first when there is none."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).resolve().parent
    if not install:
        raise ClusterError("PostgreSQL is not installed: sudo apt-get install -y postgresql")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    print("installing Debian's postgresql package for the cluster mode (apt) ...", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"]):
        done = subprocess.run(sudo + command, env=env, capture_output=True, text=True)
        if done.returncode:
            raise ClusterError(f"{' '.join(command)} failed ({done.stderr.strip()[-500:]}): install Debian's postgresql "
                               "package yourself (sudo apt-get install -y postgresql)")
    return pg_bindir(install=False)


def _as_server(command: list[str]) -> list[str]:
    """``command`` run as the server's account: ourselves, or ``postgres`` when we are root."""
    return ["runuser", "-u", SERVER_USER, "--"] + command if os.geteuid() == 0 else command


def _own(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, SERVER_USER, SERVER_USER)


def _run(command: list[str], what: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise ClusterError(f"{what} failed: {(done.stderr or done.stdout).strip()[-800:]}")
    return done.stdout


def _reachable(base: Path) -> None:
    """As root the server runs as ``postgres``: every folder above its files must let it through."""
    if os.geteuid() == 0 and subprocess.run(["runuser", "-u", SERVER_USER, "--", "test", "-x", str(base)]).returncode:
        raise ClusterError(f"PostgreSQL runs as the {SERVER_USER} user (we are root), and a folder above {base} is closed "
                           "to other users: open it (chmod o+x on each folder above) or choose a data root elsewhere")


def running(root: str | Path) -> bool:
    data = folder(root) / "postgres"
    if not (data / "PG_VERSION").exists():
        return False
    return subprocess.run(_as_server([str(pg_bindir(install=False) / "pg_ctl"), "status", "-D", str(data)]),
                          capture_output=True).returncode == 0


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((HOST, port)) != 0


def _initdb(root: Path, bindir: Path) -> None:
    base = folder(root)
    data, secret = base / "postgres", secrets.token_urlsafe(24)
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)
    _own(data)
    _reachable(base)
    pwfile = base / ".initdb-password"  # read by initdb (as the server's account), removed straight after
    write_text(pwfile, secret + "\n")
    pwfile.chmod(0o600)
    _own(pwfile)
    try:
        _run(_as_server([str(bindir / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={pwfile}",
                         "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8"]), "initdb")
    finally:
        pwfile.unlink(missing_ok=True)
    passfile = base / "pgpass"
    write_text(passfile, f"{HOST}:*:*:{USER}:{secret}\n")
    passfile.chmod(0o600)


def _start(root: Path, bindir: Path, port: int) -> None:
    base = folder(root)
    sockets = base / "socket"
    sockets.mkdir(exist_ok=True)
    _own(sockets)
    if not _port_free(port):
        raise ClusterError(f"port {port} on {HOST} is taken by another program: choose another (make cluster-up PORT=N)")
    log = base / "postgres.log"
    if os.geteuid() == 0 and not log.exists():
        log.touch()
        _own(log)
    options = f"-c listen_addresses={HOST} -p {port} -k {sockets}"
    _run(_as_server([str(bindir / "pg_ctl"), "start", "-D", str(base / "postgres"), "-l", str(log), "-w", "-t", "60",
                     "-o", options]), f"starting PostgreSQL (its log: {log})")


def _create_databases(server: Server) -> list[str]:
    import psycopg2

    made, conn = [], psycopg2.connect(server.conninfo("postgres"))
    try:
        conn.autocommit = True  # CREATE DATABASE runs outside a transaction
        with conn.cursor() as cur:
            for name in DATABASES.values():
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
                if not cur.fetchone():
                    cur.execute(f'CREATE DATABASE "{name}"')
                    made.append(name)
    finally:
        conn.close()
    return made


def instance_yaml(server: Server) -> str:
    """The cluster instance's dagster.yaml: the project's settings with storage on the server."""
    base = (REPO / "dagster.yaml").read_text()
    return (base.rstrip() + "\n# The cluster mode (fashion_assets.cli.cluster): runs, events and schedules in PostgreSQL.\n"
            f"storage:\n  postgres:\n    postgres_url: \"{server.url(DATABASES['dagster'])}\"\n")


def init(root: str | Path) -> None:
    """The cluster mode's databases on its server (when missing), the warehouse's lake and MLflow's
    tables — made once here: two first writers making them at once would collide."""
    from ..core.common import warehouse
    from ..core.registry import Registry

    stores = storage_for(root, "cluster")
    try:
        _create_databases(stores.server)
    except Exception as exc:  # noqa: BLE001 - a server of one's own may not let this user create databases
        raise ClusterError(f"cannot create the databases {', '.join(DATABASES.values())} on "
                           f"{stores.server.host}:{stores.server.port} ({str(exc).strip()[:300]}): create them, "
                           "owned by the project's user, and run init again") from exc
    warehouse.create_lake(stores.warehouse, stores.lake_data)
    Registry(Path(root).expanduser().resolve() / "mlflow", stores.tracking_uri).client().search_experiments(max_results=1)


def up(root: str | Path, port: int = DEFAULT_PORT, install: bool = True) -> Server:
    """Start the server (creating it on first use) and write the cluster mode's settings."""
    root = Path(root).expanduser().resolve()
    base = folder(root)
    base.mkdir(parents=True, exist_ok=True)
    bindir = pg_bindir(install=install)
    if not (base / "postgres" / "PG_VERSION").exists():
        _initdb(root, bindir)
    settings = base / SERVER_FILE
    if settings.exists() and running(root):
        port = Server(**json.loads(settings.read_text())).port
    else:
        _start(root, bindir, port)
    server = Server(host=HOST, port=port, user=USER, passfile=str(base / "pgpass"))
    write_text(settings, json.dumps(server.__dict__, indent=2) + "\n")
    init(root)
    home = dagster_home(root)
    home.mkdir(parents=True, exist_ok=True)
    write_text(home / "dagster.yaml", instance_yaml(server))
    return server


def down(root: str | Path) -> bool:
    """Stop the server (fast shutdown: open transactions roll back); False when it was not running."""
    if not running(root):
        return False
    _run(_as_server([str(pg_bindir(install=False) / "pg_ctl"), "stop", "-D", str(folder(root) / "postgres"), "-m", "fast",
                     "-w"]), "stopping PostgreSQL")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fashion_assets.cli.cluster", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "status", "init"])
    parser.add_argument("--root", default=data_root_from_env(), help="the data root (default: $FASHION_ASSETS_DATA_ROOT or data)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"the port on {HOST} (default {DEFAULT_PORT})")
    parser.add_argument("--no-install", action="store_true", help="never install PostgreSQL with apt")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "up":
            start = time.monotonic()
            server = up(args.root, args.port, install=not args.no_install)
            print(f"cluster mode: PostgreSQL on {server.host}:{server.port} (databases {', '.join(DATABASES.values())}), "
                  f"the lake's files in {storage_for(args.root, 'cluster').lake_data}, the instance in "
                  f"{dagster_home(args.root)} ({time.monotonic() - start:.1f} s)")
        elif args.command == "init":
            init(args.root)
            print(f"cluster mode initialised on {storage_for(args.root, 'cluster').server.host or 'the PGHOST server'}")
        elif args.command == "down":
            print("PostgreSQL stopped" if down(args.root) else "PostgreSQL was not running")
        else:
            settings = folder(args.root) / SERVER_FILE
            where = json.loads(settings.read_text()) if settings.exists() else {}
            print(f"PostgreSQL {'runs' if running(args.root) else 'does not run'}"
                  + (f" on {where['host']}:{where['port']}" if where else "") + f" (files: {folder(args.root)})")
    except ClusterError as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
