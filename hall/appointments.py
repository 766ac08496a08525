"""Appointments (预约): bookable slots, booking, cancelling, check-in at the kiosk, no-shows, and
erasing phone numbers once they are no longer needed (HALL-RULES.md #10, #11).

A service is bookable when the config gives it `booking = { slot_minutes, capacity }`. Its slots
follow the hall's opening hours, breaks, working days and closed dates. A booking gets a 6-digit
code, drawn by `secrets` and unique within the slot's day; the customer types or scans it at the
kiosk within `[appointments]` check-in times and gets a ticket of class `appointment`, which
the call policy (policy.py) calls at its slot.

Each command is one `hall.run` transaction that logs one event, like the commands in
`hall.supervision`; the places of a slot are counted inside that write transaction, so two
bookings racing for the last place cannot both get it. `COMMANDS` has the shape of
`web.commands.EXTRA_COMMANDS`.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import deque
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hall import auth, policy, supervision  # module: supervision imports us via reports
from hall.auth import Actor
from hall.config import HallConfig, Service, Window
from hall.errors import HallError, bad_request
from hall.hours import is_open_day, local_time, open_periods
from hall.store import insert, one, scalar, update

if TYPE_CHECKING:
    from hall.hall import Command, Hall
    from hall.snapshot import View

CODE_DIGITS = 6
TAKEN = ("booked", "checked_in", "no_show")  # a cancelled booking frees its place
SOURCES = {"booking": "external", "clerk": "counter", "supervisor": "dashboard",
           "admin": "dashboard"}


# -- slots ---------------------------------------------------------------------------------
def slots_of_day(config: HallConfig, svc: Service, day: date) -> list[tuple[datetime, datetime]]:
    """The (start, end) of each slot of `svc` on `day`, in the hall's zone; none on a closed
    day. Slots fill each opening period from its start; a slot never runs into a break."""
    if svc.booking is None or not is_open_day(config.hours, day):
        return []
    midnight = datetime(day.year, day.month, day.day, tzinfo=config.tz)
    length = svc.booking.slot_minutes
    out = []
    for start, end in open_periods(config.hours):
        for minute in range(start, end - length + 1, length):
            out.append((midnight + timedelta(minutes=minute),
                        midnight + timedelta(minutes=minute + length)))
    return out


def slots(hall: Hall, actor: Actor, service: Any, day: Any) -> dict:
    """Each slot of a service on a day, with its free places (`GET .../slots`)."""
    hall.require(actor, "book")
    svc = _bookable(hall, service)
    with hall.view() as v:
        when = _day(day, v.now, hall.config)
        taken = _taken_by_slot(v, svc.id, when)
        out = [{"start": start.isoformat(), "end": end.isoformat(),
                "free": max(0, svc.booking.capacity - taken.get(start.timestamp(), 0)),
                "past": end.timestamp() <= v.now}
               for start, end in slots_of_day(hall.config, svc, when)]
    return {"service": svc.id, "date": when.isoformat(), "capacity": svc.booking.capacity,
            "slot_minutes": svc.booking.slot_minutes,
            "open": is_open_day(hall.config.hours, when), "slots": out}


def _taken_by_slot(v: View, service: str, day: date) -> dict[float, int]:
    marks = ",".join("?" * len(TAKEN))
    rows = v.db.execute(
        f"SELECT slot_start, count(*) FROM appointments WHERE service = ? AND day = ?"
        f" AND status IN ({marks}) GROUP BY slot_start", [service, day.isoformat(), *TAKEN])
    return dict(rows.fetchall())


# -- booking ---------------------------------------------------------------------------------
def book(hall: Hall, actor: Actor, body: dict) -> dict:
    """Book a slot: `{service, slot_start, phone, name?, callback?}` → the code. Staff may turn
    an open callback into the booking in the same step (`callback`: its id; without a phone,
    the callback's number and name are taken)."""
    hall.require(actor, "book")
    svc = _bookable(hall, body.get("service"))
    from_callback = body.get("callback") is not None and body.get("phone") is None
    # Without a phone, the callback's number is booked.
    phone = None if from_callback else supervision.parse_phone(body.get("phone"))
    name = _name(body)
    callback_id = body.get("callback")
    if callback_id is not None and (isinstance(callback_id, bool)
                                    or not isinstance(callback_id, int)):
        raise bad_request("callback: the id of the callback this booking answers")
    if callback_id is not None and actor.role == "booking":
        raise HallError("forbidden", "无权操作 · Not allowed for this device or window")

    def run(cmd: Command) -> dict:
        start, end = _slot(cmd, svc, body.get("slot_start"))
        day = start.date().isoformat()
        marks = ",".join("?" * len(TAKEN))
        taken = scalar(cmd.db, f"SELECT count(*) FROM appointments WHERE service = ?"
                       f" AND slot_start = ? AND status IN ({marks})",
                       [svc.id, start.timestamp(), *TAKEN])
        if taken >= svc.booking.capacity:
            raise HallError("slot_full", "该时段已约满 · This slot is fully booked")
        booked_phone, booked_name, callback = phone, name, None
        if callback_id is not None:
            answered = _close_callback(cmd, actor, callback_id)
            callback = answered["id"]
            if booked_phone is None:
                booked_phone, booked_name = answered["phone"], name or answered["name"]
        code = _new_code(cmd, day)
        appointment_id = insert(cmd.db, "appointments", {
            "day": day, "code": code, "service": svc.id, "slot_start": start.timestamp(),
            "slot_end": end.timestamp(), "phone": booked_phone, "name": booked_name,
            "status": "booked", "source": SOURCES.get(actor.role, actor.role),
            "window": actor.window,
            "callback_id": callback, "booked_at": cmd.now,
            "booked_by": actor.staff_id or actor.device_id})
        cmd.log("appointment_book", window=actor.window, staff_id=actor.staff_id,
                id=appointment_id, service=svc.id, slot_start=start.isoformat(),
                phone=supervision.mask_phone(booked_phone), callback=callback)
        row = _row(cmd, appointment_id)
        _notify(cmd, row)
        return {"appointment": _json(cmd, row, with_code=True)}

    return hall.run(actor, body.get("request_id"), run)


def _bookable(hall: Hall, service: Any) -> Service:
    svc = hall.service_named(service)
    if svc.booking is None:
        raise HallError("not_bookable", f"{svc.name['zh']}不可预约 · "
                        f"{svc.name['en']} cannot be booked")
    return svc


DAYS_AROUND = 400  # how far from today a date may be asked about (lists, slots)


def _day(value: Any, now: float, config: HallConfig) -> date:
    today = local_time(now, config.tz).date()
    if value is None or value == "":
        return today
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise bad_request("date: a date such as 2026-12-04")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise bad_request("date: a date such as 2026-12-04") from None
    if abs((day - today).days) > DAYS_AROUND:
        raise bad_request(f"date: within {DAYS_AROUND} days of today")
    return day


def _slot(cmd: Command, svc: Service, value: Any) -> tuple[datetime, datetime]:
    """The slot that starts at `value` (ISO time; without an offset, the hall's time), if it
    may be booked now."""
    if not isinstance(value, str) or len(value) > 40:
        raise bad_request("slot_start: the start of a slot, such as 2026-12-04T10:00:00+08:00")
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        raise bad_request("slot_start: the start of a slot, such as "
                          "2026-12-04T10:00:00+08:00") from None
    tz = cmd.config.tz
    try:
        start = start.replace(tzinfo=tz) if start.tzinfo is None else start.astimezone(tz)
        start.timestamp()  # the years 1 and 9999 overflow here, not later
    except (OverflowError, ValueError):
        raise bad_request("slot_start: a time within the coming days") from None
    day = start.date()
    today = local_time(cmd.now, tz).date()
    if day < today:
        raise HallError("slot_past", "该时段已过 · This slot is over")
    if day > today + timedelta(days=cmd.config.appointments.book_days_ahead):
        raise HallError("too_far_ahead", f"最多可预约 {cmd.config.appointments.book_days_ahead}"
                        f" 天内 · Bookings open {cmd.config.appointments.book_days_ahead}"
                        " days ahead")
    if not is_open_day(cmd.config.hours, day):
        raise HallError("closed_day", f"{day.isoformat()} 不办理业务 · "
                        f"The hall is closed on {day.isoformat()}")
    for slot_start, slot_end in slots_of_day(cmd.config, svc, day):
        if slot_start == start:
            if slot_end.timestamp() <= cmd.now:
                raise HallError("slot_past", "该时段已过 · This slot is over")
            return slot_start, slot_end
    raise HallError("unknown_slot", "没有这个预约时段 · No slot starts at that time")


def _name(body: dict) -> str | None:
    """`customer_name`, or `name` over HTTP (over Socket.IO `name` is the command's)."""
    value = body.get("customer_name")
    if value is None and body.get("name") != "book":
        value = body.get("name")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > supervision.NAME_MAX:
        raise bad_request(f"name: a text of at most {supervision.NAME_MAX} characters")
    return value.strip()


def _new_code(cmd: Command, day: str) -> str:
    """Six random digits no other booking of that day has: a code seen on one confirmation
    tells nothing of the others."""
    for _ in range(50):
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        if not scalar(cmd.db, "SELECT 1 FROM appointments WHERE day = ? AND code = ?",
                      [day, code]):
            return code
    raise HallError("day_full", "当日预约已满 · No more bookings for that day")


def _close_callback(cmd: Command, actor: Actor, callback_id: int) -> dict:
    """The callback this booking answers is done: its number is masked from now on. Returns
    the callback as it was."""
    row = one(cmd.db, "SELECT * FROM callbacks WHERE id = ?", [callback_id])
    if row is None:
        raise HallError("not_found", "没有这条回访记录 · No such callback")
    if row["done_at"] is not None:
        raise HallError("wrong_state", "回访已处理 · That callback is already done")
    if not actor.is_manager and row["window"] != actor.window:
        raise HallError("forbidden", "不是本窗口的回访 · Not this window's callback")
    update(cmd.db, "callbacks", "id", callback_id, {
        "done_at": cmd.now, "done_by": actor.staff_id,
        "phone": supervision.mask_phone(row["phone"]), "name": None})
    cmd.notify("callback", {"id": callback_id, "window": row["window"], "done": True})
    return row


# -- cancel ----------------------------------------------------------------------------------
def cancel(hall: Hall, actor: Actor, body: dict) -> dict:
    """Cancel a booking that has not yet been checked in: `{code, date?}`."""
    hall.require(actor, "book")
    code = _code(body.get("code"))
    day = body.get("date")

    def run(cmd: Command) -> dict:
        when = _day(day, cmd.now, cmd.config).isoformat() if day is not None else None
        rows = list(cmd.db.query(
            "SELECT * FROM appointments WHERE code = ? AND slot_end > ?"
            " AND (? IS NULL OR day = ?) ORDER BY slot_start", [code, cmd.now, when, when]))
        if not rows:
            raise HallError("unknown_appointment", "没有这个预约 · No such booking")
        if len(rows) > 1:
            raise bad_request("date: two bookings carry this code; name the day")
        row = rows[0]
        if row["status"] != "booked":
            raise HallError("wrong_state", f"预约状态为 {row['status']}，不能取消 · "
                            f"The booking is {row['status']}")
        update(cmd.db, "appointments", "id", row["id"],
               {"status": "cancelled", "closed_at": cmd.now})
        cmd.log("appointment_cancel", staff_id=actor.staff_id, id=row["id"],
                service=row["service"])
        row = _row(cmd, row["id"])
        _notify(cmd, row)
        return {"appointment": _json(cmd, row, with_code=True)}

    return hall.run(actor, body.get("request_id"), run)


def _code(value: Any) -> str:
    """A code as typed or scanned: 6 digits, spaces around it forgiven."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:0{CODE_DIGITS}d}"
    if not isinstance(value, str) or not re.fullmatch(rf"[0-9]{{{CODE_DIGITS}}}", value.strip()):
        raise bad_request(f"code: the {CODE_DIGITS} digits of the booking")
    return value.strip()


# -- check-in ---------------------------------------------------------------------------------
WRONG_CODES_ALLOWED = 5  # wrong codes one kiosk may send in WRONG_CODES_SECONDS
WRONG_CODES_SECONDS = 10 * 60


class WrongCodes:
    """Wrong codes per kiosk, over the last ten minutes. A customer mistypes now and then; a
    kiosk token used to try codes in turn would find a day's few hundred bookings among the
    million codes within minutes at full speed, and with this within years. One entry per
    actor: only kiosks with a token of the hall's get this far."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._times: dict[str, deque[float]] = {}

    def check(self, who: str, now: float) -> None:
        with self._lock:
            times = self._times.get(who)
            while times and times[0] <= now - WRONG_CODES_SECONDS:
                times.popleft()
            if times and len(times) >= WRONG_CODES_ALLOWED:
                wait = int(times[0] + WRONG_CODES_SECONDS - now) + 1
                raise HallError("too_many_attempts", "预约码错误次数过多，请稍后再试或咨询"
                                "工作人员 · Too many wrong codes; try again later or ask the "
                                "staff", retry_after=wait)

    def count(self, who: str, now: float) -> None:
        with self._lock:
            self._times.setdefault(who, deque()).append(now)


def check_in(hall: Hall, actor: Actor, body: dict) -> dict:
    """The kiosk: today's booking with this code becomes a waiting ticket of class
    `appointment`, once, within its check-in times. The answer is the issue's, plus the slot."""
    hall.require(actor, "check-in")
    code = _code(body.get("code"))
    hall.wrong_codes.check(actor.key, hall.clock())
    try:
        return _check_in(hall, actor, code, body.get("request_id"))
    except HallError as error:
        if error.code == "unknown_appointment":
            hall.wrong_codes.count(actor.key, hall.clock())
        raise


def _check_in(hall: Hall, actor: Actor, code: str, request_id: Any) -> dict:
    rules = hall.config.appointments

    def run(cmd: Command) -> dict:
        row = one(cmd.db, "SELECT * FROM appointments WHERE day = ? AND code = ?",
                  [cmd.day, code])
        if row is None:
            raise HallError("unknown_appointment", "今天没有这个预约码 · "
                            "No booking with this code today")
        if row["status"] != "booked":
            raise HallError(f"appointment_{row['status']}", _STATUS_TEXT[row["status"]])
        opens = row["slot_start"] - rules.checkin_early_minutes * 60
        closes = row["slot_end"] + rules.grace_minutes * 60
        if cmd.now < opens:
            at = local_time(opens, cmd.tz).strftime("%H:%M")
            raise HallError("too_early", f"请于 {at} 后签到 · Check-in opens at {at}",
                            checkin_opens_at=cmd.iso(opens), slot=_slot_json(cmd, row))
        if cmd.now > closes:
            raise HallError("too_late", "已过预约时间，请取普通号 · Past your booking time;"
                            " please take a normal ticket", slot=_slot_json(cmd, row),
                            service=row["service"])
        svc = hall.config.service(row["service"])
        if svc is None:  # the service left the config since the booking
            raise HallError("unknown_service", "该业务已停办 · This service is no longer offered")
        answer = hall.new_ticket(cmd, svc, "appointment", appointment=row["id"])
        update(cmd.db, "appointments", "id", row["id"], {
            "status": "checked_in", "checked_in_at": cmd.now,
            "ticket_id": answer["ticket"]["id"]})
        row = _row(cmd, row["id"])
        _notify(cmd, row)
        answer["ticket"]["slot"] = _slot_json(cmd, row)
        return {**answer, "appointment": _json(cmd, row)}

    return hall.run(actor, request_id, run)


_STATUS_TEXT = {
    "checked_in": "该预约已签到 · This booking is already checked in",
    "cancelled": "该预约已取消 · This booking was cancelled",
    "no_show": "该预约已过期 · This booking was missed",
}


# -- time passing ------------------------------------------------------------------------------
def tick(hall: Hall) -> None:
    """A booking never checked in by its slot's end plus the grace is a no-show; phone numbers
    and names go some days after the slot. Two indexed reads a second when nothing is due."""
    rules = hall.config.appointments
    now = hall.clock()
    missed_before = now - rules.grace_minutes * 60
    purge_before = now - rules.purge_phone_days * 86400
    with hall.store.read() as db:
        missed = scalar(db, "SELECT 1 FROM appointments WHERE status = 'booked'"
                        " AND slot_end < ? LIMIT 1", [missed_before])
        stale = scalar(db, "SELECT 1 FROM appointments WHERE phone IS NOT NULL"
                       " AND slot_end < ? LIMIT 1", [purge_before])
    if missed:
        hall.run(auth.VIEWER, None, _mark_missed)
    if stale:
        hall.run(auth.VIEWER, None, _purge_phones)


def _mark_missed(cmd: Command) -> dict:
    before = cmd.now - cmd.config.appointments.grace_minutes * 60
    rows = list(cmd.db.query("SELECT * FROM appointments WHERE status = 'booked'"
                             " AND slot_end < ?", [before]))
    if not rows:
        return {}  # another process got there first
    cmd.db.execute("UPDATE appointments SET status = 'no_show', closed_at = ?"
                   " WHERE status = 'booked' AND slot_end < ?", [cmd.now, before])
    cmd.log("appointment_no_show", count=len(rows), ids=[r["id"] for r in rows])
    for row in rows:
        _notify(cmd, _row(cmd, row["id"]))
    return {"no_show": len(rows)}


def _purge_phones(cmd: Command) -> dict:
    before = cmd.now - cmd.config.appointments.purge_phone_days * 86400
    count = cmd.db.execute("UPDATE appointments SET phone = NULL, name = NULL"
                           " WHERE phone IS NOT NULL AND slot_end < ?", [before]).rowcount
    if count:
        cmd.log("appointment_purge", count=count)
    return {"purged": count}


# -- calling -----------------------------------------------------------------------------------
def for_calling(cmd: Command, window: Window, waiting: list[dict]) -> list[dict]:
    """`waiting` (View.waiting_for) with its appointments replaced by every waiting appointment
    the window may take, each with its `call_at`: they are ordered by slot, not by check-in."""
    others = [t for t in waiting if t["priority"] != "appointment"]
    marks = ",".join("?" * len(window.services))
    head_start = cmd.config.appointments.head_start_minutes
    rows = cmd.db.query(
        "SELECT t.*, a.slot_start FROM tickets t JOIN appointments a ON a.ticket_id = t.id"
        " WHERE t.status = 'waiting' AND t.priority = 'appointment'"
        f" AND (t.target_window = ? OR (t.target_window IS NULL AND t.service IN ({marks})))",
        [window.number, *window.services])
    return others + [{**row, "call_at": policy.appointment_call_at(row["slot_start"], head_start)}
                     for row in rows]


# -- reading -------------------------------------------------------------------------------------
def listing(hall: Hall, actor: Actor, day: Any) -> dict:
    """A day's bookings for the supervisor, phones masked as callbacks are."""
    hall.require(actor, "manage")
    with hall.view() as v:
        when = _day(day, v.now, hall.config)
        rows = v.db.query("SELECT * FROM appointments WHERE day = ? ORDER BY slot_start, id",
                          [when.isoformat()])
        return {"date": when.isoformat(),
                "appointments": [_json(v, row, with_code=True) for row in rows],
                "seq": v.seq()}


def _row(cmd: Any, appointment_id: int) -> dict:
    return one(cmd.db, "SELECT * FROM appointments WHERE id = ?", [appointment_id])


def _slot_json(view: Any, row: dict) -> dict:
    return {"start": view.iso(row["slot_start"]), "end": view.iso(row["slot_end"])}


def _json(view: Any, row: dict, with_code: bool = False) -> dict:
    out = {"id": row["id"], "service": row["service"], "date": row["day"],
           "slot_start": view.iso(row["slot_start"]), "slot_end": view.iso(row["slot_end"]),
           "status": row["status"], "source": row["source"],
           "phone": supervision.mask_phone(row["phone"]) if row["phone"] else None,
           "name": supervision.mask_name(row["name"]), "booked_at": view.iso(row["booked_at"]),
           "checked_in_at": view.iso(row["checked_in_at"])}
    if with_code:
        out = {"code": row["code"], **out}
    if row["ticket_id"] is not None:
        ticket = view.ticket_row(row["ticket_id"])
        out["ticket"] = ticket["number"] if ticket else None
    return out


def _notify(cmd: Command, row: dict) -> None:
    """For the dashboard's list: what changed, without the code or any contact data (the
    public display hears every event)."""
    cmd.notify("appointment", {"id": row["id"], "service": row["service"], "date": row["day"],
                               "slot_start": cmd.iso(row["slot_start"]),
                               "status": row["status"]})


COMMANDS: dict[str, Callable[[Hall, Actor, dict], dict]] = {
    "book": book,
    "cancel-appointment": cancel,
    "check-in": check_in,
}


# -- report figures ------------------------------------------------------------------------------
FIGURES = ("booked", "checked_in", "on_time", "no_show", "appointment_wait_mean_min",
           "walk_in_wait_mean_min")

_COUNTS_SQL = """
SELECT day, service, sum(status != 'cancelled'), sum(status = 'checked_in'),
       sum(status = 'checked_in' AND checked_in_at <= slot_end), sum(status = 'no_show')
FROM appointments WHERE day BETWEEN ?1 AND ?2 GROUP BY day, service
"""
# Waits of the days and services that had bookings only: a hall without appointments reads
# nothing more. An appointment waits from its check-in, or from its slot's start if it came
# early; a walk-in (a normal ticket) from taking its number.
_WAITS_SQL = """
SELECT t.day, t.service, t.priority = 'appointment',
       count(*), sum(t.called_at - max(t.issued_at, coalesce(a.slot_start, t.issued_at)))
FROM (SELECT DISTINCT day, service FROM appointments WHERE day BETWEEN ?1 AND ?2) d
JOIN tickets t ON t.day = d.day AND t.service = d.service
LEFT JOIN appointments a ON a.ticket_id = t.id
WHERE t.called_at IS NOT NULL AND t.priority IN ('appointment', 'normal')
GROUP BY t.day, t.service, t.priority = 'appointment'
"""


def report_figures(db: Any, start: str, end: str) -> dict[tuple[str, str], dict]:
    """Per ("total", ""), ("service", id) and ("day", YYYY-MM-DD): booked (not cancelled),
    checked in, on time (checked in by the slot's end), no-show, and the mean minutes from
    check-in to call of appointment tickets against that of walk-ins of the same services
    and days."""
    sums: dict[tuple[str, str], list[float]] = {}

    def add(day: str, service: str, values: list[float]) -> None:
        for key in (("total", ""), ("service", service), ("day", day)):
            into = sums.setdefault(key, [0.0] * 8)
            for i, value in enumerate(values):
                into[i] += value or 0

    for day, service, *counts in db.execute(_COUNTS_SQL, [start, end]):
        add(day, service, [*counts, 0, 0, 0, 0])
    for day, service, booked, count, total in db.execute(_WAITS_SQL, [start, end]):
        add(day, service, [0, 0, 0, 0, *((count, total, 0, 0) if booked else (0, 0, count, total))])
    return {key: _figures(values) for key, values in sums.items()}


def _figures(v: list[float]) -> dict:
    def mean_min(count: float, total: float) -> float | None:
        return round(total / count / 60, 1) if count else None

    return {"booked": int(v[0]), "checked_in": int(v[1]), "on_time": int(v[2]),
            "no_show": int(v[3]), "appointment_wait_mean_min": mean_min(v[4], v[5]),
            "walk_in_wait_mean_min": mean_min(v[6], v[7])}
