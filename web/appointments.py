"""The appointments API (预约): slots, booking, cancelling, the kiosk's check-in, the day's list.

The commands live in `hall.appointments`; registering them in EXTRA_COMMANDS makes them
reachable over Socket.IO too (`command` event: `book`, `cancel-appointment`, `check-in`).
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_socketio import SocketIO

from hall import appointments
from hall.hall import Hall
from web import app as web_app
from web.commands import CREATING_COMMANDS, EXTRA_COMMANDS, HTTP_STATUS, run_command

EXTRA_COMMANDS.update(appointments.COMMANDS)
CREATING_COMMANDS.update({"book", "check-in"})
HTTP_STATUS.update(unknown_appointment=404, unknown_slot=404)

_actor = web_app._actor
_reply = web_app._reply


def register(app: Flask, socketio: SocketIO, hall: Hall) -> None:
    def command(name: str, **fields: str) -> Response:
        body = {**web_app._json_body(), **fields}
        return _reply(*run_command(hall, _actor(hall), name, body))

    @app.get("/api/v1/appointments/slots")
    def appointment_slots() -> Response:
        result = appointments.slots(hall, _actor(hall), request.args.get("service"),
                                    request.args.get("date"))
        return _reply(200, result)

    @app.post("/api/v1/appointments")
    def appointment_book() -> Response:
        return command("book")

    @app.get("/api/v1/appointments")
    def appointment_list() -> Response:
        return _reply(200, appointments.listing(hall, _actor(hall), request.args.get("date")))

    @app.delete("/api/v1/appointments/<code>")
    def appointment_cancel(code: str) -> Response:
        fields = {"code": code}
        if request.args.get("date") is not None:
            fields["date"] = request.args["date"]
        return command("cancel-appointment", **fields)

    @app.post("/api/v1/appointments/<code>/check-in")
    def appointment_check_in(code: str) -> Response:
        return command("check-in", code=code)
