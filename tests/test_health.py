"""GET /healthz, device heartbeats, device presence across server processes, and the systemd
notify/watchdog protocol, against the real server on loopback."""

from __future__ import annotations

import socket
import sys
import threading
import time

import pytest
from support import DISPLAY, KIOSK, ROOT, ServerProcess, migrated, wait_until

import client.live
from client.live import LiveHall
from hall.store import Store
from web import watchdog
from web.app import create_app


def device(health: dict, device_id: str) -> dict:
    return next(d for d in health["devices"]["list"] if d["id"] == device_id)


def test_healthz_reports_db_uptime_and_devices(server):
    body = server.get("/healthz").json()
    assert body["ok"] is True
    assert body["db"]["writable"] is True and body["db"]["size_bytes"] > 0
    assert body["uptime_s"] >= 0
    assert body["devices"]["total"] == 14 and body["devices"]["online"] == 0
    assert [s["this"] for s in body["servers"]] == [True]
    assert body["message_queue"] is None
    # the first start takes one at once, in the backup thread while the server answers
    last = wait_until(lambda: server.get("/healthz").json()["backup"]["last"])
    assert last.startswith("hall-")

    display = LiveHall(server.url, token=DISPLAY)
    display.start()
    try:
        display.wait_for_state()
        body = wait_until(lambda: (b := server.get("/healthz").json())["devices"]["online"] == 1
                          and b)
        assert device(body, "display-1")["online"] is True
        assert device(body, "display-1")["last_seen"] is not None
        assert "display-1" not in body["devices"]["offline"]
    finally:
        display.stop()
    wait_until(lambda: server.get("/healthz").json()["devices"]["online"] == 0)


def test_heartbeat_over_http_updates_last_seen(server):
    assert device(server.get("/healthz").json(), "kiosk-1")["last_seen"] is None
    reply = server.post("/api/v1/devices/heartbeat", token=KIOSK)
    assert reply.status_code == 200 and reply.json()["device"] == "kiosk-1"
    assert device(server.get("/healthz").json(), "kiosk-1")["last_seen"] == reply.json()["now"]
    assert server.post("/api/v1/devices/heartbeat", token="nope").status_code == 401


def test_live_hall_sends_heartbeats_while_connected(server, monkeypatch):
    monkeypatch.setattr(client.live, "HEARTBEAT_SECONDS", 0.2)
    beats = []
    display = LiveHall(server.url, token=DISPLAY)
    real_command = display.command
    display.command = lambda name, **body: beats.append(name) or real_command(name, **body)
    display.start()
    try:
        display.wait_for_state()
        first = device(server.get("/healthz").json(), "display-1")["last_seen"]
        # last_seen has whole seconds: a later heartbeat shows as a later time
        wait_until(lambda: device(server.get("/healthz").json(), "display-1")["last_seen"]
                   > first, timeout=10)
        assert set(beats) == {"heartbeat"}
    finally:
        display.stop()


def test_healthz_is_503_when_the_database_cannot_be_written(tmp_path, demo_config):
    from hall.hall import Hall

    hall = Hall(demo_config, Store(migrated(tmp_path / "hall.db")))
    app, _ = create_app(hall)
    client_ = app.test_client()
    assert client_.get("/healthz").status_code == 200
    hall.store.db.execute("PRAGMA busy_timeout = 100")  # this thread's connection
    blocker = Store(tmp_path / "hall.db").db.conn
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock and hangs
    try:
        reply = client_.get("/healthz")
    finally:
        blocker.execute("ROLLBACK")
    assert reply.status_code == 503
    assert reply.json["ok"] is False and reply.json["db"]["writable"] is False
    assert "locked" in reply.json["db"]["error"]
    assert client_.get("/healthz").status_code == 200


def test_a_second_server_process_does_not_zero_the_first_ones_devices(tmp_path):
    db = tmp_path / "hall.db"
    first = ServerProcess(db).start()
    second = None
    display = LiveHall(first.url, token=DISPLAY)
    try:
        display.start()
        display.wait_for_state()
        second = ServerProcess(db).start()
        body = second.get("/healthz").json()
        assert device(body, "display-1")["online"] is True
        assert len(body["servers"]) == 2 and body["servers"][0]["this"]
        # The first process dies without a word: the second finds its pid gone and stops
        # counting its connections (at its next beat, every few seconds).
        first.kill()
        wait_until(lambda: not device(second.get("/healthz").json(), "display-1")["online"],
                   timeout=15)
        assert len(second.get("/healthz").json()["servers"]) == 1
    finally:
        display.stop()
        first.stop()
        if second:
            second.stop()


