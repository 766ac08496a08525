"""The report figures that appraise the service (HALL-RULES.md #2, #3, #8, #12).

For a range of hall days, per service, window, clerk, hour of day and day: tickets issued,
served, no-show, transferred, cancelled, expired; waiting time mean / p90 / max and the share
within the service's target; handling time mean / p90; away count, away time, overdue count;
ratings per level and satisfaction; each clerk's first login per day.

What counts where (docs/supervisor.md says the same for the people who read the figures):
- issued: by the service the ticket was issued for; hour = hour of issue.
- served (done), no-show: by the ticket's final service, window and clerk; hour = hour of issue.
- cancelled, expired: by service; hour = hour of issue.
- transferred: one per `transfer` event, by the service, window and clerk it left.
- waiting time: issue → *first* call (a transferred customer's second wait is not a new wait),
  by the service, window and clerk of that call; tickets never called are not in it (they are
  the cancelled / expired / still waiting counts). Within target: wait ≤ the service's
  `target_wait_minutes`.
- handling time: start (or call, if never started) → finish of served tickets.
- away: periods begun in the range, by window and clerk; hour = hour begun; a period still
  open counts up to now. Overdue = passed the away limit.
- ratings: of the range's tickets, by the ticket's service, window and clerk; hour = hour rated.
  Satisfaction = share of 非常满意 (5) and 满意 (4) among all ratings.
- p90 is the nearest-rank 90th percentile: the smallest value that at least 90 % are ≤ to.

Figures come from the event log (calls, transfers, logins) and the tables the commands keep in
step with it (tickets, away_periods, ratings), each day read in one transaction. A day is read
as "leaves", the figures of one (service, window, clerk, hour), and the report's rows are the
leaves of all its days added up.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import io
import json
import math
import sqlite3
import sys
import threading
import unicodedata
from array import array
from bisect import bisect_left
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from itertools import chain
from pathlib import Path
from typing import Any, NamedTuple

from hall import appointments
from hall.config import HallConfig
from hall.promises import promise_figures, promise_figures_empty
from hall.store import Database, NotMigratedError, Store

MAX_DAYS = 400
LEVELS = (5, 4, 3, 2, 1)
LEVEL_NAMES = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
DIMENSIONS = ("total", "service", "window", "clerk", "hour", "day")
DEFAULT_TARGET_S = 20 * 60.0  # the target of a service no longer in the config


# A bucket's counters, by position (a list merges faster than attributes).
ISSUED, SERVED, NO_SHOW, TRANSFERRED, CANCELLED, EXPIRED, WITHIN, AWAY, OVERDUE, AWAY_S = range(10)
RATED_1 = 10  # counters 10..14: ratings with score 1..5
N_COUNTERS = 15

# Waiting and handling times leave SQLite as whole numbers of ticks of 2**-22 s: JSON reads
# whole numbers several times faster than decimals, and nothing is lost, since a timestamp from
# 2004 on is a multiple of 2**-22 s (so is the difference of two) and scaling by a power of two
# is exact.
TICKS_PER_S = 4194304
SECONDS_PER_TICK = 1 / TICKS_PER_S


class Bucket:
    """The raw figures of one leaf: counters, and the waiting and handling times in seconds."""

    __slots__ = ("c", "handles", "waits")

    def __init__(self, c: list[float] | None = None, waits: list[float] | None = None,
                 handles: list[float] | None = None) -> None:
        self.c = [0] * N_COUNTERS if c is None else c
        self.waits = [] if waits is None else waits
        self.handles = [] if handles is None else handles


class Row:
    """One row of the report (a service, a window, ...): counters added up, and the waiting
    and handling times as `Times`."""

    __slots__ = ("c", "handles", "waits")

    def __init__(self, c: list[float] | None = None, waits: Times | None = None,
                 handles: Times | None = None) -> None:
        self.c = [0] * N_COUNTERS if c is None else c
        self.waits = waits or Times([])
        self.handles = handles or Times([])

    def figures(self) -> dict:
        c = self.c
        waited, wait_mean, wait_p90, wait_max = self.waits.figures()
        handled, handling_mean, handling_p90, _ = self.handles.figures()
        rated = sum(c[RATED_1:RATED_1 + 5])
        out = {
            "issued": c[ISSUED], "served": c[SERVED], "no_show": c[NO_SHOW],
            "transferred": c[TRANSFERRED], "cancelled": c[CANCELLED], "expired": c[EXPIRED],
            "waited": waited,
            "wait_mean_min": _minutes(wait_mean),
            "wait_p90_min": _minutes(wait_p90),
            "wait_max_min": _minutes(wait_max),
            "within_target": _share(c[WITHIN], waited),
            "handled": handled,
            "handling_mean_min": _minutes(handling_mean),
            "handling_p90_min": _minutes(handling_p90),
            "away_count": c[AWAY], "away_min": round(c[AWAY_S] / 60, 2),
            "away_overdue": c[OVERDUE],
            "rated": rated,
        }
        for score in LEVELS:
            out[f"rating_{score}"] = c[RATED_1 + score - 1]
        out["satisfaction"] = _share(c[RATED_1 + 4] + c[RATED_1 + 3], rated)
        return out


def _add_up(buckets: list) -> list[float]:
    return [sum(column) for column in zip(*(x.c for x in buckets), strict=True)]


def p90(values: list[float]) -> float | None:
    """Nearest-rank 90th percentile."""
    return _p90(sorted(values)) if values else None


class Times(NamedTuple):
    """Times in seconds as sorted runs (a row's are its leaves', never copied into one list),
    with their total."""

    runs: list[list[float]]
    total: float = 0

    def figures(self) -> tuple[int, float | None, float | None, float | None]:
        """Count, mean, p90 and max."""
        n = sum(map(len, self.runs))
        if not n:
            return 0, None, None, None
        return n, self.total / n, _p90(*self.runs), max(run[-1] for run in self.runs if run)


def _p90(*runs: list[float]) -> float:
    """The nearest-rank 90th percentile of the values of sorted `runs` (not all empty).

    A month has some 150,000 waits; merging them for every row would be most of the report's
    time. A sample gives a value almost surely below the percentile; only the values from there
    up (a sixth or so) are merged. Exact whatever the sample: if it misleads, all are merged.
    """
    n = sum(map(len, runs))
    rank = math.ceil(0.9 * n)
    if len(runs) == 1:
        return runs[0][rank - 1]
    if n >= 2048:
        sample = sorted(_every(runs, n // 512))
        low = sample[max(0, rank * len(sample) // n - 32)]
        below, top = 0, []
        for run in runs:
            i = bisect_left(run, low)
            below += i
            top += run[i:]
        if rank > below:
            top.sort()
            return top[rank - below - 1]
    return sorted(chain.from_iterable(runs))[rank - 1]


def _every(runs: tuple[list[float], ...], step: int) -> list[float]:
    """Every `step`-th value of the runs taken as one list, without making that list."""
    out: list[float] = []
    at = 0
    for run in runs:
        out += run[(-at) % step::step]
        at += len(run)
    return out


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 2)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def parse_day(value: Any, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: a day as YYYY-MM-DD (got {value!r})") from None


def check_range(start: Any, end: Any) -> tuple[str, str]:
    """Validated (from, to) day strings; ValueError names the problem."""
    first, last = parse_day(start, "from"), parse_day(end, "to")
    if last < first:
        raise ValueError("to: must not be before from")
    if (last - first).days >= MAX_DAYS:
        raise ValueError(f"a report covers at most {MAX_DAYS} days")
    return first.isoformat(), last.isoformat()


class _Hours:
    """Epoch → local hour of day, fast: the offset is looked up once per quarter hour."""

    def __init__(self, config: HallConfig) -> None:
        self.tz = config.tz
        self.cache: dict[int, int] = {}

    def __call__(self, epoch: float) -> int:
        key = int(epoch // 900)
        hour = self.cache.get(key)
        if hour is None:
            hour = self.cache[key] = datetime.fromtimestamp(key * 900, self.tz).hour
        return hour


Leaf = tuple  # (service, window, clerk, hour): where one ticket, call, away, rating counts


class Day(NamedTuple):
    """One hall day read from the database: its leaves, and what says whether it is over."""

    leaves: dict[Leaf, Bucket]
    open_items: int  # tickets still waiting or at a window, away periods not ended
    last_finish: float  # of the day's last served ticket (0 if none)


def build_report(store: Store, config: HallConfig, start: str, end: str, now: float) -> dict:
    """Every figure for the hall days `start`..`end` (inclusive, YYYY-MM-DD).

    A closed day no longer changes, so its leaves are kept (table `report_days`) and read from
    there next time.
    """
    start, end = check_range(start, end)
    stamp = _fingerprint(config)
    first = date.fromisoformat(start)
    days = [(first + timedelta(days=i)).isoformat()
            for i in range((date.fromisoformat(end) - first).days + 1)]
    with _collector_paused:
        with store.read() as db:
            kept = _stored_days(db, start, end, stamp)
            logins = _first_logins(db, config, [start, end])
            names = _staff_names(db, config)
            booked = appointments.report_figures(db, start, end)
            promised = promise_figures(db, start, end)
        parts = [_part(kept), *_read_parts(store, config, [d for d in days if d not in kept],
                                           now, stamp)]
        report = _assemble(config, start, end, now, _rows(parts), logins, names)
    _add_appointments(report, booked)
    return _with_promises(report, promised)


def _add_appointments(report: dict, booked: dict[tuple[str, str], dict]) -> None:
    """Appointments (预约) beside the tickets' figures: of the total, each service and day
    (read afresh, not kept with the closed days: a booking's day may lie ahead)."""
    empty = dict.fromkeys(appointments.FIGURES)
    report["total"]["appointments"] = booked.get(("total", ""), empty)
    for row in report["services"]:
        row["appointments"] = booked.get(("service", row["service"]), empty)
    for row in report["days"]:
        row["appointments"] = booked.get(("day", row["day"]), empty)


def _with_promises(report: dict, promised: dict) -> dict:
    """How well the printed waits held (hall/promises.py), in the total, service and day rows;
    the other rows have none."""
    empty = promise_figures_empty()
    report["total"] |= promised["total"]
    for row in report["services"]:
        row |= promised["service"].get(row["service"], empty)
    for row in report["days"]:
        row |= promised["day"].get(row["day"], empty)
    return report


def _read_parts(store: Store, config: HallConfig, days: list[str], now: float,
                stamp: str) -> list[Part]:
    """The days not kept, read from the tickets and the event log.

    Many days are shared between two threads with a connection each: while one is in SQLite
    (which lets go of Python's lock), the other turns rows into figures. Each day is read
    within one transaction; days are independent of each other.
    """
    if len(days) < 4 or store.path == ":memory:":  # a second connection would not see it
        return [_read_part(store, config, days, now, stamp)] if days else []
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda share: _read_part(store, config, share, now, stamp),
                             (days[::2], days[1::2])))


