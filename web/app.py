"""The server's faces: the REST API, the Socket.IO endpoint, and the pages.

Every command goes through `web.commands.run_command`, whichever way it came in; every change
the hall publishes is broadcast to all connected devices.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
from flask import Flask, Response, jsonify, render_template, request
from flask_socketio import SocketIO, emit, join_room
from socketio.packet import Packet
from werkzeug.exceptions import HTTPException

from hall.auth import VIEWER, Actor
from hall.errors import HallError, bad_request
from hall.hall import Events, Hall
from hall.staff import member as staff_member
from web.commands import run_command, socket_command, status_for
from web.crosssite import add_security_headers, check_request, origin_allowed
from web.input import MAX_DEPTH, checked, is_text, parse_json
from web.refusals import RefusalLog, refusal

log = logging.getLogger("hallq.web")

TICK_SECONDS = 1.0

# Modules that add pages or routes: each has `register(app, socketio, hall)`.
PAGE_MODULES: list[str] = [
    "web.supervisor",  # /dashboard, /reports, /api/v1/stats, supervisor commands
    "web.ticket_page",  # GET /t/<public_id>: the ticket's status page (QR)
    "web.health",  # GET /healthz, device heartbeats
    "web.pairing",  # pairing codes: an evaluator page gets its token without a URL
    "counter_terminal.pages",
    "web.appointments",  # /api/v1/appointments: slots, book, cancel, check-in, list
]
# The pages the overview at / links to: (path, label).
PAGE_LINKS: list[tuple[str, str]] = [
    ("/dashboard", "值班看板 · Dashboard"),
    ("/reports", "统计报表 · Reports"),
    ("/counter", "柜台 · Counter"),
    ("/evaluator?window=1", "评价器设置 · Evaluator (pair with a code from the dashboard)"),
]


# The HTTP layer's own refusals on /api/, in the API's error format (docs/protocol.md).
HTTP_ERRORS: dict[int, tuple[str, str]] = {
    404: ("not_found", "没有这个地址 · No such API path"),
    405: ("bad_request", "不支持此方法 · Method not allowed on this path"),
    413: ("too_large", "请求过大 · The request body is too large"),
    415: ("unsupported_media_type",
          "请以 JSON 发送 · Send the body as application/json"),
}
MAX_BODY_BYTES = 64 * 1024  # commands are under 1 KB


def create_app(hall: Hall, message_queue: str | None = None) -> tuple[Flask, SocketIO]:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    socketio = SocketIO(
        app,
        async_mode="threading",  # set explicitly: engine.io would pick eventlet if installed
        # The page's own origin (whatever host name it was opened by) or public_url: a page
        # of another site may not open a socket in a hall browser's name.
        cors_allowed_origins=lambda origin, environ: origin_allowed(
            origin, environ, hall.config.public_url),
        ping_interval=5,  # a pulled cable is noticed within ~10 s, not the default 45 s
        ping_timeout=5,
        max_http_buffer_size=MAX_BODY_BYTES,  # a Socket.IO message is bounded as a body is
        message_queue=message_queue,
        json=_Json,
        serializer=_TextPacket,
        # An event is handled in its connection's own thread, as a request is in its own:
        # python-socketio would start a thread for each one, and a thread costs more than a
        # ticket's command. A device waits for each answer anyway; nothing calls a client.
        async_handlers=False,
    )
    shared = message_queue is not None
    hall.subscribe(lambda events: broadcast(socketio, events, shared))
    _api_routes(app, hall)
    _page_routes(app, hall)
    _socket_handlers(socketio, hall)
    for name in PAGE_MODULES:
        importlib.import_module(name).register(app, socketio, hall)
    app.extensions["hallq"] = {"hall": hall, "started": time.time()}
    return app, socketio


# Each connection sits in one of two rooms, chosen when it connects (docs/protocol.md):
EACH_EVENT = "each-event"  # one Socket.IO event per change, as DESIGN.md lists them
CHANGES = "changes"  # auth {"changes": true}: one `changes` event per commit, all its events


def broadcast(socketio: SocketIO, events: Events, shared: bool = False) -> None:
    """One commit's events (one or more commands') to every connection. A `changes` message is
    one frame for a device to read where the separate events are three or four: a display's
    CPU per call halves.

    Every device and page of ours takes `changes`, so the events one by one are encoded only
    when a connection here takes them, or when other server processes (`shared`, through the
    message queue) may hold such connections."""
    if shared or _anyone_in(socketio, EACH_EVENT):
        for event, payload in events:
            socketio.emit(event, payload, to=EACH_EVENT)
    socketio.emit("changes", {"seq": events[-1][1]["seq"], "events": events}, to=CHANGES)


def _anyone_in(socketio: SocketIO, room: str) -> bool:
    return next(socketio.server.manager.get_participants("/", room), None) is not None


def start_ticker(socketio: SocketIO, hall: Hall, stop: threading.Event | None = None) -> None:
    """Time passing: overdue-away alerts and the day's rollover, checked every second."""
    repeat(socketio, TICK_SECONDS, hall.tick, "tick failed", stop, first_at_once=True)