# -- systemd's notify protocol ----------------------------------------------------------------
@pytest.fixture
def notify_socket(tmp_path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(20)
    yield path, sock
    sock.close()


def test_server_tells_systemd_ready_then_pets_the_watchdog(tmp_path, notify_socket, monkeypatch):
    path, sock = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")  # pets every 0.5 s
    srv = ServerProcess(tmp_path / "hall.db").start()
    try:
        messages = [sock.recv(256).decode() for _ in range(3)]
    finally:
        srv.stop()
    # READY from the worker once /healthz answers, not gunicorn's master when it has bound
    assert messages[0].splitlines() == ["READY=1", "STATUS=serving"]
    assert messages[1:] == ["WATCHDOG=1", "WATCHDOG=1"]


def test_no_pet_while_unhealthy(notify_socket):
    path, sock = notify_socket
    healthy = threading.Event()

    def check() -> str | None:
        return None if healthy.is_set() else "database is locked"

    stop = threading.Event()
    healthy.set()
    env = {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "200000"}
    watchdog.start(check, environ=env, stop=stop)
    try:
        assert sock.recv(256).decode().startswith("READY=1")
        assert sock.recv(256) == b"WATCHDOG=1"
        healthy.clear()
        while (message := sock.recv(256).decode()) == "WATCHDOG=1":
            pass  # pets sent before the check turned bad
        assert message == "STATUS=unhealthy: database is locked"
        assert sock.recv(256).decode().startswith("STATUS=unhealthy")  # still no pet
        healthy.set()
        while (message := sock.recv(256).decode()) != "WATCHDOG=1":
            assert message.startswith("STATUS=unhealthy")
    finally:
        stop.set()


def test_sd_notify_speaks_to_abstract_sockets_and_is_quiet_outside_systemd():
    name = f"hallq-test-{threading.get_ident()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert watchdog.sd_notify("READY=1", {"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(64) == b"READY=1"
    assert watchdog.sd_notify("READY=1", {}) is False
    assert watchdog.start(lambda: None, environ={}) is None
    assert watchdog.watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15
    assert watchdog.watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None


def test_presence_sums_processes_and_forgets_a_silent_one(hall, tmp_path):
    from hall import presence as pr

    now = [1000.0]
    other = pr.Presence(hall.store, clock=lambda: now[0])  # a second "process" on the file
    other.host = "another-pi"  # its pid cannot be checked from here: only its beats count

    def connected() -> int:
        return hall.store.db.execute(
            "SELECT connected FROM devices WHERE id = 'display-1'").fetchone()[0]

    hall.presence.change("display-1", +1, 1.0)
    other.change("display-1", +1, 2.0)
    other.change("display-1", +1, 3.0)
    assert connected() == 3
    other.change("display-1", -1, 4.0)
    hall.presence.change("display-1", -1, 5.0)
    assert connected() == 1
    assert hall.presence.seen("display-1", 6.0) and not hall.presence.seen("nobody", 6.0)

    # `other` stops beating (its host lost power): after STALE_SECONDS it no longer counts
    hall.store.db.execute("UPDATE server_instances SET host = 'another-pi', last_beat = 0"
                          " WHERE id = ?", [other.instance])
    hall.presence.beat(force=True)
    assert connected() == 0
    assert [i["id"] for i in hall.presence.instances()] == [hall.presence.instance]
    # it comes back (a long stall, not a death): its own connections are counted again
    now[0] = time.time()
    other.beat(force=True)
    assert connected() == 1


def test_presence_and_heartbeats_do_not_wait_for_the_disk_and_tickets_do(tmp_path):
    """On an SD card each fsync holds the hall's one writer ~10 ms: a device connecting,
    beating or leaving must not make one (tickets would queue behind it), a ticket must."""
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_pi  # its fsync shim counts the server's fsyncs

    if bench_pi.compiler() is None:
        pytest.skip("no C compiler for the fsync counter")
    delay = bench_pi.FsyncDelay()
    delay.prepare("preload", tmp_path)
    log = tmp_path / "fsyncs"
    server = ServerProcess(tmp_path / "hall.db", wrapper=delay.wrap([], log)).start()
    try:
        wait_until(lambda: server.get("/healthz").json()["backup"]["last"])  # syncs its copy
        before = delay.count(log)
        display = LiveHall(server.url, token=DISPLAY)
        display.start()
        display.wait_for_state()
        assert display.command("heartbeat")["device"] == "display-1"
        assert server.post("/api/v1/devices/heartbeat", token=KIOSK).status_code == 200
        display.stop()
        wait_until(lambda: server.get("/healthz").json()["devices"]["online"] == 0)
        assert delay.count(log) == before
        server.issue("pay")
        assert delay.count(log) >= before + 1
    finally:
        server.stop()


def test_a_write_that_need_not_wait_leaves_the_next_one_durable(tmp_path):
    store = Store(migrated(tmp_path / "hall.db"))
    with store.write(durable=False) as db:
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    with pytest.raises(RuntimeError), store.write(durable=False):
        raise RuntimeError("a write that fails halfway")
    with store.write() as db:  # the same pooled connection
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
