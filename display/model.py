"""What the display knows and decides, without pygame or sockets: its own copy of the hall's
state, whether it is connected, which calls were already announced, which call is highlighted.

It is fed by `client.live.LiveHall`'s callbacks (`on_state`, `on_event`, `on_connection`) and
hands calls to speak to `say(call, languages)`. A call is keyed by number + window + time +
recall count, so a recall is a new call (announced and highlighted again), and a call seen both
as an event and in a later snapshot is announced once.

After a reconnect (or a resync on a gap in `seq`) the missed `called` events are not delivered:
the calls come from the new snapshot's `recent_calls`. Those not announced yet are spoken only
if they are younger than `fresh_seconds` by the server's clock; older ones are just shown.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime

from client.live import apply_event

FRESH_SECONDS = 60
HIGHLIGHT_SECONDS = 8
KEYS_KEPT = 500  # far more than a snapshot's recent_calls (10): enough to never repeat a call
Say = Callable[[dict, list[str]], None]


def call_key(call: dict) -> tuple:
    return (call["number"], call["window"], call["at"], call.get("recalls", 0))


class DisplayModel:
    def __init__(self, say: Say | None = None, clock: Callable[[], float] = time.monotonic,
                 fresh_seconds: float = FRESH_SECONDS,
                 highlight_seconds: float = HIGHLIGHT_SECONDS) -> None:
        self.state: dict | None = None
        self.connected = False
        self.refused = False  # the server refuses our token (LiveHall's on_refused)
        # Bounded, since a display runs for months: call keys seen, and (for logs and tests)
        # the latest calls handed to `say` and those from a snapshot too old to speak.
        self.announced: dict[tuple, None] = {}
        self.spoken: deque[dict] = deque(maxlen=100)
        self.shown_only: deque[dict] = deque(maxlen=100)
        self._say = say
        self._clock = clock
        self._fresh = fresh_seconds
        self._highlight_for = highlight_seconds
        self._highlight: dict[tuple, float] = {}  # call key → clock time the highlight ends
        self._server_offset = 0.0  # server's epoch time minus ours
        self._lock = threading.RLock()
        self._version = 0  # grows on every change; a drawing copy is made once per version
        self._copy: tuple[int, dict | None, bool] = (-1, None, False)

    # -- LiveHall callbacks ---------------------------------------------------------------------
    def on_state(self, state: dict) -> None:
        with self._lock:
            self._version += 1
            self.state = copy.deepcopy(state)
            server_now = epoch(state["now"])
            self._server_offset = server_now - time.time()
            for call in reversed(state.get("recent_calls", [])):  # oldest first
                key = call_key(call)
                if key in self.announced:
                    continue
                self._remember(key)
                if server_now - epoch(call["at"]) <= self._fresh:
                    self._announce(call)
                else:
                    self.shown_only.append(call)

    def on_event(self, name: str, payload: dict) -> None:
        with self._lock:
            if self.state is None:
                return
            self._version += 1
            apply_event(self.state, name, payload)
            if name == "called":
                call = {k: v for k, v in payload.items() if k != "seq"}
                key = call_key(call)
                if key not in self.announced:
                    self._remember(key)
                    self._announce(call)

    def on_connection(self, connected: bool) -> None:
        with self._lock:
            self._version += 1
            self.connected = connected
            self.refused = self.refused and not connected

    def on_refused(self, reason: str) -> None:
        with self._lock:
            self._version += 1
            self.refused = True

    # -- reading ----------------------------------------------------------------------------------
    def _remember(self, key: tuple) -> None:
        self.announced[key] = None
        if len(self.announced) > KEYS_KEPT:
            del self.announced[next(iter(self.announced))]

    def _announce(self, call: dict) -> None:
        now = self._clock()
        self._highlight = {k: end for k, end in self._highlight.items() if end > now}
        self._highlight[call_key(call)] = now + self._highlight_for
        self.spoken.append(call)
        if self._say:
            self._say(call, self.languages())

    def languages(self) -> list[str]:
        return list((self.state or {}).get("hall", {}).get("languages") or ["zh", "en"])

    def highlighted(self, call: dict) -> float:
        """Seconds of highlight left for this call (0 when it is not highlighted)."""
        with self._lock:
            return max(0.0, self._highlight.get(call_key(call), 0.0) - self._clock())

    def server_time(self) -> float:
        """Now by the server's clock (epoch seconds): the display shows the hall's time."""
        return time.time() + self._server_offset

    def snapshot(self) -> tuple[dict | None, bool]:
        """A consistent copy to draw from while events keep arriving on other threads."""
        with self._lock:
            if self._copy[0] != self._version:
                self._copy = (self._version, copy.deepcopy(self.state), self.connected)
            return self._copy[1], self._copy[2]


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()
