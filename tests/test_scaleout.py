"""Two server processes on one SQLite file, sharing events through Debian's redis-server
(Flask-SocketIO's Redis message queue): a call made through one reaches a display connected to
the other, and tickets issued through both at once are never duplicated."""

from __future__ import annotations

import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from support import DISPLAY, KIOSK, ServerProcess, free_port, wait_until

from client.live import LiveHall

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="needs Debian's redis-server (./dev.sh test installs it)")


@pytest.fixture
def redis_url(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}"
    try:
        wait_until(lambda: _pings(url), timeout=10)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def _pings(url: str) -> bool:
    try:
        return redis.Redis.from_url(url, socket_timeout=0.5).ping()
    except redis.RedisError:
        return False


@pytest.fixture
def two_servers(tmp_path, redis_url):
    db = tmp_path / "hall.db"
    extra = ["--message-queue", redis_url, "--backup-at", "off"]
    first = ServerProcess(db, extra=extra).start()
    second = ServerProcess(db, extra=extra).start()
    yield first, second
    first.stop()
    second.stop()


def test_a_call_through_one_process_reaches_a_display_on_the_other(two_servers):
    first, second = two_servers
    for srv in two_servers:
        body = srv.get("/healthz").json()
        assert body["message_queue"] == "redis" and len(body["servers"]) == 2

    calls = []
    display = LiveHall(second.url, token=DISPLAY,
                       on_event=lambda name, p: name == "called" and calls.append(p))
    display.start()
    try:
        display.wait_for_state()
        ticket = first.issue("pay")
        clerk = first.login("1001", "1234", window=1)
        reply = first.post("/api/v1/windows/1/call-next", token=clerk)
        assert reply.status_code == 200, reply.text
        wait_until(lambda: calls, timeout=10)
        assert calls[0]["number"] == ticket["number"] and calls[0]["window"] == 1
        assert display.state["recent_calls"][0]["number"] == ticket["number"]
        # and the display on the second process counts as online, seen from the first
        health = first.get("/healthz").json()
        assert next(d for d in health["devices"]["list"] if d["id"] == "display-1")["online"]
    finally:
        display.stop()


def test_tickets_issued_through_both_processes_at_once_are_never_duplicated(two_servers):
    first, second = two_servers
    issued = []
    display = LiveHall(second.url, token=DISPLAY,
                       on_event=lambda name, p: name == "ticket_issued" and issued.append(p))
    display.start()
    per_process = 40

    def issue_many(srv: ServerProcess) -> list[str]:
        numbers = []
        for _ in range(per_process):
            reply = srv.post("/api/v1/tickets", {"service": "pay"}, token=KIOSK)
            assert reply.status_code == 201, reply.text
            numbers.append(reply.json()["ticket"]["number"])
        return numbers

    try:
        display.wait_for_state()
        with ThreadPoolExecutor(4) as pool:  # two clients on each process
            results = list(pool.map(issue_many, [first, second, first, second]))
        numbers = [n for part in results for n in part]
        assert len(numbers) == len(set(numbers)) == 4 * per_process
        assert sorted(numbers) == [f"A{i:03d}" for i in range(1, 4 * per_process + 1)]
        for part in results:  # each client saw its own numbers rise
            assert part == sorted(part)

        # No lost events: the display on the second process ends with the state both share.
        truth = first.get("/api/v1/state").json()
        wait_until(lambda: display.last_seq == truth["seq"], timeout=10)
        time.sleep(0.5)  # let any late duplicate arrive; it must change nothing
        pay = next(s for s in display.state["services"] if s["id"] == "pay")
        assert pay["waiting"] == 4 * per_process
        assert display.last_seq == truth["seq"]
        # every ticket_issued event, from either process, reached the display (unless it had
        # to fetch the snapshot after a gap, which is how a client recovers a miss)
        if display.resyncs == 0:
            assert sorted(e["number"] for e in issued) == sorted(numbers)
    finally:
        display.stop()
