"""The ticket's status page, `GET /t/<public_id>`: where the QR code on a ticket leads.

A phone-sized page with the number, the service, how many are ahead and the estimated wait, and
live, "please go to window 3" the moment the ticket is called. It shows numbers only, nothing
personal; the id in the URL is long and random, so tickets cannot be looked up by guessing. It
loads only from this server (no CDN), so it works on the hall's Wi-Fi without internet.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, make_response, render_template

from hall.errors import HallError
from hall.hall import Hall


def register(app: Flask, socketio: Any, hall: Hall) -> None:
    @app.get("/t/<public_id>")
    def ticket_status_page(public_id: str) -> Response:
        try:
            initial = hall.ticket_status(public_id)
            status = 200
        except HallError:
            initial, status = None, 404
        page = render_template("ticket.html", hall_name=hall.config.name,
                               public_id=public_id if initial else "", initial=initial)
        response = make_response(page, status)
        # The URL is the ticket's only key: keep it out of referrers, caches and search engines.
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Robots-Tag"] = "noindex"
        return response
