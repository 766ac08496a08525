"""The counter's GPIO button box: `python -m counter_terminal.box --server URL --token T`.

For windows with a Pi and physical buttons instead of (or beside) a PC. Four buttons:
call next, recall, finish, and away/back (a short press steps away — reason 暂离 — or comes
back; holding it marks the called customer a no-show). Three LEDs show the window:

    green          idle, ready to call
    amber          calling or serving a customer
    red            away;  red blinking: away past the limit (overdue)
    amber blinking no connection to the server (it reconnects by itself)
    all off        the window is closed (a clerk opens it by logging in)

A refused command (nobody waiting, too few recalls for a no-show, ...) beeps the buzzer, or
flashes the red LED when there is no buzzer. The server decides everything; the box only shows
the window's state as the server reports it, so after a server restart it is right again as
soon as it has reconnected and taken the new snapshot.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from client.live import CommandFailed
from counter_terminal.device import WindowDevice, arguments, run_until_stopped, settings
from hall import logs
from hardware.gpio import DEBOUNCE_S, HOLD_S, Beeper, Light, PushButton

log = logging.getLogger("hallq.box")

BUTTONS = ("call", "recall", "finish", "away")
LIGHTS = ("green", "amber", "red")
DEFAULT_PINS: dict[str, int | None] = {"call": 17, "recall": 27, "finish": 22, "away": 23,
                                       "green": 5, "amber": 6, "red": 13, "buzzer": 19}
AWAY_REASON = "暂离"


def lights_for(window: dict | None) -> dict[str, str]:
    """The three LEDs for a window snapshot (None: no connection)."""
    off = dict.fromkeys(LIGHTS, "off")
    if window is None:
        return off | {"amber": "blink"}
    status = window["status"]
    if status == "idle":
        return off | {"green": "on"}
    if status in ("calling", "serving"):
        return off | {"amber": "on"}
    if status == "away":
        return off | {"red": "blink" if window["away"] and window["away"]["overdue"] else "on"}
    return off  # closed


class CounterBox(WindowDevice):
    def __init__(self, server_url: str, token: str, window: int | None = None,
                 pins: dict[str, int | None] | None = None, pin_factory: Any = None,
                 hold_seconds: float = HOLD_S, debounce: float = DEBOUNCE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(server_url, token, window)
        pins = {**DEFAULT_PINS, **(pins or {})}
        self.buttons: dict[str, PushButton] = {}
        self.lights: dict[str, Light] = {}
        self.beeper: Beeper | None = None
        actions = {"call": lambda: self.submit("call-next"),
                   "recall": lambda: self.submit("recall"),
                   "finish": lambda: self.submit("finish"),
                   "away": self.away_or_back}
        try:
            for name in BUTTONS:
                self.buttons[name] = PushButton(
                    pins[name], actions[name], pin_factory=pin_factory, debounce=debounce,
                    hold_seconds=hold_seconds, clock=clock,
                    on_hold=(lambda: self.submit("no-show")) if name == "away" else None)
            for name in LIGHTS:
                self.lights[name] = Light(pins[name], pin_factory=pin_factory)
            if pins.get("buzzer") is not None:
                self.beeper = Beeper(pins["buzzer"], pin_factory=pin_factory)
        except Exception:
            self.close_pins()
            raise

    def away_or_back(self) -> None:
        window = self.window_state()
        if window is not None and window["status"] == "away":
            self.submit("back")
        else:
            self.submit("away", reason=AWAY_REASON)

    def refresh(self) -> None:
        for name, mode in lights_for(self.window_state()).items():
            self.lights[name].set(mode)

    def refused(self, name: str, error: CommandFailed) -> None:
        if self.beeper is not None:
            self.beeper.beep()
        else:
            self.lights["red"].flash()

    def close(self) -> None:
        super().close()
        self.close_pins()


def main(argv: list[str] | None = None) -> int:
    parser = arguments("python -m counter_terminal.box", "HallQ counter button box (GPIO)",
                       "BCM pins, e.g. call=17,recall=27,finish=22,away=23,green=5,amber=6,"
                       "red=13,buzzer=19 (buzzer= for none); these are the defaults")
    parser.add_argument("--hold", type=float, default=HOLD_S,
                        help="seconds to hold the away button for a no-show (default 1.5)")
    args = parser.parse_args(argv)
    logs.setup(logging.DEBUG if args.verbose else logging.INFO)
    server, token, window, pins = settings(args, DEFAULT_PINS, parser)
    box = CounterBox(server, token, window, pins, hold_seconds=args.hold)
    return run_until_stopped(box, box.close)


if __name__ == "__main__":
    sys.exit(main())
