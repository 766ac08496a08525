"""Ratings at the window's evaluator, clerk logins with PINs, and what survives a restart."""

import pytest
from support import migrated

from hall.errors import HallError
from hall.hall import Hall
from hall.store import Store


def refused(call, *args, **kwargs) -> str:
    with pytest.raises(HallError) as error:
        call(*args, **kwargs)
    return error.value.code


@pytest.fixture
def served(hall, clock):
    """Window 1 has just finished A001."""
    kiosk = hall.authenticate("demo-kiosk-1-token")
    clerk = hall.authenticate(hall.login("1001", "1234", 1)["token"])
    hall.issue(kiosk, "pay")
    hall.window_command(clerk, 1, "call-next")
    hall.window_command(clerk, 1, "finish")
    return hall.authenticate("demo-evaluator-1-token")


def test_the_customer_rates_the_ticket_just_finished_once(hall, served):
    rating = hall.rate(served, 1, 5)["rating"]
    assert (rating["number"], rating["score"]) == ("A001", 5)
    assert refused(hall.rate, served, 1, 4) == "already_rated"
    row = hall.store.db.execute("SELECT window, staff_id, score FROM ratings").fetchone()
    assert row == (1, "1001", 5)


def test_a_bad_rating_may_carry_a_reason(hall, served):
    assert hall.rate(served, 1, 1, reason="等候太久")["rating"]["reason"] == "等候太久"


def test_a_rating_comes_within_minutes_of_finishing(hall, served, clock):
    clock.advance(minutes=6)
    assert refused(hall.rate, served, 1, 5) == "rating_expired"


@pytest.mark.parametrize("score", [0, 6, "5", 4.5, True, None])
def test_a_score_is_a_whole_number_from_one_to_five(hall, served, score):
    assert refused(hall.rate, served, 1, score) == "bad_request"


def test_only_that_windows_evaluator_rates_it(hall, served):
    other = hall.authenticate("demo-evaluator-2-token")
    assert refused(hall.rate, other, 1, 5) == "forbidden"
    assert refused(hall.rate, other, 2, 5) == "nothing_to_rate"


def test_a_wrong_pin_is_refused_and_five_lock_the_staff_id_for_five_minutes(hall, clock):
    for _ in range(4):
        assert refused(hall.login, "1001", "0000", 1) == "unauthorized"
    assert hall.login("1001", "1234", 1)["token"]  # success clears the count
    for _ in range(5):
        assert refused(hall.login, "1001", "0000", 1) == "unauthorized"
    assert refused(hall.login, "1001", "1234", 1) == "locked"  # even the right PIN
    assert hall.login("1002", "2345", 2)["token"]  # other staff are not locked
    clock.advance(minutes=5, seconds=1)
    assert hall.login("1001", "1234", 1)["staff"]["name"] == "王芳"


def test_unknown_staff_and_bad_fields_are_refused(hall):
    assert refused(hall.login, "7777", "1234", 1) == "unauthorized"
    assert refused(hall.login, 1001, "1234", 1) == "bad_request"
    assert refused(hall.login, "1001", "1234") == "bad_request"  # a clerk needs a window
    assert refused(hall.login, "1001", "1234", 99) == "unknown_window"


def test_logging_in_opens_the_window_and_is_recorded(hall):
    window = hall.login("1003", "3456", 3)["window"]
    assert window["status"] == "idle" and window["staff"]["name"] == "张敏"
    login = hall.store.db.execute("SELECT staff_id, window FROM events WHERE type = 'login'"
                                  ).fetchone()
    assert login == ("1003", 3)


def test_a_logged_out_token_is_dead(hall):
    token = hall.login("1001", "1234", 1)["token"]
    hall.logout(token)
    assert hall.authenticate(token) is None


def test_after_a_restart_the_hall_is_exactly_as_it_was(tmp_path, clock, demo_config):
    path = tmp_path / "hall.db"
    hall = Hall(demo_config, Store(migrated(path)), clock=clock)
    kiosk = hall.authenticate("demo-kiosk-1-token")
    token1 = hall.login("1001", "1234", 1)["token"]
    clerk2 = hall.authenticate(hall.login("1002", "2345", 2)["token"])
    for _ in range(3):
        hall.issue(kiosk, "pay")
    hall.window_command(clerk2, 2, "call-next")
    hall.window_command(hall.authenticate(token1), 1, "away", {"reason": "暂离"})
    before = hall.state()
    hall.store.close()

    clock.advance(minutes=11)
    again = Hall(demo_config, Store(path), clock=clock)
    after = again.state()
    assert [w["status"] for w in after["windows"]] == [w["status"] for w in before["windows"]]
    assert after["windows"][1]["ticket"]["number"] == "A001"
    assert after["services"][0]["waiting"] == 2
    assert after["windows"][0]["away"]["overdue"] is True  # the away timer kept running
    assert again.authenticate(token1).staff_id == "1001"  # the clerk stays logged in
    assert again.issue(kiosk, "pay")["ticket"]["number"] == "A004"