def _read_part(store: Store, config: HallConfig, days: list[str], now: float,
               stamp: str) -> Part:
    """`days` read in one transaction, the closed ones kept, and merged leaf by leaf.

    A day's own row and the form it is kept in are made as soon as it is read, while the
    other thread is in SQLite: left for the end, that work would have nothing to run beside
    (the threads share Python's lock), and encoding in the write transaction would hold up the
    hall's commands."""
    leaves_by_day: dict[str, dict[Leaf, Bucket]] = {}
    day_rows: dict[str, Row] = {}
    fresh: list[tuple] = []
    with store.read() as db:
        for day in days:
            read = _read_day(db, config, day, now)
            leaves_by_day[day] = read.leaves
            if read.leaves:
                day_rows[day] = _day_row(read.leaves)
            if _closed(config, day, now, read):
                fresh.append(_kept(day, read.leaves, stamp))
    if fresh:
        _store_days(store, fresh)
    return Part(day_rows, _leaf_rows(leaves_by_day))


class _CollectorPause:
    """Keeps Python's cycle collector off while reports are computed.

    A month's report makes a few hundred thousand lists and tuples, none of them in a cycle,
    and the collector would walk them again and again as they pile up: a quarter of the time
    of a report from kept days. Reports may run in several threads at once; the collector is
    back on when the last one ends.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0

    def __enter__(self) -> None:
        with self._lock:
            self._running += 1
            gc.disable()

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._running -= 1
            if not self._running:
                gc.enable()


_collector_paused = _CollectorPause()


class Part(NamedTuple):
    """Some days' figures, half rolled up: a row per day, and each leaf over those days."""

    days: dict[str, Row]
    leaves: dict[Leaf, Row]


