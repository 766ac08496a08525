"""The server under a hostile client on the hall's LAN: how fast one attacker gets PINs checked,
what floods of logins and sockets do to memory, and what a kiosk sees meanwhile. Prints
figures; asserts nothing. Loopback only; every loop is bounded, and it stops by itself.

    .venv/bin/python bench/bench_hostile.py [--quick] [--only NAME]

The attacker speaks from its own loopback addresses (127.0.0.2 and up), the kiosk from
127.0.0.1, as two machines on the hall's LAN would. Memory is summed over the server's
processes (gunicorn's master and worker): PSS from /proc/PID/smaps_rollup, and RSS.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from server_processes import memory_mb  # noqa: E402
from support import KIOSK, ServerProcess  # noqa: E402

ATTACKER = "127.0.0.2"
SPREAD = False  # --spread: each of the attacker's connections from an address of its own


def source(i: int) -> str:
    """The address of the attacker's i-th connection."""
    return f"127.0.{2 + i // 250}.{2 + i % 250}" if SPREAD else ATTACKER


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class PeakMemory:
    """The server's memory, sampled every 0.1 s in a thread while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.pss = self.rss = 0.0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            memory = memory_mb(self.pid)
            self.pss, self.rss = max(self.pss, memory["pss"]), max(self.rss, memory["rss"])

    @contextmanager
    def watching(self) -> Iterator[PeakMemory]:
        thread = threading.Thread(target=self._sample, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()


def now_mb(pid: int) -> str:
    memory = memory_mb(pid)
    return f"{memory['pss']:.1f} MB PSS, {memory['rss']:.1f} MB RSS"


def login(port: int, staff_id: str, pin: str, source: str = ATTACKER,
          window: int | None = None, timeout: float = 60) -> tuple[int, str]:
    """One login on a connection of its own; (status, error code or "ok")."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                            source_address=(source, 0))
    try:
        connection.request("POST", "/api/v1/login",
                           json.dumps({"staff_id": staff_id, "pin": pin, "window": window}),
                           {"Content-Type": "application/json"})
        reply = connection.getresponse()
        body = reply.read()
        try:
            code = json.loads(body).get("error", {}).get("code", "ok")
        except (ValueError, AttributeError):
            code = "not json"
        return reply.status, code
    except OSError as error:
        return 0, type(error).__name__
    finally:
        connection.close()


