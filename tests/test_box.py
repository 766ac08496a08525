"""The counter's GPIO button box on gpiozero's MockFactory, driving the real server: presses,
a fast double press, holds, LEDs that follow the server's state, refusals, and a server restart."""

from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory
from support import ServerProcess, counter_box_token, wait_until

from counter_terminal.box import DEFAULT_PINS, CounterBox, lights_for, main
from hall.config import DEMO_CONFIG

PIN = DEFAULT_PINS  # call 17, recall 27, finish 22, away 23, green 5, amber 6, red 13, buzzer 19
HOLD_S = 0.3


@pytest.fixture
def factory():
    return MockFactory()


class PressClock:
    """The buttons' clock: a test moves it past the debounce between presses it means."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def make_box(srv, factory, **kwargs) -> CounterBox:
    clock = PressClock()
    box = CounterBox(srv.url, counter_box_token(1), pin_factory=factory, hold_seconds=HOLD_S,
                     clock=clock, **kwargs)
    box.clock = clock
    box.start()
    wait_until(lambda: box.window_state() is not None, timeout=10)
    return box


@pytest.fixture
def clerk(server):
    return server.login("1001", "1234", 1)


@pytest.fixture
def box(server, clerk, factory):
    b = make_box(server, factory)
    yield b
    b.close()


def tap(factory, name, box=None):
    """A press; with `box`, one meant as a new press (a second later than the last)."""
    if box is not None:
        box.clock.now += 1
    factory.pin(PIN[name]).drive_low()
    factory.pin(PIN[name]).drive_high()


def hold(factory, box, name="away"):
    button = box.buttons[name].button
    box.clock.now += 1
    factory.pin(PIN[name]).drive_low()
    wait_until(lambda: button.is_held)
    wait_until(lambda: not box.busy)  # the hold's command has been answered
    factory.pin(PIN[name]).drive_high()


def lit(factory) -> dict[str, int]:
    return {name: factory.pin(PIN[name]).state for name in ("green", "amber", "red")}


def window(srv) -> dict:
    return srv.get("/api/v1/state").json()["windows"][0]


def settled(box):
    wait_until(lambda: not box.busy)


def test_lights_for_each_state():
    assert lights_for(None) == {"green": "off", "amber": "blink", "red": "off"}
    assert lights_for({"status": "closed", "away": None}) == {
        "green": "off", "amber": "off", "red": "off"}
    assert lights_for({"status": "idle", "away": None})["green"] == "on"
    assert lights_for({"status": "serving", "away": None})["amber"] == "on"
    assert lights_for({"status": "away", "away": {"overdue": False}})["red"] == "on"
    assert lights_for({"status": "away", "away": {"overdue": True}})["red"] == "blink"


def test_buttons_drive_the_window_and_the_lights_follow(server, box, factory):
    # open and idle (waited for: on a loaded machine the box may still be joining the server)
    wait_until(lambda: lit(factory) == {"green": 1, "amber": 0, "red": 0}, timeout=10)
    server.issue("pay")
    server.issue("pay")

    # A fast double press on "call next" calls one customer.
    tap(factory, "call")
    tap(factory, "call")
    assert box.buttons["call"].dropped == 1
    wait_until(lambda: window(server)["status"] == "calling")
    settled(box)
    assert window(server)["ticket"]["number"] == "A001"
    wait_until(lambda: lit(factory) == {"green": 0, "amber": 1, "red": 0})
    waiting = server.get("/api/v1/state").json()["services"][0]
    assert (waiting["id"], waiting["waiting"]) == ("pay", 1)

    # Holding "away" means no-show: refused before two recalls (beep), done after them.
    beeps = box.beeper.beeps
    hold(factory, box)
    wait_until(lambda: box.beeper.beeps > beeps)
    assert window(server)["status"] == "calling"
    for recalls in (1, 2):
        tap(factory, "recall", box)
        wait_until(lambda r=recalls: window(server)["ticket"]["recalls"] == r)
        settled(box)
    hold(factory, box)
    wait_until(lambda: window(server)["status"] == "idle")
    wait_until(lambda: lit(factory) == {"green": 1, "amber": 0, "red": 0})

    # Call the next one and finish.
    tap(factory, "call", box)
    wait_until(lambda: (window(server)["ticket"] or {}).get("number") == "A002")
    settled(box)
    tap(factory, "finish", box)
    wait_until(lambda: window(server)["status"] == "idle")
    wait_until(lambda: lit(factory)["green"] == 1)
    settled(box)  # the lights follow the event, which may come before the answer

    # Nobody waits: "call next" is refused with a beep and the lights stay as they are.
    beeps = box.beeper.beeps
    tap(factory, "call", box)
    wait_until(lambda: box.beeper.beeps > beeps)
    assert lit(factory) == {"green": 1, "amber": 0, "red": 0}

    # A short press on "away" steps away; another comes back.
    tap(factory, "away", box)
    wait_until(lambda: window(server)["status"] == "away")
    assert window(server)["away"]["reason"] == "暂离"
    wait_until(lambda: lit(factory) == {"green": 0, "amber": 0, "red": 1})
    settled(box)
    tap(factory, "away", box)
    wait_until(lambda: window(server)["status"] == "idle")
    wait_until(lambda: lit(factory) == {"green": 1, "amber": 0, "red": 0})


def test_a_double_press_that_gets_past_the_debounce_still_calls_one_customer(
        server, clerk, factory):
    box = make_box(server, factory, debounce=0)
    try:
        for _ in range(3):
            server.issue("pay")
        for _ in range(3):
            tap(factory, "call")  # dropped while the first is on its way, or refused after
        wait_until(lambda: window(server)["status"] == "calling")
        settled(box)
        state = server.get("/api/v1/state").json()
        assert state["windows"][0]["ticket"]["number"] == "A001"
        assert state["services"][0]["waiting"] == 2
        assert [c["number"] for c in state["recent_calls"]] == ["A001"]
    finally:
        box.close()


def test_the_changes_made_on_the_page_show_on_the_box(server, clerk, box, factory):
    server.post("/api/v1/windows/1/away", {"reason": "会议"}, token=clerk)
    wait_until(lambda: lit(factory) == {"green": 0, "amber": 0, "red": 1})
    server.post("/api/v1/windows/1/close", token=clerk)
    wait_until(lambda: lit(factory) == {"green": 0, "amber": 0, "red": 0})
    assert {name: box.lights[name].mode for name in box.lights} == {
        "green": "off", "amber": "off", "red": "off"}


def test_without_a_buzzer_a_refusal_flashes_the_red_light(server, clerk, factory):
    box = make_box(server, factory, pins={"buzzer": None})
    try:
        assert box.beeper is None
        tap(factory, "call")  # nobody waiting
        wait_until(lambda: box.lights["red"].flashes == 1)
        wait_until(lambda: not box.lights["red"].flashing)
        assert lit(factory) == {"green": 1, "amber": 0, "red": 0}
    finally:
        box.close()


def test_overdue_away_blinks_red(tmp_path, factory):
    config = tmp_path / "hall.toml"
    config.write_text(DEMO_CONFIG.read_text(encoding="utf-8").replace(
        "away_limit_minutes = 10", "away_limit_minutes = 0.05"), encoding="utf-8")
    srv = ServerProcess(tmp_path / "hall.db", config=config).start()
    box = None
    try:
        srv.login("1001", "1234", 1)
        box = make_box(srv, factory)
        tap(factory, "away", box)
        wait_until(lambda: window(srv)["status"] == "away", timeout=10)
        wait_until(lambda: box.lights["red"].mode == "blink", timeout=15)
        assert window(srv)["away"]["overdue"]
        wait_until(lambda: factory.pin(PIN["red"]).state == 1, timeout=10)
        wait_until(lambda: factory.pin(PIN["red"]).state == 0, timeout=10)
        settled(box)
        tap(factory, "away", box)
        wait_until(lambda: lit(factory) == {"green": 1, "amber": 0, "red": 0})
        assert box.lights["red"].mode == "off"
    finally:
        if box:
            box.close()
        srv.stop()


def test_the_box_survives_a_server_restart(tmp_path, factory):
    srv = ServerProcess(tmp_path / "hall.db").start()
    box = None
    try:
        clerk = srv.login("1001", "1234", 1)
        srv.issue("pay")
        box = make_box(srv, factory)
        tap(factory, "call")
        wait_until(lambda: lit(factory) == {"green": 0, "amber": 1, "red": 0})

        srv.kill()
        wait_until(lambda: box.lights["amber"].mode == "blink", timeout=15)  # offline
        assert lit(factory)["green"] == 0 and lit(factory)["red"] == 0
        beeps = box.beeper.beeps
        tap(factory, "finish", box)  # no server: refused, with a beep
        # at once when the client knows the server is gone; on a loaded machine it may learn it
        # late and the command times out first (5 s), hence the longer wait
        wait_until(lambda: box.beeper.beeps > beeps, timeout=12)

        srv = ServerProcess(srv.db, port=srv.port).start()
        # A change right after the restart, maybe before the box is back: either the event or
        # the fresh snapshot brings it.
        srv.post("/api/v1/windows/1/finish", token=clerk)
        wait_until(lambda: lit(factory) == {"green": 1, "amber": 0, "red": 0}, timeout=20)
        assert box.lights["amber"].mode == "off"

        tap(factory, "away", box)  # and the buttons work again
        wait_until(lambda: lit(factory) == {"green": 0, "amber": 0, "red": 1})
        assert window(srv)["status"] == "away"
    finally:
        if box:
            box.close()
        srv.stop()


def test_bad_pins_on_the_command_line_are_named(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--server", "http://127.0.0.1:1", "--token", "t", "--pins", "call=99"])
    assert stop.value.code == 2
    assert "call='99'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--pins", "call=17"])  # no server, no token