def _part(days: dict[str, dict[Leaf, Bucket]]) -> Part:
    """A row per day, and each leaf over the days."""
    return Part({day: _day_row(leaves) for day, leaves in days.items() if leaves},
                _leaf_rows(days))


def _day_row(leaves: dict[Leaf, Bucket]) -> Row:
    """A day's figures: all its leaves merged."""
    return _merged(list(leaves.values()))


def _leaf_rows(days: dict[str, dict[Leaf, Bucket]]) -> dict[Leaf, Row]:
    """The same leaf on different days is merged (a month has a few hundred distinct leaves),
    its times sorted into one run."""
    same_leaf: dict[Leaf, list[Bucket]] = defaultdict(list)
    for leaves in days.values():
        for leaf, bucket in leaves.items():
            same_leaf[leaf].append(bucket)
    return {leaf: _merged(buckets) for leaf, buckets in same_leaf.items()}


def _rows(parts: list[Part]) -> dict[tuple, Row]:
    """The report's rows: total, per service, window, clerk, hour and day. A row holds the
    sorted runs of its leaves as they are."""
    rows = {("day", day): row for part in parts for day, row in part.days.items()}
    by_key: dict[tuple, list[Row]] = defaultdict(list)
    for part in parts:
        for (service, window, clerk, hour), row in part.leaves.items():
            for key in (("total", ""), ("service", service), ("window", window),
                        ("clerk", clerk), ("hour", hour)):
                if key[1] is not None:
                    by_key[key].append(row)
    rows.update((key, _joined(leaf_rows)) for key, leaf_rows in by_key.items())
    return rows


def _merged(buckets: list[Bucket]) -> Row:
    """One row from leaves: counters added up, and the times sorted into one run each."""
    return Row(_add_up(buckets), _sorted_times([b.waits for b in buckets]),
               _sorted_times([b.handles for b in buckets]))


def _joined(rows: list[Row]) -> Row:
    """One row from rows: counters added up, their runs of times kept as they are."""
    return Row(_add_up(rows), _joined_times([r.waits for r in rows]),
               _joined_times([r.handles for r in rows]))


def _sorted_times(lists: list[list[float]]) -> Times:
    run = sorted(chain.from_iterable(lists))
    return Times([run], sum(run))


def _joined_times(times: list[Times]) -> Times:
    return Times(list(chain.from_iterable(t.runs for t in times)), sum(t.total for t in times))


def _read_day(db: Database, config: HallConfig, day: str, now: float) -> Day:
    """One hall day's leaves, and whether it is over."""
    offset = _fixed_offset(config, day)
    if offset is None:  # a daylight-saving change that day: the hour is found ticket by ticket
        return _read_rows(db, config, day, now)
    return _read_grouped(db, config, day, now, offset)


