"""Refused Socket.IO connections: the reason goes back to the device, a line goes to the log.

A device with a wrong or revoked token must be told so (it shows "token refused", not "server
unreachable"), and the person reading the server's journal must see which device it is. The
log says where the attempt came from and what was tried, but never the token: its length, a
short hash prefix (to tell two tokens apart) and a guess at what it was meant to be. One line
per address per `EVERY_SECONDS`, with the count of attempts since, so a device retrying in a
loop cannot fill the journal.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from typing import Any

from flask_socketio import ConnectionRefusedError as SocketRefused

log = logging.getLogger("hallq.refused")

EVERY_SECONDS = 60.0
MAX_ADDRESSES = 1000  # the table of recent addresses stays small whatever comes
DEVICE_ROLES = ("kiosk", "display", "evaluator", "counter")
SESSION_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # what hall.auth.new_token() makes
UNAUTHORIZED = {"code": "unauthorized",
                "message": "令牌无效 · Token refused — check this device's token"}


def refusal() -> SocketRefused:
    """The exception a connect handler raises: the client reads `unauthorized` as the message
    and the code and the text above as its data."""
    return SocketRefused("unauthorized", UNAUTHORIZED)


def describe(token: Any) -> str:
    """What was tried, without the token: '43 chars, sha256 1a2b3c4d, like a staff session'."""
    if not isinstance(token, str):
        return f"a token of type {type(token).__name__}"
    digest = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:8]
    return f"{len(token)} chars, sha256 {digest}…, {_guess(token)}"


def _guess(token: str) -> str:
    if SESSION_TOKEN.fullmatch(token):
        return "like a staff login (ended or unknown)"
    lowered = token.lower()
    for role in DEVICE_ROLES:
        if role in lowered:
            return f"like a {role}'s device token"
    return "like no token of this hall"


class RefusalLog:
    """Logs refused connections, at most one line per address per EVERY_SECONDS."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, tuple[float, int]] = {}  # address -> (logged at, held back)

    def refused(self, address: str | None, token: Any) -> None:
        address = address or "?"
        now = self._clock()
        with self._lock:
            logged_at, held = self._last.get(address, (None, 0))
            if logged_at is not None and now - logged_at < EVERY_SECONDS:
                self._last[address] = (logged_at, held + 1)
                return
            if len(self._last) >= MAX_ADDRESSES:
                self._forget_old(now)
            self._last[address] = (now, 0)
        since = f" ({held} more from there in the last minute)" if held else ""
        log.warning("refused a device connection from %s: token %s%s",
                    address, describe(token), since)

    def _forget_old(self, now: float) -> None:
        for address, (logged_at, _) in list(self._last.items()):
            if now - logged_at >= EVERY_SECONDS:
                del self._last[address]
        if len(self._last) >= MAX_ADDRESSES:
            self._last.clear()
