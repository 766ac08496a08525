"""A real PostgreSQL for the tests, from Debian's `postgresql` package (./dev.sh test installs
it): initdb in a temporary directory, its socket in that directory, a free TCP port on
127.0.0.1, fsync off (a test's data need not survive a power cut). One server per test session;
each test gets a database of its own, copied from a migrated template (a copy takes ~0.1 s where
migrating takes longer).

initdb refuses to run as root: as root, the server runs as the `postgres` user (or `nobody`),
which owns the directory."""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests
from support import ROOT, free_port, spawn, wait_until, wait_until_serving

TEMPLATE = "region_template"


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's binaries (/usr/lib/postgresql/N/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


def _server_user() -> str | None:
    """Whom the server runs as: None for ourselves, unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    return None


class Postgres:
    """A throwaway PostgreSQL server; `dsn(name)` connects to one of its databases."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="hallq-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.user = _server_user()
        self._names = itertools.count(1)

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        subprocess.run([*prefix, *command], check=True, capture_output=True)

    def start(self, durable: bool = False, settings: str = "") -> Postgres:
        """Start it; `durable` keeps PostgreSQL's defaults (fsync, synchronous commits), as a
        benchmark wants; the tests go without."""
        if self.user:
            shutil.chown(self.dir, self.user)
        if not self.data.exists():
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                      "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        options = f"-k {self.dir} -p {self.port} -c listen_addresses=127.0.0.1 {settings}"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.dir / "log"), "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(sql)

    def make_template(self) -> None:
        from region.db import migrate

        self.execute(f"CREATE DATABASE {TEMPLATE}")
        migrate(self.dsn(TEMPLATE))

    def fresh_database(self) -> str:
        """A new database with the region's schema; its DSN."""
        name = f"region_{next(self._names)}"
        self.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.dsn(name)


def start_postgres(durable: bool = False, settings: str = "") -> Postgres | None:
    """A started server with the migrated template, or None where PostgreSQL is missing."""
    bin_dir = postgres_bin()
    if bin_dir is None or (os.geteuid() == 0 and _server_user() is None):
        return None
    server = Postgres(bin_dir).start(durable, settings)
    try:
        wait_until(lambda: _answers(server), timeout=20, interval=0.1)
        server.make_template()
    except BaseException:
        server.remove()
        raise
    return server


def _answers(server: Postgres) -> bool:
    import psycopg

    try:
        with psycopg.connect(server.dsn(), connect_timeout=1):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def postgres():
    server = start_postgres()
    if server is None:
        pytest.skip("needs Debian's postgresql (initdb, pg_ctl under /usr/lib/postgresql/*/bin; "
                    "./dev.sh test installs it)")
    yield server
    server.remove()


@pytest.fixture
def region_dsn(postgres: Postgres) -> str:
    """A fresh database with the region's schema, for this test alone."""
    return postgres.fresh_database()


class RegionProcess:
    """`hallq-region serve` in a process group of its own, on loopback, with a config of its
    own written beside the test's files."""

    def __init__(self, dsn: str, directory: Path, port: int | None = None) -> None:
        self.dsn = dsn
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = directory / f"region-{self.port}.toml"
        self.config.write_text(f'[region]\nname = "测试公司 · Test Co"\n'
                               f'listen = "127.0.0.1:{self.port}"\ndsn = "{dsn}"\n')
        self.log = directory / f"region-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """`hallq-region ARGS --config ...`, run to its end."""
        return subprocess.run([sys.executable, "-m", "region.server", *args,
                               "--config", str(self.config)],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)

    def add_hall(self, hall_id: str, name: str = "") -> str:
        done = self.cli("add-hall", hall_id, name or f"{hall_id} 营业厅")
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def start(self, timeout: float = 20) -> RegionProcess:
        self.proc = spawn(
            [sys.executable, "-m", "region.server", "serve", "--config", str(self.config)],
            self.log)
        wait_until_serving(self.proc, self.log, self.url, timeout, "hallq-region")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def viewer_token(self) -> str:
        """A session of a regional admin, for a live-view client (region/users.py): the
        region's sockets need one. The user `viewer` is made at the first call."""
        if getattr(self, "_viewer_token", None) is None:
            made = self.cli("add-user", "viewer", "--admin")
            assert made.returncode == 0, made.stderr
            answer = self.post("/api/login", {"user": "viewer",
                                              "password": made.stdout.strip()})
            assert answer.status_code == 200, answer.text
            self._viewer_token = answer.json()["token"]
        return self._viewer_token

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kwargs)

    def post(self, path: str, body: object, token: str | None = None,
             **kwargs) -> requests.Response:
        """POST `body` as JSON (or what `data=` gives, with its own `headers=`)."""
        headers = kwargs.pop("headers", None) or (
            {"Authorization": f"Bearer {token}"} if token else {})
        sent = {"data": kwargs.pop("data")} if "data" in kwargs else {"json": body}
        return requests.post(self.url + path, headers=headers, timeout=30, **sent, **kwargs)