def collect_grouped(db: Database, config: HallConfig, day: str, now: float,
                    offset: int) -> dict[Leaf, Bucket]:
    """The raw figures of one hall day, by leaf (service, window, clerk, hour), with SQLite
    doing the grouping."""
    return _read_grouped(db, config, day, now, offset).leaves


def collect_rows(db: Database, config: HallConfig, day: str,
                 now: float) -> dict[Leaf, Bucket]:
    """The raw figures of one hall day, by leaf, reading ticket by ticket."""
    return _read_rows(db, config, day, now).leaves


def _fixed_offset(config: HallConfig, day: str) -> int | None:
    """The time zone's UTC offset in seconds if it is the same all day, else None."""
    first = datetime.combine(date.fromisoformat(day), time(), config.tz)
    last = datetime.combine(date.fromisoformat(day) + timedelta(days=1), time(),
                            config.tz) - timedelta(seconds=1)
    offsets = {first.utcoffset(), last.astimezone(config.tz).utcoffset()}
    return int(offsets.pop().total_seconds()) if len(offsets) == 1 else None


# A ticket "moved" if the tickets row alone does not tell its first call or where it was issued:
# transferred, or sent back to the queue by a force-closed window (the row keeps only the last
# call). The few that did are read one by one, with their events.
MOVED_SQL = "(transfers > 0 OR issued_service <> service OR id IN ({force_closed}))"


def _moved_sql(db: Database, day: str) -> str:
    """MOVED_SQL for the tickets of `day`. The ids of the tickets sent back to the queue by a
    force-close (a rare event) go into it as a list: a subquery would be looked up for every
    ticket."""
    ids = [r[0] for r in db.execute(
        "SELECT ticket_id FROM events WHERE type = 'force_close' AND day >= ?"
        " AND ticket_id IS NOT NULL", [day])]
    return MOVED_SQL.format(force_closed=",".join(map(str, ids)))


# The leaves of the day's tickets: a few hundred, with the times as text lists. They come back
# as one JSON text, not a row each: the two threads share Python's lock, and each row fetched
# lets go of it and waits for the other thread's turn to get it back. Numbers that must stay
# exact are integers in it (JSON would round other floats), or columns of their own.
GROUPED_SQL = """
WITH leaf (service, window, staff_id, hour, tickets, served, no_show, cancelled, expired,
           still_open, last_finish, waits, handles, moved) AS (
    SELECT service, window, staff_id, {hour},
        count(*), sum(status = 'done'), sum(status = 'no_show'),
        sum(status = 'cancelled'), sum(status = 'expired'),
        sum(status IN ('waiting', 'called', 'serving')),
        max(finished_at) FILTER (WHERE status = 'done'),
        group_concat(CAST((called_at - issued_at) * {ticks} AS INTEGER))
            FILTER (WHERE called_at IS NOT NULL AND NOT moved),
        group_concat(CAST((finished_at - coalesce(started_at, called_at)) * {ticks} AS INTEGER))
            FILTER (WHERE status = 'done'),
        group_concat(id) FILTER (WHERE moved)
    FROM (SELECT *, {moved} AS moved FROM tickets WHERE day = ?1)
    GROUP BY 1, 2, 3, 4)
SELECT '[' || group_concat('[' || json_quote(service) || ',' || json_quote(window) || ','
        || json_quote(staff_id) || ',' || hour || ',' || tickets || ',' || served || ','
        || no_show || ',' || cancelled || ',' || expired || ',[' || ifnull(waits, '')
        || '],[' || ifnull(handles, '') || '],[' || ifnull(moved, '') || ']]') || ']',
    sum(still_open), max(last_finish)
FROM leaf
"""


def _hour_sql(column: str, offset: int) -> str:
    return f"(CAST(({column} + {int(offset)}) / 3600 AS INTEGER) % 24)"


def _read_grouped(db: Database, config: HallConfig, day: str, now: float,
                  offset: int) -> Day:
    """`_read_rows`, with SQLite doing the grouping: a few hundred leaves come back instead of
    a row per ticket, parsed in one go."""
    leaves: dict[Leaf, Bucket] = defaultdict(Bucket)
    limits = _wait_limits(config)
    moved_sql = _moved_sql(db, day)
    text, still_open, last_finish = db.execute(GROUPED_SQL.format(
        hour=_hour_sql("issued_at", offset), moved=moved_sql, ticks=TICKS_PER_S), [day]).fetchone()
    moved: list[int] = []
    for (service, window, staff_id, hour, count, served, no_show, cancelled, expired,
         wait_ticks, handle_ticks, moved_ids) in json.loads(text or "[]"):
        issued = count - len(moved_ids)  # the moved ones count where they were issued
        if issued or cancelled or expired:
            c = leaves[(service, None, None, hour)].c
            c[ISSUED] += issued
            c[CANCELLED] += cancelled
            c[EXPIRED] += expired
        if served or no_show or wait_ticks:
            b = leaves[(service, window, staff_id, hour)]
            b.c[SERVED] += served
            b.c[NO_SHOW] += no_show
            waits = list(map(SECONDS_PER_TICK.__mul__, wait_ticks))
            b.c[WITHIN] += sum(map(_limit(limits, service).__ge__, waits))
            b.waits += waits
            b.handles += map(SECONDS_PER_TICK.__mul__, handle_ticks)
        moved += moved_ids
    hours = _Hours(config)
    _add_moved(db, leaves, moved, hours, limits)
    open_items = (still_open or 0) + _add_away(db, config, day, now, leaves, hours)
    _add_ratings(db, day, leaves, hours, lambda column: _hour_sql(column, offset))
    return Day(dict(leaves), open_items, last_finish or 0.0)