def repeat(socketio: SocketIO, seconds: float, work: Callable[[], Any], failure: str,
           stop: threading.Event | None = None, first_at_once: bool = False) -> None:
    """`work` every `seconds` in a background task, until `stop`; a failure is logged and
    the next round comes all the same (the hall's and the region's sweeps and ticks)."""
    stop = stop or threading.Event()

    def loop() -> None:
        if not first_at_once:
            socketio.sleep(seconds)
        while not stop.is_set():
            try:
                work()
            except Exception:
                log.exception(failure)
            socketio.sleep(seconds)

    socketio.start_background_task(loop)


def _unknown_event(*_: Any) -> dict:
    return {"error": {"code": "not_found", "message": "没有这个事件 · Unknown event"},
            "status": 404}


class _TextPacket(Packet):
    """The hall's events are JSON, never bytes. python-socketio otherwise walks every payload,
    value by value, for binary attachments before each emit: a tenth of the server's time on a
    call with fifteen devices connected."""

    uses_binary_events = False


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


_TOO_DEEP = _nested(MAX_DEPTH + 1)  # stands in for an argument nested too deep to parse


class _Json:
    """Socket.IO payloads keep Chinese as characters (smaller, readable in logs). orjson writes
    them, every commit's `changes` and every answer: a ticket's `changes` in 1.1 µs where the
    standard library takes 5.8 (measured). What orjson cannot write (a lone surrogate, say)
    the standard library still does."""

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        try:
            return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()
        except orjson.JSONEncodeError:
            return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))

    @staticmethod
    def loads(text: str, **kwargs: Any) -> Any:
        try:
            return json.loads(text)
        except RecursionError:
            # Nested too deep to parse: still answer it. An event is `["name", args...]`, so
            # the name can be read; its argument becomes one that the handler refuses.
            name = text[2:text.find('"', 2)] if text.startswith('["') else "command"
            return [name, _TOO_DEEP]


def _bearer(hall: Hall) -> tuple[str | None, Actor | None]:
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    return token, hall.authenticate(token) if token else None


def _actor(hall: Hall) -> Actor:
    token, actor = _bearer(hall)
    if token and actor is None:
        raise HallError("unauthorized", "登录已失效，请重新登录 · Unknown or expired token")
    return actor or VIEWER


def _json_body() -> dict:
    raw = request.get_data(cache=True, parse_form_data=False)
    if not raw.strip():
        return {}
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise HallError("bad_request", "the body must be a JSON object")
    return body


def _reply(status: int, body: dict) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _error(error: HallError) -> Response:
    response = _reply(status_for(error), error.as_json())
    if "retry_after" in error.extra:  # locked, too_many_attempts, busy
        response.headers["Retry-After"] = str(error.extra["retry_after"])
    return response


