"""The daily aggregates (daily_service, daily_hall), kept at ingest in the batch's transaction.

A batch's events are walked in seq order in memory, with the state they need from earlier
batches (a ticket's issue time, service and printed estimate; a booking's slot day; a window's
away period in progress) read in one query each; the changes go back as a few set-based
upserts, the counters added to what the rows hold. What each column means is written beside it
in region/migrations/0001.initial.sql; the definitions are the hall's reports'.

The data of an event is what the hall's allow-list lets through (hall/shipping.py), and is not
trusted further: a value of the wrong type counts for nothing, it never fails the batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg

from hall.promises import within as estimate_within

if TYPE_CHECKING:
    from region.ingest import Event

WAIT_BUCKETS = 121  # whole minutes 0..119, then >= 120
ERROR_BUCKETS = 61  # whole minutes 0..59, then >= 60
DEFAULT_TARGET_MIN = 20.0  # a service the hall has not described (hall/reports.py's default)

COUNTERS = ("issued", "served", "no_show", "cancelled", "expired", "transferred", "wait_count",
            "wait_sum_s", "wait_within_target", "handling_count", "handling_sum_s",
            "rating_count", "rating_sum", "estimate_count", "estimate_within",
            "estimate_err_sum_s", "appointments_booked", "appointments_checked_in",
            "appointments_no_show")
ARRAYS = {"wait_hist": WAIT_BUCKETS, "ratings": 5, "estimate_err_hist": ERROR_BUCKETS}
HALL_COUNTERS = ("away_count", "away_sum_s", "away_overdue")


class Ticket:
    __slots__ = ("day", "estimate", "first_called", "issued_at", "issued_service", "number",
                 "service")

    def __init__(self, day: str, number: str, issued_service: str, service: str,
                 issued_at: float, estimate: float | None, first_called: float | None) -> None:
        self.day, self.number = day, number
        self.issued_service, self.service = issued_service, service
        self.issued_at, self.estimate, self.first_called = issued_at, estimate, first_called


class Aggregator:
    """One batch's changes to the aggregates of one hall."""

    def __init__(self, conn: psycopg.Connection, hall_id: str) -> None:
        self.conn, self.hall_id = conn, hall_id
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}
        self.hall_rows: dict[str, dict[str, float]] = {}
        self.tickets: dict[int, Ticket] = {}
        self.by_number: dict[tuple[str, str], int] = {}
        self.changed_tickets: set[int] = set()
        self.appointments: dict[int, tuple[str, str]] = {}
        self.changed_appointments: set[int] = set()
        self.away: dict[int, tuple[str, float | None]] = {}  # window -> (day, started at)
        self.away_windows: set[int] = set()  # read or changed: written back
        self.targets: dict[str, float] = {}

    def add(self, events: list[Event]) -> None:
        self._load(events)
        for e in events:
            handler = HANDLERS.get(e.type)
            if handler is not None:
                handler(self, e)
        self._write()

    # -- the state of earlier batches ---------------------------------------------------------
    def _load(self, events: list[Event]) -> None:
        ids, pairs, appointment_ids, windows = set(), set(), set(), set()
        for e in events:
            if e.ticket_id is not None and e.type != "issue":
                ids.add(e.ticket_id)
            if e.type == "expire":
                pairs.update(_expired(e))
            elif e.type == "appointment_cancel" and _whole(e.data.get("id")):
                appointment_ids.add(e.data["id"])
            elif e.type == "appointment_no_show" and isinstance(e.data.get("ids"), list):
                appointment_ids.update(i for i in e.data["ids"] if _whole(i))
            if e.window is not None and e.type in ("away", "back", "close", "force_close",
                                                    "away_overdue"):
                windows.add(e.window)
        h = self.hall_id
        self.targets = dict(self.conn.execute(
            "SELECT service_id, target_wait_minutes FROM hall_services WHERE hall_id = %s",
            [h]).fetchall())
        columns = ("SELECT ticket_id, day::text, number, issued_service, service,"
                   " extract(epoch FROM issued_at)::float8, estimate_min,"
                   " extract(epoch FROM first_called_at)::float8 FROM region_tickets")
        rows = self.conn.execute(f"{columns} WHERE hall_id = %s AND ticket_id = ANY(%s)",
                                 [h, list(ids)]).fetchall() if ids else []
        if pairs:
            days, numbers = zip(*pairs, strict=True)
            rows += self.conn.execute(
                f"{columns} WHERE hall_id = %s AND (day, number) IN"
                " (SELECT * FROM unnest(%s::date[], %s::text[]))",
                [h, list(days), list(numbers)]).fetchall()
        for tid, *values in rows:
            self._know(tid, Ticket(*values))
        if appointment_ids:
            for aid, day, service in self.conn.execute(
                    "SELECT appointment_id, day::text, service FROM region_appointments"
                    " WHERE hall_id = %s AND appointment_id = ANY(%s)",
                    [h, list(appointment_ids)]):
                self.appointments[aid] = (day, service)
        if windows:
            for window, day, started in self.conn.execute(
                    "SELECT window_no, day::text, extract(epoch FROM started_at)::float8"
                    " FROM region_away WHERE hall_id = %s AND window_no = ANY(%s)",
                    [h, list(windows)]):
                self.away[window] = (day, started)
        self.away_windows = windows

    def _know(self, tid: int, ticket: Ticket) -> None:
        self.tickets[tid] = ticket
        self.by_number[(ticket.day, ticket.number)] = tid

    # -- counting -----------------------------------------------------------------------------
    def row(self, day: str, service: str) -> dict[str, Any]:
        key = (day, service)
        if key not in self.rows:
            self.rows[key] = {**dict.fromkeys(COUNTERS, 0),
                              **{name: [0] * n for name, n in ARRAYS.items()}}
        return self.rows[key]

    def hall_row(self, day: str) -> dict[str, float]:
        return self.hall_rows.setdefault(day, dict.fromkeys(HALL_COUNTERS, 0))

    def target_s(self, service: str) -> float:
        return self.targets.get(service, DEFAULT_TARGET_MIN) * 60

    def ticket(self, e: Event) -> Ticket | None:
        return self.tickets.get(e.ticket_id) if e.ticket_id is not None else None

    def changed(self, tid: int) -> None:
        self.changed_tickets.add(tid)

    # -- writing back -------------------------------------------------------------------------
    def _write(self) -> None:
        with self.conn.cursor() as cur:
            if self.changed_tickets:
                self._write_tickets(cur)
            if self.changed_appointments:
                cur.executemany(APPOINTMENTS_SQL, [
                    (self.hall_id, aid, *self.appointments[aid])
                    for aid in sorted(self.changed_appointments)])
            if self.away_windows:
                self._write_away(cur)
            if self.rows:
                cur.executemany(DAILY_SERVICE_SQL, [
                    {"hall_id": self.hall_id, "day": day, "service_id": service, **row}
                    for (day, service), row in sorted(self.rows.items())])
            if self.hall_rows:
                cur.executemany(DAILY_HALL_SQL, [
                    {"hall_id": self.hall_id, "day": day, **row}
                    for day, row in sorted(self.hall_rows.items())])

    def _write_tickets(self, cur: psycopg.Cursor) -> None:
        """COPY into a temporary table, then one upsert: a statement per ticket would cost a
        round trip and an executor start each (a batch of 1000 events has ~250 tickets)."""
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS incoming_tickets"
                    " (LIKE region_tickets) ON COMMIT DELETE ROWS")
        with cur.copy("COPY incoming_tickets (hall_id, ticket_id, day, number, issued_service,"
                      " service, issued_at, estimate_min, first_called_at) FROM STDIN") as copy:
            for tid in sorted(self.changed_tickets):
                copy.write_row(self._ticket_params(tid))
        cur.execute(TICKETS_SQL)

    def _ticket_params(self, tid: int) -> tuple:
        t = self.tickets[tid]
        return (self.hall_id, tid, t.day, t.number, t.issued_service, t.service,
                _moment(t.issued_at), t.estimate, _moment(t.first_called))

    def _write_away(self, cur: psycopg.Cursor) -> None:
        cur.execute("DELETE FROM region_away WHERE hall_id = %s AND window_no = ANY(%s)",
                    [self.hall_id, sorted(self.away_windows)])
        if self.away:
            cur.executemany(
                "INSERT INTO region_away (hall_id, window_no, day, started_at)"
                " VALUES (%s, %s, %s, %s)",
                [(self.hall_id, w, day, _moment(started))
                 for w, (day, started) in sorted(self.away.items())])


