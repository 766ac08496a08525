"""What the clerk at one window sees beside the buttons: their day so far and their queue.

A read-model over one `View` (one read transaction): today's served count and average handling
time for the clerk (from the `finish` rows of the event log), the last tickets handled at the
window (finished, no-show or transferred away), and how many wait for each of the window's
services, how many were transferred to this very window, and the longest wait among them.
"""

from __future__ import annotations

import json

from hall.snapshot import View

LAST_TICKETS = 8
_OUTCOMES = {"finish": "done", "no_show": "no_show", "transfer": "transferred"}


def clerk_summary(view: View, window: int, staff_id: str | None) -> dict:
    """The counter page's figures for `window` and the clerk `staff_id` (None: nobody)."""
    return {
        "window": window,
        "staff_id": staff_id,
        "day": view.day,
        "now": view.iso(view.now),
        "today": _today(view, staff_id),
        "last_tickets": _last_tickets(view, window),
        "waiting": _waiting(view, window),
    }


def _today(view: View, staff_id: str | None) -> dict:
    if staff_id is None:
        return {"served": 0, "avg_handling_min": None, "no_show": 0, "transferred": 0}
    counts = dict(view.db.execute(
        "SELECT type, count(*) FROM events WHERE day = ? AND staff_id = ?"
        " AND type IN ('finish', 'no_show', 'transfer') GROUP BY type",
        [view.day, staff_id]).fetchall())
    avg_s = view.db.execute(
        "SELECT avg(json_extract(data, '$.handling_s')) FROM events"
        " WHERE day = ? AND staff_id = ? AND type = 'finish'", [view.day, staff_id]).fetchone()[0]
    return {
        "served": counts.get("finish", 0),
        "avg_handling_min": round(avg_s / 60, 1) if avg_s is not None else None,
        "no_show": counts.get("no_show", 0),
        "transferred": counts.get("transfer", 0),
    }


def _last_tickets(view: View, window: int) -> list[dict]:
    rows = view.db.execute(
        "SELECT type, at, ticket_id, data FROM events WHERE day = ? AND window = ?"
        " AND type IN ('finish', 'no_show', 'transfer') ORDER BY seq DESC LIMIT ?",
        [view.day, window, LAST_TICKETS]).fetchall()
    out = []
    for type_, at, ticket_id, data in rows:
        data = json.loads(data)
        ticket = view.ticket_row(ticket_id) or {}
        handling_s = data.get("handling_s")
        out.append({
            "number": data.get("number") or ticket.get("number"),
            "service": data.get("from_service") or data.get("service") or ticket.get("service"),
            "outcome": _OUTCOMES[type_],
            "at": view.iso(at),
            "handling_min": round(handling_s / 60, 1) if handling_s is not None else None,
            "to_service": data.get("to_service") if type_ == "transfer" else None,
            "to_window": data.get("to_window") if type_ == "transfer" else None,
        })
    return out


def _waiting(view: View, window: int) -> dict:
    """Waiting per service of the window, plus tickets transferred to this window. Read from
    the first in line of each of the window's queues, not from every waiting ticket: every
    counter page asks again after each ticket issued for its services."""
    config = view.config.window(window)
    heads = view.waiting_for(config)
    services = []
    for service_id in config.services:
        s = view.service(service_id)
        oldest = _oldest(view, [t for t in heads if t["service"] == service_id
                                and t["target_window"] is None])
        services.append({"id": s["id"], "prefix": s["prefix"], "name": s["name"],
                         "waiting": s["waiting"], "oldest_issued_at": oldest,
                         "longest_wait_min": s["longest_wait_min"]})
    sent_here = view.sent_to_window(window)
    oldest_all = min(heads, key=lambda t: (t["issued_at"], t["id"]), default=None)
    return {
        "services": services,
        "transferred_here": sent_here,
        "transferred_oldest_issued_at": _oldest(
            view, [t for t in heads if t["target_window"] == window]),
        "total": sum(s["waiting"] for s in services) + sent_here,
        "longest": None if oldest_all is None else {
            "number": oldest_all["number"],
            "issued_at": view.iso(oldest_all["issued_at"]),
            "minutes": round((view.now - oldest_all["issued_at"]) / 60, 1),
        },
    }


def _oldest(view: View, tickets: list[dict]) -> str | None:
    return view.iso(min((t["issued_at"] for t in tickets), default=None))
