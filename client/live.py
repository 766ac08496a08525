"""A device's live copy of the hall, kept current over Socket.IO.

Every device program (kiosk, display, counter box, evaluator) holds one `LiveHall`: it connects
with the device's token, keeps reconnecting on its own, takes the `state` snapshot sent on every
connect, applies the events that follow, and fetches the snapshot again when it sees a gap in
`seq` (an event it missed). Commands go over the same connection with an acknowledgement.
The device's callbacks (`on_event`, `on_state`, `on_connection`) run one after another on a
thread of LiveHall's own, in the order the events were applied; they may send commands.

    hall = LiveHall("http://127.0.0.1:8080", token="demo-display-1-token",
                    on_event=lambda name, payload: print(name, payload))
    hall.start()
    hall.wait_for_state(5)
    print(hall.state["windows"][0]["status"])
    hall.command("issue", service="pay")   # as a kiosk
"""

from __future__ import annotations

import copy
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import engineio
import socketio
from engineio import packet

log = logging.getLogger("hallq.client")

RECENT_CALLS = 10
GAP_WAIT_SECONDS = 1.0
HEARTBEAT_SECONDS = 30.0  # while connected, a `heartbeat` command keeps last_seen fresh
RECONNECT_MAX_SECONDS = 3.0  # a server that went away is tried again within seconds
REFUSED_RETRY_SECONDS = 60.0  # a refused token is not fixed by hammering: try once a minute
TOKEN_REFUSED = "令牌无效 · Token refused — check this device's token"

EventHandler = Callable[[str, dict], None]


