"""Appointments (预约): slots, booking, cancelling, check-in, calling at the slot, no-shows, purge.

The rules run in-process on a real SQLite file with a clock the test moves; a scripted day over
HTTP with the real server is at the end of the file.
"""

import re
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import KIOSK, FakeClock, demo_toml, migrated

from hall import appointments
from hall.auth import Actor
from hall.config import ConfigError, parse_config
from hall.errors import HallError
from hall.hall import Hall
from hall.store import Store, scalar

BOOKING = Actor(role="booking", device_id="booking-1", key="booking")
SUPERVISOR = Actor(role="supervisor", staff_id="9001", key="supervisor")
PHONE = "13812345678"


@pytest.fixture
def kiosk(hall):
    return hall.authenticate(KIOSK)


def book(hall, slot="2026-11-23T10:00:00+08:00", service="account", actor=BOOKING, **body):
    body = {"service": service, "slot_start": slot, "phone": PHONE, **body}
    return appointments.book(hall, actor, body)["appointment"]


def check_in(hall, kiosk, code):
    return appointments.check_in(hall, kiosk, {"code": code})


def count(hall, sql="SELECT count(*) FROM appointments"):
    with hall.store.read() as db:
        return scalar(db, sql)


def refused(code, call, *args):
    with pytest.raises(HallError) as caught:
        call(*args)
    assert caught.value.code == code, caught.value.message
    return caught.value


