"""Halls shipping their event logs to the region, all real: two hall servers (server.py with
`[region]` in their config), hallq-region, PostgreSQL. A day's traffic arrives once and in
order and adds up to the halls' own reports; the region stopped and started again; a hall
killed with -9 in the middle of a shipment; a hall restored from an old backup; a region that
does not answer never slows a ticket."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import time
from pathlib import Path

import psycopg
import pytest
from pg_support import RegionProcess
from support import (
    KIOSK,
    ServerProcess,
    evaluator_token,
    free_port,
    page_without_errors,
    wait_until,
)

from hall.config import DEMO_CONFIG
from hall.shipping import shipped_data
from region import db

EXTRA = ["--backup-at", "off"]


@pytest.fixture
def region(region_dsn, tmp_path):
    server = RegionProcess(region_dsn, tmp_path).start()
    yield server
    server.kill()


def hall_server(tmp_path: Path, name: str, url: str, hall_id: str, token: str,
                port: int | None = None) -> ServerProcess:
    """A hall server whose config ships to `url` (the demo hall, with [region] added)."""
    config = tmp_path / f"{name}.toml"
    config.write_text(DEMO_CONFIG.read_text(encoding="utf-8") + (
        f'\n[region]\nurl = "{url}"\nhall_id = "{hall_id}"\ntoken = "{token}"\n'),
        encoding="utf-8")
    (tmp_path / name).mkdir(exist_ok=True)
    return ServerProcess(tmp_path / name / "hall.db", config=config, port=port, extra=EXTRA)


def add_hall(region: RegionProcess, hall_id: str) -> str:
    with db.connect(region.dsn) as conn:
        return db.add_hall(conn, hall_id, f"{hall_id} 营业厅")


def traffic(srv: ServerProcess, tickets: int, rated: int = 2) -> None:
    """A stretch of a day: tickets issued, called, served at window 1, some rated."""
    clerk = srv.login("1001", "1234", window=1)
    for _ in range(tickets):
        srv.issue("pay")
    srv.issue("enquiry")  # one left waiting
    for i in range(tickets):
        for action in ("call-next", "start", "finish"):
            answer = srv.post(f"/api/v1/windows/1/{action}", token=clerk)
            assert answer.status_code == 200, answer.text
        if i < rated:
            answer = srv.post("/api/v1/windows/1/rating", {"score": 5 - i},
                              token=evaluator_token(1))
            assert answer.status_code == 200, answer.text
    srv.post("/api/v1/logout", token=clerk)


def hall_events(srv: ServerProcess) -> list[tuple]:
    with sqlite3.connect(srv.db) as conn:
        return conn.execute("SELECT seq, day, type, window, ticket_id, staff_id, data"
                            " FROM events ORDER BY seq").fetchall()


def region_events(region: RegionProcess, hall_id: str) -> list[tuple]:
    with psycopg.connect(region.dsn) as conn:
        return conn.execute("SELECT seq, day::text, type, window_no, ticket_id, staff_id, data"
                            " FROM events WHERE hall_id = %s ORDER BY seq", [hall_id]).fetchall()


def acked(region: RegionProcess, hall_id: str) -> int:
    with psycopg.connect(region.dsn) as conn:
        return conn.execute("SELECT acked_seq FROM hall_links WHERE hall_id = %s",
                            [hall_id]).fetchone()[0]


def caught_up(region: RegionProcess, hall_id: str, srv: ServerProcess,
              timeout: float = 20) -> None:
    last = srv.get("/api/v1/state").json()["seq"]  # the server's own word for its last seq
    wait_until(lambda: acked(region, hall_id) == last, timeout=timeout, interval=0.1)


def assert_same_log(region: RegionProcess, hall_id: str, srv: ServerProcess) -> None:
    """The region has each of the hall's events once, in order, with only what may leave."""
    theirs = hall_events(srv)
    ours = region_events(region, hall_id)
    assert [e[0] for e in ours] == [e[0] for e in theirs]
    for mine, hall in zip(ours, theirs, strict=True):
        assert mine[:6] == hall[:6]
        assert mine[6] == shipped_data(hall[2], json.loads(hall[6]))


