"""The supervisor's pages (/dashboard, /reports) and routes: stats, CSV, and the supervisor
commands over HTTP. The commands themselves live in `hall.supervision`; registering them in
EXTRA_COMMANDS makes them reachable over Socket.IO too (`command` event, same names).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_socketio import SocketIO

from hall import reports, supervision
from hall.auth import Actor
from hall.errors import HallError
from hall.hall import Hall
from hall.numbers import parse_whole
from web import app as web_app
from web.commands import EXTRA_COMMANDS, run_command

log = logging.getLogger("hallq.supervisor")

EXTRA_COMMANDS.update(supervision.COMMANDS)

WARM_FIRST_S = 30  # after start, store the closed days of the last weeks (reports stay fast)
WARM_EVERY_S = 3600
WARM_DAYS = 35


def register(app: Flask, socketio: SocketIO, hall: Hall) -> None:
    _pages(app, hall)
    _routes(app, hall)
    _warm_reports(socketio, hall)


# The core API's own token and body handling, so these routes answer exactly like it.
_actor = web_app._actor


def _require(hall: Hall, permission: str) -> Actor:
    actor = _actor(hall)
    hall.require(actor, permission)
    return actor


def _command(hall: Hall, name: str, **fields: Any) -> Response:
    body = web_app._json_body()
    body.update(fields)
    return web_app._reply(*run_command(hall, _actor(hall), name, body))


def _pages(app: Flask, hall: Hall) -> None:
    @app.get("/dashboard")
    def dashboard_page() -> str:
        return render_template("dashboard.html", hall_name=hall.config.name)

    @app.get("/reports")
    def reports_page() -> str:
        return render_template("reports.html", hall_name=hall.config.name)


def _range(hall: Hall) -> tuple[str, str]:
    today = datetime.fromtimestamp(hall.clock(), hall.config.tz).date().isoformat()
    start = request.args.get("from") or today
    end = request.args.get("to") or start
    try:
        return reports.check_range(start, end)
    except ValueError as error:
        raise HallError("bad_request", str(error)) from None


def _callback_id(text: str) -> int:
    number = parse_whole(text)
    if number is None:
        raise HallError("not_found", "没有这条回访记录 · No such callback")
    return number


def _routes(app: Flask, hall: Hall) -> None:
    @app.get("/api/v1/stats")
    def stats() -> Response:
        _require(hall, "stats")
        start, end = _range(hall)
        return jsonify(reports.build_report(hall.store, hall.config, start, end, hall.clock()))

    @app.get("/api/v1/stats.csv")
    def stats_csv() -> Response:
        _require(hall, "stats")
        start, end = _range(hall)
        report = reports.build_report(hall.store, hall.config, start, end, hall.clock())
        name = f"hallq-report-{start}" + (f"-{end}" if end != start else "") + ".csv"
        return Response(reports.report_csv(report), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.get("/api/v1/supervisor")
    def supervisor_data() -> Response:
        body = supervision.dashboard(hall, _actor(hall))
        if "hallq_shipper" in app.extensions:  # the link to the region, beside the devices
            body["region_link"] = app.extensions["hallq_shipper"].state()
        return jsonify(body)

    @app.post("/api/v1/notice")
    def notice() -> Response:
        return _command(hall, "notice")

    @app.post("/api/v1/issuing/<action>")
    def issuing(action: str) -> Response:
        if action not in ("pause", "resume"):
            raise HallError("not_found", "pause or resume")
        return _command(hall, f"{action}-issuing")

    @app.post("/api/v1/tickets/<ticket>/<action>")
    def ticket_action(ticket: str, action: str) -> Response:
        if action not in ("cancel", "transfer"):
            raise HallError("not_found", "cancel or transfer")
        return _command(hall, f"{action}-ticket", ticket=ticket)

    @app.get("/api/v1/callbacks/<callback_id>/phone")
    def callback_phone(callback_id: str) -> Response:
        return jsonify(supervision.callback_phone(hall, _actor(hall), _callback_id(callback_id)))

    @app.post("/api/v1/callbacks/<callback_id>/done")
    def callback_done(callback_id: str) -> Response:
        return _command(hall, "callback-done", id=_callback_id(callback_id))

    @app.post("/api/v1/staff")
    def staff_add() -> Response:
        return _command(hall, "staff-add")

    @app.post("/api/v1/staff/<staff_id>/<action>")
    def staff_action(staff_id: str, action: str) -> Response:
        if action not in ("disable", "enable", "reset-pin"):
            raise HallError("not_found", "disable, enable or reset-pin")
        return _command(hall, f"staff-{action}", id=staff_id)

    @app.post("/api/v1/lockouts/unlock")
    def unlock() -> Response:
        return _command(hall, "unlock")
    # force-close and callback need no route of their own: POST /api/v1/windows/{n}/force-close
    # and /api/v1/windows/{n}/callback reach them through the core window route.


def _warm_reports(socketio: SocketIO, hall: Hall) -> None:
    """Compute and keep the figures of recently closed days in the background, so that the
    first report of a month after a restart is as fast as the next one."""

    def loop() -> None:
        socketio.sleep(WARM_FIRST_S)
        while True:
            try:
                today = datetime.fromtimestamp(hall.clock(), hall.config.tz).date()
                start = (today - timedelta(days=WARM_DAYS)).isoformat()
                t0 = time.monotonic()
                reports.build_report(hall.store, hall.config, start,
                                     (today - timedelta(days=1)).isoformat(), hall.clock())
                log.info("report figures of closed days kept (%.1f s)", time.monotonic() - t0)
            except Exception:
                log.exception("keeping report figures failed")
            socketio.sleep(WARM_EVERY_S)

    socketio.start_background_task(loop)
