"""Server benchmarks: ticket issue latency and throughput, call fan-out to displays, and the
server's memory with 100 devices connected. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_server.py [--quick]

Targets (issue #13): issue median ≤ 1.5 ms and ≥ 800 tickets/s with 8 kiosks; call → every
display p99 ≤ 30 ms with 50 windows, 10 displays and 5 kiosks; ≤ 128 MB PSS for the whole
server (gunicorn's master and worker) with 100 devices. The clients run on the same machine as
the server, so the figures include their cost. CPU and memory are summed over the server's
processes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from server_processes import cpu_seconds, describe, memory_mb  # noqa: E402
from support import DISPLAY, KIOSK, ServerProcess  # noqa: E402

from client.live import LiveHall  # noqa: E402
from hall.config import DEMO_CONFIG  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


SERVICES = ("pay", "account", "transfer", "usage", "enquiry", "complaint", "repair")


def kiosk_process(port: int, count: int, go: Any, ready: multiprocessing.Queue,
                  results: multiprocessing.Queue, interval: float = 0.0,
                  leave: Any = None) -> None:
    """One kiosk in a process of its own, as on its own Pi: issues `count` tickets one after
    another, or one every `interval` seconds from a random moment in the first (at once if
    the last came back late), and reports each one's latency. Plain http.client, so that the
    client's own cost takes as little as it can of the two cores the server shares with it."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.connect()
    headers = {"Authorization": f"Bearer {KIOSK}", "Content-Type": "application/json"}

    def issue(service: str) -> None:
        connection.request("POST", "/api/v1/tickets", json.dumps({"service": service}), headers)
        reply = connection.getresponse()
        reply.read()
        assert reply.status == 201, reply.status

    ready.put(True)
    go.wait()
    results.put(paced(issue, count, interval))
    stay_until(leave)


def socket_kiosk_process(port: int, count: int, go: Any, ready: multiprocessing.Queue,
                         results: multiprocessing.Queue, interval: float = 0.0,
                         leave: Any = None) -> None:
    """`kiosk_process`, but issuing as the kiosk program does: a `command` over the Socket.IO
    connection it holds (client.live.LiveHall), not an HTTP request."""
    live = LiveHall(f"http://127.0.0.1:{port}", token=KIOSK, command_timeout=60)
    live.start()
    live.wait_for_state(60)
    ready.put(True)
    go.wait()
    results.put(paced(lambda service: live.command("issue", service=service), count, interval))
    stay_until(leave)
    live.stop()


def paced(issue: Any, count: int, interval: float) -> list[float]:
    """`count` tickets through `issue(service)`, back to back or one every `interval` seconds
    from a random moment in the first (at once if the last came back late); their latencies."""
    latencies = []
    start = time.perf_counter() + random.uniform(0, interval)
    for i in range(count):
        time.sleep(max(0.0, start + i * interval - time.perf_counter()))
        started = time.perf_counter()
        issue(SERVICES[i % len(SERVICES)])
        latencies.append(time.perf_counter() - started)
    return latencies


def stay_until(leave: Any) -> None:
    """A kiosk that is done stays connected until every kiosk is: a disconnect is a write of
    its own (the device's presence) and CPU, which would fall among the others' tickets."""
    leave.wait(60)


KIOSK_PROCESSES = {"http": kiosk_process, "socket": socket_kiosk_process}


def issue_with(server: ServerProcess, kiosks: int, each: int, timeout: float = 600,
               interval: float = 0.0, way: str = "http",
               span: Callable[[str], None] | None = None) -> tuple[list[float], float]:
    """Latencies of `kiosks` issuing `each` tickets at once (each kiosk one every `interval`
    seconds, if given), over HTTP or a Socket.IO connection (`way`), and the tickets per
    second. A kiosk that has not reported within `timeout` seconds ends the bench with
    queue.Empty. `span("go")` is called when the kiosks, all connected, are told to start, and
    `span("done")` when the last has reported, before any disconnects: what the server did in
    between is the tickets' alone."""
    spawn = multiprocessing.get_context("spawn")
    results, ready, go, leave = spawn.Queue(), spawn.Queue(), spawn.Event(), spawn.Event()
    processes = [spawn.Process(target=KIOSK_PROCESSES[way],
                               args=(server.port, each, go, ready, results, interval, leave))
                 for _ in range(kiosks)]
    for process in processes:
        process.start()
    for _ in processes:  # every kiosk has started Python and connected: the start is not timed
        ready.get(timeout=60)
    time.sleep(0.5)  # and the last ones' imports have settled
    if span:
        span("go")
    started = time.perf_counter()
    go.set()
    latencies: list[float] = []
    try:
        for _ in processes:
            latencies += results.get(timeout=timeout)
        if span:
            span("done")
    finally:
        elapsed = time.perf_counter() - started
        leave.set()
        for process in processes:
            process.join(5)
            if process.is_alive():
                process.kill()
    return latencies, len(latencies) / elapsed


