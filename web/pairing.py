"""The pairing routes (hall/pairing.py): the supervisor's `POST /api/v1/devices/{id}/pairing-code`
and the evaluator page's `POST /api/v1/pair {code}`, which needs no token and so is where a
guesser would knock. Wrong codes are counted per address: GUESSES_PER_ADDRESS in
GUESS_WINDOW_S, and GUESSES_IN_ALL from all addresses together (a LAN has many addresses); past
either, `locked` (429) until the window has passed. A million codes, a few minutes each, a
handful of guesses: a guesser's chance is nil.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from flask import Flask, Response, request
from flask_socketio import SocketIO

from hall import pairing
from hall.errors import HallError
from hall.hall import Hall
from web import app as web_app
from web.commands import EXTRA_COMMANDS, run_command

GUESS_WINDOW_S = 10 * 60
GUESSES_PER_ADDRESS = 5
GUESSES_IN_ALL = 50

EXTRA_COMMANDS["pairing-code"] = pairing.new_code


class WrongGuesses:
    """Wrong codes of the last GUESS_WINDOW_S, per address and in all (bounded memory)."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._all: deque[tuple[float, str]] = deque(maxlen=GUESSES_IN_ALL)

    def check(self, address: str) -> None:
        with self._lock:
            recent = self._recent()
            mine = sum(1 for _, who in recent if who == address)
        if mine >= GUESSES_PER_ADDRESS or len(recent) >= GUESSES_IN_ALL:
            raise HallError("locked", "配对码错误次数过多，请稍后再试 · "
                            "Too many wrong codes; try again in a few minutes")

    def wrong(self, address: str) -> None:
        with self._lock:
            self._all.append((self._clock(), address))

    def _recent(self) -> list[tuple[float, str]]:
        since = self._clock() - GUESS_WINDOW_S
        while self._all and self._all[0][0] <= since:
            self._all.popleft()
        return list(self._all)


def register(app: Flask, socketio: SocketIO, hall: Hall) -> None:
    guesses = WrongGuesses()

    @app.post("/api/v1/devices/<device_id>/pairing-code")
    def pairing_code(device_id: str) -> Response:
        body = {**web_app._json_body(), "device": device_id}
        return web_app._reply(*run_command(hall, web_app._actor(hall), "pairing-code", body))

    @app.post("/api/v1/pair")
    def pair() -> Response:
        address = request.remote_addr or "?"
        guesses.check(address)
        code = web_app._json_body().get("code")
        try:
            return web_app._reply(200, pairing.redeem(hall, code))
        except HallError:
            guesses.wrong(address)
            raise
