"""The region's web faces: `create_app(config)` builds the Flask app and its Socket.IO.

Every part registers itself from `MODULES`: each module has `register(app, socketio, region)`
and may add a blueprint, routes and Socket.IO handlers. The `Region` holds what they share:
the config, the PostgreSQL pool, the Socket.IO server.
"""

from __future__ import annotations

import importlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, request
from flask_socketio import SocketIO
from psycopg_pool import ConnectionPool
from werkzeug.exceptions import HTTPException

from hall.errors import HallError
from region import db
from region.config import RegionConfig
from web.commands import status_for
from web.crosssite import add_security_headers, check_request, origin_allowed

log = logging.getLogger("hallq.region")

# Modules that add routes: each has `register(app, socketio, region)`.
MODULES: list[str] = [
    "region.ingest",  # POST /api/ingest: the halls' event logs and live status
    "region.live",  # Socket.IO: a room per hall, "hall" updates
    "region.admin",  # region users' login, sessions; halls and users managed by the admin
    "region.views",  # the live view of every hall, the drill-down, alerts (pages, Socket.IO);
    #                  its users' sessions are region.live's access rule
    "region.reports",  # reports across halls from daily_*, ranking, CSV
]
MAX_BODY_BYTES = 2 * 1024 * 1024  # an ingest batch's limit (~0.5 MB for 2000 events); no other
#                                   request takes more


@dataclass
class Region:
    """What the region's modules share."""

    config: RegionConfig
    pool: ConnectionPool
    socketio: SocketIO | None = None
    started: float = field(default_factory=time.time)
    live_access: Any = None  # region.live.Access: who may watch which halls


# The HTTP layer's own refusals, in the API's error format.
HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "the request could not be read"),
    404: ("not_found", "没有这个地址 · No such path"),
    405: ("bad_request", "不支持此方法 · Method not allowed on this path"),
    413: ("too_large", "请求过大 · The request body is too large"),
}


def create_app(config: RegionConfig, pool: ConnectionPool | None = None,
               message_queue: str | None = None) -> tuple[Flask, SocketIO]:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    # The page's own origin or public_url, as the hall's server: a page of another site may
    # not open a socket in a region user's name.
    socketio = SocketIO(app, async_mode="threading", ping_interval=5, ping_timeout=5,
                        cors_allowed_origins=lambda origin, environ: origin_allowed(
                            origin, environ, config.public_url),
                        max_http_buffer_size=64 * 1024,
                        message_queue=message_queue)
    region = Region(config, pool or db.pool(config.dsn, config.pool_size), socketio)
    app.extensions["hallq_region"] = region

    @app.get("/healthz")
    def healthz() -> Response:
        return reply(*health(region))

    @app.before_request
    def refuse_cross_site() -> None:
        check_request(request, config.public_url)

    app.after_request(add_security_headers)

    @app.errorhandler(HallError)
    def refused(error: HallError) -> Response:
        response = reply(status_for(error), error.as_json())
        if "retry_after" in error.extra:  # locked, too_many_attempts, busy
            response.headers["Retry-After"] = str(error.extra["retry_after"])
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        code, message = HTTP_ERRORS.get(error.code or 500, ("error", error.name))
        if request.path.startswith("/api/") or request.path == "/healthz":
            return reply(error.code or 500, error_body(code, message))
        return error

    for name in MODULES:
        importlib.import_module(name).register(app, socketio, region)
    return app, socketio


def region_of(app: Flask) -> Region:
    return app.extensions["hallq_region"]


def health(region: Region) -> tuple[int, dict]:
    """200 when the database answers; 503 when it does not."""
    body: dict[str, Any] = {"ok": True, "name": region.config.name,
                            "uptime_s": round(time.time() - region.started)}
    try:
        with region.pool.connection(timeout=5) as conn:
            body["halls"] = conn.execute("SELECT count(*) FROM halls").fetchone()[0]
    except Exception as error:  # any failure of the database is what this reports
        log.warning("healthz: the database does not answer: %s", error)
        body.update(ok=False, database=str(error).strip()[:200])
    return (200 if body["ok"] else 503), body


def error_body(code: str, message: str, **extra: Any) -> dict:
    return {"error": {"code": code, "message": message}, **extra}


def reply(status: int, body: dict) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response