def _api_routes(app: Flask, hall: Hall) -> None:
    @app.before_request
    def refuse_cross_site() -> None:
        check_request(request, hall.config.public_url)

    app.after_request(add_security_headers)

    @app.errorhandler(HallError)
    def hall_error(error: HallError) -> Response:
        return _error(error)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        if not request.path.startswith("/api/"):
            return error
        status = error.code or 400
        code, message = HTTP_ERRORS.get(status, ("bad_request", error.description))
        response = _reply(status, {"error": {"code": code, "message": message}})
        allow = error.get_response().headers.get("Allow")  # 405 says which methods would do
        if allow:
            response.headers["Allow"] = allow
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Any:
        log.exception("unexpected error on %s", request.path)
        if not request.path.startswith("/api/"):
            return "Internal error", 500
        return _reply(500, {"error": {"code": "internal",
                                      "message": "服务器内部错误 · Internal error"}})

    def command(name: str, window: str | None = None) -> Response:
        return _reply(*run_command(hall, _actor(hall), name, _json_body(), window=window))

    @app.post("/api/v1/login")
    def login() -> Response:
        body = _json_body()
        result = hall.login(body.get("staff_id"), body.get("pin"), body.get("window"),
                            address=request.remote_addr)
        return _reply(200, result)

    @app.post("/api/v1/logout")
    def logout() -> Response:
        token, _ = _bearer(hall)
        return _reply(200, hall.logout(token))

    @app.get("/api/v1/me")
    def me() -> Response:
        actor = _actor(hall)
        if actor is VIEWER:
            raise HallError("unauthorized", "请先登录 · Log in first")
        with hall.store.read() as db:
            staff = staff_member(db, actor.staff_id, active_only=False)
        return _reply(200, {"role": actor.role, "window": actor.window,
                            "device": actor.device_id,
                            "staff": {"id": staff.id, "name": staff.name} if staff else None})

    @app.get("/api/v1/state")
    def state() -> Response:
        _actor(hall)  # a bad token is refused even here
        return _reply(200, hall.state())

    @app.post("/api/v1/tickets")
    def issue() -> Response:
        return command("issue")

    @app.get("/api/v1/tickets/<public_id>")
    def ticket(public_id: str) -> Response:
        return _reply(200, hall.ticket_status(public_id))

    @app.post("/api/v1/windows/<number>/rating")
    def rate(number: str) -> Response:
        return command("rate", window=number)

    @app.post("/api/v1/windows/<number>/<action>")
    def window_action(number: str, action: str) -> Response:
        return command(action, window=number)

    @app.post("/api/v1/devices/printer")
    def printer() -> Response:
        return command("printer")


def _page_routes(app: Flask, hall: Hall) -> None:
    @app.get("/")
    def overview() -> str:
        return render_template("overview.html", hall_name=hall.config.name, links=PAGE_LINKS)


SESSION_SWEEP_SECONDS = 30  # expired sessions' sockets are dropped within this


def _socket_handlers(socketio: SocketIO, hall: Hall) -> None:
    actors: dict[str, Actor] = {}
    refusals = RefusalLog()

    def drop_dead_sessions() -> None:
        """Disconnect the sockets whose staff session ended (logout, disabling, PIN reset,
        expiry). Every command checks the session anyway; this frees the connection."""
        for sid, actor in list(actors.items()):
            if actor.is_staff and not hall.session_alive(actor):
                actors.pop(sid, None)
                socketio.server.disconnect(sid)

    hall.on_sessions_ended(lambda: socketio.start_background_task(drop_dead_sessions))

    repeat(socketio, SESSION_SWEEP_SECONDS, drop_dead_sessions,
           "dropping ended sessions failed")

    @socketio.on("connect")
    def connect(auth: Any = None) -> None:
        auth = auth if isinstance(auth, dict) else {}
        token = auth.get("token")
        actor: Actor | None = VIEWER
        if token:  # a string that can be hashed (no lone surrogate), or nobody the hall knows
            actor = hall.authenticate(token) if is_text(token) else None
        if actor is None:
            refusals.refused(request.remote_addr, token)
            raise refusal()
        actors[request.sid] = actor
        # Joined before the snapshot is read, so that a command committed after the read still
        # reaches this device: clients sort events and snapshot by seq.
        join_room(CHANGES if auth.get("changes") is True else EACH_EVENT)
        hall.device_presence(actor, connected=True)
        emit("state", hall.state())

    @socketio.on("disconnect")
    def disconnect(*_: Any) -> None:
        actor = actors.pop(request.sid, None)
        if actor:
            hall.device_presence(actor, connected=False)

    # `command` and `state` are registered on python-socketio itself, as "*" is below: they
    # need no Flask request context, which Flask-SocketIO would build for every event (its
    # URL routing, its session) at a fifth of the CPU a ticket costs over Socket.IO.
    def command(sid: str, *args: Any) -> dict:
        # Exactly one argument, the body; anything else is still answered (with bad_request).
        actor = actors.get(sid, VIEWER)
        try:
            if len(args) != 1:
                raise bad_request("command takes one argument: {name, ...}")
            body = checked(args[0])
            if not hall.session_alive(actor):  # ended since the socket connected
                raise HallError("unauthorized", "登录已失效，请重新登录 · Session ended")
        except HallError as error:
            status, answer = status_for(error), error.as_json()
        else:
            status, answer = socket_command(hall, actor, body)
        return {**answer, "status": status}

    def state(*_: Any) -> dict:
        return hall.state()

    socketio.server.on("command", command)
    socketio.server.on("state", state)
    # Every other event is answered too. Registered on python-socketio itself: Flask-SocketIO's
    # catch-all wrapper fails on an event named "*" (it takes the sid for the event's name).
    socketio.server.on("*", _unknown_event)
