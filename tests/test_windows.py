"""The window's day: call, recall, start, finish, no-show, transfer, away and back."""

import pytest
from support import demo_toml, migrated

from hall.config import AwayReason, parse_config
from hall.errors import HallError
from hall.hall import Hall
from hall.store import Store


class Desk:
    """One window's clerk, as the tests drive it."""

    def __init__(self, hall, staff_id, pin, window):
        self.hall, self.window = hall, window
        self.actor = hall.authenticate(hall.login(staff_id, pin, window)["token"])

    def __call__(self, command, **params):
        return self.hall.window_command(self.actor, self.window, command, params)

    def refused(self, command, **params) -> str:
        with pytest.raises(HallError) as error:
            self(command, **params)
        return error.value.code


@pytest.fixture
def kiosk(hall):
    return hall.authenticate("demo-kiosk-1-token")


@pytest.fixture
def w1(hall):
    return Desk(hall, "1001", "1234", 1)  # pay, enquiry; green-channel window


@pytest.fixture
def w2(hall):
    return Desk(hall, "1002", "2345", 2)  # pay, enquiry


def issue(hall, kiosk, service="pay", priority="normal"):
    return hall.issue(kiosk, service, priority)["ticket"]["number"]


def status(hall, number):
    return hall.store.db.execute("SELECT status FROM tickets WHERE number = ?",
                                 [number]).fetchone()[0]


def test_a_ticket_goes_called_serving_done(hall, kiosk, w1, clock):
    issue(hall, kiosk)
    called = w1("call-next")
    assert called["window"]["status"] == "calling"
    assert called["ticket"]["status"] == "called"
    clock.advance(minutes=1)
    assert w1("start")["window"]["status"] == "serving"
    clock.advance(minutes=5)
    done = w1("finish")
    assert done["window"]["status"] == "idle" and done["window"]["ticket"] is None
    assert done["ticket"]["status"] == "done"


def test_call_next_takes_priority_class_first_then_the_earliest(hall, kiosk, w2, clock):
    for priority in ("normal", "normal", "vip", "priority", "normal"):
        issue(hall, kiosk, "pay", priority)
        clock.advance(seconds=10)
    order = []
    for _ in range(5):
        order.append(w2("call-next")["ticket"]["number"])
        w2("finish")
    assert order == ["A004", "A003", "A001", "A002", "A005"]


def test_a_long_queue_is_called_in_line_even_when_many_share_a_second(hall, kiosk, w2, clock):
    for service in ("pay", "pay", "pay", "enquiry", "enquiry"):  # all in the same second
        issue(hall, kiosk, service)
    clock.advance(seconds=10)
    issue(hall, kiosk, "pay", "vip")
    issue(hall, kiosk, "pay")
    order = []
    for _ in range(7):
        order.append(w2("call-next")["ticket"]["number"])
        w2("finish")
    assert order == ["A004", "A001", "A002", "A003", "E001", "E002", "A005"]


def test_a_vip_window_takes_vip_tickets_before_the_green_channel(hall, kiosk):
    issue(hall, kiosk, "pay", "priority")
    issue(hall, kiosk, "pay", "vip")
    vip_window = Desk(hall, "1006", "6789", 6)
    assert vip_window("call-next")["ticket"]["number"] == "A002"


def test_the_service_order_policy_serves_the_windows_first_service_first(tmp_path, clock):
    raw = demo_toml()
    raw["rules"]["call_policy"] = "service_order"
    hall = Hall(parse_config(raw), Store(migrated(tmp_path / "h.db")), clock=clock)
    kiosk = hall.authenticate("demo-kiosk-1-token")
    issue(hall, kiosk, "enquiry")
    clock.advance(seconds=5)
    issue(hall, kiosk, "pay")
    w2 = Desk(hall, "1002", "2345", 2)  # services = ["pay", "enquiry"]
    assert w2("call-next")["ticket"]["number"] == "A001"


def test_a_window_only_takes_its_own_services(hall, kiosk, w1):
    issue(hall, kiosk, "account")
    assert w1.refused("call-next") == "queue_empty"