def _read_rows(db: Database, config: HallConfig, day: str, now: float) -> Day:
    """The raw figures of one hall day, by leaf, reading ticket by ticket."""
    leaves: dict[Leaf, Bucket] = defaultdict(Bucket)
    hours = _Hours(config)
    limits = _wait_limits(config)
    moved_sql = _moved_sql(db, day)
    moved: list[int] = []
    open_items, last_finish = 0, 0.0
    for (tid, service, status, issued_at, called_at, started_at, finished_at, window, staff_id,
         was_moved) in db.execute(
            "SELECT id, service, status, issued_at, called_at, started_at, finished_at, window,"
            f" staff_id, {moved_sql} FROM tickets WHERE day = ?", [day]):
        hour = hours(issued_at)
        if status == "done":
            b = leaves[(service, window, staff_id, hour)]
            b.c[SERVED] += 1
            b.handles.append(finished_at - (started_at or called_at))
            last_finish = max(last_finish, finished_at)
        elif status == "no_show":
            leaves[(service, window, staff_id, hour)].c[NO_SHOW] += 1
        elif status == "cancelled":
            leaves[(service, None, None, hour)].c[CANCELLED] += 1
        elif status == "expired":
            leaves[(service, None, None, hour)].c[EXPIRED] += 1
        else:
            open_items += 1
        if was_moved:
            moved.append(tid)
            continue
        leaves[(service, None, None, hour)].c[ISSUED] += 1
        if called_at is not None:
            waited = called_at - issued_at
            b = leaves[(service, window, staff_id, hour)]
            b.waits.append(waited)
            b.c[WITHIN] += waited <= _limit(limits, service)
    _add_moved(db, leaves, moved, hours, limits)
    open_items += _add_away(db, config, day, now, leaves, hours)
    _add_ratings(db, day, leaves, hours)
    return Day(dict(leaves), open_items, last_finish)


def _wait_limits(config: HallConfig) -> dict[str, float]:
    return {s.id: float(s.target_wait_minutes * 60) for s in config.services}


def _limit(limits: dict[str, float], service: str) -> float:
    """A service's target wait in seconds: a wait counts as within target up to it."""
    return limits.get(service, DEFAULT_TARGET_S)


def _add_moved(db: Database, leaves: dict, ids: list[int], hours: _Hours,
               limits: dict[str, float]) -> None:
    """Issue, first call and transfers of the tickets that moved, from their events."""
    tickets: dict[int, tuple] = {}
    events: list[tuple] = []
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        marks = ",".join("?" * len(chunk))
        tickets.update((tid, (issued_at, issued_service)) for tid, issued_at, issued_service
                       in db.execute("SELECT id, issued_at, issued_service FROM tickets"
                                     f" WHERE id IN ({marks})", chunk))
        # `+type` keeps the planner on the ticket index (a few rows), not the type index.
        events += db.execute(
            "SELECT ticket_id, type, at, window, staff_id, json_extract(data,"
            " CASE type WHEN 'call' THEN '$.service' ELSE '$.from_service' END) FROM events"
            f" WHERE +type IN ('call', 'transfer') AND ticket_id IN ({marks})", chunk)
    first_calls: dict[int, tuple] = {}
    for tid, kind, at, window, staff_id, service in events:
        if kind == "transfer":  # `service` is the one it left
            leaves[(service, window, staff_id, hours(tickets[tid][0]))].c[TRANSFERRED] += 1
        elif tid not in first_calls or at < first_calls[tid][0]:
            first_calls[tid] = (at, window, staff_id, service)
    for tid, (issued_at, issued_service) in tickets.items():
        hour = hours(issued_at)
        leaves[(issued_service, None, None, hour)].c[ISSUED] += 1
        call = first_calls.get(tid)
        if call is not None:  # else never called yet
            at, window, staff_id, service = call
            b = leaves[(service, window, staff_id, hour)]
            b.waits.append(at - issued_at)
            b.c[WITHIN] += at - issued_at <= _limit(limits, service)


def _add_away(db: Database, config: HallConfig, day: str, now: float,
              leaves: dict, hours: _Hours) -> int:
    """The away periods begun on `day`; returns how many are still open."""
    begin = datetime.combine(date.fromisoformat(day), time(), config.tz).timestamp()
    end = datetime.combine(date.fromisoformat(day) + timedelta(days=1), time(),
                           config.tz).timestamp()
    still_open = 0
    for window, staff_id, started_at, ended_at, overdue in db.execute(
            "SELECT window, staff_id, started_at, ended_at, overdue FROM away_periods"
            " WHERE started_at >= ? AND started_at < ?", [begin, end]):
        b = leaves[(None, window, staff_id, hours(started_at))]
        b.c[AWAY] += 1
        b.c[AWAY_S] += (ended_at if ended_at is not None else max(now, started_at)) - started_at
        b.c[OVERDUE] += overdue
        still_open += ended_at is None
    return still_open


