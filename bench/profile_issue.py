"""Where a ticket's server CPU goes, in µs per ticket per part.

    .venv/bin/python bench/profile_issue.py [--tickets 1000] [--kiosks 8]

Three measurements, each of CPU time (user + system) rather than wall time:
1. In this process, one thread: `Hall.issue` and the same ticket through the Flask app's WSGI
   callable (no socket, no server), each part timed exclusively as it runs (the estimator,
   the SQL statements, the COMMIT with its fsync, the token check, the JSON in and out, the
   events' emit with no device connected). One ticket, one commit: no group commit here.
2. The real server (gunicorn's worker, as `python server.py` runs it) given the same tickets
   by `--kiosks` kiosks back to back, over HTTP and over Socket.IO, as /proc counts the
   worker's CPU: what the layers of 1 cost there, plus what the server adds (gunicorn's
   parsing and poll loop, engine.io and the WebSocket, thread hand-offs), less what group
   commit saves.
3. The fan-out: the real server's CPU per ticket issued by one kiosk over HTTP with 0, 8 and
   16 displays connected (each gets one `changes` message per ticket): the slope is what each
   connected device adds to every command.
The parts do not add up to the server's figure exactly: in 2 the work runs on many threads
that take turns at the GIL, and commits are shared.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from bench_server import SERVICES, Clerk, issue_with  # noqa: E402
from server_processes import process_cpu_seconds, server_pids  # noqa: E402
from support import DISPLAY, KIOSK, ServerProcess, migrated  # noqa: E402

from client.live import LiveHall  # noqa: E402
from hall.auth import Actor  # noqa: E402
from hall.config import load_config  # noqa: E402
from hall.hall import Hall  # noqa: E402
from hall.snapshot import View  # noqa: E402
from hall.store import Database, Store  # noqa: E402


class Parts:
    """CPU time per part, exclusive: a part's time stops while a part inside it runs."""

    def __init__(self) -> None:
        self.spent: collections.Counter[str] = collections.Counter()
        self.stack: list[str] = []
        self.mark = time.thread_time()

    def _switch(self) -> None:
        now = time.thread_time()
        self.spent[self.stack[-1] if self.stack else "rest"] += now - self.mark
        self.mark = now

    def timed(self, part: str | Callable[..., str], function: Callable) -> Callable:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self._switch()
            self.stack.append(part(*args, **kwargs) if callable(part) else part)
            try:
                return function(*args, **kwargs)
            finally:
                self._switch()
                self.stack.pop()
        return wrapper

    def reset(self) -> None:
        self.spent.clear()
        self.mark = time.thread_time()


def sql_part(_: Database, sql: str, *args: Any) -> str:
    return "SQLite: COMMIT (and its fsync)" if sql == "COMMIT" else "SQLite: other statements"


def instrument(parts: Parts) -> None:
    """Wrap the functions that mark the parts (before the app is made: Flask keeps
    references to its hooks)."""
    from web import app as web_app
    for name in ("forecast", "_estimate", "_avg_handling"):
        setattr(View, name, parts.timed("estimator", getattr(View, name)))
    Database.execute = parts.timed(sql_part, Database.execute)
    Hall.authenticate = parts.timed("token → actor", Hall.authenticate)
    web_app.broadcast = parts.timed("events → Socket.IO emit (nobody connected)",
                                    web_app.broadcast)
    web_app._json_body = parts.timed("JSON body in", web_app._json_body)
    web_app._reply = parts.timed("JSON answer out", web_app._reply)
    web_app.check_request = parts.timed("cross-site check", web_app.check_request)
    web_app.add_security_headers = parts.timed("security headers",
                                               web_app.add_security_headers)


def demo_hall(workdir: Path) -> Hall:
    hall = Hall(load_config(None), Store(migrated(workdir / "profile.db")))
    supervisor = hall.authenticate(hall.login("9001", "9999")["token"])
    for window in range(1, 7):
        hall.window_command(supervisor, window, "open", {}, None)
    return hall


def environ_for(body: bytes) -> dict:
    return {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/tickets", "SCRIPT_NAME": "",
            "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080",
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:8080", "HTTP_AUTHORIZATION": f"Bearer {KIOSK}",
            "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr, "wsgi.version": (1, 0), "wsgi.multithread": True,
            "wsgi.multiprocess": False, "wsgi.run_once": False}


