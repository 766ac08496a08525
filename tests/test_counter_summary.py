"""The clerk's figures on the counter page, from the real event log on a real SQLite file."""

from hall.auth import Actor
from hall.clerk_summary import clerk_summary

KIOSK_ACTOR = Actor(role="kiosk", device_id="kiosk-1", key="k")


def clerk(hall, staff_id: str, pin: str, window: int) -> Actor:
    token = hall.login(staff_id, pin, window)["token"]
    return hall.authenticate(token)


def summary(hall, window: int, staff_id: str | None) -> dict:
    with hall.view() as v:
        return clerk_summary(v, window, staff_id)


def test_served_count_average_and_last_tickets(hall, clock):
    wang = clerk(hall, "1001", "1234", 1)
    for _ in range(3):
        hall.issue(KIOSK_ACTOR, "pay")
    clock.advance(minutes=2)
    hall.window_command(wang, 1, "call-next")
    hall.window_command(wang, 1, "start")
    clock.advance(minutes=4)
    hall.window_command(wang, 1, "finish")
    hall.window_command(wang, 1, "call-next")
    hall.window_command(wang, 1, "start")
    clock.advance(minutes=2)
    hall.window_command(wang, 1, "finish")
    hall.window_command(wang, 1, "call-next")
    hall.window_command(wang, 1, "transfer", {"service": "account"})

    s = summary(hall, 1, "1001")
    assert s["today"]["served"] == 2
    assert s["today"]["avg_handling_min"] == 3.0
    assert s["today"]["transferred"] == 1
    assert [t["number"] for t in s["last_tickets"]] == ["A003", "A002", "A001"]
    assert [t["outcome"] for t in s["last_tickets"]] == ["transferred", "done", "done"]
    assert s["last_tickets"][0]["to_service"] == "account"
    assert s["last_tickets"][1]["handling_min"] == 2.0
    # Another clerk's day is their own.
    assert summary(hall, 2, "1002")["today"]["served"] == 0


def test_waiting_per_service_transferred_here_and_longest(hall, clock):
    wang = clerk(hall, "1001", "1234", 1)
    clerk(hall, "1002", "2345", 2)
    hall.issue(KIOSK_ACTOR, "enquiry")      # E001, oldest
    clock.advance(minutes=3)
    hall.issue(KIOSK_ACTOR, "pay")          # A001
    hall.issue(KIOSK_ACTOR, "complaint")    # not served at window 1
    clock.advance(minutes=1)
    hall.window_command(wang, 1, "call-next")  # the priority-less oldest: E001
    hall.window_command(wang, 1, "transfer", {"window": 2})
    clock.advance(minutes=5)

    w1 = summary(hall, 1, "1001")["waiting"]
    assert {s["id"]: s["waiting"] for s in w1["services"]} == {"pay": 1, "enquiry": 0}
    assert w1["transferred_here"] == 0
    assert w1["total"] == 1
    assert w1["longest"]["number"] == "A001" and w1["longest"]["minutes"] == 6.0

    w2 = summary(hall, 2, "1002")["waiting"]
    assert w2["transferred_here"] == 1
    assert w2["total"] == 2
    assert w2["longest"]["number"] == "E001" and w2["longest"]["minutes"] == 9.0


def test_nobody_logged_in(hall):
    s = summary(hall, 3, None)
    assert s["today"] == {"served": 0, "avg_handling_min": None, "no_show": 0, "transferred": 0}
    assert s["last_tickets"] == []
    assert s["waiting"]["longest"] is None