# The ratings of a day's tickets (a rating carries its ticket's service and day, see
# hall/store.py), per service, window and clerk, then by hour rated and score. Grouped, they come
# in the order of the index ratings_by_day, so SQLite need not sort them: each group's hours and
# scores come as one list of codes (hour * 8 + score), counted here. One by one, they come in
# the order of their tickets.
RATINGS_SQL = "SELECT service, window, staff_id, {columns} FROM ratings WHERE day = ?1 {then}"


def _add_ratings(db: Database, day: str, leaves: dict, hours: _Hours,
                 hour_sql: Any = None) -> None:
    """The ratings of `day`'s tickets, grouped in SQLite if `hour_sql` is given."""
    if hour_sql is not None:
        for service, window, staff_id, codes in db.execute(RATINGS_SQL.format(
                columns=f"group_concat({hour_sql('at')} * 8 + score)",
                then="GROUP BY service, window, staff_id"), [day]):
            for code, count in sorted(Counter(json.loads(f"[{codes}]")).items()):
                hour, score = divmod(code, 8)
                leaves[(service, window, staff_id, hour)].c[RATED_1 + score - 1] += count
        return
    for service, window, staff_id, at, score in db.execute(
            RATINGS_SQL.format(columns="at, score", then="ORDER BY ticket_id"), [day]):
        leaves[(service, window, staff_id, hours(at))].c[RATED_1 + score - 1] += 1


# -- closed days, kept ------------------------------------------------------------------------
CACHE_VERSION = 2  # bump when the figures' definitions change: stored days are recomputed

CACHE_SCHEMA = """
CREATE TABLE IF NOT EXISTS report_days (
    day TEXT PRIMARY KEY,
    stamp TEXT NOT NULL,
    rows TEXT NOT NULL,   -- the leaves: [[service, window, clerk, hour, counters, n_waits,
                          -- n_handles], ...]
    times BLOB NOT NULL   -- each leaf's waits then handles: doubles, seconds
)"""


def _fingerprint(config: HallConfig) -> str:
    """What the stored figures depend on besides the data: targets, time zone, this code."""
    targets = ",".join(f"{s.id}={s.target_wait_minutes}" for s in config.services)
    return f"v{CACHE_VERSION};{config.timezone};{targets}"


def _closed(config: HallConfig, day: str, now: float, read: Day) -> bool:
    """True once nothing can change the day's figures: the day is over, none of its tickets
    is still waiting, called or serving, no away period begun that day is open, and the last
    finished ticket can no longer be rated."""
    if day >= datetime.fromtimestamp(now, config.tz).date().isoformat():
        return False
    return (not read.open_items
            and read.last_finish <= now - config.rules.rating_minutes * 60)


def _stored_days(db: Database, start: str, end: str,
                 stamp: str) -> dict[str, dict[Leaf, Bucket]]:
    try:
        rows = db.execute("SELECT day, rows, times FROM report_days WHERE day BETWEEN ? AND ?"
                          " AND stamp = ?", [start, end, stamp]).fetchall()
    except sqlite3.OperationalError:  # no table yet: nothing stored
        return {}
    days = {}
    for day, index, blob in rows:
        # The times are one array of doubles per day: read back without parsing text.
        times = array("d")
        times.frombytes(blob)
        values = times.tolist()
        leaves, at = {}, 0
        for service, window, clerk, hour, counts, n_waits, n_handles in json.loads(index):
            leaves[(service, window, clerk, hour)] = Bucket(
                counts, values[at:at + n_waits], values[at + n_waits:at + n_waits + n_handles])
            at += n_waits + n_handles
        days[day] = leaves
    return days


def _kept(day: str, leaves: dict[Leaf, Bucket], stamp: str) -> tuple:
    """A day's row of `report_days`."""
    index = [[*leaf, b.c, len(b.waits), len(b.handles)] for leaf, b in leaves.items()]
    times: list[float] = []
    for b in leaves.values():
        times += b.waits
        times += b.handles
    # ASCII-only JSON: encoded faster (the text is for this code, not for people)
    return day, stamp, json.dumps(index), array("d", times).tobytes()


def _store_days(store: Store, rows: list[tuple]) -> None:
    with store.write() as db:
        db.execute(CACHE_SCHEMA)
        for row in rows:
            db.execute("INSERT OR REPLACE INTO report_days (day, stamp, rows, times)"
                       " VALUES (?, ?, ?, ?)", row)


def _first_logins(db: Database, config: HallConfig, params: list) -> list[dict]:
    rows = db.execute(
        "SELECT day, staff_id, window, min(at) FROM events WHERE day BETWEEN ? AND ?"
        " AND type = 'login' AND window IS NOT NULL GROUP BY day, staff_id"
        " ORDER BY day, min(at)", params).fetchall()
    return [{"day": day, "staff_id": staff_id, "window": window,
             "at": datetime.fromtimestamp(at, config.tz).strftime("%H:%M:%S")}
            for day, staff_id, window, at in rows]