def bench_issue(workdir: Path, count: int) -> None:
    for way, title in (("http", "over HTTP"), ("socket", "over Socket.IO, as the kiosk does")):
        server = ServerProcess(workdir / f"issue-{way}.db").start()
        try:
            issue_with(server, 1, 50, way=way)  # warm up
            cpu = cpu_seconds(server.proc.pid)
            one, rate_one = issue_with(server, 1, count, way=way)
            cpu_per_ticket = (cpu_seconds(server.proc.pid) - cpu) / count
            cpu = cpu_seconds(server.proc.pid)
            eight, rate_eight = issue_with(server, 8, count // 8, way=way)
            cpu_eight = (cpu_seconds(server.proc.pid) - cpu) / len(eight)
        finally:
            server.stop()
        print(f"Ticket issue {title} (synchronous=FULL; each kiosk in its own process)")
        print(f"  1 kiosk : median {ms(statistics.median(one))}, p99 {ms(percentile(one, 99))}, "
              f"{rate_one:.0f} tickets/s")
        print(f"  8 kiosks: median {ms(statistics.median(eight))}, "
              f"p99 {ms(percentile(eight, 99))}, {rate_eight:.0f} tickets/s")
        # Nobody is called here, so the queue only grows: what a ticket costs should not.
        print(f"  server CPU per ticket: {ms(cpu_per_ticket)} with 1 kiosk (50-{count + 50} "
              f"waiting) → {1 / cpu_per_ticket:.0f} tickets/s per core when the server has "
              f"the core to itself; {ms(cpu_eight)} with 8 kiosks ({count + 50}-"
              f"{2 * count + 50} waiting)")
        print(f"  vs FQM (60 ms median, 16/s): {0.060 / statistics.median(one):.0f}x faster "
              f"median, {rate_eight / 16:.0f}x the throughput")


def fifty_window_hall(path: Path) -> Path:
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    extra = "".join(
        f'\n[[windows]]\nnumber = {n}\nservices = ["pay", "enquiry"]\n' for n in range(7, 51))
    path.write_text(text + extra, encoding="utf-8")
    return path


def device_process(url: str, token: str, report: Connection) -> None:
    """One device in a process of its own, as on its own Pi. A display reports each call's
    arrival time (the wall clock is shared by the processes of one machine) down a pipe of
    its own: one write, no feeder thread, so the reporting takes little from the cores the
    other displays are waiting for."""
    def on_event(name: str, payload: dict) -> None:
        if name == "called" and token == DISPLAY:
            report.send((payload["number"], time.time()))

    live = LiveHall(url, token=token, on_event=on_event)
    live.start()
    live.wait_for_state(30)
    report.send(("ready", time.time()))
    threading.Event().wait()  # until the parent terminates the process


class Arrivals:
    """What the device processes report, read by the bench's one thread between calls."""

    def __init__(self, pipes: list[Connection]) -> None:
        self.pipes = pipes
        self.received: dict[str, list[float]] = {}

    def wait_for(self, number: str, count: int, timeout: float) -> list[float]:
        deadline = time.monotonic() + timeout
        while len(self.received.get(number, [])) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for pipe in wait(self.pipes, left):
                reported, at = pipe.recv()
                self.received.setdefault(reported, []).append(at)
        return list(self.received.get(number, []))


class Clerk:
    """The supervisor's commands over one kept-alive connection, with http.client as the
    kiosks use: requests' own work per call would be timed with the call and take a core
    from the displays. A command the server drops without an answer is sent again once, with
    the same request_id (so it is not done twice), and counted in `dropped`."""

    def __init__(self, server: ServerProcess) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        self.headers = {"Authorization": f"Bearer {server.login('9001', '9999')}",
                        "Content-Type": "application/json"}
        self.dropped = 0

    def post(self, path: str) -> dict:
        body = json.dumps({"request_id": uuid.uuid4().hex})
        try:
            return self._send(path, body)
        except ConnectionError:  # reset, broken pipe, or closed with no answer
            self.dropped += 1
            self.connection.close()
            return self._send(path, body)

    def _send(self, path: str, body: str) -> dict:
        self.connection.request("POST", path, body, headers=self.headers)
        reply = self.connection.getresponse()
        answer = json.loads(reply.read())
        assert reply.status == 200, answer
        return answer


def bench_fanout(workdir: Path, calls: int, display_count: int = 10, kiosk_count: int = 5) -> None:
    server = ServerProcess(workdir / "fanout.db",
                           config=fifty_window_hall(workdir / "fifty.toml")).start()
    try:
        to_all, to_each = fanout(server, calls, display_count, kiosk_count)
    finally:
        server.stop()
    print(f"Call fan-out: call-next request → `called` at {display_count} displays, each in its "
          f"own process (50 windows, {kiosk_count} kiosks), {calls} calls")
    print(f"  at every display: p50 {ms(percentile(to_all, 50))}, p99 {ms(percentile(to_all, 99))}")
    print(f"  at each display : p50 {ms(percentile(to_each, 50))}, "
          f"p99 {ms(percentile(to_each, 99))}")
    print(f"  vs FQM's polling (0.9 s median, 2 s worst): "
          f"{0.9 / percentile(to_all, 50):.0f}x sooner at the median")


def fanout(server: ServerProcess, calls: int, display_count: int,
           kiosk_count: int) -> tuple[list[float], list[float]]:
    """Seconds from each call-next request until its `called` reached every display, and
    until it reached each one, on a server running `fifty_window_hall`."""
    spawn = multiprocessing.get_context("spawn")
    pipes, devices = [], []
    for token in [DISPLAY] * display_count + [KIOSK] * kiosk_count:
        reader, writer = spawn.Pipe(duplex=False)
        pipes.append(reader)
        devices.append(spawn.Process(target=device_process, args=(server.url, token, writer),
                                     daemon=True))
    arrivals = Arrivals(pipes)
    try:
        for device in devices:
            device.start()
        arrivals.wait_for("ready", len(devices), 60)
        clerk = Clerk(server)
        for n in range(1, 51):
            clerk.post(f"/api/v1/windows/{n}/open")
        for _ in range(calls):
            server.issue("pay")
        to_all, to_each = [], []
        pay_windows = [n for n in range(1, 51) if n not in (3, 5)]  # 3 and 5 serve no payments
        for i in range(calls):
            window = pay_windows[i % len(pay_windows)]
            if i >= len(pay_windows):  # the window's customer from the last round
                clerk.post(f"/api/v1/windows/{window}/finish")
            time.sleep(0.05)  # a clerk calls the next a moment after finishing, not at once
            started = time.time()
            number = clerk.post(f"/api/v1/windows/{window}/call-next")["ticket"]["number"]
            times = arrivals.wait_for(number, display_count, 5)
            to_each += [t - started for t in times]
            # a call some display has not had for 5 s counts as 5 s late, not as on time
            late = len(times) < display_count
            to_all.append((time.time() if late else max(times)) - started)
            time.sleep(0.01)
        if clerk.dropped:
            print(f"  the server dropped {clerk.dropped} of the clerk's commands without an "
                  "answer (each sent again with its request_id)")
    finally:
        for device in devices:
            device.terminate()
    return to_all, to_each


def bench_memory(workdir: Path) -> None:
    # the hundred devices all come from 127.0.0.1 here: no per-address limit
    server = ServerProcess(workdir / "memory.db", extra=["--max-per-address", "0"]).start()
    devices = [LiveHall(server.url, token=DISPLAY) for _ in range(100)]
    try:
        idle = memory_mb(server.proc.pid)
        for device in devices:
            device.start()
        for device in devices:
            device.wait_for_state(30)
        for i in range(200):
            server.issue("pay" if i % 2 else "enquiry")
        time.sleep(1)
        loaded = memory_mb(server.proc.pid)
    finally:
        server.stop()  # first: a hundred clean disconnects can hang on a busy machine
        for device in devices:
            threading.Thread(target=device.stop, daemon=True).start()
    print("Server memory, master + worker (target ≤ 128 MB PSS with 100 devices)")
    print(f"  idle            : {describe(idle)}")
    print(f"  100 devices     : {describe(loaded)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    parser.add_argument("--only", choices=["issue", "fanout", "memory"], help="one benchmark")
    parser.add_argument("--displays", type=int, default=10,
                        help="fan-out: display processes (10 in the target)")
    parser.add_argument("--kiosks", type=int, default=5,
                        help="fan-out: kiosk processes (5 in the target)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.only in (None, "issue"):
            bench_issue(workdir, 400 if args.quick else 2000)
        if args.only in (None, "fanout"):
            bench_fanout(workdir, 50 if args.quick else 300, args.displays, args.kiosks)
        if args.only in (None, "memory"):
            bench_memory(workdir)


if __name__ == "__main__":
    main()
