"""The counter's web pages, served by the central server: `/counter` for the clerk,
`/evaluator?window=N` for the customer, and the clerk's figures `GET /api/v1/windows/N/summary`.

The pages talk to the server like every other device: Socket.IO through `/static/hallq.js`,
commands through the `command` event, so nothing here changes queue state.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify, render_template

from hall.auth import Actor
from hall.clerk_summary import clerk_summary
from hall.errors import HallError
from hall.hall import Hall
from web import app as web_app

AWAY_REASONS = ("暂离", "午休", "会议", "其他")


def register(app: Flask, socketio: Any, hall: Hall) -> None:
    """Add the counter and evaluator pages and the summary route to the server."""
    pages = Blueprint("counter_terminal", __name__, template_folder="templates",
                      static_folder="static", static_url_path="/counter-static")

    @pages.get("/counter")
    def counter() -> str:
        return render_template("counter_terminal/counter.html", hall_name=hall.config.name)

    @pages.get("/evaluator")
    def evaluator() -> str:
        return render_template("counter_terminal/evaluator.html", hall_name=hall.config.name)

    @pages.get("/api/v1/windows/<number>/summary")
    def summary(number: str) -> Response:
        actor = _actor(hall)
        window = _window(hall, number)
        if not (actor.is_manager or
                (actor.role in ("clerk", "counter") and actor.window == window)):
            raise HallError("forbidden", "无权查看 · Not allowed for this device or window")
        with hall.view() as v:
            staff_id = actor.staff_id if actor.role == "clerk" else \
                v.window_row(window)["staff_id"]
            return jsonify(clerk_summary(v, window, staff_id))

    app.register_blueprint(pages)


def _actor(hall: Hall) -> Actor:
    """The logged-in clerk or device: the summary is not for anonymous viewers."""
    _, actor = web_app._bearer(hall)
    if actor is None:
        raise HallError("unauthorized", "请先登录 · Log in first")
    return actor


def _window(hall: Hall, number: str) -> int:
    return hall.window_number(number)
