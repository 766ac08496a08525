"""What a hall ships to the company's region server (issue 18), decided here; the thread that
ships is web/shipper.py.

The hall's event log goes in `seq` order, each event with only the fields its type allows
(`SHIPPED`): numbers, services, windows, times, scores. Phone numbers, names, IP addresses and
free text (away reasons, rating remarks, notices, callback notes) never leave the hall
(HALL-RULES #11). A type not listed goes with its seq, time and type alone, so the region's
copy of the log has no holes.

The cursor (the last seq the region acknowledged) and the database's epoch (a random id made
with the database, kept by its backups) are in the hall database's `shipping` table.
"""

from __future__ import annotations

import json
from typing import Any

from hall.store import Database

# Events per request: a day's backlog goes in bounded pieces (~1,400 events a day in a busy
# hall, ~0.5 MB). The region takes at most this many; a batch costs it per-batch work (a
# transaction, a commit's fsync, ~15 statements) besides each event's: measured 25 us of CPU
# an event in batches of 1000, 21 us in batches of 2000 (bench/bench_region.py).
BATCH = 2000

# Per event type, the keys of its `data` that may leave the hall.
_TICKET = ("number", "service")
SHIPPED: dict[str, tuple[str, ...]] = {
    "issue": (*_TICKET, "priority", "estimated_wait_min", "appointment"),
    "call": (*_TICKET, "priority", "recalls"),
    "recall": (*_TICKET, "priority", "recalls"),
    "start": _TICKET,
    "finish": (*_TICKET, "handling_s", "waited_s"),
    "no_show": _TICKET,
    "cancel": _TICKET,  # not its reason: a supervisor's own words
    "transfer": ("number", "from_service", "to_service", "to_window", "waiting"),
    "expire": ("count", "tickets"),
    "rate": ("number", "score"),  # not the remark the customer may have left
    "open": (),
    "close": (),
    "force_close": ("number", "away_minutes"),
    "away": (),  # not the reason: a clerk may type anything
    "back": ("away_minutes",),
    "away_overdue": ("minutes",),
    "issuing": ("paused",),
    "printer": ("state",),
    "login": ("role",),  # the client's address stays
    "logout": (),
    "appointment_book": ("id", "service", "slot_start"),  # never the phone, masked or not
    "appointment_cancel": ("id", "service"),
    "appointment_no_show": ("count", "ids"),
    "appointment_purge": ("count",),
    "callback": ("id",),  # the phone stays
    "callback_done": ("id",),
    "staff_add": ("role",),
}
# The columns of an event that go: the staff id is the hall's own employee number; the
# `actor` column (a device id or a role) stays.
COLUMNS = ("seq", "at", "day", "type", "window", "ticket_id", "staff_id")


def shipped_data(type_: str, data: dict[str, Any]) -> dict[str, Any]:
    """The part of an event's data that may leave the hall."""
    return {key: data[key] for key in SHIPPED.get(type_, ()) if key in data}


def read_batch(db: Database, after: int, limit: int = BATCH) -> list[dict[str, Any]]:
    """The events after seq `after`, in order, as shipped."""
    rows = db.execute(
        "SELECT seq, at, day, type, window, ticket_id, staff_id, data FROM events"
        " WHERE seq > ? ORDER BY seq LIMIT ?", [after, limit]).fetchall()
    return [{"seq": seq, "at": at, "day": day, "type": type_, "window": window,
             "ticket_id": ticket_id, "staff_id": staff_id,
             "data": shipped_data(type_, json.loads(data) if data else {})}
            for seq, at, day, type_, window, ticket_id, staff_id, data in rows]


def backlog(db: Database, after: int) -> int:
    """How many events wait to be shipped."""
    return db.execute("SELECT count(*) FROM events WHERE seq > ?", [after]).fetchone()[0]


def cursor(db: Database) -> tuple[int, str]:
    """(the last seq the region acknowledged, the database's epoch)."""
    acked, epoch = db.execute("SELECT acked_seq, epoch FROM shipping WHERE id = 1").fetchone()
    return acked, epoch


def advance(db: Database, acked: int) -> None:
    """The region has committed every event up to `acked`. Never moves back: an ack of an
    older request arriving late changes nothing."""
    db.execute("UPDATE shipping SET acked_seq = max(acked_seq, ?) WHERE id = 1", [acked])


def rewind(db: Database, to: int) -> None:
    """The region asks for events from `to + 1` on (it has fewer than the hall thought)."""
    db.execute("UPDATE shipping SET acked_seq = ? WHERE id = 1", [to])


def status_summary(state: dict[str, Any]) -> dict[str, Any]:
    """The hall's live figures for the company's view, from its state snapshot (the one the
    devices get): waiting and predicted wait per service against the target, windows open /
    away / overdue, devices offline, issuing paused. No names, no ticket details."""
    services = [{
        "id": s["id"], "waiting": s["waiting"], "longest_wait_min": s["longest_wait_min"],
        "estimated_wait_min": s["estimated_wait_min"],
        "target_wait_minutes": s["target_wait_minutes"]} for s in state["services"]]
    windows = state["windows"]
    away = [w for w in windows if w["status"] == "away"]
    hall = state["hall"]
    return {
        "seq": state["seq"], "now": state["now"], "day": hall["day"], "open": hall["open"],
        "issuing": hall["issuing"], "issuing_reason": hall["issuing_reason"],
        "waiting": sum(s["waiting"] for s in services),
        "longest_wait_min": max((s["longest_wait_min"] or 0 for s in services), default=0),
        "services": services,
        "windows": {"total": len(windows),
                    "open": sum(w["status"] != "closed" for w in windows),
                    "away": len(away),
                    "overdue": sum(bool(w["away"] and w["away"]["overdue"]) for w in away)},
        "devices": {"total": len(state["devices"]),
                    "offline": [d["id"] for d in state["devices"] if not d["online"]]},
    }