TICKETS_SQL = """
INSERT INTO region_tickets SELECT * FROM incoming_tickets
ON CONFLICT (hall_id, ticket_id) DO UPDATE SET service = EXCLUDED.service,
    first_called_at = EXCLUDED.first_called_at
"""
APPOINTMENTS_SQL = """
INSERT INTO region_appointments (hall_id, appointment_id, day, service) VALUES (%s, %s, %s, %s)
ON CONFLICT (hall_id, appointment_id) DO UPDATE SET day = EXCLUDED.day, service = EXCLUDED.service
"""
_ADD = ", ".join(f"{c} = daily_service.{c} + EXCLUDED.{c}" for c in COUNTERS)
_ADD_ARRAYS = ", ".join(
    f"{a} = CASE WHEN EXCLUDED.{a} = array_fill(0, ARRAY[{n}]) THEN daily_service.{a}"
    f" ELSE hallq_add(daily_service.{a}, EXCLUDED.{a}) END" for a, n in ARRAYS.items())
_COLUMNS = ("hall_id", "day", "service_id", *COUNTERS, *ARRAYS)
DAILY_SERVICE_SQL = (
    f"INSERT INTO daily_service ({', '.join(_COLUMNS)})"
    f" VALUES ({', '.join(f'%({c})s' for c in _COLUMNS)})"
    f" ON CONFLICT (hall_id, day, service_id) DO UPDATE SET {_ADD}, {_ADD_ARRAYS}")