def test_two_halls_ship_a_day_once_and_in_order_and_it_adds_up_to_their_reports(
        region, tmp_path):
    halls = {}
    for name in ("east", "west"):
        srv = hall_server(tmp_path, name, region.url, name, add_hall(region, name)).start()
        halls[name] = srv
    try:
        traffic(halls["east"], 6)
        traffic(halls["west"], 4, rated=1)
        for name, srv in halls.items():
            caught_up(region, name, srv)
            assert_same_log(region, name, srv)
            supervisor = srv.login("9001", "9999")
            today = srv.get("/api/v1/state").json()["hall"]["day"]
            report = srv.get(f"/api/v1/stats?from={today}&to={today}", supervisor).json()
            for service in report["services"]:
                assert_same_figures(region, name, today, service)
            health = srv.get("/healthz").json()["region"]  # from loopback: the details
            assert health["acked_seq"] >= hall_events(srv)[-2][0] and not health["diverged"]
            shown = srv.get("/api/v1/supervisor", supervisor).json()["region_link"]
            assert shown["hall_id"] == name and shown["last_error"] is None  # the dashboard
            wait_until(lambda name=name: live_status(region, name), timeout=10)
            assert live_status(region, name)["services"][0]["id"] == "pay"
    finally:
        for srv in halls.values():
            srv.stop()


def assert_same_figures(region: RegionProcess, hall_id: str, day: str, hall: dict) -> None:
    with psycopg.connect(region.dsn) as conn:
        cur = conn.execute("SELECT * FROM daily_service WHERE hall_id = %s AND day = %s"
                           " AND service_id = %s", [hall_id, day, hall["service"]])
        row = cur.fetchone()
    if row is None:
        assert hall["issued"] == hall["served"] == hall["waited"] == 0, hall
        return
    mine = dict(zip([c.name for c in cur.description], row, strict=True))
    assert (mine["issued"], mine["served"], mine["no_show"], mine["transferred"],
            mine["cancelled"]) == (hall["issued"], hall["served"], hall["no_show"],
                                   hall["transferred"], hall["cancelled"])
    assert (mine["wait_count"], mine["handling_count"], mine["rating_count"]) == \
        (hall["waited"], hall["handled"], hall["rated"])
    assert mine["ratings"][::-1] == [hall[f"rating_{s}"] for s in (5, 4, 3, 2, 1)]
    if mine["wait_count"]:
        assert mine["wait_sum_s"] / mine["wait_count"] / 60 == \
            pytest.approx(hall["wait_mean_min"], abs=0.006)
        assert mine["wait_within_target"] / mine["wait_count"] == \
            pytest.approx(hall["within_target"])
    if mine["handling_count"]:
        assert mine["handling_sum_s"] / mine["handling_count"] / 60 == \
            pytest.approx(hall["handling_mean_min"], abs=0.006)


def live_status(region: RegionProcess, hall_id: str) -> dict | None:
    with psycopg.connect(region.dsn) as conn:
        row = conn.execute("SELECT status FROM hall_status WHERE hall_id = %s",
                           [hall_id]).fetchone()
    return row[0] if row else None


def test_the_region_stopped_for_a_while_gets_everything_once_it_is_back(region, tmp_path):
    srv = hall_server(tmp_path, "north", region.url, "north", add_hall(region, "north")).start()
    try:
        traffic(srv, 2)
        caught_up(region, "north", srv)
        region.stop()
        traffic(srv, 5)  # the region is away: the hall serves on
        wait_until(lambda: srv.get("/healthz").json()["region"]["last_error"], timeout=10)
        region.start()
        caught_up(region, "north", srv, timeout=30)  # within the backoff's next tries
        assert_same_log(region, "north", srv)
        wait_until(lambda: srv.get("/healthz").json()["region"]["last_error"] is None)
    finally:
        srv.stop()


def test_a_hall_killed_in_the_middle_of_a_shipment_loses_and_doubles_nothing(
        region, tmp_path):
    token = add_hall(region, "south")
    srv = hall_server(tmp_path, "south", region.url, "south", token).start()
    try:
        traffic(srv, 3)
        caught_up(region, "south", srv)
        region_signal(region, signal.SIGSTOP)  # the next batch is sent, and hangs at the region
        traffic(srv, 3)
        time.sleep(1.5)  # the shipper has posted (it lingers 0.3 s after an event)
        srv.kill()  # kill -9 of the hall, its batch in flight, its cursor not moved
        region_signal(region, signal.SIGCONT)  # the region commits what it had been sent
        srv.start()  # the hall sends from its cursor again: duplicates, skipped
        traffic(srv, 1)
        caught_up(region, "south", srv, timeout=30)
        assert_same_log(region, "south", srv)
    finally:
        region_signal(region, signal.SIGCONT)
        srv.stop()


