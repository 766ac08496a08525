"""A 5-button GPIO evaluator: `python -m counter_terminal.evaluator --server URL --token T`.

Five buttons facing the customer, one per level — 非常满意 (5), 满意 (4), 基本满意 (3),
不满意 (2), 非常不满意 (1) — each with an LED above it. When the clerk finishes a customer, all
five LEDs light for OFFER_SECONDS to invite a rating; a press rates the ticket just finished
(the server accepts one rating per ticket) and the chosen level's LED alone stays lit for
CONFIRM_SECONDS as the customer's confirmation. A press the server refuses (nothing to rate,
already rated, too late) flashes the LEDs, or beeps when a buzzer is wired.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from client.live import CommandFailed
from counter_terminal.device import WindowDevice, arguments, run_until_stopped, settings
from hall import logs
from hardware.gpio import DEBOUNCE_S, Beeper, Light, PushButton

log = logging.getLogger("hallq.evaluator")

SCORES = (5, 4, 3, 2, 1)
OFFER_SECONDS = 30.0
CONFIRM_SECONDS = 5.0
DEFAULT_PINS: dict[str, int | None] = {
    "b5": 17, "b4": 27, "b3": 22, "b2": 23, "b1": 24,
    "led5": 5, "led4": 6, "led3": 13, "led2": 19, "led1": 26, "buzzer": None,
}


class GpioEvaluator(WindowDevice):
    def __init__(self, server_url: str, token: str, window: int | None = None,
                 pins: dict[str, int | None] | None = None, pin_factory: Any = None,
                 debounce: float = DEBOUNCE_S, offer_seconds: float = OFFER_SECONDS,
                 confirm_seconds: float = CONFIRM_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(server_url, token, window)
        pins = {**DEFAULT_PINS, **(pins or {})}
        self.offer_seconds = offer_seconds
        self.confirm_seconds = confirm_seconds
        self.mode = "rest"  # rest | offer | confirm
        self.chosen: int | None = None
        self._rated: str | None = None  # the ticket number whose rating the LEDs have shown
        self._generation = 0
        self._timer: threading.Timer | None = None
        self._mode_lock = threading.Lock()
        self.buttons: dict[int, PushButton] = {}
        self.lights: dict[int, Light] = {}
        self.beeper: Beeper | None = None
        try:
            for score in SCORES:
                self.buttons[score] = PushButton(
                    pins[f"b{score}"], lambda s=score: self.submit("rate", score=s),
                    pin_factory=pin_factory, debounce=debounce, clock=clock)
                self.lights[score] = Light(pins[f"led{score}"], pin_factory=pin_factory)
            if pins.get("buzzer") is not None:
                self.beeper = Beeper(pins["buzzer"], pin_factory=pin_factory)
        except Exception:
            self.close_pins()
            raise

    # -- what the customer sees ---------------------------------------------------------------
    def on_event(self, name: str, payload: dict) -> None:
        if name == "ticket" and payload["ticket"]["window"] == self.window and \
                payload["ticket"]["status"] == "done":
            with self._mode_lock:
                if payload["ticket"]["number"] == self._rated:
                    self._rated = None  # the same number on a later day is a new ticket
            self._enter("offer", self.offer_seconds)
        elif name == "rating" and payload["window"] == self.window:
            self._confirm(payload["number"], payload["score"])  # also when rated on the page

    def answered(self, name: str, answer: dict) -> None:
        self._confirm(answer["rating"]["number"], answer["rating"]["score"])

    def _confirm(self, number: str, score: int) -> None:
        """Show a rating once. Its event and the press's answer come on different threads, in
        either order; the later one may arrive after the next customer's offer, and must not
        take the lights from it."""
        with self._mode_lock:
            if number == self._rated:
                return
            self._rated, self.chosen = number, score
        self._enter("confirm", self.confirm_seconds)

    def refused(self, name: str, error: CommandFailed) -> None:
        if self.beeper is not None:
            self.beeper.beep()
        else:
            for light in self.lights.values():
                light.flash()

    def _enter(self, mode: str, seconds: float) -> None:
        with self._mode_lock:
            self._generation += 1
            generation = self._generation
            self.mode = mode
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(seconds, self._rest, [generation])
            self._timer.daemon = True
            self._timer.start()
        self.refresh()

    def _rest(self, generation: int) -> None:
        with self._mode_lock:
            if generation != self._generation:
                return  # a newer offer or confirmation owns the lights
            self.mode = "rest"
            self._timer = None
        self.refresh()

    def refresh(self) -> None:
        with self._mode_lock:
            mode, chosen = self.mode, self.chosen
        for score, light in self.lights.items():
            if mode == "offer":
                light.set("on")
            elif mode == "confirm":
                light.set("on" if score == chosen else "off")
            else:
                light.set("off")

    def lit(self) -> list[int]:
        """The levels whose LED is set on (for tests and logs)."""
        return [s for s, light in self.lights.items() if light.mode == "on"]

    def close(self) -> None:
        with self._mode_lock:
            if self._timer is not None:
                self._timer.cancel()
        super().close()
        self.close_pins()


def main(argv: list[str] | None = None) -> int:
    parser = arguments("python -m counter_terminal.evaluator",
                       "HallQ 5-button GPIO evaluator",
                       "BCM pins: buttons b5 (非常满意) … b1 (非常不满意), LEDs led5 … led1, "
                       "buzzer; defaults b5=17,b4=27,b3=22,b2=23,b1=24,led5=5,led4=6,"
                       "led3=13,led2=19,led1=26, no buzzer")
    args = parser.parse_args(argv)
    logs.setup(logging.DEBUG if args.verbose else logging.INFO)
    server, token, window, pins = settings(args, DEFAULT_PINS, parser)
    evaluator = GpioEvaluator(server, token, window, pins)
    return run_until_stopped(evaluator, evaluator.close)


if __name__ == "__main__":
    sys.exit(main())
