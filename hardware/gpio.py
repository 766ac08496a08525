"""Buttons, LEDs and a buzzer on a Pi's GPIO header, for the counter box and the evaluator.

Small adapters over gpiozero, so the programs never touch gpiozero themselves and tests drive
them with gpiozero's own MockFactory (`pin_factory=MockFactory()`, then
`factory.pin(17).drive_low()` presses a button wired to ground).

Wiring: a push button between its BCM pin and ground (the internal pull-up is used); an LED
(with its resistor) or an active buzzer between its pin and ground.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from gpiozero import LED, Button, Buzzer

log = logging.getLogger("hallq.gpio")

DEBOUNCE_S = 0.4
HOLD_S = 1.5


class PushButton:
    """One button that tells a press from a hold and drops bounces and fast repeats.

    Real pins debounce in lgpio, but MockPin ignores `bounce_time`, and a clerk who double-taps
    "call next" wants one customer: a press closer than `debounce` seconds to the last accepted
    press of this button is dropped here. With `on_hold`, the short press acts on release (so a
    hold never does both); without it, a press acts at once.
    """

    def __init__(self, pin: int, on_press: Callable[[], Any],
                 on_hold: Callable[[], Any] | None = None, hold_seconds: float = HOLD_S,
                 debounce: float = DEBOUNCE_S, pin_factory: Any = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pin = pin
        self.on_press = on_press
        self.on_hold = on_hold
        self.debounce = debounce
        self.clock = clock
        self.accepted = 0
        self.dropped = 0
        self._last: float | None = None
        self._live = False  # the current press was accepted and has not acted yet
        self._lock = threading.Lock()
        self.button = Button(pin, pull_up=True, bounce_time=0.02, hold_time=hold_seconds,
                             pin_factory=pin_factory)
        self.button.when_pressed = self._pressed
        self.button.when_released = self._released
        if on_hold is not None:
            self.button.when_held = self._held

    def _pressed(self, *_: Any) -> None:
        with self._lock:
            now = self.clock()
            if self._last is not None and now - self._last < self.debounce:
                self.dropped += 1
                log.info("pin %d: press dropped %.2f s after the last", self.pin, now - self._last)
                self._live = False
                return
            self._last = now
            self.accepted += 1
            self._live = self.on_hold is not None
        if self.on_hold is None:
            self.on_press()

    def _held(self, *_: Any) -> None:
        with self._lock:
            live, self._live = self._live, False
        if live:
            self.on_hold()

    def _released(self, *_: Any) -> None:
        with self._lock:
            live, self._live = self._live, False
        if live:
            self.on_press()

    def close(self) -> None:
        self.button.close()


class Light:
    """An LED that is `off`, `on` or `blink`ing; `flash()` blinks it briefly, then restores."""

    def __init__(self, pin: int, pin_factory: Any = None, blink_seconds: float = 0.5) -> None:
        self.pin = pin
        self.mode = "off"
        self.flashes = 0
        self.blink_seconds = blink_seconds
        self.led = LED(pin, pin_factory=pin_factory)
        self._lock = threading.Lock()
        self._flash_timer: threading.Timer | None = None
        self._closed = False  # a late event or flash's end must not touch a closed pin

    @property
    def is_lit(self) -> bool:
        return bool(self.led.is_lit)

    def set(self, mode: str) -> None:
        """Show `mode`; setting the mode it already shows keeps a blink's rhythm."""
        if mode not in ("off", "on", "blink"):
            raise ValueError(f"LED mode {mode!r}: one of off, on, blink")
        with self._lock:
            if self._closed:
                return
            if self._flash_timer is not None:
                self.mode = mode  # shown when the flash ends
            elif mode != self.mode:
                self._show(mode)

    def _show(self, mode: str) -> None:
        self.mode = mode
        if mode == "on":
            self.led.on()
        elif mode == "blink":
            self.led.blink(on_time=self.blink_seconds, off_time=self.blink_seconds)
        else:
            self.led.off()

    def flash(self, times: int = 3, seconds: float = 0.12) -> None:
        """Blink quickly `times` times (a refusal), then show the mode set before."""
        with self._lock:
            if self._closed:
                return
            self.flashes += 1
            if self._flash_timer is not None:
                self._flash_timer.cancel()
            self.led.blink(on_time=seconds, off_time=seconds, n=times)
            self._flash_timer = threading.Timer(2 * seconds * times + 0.05, self._restore)
            self._flash_timer.daemon = True
            self._flash_timer.start()

    def _restore(self) -> None:
        with self._lock:
            if self._closed:  # closed while the timer was already on its way
                return
            self._flash_timer = None
            mode, self.mode = self.mode, ""
            self._show(mode)

    @property
    def flashing(self) -> bool:
        return self._flash_timer is not None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._flash_timer is not None:
                self._flash_timer.cancel()
            self.led.close()


class Beeper:
    """An active buzzer: short beeps when a command is refused. `beeps` counts them (tests)."""

    def __init__(self, pin: int, pin_factory: Any = None) -> None:
        self.pin = pin
        self.beeps = 0
        self.buzzer = Buzzer(pin, pin_factory=pin_factory)
        self._lock = threading.Lock()
        self._closed = False  # a refusal answered late must not start a beep on a closed pin

    def beep(self, times: int = 2, seconds: float = 0.1) -> None:
        with self._lock:
            if self._closed:
                return
            self.beeps += times
            self.buzzer.beep(on_time=seconds, off_time=seconds, n=times)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self.buzzer.close()


def parse_pins(text: str, names: tuple[str, ...]) -> dict[str, int | None]:
    """`"call=17,recall=27,buzzer="` -> {"call": 17, "recall": 27, "buzzer": None}."""
    pins: dict[str, int | None] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in names:
            raise ValueError(f"pins: {part!r} — use NAME=BCM with NAME one of {', '.join(names)}")
        value = value.strip()
        # ASCII digits only: "²".isdigit() is True, and int() then fails without our message.
        if value and (not value.isascii() or not value.isdigit() or len(value) > 2
                      or not 0 <= int(value) <= 27):
            raise ValueError(f"pins: {name}={value!r} — a BCM pin number 0–27, or empty for none")
        pins[name] = int(value) if value else None
    used = [p for p in pins.values() if p is not None]
    if len(used) != len(set(used)):
        raise ValueError("pins: the same pin is used twice")
    return pins
