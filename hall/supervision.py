"""The supervisor's commands (科室负责人): notice, issuing, waiting tickets, windows, staff; and
the callbacks clerks record for customers who could not be served (HALL-RULES.md #10).

Each command is one `hall.run` transaction that logs one event, like the core commands in
`hall.hall`. `COMMANDS` maps command names to `handler(hall, actor, body) -> dict`, the shape
`web.commands.EXTRA_COMMANDS` takes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hall import auth, logins, reports, staff
from hall.auth import Actor
from hall.config import STAFF_ROLES, HallConfig
from hall.errors import HallError, bad_request
from hall.numbers import is_digits, parse_whole
from hall.store import Database, insert, one, to_json, update

if TYPE_CHECKING:
    from hall.hall import Command, Hall

NOTICE_MAX = 200
REASON_MAX = 60
NOTE_MAX = 200
NAME_MAX = 20

SCHEMA = """
CREATE TABLE IF NOT EXISTS callbacks (
    id INTEGER PRIMARY KEY,
    window INTEGER,
    staff_id TEXT,
    phone TEXT NOT NULL,
    name TEXT,
    note TEXT,
    created_at REAL NOT NULL,
    done_at REAL,
    done_by TEXT
);
CREATE INDEX IF NOT EXISTS callbacks_open ON callbacks (done_at);
-- The reports look up the calls of the few tickets that were called more than once, and the
-- rare events (transfers, force-closes, logins) of a range of days.
CREATE INDEX IF NOT EXISTS events_by_ticket ON events (ticket_id);
CREATE INDEX IF NOT EXISTS events_by_type ON events (type, day);
"""


def prepare(db: Database, config: HallConfig) -> None:
    """At Hall start: the tables this module and the staff directory need."""
    staff.prepare(db, config)
    staff.execute_script(db, SCHEMA)
    staff.execute_script(db, reports.CACHE_SCHEMA)


# -- hall-wide ------------------------------------------------------------------------------
def set_notice(hall: Hall, actor: Actor, body: dict) -> dict:
    """The scrolling notice on the lobby display (HALL-RULES.md #14); empty text clears it."""
    hall.require(actor, "manage")
    text = body.get("text")
    if not isinstance(text, str) or len(text) > NOTICE_MAX:
        raise bad_request(f"text: a text of at most {NOTICE_MAX} characters")
    text = " ".join(text.split())

    def run(cmd: Command) -> dict:
        _put_setting(cmd, "notice", text)
        cmd.log("notice", staff_id=actor.staff_id, text=text)
        cmd.notify("notice", {"text": text})
        cmd.notify("hall", {"hall": cmd.hall()})
        return {"hall": cmd.hall()}

    return hall.run(actor, body.get("request_id"), run)


def _issuing(paused: bool) -> Callable[[Hall, Actor, dict], dict]:
    def command(hall: Hall, actor: Actor, body: dict) -> dict:
        hall.require(actor, "manage")

        def run(cmd: Command) -> dict:
            _put_setting(cmd, "issuing_paused", paused)
            cmd.log("issuing", staff_id=actor.staff_id, paused=paused)
            cmd.notify("hall", {"hall": cmd.hall()})
            return {"hall": cmd.hall()}

        return hall.run(actor, body.get("request_id"), run)

    command.__doc__ = "Pause ticket issuing." if paused else "Resume ticket issuing."
    return command


def _put_setting(cmd: Command, key: str, value: Any) -> None:
    cmd.db.execute("INSERT INTO settings (key, value) VALUES (?, ?)"
                   " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                   [key, to_json(value)])


# -- waiting tickets --------------------------------------------------------------------------
def cancel_ticket(hall: Hall, actor: Actor, body: dict) -> dict:
    """Take a waiting ticket out of the queue, with a reason that the report keeps."""
    hall.require(actor, "manage")
    reason = _reason(body)

    def run(cmd: Command) -> dict:
        ticket = _waiting_ticket(cmd, body.get("ticket"))
        ticket = cmd.set_ticket(ticket["id"], status="cancelled", closed_reason=reason,
                                finished_at=cmd.now)
        cmd.log("cancel", ticket_id=ticket["id"], staff_id=actor.staff_id,
                number=ticket["number"], service=ticket["service"], reason=reason)
        cmd.notify_ticket(ticket)
        cmd.notify_queue(ticket["service"])
        return {"ticket": cmd.ticket(ticket)}

    return hall.run(actor, body.get("request_id"), run)


def transfer_ticket(hall: Hall, actor: Actor, body: dict) -> dict:
    """Move a waiting ticket to another service or window; it keeps its number and issue time."""
    hall.require(actor, "manage")
    reason = _reason(body)
    to_service, to_window = body.get("service"), body.get("window")
    if (to_service is None) == (to_window is None):
        raise bad_request("give either service or window")
    service = hall.service_named(to_service).id if to_service is not None else None
    target = hall.window_number(to_window) if to_window is not None else None

    def run(cmd: Command) -> dict:
        ticket = _waiting_ticket(cmd, body.get("ticket"))
        from_service = ticket["service"]
        if target is not None:
            if cmd.window_row(target)["status"] == "closed":
                raise HallError("window_closed", f"{target}号窗口未开 · Window {target} is closed")
            changes = {"target_window": target}
        else:
            changes = {"service": service, "target_window": None}
        ticket = cmd.set_ticket(ticket["id"], transfers=ticket["transfers"] + 1, **changes)
        cmd.log("transfer", ticket_id=ticket["id"], staff_id=actor.staff_id,
                number=ticket["number"], from_service=from_service,
                to_service=ticket["service"], to_window=target, reason=reason,
                waiting=True)
        cmd.notify_ticket(ticket)
        for service_id in sorted({from_service, ticket["service"]}):
            cmd.notify_queue(service_id)
        if target is not None:
            cmd.notify_window(target)
        return {"ticket": cmd.ticket(ticket)}

    return hall.run(actor, body.get("request_id"), run)


def _reason(body: dict) -> str:
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > REASON_MAX:
        raise bad_request(f"reason: a text of 1 to {REASON_MAX} characters")
    return reason.strip()


def _waiting_ticket(cmd: Command, ticket: Any) -> dict:
    """A waiting ticket by id, or by today's number (`A007`)."""
    if isinstance(ticket, str):
        ticket = parse_whole(ticket.strip()) or ticket
    if isinstance(ticket, int) and not isinstance(ticket, bool):
        if not 0 < ticket <= 2**63 - 1:  # beyond SQLite's integers: no such ticket
            raise HallError("unknown_ticket", "没有这张票 · No such ticket")
        row = cmd.ticket_row(ticket)
    elif isinstance(ticket, str):
        row = one(cmd.db, "SELECT * FROM tickets WHERE day = ? AND number = ?",
                  [cmd.day, ticket.strip().upper()])
    else:
        raise bad_request("ticket: a ticket id or today's number such as A007")
    if row is None:
        raise HallError("unknown_ticket", "没有这张票 · No such ticket")
    if row["status"] != "waiting":
        raise HallError("wrong_state", f"{row['number']} 不在等候中 · {row['number']} is "
                        f"not waiting ({row['status']})")
    return row


# -- windows ---------------------------------------------------------------------------------
def force_close(hall: Hall, actor: Actor, body: dict) -> dict:
    """Close a window whose clerk is gone: away ends, a called or serving customer goes back
    to the queue with the original issue time (so the first free window takes them next)."""
    hall.require(actor, "manage")
    number = hall.window_number(body.get("window"))
    reason = body.get("reason") or "负责人关闭 · closed by supervisor"
    if not isinstance(reason, str) or len(reason) > REASON_MAX:
        raise bad_request(f"reason: a text of at most {REASON_MAX} characters")

    def run(cmd: Command) -> dict:
        row = cmd.window_row(number)
        if row["status"] == "closed":
            raise HallError("window_closed", "窗口已关闭 · The window is already closed")
        away_minutes = round(hall.end_away(cmd, row), 2) if row["status"] == "away" else None
        ticket = cmd.ticket_row(row["ticket_id"])
        cmd.set_window(number, status="closed", staff_id=None, opened_at=None, ticket_id=None)
        if ticket is not None:
            ticket = cmd.set_ticket(ticket["id"], status="waiting", window=None, called_at=None,
                                    started_at=None, staff_id=None, recalls=0,
                                    target_window=None)
        cmd.log("force_close", window=number, staff_id=row["staff_id"],
                ticket_id=ticket["id"] if ticket else None, reason=reason,
                by=actor.staff_id, away_minutes=away_minutes,
                number=ticket["number"] if ticket else None)
        cmd.notify_window(number)
        if ticket is not None:
            cmd.notify_ticket(ticket)
        hall.notify_service_queues(cmd, number)
        return {"window": cmd.window(number),
                "ticket": cmd.ticket(ticket) if ticket else None}

    return hall.run(actor, body.get("request_id"), run)


# -- callbacks (HALL-RULES.md #10, #11) -------------------------------------------------------
def mask_phone(phone: str) -> str:
    """138****5678: enough to tell records apart, not enough to ring."""
    digits = phone
    if len(digits) >= 7:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return "*" * max(0, len(digits) - 2) + digits[-2:]


def mask_name(name: str | None) -> str | None:
    return name[0] + "*" * (len(name) - 1) if name else None


def parse_phone(value: Any) -> str:
    if not isinstance(value, str):
        raise bad_request("phone: a phone number")
    phone = re.sub(r"[\s-]", "", value)
    if not re.fullmatch(r"\+?\d{5,20}", phone):
        raise bad_request("phone: 5 to 20 digits (spaces and - allowed)")
    return phone


def _field(body: dict, key: str, command: str) -> Any:
    """`customer_name` / `staff_name`, or plain `name` over HTTP. Over Socket.IO `name` is
    the command's own name (`{"name": "callback", ...}`), so it is not taken for a person."""
    value = body.get(f"{key}_name")
    if value is None and body.get("name") != command:
        value = body.get("name")
    return value


def _optional_text(body: dict, key: str, limit: int) -> str | None:
    value = body.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise bad_request(f"{key}: a text of at most {limit} characters")
    return value.strip()


def record_callback(hall: Hall, actor: Actor, body: dict) -> dict:
    """A clerk (of that window) or a supervisor records a customer to call back."""
    number = hall.window_number(body.get("window"))
    hall.require(actor, "callback", number)
    phone = parse_phone(body.get("phone"))
    name = _optional_text({"name": _field(body, "customer", "callback")}, "name", NAME_MAX)
    note = _optional_text(body, "note", NOTE_MAX)

    def run(cmd: Command) -> dict:
        callback_id = insert(cmd.db, "callbacks", {
            "window": number, "staff_id": actor.staff_id, "phone": phone, "name": name,
            "note": note, "created_at": cmd.now})
        cmd.log("callback", window=number, staff_id=actor.staff_id, id=callback_id,
                phone=mask_phone(phone))
        # Everyone connected hears this, the public display too: no contact data in it.
        cmd.notify("callback", {"id": callback_id, "window": number, "done": False})
        return {"callback": _callback_json(cmd, _callback_row(cmd, callback_id))}

    return hall.run(actor, body.get("request_id"), run)


def callback_done(hall: Hall, actor: Actor, body: dict) -> dict:
    """The supervisor called the customer back: the number is kept masked only from now on."""
    hall.require(actor, "manage")
    callback_id = body.get("id")
    if isinstance(callback_id, bool) or not isinstance(callback_id, int):
        raise bad_request("id: the callback's id")

    def run(cmd: Command) -> dict:
        row = _callback_row(cmd, callback_id)
        if row["done_at"] is not None:
            raise HallError("wrong_state", "已处理 · Already done")
        update(cmd.db, "callbacks", "id", callback_id, {
            "done_at": cmd.now, "done_by": actor.staff_id, "phone": mask_phone(row["phone"]),
            "name": None})
        cmd.log("callback_done", window=row["window"], staff_id=actor.staff_id,
                id=callback_id)
        cmd.notify("callback", {"id": callback_id, "window": row["window"], "done": True})
        return {"callback": _callback_json(cmd, _callback_row(cmd, callback_id))}

    return hall.run(actor, body.get("request_id"), run)


def _callback_row(cmd: Any, callback_id: int) -> dict:
    row = None
    if 0 < callback_id <= 2**63 - 1:  # SQLite's integers; a larger one names no callback
        row = one(cmd.db, "SELECT * FROM callbacks WHERE id = ?", [callback_id])
    if row is None:
        raise HallError("not_found", "没有这条回访记录 · No such callback")
    return row


def _callback_json(view: Any, row: dict) -> dict:
    clerk = staff.member(view.db, row["staff_id"], active_only=False)
    return {"id": row["id"], "window": row["window"],
            "staff": {"id": clerk.id, "name": clerk.name} if clerk else None,
            "phone": mask_phone(row["phone"]), "name": mask_name(row["name"]),
            "note": row["note"], "created_at": view.iso(row["created_at"]),
            "done": row["done_at"] is not None, "done_at": view.iso(row["done_at"])}


def callback_phone(hall: Hall, actor: Actor, callback_id: int) -> dict:
    """The full number of an open callback, for the supervisor who is about to ring it."""
    hall.require(actor, "manage")
    with hall.view() as v:
        row = _callback_row(v, callback_id)
        if row["done_at"] is not None:
            raise HallError("wrong_state", "已处理，号码已隐去 · Done; the number was erased")
        return {"id": row["id"], "phone": row["phone"], "name": row["name"]}


# -- staff -----------------------------------------------------------------------------------
def _pin(value: Any) -> str:
    if not is_digits(value, 4, 12):
        raise bad_request("pin: 4 to 12 digits")
    return value


def _may_manage_role(actor: Actor, role: str) -> None:
    """A supervisor manages clerks; supervisors and admins are the admin's to manage."""
    if role != "clerk" and actor.role != "admin":
        raise HallError("forbidden", "只有管理员可管理负责人和管理员 · "
                        "Only an admin manages supervisors and admins")


def _staff_row(cmd: Command, staff_id: Any) -> dict:
    row = one(cmd.db, "SELECT * FROM staff WHERE id = ?", [staff_id]) \
        if isinstance(staff_id, str) else None
    if row is None:
        raise HallError("not_found", f"没有这个工号 · No staff member {staff_id!r}")
    return row


def _staff_event(cmd: Command, staff_id: str) -> dict:
    row = _staff_row(cmd, staff_id)
    member = {"id": row["id"], "name": row["name"], "role": row["role"],
              "active": bool(row["active"])}
    cmd.notify("staff", {"staff": member})
    return {"staff": member}


def add_staff(hall: Hall, actor: Actor, body: dict) -> dict:
    hall.require(actor, "manage")
    staff_id, name = body.get("id"), _field(body, "staff", "staff-add")
    role = body.get("role") or "clerk"
    if not isinstance(staff_id, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", staff_id):
        raise bad_request("id: 1 to 32 letters, digits, - or _")
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX:
        raise bad_request(f"name: a text of 1 to {NAME_MAX} characters")
    if role not in STAFF_ROLES:
        raise bad_request(f"role: one of {', '.join(STAFF_ROLES)}")
    _may_manage_role(actor, role)
    pin_hash = auth.hash_pin(_pin(body.get("pin")))  # slow on purpose: outside the transaction

    def run(cmd: Command) -> dict:
        if one(cmd.db, "SELECT 1 AS x FROM staff WHERE id = ?", [staff_id]):
            raise HallError("staff_exists", f"工号 {staff_id} 已存在 · {staff_id} exists")
        insert(cmd.db, "staff", {"id": staff_id, "name": name.strip(), "role": role,
                                 "pin_hash": pin_hash, "active": 1, "source": "dashboard",
                                 "changed_at": cmd.now})
        cmd.log("staff_add", staff_id=staff_id, by=actor.staff_id, role=role,
                name=name.strip())
        return _staff_event(cmd, staff_id)

    return hall.run(actor, body.get("request_id"), run)


def _set_active(active: bool) -> Callable[[Hall, Actor, dict], dict]:
    def command(hall: Hall, actor: Actor, body: dict) -> dict:
        hall.require(actor, "manage")
        staff_id = body.get("id")
        if staff_id == actor.staff_id:
            raise HallError("forbidden", "不能停用自己 · You cannot disable yourself")

        def run(cmd: Command) -> dict:
            row = _staff_row(cmd, staff_id)
            _may_manage_role(actor, row["role"])
            update(cmd.db, "staff", "id", staff_id, {"active": int(active),
                                                     "changed_at": cmd.now})
            if not active:  # their tokens stop working now, not at their next login
                _end_sessions(cmd, staff_id)
            cmd.log("staff_enable" if active else "staff_disable", staff_id=staff_id,
                    by=actor.staff_id)
            return _staff_event(cmd, staff_id)

        return hall.run(actor, body.get("request_id"), run)

    return command


def reset_pin(hall: Hall, actor: Actor, body: dict) -> dict:
    hall.require(actor, "manage")
    staff_id = body.get("id")
    pin_hash = auth.hash_pin(_pin(body.get("pin")))

    def run(cmd: Command) -> dict:
        row = _staff_row(cmd, staff_id)
        _may_manage_role(actor, row["role"])
        update(cmd.db, "staff", "id", staff_id, {"pin_hash": pin_hash, "changed_at": cmd.now})
        # Whoever knew the old PIN is out, and the owner may log in at once with the new one.
        _end_sessions(cmd, staff_id)
        lifted = logins.lift(cmd.db, staff_id=staff_id)
        cmd.log("staff_pin", staff_id=staff_id, by=actor.staff_id)
        if lifted:
            cmd.notify("lockouts", {"count": logins.count(cmd.db, cmd.now)})
        return _staff_event(cmd, staff_id)

    return hall.run(actor, body.get("request_id"), run)


def _end_sessions(cmd: Command, staff_id: str) -> None:
    cmd.db.execute("UPDATE sessions SET ended_at = ? WHERE staff_id = ? AND ended_at IS NULL",
                   [cmd.now, staff_id])
    cmd.ends_sessions = True


# -- login lockouts (hall/logins.py) ----------------------------------------------------------
def unlock(hall: Hall, actor: Actor, body: dict) -> dict:
    """Lift login locks: of a staff id (from every address), of an address (its block and
    every id it locked), or of one pair."""
    hall.require(actor, "manage")
    staff_id, address = body.get("staff_id"), body.get("address")
    if staff_id is None and address is None:
        raise bad_request("unlock: give staff_id, address or both")
    for key, value, limit in (("staff_id", staff_id, auth.STAFF_ID_MAX),
                              ("address", address, auth.ADDRESS_MAX)):
        if value is not None and (not isinstance(value, str) or not 0 < len(value) <= limit):
            raise bad_request(f"{key}: a text of 1 to {limit} characters")

    def run(cmd: Command) -> dict:
        lifted = logins.lift(cmd.db, staff_id=staff_id, address=address)
        if not lifted:
            raise HallError("not_found", "没有这项锁定 · No such lockout")
        cmd.log("login_unlocked", staff_id=staff_id, address=address, by=actor.staff_id)
        cmd.notify("lockouts", {"count": logins.count(cmd.db, cmd.now)})
        return {"lockouts": _lockouts(cmd)}

    return hall.run(actor, body.get("request_id"), run)


def _lockouts(view: Any) -> list[dict]:
    return [{**lock, "until": view.iso(lock["until"])}
            for lock in logins.current(view.db, view.now)]


# -- what the dashboard reads beside the state snapshot ---------------------------------------
def dashboard(hall: Hall, actor: Actor) -> dict:
    """Waiting tickets (flagged past their service's target), open callbacks, the staff."""
    hall.require(actor, "manage")
    with hall.view() as v:
        waiting = []
        for row in v.waiting():
            svc = hall.config.service(row["service"])
            minutes = (v.now - row["issued_at"]) / 60
            waiting.append({
                "id": row["id"], "number": row["number"], "service": row["service"],
                "priority": row["priority"], "target_window": row["target_window"],
                "issued_at": v.iso(row["issued_at"]), "waited_min": round(minutes, 1),
                "over_target": bool(svc) and minutes > svc.target_wait_minutes,
                "transfers": row["transfers"]})
        callbacks = [_callback_json(v, r) for r in v.db.query(
            "SELECT * FROM callbacks WHERE done_at IS NULL ORDER BY id")]
        return {"now": v.iso(v.now), "waiting": waiting, "callbacks": callbacks,
                "staff": staff.listing(v.db), "lockouts": _lockouts(v), "seq": v.seq()}


COMMANDS: dict[str, Callable[[Hall, Actor, dict], dict]] = {
    "notice": set_notice,
    "pause-issuing": _issuing(True),
    "resume-issuing": _issuing(False),
    "cancel-ticket": cancel_ticket,
    "transfer-ticket": transfer_ticket,
    "force-close": force_close,
    "callback": record_callback,
    "callback-done": callback_done,
    "staff-add": add_staff,
    "staff-disable": _set_active(False),
    "staff-enable": _set_active(True),
    "staff-reset-pin": reset_pin,
    "unlock": unlock,
}