class CommandFailed(Exception):  # noqa: N818
    """The server refused a command (or could not be reached); `code` says why."""

    def __init__(self, code: str, message: str, answer: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.answer = answer or {}


class _InlineEngineIO(engineio.Client):
    """engine.io's client starts a thread for every message it receives; on a display that
    was most of the CPU a call costs it, and the threads ran the events in any order. Here
    the reading thread decodes each message itself. LiveHall's handlers only take a lock and
    update the copy; whatever may block (the device's callbacks, a command) runs elsewhere."""

    def _receive_packet(self, pkt: packet.Packet) -> None:
        if pkt.packet_type == packet.MESSAGE:
            self._trigger_event("message", pkt.data, run_async=False)
        else:
            super()._receive_packet(pkt)


class _SocketIO(socketio.Client):
    def _engineio_client_class(self) -> type:
        return _InlineEngineIO


class LiveHall:
    def __init__(self, server_url: str, token: str | None = None,
                 on_event: EventHandler | None = None,
                 on_state: Callable[[dict], None] | None = None,
                 on_connection: Callable[[bool], None] | None = None,
                 on_refused: Callable[[str], None] | None = None,
                 command_timeout: float = 5.0) -> None:
        self.server_url = server_url.rstrip("/")
        self.token = token
        self.state: dict | None = None
        self.connected = False
        self.last_seq = 0
        self.resyncs = 0
        # Set while the server refuses our token (a wrong, revoked or missing device token):
        # the server's reason. Devices show it, distinct from "server unreachable".
        self.refused: str | None = None
        self._on_refused = on_refused
        self._on_event = on_event
        self._on_state = on_state
        self._on_connection = on_connection
        self._timeout = command_timeout
        self._lock = threading.RLock()
        self._has_state = threading.Event()
        self._pending: dict[int, list] = {}  # seq -> the events of a command that came early
        self._gap_timer: threading.Timer | None = None
        self._stopping = False
        self._connections = 0  # counts connects, so an old heartbeat thread knows to stop
        # The device's callbacks run one after another, in the order the events were applied,
        # on a thread of their own: they may send commands, whose answers the reading thread
        # must be free to receive.
        self._callbacks: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._run_callbacks, name="hallq-callbacks", daemon=True).start()
        # The server's frames are its own JSON: websocket-client's pure-Python UTF-8 check
        # of every frame would cost a display a tenth of its CPU.
        self.sio = _SocketIO(reconnection=True, reconnection_delay=0.5,
                             reconnection_delay_max=RECONNECT_MAX_SECONDS,
                             randomization_factor=0.2,
                             websocket_extra_options={"skip_utf8_validation": True})
        self.sio.on("connect", self._connected)
        self.sio.on("connect_error", self._connect_error)
        self.sio.on("disconnect", self._disconnected)
        self.sio.on("state", self._take_state)
        self.sio.on("changes", self._changes)

    # -- connection ----------------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background; keeps trying while the server is not up yet."""
        threading.Thread(target=self._connect, name="hallq-connect", daemon=True).start()

    def _connect(self) -> None:
        # `changes`: each commit's events come as one message (docs/protocol.md); with no
        # token, the server takes us for an anonymous viewer.
        auth = {"token": self.token, "changes": True}
        # connect(retry=True) keeps trying while the server is down, but gives up at once when
        # the server answers with a refusal: try again here, slowly, until the token is fixed.
        while not self._stopping:
            try:
                self.sio.connect(self.server_url, auth=auth, transports=["websocket"],
                                 wait_timeout=5, retry=True)
                return
            except socketio.exceptions.ConnectionError as error:
                if self.refused is None:
                    log.warning("cannot connect to %s: %s", self.server_url, error)
            self._sleep(REFUSED_RETRY_SECONDS if self.refused else RECONNECT_MAX_SECONDS)

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < deadline:
            time.sleep(min(0.2, deadline - time.monotonic()))

    def _connect_error(self, data: Any = None) -> None:
        """The server refused the connection (a network failure comes here too, as a text)."""
        reason = data.get("message") if isinstance(data, dict) else None
        if reason != "unauthorized":
            return
        detail = data.get("data") if isinstance(data.get("data"), dict) else {}
        message = detail.get("message") or TOKEN_REFUSED
        if self.refused is None:
            log.error("%s (%s refused this device's token; trying again every %.0f s)",
                      TOKEN_REFUSED, self.server_url, REFUSED_RETRY_SECONDS)
        self.refused = message
        # python-socketio's own reconnect loop reads this before each wait: slow it down too.
        self.sio.reconnection_delay_max = REFUSED_RETRY_SECONDS
        self._later(self._on_refused, message)

    def stop(self) -> None:
        """Disconnect for good (a stopped LiveHall is not started again)."""
        self._stopping = True
        self.sio.disconnect()
        self._callbacks.put(None)

    def _later(self, callback: Callable | None, *args: Any) -> None:
        """Run a device's callback on the callbacks thread, after those queued before it."""
        if callback is not None:
            self._callbacks.put((callback, [args]))

    def _tell(self, events: list[tuple[str, dict]]) -> None:
        """The events just applied, to the device's on_event: one job (one wake-up of the
        callbacks thread) for the lot."""
        if events and self._on_event is not None:
            self._callbacks.put((self._on_event, events))

    def _run_callbacks(self) -> None:
        while (job := self._callbacks.get()) is not None:
            callback, calls = job
            for args in calls:
                try:
                    callback(*args)
                except Exception:  # the device's bug: log it, and go on with the next event
                    log.exception("callback %s failed",
                                  getattr(callback, "__name__", callback))

    def wait_for_state(self, timeout: float = 10) -> dict:
        """The first snapshot, once the device's own on_state has had it too."""
        # The server sends the snapshot from its connect handler, so it arrives just before the
        # connection is confirmed: wait for both.
        deadline = time.monotonic() + timeout
        if not self._has_state.wait(timeout):
            raise TimeoutError(f"no state from {self.server_url} within {timeout} s")
        while not self.sio.connected and time.monotonic() < deadline:
            time.sleep(0.01)
        # on_state runs on the callbacks thread: a display's screenshot drawn before it ran
        # showed no hall at all.
        told = threading.Event()
        self._later(told.set)
        told.wait(max(0.0, deadline - time.monotonic()))
        return self.state

    def _connected(self) -> None:
        if self.connected:
            return
        self.connected = True
        self._connections += 1
        if self.refused is not None:
            log.info("token accepted again by %s", self.server_url)
            self.refused = None
            self.sio.reconnection_delay_max = RECONNECT_MAX_SECONDS
        if self.token:  # a device (an anonymous viewer has no last_seen to keep)
            threading.Thread(target=self._heartbeats, args=(self._connections,),
                             name="hallq-heartbeat", daemon=True).start()
        self._later(self._on_connection, True)

    def _heartbeats(self, connection: int) -> None:
        """Every HEARTBEAT_SECONDS while this connection lasts: tell the server we are alive."""
        while True:
            time.sleep(HEARTBEAT_SECONDS)
            if not self.connected or self._stopping or connection != self._connections:
                return
            try:
                self.command("heartbeat")
            except CommandFailed as error:
                log.info("heartbeat not taken: %s", error.code)

    def _disconnected(self, *_: Any) -> None:
        self.connected = False
        self._later(self._on_connection, False)

    # -- state -----------------------------------------------------------------------------------
    def _take_state(self, state: dict) -> None:
        with self._lock:
            self.state = state
            self.last_seq = state["seq"]
            self._pending = {seq: events for seq, events in self._pending.items()
                             if seq > state["seq"]}
            if self._on_state:  # a copy: the events that follow change ours before it runs
                self._later(self._on_state, copy.deepcopy(state))
            self._tell(self._drain())
        self._has_state.set()

    def resync(self) -> None:
        """Fetch the whole snapshot again (after a gap in seq)."""
        self.resyncs += 1
        try:
            state = self.sio.call("state", timeout=self._timeout)
        except Exception as error:  # disconnected: the next connect sends a snapshot anyway
            log.info("resync failed: %s", error)
            return
        if state["seq"] >= self.last_seq:
            self._take_state(state)

    def _changes(self, message: dict) -> None:
        """One commit's events: one or more commands', each event carrying its command's seq.
        Commands are applied in seq order: with several server processes messages cross in
        Redis, so a later command can arrive first, and waits for the one before. Only a gap
        that stays open for a second is a miss (then the snapshot is fetched again). Events
        that come before the first snapshot wait for it."""
        with self._lock:
            for seq, events in by_command(message.get("events") or []):
                if seq > self.last_seq:
                    self._pending[seq] = events
            if self.state is None:
                return
            self._tell(self._drain())
            if self._pending and self._gap_timer is None:
                self._gap_timer = threading.Timer(GAP_WAIT_SECONDS, self._gap_still_open)
                self._gap_timer.daemon = True
                self._gap_timer.start()

    def _drain(self) -> list[tuple[str, dict]]:
        """Apply the commands that follow on from the state, in seq order; called with the
        lock held."""
        done = []
        while (events := self._pending.pop(self.last_seq + 1, None)) is not None:
            for name, payload in events:
                apply_event(self.state, name, payload)
                done.append((name, payload))
            self.state["seq"] = self.last_seq = self.last_seq + 1
        if not self._pending and self._gap_timer is not None:
            self._gap_timer.cancel()
            self._gap_timer = None
        return done

    def _gap_still_open(self) -> None:
        with self._lock:
            self._gap_timer = None
            missed = bool(self._pending)
            self._pending.clear()
        if missed:
            self.resync()

    # -- commands --------------------------------------------------------------------------------
    def command(self, name: str, **body: Any) -> dict:
        """Send a command; return the answer, or raise CommandFailed with the server's code."""
        # Our own flag, set by the connect event: python-socketio's `connected` turns true a
        # moment later, after the snapshot may already have come and a button been pressed.
        if not self.connected:
            raise CommandFailed("offline", "未连接服务器 · Not connected to the server")
        try:
            answer = self.sio.call("command", {"name": name, **body}, timeout=self._timeout)
        except socketio.exceptions.TimeoutError:
            raise CommandFailed("timeout", "服务器无响应 · The server did not answer") from None
        except socketio.exceptions.BadNamespaceError:
            raise CommandFailed("offline", "未连接服务器 · Not connected to the server") from None
        if "error" in answer:
            raise CommandFailed(answer["error"]["code"], answer["error"]["message"], answer)
        return answer


