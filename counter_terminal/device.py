"""What the GPIO box and the GPIO evaluator share: a live copy of the hall, the window their token
is bound to, one command at a time on a worker thread, and the command line.

Presses come from gpiozero's callback thread; a command waits for the server's answer (up to a
few seconds when the network is bad), so it runs on a worker thread of its own, and a press
that comes while one is still on its way is dropped rather than queued: a frantic clerk pressing
"call next" three times during a hiccup still calls one customer. Each command carries a fresh
`request_id`, and a command that timed out is retried once with the same id, which the server
answers with its first answer instead of acting twice.
"""

from __future__ import annotations

import argparse
import logging
import queue
import signal
import threading
import time
import tomllib
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from client.live import CommandFailed, LiveHall
from hardware.gpio import parse_pins

log = logging.getLogger("hallq.device")

WINDOW_RETRY_S = 2.0


class WindowDevice:
    """A device bound to one window. Subclasses set lights in `refresh()` and react to
    `answered(name, answer)` and `refused(name, error)`."""

    def __init__(self, server_url: str, token: str, window: int | None = None) -> None:
        self.server_url = server_url.rstrip("/")
        self.token = token
        self.window = window
        self.busy = False
        self._lock = threading.Lock()
        self._jobs: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self.buttons: dict[str, Any] = {}
        self.lights: dict[Any, Any] = {}
        self.beeper: Any = None
        self.live = LiveHall(self.server_url, token=token, on_event=self._event,
                             on_state=lambda _: self.refresh(),
                             on_connection=lambda _: self.refresh())

    # -- life ------------------------------------------------------------------------------------
    def start(self) -> None:
        threading.Thread(target=self._work, name="hallq-commands", daemon=True).start()
        if self.window is None:
            threading.Thread(target=self._find_window, name="hallq-whoami", daemon=True).start()
        self.live.start()
        self.refresh()

    def close(self) -> None:
        self._stop.set()
        self._jobs.put(None)
        self.live.stop()

    def close_pins(self) -> None:
        """Free the GPIO devices the subclass made: its buttons, lights and beeper."""
        devices = [*self.buttons.values(), *self.lights.values(), self.beeper]
        for device in devices:
            if device is not None:
                device.close()

    def _find_window(self) -> None:
        """Ask the server which window this device token belongs to (it may not be up yet)."""
        while not self._stop.is_set() and self.window is None:
            try:
                r = requests.get(self.server_url + "/api/v1/me", timeout=3,
                                 headers={"Authorization": f"Bearer {self.token}"})
                if r.status_code == 200 and r.json().get("window") is not None:
                    self.window = r.json()["window"]
                    log.info("this device serves window %s", self.window)
                    self.refresh()
                    return
                log.error("the server does not know this token for a window: %s", r.text)
            except requests.RequestException as error:
                log.info("server not reachable yet: %s", error)
            self._stop.wait(WINDOW_RETRY_S)

    # -- state -----------------------------------------------------------------------------------
    def window_state(self) -> dict | None:
        """This window in the live snapshot, or None while offline or not known yet."""
        state = self.live.state
        if not self.live.connected or state is None or self.window is None:
            return None
        return next((w for w in state["windows"] if w["number"] == self.window), None)

    def _event(self, name: str, payload: dict) -> None:
        self.on_event(name, payload)
        self.refresh()

    def on_event(self, name: str, payload: dict) -> None:
        """A live event from the server (after it was applied to the snapshot)."""

    def refresh(self) -> None:
        """Bring the lights in line with the window's state."""

    # -- commands --------------------------------------------------------------------------------
    def submit(self, name: str, **body: Any) -> bool:
        """Send a command on the worker; False (and nothing sent) while another is on its way."""
        with self._lock:
            if self.busy:
                log.info("%s dropped: a command is still on its way", name)
                return False
            self.busy = True
        self._jobs.put((name, body))
        return True

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            name, body = job
            try:
                answer = self._send(name, body)
            except CommandFailed as error:
                log.warning("%s refused: %s %s", name, error.code, error.message)
                self._done()
                self.refused(name, error)
            except Exception:
                log.exception("%s failed", name)
                self._done()
                self.refused(name, CommandFailed("internal", "device error"))
            else:
                self._done()
                self.answered(name, answer)
            self.refresh()

    def _done(self) -> None:
        with self._lock:
            self.busy = False

    def _send(self, name: str, body: dict) -> dict:
        if self.window is None:
            raise CommandFailed("offline", "窗口未知 · Window not known yet")
        request_id = f"{type(self).__name__[:8]}-{uuid.uuid4().hex[:20]}"
        for attempt in (1, 2):
            try:
                return self.live.command(name, window=self.window, request_id=request_id,
                                         **body)
            except CommandFailed as error:
                if error.code != "timeout" or attempt == 2:
                    raise
                log.info("%s timed out; once more with the same request_id", name)
        raise AssertionError("unreachable")

    def answered(self, name: str, answer: dict) -> None:
        """The server did it."""

    def refused(self, name: str, error: CommandFailed) -> None:
        """The server refused (or could not be reached): tell the person at the device."""


# -- the command line -------------------------------------------------------------------------
def arguments(prog: str, description: str, pin_help: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", help="TOML file with server, token, window and a [pins] "
                        "table (command-line options win)")
    parser.add_argument("--server", help="the server's URL, e.g. http://192.168.1.10:8080")
    parser.add_argument("--token", help="this device's token from the hall config")
    parser.add_argument("--window", type=int, help="the window (default: asked from the server)")
    parser.add_argument("--pins", default="", help=pin_help)
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def settings(args: argparse.Namespace, defaults: dict[str, int | None],
             parser: argparse.ArgumentParser) -> tuple[str, str, int | None, dict]:
    """Merge the config file and the options; exit with a clear message when something's wrong."""
    file: dict = {}
    if args.config:
        try:
            file = tomllib.loads(Path(args.config).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            parser.error(f"--config {args.config}: {error}")
    server = args.server or file.get("server")
    token = args.token or file.get("token")
    if not server or not token:
        parser.error("give --server and --token (or server and token in --config)")
    pins = dict(defaults)
    try:
        file_pins = ",".join(f"{k}={'' if v is None else v}"
                             for k, v in (file.get("pins") or {}).items())
        pins.update(parse_pins(file_pins, tuple(defaults)))
        pins.update(parse_pins(args.pins, tuple(defaults)))
        used = [p for p in pins.values() if p is not None]
        if len(used) != len(set(used)):
            raise ValueError("pins: the same pin is used twice")
    except ValueError as error:
        parser.error(str(error))
    return server, token, args.window or file.get("window"), pins


def run_until_stopped(device: Any, on_stop: Callable[[], None]) -> int:
    """Start the device and keep it running until SIGTERM or Ctrl-C."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    device.start()
    try:
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    on_stop()
    time.sleep(0.1)
    return 0