def _staff_names(db: Database, config: HallConfig) -> dict[str, str]:
    names = {s.id: s.name for s in config.staff}
    with contextlib.suppress(sqlite3.OperationalError):  # a database older than the table
        names.update(db.execute("SELECT id, name FROM staff").fetchall())
    return names


def _assemble(config: HallConfig, start: str, end: str, now: float, rows: dict[tuple, Row],
              logins: list[dict], names: dict[str, str]) -> dict:
    by_dim: dict[str, list] = defaultdict(list)
    for dim, key in rows:
        by_dim[dim].append(key)
    first_logins: dict[str, dict[str, str]] = defaultdict(dict)
    for login in logins:
        login["name"] = names.get(login["staff_id"], login["staff_id"])
        first_logins[login["staff_id"]][login["day"]] = login["at"]

    def figures(dim: str, key: Any) -> dict:
        return rows[(dim, key)].figures() if (dim, key) in rows else Row().figures()

    services = [{"service": s.id, "name": s.name, "target_wait_minutes": s.target_wait_minutes,
                 **figures("service", s.id)} for s in config.services]
    known = {s.id for s in config.services}
    services += [{"service": k, "name": {"zh": k, "en": k}, "target_wait_minutes": None,
                  **figures("service", k)} for k in sorted(by_dim["service"]) if k not in known]
    windows = [{"window": w.number, "name": w.name, **figures("window", w.number)}
               for w in config.windows]
    clerk_ids = sorted(set(by_dim["clerk"]) | set(first_logins))
    clerks = [{"staff_id": k, "name": names.get(k, k), **figures("clerk", k),
               "first_logins": first_logins.get(k, {})} for k in clerk_ids]
    return {
        "hall": config.name,
        "from": start, "to": end,
        "generated_at": datetime.fromtimestamp(now, config.tz).isoformat(timespec="seconds"),
        "total": figures("total", ""),
        "services": services,
        "windows": windows,
        "clerks": clerks,
        "hours": [{"hour": h, **figures("hour", h)} for h in sorted(by_dim["hour"])],
        "days": [{"day": d, **figures("day", d)} for d in sorted(by_dim["day"])],
        "first_logins": logins,
        "levels": {str(k): v for k, v in LEVEL_NAMES.items()},
    }


# -- CSV --------------------------------------------------------------------------------------
CSV_COLUMNS = [
    ("issued", "取号 issued"), ("served", "办结 served"), ("no_show", "过号 no-show"),
    ("transferred", "转移 transferred"), ("cancelled", "取消 cancelled"),
    ("expired", "过期 expired"), ("waited", "已叫号 called"),
    ("wait_mean_min", "平均等候(分) wait mean min"), ("wait_p90_min", "等候P90(分) wait p90 min"),
    ("wait_max_min", "最长等候(分) wait max min"), ("within_target", "达标率 within target"),
    ("handling_mean_min", "平均办理(分) handling mean min"),
    ("handling_p90_min", "办理P90(分) handling p90 min"),
    ("away_count", "暂离次数 away count"), ("away_min", "暂离时长(分) away min"),
    ("away_overdue", "暂离超时 away overdue"), ("rated", "评价数 rated"),
    *[(f"rating_{k}", f"{LEVEL_NAMES[k]} rating {k}") for k in LEVELS],
    ("satisfaction", "满意率 satisfaction"),
    ("promised", "有预计的号 promised"),
    ("promise_within", "预计准确率 promise within"),
    ("promise_median_error_min", "预计误差中位(分) promise median error min"),
    ("promise_bias_min", "预计偏差(分) promise bias min"),
    ("appointments.booked", "预约 booked"), ("appointments.checked_in", "预约签到 checked in"),
    ("appointments.on_time", "准时签到 on time"),
    ("appointments.no_show", "预约未到 booking no-show"),
    ("appointments.appointment_wait_mean_min", "预约等候(分) appointment wait mean min"),
    ("appointments.walk_in_wait_mean_min", "现场等候(分) walk-in wait mean min"),
]
DIM_NAMES = {"total": "合计 total", "service": "业务 service", "window": "窗口 window",
             "clerk": "工作人员 clerk", "hour": "时段 hour", "day": "日期 day"}


def report_rows(report: dict) -> list[list[Any]]:
    """The report as one rectangular table: dimension, key, name, figures..., first logins."""
    header = ["维度 dimension", "项目 key", "名称 name", *(label for _, label in CSV_COLUMNS),
              "首次登录 first login"]
    out = [header]

    def add(dim: str, key: Any, name: str, row: dict, logins: str = "") -> None:
        values = ["" if _csv_value(row, k) is None else _csv_value(row, k)
                  for k, _ in CSV_COLUMNS]
        out.append([DIM_NAMES[dim], key, name, *values, logins])

    add("total", "", f"{report['from']} – {report['to']}", report["total"])
    for r in report["services"]:
        add("service", r["service"], f"{r['name']['zh']} {r['name']['en']}", r)
    for r in report["windows"]:
        add("window", r["window"], r["name"]["zh"], r)
    for r in report["clerks"]:
        logins = "; ".join(f"{d} {t}" for d, t in sorted(r["first_logins"].items()))
        add("clerk", r["staff_id"], r["name"], r, logins)
    for r in report["hours"]:
        add("hour", f"{r['hour']:02d}:00", f"{r['hour']:02d}:00–{r['hour'] + 1:02d}:00", r)
    for r in report["days"]:
        add("day", r["day"], r["day"], r)
    return out