def test_a_closed_window_is_never_given_a_ticket(hall, kiosk, w1):
    issue(hall, kiosk)
    w1("close")
    assert w1.refused("call-next") == "window_closed"
    assert w1.refused("transfer", service="pay") == "no_ticket"


def test_an_away_window_is_never_given_a_ticket(hall, kiosk, w1):
    w1("away", reason="午休")
    issue(hall, kiosk)
    assert w1.refused("call-next") == "window_away"
    assert status(hall, "A001") == "waiting"


def test_a_window_with_a_customer_can_neither_call_another_nor_go_away(hall, kiosk, w1):
    issue(hall, kiosk)
    issue(hall, kiosk)
    w1("call-next")
    assert w1.refused("call-next") == "ticket_active"
    assert w1.refused("away", reason="暂离") == "ticket_active"
    assert w1.refused("close") == "ticket_active"
    assert status(hall, "A002") == "waiting"


def test_no_show_only_after_the_allowed_recalls(hall, kiosk, w1):
    issue(hall, kiosk)
    w1("call-next")
    assert w1.refused("no-show") == "too_few_recalls"
    assert w1("recall")["ticket"]["recalls"] == 1
    assert w1.refused("no-show") == "too_few_recalls"
    w1("recall")
    assert w1("no-show")["ticket"]["status"] == "no_show"
    assert w1("away", reason="暂离")["window"]["status"] == "away"


def test_recall_and_start_need_a_called_ticket(hall, kiosk, w1):
    assert w1.refused("recall") == "no_ticket"
    assert w1.refused("finish") == "no_ticket"
    issue(hall, kiosk)
    w1("call-next")
    w1("start")
    assert w1.refused("start") == "wrong_state"
    assert w1.refused("recall") == "wrong_state"


def test_transfer_to_a_service_keeps_the_number_and_the_place(hall, kiosk, w1, clock):
    issue(hall, kiosk, "pay")  # A001, the customer who asked at the wrong window
    clock.advance(minutes=2)
    issue(hall, kiosk, "account")  # B001, issued later
    w1("call-next")
    moved = w1("transfer", service="account")["ticket"]
    assert (moved["number"], moved["service"], moved["status"]) == ("A001", "account", "waiting")
    assert moved["transfers"] == 1
    w3 = Desk(hall, "1003", "3456", 3)
    assert w3("call-next")["ticket"]["number"] == "A001"  # before B001: original issue time
    count = hall.store.db.execute("SELECT count(*) FROM tickets").fetchone()[0]
    assert count == 2  # no new ticket was made


def test_transfer_to_a_window_waits_for_that_window_only(hall, kiosk, w1, w2):
    issue(hall, kiosk, "pay")
    issue(hall, kiosk, "pay")
    w1("call-next")
    w1("transfer", window=2)
    assert w1("call-next")["ticket"]["number"] == "A002"
    w1("finish")
    assert w1.refused("call-next") == "queue_empty"  # A001 waits for window 2 only
    assert w2("call-next")["ticket"]["number"] == "A001"


@pytest.mark.parametrize("params, code", [
    ({}, "bad_request"), ({"service": "pay", "window": 2}, "bad_request"),
    ({"service": "tea"}, "unknown_service"), ({"window": 99}, "unknown_window"),
    ({"window": 1}, "bad_request"), ({"window": 3}, "window_closed")])
def test_a_bad_transfer_changes_nothing(hall, kiosk, w1, params, code):
    issue(hall, kiosk)
    w1("call-next")
    seq = hall.state()["seq"]
    assert w1.refused("transfer", **params) == code
    assert hall.state()["seq"] == seq
    assert status(hall, "A001") == "called"


def test_away_needs_a_reason_and_back_ends_it(hall, w1, clock):
    assert w1.refused("away") == "bad_request"
    assert w1.refused("away", reason="x" * 41) == "bad_request"
    assert w1.refused("back") == "wrong_state"
    away = w1("away", reason="会议")["window"]["away"]
    assert away["reason"] == "会议" and away["overdue"] is False
    clock.advance(minutes=4)
    assert w1("back")["window"]["status"] == "idle"
    period = hall.store.db.execute("SELECT staff_id, ended_at - started_at FROM away_periods"
                                   ).fetchone()
    assert period == ("1001", 240.0)