class Kiosk:
    """A kiosk issuing tickets over one kept-alive connection, timing each."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {KIOSK}", "Content-Type": "application/json"}

    def issue(self) -> float:
        started = time.perf_counter()
        for attempt in range(2):  # a kept-alive connection the server closed: once more
            try:
                self.connection.request("POST", "/api/v1/tickets",
                                        json.dumps({"service": "pay"}), self.headers)
                reply = self.connection.getresponse()
                reply.read()
                break
            except (OSError, http.client.HTTPException):
                self.connection.close()
                if attempt:
                    raise
        assert reply.status == 201, reply.status
        return time.perf_counter() - started


# -- 1. PIN guessing ------------------------------------------------------------------------------
def bench_guessing(workdir: Path, seconds: float) -> None:
    """16 parallel wrong-PIN logins against the supervisor's id, for `seconds`."""
    server = ServerProcess(workdir / "guess.db").start()
    answers: Counter = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    next_pin = iter(f"{n:04d}" for n in range(10000) if n != 9999)  # 9999 is the right one

    def attacker() -> None:
        while time.monotonic() < deadline:
            with lock:
                pin = next(next_pin, "0000")
            answer = login(server.port, "9001", pin)
            with lock:
                answers[answer] += 1

    try:
        started = time.monotonic()
        threads = [threading.Thread(target=attacker) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        still = login(server.port, "9001", "9999", source="127.0.0.1")
    finally:
        server.stop()
    # A wrong PIN that was checked is answered 401 `unauthorized`; a lock-out or a throttle
    # answers otherwise (its own code, or 429), before any PIN is looked at.
    checked = sum(n for (status, code), n in answers.items()
                  if (status, code) == (401, "unauthorized"))
    print(f"PIN guessing: 16 parallel wrong-PIN logins against one staff id for "
          f"{elapsed:.0f} s, from one address")
    print("  answers: " + ", ".join(f"{status} {code} × {n}"
                                      for (status, code), n in answers.most_common()))
    print(f"  PINs checked: {checked} → {checked / elapsed * 60:.0f} per minute "
          f"(all 10,000 four-digit PINs in "
          f"{10000 / max(checked, 1) * elapsed / 60:.0f} min at that rate)")
    print(f"  the right PIN from another address afterwards: {still[0]} {still[1]}")


# -- 2. a flood of logins -------------------------------------------------------------------------
def bench_login_flood(workdir: Path, count: int) -> None:
    """`count` wrong-PIN logins at once, each from an address of its own."""
    server = ServerProcess(workdir / "logins.db").start()
    try:
        before = now_mb(server.proc.pid)
        answers: Counter = Counter()
        go = threading.Event()

        def one(i: int) -> None:
            go.wait()
            answers[login(server.port, f"{1001 + i % 6}", "0000", window=1 + i % 6,
                          source=f"127.0.{2 + i // 250}.{2 + i % 250}")] += 1

        threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
        for thread in threads:
            thread.start()
        peak = PeakMemory(server.proc.pid)
        with peak.watching():
            started = time.monotonic()
            go.set()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
            time.sleep(0.3)
        time.sleep(2)
        after = now_mb(server.proc.pid)
        kiosk = Kiosk(server.port)
        latency = [kiosk.issue() for _ in range(20)]
    finally:
        server.stop()
    print(f"{count} parallel wrong-PIN logins, each from its own address "
          f"(answered in {elapsed:.1f} s: "
          + ", ".join(f"{s} {c} × {n}" for (s, c), n in answers.most_common()) + ")")
    print(f"  before {before}; peak {peak.pss:.1f} MB PSS, {peak.rss:.1f} MB RSS; "
          f"2 s after {after}")
    print(f"  a kiosk's ticket just after: median {ms(statistics.median(latency))}, "
          f"max {ms(max(latency))}")


# -- 3. a flood of sockets ------------------------------------------------------------------------
def websocket_hello() -> bytes:
    """The HTTP request that opens an engine.io WebSocket (anonymous, as any page may)."""
    key = base64.b64encode(os.urandom(16))
    return (b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: hall\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: " + key + b"\r\n\r\n")


def text_frame(text: bytes) -> bytes:
    """A client's masked WebSocket text frame (short texts only)."""
    mask = os.urandom(4)
    return bytes([0x81, 0x80 | len(text)]) + mask + bytes(
        b ^ mask[i % 4] for i, b in enumerate(text))


def bench_socket_flood(workdir: Path, count: int) -> None:
    """`count` Socket.IO clients connect at once (handshake, then the Socket.IO CONNECT),
    hold for a few seconds, and all drop at once; then a kiosk issues tickets."""
    server = ServerProcess(workdir / "sockets.db").start()
    sockets: list[socket.socket] = []
    try:
        before = now_mb(server.proc.pid)
        kiosk = Kiosk(server.port)
        kiosk.issue()
        peak = PeakMemory(server.proc.pid)
        with peak.watching():
            for i in range(count):
                sock = socket.socket()
                sock.bind((source(i), 0))
                sock.setblocking(False)
                with suppress(BlockingIOError):
                    sock.connect(("127.0.0.1", server.port))
                sockets.append(sock)
            time.sleep(0.5)
            for sock in sockets:
                with suppress(OSError):
                    sock.send(websocket_hello() + text_frame(b"40"))
            time.sleep(5)
            during = [kiosk.issue() for _ in range(5)]
            opened = sum(_got_101(sock) for sock in sockets)
            for sock in sockets:  # all at once, as a Wi-Fi access point rebooting would
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
                sock.close()
            sockets = []
            started = time.perf_counter()
            after = [kiosk.issue() for _ in range(20)]
            first = after[0]
            recovered = time.perf_counter() - started
        time.sleep(2)
        settled = now_mb(server.proc.pid)
    finally:
        for sock in sockets:
            sock.close()
        server.stop()
    print(f"{count} Socket.IO clients connecting at once, {_from()}; "
          f"{opened} WebSockets opened within 5 s")
    print(f"  before {before}; peak {peak.pss:.1f} MB PSS, {peak.rss:.1f} MB RSS; "
          f"2 s after they dropped {settled}")
    print(f"  a kiosk's ticket while they were held: median {ms(statistics.median(during))}, "
          f"max {ms(max(during))}")
    print(f"  right after they all dropped: first ticket {ms(first)}, then median "
          f"{ms(statistics.median(after))}, max {ms(max(after))} "
          f"(20 tickets in {recovered:.2f} s)")


def _from() -> str:
    return "each from an address of its own" if SPREAD else "from one address"


def _got_101(sock: socket.socket) -> bool:
    try:
        return sock.recv(12, socket.MSG_PEEK).startswith(b"HTTP/1.1 101")
    except OSError:
        return False


# -- 4. slow connections --------------------------------------------------------------------------
def bench_slow_connections(workdir: Path, count: int, seconds: float) -> None:
    """`count` connections that send a header byte every few seconds (and open again when the
    server cuts them), while a kiosk issues tickets for `seconds`."""
    server = ServerProcess(workdir / "slow.db").start()
    stop = threading.Event()
    cut = Counter()

    def open_slow(i: int) -> socket.socket | None:
        sock = socket.socket()
        sock.bind((source(i), 0))
        sock.settimeout(5)
        try:
            sock.connect(("127.0.0.1", server.port))
            sock.send(b"GET /healthz HTTP/1.1\r\nHost: hall\r\nX-Slow: ")
        except OSError:
            sock.close()
            return None
        return sock

    def loris() -> None:
        held = [open_slow(i) for i in range(count)]
        while not stop.wait(3):  # a byte every 3 s on each
            for i, sock in enumerate(held):
                try:
                    if sock is None:
                        raise OSError
                    sock.send(b"a")
                except OSError:
                    cut["cut"] += 1
                    if sock is not None:
                        sock.close()
                    held[i] = open_slow(i)
        for sock in held:
            if sock is not None:
                sock.close()

    try:
        attacker = threading.Thread(target=loris)
        attacker.start()
        time.sleep(4)
        kiosk = Kiosk(server.port)
        latency = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            latency.append(kiosk.issue())
            time.sleep(0.05)
        memory = now_mb(server.proc.pid)
        stop.set()
        attacker.join()
    finally:
        stop.set()
        server.stop()
    print(f"{count} slow connections {_from()} (a header byte every 3 s each, opened again "
          f"when cut), for {seconds:.0f} s")
    print(f"  a kiosk's ticket: p50 {ms(percentile(latency, 50))}, "
          f"p99 {ms(percentile(latency, 99))}, max {ms(max(latency))} ({len(latency)} tickets)")
    print(f"  connections cut or refused by the server, and opened again: {cut['cut']}; "
          f"server memory {memory}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--only", choices=["guessing", "logins", "sockets", "slow"],
                        help="one benchmark")
    parser.add_argument("--spread", action="store_true",
                        help="the socket floods from an address per connection, not one")
    args = parser.parse_args()
    global SPREAD
    SPREAD = args.spread
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.only in (None, "guessing"):
            bench_guessing(workdir, 5 if args.quick else 20)
        if args.only in (None, "logins"):
            bench_login_flood(workdir, 200)
        if args.only in (None, "sockets"):
            bench_socket_flood(workdir, 1000)
        if args.only in (None, "slow"):
            bench_slow_connections(workdir, 400, 10 if args.quick else 30)


if __name__ == "__main__":
    main()
