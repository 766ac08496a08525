"""Issuing numbers: daily, per service, never twice, with people ahead and a wait estimate."""

import sqlite3

import pytest
from support import FakeClock, demo_toml, migrated, real_hours

from hall.config import parse_config
from hall.errors import HallError
from hall.hall import Hall
from hall.store import Store


@pytest.fixture
def kiosk(hall):
    return hall.authenticate("demo-kiosk-1-token")


def issue(hall, kiosk, service="pay", **kw):
    return hall.issue(kiosk, service, **kw)["ticket"]


def test_numbers_count_up_per_service_with_its_prefix(hall, kiosk):
    numbers = [issue(hall, kiosk, s)["number"] for s in ("pay", "pay", "account", "pay")]
    assert numbers == ["A001", "A002", "B001", "A003"]


def test_numbers_restart_each_day_in_the_halls_time_zone(hall, kiosk, clock):
    clock.set("2026-11-23 23:50")
    assert issue(hall, kiosk)["number"] == "A001"
    assert issue(hall, kiosk)["number"] == "A002"
    clock.set("2026-11-24 00:05")  # 16:05 UTC the day before: the hall's day counts
    assert issue(hall, kiosk)["number"] == "A001"


def test_the_database_refuses_a_second_ticket_with_the_same_number_on_a_day(hall, kiosk):
    issue(hall, kiosk)
    with pytest.raises(sqlite3.IntegrityError), hall.store.write() as db:
        db.execute("INSERT INTO tickets (public_id, day, number, service, issued_service,"
                   " priority, status, issued_at) SELECT 'x', day, number, service, service,"
                   " priority, 'waiting', 0 FROM tickets")


def test_people_ahead_and_no_wait_promised_while_no_window_is_open(hall, kiosk):
    first = issue(hall, kiosk)
    assert (first["ahead"], first["estimated_wait_min"]) == (0, None)
    assert first["estimate_note"] == "暂无窗口办理 · No window serves this now"
    issue(hall, kiosk)
    third = issue(hall, kiosk)
    assert (third["ahead"], third["estimated_wait_min"]) == (2, None)


def test_the_estimate_steps_the_open_windows_and_learns_from_todays_calls(
        hall, kiosk, clock):
    for _ in range(4):
        issue(hall, kiosk)
    token = hall.login("1001", "1234", 1)["token"]
    clerk = hall.authenticate(token)
    hall.login("1002", "2345", 2)
    # windows 1 and 2 take pay at 4 minutes a customer (avg_minutes, nobody called yet):
    # the four go at 0, 0, 4 and 4 minutes, a new one at 8
    pay = hall.state()["services"][0]
    assert (pay["estimated_wait_min"], pay["estimate_note"]) == (8, None)
    hall.window_command(clerk, 1, "call-next")
    clock.advance(minutes=10)
    hall.window_command(clerk, 1, "finish")
    clock.advance(minutes=1)
    hall.window_command(clerk, 1, "call-next")
    # window 1 took 11 minutes from call to call: pay is (3 × 4 + 11) / 4 = 5.75 minutes a
    # customer; window 1 is at (5 + 11 / 5.75) / 6 = 1.15 times that (6.6 minutes), window 2
    # (no samples) at 5.75. Window 1's new customer needs 6.6 minutes; the two waiting go now
    # and at 5.75 at window 2, so a new one goes at window 1 after 6.6: about 7.
    pay = hall.state()["services"][0]
    assert pay["avg_handling_min"] == 7.0  # (seed 4 + 10) / 2: start to finish, shown apart
    assert pay["estimated_wait_min"] == 7

def test_priority_tickets_have_fewer_ahead(hall, kiosk):
    issue(hall, kiosk)
    issue(hall, kiosk)
    green = issue(hall, kiosk, priority="priority")
    assert green["ahead"] == 0
    assert issue(hall, kiosk)["ahead"] == 3


def test_a_database_from_before_queue_lengths_were_kept_counts_its_queues_on_opening(
        hall, kiosk):
    for service in ("pay", "pay", "account"):
        issue(hall, kiosk, service)
    with hall.store.write() as db:  # as earlier versions made it
        for trigger in ("queue_joined", "queue_left", "queue_moved"):
            db.execute(f"DROP TRIGGER {trigger}")
        db.execute("DROP TABLE queue_lengths")
        db.execute("DROP TABLE _sqlite_migrations")  # made by no release before it
    hall.store.close()
    hall.store = Store(migrated(hall.store.path))
    assert hall.store.db.execute("SELECT * FROM queue_lengths ORDER BY 1").fetchall() == \
        [("account", 0, "normal", 1), ("pay", 0, "normal", 2)]
    assert issue(hall, kiosk)["ahead"] == 2  # and kept from then on
    assert [s["waiting"] for s in hall.state()["services"][:2]] == [3, 1]


def test_each_ticket_has_an_unguessable_public_id_for_its_qr(hall, kiosk):
    tickets = [issue(hall, kiosk) for _ in range(20)]
    ids = {t["public_id"] for t in tickets}
    assert len(ids) == 20 and all(len(i) >= 16 for i in ids)
    status = hall.ticket_status(tickets[3]["public_id"])["ticket"]
    assert status["number"] == "A004" and status["ahead"] == 3
    with pytest.raises(HallError) as error:
        hall.ticket_status("A004")
    assert error.value.code == "unknown_ticket"