DAILY_HALL_SQL = (
    "INSERT INTO daily_hall (hall_id, day, away_count, away_sum_s, away_overdue)"
    " VALUES (%(hall_id)s, %(day)s, %(away_count)s, %(away_sum_s)s, %(away_overdue)s)"
    " ON CONFLICT (hall_id, day) DO UPDATE SET "
    + ", ".join(f"{c} = daily_hall.{c} + EXCLUDED.{c}" for c in HALL_COUNTERS))


def _moment(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def _whole(value: Any) -> bool:
    return type(value) is int


def _number(value: Any) -> float | None:
    if type(value) in (int, float) and math.isfinite(value):
        return float(value)
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _expired(e: Event) -> list[tuple[str, str]]:
    tickets = e.data.get("tickets")
    if not isinstance(tickets, list):
        return []
    return [(t[0], t[1]) for t in tickets if isinstance(t, list) and len(t) == 2
            and isinstance(t[0], str) and len(t[0]) == 10 and _text(t[1])]


# -- what each event type counts ---------------------------------------------------------------
def _issue(a: Aggregator, e: Event) -> None:
    service, number = _text(e.data.get("service")), _text(e.data.get("number"))
    if service is None:
        return
    row = a.row(e.day, service)
    row["issued"] += 1
    if e.data.get("appointment") is not None:
        row["appointments_checked_in"] += 1
    if e.ticket_id is not None and number is not None:
        a._know(e.ticket_id, Ticket(e.day, number, service, service, e.at,
                                    _number(e.data.get("estimated_wait_min")), None))
        a.changed(e.ticket_id)


def _call(a: Aggregator, e: Event) -> None:
    t = a.ticket(e)
    if t is None:
        return
    service = _text(e.data.get("service")) or t.service
    if service != t.service:
        t.service = service
        a.changed(e.ticket_id)
    if t.first_called is not None:
        return
    t.first_called = e.at
    a.changed(e.ticket_id)
    wait = max(0.0, e.at - t.issued_at)
    row = a.row(t.day, service)
    row["wait_count"] += 1
    row["wait_sum_s"] += wait
    row["wait_within_target"] += wait <= a.target_s(service)
    row["wait_hist"][min(int(wait // 60), WAIT_BUCKETS - 1)] += 1
    if t.estimate is not None:
        real_min = wait / 60
        issued = a.row(t.day, t.issued_service)
        issued["estimate_count"] += 1
        issued["estimate_within"] += estimate_within(t.estimate, real_min)
        issued["estimate_err_sum_s"] += t.estimate * 60 - wait
        error = abs(real_min - t.estimate)
        issued["estimate_err_hist"][min(int(error), ERROR_BUCKETS - 1)] += 1


def _at_ticket(counter: str) -> Callable[[Aggregator, Event], None]:
    """Counts `counter` for the ticket's day and service (as the event names it)."""

    def count(a: Aggregator, e: Event) -> None:
        t = a.ticket(e)
        service = _text(e.data.get("service")) or (t.service if t else None)
        if service is not None:
            a.row(t.day if t else e.day, service)[counter] += 1

    return count


def _finish(a: Aggregator, e: Event) -> None:
    t = a.ticket(e)
    service = _text(e.data.get("service")) or (t.service if t else None)
    if service is None:
        return
    row = a.row(t.day if t else e.day, service)
    row["served"] += 1
    handling = _number(e.data.get("handling_s"))
    if handling is not None and handling >= 0:
        row["handling_count"] += 1
        row["handling_sum_s"] += handling


def _transfer(a: Aggregator, e: Event) -> None:
    t = a.ticket(e)
    left = _text(e.data.get("from_service")) or (t.service if t else None)
    if left is not None:
        a.row(t.day if t else e.day, left)["transferred"] += 1
    to = _text(e.data.get("to_service"))
    if t is not None and to is not None and to != t.service:
        t.service = to
        a.changed(e.ticket_id)


def _expire(a: Aggregator, e: Event) -> None:
    for pair in _expired(e):
        tid = a.by_number.get(pair)
        if tid is not None:
            t = a.tickets[tid]
            a.row(t.day, t.service)["expired"] += 1


def _rate(a: Aggregator, e: Event) -> None:
    t, score = a.ticket(e), e.data.get("score")
    if t is None or not _whole(score) or not 1 <= score <= 5:
        return
    row = a.row(t.day, t.service)
    row["rating_count"] += 1
    row["rating_sum"] += score
    row["ratings"][score - 1] += 1


def _away(a: Aggregator, e: Event) -> None:
    if e.window is None:
        return
    a.away[e.window] = (e.day, e.at)
    a.hall_row(e.day)["away_count"] += 1


def _away_ended(a: Aggregator, e: Event) -> None:
    """back, force_close (with away_minutes), close of a window that was away."""
    minutes = _number(e.data.get("away_minutes"))
    if e.window is None or (e.window not in a.away and minutes is None):
        return
    day, started = a.away.pop(e.window, (e.day, None))
    if minutes is not None:
        seconds = minutes * 60
    else:
        seconds = e.at - started if started is not None else 0.0
    a.hall_row(day)["away_sum_s"] += max(0.0, seconds)


def _away_overdue(a: Aggregator, e: Event) -> None:
    day = a.away.get(e.window, (e.day, None))[0] if e.window is not None else e.day
    a.hall_row(day)["away_overdue"] += 1


def _appointment_book(a: Aggregator, e: Event) -> None:
    aid, service, slot = e.data.get("id"), _text(e.data.get("service")), e.data.get("slot_start")
    if not _whole(aid) or service is None or not isinstance(slot, str) or len(slot) < 10:
        return
    day = slot[:10]  # the slot's start in the hall's time: its day
    a.appointments[aid] = (day, service)
    a.changed_appointments.add(aid)
    a.row(day, service)["appointments_booked"] += 1


def _appointment_cancel(a: Aggregator, e: Event) -> None:
    known = a.appointments.get(e.data.get("id"))
    if known is not None:
        a.row(*known)["appointments_booked"] -= 1


def _appointment_no_show(a: Aggregator, e: Event) -> None:
    ids = e.data.get("ids")
    for aid in ids if isinstance(ids, list) else []:
        known = a.appointments.get(aid) if _whole(aid) else None
        if known is not None:
            a.row(*known)["appointments_no_show"] += 1


HANDLERS: dict[str, Callable[[Aggregator, Event], None]] = {
    "issue": _issue,
    "call": _call,
    "recall": _call,  # a first call is a call; a recall of it changes nothing
    "finish": _finish,
    "no_show": _at_ticket("no_show"),
    "cancel": _at_ticket("cancelled"),
    "transfer": _transfer,
    "expire": _expire,
    "rate": _rate,
    "away": _away,
    "back": _away_ended,
    "close": _away_ended,
    "force_close": _away_ended,
    "away_overdue": _away_overdue,
    "appointment_book": _appointment_book,
    "appointment_cancel": _appointment_cancel,
    "appointment_no_show": _appointment_no_show,
}