def test_away_past_the_limit_alerts_once_and_shows_overdue(hall, w1, clock):
    alerts = []
    hall.subscribe(lambda events: alerts.extend(p for name, p in events
                                                if name == "away_overdue"))
    w1("away", reason="暂离")
    clock.advance(minutes=9)
    hall.tick()
    assert alerts == []
    clock.advance(minutes=1, seconds=1)
    hall.tick()
    hall.tick()
    assert len(alerts) == 1
    assert alerts[0]["window"] == 1 and alerts[0]["staff"]["name"] == "王芳"
    window = hall.state()["windows"][0]
    assert window["away"]["overdue"] is True
    w1("back")
    assert hall.store.db.execute("SELECT overdue FROM away_periods").fetchone()[0] == 1


def test_each_away_reason_has_its_own_limit_so_a_lunch_raises_no_false_alarm(
        hall, w1, clock):
    alerts = []
    hall.subscribe(lambda events: alerts.extend(p for name, p in events
                                                if name == "away_overdue"))
    away = w1("away", reason="午休")["window"]["away"]  # the demo hall has no break: an hour
    assert away["limit_at"] == "2026-11-23T10:30:00+08:00"
    clock.advance(minutes=59)
    hall.tick()
    assert alerts == [] and hall.state()["windows"][0]["away"]["overdue"] is False
    clock.advance(minutes=1, seconds=1)
    hall.tick()
    assert [a["reason"] for a in alerts] == ["午休"]
    w1("back")
    w1("away", reason="去档案室")  # a reason the hall did not name: 暂离's 10 minutes
    clock.advance(minutes=10, seconds=1)
    hall.tick()
    assert [a["reason"] for a in alerts] == ["午休", "去档案室"]


def test_a_configured_away_reason_sets_its_limit_and_its_expected_length():
    raw = demo_toml()
    raw["hours"]["breaks"] = [["12:00", "13:30"]]
    raw["away_reasons"] = [{"name": "会议", "limit_minutes": 45, "expected_minutes": 30}]
    config = parse_config(raw)
    assert config.away_reason("会议") == AwayReason("会议", 45, 30, "Meeting")
    assert config.away_reason("午休") == AwayReason("午休", 90, 90, "Lunch")
    assert config.away_reason("暂离") == AwayReason("暂离", 10, 10, "Short break")
    assert config.away_reason("别的") == AwayReason("暂离", 10, 10, "Short break")


def test_a_clerk_acts_only_on_their_own_window_a_supervisor_on_any(hall, kiosk, w1):
    issue(hall, kiosk)
    with pytest.raises(HallError) as error:
        hall.window_command(w1.actor, 2, "call-next")
    assert error.value.code == "forbidden"
    boss = hall.authenticate(hall.login("9001", "9999")["token"])
    hall.window_command(boss, 1, "call-next")
    assert status(hall, "A001") == "called"


def test_devices_without_the_right_cannot_call(hall, kiosk):
    hall.login("1001", "1234", 1)
    issue(hall, kiosk)
    for token in ("demo-display-1-token", "demo-kiosk-1-token", "demo-evaluator-1-token",
                  "demo-counter-box-2-token"):
        with pytest.raises(HallError) as error:
            hall.window_command(hall.authenticate(token), 1, "call-next")
        assert error.value.code == "forbidden"
    box = hall.authenticate("demo-counter-box-1-token")
    assert hall.window_command(box, 1, "call-next")["ticket"]["number"] == "A001"


def test_a_retried_call_next_with_the_same_request_id_calls_nobody_else(hall, kiosk, w1):
    issue(hall, kiosk)
    issue(hall, kiosk)
    first = hall.window_command(w1.actor, 1, "call-next", {}, request_id="press-17")
    again = hall.window_command(w1.actor, 1, "call-next", {}, request_id="press-17")
    assert again == first
    assert status(hall, "A002") == "waiting"


def test_a_stand_in_logs_in_at_a_busy_window_and_takes_it_over(hall, kiosk, w1):
    issue(hall, kiosk)
    w1("call-next")
    stand_in = Desk(hall, "1002", "2345", 1)  # 顶岗
    window = stand_in("finish")["window"]
    assert window["staff"]["id"] == "1002" and window["status"] == "idle"