def in_process(workdir: Path, tickets: int) -> None:
    parts = Parts()
    instrument(parts)
    from web.app import create_app
    hall = demo_hall(workdir)
    app, _ = create_app(hall)
    kiosk = Actor(role="kiosk", device_id="kiosk-1")

    def through_hall(i: int) -> None:
        hall.issue(kiosk, SERVICES[i % len(SERVICES)])

    def through_flask(i: int) -> None:
        body = json.dumps({"service": SERVICES[i % len(SERVICES)]}).encode()
        status = []
        b"".join(app.wsgi_app(environ_for(body), lambda s, h, e=None: status.append(s)))
        assert status[0].startswith("201"), status

    for title, issue in (("Hall.issue, in this process", through_hall),
                         ("the Flask app's WSGI callable, in this process", through_flask)):
        for i in range(50):  # warm up
            issue(i)
        parts.reset()
        started = time.thread_time()
        for i in range(tickets):
            issue(i)
        total = time.thread_time() - started
        parts._switch()
        print(f"\n{title}: {total * 1e6 / tickets:.0f} µs of CPU per ticket")
        table(parts.spent, tickets, rest="the rest: the command's own Python"
              + (", Flask and Werkzeug" if issue is through_flask else ""))


def table(spent: collections.Counter, tickets: int, rest: str) -> None:
    print("| part | µs per ticket |")
    print("|---|---|")
    for part, seconds in spent.most_common():
        print(f"| {rest if part == 'rest' else part} | {seconds * 1e6 / tickets:.0f} |")


def served(workdir: Path, tickets: int, kiosks: int) -> None:
    print(f"\nThe server, {kiosks} kiosks back to back, {tickets} tickets each way: the "
          "worker's CPU per ticket (/proc)")
    for way in ("http", "socket"):
        server = ServerProcess(workdir / f"served-{way}.db").start(timeout=60)
        try:
            clerk = Clerk(server)
            for window in range(1, 7):
                clerk.post(f"/api/v1/windows/{window}/open")
            issue_with(server, kiosks, 50 // kiosks + 1, way=way)  # warm up
            worker = [p for p in server_pids(server.proc.pid) if p != server.proc.pid][-1]
            cpu = process_cpu_seconds(worker)
            got, per_second = issue_with(server, kiosks, tickets // kiosks, way=way)
            cpu = process_cpu_seconds(worker) - cpu
        finally:
            server.stop()
        print(f"  {way:6}: {cpu * 1e6 / len(got):.0f} µs per ticket, {per_second:.0f} tickets/s "
              f"(the kiosks connecting and leaving included)")


def fan_out(workdir: Path, tickets: int) -> None:
    print(f"\nThe server, 1 kiosk over HTTP, {tickets} tickets, displays connected: the "
          "worker's CPU per ticket (/proc)")
    server = ServerProcess(workdir / "fan-out.db", extra=["--max-per-address", "0"]).start()
    displays: list[LiveHall] = []
    try:
        issue_with(server, 1, 50)  # warm up
        worker = [p for p in server_pids(server.proc.pid) if p != server.proc.pid][-1]
        for count in (0, 8, 16):
            while len(displays) < count:
                displays.append(LiveHall(server.url, token=DISPLAY))
                displays[-1].start()
                displays[-1].wait_for_state(30)
            time.sleep(1)  # their connecting is done
            cpu = process_cpu_seconds(worker)
            got, _ = issue_with(server, 1, tickets)
            cpu = process_cpu_seconds(worker) - cpu
            print(f"  {count:2} displays: {cpu * 1e6 / len(got):.0f} µs per ticket")
    finally:
        server.stop()
        for display in displays:
            display.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--kiosks", type=int, default=8)
    parser.add_argument("--only", choices=["in-process", "server", "fan-out"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "in-process"):
            in_process(Path(tmp), args.tickets)
        if args.only in (None, "server"):
            served(Path(tmp), args.tickets, args.kiosks)
        if args.only in (None, "fan-out"):
            fan_out(Path(tmp), args.tickets // 2)


if __name__ == "__main__":
    main()