def by_command(events: list) -> list[tuple[int, list]]:
    """A `changes` message's events, grouped by their command's seq, in the order they came."""
    commands: dict[int, list] = {}
    for name, payload in events:
        seq = payload.get("seq")
        if isinstance(seq, int):
            commands.setdefault(seq, []).append((name, payload))
    return list(commands.items())


def apply_event(state: dict, name: str, payload: dict) -> None:
    """Bring a snapshot up to date with one event (the same rules as web/static/hallq.js)."""
    if name == "window":
        _replace(state["windows"], "number", payload["window"])
    elif name == "queue":
        for service in state["services"]:
            if service["id"] == payload["service"]:
                service.update({k: v for k, v in payload.items() if k not in ("seq", "service")})
    elif name == "called":
        call = {k: v for k, v in payload.items() if k != "seq"}
        state["recent_calls"] = [call, *state["recent_calls"]][:RECENT_CALLS]
    elif name == "hall":
        state["hall"] = payload["hall"]
    elif name == "notice":
        state["hall"]["notice"] = payload["text"]
    elif name == "device":
        _replace(state.setdefault("devices", []), "id", payload["device"])


def _replace(items: list[dict], key: str, new: dict) -> None:
    for i, item in enumerate(items):
        if item[key] == new[key]:
            items[i] = new
            return
    items.append(new)
