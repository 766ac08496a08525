"""Physical service buttons on the kiosk (button-only dispensers): one GPIO button per service.

Wiring: a push button between the BCM pin and ground (the internal pull-up is used). Real pins
debounce in lgpio, but gpiozero's MockPin ignores `bounce_time`, and a customer who presses twice
in a second wants one ticket anyway: presses closer than `repeat_guard` seconds to the last
accepted press (on any button) are dropped here. The kiosk itself also ignores presses while a
ticket is being issued.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from gpiozero import Button

log = logging.getLogger("hallq.buttons")

REPEAT_GUARD_S = 1.5


class ServiceButtons:
    def __init__(self, pins: dict[int, str], on_press: Callable[[str], Any],
                 repeat_guard: float = REPEAT_GUARD_S, pin_factory: Any = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`pins` maps a BCM pin number to a service id; `on_press(service)` issues."""
        self.on_press = on_press
        self.repeat_guard = repeat_guard
        self.clock = clock
        self._last: float | None = None
        self._lock = threading.Lock()
        self.buttons: dict[str, Button] = {}
        try:
            for pin, service in pins.items():
                button = Button(pin, pull_up=True, bounce_time=0.05, pin_factory=pin_factory)
                button.when_pressed = lambda _b=None, s=service: self.pressed(s)
                self.buttons[service] = button
        except Exception:
            self.close()
            raise

    def pressed(self, service: str) -> bool:
        """One press; True if it was passed on to the kiosk."""
        with self._lock:
            now = self.clock()
            if self._last is not None and now - self._last < self.repeat_guard:
                log.info("press on %s ignored: %.2f s after the last", service, now - self._last)
                return False
            self._last = now
        self.on_press(service)
        return True

    def close(self) -> None:
        for button in self.buttons.values():
            button.close()
        self.buttons.clear()
