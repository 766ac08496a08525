"""The region users' HTTP API: login and logout, who am I, and the admin's management of halls
and users. Every route but login reads the session from `Authorization: Bearer <token>` and
checks it again; the answer to anything refused is the API's JSON error, and changes nothing.

    POST  /api/login {user, password}         -> {token, user, expires_at}
    POST  /api/logout
    GET   /api/me                             -> {user, halls}
    GET   /api/users          (admin)         -> {users}
    POST  /api/users          (admin)         {id, name, role, password, halls?}
    PATCH /api/users/<id>     (admin)         {name?, role?, halls?, disabled?, password?}
    GET   /api/halls                          -> {halls} (an admin's: every one)
    POST  /api/halls          (admin)         {id, name} -> {hall, token} (shown this once)
    PATCH /api/halls/<id>     (admin)         {name?, disabled?}
    POST  /api/halls/<id>/token (admin)       -> {token}: the old one stops working
"""

from __future__ import annotations

from typing import Any

import psycopg
from flask import Flask, Response, request
from flask_socketio import SocketIO

from hall.errors import HallError, bad_request
from region import db, users
from region.app import Region, reply
from region.server import HALL_ID
from region.users import User
from web.input import parse_json

UNAUTHORIZED = "未登录或登录已失效 · Not logged in, or the session ended"
NO_NUL = "文本不能包含 NUL 字符 · Text may not hold a NUL character"


def refuse_nul(value: Any) -> Any:
    """`value` unchanged, or `bad_request` if a string in it holds NUL: PostgreSQL's text
    cannot, and would fail the query (SQLite, the hall's, takes it; web/input.py lets it by)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise bad_request(NO_NUL)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return value


def current_user(region: Region) -> User:
    """The user of the request's session, or `unauthorized`."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else None
    with region.pool.connection() as conn:
        user = users.authenticate(conn, token)
    if user is None:
        raise HallError("unauthorized", UNAUTHORIZED)
    return user


def json_body() -> dict:
    raw = request.get_data(cache=True, parse_form_data=False)
    if not raw.strip():
        return {}
    body = refuse_nul(parse_json(raw))
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    return body


def register(app: Flask, socketio: SocketIO, region: Region) -> None:
    @app.before_request
    def no_nul_in_the_address() -> None:
        """A path or query with NUL (%00) is refused before a route reads it."""
        refuse_nul([request.path, *request.args.keys(), *request.args.values()])

    def sessions_changed(user_id: str | None = None) -> None:
        """Drop the sockets whose session has ended, and those of a changed user
        (region/views.py keeps them)."""
        drop = app.extensions.get("hallq_region_drop_ended")
        if drop:
            socketio.start_background_task(drop, user_id)

    @app.post("/api/login")
    def login() -> Response:
        body = json_body()
        answer = users.login(region.pool, region.config.tz, body.get("user"),
                             body.get("password"), request.remote_addr,
                             region.config.session_hours)
        return reply(200, answer)

    @app.post("/api/logout")
    def logout() -> Response:
        user = current_user(region)
        with region.pool.connection() as conn:
            users.logout(conn, user)
        sessions_changed()
        return reply(200, {"ok": True})

    @app.get("/api/me")
    def me() -> Response:
        user = current_user(region)
        with region.pool.connection() as conn:
            halls = users.visible_halls(conn, user)
        return reply(200, {"user": user.public(), "halls": halls})

    @app.get("/api/users")
    def user_list() -> Response:
        users.require_admin(current_user(region))
        with region.pool.connection() as conn:
            return reply(200, {"users": users.all_users(conn)})

    @app.post("/api/users")
    def user_add() -> Response:
        users.require_admin(current_user(region))
        body = json_body()
        with region.pool.connection() as conn:
            row = users.add_user(conn, body.get("id"), body.get("name"), body.get("role"),
                                 body.get("password"), body.get("halls", []))
        return reply(201, {"user": row})

    @app.patch("/api/users/<user_id>")
    def user_change(user_id: str) -> Response:
        users.require_admin(current_user(region))
        with region.pool.connection() as conn:
            row = users.change_user(conn, user_id, json_body())
        sessions_changed(user_id)
        return reply(200, {"user": row})

    @app.get("/api/halls")
    def hall_list() -> Response:
        user = current_user(region)
        with region.pool.connection() as conn:
            visible = users.visible_halls(conn, user)
            rows = conn.execute(
                "SELECT id, name, disabled FROM halls WHERE %(all)s OR id = ANY(%(ids)s)"
                " ORDER BY id", {"all": visible is None, "ids": visible or []}).fetchall()
        return reply(200, {"halls": [{"id": i, "name": n, "disabled": d} for i, n, d in rows]})

    @app.post("/api/halls")
    def hall_add() -> Response:
        users.require_admin(current_user(region))
        body = json_body()
        hall_id = body.get("id")
        if not isinstance(hall_id, str) or not HALL_ID.fullmatch(hall_id):
            raise bad_request("id: 1-32 lower-case letters, digits, - or _, starting with a "
                              "letter or digit")
        name = users.check_name(body.get("name"))
        try:
            with region.pool.connection() as conn:
                token = db.add_hall(conn, hall_id, name)
        except psycopg.errors.UniqueViolation:
            raise HallError("exists", f"已有营业厅 {hall_id} · There is already a hall "
                            f"{hall_id!r}") from None
        return reply(201, {"hall": {"id": hall_id, "name": name, "disabled": False},
                           "token": token})

    @app.patch("/api/halls/<hall_id>")
    def hall_change(hall_id: str) -> Response:
        users.require_admin(current_user(region))
        body = json_body()
        unknown = set(body) - {"name", "disabled"}
        if unknown:
            raise bad_request(f"unknown field {sorted(unknown)[0]!r}")
        changes: dict[str, Any] = {}
        if "name" in body:
            changes["name"] = users.check_name(body["name"])
        if "disabled" in body:
            if not isinstance(body["disabled"], bool):
                raise bad_request("disabled: true or false")
            changes["disabled"] = body["disabled"]
        with region.pool.connection() as conn, conn.transaction():
            for column, value in changes.items():  # names from the code above only
                conn.execute(f"UPDATE halls SET {column} = %s WHERE id = %s", [value, hall_id])
            row = conn.execute("SELECT id, name, disabled FROM halls WHERE id = %s",
                               [hall_id]).fetchone()
            if row is None:
                raise HallError("not_found", f"没有营业厅 · No hall {hall_id[:40]!r}")
        return reply(200, {"hall": {"id": row[0], "name": row[1], "disabled": row[2]}})

    @app.post("/api/halls/<hall_id>/token")
    def hall_token(hall_id: str) -> Response:
        users.require_admin(current_user(region))
        with region.pool.connection() as conn:
            token = db.rotate_token(conn, hall_id)
        if token is None:
            raise HallError("not_found", f"没有营业厅 · No hall {hall_id[:40]!r}")
        return reply(200, {"token": token})
