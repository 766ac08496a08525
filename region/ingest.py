"""POST /api/ingest: a hall's batch of events and its live status.

At least once in, exactly once stored: a batch's new events, the aggregates they change and the
hall's `acked_seq` are one transaction, and the answer `{"acked": n}` goes only after it has
committed. A hall sends its log in `seq` order (hall/shipping.py, web/shipper.py):

- events at or below `acked_seq` are duplicates (a batch sent again after a lost answer): each
  is compared with what the region has (type, time, ticket) and skipped if equal; if one
  differs, the hall's database went back (restored from a backup): nothing is stored,
  `hall_links.diverged_*` says where, and every batch gets 409 `diverged` until
  `hallq-region accept-restore ID` (see `accept_restore`). Never merged silently.
- a batch that starts past `acked_seq + 1` gets 409 `gap` with `expected`, and the hall
  rewinds. The batch may say `after`: the seq its events follow in the hall's log (the hall
  read `seq > after`), so a hole in the hall's own numbering is not taken for a gap.

The body: {"hall_id", "epoch", "after"?, "backlog"?, "events": [{"seq", "at", "day", "type",
"window", "ticket_id", "staff_id", "data"}], "services": [{"id", "name",
"target_wait_minutes"}], "status": {...}}. Checked whole before anything is written: a
malformed one gets 400 naming the problem, and nothing is stored.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import orjson
import psycopg
from flask import Flask, Response, request
from flask_socketio import SocketIO

from hall.shipping import shipped_data
from region import live
from region.aggregates import Aggregator
from region.app import Region, error_body, reply
from region.db import token_digest
from web.input import MAX_DEPTH, is_text

log = logging.getLogger("hallq.region.ingest")

MAX_EVENTS = 2000  # hall/shipping.py's BATCH: a hall catching up sends full batches
MAX_SERVICES = 200
MAX_STATUS_BYTES = 64 * 1024
MAX_DATA_BYTES = 256 * 1024  # one event's data (a day-end expiry lists every ticket it ends)
MAX_WHOLE = 2**53 - 1
HALL_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
EPOCH = re.compile(r"[A-Za-z0-9_-]{1,64}")
TYPE = re.compile(r"[a-z][a-z0-9_]{0,31}")
SERVICE_ID = re.compile(r"[a-z][a-z0-9_-]{0,31}")
EARLIEST, LATEST = 946684800.0, 4102444800.0  # 2000-01-01 .. 2100-01-01
SAME_MOMENT_S = 1e-3  # the region keeps microseconds; a hall's REAL time, to within this
EVENT_KEYS = frozenset(("seq", "at", "day", "type", "window", "ticket_id", "staff_id", "data"))
BODY_KEYS = frozenset(("hall_id", "epoch", "after", "backlog", "events", "services", "status"))


class IngestError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def body(self) -> dict:
        return error_body(self.code, self.message, **self.extra)


def _bad(message: str) -> IngestError:
    return IngestError(400, "bad_request", message)


@dataclass
class Event:
    seq: int
    at: float
    day: str
    type: str
    window: int | None
    ticket_id: int | None
    staff_id: str | None
    data: dict[str, Any]
    data_json: str = "{}"  # as stored


@dataclass
class Batch:
    hall_id: str
    epoch: str
    after: int
    backlog: int | None
    events: list[Event]
    services: list[tuple[str, dict, float]]
    status: dict[str, Any] | None = None
    received: float = field(default_factory=time.time)


# -- checking the body -------------------------------------------------------------------------
def parse_batch(body: Any, vouched: bool = False) -> Batch:
    """The body, checked whole; `IngestError` 400 naming the first problem. `vouched`: every
    text in it is Unicode and every number finite already (`loads` says so)."""
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object")
    unknown = set(body) - BODY_KEYS
    if unknown:
        raise _bad(f"{sorted(unknown)[0]}: unknown field")
    hall_id = body.get("hall_id")
    if not isinstance(hall_id, str) or not HALL_ID.fullmatch(hall_id):
        raise _bad("hall_id: the hall's id, as the region knows it")
    epoch = body.get("epoch")
    if not isinstance(epoch, str) or not EPOCH.fullmatch(epoch):
        raise _bad("epoch: the hall database's id (1-64 letters, digits, - or _)")
    raw_events = body.get("events", [])
    if not isinstance(raw_events, list) or len(raw_events) > MAX_EVENTS:
        raise _bad(f"events: a list of at most {MAX_EVENTS} events")
    events = [_event(e, i, vouched) for i, e in enumerate(raw_events)]
    for i in range(1, len(events)):
        if events[i].seq <= events[i - 1].seq:
            raise _bad(f"events[{i}].seq: the events must come in increasing seq order")
    after = body.get("after")
    if after is None:
        after = events[0].seq - 1 if events else 0
    elif not _whole(after, 0):
        raise _bad("after: the seq the events follow (a whole number >= 0)")
    elif events and events[0].seq <= after:
        raise _bad("after: must be below the first event's seq")
    backlog = body.get("backlog")
    if backlog is not None and not _whole(backlog, 0):
        raise _bad("backlog: how many events the hall has still to send (a whole number)")
    status = body.get("status")
    if status is not None:
        if not isinstance(status, dict):
            raise _bad("status: an object")
        _check_values(status, "status", vouched)
        if len(orjson.dumps(status)) > MAX_STATUS_BYTES:
            raise _bad(f"status: at most {MAX_STATUS_BYTES} bytes")
    return Batch(hall_id, epoch, after, backlog, events,
                 _services(body.get("services", [])), status)


def _whole(value: Any, minimum: int = 0) -> bool:
    return type(value) is int and minimum <= value <= MAX_WHOLE


def _event(raw: Any, i: int, vouched: bool) -> Event:
    where = f"events[{i}]"
    if not isinstance(raw, dict):
        raise _bad(f"{where}: an object")
    if not raw.keys() <= EVENT_KEYS:
        raise _bad(f"{where}.{sorted(raw.keys() - EVENT_KEYS)[0]}: unknown field")
    seq, at, day, type_ = raw.get("seq"), raw.get("at"), raw.get("day"), raw.get("type")
    if not _whole(seq, 1):
        raise _bad(f"{where}.seq: a whole number >= 1")
    if type(at) not in (int, float) or not EARLIEST <= at <= LATEST:
        raise _bad(f"{where}.at: seconds since 1970 (a number between 2000 and 2100)")
    if not isinstance(day, str) or len(day) != 10 or not _is_date(day):
        raise _bad(f"{where}.day: the hall day, YYYY-MM-DD")
    if not isinstance(type_, str) or not TYPE.fullmatch(type_):
        raise _bad(f"{where}.type: lower-case letters, digits and _ (at most 32)")
    window, ticket_id, staff_id = raw.get("window"), raw.get("ticket_id"), raw.get("staff_id")
    if window is not None and not (_whole(window) and window <= 9999):
        raise _bad(f"{where}.window: a window number or null")
    if ticket_id is not None and not _whole(ticket_id, 1):
        raise _bad(f"{where}.ticket_id: the hall's ticket id or null")
    if staff_id is not None and not (isinstance(staff_id, str) and 0 < len(staff_id) <= 32
                                     and staff_id.isprintable()):
        raise _bad(f"{where}.staff_id: at most 32 printable characters, or null")
    data = raw.get("data", {})
    if not isinstance(data, dict):
        raise _bad(f"{where}.data: an object")
    data = shipped_data(type_, data)  # what a hall may ship, whatever this one sent
    if not data:
        return Event(seq, float(at), day, type_, window, ticket_id, staff_id, data)
    _check_values(data, f"{where}.data", vouched)
    data_json = orjson.dumps(data).decode()
    if len(data_json) > MAX_DATA_BYTES:
        raise _bad(f"{where}.data: at most {MAX_DATA_BYTES} characters")
    return Event(seq, float(at), day, type_, window, ticket_id, staff_id, data, data_json)


@lru_cache(maxsize=1024)  # a batch's events share one or two days
def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def loads(raw: bytes) -> tuple[Any, bool]:
    """The body as JSON, and whether its texts and numbers are vouched for. orjson reads it
    several times faster than the json module (the parse is a large part of ingest's cost) and
    refuses lone surrogates, invalid UTF-8, NaN and numbers out of a double's range: what it
    reads is vouched for. A body it refuses is read again by the json module, without NaN or
    Infinity, so that parse_batch names the field at fault; `_check_values` refuses what
    PostgreSQL cannot hold in the parts stored as they came."""
    try:
        return orjson.loads(raw), True
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(raw, parse_constant=_no_constant), False
    except RecursionError:
        raise _bad(f"the JSON is nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError):
        raise _bad("the body is not valid JSON") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_values(value: dict | list, where: str, vouched: bool) -> None:
    """What is stored as it came (an event's data, the status) must be text PostgreSQL holds
    (no U+0000, no lone surrogate), finite numbers, nested at most MAX_DEPTH deep. Only the
    containers are walked (an event's data is mostly one flat dict); a vouched-for body's
    texts need only the U+0000 test."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = [*item, *item.values()] if isinstance(item, dict) else item
        for child in children:
            if depth >= MAX_DEPTH:
                raise _bad(f"{where}: nested deeper than {MAX_DEPTH} levels")
            kind = type(child)
            if kind is str:
                if "\x00" in child or not (vouched or is_text(child)):
                    raise _bad(f"{where}: a text holds U+0000 or a lone surrogate")
            elif kind is dict or kind is list:
                stack.append((child, depth + 1))
            elif kind is float and not (vouched or math.isfinite(child)):
                raise _bad(f"{where}: numbers must be finite")


def _services(raw: Any) -> list[tuple[str, dict, float]]:
    if not isinstance(raw, list) or len(raw) > MAX_SERVICES:
        raise _bad(f"services: a list of at most {MAX_SERVICES}")
    out = []
    for i, s in enumerate(raw):
        where = f"services[{i}]"
        if not isinstance(s, dict) or set(s) - {"id", "name", "target_wait_minutes"}:
            raise _bad(f"{where}: an object of id, name, target_wait_minutes")
        sid, name, target = s.get("id"), s.get("name"), s.get("target_wait_minutes")
        if not isinstance(sid, str) or not SERVICE_ID.fullmatch(sid):
            raise _bad(f"{where}.id: the service's id in the hall's config")
        if not (isinstance(name, dict) and set(name) <= {"zh", "en"} and name
                and all(isinstance(v, str) and 0 < len(v) <= 100 and "\x00" not in v
                        for v in name.values())):
            raise _bad(f'{where}.name: {{"zh": "…", "en": "…"}}')
        if type(target) not in (int, float) or not 0 < target <= 600 or math.isnan(target):
            raise _bad(f"{where}.target_wait_minutes: minutes, above 0 and at most 600")
        out.append((sid, name, float(target)))
    return out


# -- storing -----------------------------------------------------------------------------------
@dataclass
class Outcome:
    status: int
    body: dict
    link: dict  # the link's health after the batch, for the live view


def ingest(conn: psycopg.Connection, batch: Batch) -> Outcome:
    """Store `batch` for its hall in one transaction (the hall is already authenticated)."""
    with conn.transaction():
        link = _lock_link(conn, batch.hall_id)
        outcome = _judge(conn, batch, link)
        if outcome is None:
            new = [e for e in batch.events if e.seq > link["acked_seq"]]
            _upsert_services(conn, batch)
            if new:
                _store_events(conn, batch.hall_id, new)
                Aggregator(conn, batch.hall_id).add(new)
                link["acked_seq"] = new[-1].seq
                link["last_event_at"] = datetime.fromtimestamp(new[-1].at, UTC)
            link["last_error"] = None
            outcome = Outcome(200, {"acked": link["acked_seq"]}, link)
        if batch.status is not None:
            conn.execute(
                "INSERT INTO hall_status (hall_id, at, status) VALUES (%s, now(), %s)"
                " ON CONFLICT (hall_id) DO UPDATE SET at = now(), status = EXCLUDED.status",
                [batch.hall_id, psycopg.types.json.Jsonb(batch.status)])
        link["backlog"] = batch.backlog if batch.backlog is not None else link["backlog"]
        _save_link(conn, batch.hall_id, link)
    return outcome


def _lock_link(conn: psycopg.Connection, hall_id: str) -> dict:
    """The hall's link row, locked until commit: one batch of a hall at a time."""
    conn.execute("INSERT INTO hall_links (hall_id) VALUES (%s) ON CONFLICT DO NOTHING",
                 [hall_id])
    cur = conn.execute(
        "SELECT epoch, acked_seq, last_event_at, backlog, diverged_at_seq, diverged_detail,"
        " accepted_through_seq, last_error FROM hall_links WHERE hall_id = %s FOR UPDATE",
        [hall_id])
    names = [c.name for c in cur.description]
    return dict(zip(names, cur.fetchone(), strict=True))


def _save_link(conn: psycopg.Connection, hall_id: str, link: dict) -> None:
    conn.execute(
        "UPDATE hall_links SET epoch = %(epoch)s, acked_seq = %(acked_seq)s,"
        " last_event_at = %(last_event_at)s, last_contact_at = now(), backlog = %(backlog)s,"
        " diverged_at_seq = %(diverged_at_seq)s, diverged_detail = %(diverged_detail)s,"
        " last_error = %(last_error)s WHERE hall_id = %(hall_id)s", {**link, "hall_id": hall_id})


def _judge(conn: psycopg.Connection, batch: Batch, link: dict) -> Outcome | None:
    """A refusal (diverged, gap) with the link changed to say so, or None: take the batch."""
    if link["diverged_at_seq"] is not None:
        return _diverged(link)
    if link["epoch"] is None:
        link["epoch"] = batch.epoch
    elif link["epoch"] != batch.epoch:
        return _diverge(link, link["acked_seq"],
                        f"the hall's database is another one (epoch {batch.epoch}; the region "
                        f"has the log of epoch {link['epoch']})")
    acked = link["acked_seq"]
    if batch.events and batch.events[-1].seq > acked and batch.after > acked:
        link["last_error"] = f"gap: events after {batch.after} sent, {acked} acknowledged"
        return Outcome(409, error_body(
            "gap", f"the region has every event up to {acked}; send from {acked + 1}",
            expected=acked + 1), link)
    old = [e for e in batch.events if e.seq <= acked
           and (link["accepted_through_seq"] is None or e.seq > link["accepted_through_seq"])]
    differs = _first_difference(conn, batch.hall_id, old)
    if differs:
        return _diverge(link, *differs)
    return None


def _first_difference(conn: psycopg.Connection, hall_id: str,
                      events: list[Event]) -> tuple[int, str] | None:
    """The first of `events` (all at or below acked) that differs from the stored one."""
    if not events:
        return None
    stored = {seq: (type_, at, ticket_id) for seq, type_, at, ticket_id in conn.execute(
        "SELECT seq, type, extract(epoch FROM at)::float8, ticket_id FROM events"
        " WHERE hall_id = %s AND seq = ANY(%s)", [hall_id, [e.seq for e in events]])}
    for e in events:
        if e.seq not in stored:  # a hole the hall's log had, or left by accept-restore
            continue
        type_, at, ticket_id = stored[e.seq]
        if type_ != e.type or ticket_id != e.ticket_id or abs(at - e.at) > SAME_MOMENT_S:
            return e.seq, (f"seq {e.seq}: the hall sent {e.type} at {_iso(e.at)} (ticket "
                           f"{e.ticket_id}), the region has {type_} at {_iso(at)} (ticket "
                           f"{ticket_id}): the hall's database went back (a restored backup?)")
    return None


def _diverge(link: dict, seq: int, detail: str) -> Outcome:
    link["diverged_at_seq"], link["diverged_detail"] = seq, detail
    log.warning("hall log diverged: %s", detail)
    return _diverged(link)


def _diverged(link: dict) -> Outcome:
    link["last_error"] = "diverged"
    return Outcome(409, error_body(
        "diverged", f"{link['diverged_detail']}. Nothing is taken from this hall until an "
        "administrator runs `hallq-region accept-restore HALL_ID`",
        diverged_at_seq=link["diverged_at_seq"]), link)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def _upsert_services(conn: psycopg.Connection, batch: Batch) -> None:
    if not batch.services:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO hall_services (hall_id, service_id, name, target_wait_minutes)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (hall_id, service_id) DO UPDATE SET"
            " name = EXCLUDED.name, target_wait_minutes = EXCLUDED.target_wait_minutes"
            " WHERE (hall_services.name, hall_services.target_wait_minutes)"
            " IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.target_wait_minutes)",
            [(batch.hall_id, sid, psycopg.types.json.Jsonb(name), target)
             for sid, name, target in batch.services])


def _store_events(conn: psycopg.Connection, hall_id: str, events: list[Event]) -> None:
    with conn.cursor() as cur, cur.copy(
            "COPY events (hall_id, seq, at, day, type, window_no, ticket_id, staff_id, data)"
            " FROM STDIN") as copy:
        for e in events:
            copy.write_row((hall_id, e.seq, datetime.fromtimestamp(e.at, UTC), e.day, e.type,
                            e.window, e.ticket_id, e.staff_id, e.data_json))


def accept_restore(conn: psycopg.Connection, hall_id: str) -> dict | None:
    """An administrator's decision on a diverged hall: the region keeps every event it has,
    and takes the hall's events numbered past them. The hall's events under the numbers the
    region already has are skipped (they are a second history under the same numbers, which
    the region never merges). Returns what was decided, or None for an unknown hall."""
    with conn.transaction():
        row = conn.execute(
            "UPDATE hall_links SET accepted_through_seq = acked_seq, accepted_at = now(),"
            " diverged_at_seq = NULL, epoch = NULL, last_error = NULL,"
            " diverged_detail = 'accepted: ' || coalesce(diverged_detail, '')"
            " WHERE hall_id = %s RETURNING acked_seq, diverged_detail", [hall_id]).fetchone()
    return None if row is None else {"kept_through_seq": row[0], "detail": row[1]}


# -- the route ---------------------------------------------------------------------------------
def register(app: Flask, socketio: SocketIO, region: Region) -> None:
    @app.post("/api/ingest")
    def ingest_route() -> Response:
        try:
            hall_id = _authenticate(region)
            batch = parse_batch(*loads(request.get_data(cache=False)))
            if batch.hall_id != hall_id:
                raise IngestError(403, "forbidden", "this token is another hall's")
            with region.pool.connection() as conn:
                outcome = ingest(conn, batch)
        except IngestError as error:
            return reply(error.status, error.body())
        live.publish(socketio, batch.hall_id, _update(batch, outcome))
        return reply(outcome.status, outcome.body)


def _authenticate(region: Region) -> str:
    """The hall whose token came, or 401."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    if not token or len(token) > 200:
        raise IngestError(401, "unauthorized", "send the hall's token: Authorization: Bearer …")
    digest = token_digest(token)
    with region.pool.connection() as conn:
        row = conn.execute("SELECT id, token_sha256, disabled FROM halls"
                           " WHERE token_sha256 = %s", [digest]).fetchone()
    if row is None or not hmac.compare_digest(bytes(row[1]), digest) or row[2]:
        raise IngestError(401, "unauthorized", "unknown hall token (or the hall is disabled)")
    return row[0]


def _update(batch: Batch, outcome: Outcome) -> dict:
    """The live view's compact update: the hall's status and its link's health."""
    link = outcome.link
    return {
        "status": batch.status,
        "link": {"acked_seq": link["acked_seq"], "backlog": link["backlog"],
                 "last_event_at": link["last_event_at"].isoformat()
                 if link["last_event_at"] else None,
                 "last_contact_at": datetime.now(UTC).isoformat(),
                 "diverged": link["diverged_at_seq"] is not None,
                 "error": link["last_error"]},
        "received_at": batch.received,
    }