def test_a_daily_cap_stops_that_service_only(tmp_path, clock):
    raw = demo_toml()
    raw["services"][0]["daily_cap"] = 2
    hall = Hall(parse_config(raw), Store(migrated(tmp_path / "h.db")), clock=clock)
    kiosk = hall.authenticate("demo-kiosk-1-token")
    issue(hall, kiosk)
    issue(hall, kiosk)
    with pytest.raises(HallError) as error:
        issue(hall, kiosk)
    assert error.value.code == "service_full"
    assert issue(hall, kiosk, "account")["number"] == "B001"
    clock.advance(minutes=24 * 60)
    assert issue(hall, kiosk)["number"] == "A001"


def _jump_counter(hall, service: str, last: int) -> None:
    """As if `last` tickets of `service` had been issued today (a thousand would be slow)."""
    with hall.store.write() as db:
        db.execute("UPDATE counters SET last = ? WHERE service = ?", [last, service])


@pytest.mark.parametrize("where", ["hall", "service"])
def test_four_digit_numbers_pass_999_where_the_hall_asks_for_them(tmp_path, clock, where):
    raw = demo_toml()
    (raw["hall"] if where == "hall" else raw["services"][0])["number_digits"] = 4
    hall = Hall(parse_config(raw), Store(migrated(tmp_path / "h.db")), clock=clock)
    kiosk = hall.authenticate("demo-kiosk-1-token")
    assert issue(hall, kiosk)["number"] == "A0001"
    _jump_counter(hall, "pay", 999)
    assert issue(hall, kiosk)["number"] == "A1000"
    _jump_counter(hall, "pay", 9999)
    with pytest.raises(HallError) as error:
        issue(hall, kiosk)
    assert error.value.code == "service_full"  # the cap of four digits stays
    assert issue(hall, kiosk, "account")["number"] == ("B0001" if where == "hall" else "B001")


def test_three_digit_numbers_stop_at_999(hall, kiosk):
    issue(hall, kiosk)
    _jump_counter(hall, "pay", 998)
    assert issue(hall, kiosk)["number"] == "A999"
    with pytest.raises(HallError) as error:
        issue(hall, kiosk)
    assert error.value.code == "service_full"


@pytest.mark.parametrize("service, priority", [
    ("tea", "normal"), (None, "normal"), (7, "normal"), ("pay", "king"), ("pay", 1)])
def test_bad_issue_requests_change_nothing(hall, kiosk, service, priority):
    with pytest.raises(HallError) as error:
        hall.issue(kiosk, service, priority)
    assert error.value.code in ("unknown_service", "bad_request")
    assert hall.state()["seq"] == 0


def test_only_kiosks_and_managers_issue(hall):
    display = hall.authenticate("demo-display-1-token")
    with pytest.raises(HallError) as error:
        hall.issue(display, "pay")
    assert error.value.code == "forbidden"


# -- opening hours --------------------------------------------------------------------------

@pytest.fixture
def real_hall(tmp_path):
    raw = demo_toml()
    raw["hours"] = real_hours()
    clock = FakeClock("2026-11-23 10:00")  # a Monday
    hall = Hall(parse_config(raw), Store(migrated(tmp_path / "h.db")), clock=clock)
    return hall, hall.authenticate("demo-kiosk-1-token"), clock


@pytest.mark.parametrize("when, reason, resumes", [
    ("2026-11-23 08:30", "before_open", "09:00"),
    ("2026-11-23 12:20", "break", "13:00"),
    ("2026-11-23 16:50", "after_last_ticket", "11-24 09:00"),
    ("2026-11-23 17:30", "after_close", "11-24 09:00"),
    ("2026-11-28 10:00", "closed_day", "11-30 09:00"),  # Saturday → Monday
])
def test_outside_issuing_hours_the_kiosk_is_told_why_and_when_it_resumes(
        real_hall, when, reason, resumes):
    hall, kiosk, clock = real_hall
    clock.set(when)
    with pytest.raises(HallError) as error:
        issue(hall, kiosk)
    assert error.value.code == "hall_closed"
    assert error.value.extra["reason"] == reason
    assert resumes in error.value.message
    assert hall.state()["hall"]["issuing"] is False


def test_after_the_last_ticket_windows_serve_everyone_already_waiting(real_hall):
    hall, kiosk, clock = real_hall
    clock.set("2026-11-23 16:40")
    issue(hall, kiosk)
    issue(hall, kiosk)
    clerk = hall.authenticate(hall.login("1001", "1234", 1)["token"])
    clock.set("2026-11-23 17:20")  # after closing, even
    state = hall.state()["hall"]
    assert state["last_ticket_passed"] and not state["issuing"]
    for number in ("A001", "A002"):
        assert hall.window_command(clerk, 1, "call-next")["ticket"]["number"] == number
        hall.window_command(clerk, 1, "finish")


def test_at_the_days_rollover_waiting_tickets_expire_counted_not_dropped(hall, kiosk, clock):
    clock.set("2026-11-23 23:00")
    for _ in range(3):
        issue(hall, kiosk)
    events = []
    hall.subscribe(lambda command: events.extend(name for name, _ in command))
    clock.set("2026-11-24 00:00:01")
    hall.tick()
    rows = list(hall.store.db.query("SELECT number, status, closed_reason FROM tickets"))
    assert [(r["status"], r["closed_reason"]) for r in rows] == [("expired", "day_end")] * 3
    expire = list(hall.store.db.query("SELECT data FROM events WHERE type = 'expire'"))
    assert '"count":3' in expire[0]["data"]
    assert "queue" in events
    assert hall.state()["services"][0]["waiting"] == 0
    hall.tick()  # only once
    assert hall.store.db.execute("SELECT count(*) FROM events WHERE type = 'expire'"
                                 ).fetchone()[0] == 1
