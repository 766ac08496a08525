"""The company's pages and their Socket.IO: every hall the user may see on one page, live; one
hall's drill-down; the reports; the admin's halls and users.

A browser logs in (POST /api/login), keeps the token for its tab and opens its socket with
`auth: {token}` (the drill-down adds `halls: [its hall]`). `session_access` is region.live's
rule of who may watch: the socket joins the rooms of the halls its user may see (an admin's is
the room of every hall) and gets `hall` updates as ingest commits. The page then asks for its
snapshot, and answers each update by asking for the changed halls' rows (`overview` {halls}),
at most a few times a second, so that every figure and alert is the server's
(region/overview.py).
Every Socket.IO command checks the session again; logout, a disabled user or a changed user
drops their sockets, and a sweep drops expired ones.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask, Response, render_template, request, send_from_directory
from flask_socketio import ConnectionRefusedError, SocketIO

from hall.errors import HallError, bad_request
from region import overview, users
from region.admin import refuse_nul
from region.app import Region
from region.users import User
from web.app import repeat
from web.commands import status_for
from web.input import checked

log = logging.getLogger("hallq.region.views")

HALL_STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
VENDOR = HALL_STATIC / "vendor"
# The hall supervisor's pages' own look and helpers (api, el)
SHARED_STATIC = {"hallq.css", "supervisor.css", "supervisor.js", "favicon.svg"}
SWEEP_SECONDS = 30  # expired sessions' sockets are dropped within this
MAX_HALLS_ASKED = 5000
PAGES = {"/": "overview", "/reports": "reports", "/admin": "admin"}


class Sockets:
    """The open sockets and whose session each is."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.lock = threading.Lock()

    def add(self, sid: str, user: User) -> None:
        with self.lock:
            self.users[sid] = user

    def remove(self, sid: str) -> None:
        with self.lock:
            self.users.pop(sid, None)

    def get(self, sid: str) -> User | None:
        with self.lock:
            return self.users.get(sid)

    def items(self) -> list[tuple[str, User]]:
        with self.lock:
            return list(self.users.items())


def register(app: Flask, socketio: SocketIO, region: Region) -> None:
    sockets = Sockets()
    _pages(app, region)

    def drop_ended(changed_user: str | None = None) -> None:
        """Disconnect the sockets whose session ended (logout, disabled, expired), and those
        of a user just changed (their halls may be others now, and a socket's rooms are chosen
        when it connects: the page reconnects into the right ones)."""
        open_ = sockets.items()
        if not open_:
            return
        with region.pool.connection() as conn:
            ended = users.ended_sessions(conn, sorted({u.token_key for _, u in open_}))
            changed = _changed_users(conn, {u.id: u for _, u in open_})
        changed.add(changed_user)
        for sid, user in open_:
            if user.token_key in ended or user.id in changed:
                sockets.remove(sid)
                socketio.server.disconnect(sid)

    app.extensions["hallq_region_drop_ended"] = drop_ended

    repeat(socketio, SWEEP_SECONDS, drop_ended, "dropping ended sessions failed")

    def session(sid: str) -> User:
        """The socket's user; `unauthorized` if its session ended."""
        user = sockets.get(sid)
        if user is None:
            raise HallError("unauthorized", users.SESSION_ENDED)
        return user

    def session_access(auth: Any) -> list[str] | None:
        """region.live's rule of who may watch which halls: a live session's user, their
        halls (None: every hall, an admin's). region.live joins the rooms; the page then asks
        for its snapshot (`overview`), so an update committed after that read still comes."""
        token = auth.get("token") if isinstance(auth, dict) else None
        wanted = auth.get("halls") if isinstance(auth, dict) else None
        if wanted is not None and not (isinstance(wanted, list) and len(wanted) <= MAX_HALLS_ASKED
                                       and all(isinstance(h, str) for h in wanted)):
            # refused here, before the socket is remembered (region.live refuses it too)
            raise ConnectionRefusedError("auth.halls: a list of hall ids")
        with region.pool.connection() as conn:
            user = users.authenticate(conn, token)
            if user is None:
                raise ConnectionRefusedError("unauthorized", {
                    "code": "unauthorized", "message": users.SESSION_ENDED})
            halls = users.visible_halls(conn, user)
        sockets.add(request.sid, user)
        return halls

    region.live_access = session_access

    @socketio.on("disconnect")
    def disconnect(*_: Any) -> None:
        sockets.remove(request.sid)

    def command(handler: Any) -> Any:
        """A Socket.IO command: the session checked again, the answer or the JSON error."""
        def run(*args: Any) -> dict:
            try:
                user = session(request.sid)
                if len(args) > 1:
                    raise bad_request("one argument: an object")
                body = args[0] if args else {}
                if body is None:
                    body = {}
                if not isinstance(body, dict):
                    raise bad_request("the argument must be an object")
                refuse_nul(checked(body))
                with region.pool.connection() as conn:
                    if not users.session_alive(conn, user):
                        sockets.remove(request.sid)
                        raise HallError("unauthorized", users.SESSION_ENDED)
                    return {"status": 200, **handler(conn, user, body)}
            except HallError as error:
                return {"status": status_for(error), **error.as_json()}
            except Exception:
                log.exception("socket command failed")
                return {"status": 500, "error": {"code": "internal",
                                                 "message": "服务器内部错误 · Internal error"}}
        run.__name__ = handler.__name__
        return run

    def overview_command(conn: Any, user: User, body: dict) -> dict:
        visible = users.visible_halls(conn, user)
        asked = body.get("halls")
        if asked is not None:
            if not isinstance(asked, list) or len(asked) > MAX_HALLS_ASKED or \
                    not all(isinstance(h, str) for h in asked):
                raise bad_request("halls: a list of hall ids")
            allowed = None if visible is None else set(visible)
            visible = [h for h in asked if allowed is None or h in allowed]
        return _overview(conn, region, visible, asked)

    def detail_command(conn: Any, user: User, body: dict) -> dict:
        hall_id = body.get("hall_id")
        if not isinstance(hall_id, str) or not users.may_see(conn, user, hall_id):
            raise HallError("not_found", "没有这个营业厅 · No such hall")
        return detail(conn, region, hall_id)

    socketio.on("overview")(command(overview_command))
    socketio.on("detail")(command(detail_command))


