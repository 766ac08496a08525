"""What the tests share: a settable clock, a hall on a real SQLite file, the real server in its
own process on loopback."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

ROOT = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")

KIOSK = "demo-kiosk-1-token"
DISPLAY = "demo-display-1-token"


def evaluator_token(window: int) -> str:
    return f"demo-evaluator-{window}-token"


def counter_box_token(window: int) -> str:
    return f"demo-counter-box-{window}-token"


class FakeClock:
    """A clock the test moves by hand: `clock.advance(minutes=11)`."""

    def __init__(self, start: datetime | str = "2026-11-23 09:30") -> None:
        if isinstance(start, str):
            start = datetime.fromisoformat(start).replace(tzinfo=SHANGHAI)
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, minutes: float = 0, seconds: float = 0) -> None:
        self.now += minutes * 60 + seconds

    def set(self, when: str) -> None:
        self.now = datetime.fromisoformat(when).replace(tzinfo=SHANGHAI).timestamp()


def migrated(path: Path | str) -> Path:
    """The hall database at `path`, made or brought up to date as the server's start does it
    (here in the test's own process: the server's is kept free of sqlite-utils)."""
    from hall.migrations import migrated as made

    return made(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(cmd: list[str], log: Path) -> subprocess.Popen:
    """`cmd` in a process group of its own, its output appended to `log`."""
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                start_new_session=True)


def wait_until_serving(proc: subprocess.Popen, log: Path, url: str, timeout: float,
                       name: str) -> None:
    """Until `url`/healthz answers; RuntimeError with the log if `proc` exits first or does
    not come up within `timeout` (the caller keeps `proc`, to read how it ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited: {log.read_text()}")
        try:
            if requests.get(url + "/healthz", timeout=0.5).ok:
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not come up: {log.read_text()}")


class ServerProcess:
    """`python server.py` in a process group of its own, as a hall runs it: gunicorn's master
    (`proc`) and its worker."""

    def __init__(self, db: Path, config: Path | None = None, port: int | None = None,
                 extra: list[str] | None = None, wrapper: list[str] | None = None) -> None:
        self.db, self.config = db, config
        self.wrapper = wrapper or []  # runs the server, e.g. under strace (bench/bench_pi.py)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra = extra or []
        self.proc: subprocess.Popen | None = None
        self.log = db.with_suffix(f".{self.port}.log")

    def start(self, timeout: float = 15) -> ServerProcess:
        cmd = [*self.wrapper, sys.executable, str(ROOT / "server.py"), "--db", str(self.db),
               "--port", str(self.port), *self.extra]
        if self.config:
            cmd += ["--config", str(self.config)]
        self.proc = spawn(cmd, self.log)
        wait_until_serving(self.proc, self.log, self.url, timeout, "server")
        return self

    def kill(self) -> None:
        """kill -9 of every process of the server: no clean shutdown, as in a power cut."""
        if self.proc and self.proc.poll() is None:
            self.signal(signal.SIGKILL)
            self.proc.wait()

    def signal(self, number: int) -> None:
        """A signal to every process of the server (SIGSTOP freezes the worker too)."""
        if self.proc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, number)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()

    # -- HTTP helpers --------------------------------------------------------------------------
    def post(self, path: str, body: dict | None = None, token: str | None = None,
             **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(self.url + path, json=body or {}, headers=headers, timeout=10,
                             **kwargs)

    def get(self, path: str, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(self.url + path, headers=headers, timeout=10)

    def login(self, staff_id: str, pin: str, window: int | None = None) -> str:
        r = self.post("/api/v1/login", {"staff_id": staff_id, "pin": pin, "window": window})
        assert r.status_code == 200, r.text
        return r.json()["token"]

    def issue(self, service: str = "pay", **body) -> dict:
        r = self.post("/api/v1/tickets", {"service": service, **body}, token=KIOSK)
        assert r.status_code == 201, r.text
        return r.json()["ticket"]


def wait_until(predicate, timeout: float = 5, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def demo_toml() -> dict:
    """The demo hall's TOML as a dict, for a test to change a key or two."""
    import tomllib

    from hall.config import DEMO_CONFIG

    return tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))


def real_hours() -> dict:
    """A real hall's week: Mon–Fri 09:00–17:00, last ticket 16:45, lunch 12:00–13:00."""
    return {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "17:00",
            "last_ticket": "16:45", "breaks": [["12:00", "13:00"]]}


@contextmanager
def listening_display(url: str):
    """A lobby display's live client that keeps every `called` event in `.calls`."""
    from client.live import LiveHall

    calls: list[dict] = []
    live = LiveHall(url, token=DISPLAY,
                    on_event=lambda name, p: calls.append(p) if name == "called" else None)
    live.calls = calls
    live.start()
    try:
        live.wait_for_state()
        yield live
    finally:
        live.stop()


@contextmanager
def page_without_errors(browser, width: int = 1400, height: int = 900, **options):
    """A page in a fresh Chromium context (zh-CN). When the block ends without a failure of its
    own, no script on the page may have thrown."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                  **options)
    page = context.new_page()
    errors: list = []
    page.on("pageerror", lambda error: errors.append(error))
    try:
        yield page
    finally:
        context.close()
    assert not errors, errors