def region_signal(region: RegionProcess, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(region.proc.pid, number)


def test_a_hall_restored_from_an_old_backup_is_stopped_and_nothing_is_merged(
        region, tmp_path):
    token = add_hall(region, "old")
    srv = hall_server(tmp_path, "old", region.url, "old", token).start()
    backup = tmp_path / "backup"
    backup.mkdir()
    try:
        traffic(srv, 2)
        caught_up(region, "old", srv)
        srv.stop()  # a nightly backup: the files of a stopped server
        for part in srv.db.parent.glob("hall.db*"):
            shutil.copy2(part, backup / part.name)
        srv.start()
        traffic(srv, 3)
        caught_up(region, "old", srv)
        kept = region_events(region, "old")
        srv.stop()
        for part in srv.db.parent.glob("hall.db*"):  # the restore
            part.unlink()
        for part in backup.iterdir():
            shutil.copy2(part, srv.db.parent / part.name)
        srv.start()
        traffic(srv, 1)  # new events under numbers the region has for others
        wait_until(lambda: srv.get("/healthz").json()["region"]["diverged"], timeout=15)
        assert region_events(region, "old") == kept  # nothing merged
        with psycopg.connect(region.dsn) as conn:
            diverged = conn.execute("SELECT diverged_at_seq, diverged_detail FROM hall_links"
                                    " WHERE hall_id = 'old'").fetchone()
        assert diverged[0] is not None and "went back" in diverged[1]

        decided = region.cli("accept-restore", "old")
        assert decided.returncode == 0, decided.stderr
        traffic(srv, 4)  # past the numbers the region kept
        kept_through = kept[-1][0]
        last = srv.get("/api/v1/state").json()["seq"]
        wait_until(lambda: acked(region, "old") == max(last, kept_through), timeout=20)
        mine = region_events(region, "old")
        assert mine[:len(kept)] == kept  # the region's own history stays
        theirs = {e[0]: e for e in hall_events(srv)}
        for seq, *_ in mine[len(kept):]:  # and the hall's, past it
            assert seq > kept_through and seq in theirs
        assert srv.get("/healthz").json()["region"]["diverged"] is None
    finally:
        srv.stop()


def test_a_region_that_does_not_answer_never_slows_a_ticket(region, tmp_path):
    """Issue latency of a hall whose shipper is stuck on a black-holed region (connections
    accepted by the kernel, never answered) against a hall shipping to a region that answers,
    both running at once and asked in turn, so the machine's swings hit both alike."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", free_port()))
    hole.listen(64)  # never accepted, never answered
    black_holed = f"http://127.0.0.1:{hole.getsockname()[1]}"
    token = add_hall(region, "wan")
    halls = {"answering": hall_server(tmp_path, "wan-a", region.url, "wan", token),
             "black-holed": hall_server(tmp_path, "wan-b", black_holed, "wan", token)}
    timings: dict[str, list[float]] = {name: [] for name in halls}
    try:
        for srv in halls.values():
            srv.start()
            for _ in range(5):  # warm
                srv.issue("pay")
        for _ in range(40):
            for name, srv in halls.items():
                timings[name].append(issue_seconds(srv))
        stuck = halls["black-holed"].get("/healthz").json()["region"]
        assert stuck["last_ack_at"] is None  # it never got through, and never slowed a ticket
        slow, fast = (statistics.median(timings[k]) for k in ("black-holed", "answering"))
        assert slow < fast * 1.5 + 0.003, timings
    finally:
        for srv in halls.values():
            srv.stop()
        hole.close()


def issue_seconds(srv: ServerProcess) -> float:
    started = time.perf_counter()
    answer = srv.post("/api/v1/tickets", {"service": "pay"}, token=KIOSK)
    assert answer.status_code == 201
    return time.perf_counter() - started


@pytest.mark.browser
def test_the_dashboard_shows_the_region_link_and_its_failure(browser, tmp_path, artifacts):
    unreachable = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    srv = hall_server(tmp_path, "dash", unreachable, "dash", "t" * 43).start()
    try:
        with page_without_errors(browser, 1400, 1000) as page:
            page.goto(srv.url + "/dashboard")
            page.fill("#login input[name=staff_id]", "9001")
            page.fill("#login input[name=pin]", "9999")
            page.click("#login button[type=submit]")
            link = page.locator("#region-link")
            link.locator("text=not reached").wait_for(timeout=20000)
            assert "区域上报 · Region link" in link.inner_text()
            page.screenshot(path=str(artifacts / "dashboard-region-link.png"), full_page=True)
    finally:
        srv.stop()