def _changed_users(conn: Any, by_id: dict[str, User]) -> set[str | None]:
    """Users whose role changed since their socket opened (here or in another process)."""
    rows = conn.execute("SELECT id, role FROM region_users WHERE id = ANY(%s)",
                        [sorted(by_id)]).fetchall()
    return {i for i, role in rows if by_id[i].role != role}


def _overview(conn: Any, region: Region, halls: list[str] | None,
              asked: list[str] | None) -> dict:
    rows = overview.hall_rows(conn, halls, region.config.silent_minutes)
    return {"now": time.time(), "silent_minutes": region.config.silent_minutes,
            "partial": asked is not None, "halls": rows,
            "alerts": [a for r in rows for a in r["alerts"]]}


def detail(conn: Any, region: Region, hall_id: str) -> dict:
    """One hall: its row, and today's figures per service (the hall's own day)."""
    from region import reports

    rows = overview.hall_rows(conn, [hall_id], region.config.silent_minutes)
    if not rows:
        raise HallError("not_found", "没有这个营业厅 · No such hall")
    row = rows[0]
    day = (row["status"] or {}).get("day") or time.strftime("%Y-%m-%d")
    try:
        today = reports.report(conn, "service", day, day, [hall_id])
    except HallError:
        today = {"rows": []}
    return {"hall": row, "day": day, "today": today["rows"],
            "silent_minutes": region.config.silent_minutes}


def _pages(app: Flask, region: Region) -> None:
    def page(name: str, **context: Any) -> Response:
        return Response(render_template(f"region_{name}.html", region_name=region.config.name,
                                        page=name, **context), mimetype="text/html")

    for path, name in PAGES.items():
        app.add_url_rule(path, f"page_{name}", lambda name=name: page(name))

    @app.get("/halls/<hall_id>")
    def hall_page(hall_id: str) -> Response:
        return page("hall", hall_id=hall_id[:40])

    @app.get("/vendor/<path:name>")
    def vendor(name: str) -> Response:
        """The Socket.IO client as the hall's pages get it: from the package, no CDN."""
        return send_from_directory(VENDOR, name, max_age=3600)

    @app.get("/hall-static/<name>")
    def hall_static(name: str) -> Response:
        if name not in SHARED_STATIC:
            raise HallError("not_found", "没有这个地址 · No such path")
        return send_from_directory(HALL_STATIC, name, max_age=3600)
