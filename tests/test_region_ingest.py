"""POST /api/ingest on a real hallq-region and a real PostgreSQL, batches written by hand:
auth, malformed batches, duplicates, gaps, a hall database that went back, the aggregates."""

from __future__ import annotations

import itertools
import json
import time
from datetime import datetime

import psycopg
import pytest
from pg_support import RegionProcess
from support import SHANGHAI, wait_until

from region import db

_halls = itertools.count(1)


@pytest.fixture(scope="module")
def region(postgres, tmp_path_factory):
    server = RegionProcess(postgres.fresh_database(), tmp_path_factory.mktemp("region"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def hall(region):
    """A new hall of the region: (its id, its token)."""
    hall_id = f"hall-{next(_halls)}"
    with db.connect(region.dsn) as conn:
        return hall_id, db.add_hall(conn, hall_id, f"{hall_id} 营业厅")


def at(clock: str) -> float:
    return datetime.fromisoformat(f"2026-11-23 {clock}").replace(tzinfo=SHANGHAI).timestamp()


class Log:
    """A hall's event log, written by hand."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.tickets = itertools.count(1)

    def add(self, type_: str, clock: str, ticket_id: int | None = None,
            window: int | None = None, **data) -> dict:
        event = {"seq": len(self.events) + 1, "at": at(clock), "day": "2026-11-23",
                 "type": type_, "window": window, "ticket_id": ticket_id,
                 "staff_id": "1001" if window else None, "data": data}
        self.events.append(event)
        return event

    def served(self, number: str, issued: str, called: str, finished: str,
               service: str = "pay", estimate: float | None = 10, score: int | None = 5,
               window: int = 1) -> int:
        tid = next(self.tickets)
        self.add("issue", issued, tid, number=number, service=service, priority="normal",
                 estimated_wait_min=estimate)
        self.add("call", called, tid, window, number=number, service=service, recalls=0)
        self.add("start", called, tid, window, number=number, service=service)
        handled = at(finished) - at(called)
        self.add("finish", finished, tid, window, number=number, service=service,
                 handling_s=handled, waited_s=at(called) - at(issued))
        if score:
            self.add("rate", finished, tid, window, number=number, score=score)
        return tid


def batch(hall_id: str, events: list[dict], **extra) -> dict:
    return {"hall_id": hall_id, "epoch": "epoch-1", "events": events,
            "services": [{"id": "pay", "name": {"zh": "缴费", "en": "Payment"},
                          "target_wait_minutes": 20}], **extra}


def stored(region, hall_id: str) -> list[tuple]:
    with psycopg.connect(region.dsn) as conn:
        return conn.execute("SELECT seq, type, ticket_id FROM events WHERE hall_id = %s"
                            " ORDER BY seq", [hall_id]).fetchall()


def daily(region, hall_id: str) -> dict:
    with psycopg.connect(region.dsn) as conn:
        cur = conn.execute("SELECT * FROM daily_service WHERE hall_id = %s AND service_id ="
                           " 'pay'", [hall_id])
        row = cur.fetchone()
        return dict(zip([c.name for c in cur.description], row, strict=True)) if row else {}


def link(region, hall_id: str) -> dict:
    with psycopg.connect(region.dsn) as conn:
        cur = conn.execute("SELECT * FROM hall_links WHERE hall_id = %s", [hall_id])
        return dict(zip([c.name for c in cur.description], cur.fetchone(), strict=True))


def test_a_batch_is_stored_once_with_its_figures_and_a_resent_one_changes_nothing(region, hall):
    hall_id, token = hall
    log = Log()
    log.served("A001", "09:00", "09:12", "09:16")  # waited 12 min, promised 10: within
    log.served("A002", "09:01", "09:31", "09:40", score=3)  # 30 min: past the 20 min target
    log.add("away", "09:41", window=2)
    log.add("back", "09:47", window=2, away_minutes=6.0)
    answer = region.post("/api/ingest", batch(hall_id, log.events, backlog=0), token)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"acked": len(log.events)}
    assert [s for s, _, _ in stored(region, hall_id)] == list(range(1, len(log.events) + 1))

    figures = daily(region, hall_id)
    assert (figures["issued"], figures["served"], figures["wait_count"]) == (2, 2, 2)
    assert figures["wait_sum_s"] == pytest.approx(42 * 60)
    assert figures["wait_within_target"] == 1
    assert figures["wait_hist"][12] == 1 and figures["wait_hist"][30] == 1
    assert figures["handling_count"] == 2
    assert figures["handling_sum_s"] == pytest.approx(13 * 60)
    assert (figures["rating_count"], figures["rating_sum"]) == (2, 8)
    assert figures["ratings"] == [0, 0, 1, 0, 1]
    assert (figures["estimate_count"], figures["estimate_within"]) == (2, 1)
    assert figures["estimate_err_sum_s"] == pytest.approx((10 - 12 + 10 - 30) * 60)
    with psycopg.connect(region.dsn) as conn:
        away = conn.execute("SELECT away_count, away_sum_s FROM daily_hall WHERE hall_id = %s",
                            [hall_id]).fetchone()
    assert away == (1, pytest.approx(360))

    # the answer was lost: the hall sends the same batch again, and a part of it
    again = region.post("/api/ingest", batch(hall_id, log.events), token)
    assert again.status_code == 200 and again.json() == {"acked": len(log.events)}
    part = region.post("/api/ingest", batch(hall_id, log.events[3:7]), token)
    assert part.json() == {"acked": len(log.events)}
    assert daily(region, hall_id) == figures
    assert len(stored(region, hall_id)) == len(log.events)


def test_a_batch_past_the_last_acknowledged_is_refused_with_where_to_start(region, hall):
    hall_id, token = hall
    log = Log()
    for i in range(6):
        log.served(f"A{i + 1:03d}", "10:00", "10:05", "10:09", score=None)
    first, later = log.events[:8], log.events[12:]
    assert region.post("/api/ingest", batch(hall_id, first), token).json() == {"acked": 8}
    gap = region.post("/api/ingest", batch(hall_id, later), token)
    assert gap.status_code == 409
    assert gap.json()["error"]["code"] == "gap" and gap.json()["expected"] == 9
    assert len(stored(region, hall_id)) == 8
    # reordered: the later part first, then the rest, then the later part again
    assert region.post("/api/ingest", batch(hall_id, log.events[8:12]), token).json() == \
        {"acked": 12}
    assert region.post("/api/ingest", batch(hall_id, later), token).json() == \
        {"acked": len(log.events)}
    assert [s for s, _, _ in stored(region, hall_id)] == list(range(1, len(log.events) + 1))
    assert daily(region, hall_id)["served"] == 6
    # a hole in the hall's own numbering is no gap when the hall says what the events follow
    hole = dict(log.events[-1], seq=len(log.events) + 3, type="open", ticket_id=None, data={})
    taken = region.post("/api/ingest", batch(hall_id, [hole], after=len(log.events)), token)
    assert taken.json() == {"acked": len(log.events) + 3}


def test_a_hall_whose_log_went_back_is_refused_until_an_administrator_decides(region, hall):
    hall_id, token = hall
    log = Log()
    for i in range(4):
        log.served(f"A{i + 1:03d}", "11:00", "11:05", "11:09", score=None)
    region.post("/api/ingest", batch(hall_id, log.events), token)  # 16 events
    kept = daily(region, hall_id)

    restored = Log()  # the hall's backup had the first 8; after it, other things happened
    restored.events = [dict(e) for e in log.events[:8]]
    restored.tickets = itertools.count(3)
    restored.served("A003", "11:30", "11:31", "11:35", score=None)
    restored.served("A004", "11:32", "11:40", "11:45", score=None)
    restored.served("A005", "11:33", "11:50", "11:55", score=None)  # seq 17..20: new
    refused = region.post("/api/ingest", batch(hall_id, restored.events[6:]), token)
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["error"]["code"] == "diverged" and body["diverged_at_seq"] == 9
    assert "accept-restore" in body["error"]["message"]
    assert len(stored(region, hall_id)) == 16 and daily(region, hall_id) == kept
    assert link(region, hall_id)["diverged_at_seq"] == 9
    # still refused, whatever comes, until the decision
    assert region.post("/api/ingest", batch(hall_id, restored.events[16:]),
                       token).status_code == 409

    decided = region.cli("accept-restore", hall_id)
    assert decided.returncode == 0, decided.stderr
    taken = region.post("/api/ingest", batch(hall_id, restored.events[6:]), token)
    assert taken.status_code == 200 and taken.json() == {"acked": 20}
    with psycopg.connect(region.dsn) as conn:  # the region's own seq 9 is kept
        nine = conn.execute("SELECT extract(epoch FROM at)::float8 FROM events"
                            " WHERE hall_id = %s AND seq = 9", [hall_id]).fetchone()[0]
    assert nine == pytest.approx(at("11:00"))
    assert [s for s, _, _ in stored(region, hall_id)] == list(range(1, 21))
    assert link(region, hall_id)["diverged_at_seq"] is None


@pytest.mark.parametrize(("change", "named"), [
    (lambda b: b.update(events="x"), "events"),
    (lambda b: b["events"][1].update(seq=1), "events[1].seq"),
    (lambda b: b["events"][0].update(at="09:00"), "events[0].at"),
    (lambda b: b["events"][0].update(day="2026-13-01"), "events[0].day"),
    (lambda b: b["events"][0].update(type="Issue!"), "events[0].type"),
    (lambda b: b["events"][0].update(window=-1), "events[0].window"),
    (lambda b: b["events"][0].update(staff_id="x" * 33), "events[0].staff_id"),
    (lambda b: b["events"][0].update(color="red"), "events[0].color"),
    (lambda b: b["events"][0]["data"].update(number="A\x00"), "U+0000"),
    (lambda b: b["events"][0]["data"].update(number=[[[[[[[[[1]]]]]]]]]), "nested"),
    (lambda b: b["events"][0]["data"].update(number="\ud800"), "lone surrogate"),
    (lambda b: b["events"][0]["data"].update(number="__1e400__"), "finite"),
    (lambda b: b["events"][0]["data"].update(number="__NaN__"), "not valid JSON"),
    (lambda b: b["events"][0].update(staff_id="\ud800"), "events[0].staff_id"),
    (lambda b: b.update(events=b["events"] * 1001), "at most 2000"),
    (lambda b: b["services"][0].update(target_wait_minutes=0), "target_wait_minutes"),
    (lambda b: b.update(epoch=""), "epoch"),
    (lambda b: b.update(colour=1), "colour"),
])
def test_a_malformed_batch_is_refused_naming_the_problem_and_stores_nothing(
        region, hall, change, named):
    hall_id, token = hall
    log = Log()
    log.served("A001", "09:00", "09:12", "09:16")
    body = batch(hall_id, log.events)
    change(body)
    text = json.dumps(body).replace('"__1e400__"', "1e400").replace('"__NaN__"', "NaN")
    answer = region.post("/api/ingest", None, token, data=text,
                         headers={"Content-Type": "application/json",
                                  "Authorization": f"Bearer {token}"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "bad_request"
    assert named in answer.json()["error"]["message"]
    assert stored(region, hall_id) == [] and daily(region, hall_id) == {}
    assert link(region, hall_id)["acked_seq"] == 0


def test_wrong_tokens_and_foreign_halls_are_refused_and_change_nothing(region, hall):
    hall_id, token = hall
    with db.connect(region.dsn) as conn:
        other_token = db.add_hall(conn, f"{hall_id}-other", "另一个厅")
    log = Log()
    log.served("A001", "09:00", "09:12", "09:16")
    body = batch(hall_id, log.events)
    assert region.post("/api/ingest", body).status_code == 401
    wrong = region.post("/api/ingest", body, token + "x")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"
    foreign = region.post("/api/ingest", body, other_token)
    assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "forbidden"
    big = region.post("/api/ingest", {"x": "y" * (2 * 1024 * 1024)}, token)
    assert big.status_code == 413 and big.json()["error"]["code"] == "too_large"
    assert stored(region, hall_id) == [] and stored(region, f"{hall_id}-other") == []


def test_each_batch_reaches_a_live_viewer_of_its_hall_at_once(region, hall):
    import socketio

    hall_id, token = hall
    updates: list[tuple[float, dict]] = []
    viewer = socketio.Client()
    viewer.on("hall", lambda message: updates.append((time.time(), message)))
    viewer.connect(region.url, auth={"token": region.viewer_token(), "halls": [hall_id]},
                   transports=["websocket"])
    try:
        log = Log()
        log.served("A001", "09:00", "09:12", "09:16")
        status = {"waiting": 3, "longest_wait_min": 7}
        assert region.post("/api/ingest", batch(hall_id, log.events, status=status, backlog=0),
                           token).status_code == 200
        wait_until(lambda: updates, timeout=10)  # how soon: bench_region.py prints it
        _, message = updates[0]
        assert message["hall_id"] == hall_id and message["status"] == status
        assert message["link"]["acked_seq"] == len(log.events)
        assert message["link"]["backlog"] == 0 and message["link"]["diverged"] is False
    finally:
        viewer.disconnect()


def test_the_day_end_expiry_counts_each_ticket_for_its_service_however_long_its_list(
        region, hall):
    hall_id, token = hall
    log = Log()
    for i in range(3):
        log.add("issue", "16:40", i + 1, number=f"A{i + 1:03d}", service="pay")
    day_list = [["2026-11-23", f"A{i + 1:03d}"] for i in range(3)]
    day_list += [["2026-11-23", f"Z{i:04d}"] for i in range(5000)]  # unknown to the region
    log.add("expire", "23:59", reason="day_end", count=len(day_list), tickets=day_list)
    answer = region.post("/api/ingest", batch(hall_id, log.events), token)
    assert answer.status_code == 200, answer.text
    assert (daily(region, hall_id)["issued"], daily(region, hall_id)["expired"]) == (3, 3)


def test_ingest_forgets_the_tickets_of_days_long_past_when_a_new_day_begins(region, hall):
    hall_id, token = hall
    log = Log()
    log.served("A001", "09:00", "09:12", "09:16")
    log.served("A002", "09:01", "09:31", "09:40")
    later = Log()
    later.events = [dict(e) for e in log.events]
    later.tickets = itertools.count(3)
    later.served("A001", "09:00", "09:05", "09:10")
    for e in later.events[len(log.events):]:  # eight days on
        e.update(day="2026-12-01", at=e["at"] + 8 * 86400)
    assert region.post("/api/ingest", batch(hall_id, log.events), token).status_code == 200
    with psycopg.connect(region.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM region_tickets WHERE hall_id = %s",
                            [hall_id]).fetchone()[0] == 2
    new = later.events[len(log.events):]
    assert region.post("/api/ingest", batch(hall_id, new), token).status_code == 200
    with psycopg.connect(region.dsn) as conn:
        left = conn.execute("SELECT ticket_id, day::text FROM region_tickets WHERE hall_id = %s",
                            [hall_id]).fetchall()
        served = conn.execute("SELECT sum(served) FROM daily_service WHERE hall_id = %s",
                              [hall_id]).fetchone()[0]
    assert left == [(3, "2026-12-01")] and served == 3  # the figures stay