# -- schema --------------------------------------------------------------------------------
def test_a_database_of_the_version_before_gets_the_table(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    Store(migrated(path)).close()
    with sqlite3.connect(path) as db:  # as the version before appointments left it
        db.execute("DROP TABLE appointments")
        db.execute("DROP TABLE _sqlite_migrations")  # made by no release before it
        assert not db.execute("SELECT 1 FROM sqlite_master WHERE name LIKE 'appointments%'"
                              ).fetchall()
    store = Store(migrated(path))
    with store.read() as db:
        names = {r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE name LIKE 'appointments%'")}
    assert names == {"appointments", "appointments_by_slot", "appointments_due",
                     "appointments_phones", "appointments_by_day"}


# -- config ----------------------------------------------------------------------------------
def test_a_service_is_bookable_with_slot_length_and_capacity(demo_config):
    account = demo_config.service("account")
    assert (account.booking.slot_minutes, account.booking.capacity) == (30, 4)
    assert demo_config.service("pay").booking is None
    assert demo_config.appointments.grace_minutes == 15
    assert any(d.role == "booking" and len(d.token) >= 16 for d in demo_config.devices)


@pytest.mark.parametrize("change, message", [
    (lambda t: t["services"][0].update(booking={"slot_minutes": 30}), "capacity: missing"),
    (lambda t: t["services"][0].update(booking={"slot_minutes": 30, "capacity": 0}),
     "capacity: must be between"),
    (lambda t: t["services"][0].update(booking={"slot_minutes": 30, "capacity": 2, "x": 1}),
     "booking.x: unknown key"),
    (lambda t: t["hours"].update(closed_dates=["2026-10-32"]), "closed_dates[0]"),
    (lambda t: t["appointments"].update(grace=5), "appointments.grace: unknown key"),
])
def test_bad_booking_config_names_the_key(change, message):
    raw = demo_toml()
    change(raw)
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(raw)


# -- slots -----------------------------------------------------------------------------------
def test_slots_follow_the_hours_and_count_free_places(hall):
    book(hall)
    day = appointments.slots(hall, BOOKING, "account", "2026-11-23")
    assert day["capacity"] == 4 and len(day["slots"]) == 48  # the demo hall: round the clock
    ten = next(s for s in day["slots"] if s["start"] == "2026-11-23T10:00:00+08:00")
    assert (ten["end"], ten["free"], ten["past"]) == ("2026-11-23T10:30:00+08:00", 3, False)
    assert day["slots"][0]["past"]  # 00:00-00:30, and it is 09:30


def test_slots_skip_breaks_and_closed_days(tmp_path, clock):
    raw = demo_toml()
    raw["hours"] = {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00",
                    "close": "17:00", "breaks": [["12:00", "13:00"]],
                    "closed_dates": ["2026-11-24"]}
    hall = Hall(parse_config(raw), Store(migrated(tmp_path / "h.db")), clock=clock)
    starts = [s["start"][11:16] for s in
              appointments.slots(hall, BOOKING, "account", "2026-11-23")["slots"]]
    assert starts[:3] == ["09:00", "09:30", "10:00"] and "12:00" not in starts
    assert starts[-1] == "16:30" and len(starts) == 14
    closed = appointments.slots(hall, BOOKING, "account", "2026-11-24")
    assert closed["slots"] == [] and not closed["open"]
    refused("closed_day", book, hall, "2026-11-24T10:00:00+08:00")
    refused("closed_day", book, hall, "2026-11-28T10:00:00+08:00")  # a Saturday
    # The closed date stops the kiosk too.
    clock.set("2026-11-24 10:00")
    refused("hall_closed", hall.issue, hall.authenticate(KIOSK), "pay")


# -- booking ---------------------------------------------------------------------------------
def test_booking_answers_a_six_digit_code_and_the_slot(hall):
    booked = book(hall, name="张三")
    assert re.fullmatch(r"\d{6}", booked["code"])
    assert booked["slot_start"] == "2026-11-23T10:00:00+08:00"
    assert booked["slot_end"] == "2026-11-23T10:30:00+08:00"
    assert (booked["status"], booked["source"]) == ("booked", "external")
    assert booked["phone"] == "138****5678" and booked["name"] == "张*"


def test_a_time_without_offset_is_the_halls_time(hall):
    assert book(hall, "2026-11-23T10:00")["slot_start"] == "2026-11-23T10:00:00+08:00"
    assert book(hall, "2026-11-23T02:00:00+00:00")["slot_start"] == "2026-11-23T10:00:00+08:00"


@pytest.mark.parametrize("body, code", [
    ({"service": "nope"}, "unknown_service"),
    ({"service": "pay"}, "not_bookable"),
    ({"service": None}, "bad_request"),
    ({"slot_start": "2026-11-23T09:00:00+08:00"}, "slot_past"),
    ({"slot_start": "2026-11-23T10:15:00+08:00"}, "unknown_slot"),
    ({"slot_start": "2027-06-01T10:00:00+08:00"}, "too_far_ahead"),
    ({"slot_start": "tomorrow"}, "bad_request"),
    ({"slot_start": 1763863200}, "bad_request"),
    ({"slot_start": "2026-11-23T10:00:00+08:00" + " " * 40}, "bad_request"),
    ({"slot_start": "9999-12-31T23:30:00"}, "too_far_ahead"),
    ({"slot_start": "9999-12-31T23:30:00-14:00"}, "bad_request"),
    ({"slot_start": "0001-01-01T00:00:00+14:00"}, "bad_request"),
    ({"slot_start": "0001-01-01T00:00:00"}, "slot_past"),
    ({"slot_start": "2026-11-22T10:00:00"}, "slot_past"),
    ({"phone": "12"}, "bad_request"),
    ({"phone": None}, "bad_request"),
    ({"name": "x" * 21}, "bad_request"),
    ({"name": 5}, "bad_request"),
    ({"callback": "1"}, "bad_request"),
    ({"callback": 1}, "forbidden"),  # the external system closes no callbacks
])
def test_bad_bookings_are_refused_and_change_nothing(hall, body, code):
    full = {"service": "account", "slot_start": "2026-11-23T10:00:00+08:00", "phone": PHONE,
            **body}
    refused(code, appointments.book, hall, BOOKING, full)
    assert count(hall) == 0


def test_the_slot_current_now_may_still_be_booked(hall, clock):
    clock.set("2026-11-23 10:20")
    assert book(hall)["slot_start"] == "2026-11-23T10:00:00+08:00"


def test_a_full_slot_is_refused_with_its_own_code(hall):
    for _ in range(4):
        book(hall)
    refused("slot_full", book, hall)
    assert count(hall) == 4


def test_devices_other_than_booking_may_not_book(hall, kiosk):
    refused("forbidden", book, hall, "2026-11-23T10:00:00+08:00", "account", kiosk)
    refused("unauthorized", book, hall, "2026-11-23T10:00:00+08:00", "account",
            Actor(role="viewer"))


def test_two_bookings_racing_for_the_last_place_one_wins(hall):
    for _ in range(3):
        book(hall)
    results, start = [], threading.Barrier(8)

    def racer():
        start.wait()
        try:
            results.append(book(hall)["code"])
        except HallError as error:
            results.append(error.code)

    threads = [threading.Thread(target=racer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("slot_full") == 7 and count(hall) == 4


def test_codes_differ_within_a_day(hall):
    codes = {book(hall, f"2026-11-23T{h:02d}:00:00+08:00")["code"]
             for h in range(10, 24) for _ in range(4)}
    assert len(codes) == 56


# -- cancelling ------------------------------------------------------------------------------
def test_a_cancelled_booking_frees_its_place_and_cannot_check_in(hall, kiosk, clock):
    codes = [book(hall)["code"] for _ in range(4)]
    done = appointments.cancel(hall, BOOKING, {"code": codes[0]})["appointment"]
    assert done["status"] == "cancelled"
    book(hall)  # the freed place
    refused("wrong_state", appointments.cancel, hall, BOOKING, {"code": codes[0]})
    unused = next(c for c in ("000000", "000001") if c not in codes)
    refused("unknown_appointment", appointments.cancel, hall, BOOKING, {"code": unused})
    refused("bad_request", appointments.cancel, hall, BOOKING, {"code": "12345"})
    clock.set("2026-11-23 09:50")
    refused("appointment_cancelled", check_in, hall, kiosk, codes[0])


# -- check-in --------------------------------------------------------------------------------
def test_check_in_within_its_times_gives_an_appointment_ticket_once(hall, kiosk, clock):
    code = book(hall)["code"]  # 10:00-10:30; check-in 09:30 to 10:45
    clock.set("2026-11-23 09:29")
    error = refused("too_early", check_in, hall, kiosk, code)
    assert error.extra["checkin_opens_at"] == "2026-11-23T09:30:00+08:00"
    assert "09:30" in error.message
    clock.set("2026-11-23 09:31")
    answer = check_in(hall, kiosk, f" {code}\n")  # as a scanner types it
    ticket = answer["ticket"]
    assert (ticket["number"], ticket["priority"], ticket["status"]) == \
        ("B001", "appointment", "waiting")
    assert ticket["slot"] == {"start": "2026-11-23T10:00:00+08:00",
                              "end": "2026-11-23T10:30:00+08:00"}
    assert answer["appointment"]["status"] == "checked_in"
    assert "code" not in answer["appointment"]
    refused("appointment_checked_in", check_in, hall, kiosk, code)
    assert count(hall, "SELECT count(*) FROM tickets") == 1


def test_past_the_grace_the_kiosk_is_told_to_offer_a_normal_ticket(hall, kiosk, clock):
    code = book(hall)["code"]
    clock.set("2026-11-23 10:45:01")
    error = refused("too_late", check_in, hall, kiosk, code)
    assert error.extra["service"] == "account"
    assert count(hall, "SELECT count(*) FROM tickets") == 0


def test_a_code_of_another_day_is_unknown_today(hall, kiosk):
    code = book(hall, "2026-11-24T10:00:00+08:00")["code"]
    refused("unknown_appointment", check_in, hall, kiosk, code)


def test_a_kiosk_trying_codes_in_turn_is_stopped_after_five_wrong_ones(hall, kiosk, clock):
    code = book(hall)["code"]
    clock.set("2026-11-23 09:45")
    wrong = [f"{(int(code) + i) % 10**6:06d}" for i in range(1, 6)]
    for guess in wrong:
        refused("unknown_appointment", check_in, hall, kiosk, guess)
    error = refused("too_many_attempts", check_in, hall, kiosk, code)  # even the right one
    assert 0 < error.extra["retry_after"] <= 601
    clock.advance(minutes=10, seconds=1)  # ten quiet minutes forgive them
    assert check_in(hall, kiosk, code)["ticket"]["priority"] == "appointment"


def test_only_a_kiosk_checks_in(hall):
    code = book(hall)["code"]
    refused("forbidden", check_in, hall, BOOKING, code)
    refused("bad_request", check_in, hall, hall.authenticate(KIOSK), "12ab56")


# -- calling ---------------------------------------------------------------------------------
def test_an_appointment_is_called_at_its_slot_among_walk_ins(hall, kiosk, clock):
    """Head start 15 min: the 10:00 slot queues as if it took a number at 09:45."""
    code = book(hall)["code"]
    early = hall.issue(kiosk, "account")["ticket"]["number"]  # 09:30
    clock.set("2026-11-23 09:40")
    booked = check_in(hall, kiosk, code)["ticket"]["number"]
    clock.set("2026-11-23 09:50")
    late = hall.issue(kiosk, "account")["ticket"]["number"]
    green = hall.issue(kiosk, "account", "priority")["ticket"]["number"]
    token = hall.login("1003", "3456", 3)["token"]
    clerk = hall.authenticate(token)
    called = []
    for _ in range(4):
        answer = hall.window_command(clerk, 3, "call-next")
        called.append(answer["ticket"]["number"])
        hall.window_command(clerk, 3, "finish")
    assert called == [green, early, booked, late]


def test_appointments_are_called_by_slot_not_by_check_in(hall, kiosk, clock):
    later = book(hall, "2026-11-23T10:30:00+08:00")["code"]
    sooner = book(hall, "2026-11-23T10:00:00+08:00")["code"]
    clock.set("2026-11-23 10:00")
    b_later = check_in(hall, kiosk, later)["ticket"]["number"]
    b_sooner = check_in(hall, kiosk, sooner)["ticket"]["number"]
    clerk = hall.authenticate(hall.login("1003", "3456", 3)["token"])
    assert hall.window_command(clerk, 3, "call-next")["ticket"]["number"] == b_sooner
    hall.window_command(clerk, 3, "finish")
    assert hall.window_command(clerk, 3, "call-next")["ticket"]["number"] == b_later


# -- missed and kept -------------------------------------------------------------------------
def test_a_booking_never_checked_in_becomes_a_no_show_after_the_grace(hall, clock):
    code = book(hall)["code"]
    clock.set("2026-11-23 10:44")
    hall.tick()
    assert count(hall, "SELECT count(*) FROM appointments WHERE status = 'no_show'") == 0
    clock.set("2026-11-23 10:46")
    hall.tick()
    listed = appointments.listing(hall, SUPERVISOR, "2026-11-23")["appointments"]
    assert [(a["code"], a["status"]) for a in listed] == [(code, "no_show")]
    refused("appointment_no_show", check_in, hall, hall.authenticate(KIOSK), code)


def test_phone_numbers_are_erased_after_the_configured_days(hall, clock):
    book(hall)
    clock.set("2026-12-23 10:29")
    hall.tick()
    assert count(hall, "SELECT count(*) FROM appointments WHERE phone IS NULL") == 0
    clock.set("2026-12-23 10:31")
    hall.tick()
    assert count(hall, "SELECT count(*) FROM appointments WHERE phone IS NULL"
                 " AND name IS NULL") == 1


def test_the_list_is_for_supervisors_with_phones_masked(hall):
    book(hall, name="李四")
    refused("forbidden", appointments.listing, hall, BOOKING, None)
    listed = appointments.listing(hall, SUPERVISOR, None)["appointments"]
    assert listed[0]["phone"] == "138****5678" and listed[0]["name"] == "李*"
    refused("bad_request", appointments.listing, hall, SUPERVISOR, "23/11/2026")
    refused("bad_request", appointments.listing, hall, SUPERVISOR, "9999-12-31")
    refused("bad_request", appointments.slots, hall, SUPERVISOR, "account", "0001-01-01")


def test_a_clerk_turns_a_callback_into_a_booking_in_one_step(hall):
    from hall import supervision

    clerk = hall.authenticate(hall.login("1003", "3456", 3)["token"])
    callback = supervision.record_callback(hall, clerk, {"window": 3, "phone": PHONE,
                                                         "name": "王五"})["callback"]
    booked = book(hall, actor=clerk, callback=callback["id"], name="王五")
    assert booked["source"] == "counter"
    with hall.store.read() as db:
        row = db.execute("SELECT phone, name, done_at FROM callbacks").fetchone()
    assert row[0] == "138****5678" and row[1] is None and row[2] is not None
    refused("wrong_state", lambda: book(hall, actor=clerk, callback=callback["id"]))
    assert count(hall) == 1
    # Without a phone, the callback's own number and name are booked (the dashboard's way).
    second = supervision.record_callback(hall, clerk, {"window": 3, "phone": "13900001111",
                                                       "name": "赵六"})["callback"]
    booked = appointments.book(hall, SUPERVISOR, {
        "service": "account", "slot_start": "2026-11-23T11:00", "callback": second["id"]})
    assert booked["appointment"]["phone"] == "139****1111"
    assert booked["appointment"]["name"] == "赵*" and booked["appointment"]["source"] == "dashboard"
    other_window = Actor(role="clerk", staff_id="1001", window=1, key="c1")
    third = supervision.record_callback(hall, clerk, {"window": 3, "phone": PHONE})["callback"]
    refused("forbidden", lambda: book(hall, actor=other_window, callback=third["id"]))


# -- reports ---------------------------------------------------------------------------------
def script_booked_day(hall, clock) -> None:
    """2026-11-23: three bookings of 新装开户 (one cancelled besides), a walk-in at 09:30, an early
    check-in for 10:00, a late one (10:35) within the grace, all called 10:40-10:42, one missed."""
    kiosk = hall.authenticate(KIOSK)
    a, b, _missed = (book(hall, slot)["code"] for slot in (
        "2026-11-23T10:00", "2026-11-23T10:00", "2026-11-23T10:30"))
    appointments.cancel(hall, BOOKING, {"code": book(hall)["code"]})
    walk_in = hall.issue(kiosk, "account")["ticket"]["number"]  # 09:30
    clock.set("2026-11-23 09:50")
    check_in(hall, kiosk, a)  # early: waits from 10:00
    clock.set("2026-11-23 10:35")
    check_in(hall, kiosk, b)  # after its slot, within the grace: not on time
    clerk = hall.authenticate(hall.login("1003", "3456", 3)["token"])
    called = []
    for at in ("10:40", "10:41", "10:42"):
        clock.set(f"2026-11-23 {at}")
        called.append(hall.window_command(clerk, 3, "call-next")["ticket"]["number"])
        hall.window_command(clerk, 3, "finish")
    assert called[0] == walk_in
    clock.set("2026-11-23 11:16")
    hall.tick()  # the 10:30 booking: a no-show


def test_reports_count_bookings_and_compare_waits_with_walk_ins(hall, clock):
    import csv
    import io

    from hall.reports import build_report, report_csv

    script_booked_day(hall, clock)
    report = build_report(hall.store, hall.config, "2026-11-23", "2026-11-23", clock())
    expected = {"booked": 3, "checked_in": 2, "on_time": 1, "no_show": 1,
                "appointment_wait_mean_min": 24.0, "walk_in_wait_mean_min": 70.0}
    assert report["total"]["appointments"] == expected
    assert next(s for s in report["services"] if s["service"] == "account")["appointments"] \
        == expected
    assert report["days"][0]["appointments"] == expected
    assert next(s for s in report["services"] if s["service"] == "pay")["appointments"][
        "booked"] is None
    rows = list(csv.reader(io.StringIO(report_csv(report).decode("utf-8-sig"))))
    total = dict(zip(rows[0], rows[1], strict=True))
    assert (total["预约 booked"], total["准时签到 on time"], total["预约未到 booking no-show"],
            total["预约等候(分) appointment wait mean min"],
            total["现场等候(分) walk-in wait mean min"]) == ("3", "1", "1", "24.0", "70.0")


# -- properties ------------------------------------------------------------------------------
ops = st.lists(st.tuples(st.sampled_from(["book", "cancel", "check-in", "tick"]),
                         st.integers(0, 3), st.integers(0, 40)), max_size=40)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=ops)
def test_no_slot_is_overbooked_and_no_code_checks_in_twice(tmp_path_factory, steps):
    clock = FakeClock("2026-11-23 09:30")
    hall = Hall(parse_config(demo_toml()), Store(migrated(tmp_path_factory.mktemp("p") / "h.db")),
                clock=clock)
    kiosk = hall.authenticate(KIOSK)
    codes: list[str] = []
    for op, slot, minutes in steps:
        start = f"2026-11-23T{10 + slot:02d}:00:00+08:00"
        try:
            if op == "book":
                codes.append(book(hall, start)["code"])
            elif op == "cancel" and codes:
                appointments.cancel(hall, BOOKING, {"code": codes[minutes % len(codes)]})
            elif op == "check-in" and codes:
                check_in(hall, kiosk, codes[minutes % len(codes)])
            elif op == "tick":
                clock.advance(minutes=minutes)
                hall.tick()
        except HallError:
            pass
    with hall.store.read() as db:
        per_slot = db.execute("SELECT max(n) FROM (SELECT count(*) AS n FROM appointments"
                              " WHERE status != 'cancelled' GROUP BY service, slot_start)"
                              ).fetchone()[0]
        tickets = scalar(db, "SELECT count(*) FROM tickets WHERE priority = 'appointment'")
        checked = scalar(db, "SELECT count(*) FROM appointments WHERE ticket_id IS NOT NULL")
        linked = scalar(db, "SELECT count(DISTINCT ticket_id) FROM appointments")
    assert (per_slot or 0) <= 4
    assert tickets == checked == linked


# -- a scripted day over HTTP, with the real server ------------------------------------------
BOOKING_TOKEN = "demo-booking-1-token"


def now_slot(server, service="account"):
    """The slot of `service` running now (the demo hall is open round the clock)."""
    r = server.get(f"/api/v1/appointments/slots?service={service}", token=BOOKING_TOKEN)
    assert r.status_code == 200, r.text
    return next(s for s in r.json()["slots"] if not s["past"])


def test_a_day_of_bookings_and_walk_ins_over_http(server):
    from support import listening_display, wait_until

    from client.live import CommandFailed, LiveHall

    slot = now_slot(server)
    # The external system books; a full slot, a bad phone, an unknown service are refused.
    booked = []
    for _ in range(slot["free"]):
        r = server.post("/api/v1/appointments", {"service": "account", "phone": PHONE,
                                                 "slot_start": slot["start"]},
                        token=BOOKING_TOKEN)
        assert r.status_code == 201, r.text
        booked.append(r.json()["appointment"])
    assert {b["slot_start"] for b in booked} == {slot["start"]}
    full = server.post("/api/v1/appointments", {"service": "account", "phone": PHONE,
                                                "slot_start": slot["start"]}, token=BOOKING_TOKEN)
    assert (full.status_code, full.json()["error"]["code"]) == (409, "slot_full")
    for body, status, code in [({"service": "tea"}, 404, "unknown_service"),
                               ({"phone": "x"}, 400, "bad_request"),
                               ({"slot_start": "soon"}, 400, "bad_request")]:
        r = server.post("/api/v1/appointments", {"service": "account", "phone": PHONE,
                                                 "slot_start": slot["start"], **body},
                        token=BOOKING_TOKEN)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code)
    r = server.post("/api/v1/appointments", {"service": "account", "phone": PHONE,
                                             "slot_start": slot["start"]}, token=KIOSK)
    assert r.status_code == 403
    # One is cancelled; its place is free again.
    r = requests_delete(server, f"/api/v1/appointments/{booked[0]['code']}", BOOKING_TOKEN)
    assert r.status_code == 200 and r.json()["appointment"]["status"] == "cancelled"
    assert now_slot(server)["free"] == 1

    with listening_display(server.url) as display:
        walk_in = server.issue("account")["number"]
        # Check-in at the kiosk answers as issuing does, with the slot.
        r = server.post(f"/api/v1/appointments/{booked[1]['code']}/check-in", token=KIOSK)
        assert r.status_code == 201, r.text
        ticket = r.json()["ticket"]
        issued = server.post("/api/v1/tickets", {"service": "account"}, token=KIOSK).json()
        assert set(ticket) - set(issued["ticket"]) == {"slot"}
        assert ticket["priority"] == "appointment" and ticket["slot"]["start"] == slot["start"]
        again = server.post(f"/api/v1/appointments/{booked[1]['code']}/check-in", token=KIOSK)
        assert (again.status_code, again.json()["error"]["code"]) == \
            (409, "appointment_checked_in")
        unknown = server.post("/api/v1/appointments/12345x/check-in", token=KIOSK)
        assert unknown.status_code == 400
        # Over Socket.IO, the kiosk's check-in answers the same.
        kiosk = LiveHall(server.url, token=KIOSK)
        kiosk.start()
        kiosk.wait_for_state()
        over_socket = kiosk.command("check-in", code=booked[2]["code"])
        assert over_socket["status"] == 201 and over_socket["ticket"]["priority"] == "appointment"
        with pytest.raises(CommandFailed) as failed:
            kiosk.command("check-in", code=booked[2]["code"])
        assert failed.value.answer["error"]["code"] == "appointment_checked_in"
        kiosk.stop()
        # At its slot the appointment goes before the walk-in who came just now.
        clerk = server.login("1003", "3456", 3)
        called = server.post("/api/v1/windows/3/call-next", token=clerk).json()["ticket"]
        assert called["number"] == ticket["number"] and called["number"] != walk_in
        wait_until(lambda: display.calls)
        assert display.calls[0]["priority"] == "appointment"

    # A clerk turns a callback into a booking in one step, and tells the customer the code.
    callback = server.post("/api/v1/windows/3/callback", {"phone": "13900001111"},
                           token=clerk)
    assert callback.status_code == 200, callback.text
    later = now_slot(server, "transfer")
    r = server.post("/api/v1/appointments", {"service": "transfer", "phone": "13900001111",
                                             "slot_start": later["start"],
                                             "callback": callback.json()["callback"]["id"]},
                    token=clerk)
    assert r.status_code == 201 and re.fullmatch(r"\d{6}", r.json()["appointment"]["code"])

    # The supervisor's list: every booking of the day, phones masked.
    boss = server.login("9001", "9999")
    listed = server.get("/api/v1/appointments", token=boss).json()["appointments"]
    assert len(listed) == len(booked) + 1
    assert {a["phone"] for a in listed} == {"138****5678", "139****1111"}
    assert server.get("/api/v1/appointments", token=BOOKING_TOKEN).status_code == 403


def requests_delete(server, path, token):
    import requests

    return requests.delete(server.url + path, headers={"Authorization": f"Bearer {token}"},
                           timeout=10)


def test_the_estimate_counts_a_booked_customer_ahead_of_later_walk_ins(hall, kiosk, clock):
    """A booking for 10:00 counts as queued from 09:45 (15 min head start): a walk-in at 09:50
    will be called after the booked customer, checked in or not yet."""
    clerk = hall.authenticate(hall.login("1003", "3456", 3)["token"])  # window 3 takes account
    assert clerk
    clock.set("2026-11-23 09:50")
    alone = hall.issue(kiosk, "account")["ticket"]
    assert (alone["ahead"], alone["estimated_wait_min"]) == (0, 0)
    hall.issue(kiosk, "pay")  # not at window 3's services' head: moves nothing here
    book(hall)
    walk_in = hall.issue(kiosk, "account")["ticket"]
    # before it: the walk-in of 09:50 and the booked customer, 12 minutes each at window 3
    assert walk_in["ahead"] == 2
    assert walk_in["estimated_wait_min"] == 24