def _csv_value(row: dict, key: str) -> Any:
    """A row's figure; `appointments.x` is x of its appointments (services, days, total)."""
    part, _, leaf = key.rpartition(".")
    return (row.get(part) or {}).get(leaf) if part else row.get(key)


def report_csv(report: dict) -> bytes:
    """UTF-8 with a BOM, so that Excel opens the Chinese as Chinese."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows(report_rows(report))
    return "\ufeff".encode() + text.getvalue().encode("utf-8")


# -- `python server.py report` -----------------------------------------------------------------
def cli(argv: list[str]) -> int:
    """Print a range's report (and write its CSV): the same figures as /reports."""
    import time as _time

    from hall.config import ConfigError, load_config

    parser = argparse.ArgumentParser(prog="server.py report",
                                     description="Print the report of a range of hall days.")
    parser.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="end", help="last day, YYYY-MM-DD (default: --from)")
    parser.add_argument("--db", default="var/hall.db", help="SQLite file (default var/hall.db)")
    parser.add_argument("--config", help="hall TOML (default: the bundled demo hall)")
    parser.add_argument("--csv", help="also write the report as CSV (UTF-8 with BOM) here")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        start, end = check_range(args.start, args.end or args.start)
    except (ConfigError, ValueError) as error:
        print(f"report: {error}", file=sys.stderr)
        return 2
    if not Path(args.db).exists():
        print(f"report: {args.db}: no such database", file=sys.stderr)
        return 2
    try:
        store = Store(args.db)
    except NotMigratedError as error:  # a backup of an earlier release, say
        print(f"report: {error}", file=sys.stderr)
        return 2
    report = build_report(store, config, start, end, _time.time())
    if args.csv:
        Path(args.csv).write_bytes(report_csv(report))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print(format_text(report))
        if args.csv:
            print(f"CSV: {args.csv}")
    return 0


def format_text(report: dict) -> str:
    """A terminal-sized summary: one line per service, window, clerk and hour."""
    def line(label: str, r: dict) -> str:
        cells = [_pad(label, LABEL_COLUMNS), f"{r['issued']:>6}", f"{r['served']:>6}",
                 f"{r['no_show']:>5}", f"{r['transferred']:>5}",
                 f"{r['cancelled'] + r['expired']:>5}",
                 _cell(r["wait_mean_min"]), _cell(r["wait_p90_min"]),
                 _cell(r["within_target"], pct=True), _cell(r["handling_mean_min"]),
                 f"{r['away_count']:>4}", _cell(r["away_min"]), f"{r['away_overdue']:>3}",
                 f"{r['rated']:>5}", _cell(r["satisfaction"], pct=True)]
        return " ".join(cells)

    head = " ".join([_pad("", LABEL_COLUMNS), f"{'issued':>6}", f"{'served':>6}", f"{'noshw':>5}",
                     f"{'trans':>5}", f"{'c+exp':>5}", f"{'wait':>6}", f"{'p90':>6}",
                     f"{'<=tgt':>6}", f"{'handl':>6}", f"{'away':>4}", f"{'a.min':>6}",
                     f"{'ovd':>3}", f"{'rated':>5}", f"{'satis':>6}"])
    out = [f"{report['hall']}  {report['from']} – {report['to']}  (minutes; generated "
           f"{report['generated_at']})", head, line("合计 total", report["total"])]
    sections = [("业务 services", [(f"{r['name']['zh']}", r) for r in report["services"]]),
                ("窗口 windows", [(r["name"]["zh"], r) for r in report["windows"]]),
                ("工作人员 clerks", [(f"{r['staff_id']} {r['name']}", r)
                                   for r in report["clerks"]]),
                ("时段 hours", [(f"{r['hour']:02d}:00", r) for r in report["hours"]])]
    for title, items in sections:
        out.append(title)
        out += [line("  " + label, r) for label, r in items]
    if report["first_logins"]:
        out.append("首次登录 first logins")
        out += [f"  {x['day']} {x['at']}  {x['staff_id']} {x['name']}  窗口 {x['window']}"
                for x in report["first_logins"]]
    return "\n".join(out)


LABEL_COLUMNS = 18


def _pad(text: str, columns: int) -> str:
    """`text` filled or cut to `columns` as a terminal shows it: a Chinese character takes two
    columns, so padding by characters would push every figure after a Chinese name askew."""
    if _columns(text) > columns:
        while _columns(text) > columns - 1:
            text = text[:-1]
        text += "…"
    return text + " " * (columns - _columns(text))


def _columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _cell(value: float | None, pct: bool = False) -> str:
    if value is None:
        return f"{'—':>6}"
    return f"{value * 100:>5.0f}%" if pct else f"{value:>6.1f}"
