"""Logins and sessions probed as an attacker on the hall LAN would: one laptop, no token, many
threads; the real server in its own process on loopback. A second source address in
127.0.0.0/8 stands for the clerk's own counter (all of it is loopback on Linux)."""

from __future__ import annotations

import http.client
import json
import sqlite3
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import socketio
from support import KIOSK, ServerProcess, wait_until

from hall import auth

ATTACKER, CLERK, BOSS = "127.0.0.1", "127.0.0.2", "127.0.0.3"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = ServerProcess(tmp_path_factory.mktemp("hostile") / "hall.db").start()
    yield srv
    srv.stop()


@pytest.fixture
def fresh(tmp_path):
    srv = ServerProcess(tmp_path / "hall.db").start()
    yield srv
    srv.stop()


def post(srv: ServerProcess, path: str, body: dict, source: str = ATTACKER,
         token: str | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30,
                                      source_address=(source, 0))
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request("POST", path, json.dumps(body), headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def login(srv: ServerProcess, staff_id: str, pin: str, window: int | None = None,
          source: str = ATTACKER) -> tuple[int, dict]:
    return post(srv, "/api/v1/login", {"staff_id": staff_id, "pin": pin, "window": window},
                source)


def code(answer: tuple[int, dict]) -> str:
    status, body = answer
    return "ok" if status == 200 else body["error"]["code"]


def test_parallel_guessing_at_the_supervisor_checks_no_more_than_five_pins(fresh):
    pins = [f"{n:04d}" for n in range(200) if n != 9999]
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda pin: code(login(fresh, "9001", pin)), pins))
    assert codes.count("unauthorized") <= auth.MAX_PIN_FAILURES, codes
    assert "ok" not in codes
    assert set(codes) <= {"unauthorized", "locked", "too_many_attempts", "busy"}
    assert code(login(fresh, "9001", "9999")) == "locked"  # the right PIN waits too
    assert code(login(fresh, "9001", "9999", source=BOSS)) == "ok"  # but only for the laptop


def test_parallel_guessing_across_many_ids_checks_ten_pins_a_minute(fresh):
    tries = [(f"{1000 + n % 60}", f"{n:04d}") for n in range(240)]
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda t: code(login(fresh, t[0], t[1], 1)), tries))
    assert set(codes) <= {"unauthorized", "locked", "too_many_attempts", "busy"}
    # most were turned away `busy`; whatever the burst left of the allowance, no more
    codes += [code(login(fresh, f"{1100 + n}", "0001", 1)) for n in range(12)]
    assert codes.count("unauthorized") <= auth.MAX_ADDRESS_FAILURES
    assert codes[-1] == "too_many_attempts"
    status, body = login(fresh, "1001", "1234", 1)
    assert status == 429 and 1 <= body["error"]["retry_after"] <= 60


def test_guessing_from_many_addresses_checks_twenty_pins_of_an_id(fresh):
    assert code(login(fresh, "9001", "9999", source=BOSS)) == "ok"  # the boss's own desk
    tries = [(f"{n:04d}", f"127.0.4.{n % 100 + 1}") for n in range(300)]
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda t: code(login(fresh, "9001", t[0], source=t[1])), tries))
    codes += [code(login(fresh, "9001", "0001", source=f"127.0.5.{n + 1}")) for n in range(30)]
    assert codes.count("unauthorized") <= auth.MAX_ID_FAILURES and "ok" not in codes
    assert codes[-1] == "locked"
    assert code(login(fresh, "9001", "9999", source="127.0.5.99")) == "locked"
    assert code(login(fresh, "9001", "9999", source=BOSS)) == "ok"


def test_locking_out_a_clerk_from_another_address_does_not_lock_her_out(server):
    for _ in range(20):
        assert code(login(server, "1002", "0000", 2)) in {"unauthorized", "locked"}
    assert code(login(server, "1002", "0000", 2)) == "locked"
    status, body = login(server, "1002", "2345", 2, source=CLERK)
    assert status == 200 and body["staff"]["id"] == "1002"


def test_the_supervisor_sees_the_lockout_and_lifts_it_over_the_wire(server):
    laptop = "127.0.0.4"
    for _ in range(auth.MAX_PIN_FAILURES):
        login(server, "1003", "0000", 3, source=laptop)
    assert code(login(server, "1003", "3456", 3, source=laptop)) == "locked"
    sup = login(server, "9001", "9999", source=BOSS)[1]["token"]
    lockouts = server.get("/api/v1/supervisor", token=sup).json()["lockouts"]
    assert {"staff_id": "1003", "address": laptop} in [
        {k: x[k] for k in ("staff_id", "address")} for x in lockouts]
    status, body = post(server, "/api/v1/lockouts/unlock",
                        {"staff_id": "1003", "address": laptop}, BOSS, token=sup)
    assert status == 200, body
    assert all(x["staff_id"] != "1003" for x in body["lockouts"])
    assert code(login(server, "1003", "3456", 3, source=laptop)) == "ok"


