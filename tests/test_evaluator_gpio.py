"""The 5-button GPIO evaluator on gpiozero's MockFactory against the real server."""

from __future__ import annotations

import sqlite3

import pytest
from gpiozero.pins.mock import MockFactory
from support import ServerProcess, evaluator_token, wait_until

from counter_terminal.evaluator import DEFAULT_PINS, GpioEvaluator, main

BUTTON = {score: DEFAULT_PINS[f"b{score}"] for score in range(1, 6)}
LED = {score: DEFAULT_PINS[f"led{score}"] for score in range(1, 6)}


class PressClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def factory():
    return MockFactory()


def make_evaluator(srv, factory, **kwargs) -> GpioEvaluator:
    clock = PressClock()
    ev = GpioEvaluator(srv.url, evaluator_token(1), pin_factory=factory, clock=clock, **kwargs)
    ev.clock = clock
    ev.start()
    wait_until(lambda: ev.window_state() is not None, timeout=10)
    return ev


def press(factory, ev, score):
    ev.clock.now += 1
    factory.pin(BUTTON[score]).drive_low()
    factory.pin(BUTTON[score]).drive_high()


def leds(factory) -> list[int]:
    return [s for s in (5, 4, 3, 2, 1) if factory.pin(LED[s]).state]


def serve_one(srv, clerk) -> None:
    srv.issue("pay")
    srv.post("/api/v1/windows/1/call-next", token=clerk)
    assert srv.post("/api/v1/windows/1/finish", token=clerk).status_code == 200


def test_a_finish_invites_a_rating_and_the_chosen_led_confirms_it(server, factory):
    clerk = server.login("1001", "1234", 1)
    ev = make_evaluator(server, factory, confirm_seconds=0.5)
    try:
        assert leds(factory) == []
        serve_one(server, clerk)
        wait_until(lambda: leds(factory) == [5, 4, 3, 2, 1])  # all lit: please rate

        press(factory, ev, 4)
        wait_until(lambda: leds(factory) == [4])  # 满意, confirmed
        with sqlite3.connect(server.db) as db:
            assert db.execute("SELECT score FROM ratings").fetchall() == [(4,)]
        wait_until(lambda: leds(factory) == [])  # and back to rest

        # One rating per ticket: a second press is refused and the LEDs flash.
        press(factory, ev, 1)
        wait_until(lambda: ev.lights[1].flashes == 1)
        wait_until(lambda: not any(light.flashing for light in ev.lights.values()))
        assert leds(factory) == []
        with sqlite3.connect(server.db) as db:
            assert db.execute("SELECT count(*) FROM ratings").fetchone() == (1,)
    finally:
        ev.close()


def test_a_fast_double_press_rates_once_and_a_rating_on_the_page_shows_too(server, factory):
    clerk = server.login("1001", "1234", 1)
    ev = make_evaluator(server, factory, pins={"buzzer": 25})
    try:
        serve_one(server, clerk)
        wait_until(lambda: ev.mode == "offer")
        factory.pin(BUTTON[1]).drive_low()
        factory.pin(BUTTON[1]).drive_high()
        factory.pin(BUTTON[1]).drive_low()
        factory.pin(BUTTON[1]).drive_high()
        assert ev.buttons[1].dropped == 1
        wait_until(lambda: leds(factory) == [1])
        assert ev.beeper.beeps == 0

        # The next customer rates on the evaluator page instead: the LED still confirms.
        serve_one(server, clerk)
        wait_until(lambda: ev.mode == "offer")
        server.post("/api/v1/windows/1/rating", {"score": 3}, token=evaluator_token(1))
        wait_until(lambda: leds(factory) == [3])
        press(factory, ev, 5)  # too late: already rated → beep
        wait_until(lambda: ev.beeper.beeps > 0)
        assert leds(factory) == [3]
    finally:
        ev.close()


def test_a_rating_is_shown_once_however_its_event_and_answer_are_ordered(factory):
    ev = GpioEvaluator("http://127.0.0.1:1", "t", window=1, pin_factory=factory)
    done = {"ticket": {"window": 1, "number": "A002", "status": "done"}}
    answer = {"rating": {"number": "A001", "window": 1, "score": 1}}
    try:
        ev.on_event("rating", {"window": 1, "number": "A001", "score": 1})
        assert ev.lit() == [1]
        # The next customer is finished before the press's own answer comes back.
        ev.on_event("ticket", done)
        ev.answered("rate", answer)
        assert (ev.mode, ev.lit()) == ("offer", [5, 4, 3, 2, 1])

        # Answer first, event second: the event does not restart the confirmation.
        ev.answered("rate", {"rating": {"number": "A002", "window": 1, "score": 5}})
        generation = ev._generation
        ev.on_event("rating", {"window": 1, "number": "A002", "score": 5})
        assert (ev.mode, ev.lit(), ev._generation) == ("confirm", [5], generation)

        # The same number on a later day is a new ticket, rated anew.
        ev.on_event("ticket", {"ticket": {**done["ticket"], "number": "A002"}})
        ev.on_event("rating", {"window": 1, "number": "A002", "score": 2})
        assert (ev.mode, ev.lit()) == ("confirm", [2])
    finally:
        ev.close()


def test_the_evaluator_comes_back_after_a_server_restart(tmp_path, factory):
    srv = ServerProcess(tmp_path / "hall.db").start()
    ev = None
    try:
        clerk = srv.login("1001", "1234", 1)
        ev = make_evaluator(srv, factory)
        srv.kill()
        wait_until(lambda: ev.window_state() is None, timeout=15)
        srv = ServerProcess(srv.db, port=srv.port).start()
        wait_until(lambda: ev.window_state() is not None, timeout=20)
        serve_one(srv, clerk)
        wait_until(lambda: leds(factory) == [5, 4, 3, 2, 1])
        press(factory, ev, 5)
        wait_until(lambda: leds(factory) == [5])
    finally:
        if ev:
            ev.close()
        srv.stop()


def test_bad_pins_are_named(capsys):
    with pytest.raises(SystemExit):
        main(["--server", "http://127.0.0.1:1", "--token", "t", "--pins", "b6=3"])
    assert "b6" in capsys.readouterr().err
