"""The GPIO adapters on gpiozero's MockFactory: presses, holds, dropped double presses, LEDs."""

import threading

import pytest
from gpiozero.pins.mock import MockFactory
from support import wait_until

from hardware.gpio import Beeper, Light, PushButton, parse_pins


@pytest.fixture
def factory():
    return MockFactory()


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def tap(factory, pin):
    factory.pin(pin).drive_low()
    factory.pin(pin).drive_high()


def test_a_press_acts_at_once_and_a_fast_second_press_is_dropped(factory):
    clock, presses = FakeClock(), []
    button = PushButton(17, lambda: presses.append(clock.now), debounce=0.4, pin_factory=factory,
                        clock=clock)
    try:
        tap(factory, 17)
        clock.now += 0.1
        tap(factory, 17)  # a bounce or a double tap
        assert presses == [100.0] and button.dropped == 1
        clock.now += 0.5
        tap(factory, 17)
        assert len(presses) == 2 and button.accepted == 2
    finally:
        button.close()


def test_a_hold_does_the_hold_action_only_and_a_short_press_acts_on_release(factory):
    presses, holds, held = [], [], threading.Event()
    button = PushButton(23, lambda: presses.append(1), on_hold=lambda: (holds.append(1),
                        held.set()), hold_seconds=0.2, debounce=0, pin_factory=factory)
    try:
        factory.pin(23).drive_low()
        assert presses == []  # not yet: it may become a hold
        factory.pin(23).drive_high()
        assert presses == [1] and holds == []
        factory.pin(23).drive_low()
        assert held.wait(5)
        factory.pin(23).drive_high()
        assert presses == [1] and holds == [1]
    finally:
        button.close()


def test_a_light_is_on_off_blinking_and_flashes_back_to_its_mode(factory):
    light = Light(5, pin_factory=factory, blink_seconds=0.02)
    try:
        light.set("on")
        assert factory.pin(5).state == 1 and light.is_lit
        light.set("blink")
        wait_until(lambda: factory.pin(5).state == 0)
        wait_until(lambda: factory.pin(5).state == 1)
        light.set("off")
        assert factory.pin(5).state == 0
        light.set("on")
        light.flash(times=2, seconds=0.02)
        assert light.flashing
        wait_until(lambda: not light.flashing)
        assert light.mode == "on" and factory.pin(5).state == 1
        with pytest.raises(ValueError):
            light.set("disco")
    finally:
        light.close()


def test_a_beeper_beeps(factory):
    beeper = Beeper(19, pin_factory=factory)
    try:
        beeper.beep(times=1, seconds=0.05)
        wait_until(lambda: factory.pin(19).state == 1)
        wait_until(lambda: factory.pin(19).state == 0)
        assert beeper.beeps == 1
    finally:
        beeper.close()


def test_a_closed_light_or_beeper_ignores_what_comes_late(factory):
    """At shutdown a command's answer or a flash's end can still be on its way."""
    light = Light(5, pin_factory=factory)
    light.flash(times=1, seconds=0.02)
    light.close()
    light._restore()  # the flash's timer, fired just before the close cancelled it
    light.set("on")
    light.flash()
    beeper = Beeper(19, pin_factory=factory)
    beeper.close()
    beeper.beep()
    assert beeper.beeps == 0


def test_pins_are_parsed_and_bad_ones_named():
    assert parse_pins("call=17, red=13,buzzer=", ("call", "red", "buzzer")) == {
        "call": 17, "red": 13, "buzzer": None}
    for bad, words in [("call", "NAME=BCM"), ("cal=17", "NAME=BCM"), ("call=x", "BCM pin"),
                       ("call=40", "BCM pin"), ("call=²", "BCM pin"), ("call=1" + "0" * 5000,
                                                                       "BCM pin"),
                       ("call=17,red=17", "twice")]:
        with pytest.raises(ValueError, match=words):
            parse_pins(bad, ("call", "red", "buzzer"))