def test_an_unknown_id_and_a_wrong_pin_answer_alike_in_about_the_same_time(fresh):
    times: dict[str, list[float]] = {"unknown": [], "wrong": [], "no window": []}
    bodies = set()
    kinds = [("unknown", "7777", 1), ("wrong", "1001", 1), ("no window", "1002", None)]
    for n in range(12):
        source = f"127.0.1.{n + 1}"
        # in turn first: an address's first attempt writes its rows, the later ones update
        for kind, staff_id, window in kinds[n % 3:] + kinds[:n % 3]:
            started = time.perf_counter()
            status, body = login(fresh, staff_id, "0001", window, source=source)
            times[kind].append(time.perf_counter() - started)
            bodies.add((status, json.dumps(body, sort_keys=True)))
    assert len(bodies) == 1 and next(iter(bodies))[0] == 401
    medians = {kind: statistics.median(t) for kind, t in times.items()}
    print("login medians: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in medians.items()))
    fastest, slowest = min(medians.values()), max(medians.values())
    assert slowest - fastest < max(0.010, 0.5 * fastest), medians


def test_over_long_fields_are_refused_and_write_nothing(fresh):
    for body in ({"staff_id": "x" * 2_000_000, "pin": "1234", "window": 1},
                 {"staff_id": "1001", "pin": "1" * 13, "window": 1},
                 {"staff_id": "1001", "pin": "１２３４", "window": 1}):
        status, answer = post(fresh, "/api/v1/login", body)
        assert status in (400, 413), answer
    db = sqlite3.connect(fresh.db)
    assert db.execute("SELECT count(*) FROM login_failures").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM events WHERE length(staff_id) > 32").fetchone()[0] == 0


# -- sessions --------------------------------------------------------------------------------
def clerk_socket(srv: ServerProcess, token: str) -> socketio.Client:
    client = socketio.Client(reconnection=False)
    client.connect(srv.url, auth={"token": token}, transports=["websocket"])
    return client


def refused_or_dropped(client: socketio.Client, command: dict) -> bool:
    """The socket was disconnected by the server, or its command answered 401."""
    if not client.connected:
        return True
    try:
        answer = client.call("command", command, timeout=5)
    except (socketio.exceptions.BadNamespaceError, socketio.exceptions.TimeoutError,
            socketio.exceptions.DisconnectedError):
        return not client.connected
    return answer["status"] == 401 and answer["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("ending", ["logout", "disable", "reset-pin"])
def test_a_revoked_socket_can_no_longer_call_or_finish(fresh, ending):
    admin = fresh.login("9000", "0000")
    token = fresh.login("1004", "4567", 4)
    client = clerk_socket(fresh, token)
    try:
        fresh.issue("pay")
        answer = client.call("command", {"name": "call-next", "window": 4}, timeout=5)
        assert answer["status"] == 200, answer
        fresh.issue("pay")
        if ending == "logout":
            assert fresh.post("/api/v1/logout", token=token).status_code == 200
        else:
            assert fresh.post(f"/api/v1/staff/1004/{ending}", {"pin": "1111"},
                              token=admin).status_code == 200
        wait_until(lambda: not client.connected, timeout=5)  # the server dropped it
        assert refused_or_dropped(client, {"name": "finish", "window": 4})
    finally:
        client.disconnect()
    window = fresh.get("/api/v1/state").json()["windows"][3]
    assert window["ticket"]["number"] == "A001" and window["ticket"]["status"] == "called"
    assert fresh.get("/api/v1/me", token=token).status_code == 401
    with pytest.raises(socketio.exceptions.ConnectionError):
        clerk_socket(fresh, token)


def test_an_expired_session_is_refused_by_the_next_socket_command(fresh):
    token = fresh.login("1005", "5678", 5)
    client = clerk_socket(fresh, token)
    try:
        fresh.issue("pay")
        with sqlite3.connect(fresh.db) as db:  # the hall day ended (as a clock would say)
            db.execute("UPDATE sessions SET expires_at = 0 WHERE staff_id = '1005'")
        answer = client.call("command", {"name": "call-next", "window": 5}, timeout=5)
        assert answer["status"] == 401 and answer["error"]["code"] == "unauthorized"
    finally:
        client.disconnect()
    assert fresh.get("/api/v1/state").json()["services"][0]["waiting"] == 1
    assert fresh.get("/api/v1/me", token=token).status_code == 401


# -- memory ------------------------------------------------------------------------------------
def _tree(pid: int) -> list[int]:
    """The server's process and its children (a pre-forking server has a few)."""
    pids, children = [pid], {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    for p in pids:
        pids.extend(children.get(p, []))
    return pids


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def rss_mb(srv: ServerProcess, key: str = "VmRSS") -> float:
    return sum(_status_kb(pid, key) for pid in _tree(srv.proc.pid)) / 1024


def test_200_parallel_logins_keep_memory_bounded(fresh):
    before = rss_mb(fresh)
    tries = [(f"{1000 + n % 7}", f"{n:04d}", f"127.0.2.{n % 200 + 1}") for n in range(200)]
    with ThreadPoolExecutor(200) as pool:
        codes = list(pool.map(lambda t: code(login(fresh, t[0], t[1], 1, source=t[2])), tries))
    peak = rss_mb(fresh, "VmHWM")
    time.sleep(1)
    after = rss_mb(fresh)
    print(f"RSS before {before:.0f} MB, peak {peak:.0f} MB, after {after:.0f} MB; "
          f"answers {sorted((c, codes.count(c)) for c in set(codes))}")
    assert set(codes) <= {"unauthorized", "busy", "ok"}
    assert codes.count("busy") > 0  # the rest were turned away, not queued
    assert peak < 200 and after < 128


def test_a_busy_server_still_logs_in_when_the_burst_is_over(fresh):
    with ThreadPoolExecutor(64) as pool:
        list(pool.map(lambda n: login(fresh, "7777", "1111", 1, source=f"127.0.3.{n + 1}"),
                      range(64)))
    status, body = login(fresh, "1006", "6789", 6, source=CLERK)
    assert status == 200, body
    assert fresh.post("/api/v1/tickets", {"service": "pay"}, token=KIOSK).status_code == 201
