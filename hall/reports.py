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
step with it (tickets, away_periods, ratings), read in one transaction.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import operator
import sqlite3
import sys
from array import array
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from hall.config import HallConfig
from hall.store import Database, Store

MAX_DAYS = 400
LEVELS = (5, 4, 3, 2, 1)
LEVEL_NAMES = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
DIMENSIONS = ("total", "service", "window", "clerk", "hour", "day")


# A bucket's counters, by position (a list merges faster than attributes).
ISSUED, SERVED, NO_SHOW, TRANSFERRED, CANCELLED, EXPIRED, WITHIN, AWAY, OVERDUE, AWAY_S = range(10)
RATED_1 = 10  # counters 10..14: ratings with score 1..5
N_COUNTERS = 15


class Bucket:
    """The raw figures of one row (one service, one window, ...), turned into `figures()`.

    Waiting and handling times are kept as sorted lists of seconds, so that merged buckets
    sort fast (Timsort merges sorted runs) and p90 is exact.
    """

    __slots__ = ("c", "handles", "waits")

    def __init__(self) -> None:
        self.c: list[float] = [0] * N_COUNTERS
        self.waits: list[float] = []
        self.handles: list[float] = []

    def merge(self, other: Bucket) -> None:
        self.c = list(map(operator.add, self.c, other.c))
        self.waits += other.waits
        self.handles += other.handles

    def copy(self) -> Bucket:
        b = Bucket()
        b.c, b.waits, b.handles = list(self.c), list(self.waits), list(self.handles)
        return b

    def figures(self) -> dict:
        c = self.c
        waits, handles = sorted(self.waits), sorted(self.handles)
        rated = sum(c[RATED_1:RATED_1 + 5])
        out = {
            "issued": c[ISSUED], "served": c[SERVED], "no_show": c[NO_SHOW],
            "transferred": c[TRANSFERRED], "cancelled": c[CANCELLED], "expired": c[EXPIRED],
            "waited": len(waits),
            "wait_mean_min": _minutes(_mean(waits)),
            "wait_p90_min": _minutes(_p90_sorted(waits)),
            "wait_max_min": _minutes(waits[-1] if waits else None),
            "within_target": _share(c[WITHIN], len(waits)),
            "handled": len(handles),
            "handling_mean_min": _minutes(_mean(handles)),
            "handling_p90_min": _minutes(_p90_sorted(handles)),
            "away_count": c[AWAY], "away_min": round(c[AWAY_S] / 60, 2),
            "away_overdue": c[OVERDUE],
            "rated": rated,
        }
        for score in LEVELS:
            out[f"rating_{score}"] = c[RATED_1 + score - 1]
        out["satisfaction"] = _share(c[RATED_1 + 4] + c[RATED_1 + 3], rated)
        return out


def p90(values: list[float]) -> float | None:
    """Nearest-rank 90th percentile."""
    return _p90_sorted(sorted(values))


def _p90_sorted(ordered: list[float]) -> float | None:
    return ordered[math.ceil(0.9 * len(ordered)) - 1] if ordered else None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


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


def build_report(store: Store, config: HallConfig, start: str, end: str, now: float) -> dict:
    """Every figure for the hall days `start`..`end` (inclusive, YYYY-MM-DD).

    A closed day no longer changes, so its rows are kept (table `report_days`) and merged
    from there next time: a month's report reads 30 stored days, not 150,000 tickets.
    """
    start, end = check_range(start, end)
    rows: dict[tuple, Bucket] = defaultdict(Bucket)
    fresh: list[tuple[str, dict]] = []
    stamp = _fingerprint(config)
    first = date.fromisoformat(start)
    with store.read() as db:
        stored = _stored_days(db, start, end, stamp)
        for i in range((date.fromisoformat(end) - first).days + 1):
            day = (first + timedelta(days=i)).isoformat()
            part = stored.get(day)
            if part is None:
                part = _roll_up(collect(db, config, day, now))
                if _closed(db, config, day, now):
                    fresh.append((day, part))
            for key, bucket in part.items():
                rows[key].merge(bucket)
            if part:
                rows[("day", day)] = part[("total", "")].copy()
        logins = _first_logins(db, config, [start, end])
        report = _assemble(db, config, start, end, now, rows, logins)
    if fresh:
        _store_days(store, fresh, stamp)
    return report


def _roll_up(leaves: dict[Leaf, Bucket]) -> dict[tuple, Bucket]:
    """One day's leaves into the report's rows: total, per service, window, clerk, hour;
    with sorted times, so that merging days is merging sorted runs."""
    rows: dict[tuple, Bucket] = defaultdict(Bucket)
    for (service, window, clerk, hour), bucket in leaves.items():
        for key in (("total", ""), ("service", service), ("window", window), ("clerk", clerk),
                    ("hour", hour)):
            if key[1] is not None:
                rows[key].merge(bucket)
    for bucket in rows.values():
        bucket.waits.sort()
        bucket.handles.sort()
    return dict(rows)


def collect(db: Database, config: HallConfig, day: str,
            now: float) -> dict[Leaf, Bucket]:
    """The raw figures of one hall day, by leaf (service, window, clerk, hour)."""
    offset = _fixed_offset(config, day)
    if offset is None:  # a daylight-saving change that day: the hour is found ticket by ticket
        return collect_rows(db, config, day, now)
    return collect_grouped(db, config, day, now, offset)


def _fixed_offset(config: HallConfig, day: str) -> int | None:
    """The time zone's UTC offset in seconds if it is the same all day, else None."""
    first = datetime.combine(date.fromisoformat(day), time(), config.tz)
    last = datetime.combine(date.fromisoformat(day) + timedelta(days=1), time(),
                            config.tz) - timedelta(seconds=1)
    offsets = {first.utcoffset(), last.astimezone(config.tz).utcoffset()}
    return int(offsets.pop().total_seconds()) if len(offsets) == 1 else None


def collect_grouped(db: Database, config: HallConfig, day: str, now: float,
                    offset: int) -> dict[Leaf, Bucket]:
    """`collect_rows`, with SQLite doing the grouping: a few hundred rows per day come back
    instead of one per ticket (times as JSON arrays, which Python parses in C)."""
    leaves: dict[Leaf, Bucket] = defaultdict(Bucket)

    def hour(column: str) -> str:
        return f"(CAST(({column} + {int(offset)}) / 3600 AS INTEGER) % 24)"

    for service, h, n in db.execute(
            f"SELECT issued_service, {hour('issued_at')}, count(*) FROM tickets WHERE day = ?"
            " GROUP BY 1, 2", [day]):
        leaves[(service, None, None, h)].c[ISSUED] += n
    for service, window, staff_id, h, served, no_show, handles in db.execute(
            f"SELECT service, window, staff_id, {hour('issued_at')}, sum(status = 'done'),"
            " sum(status = 'no_show'), json_group_array(finished_at - coalesce(started_at,"
            " called_at)) FILTER (WHERE status = 'done') FROM tickets"
            " WHERE day = ? AND status IN ('done', 'no_show') GROUP BY 1, 2, 3, 4", [day]):
        b = leaves[(service, window, staff_id, h)]
        b.c[SERVED] += served
        b.c[NO_SHOW] += no_show
        b.handles += json.loads(handles)
    for service, h, cancelled, expired in db.execute(
            f"SELECT service, {hour('issued_at')}, sum(status = 'cancelled'),"
            " sum(status = 'expired') FROM tickets WHERE day = ?"
            " AND status IN ('cancelled', 'expired') GROUP BY 1, 2", [day]):
        b = leaves[(service, None, None, h)]
        b.c[CANCELLED] += cancelled
        b.c[EXPIRED] += expired

    # Waits: a ticket called once has its first call in its row; the few others, in the log.
    targets = [(s.id, s.target_wait_minutes * 60) for s in config.services]
    target_sql = "CASE service " + " ".join("WHEN ? THEN ?" for _ in targets) + " ELSE 1200 END"
    for service, window, staff_id, h, waits, within in db.execute(
            f"SELECT service, window, staff_id, {hour('issued_at')},"
            " json_group_array(called_at - issued_at),"
            f" sum(called_at - issued_at <= {target_sql}) FROM tickets"
            f" WHERE day = ? AND called_at IS NOT NULL AND NOT {RECALLED_SQL}"
            " GROUP BY 1, 2, 3, 4", [*(v for t in targets for v in t), day, day]):
        b = leaves[(service, window, staff_id, h)]
        b.waits += json.loads(waits)
        b.c[WITHIN] += within
    hours = _Hours(config)
    target_of = dict(targets)
    recalled = _first_calls(db, day)
    for tid, issued_at in db.execute(
            f"SELECT id, issued_at FROM tickets WHERE day = ? AND {RECALLED_SQL}", [day, day]):
        call = recalled.get(tid)
        if call is not None:
            waited = call[0] - issued_at
            b = leaves[(call[3], call[1], call[2], hours(issued_at))]
            b.waits.append(waited)
            b.c[WITHIN] += waited <= target_of.get(call[3], 20 * 60)
    _collect_events(db, config, day, now, leaves, hours, hour)
    return dict(leaves)


def collect_rows(db: Database, config: HallConfig, day: str,
                 now: float) -> dict[Leaf, Bucket]:
    """The raw figures of one hall day, by leaf, reading ticket by ticket."""
    leaves: dict[Leaf, Bucket] = defaultdict(Bucket)
    hours = _Hours(config)
    targets = {s.id: s.target_wait_minutes * 60 for s in config.services}
    tickets = db.execute(
        "SELECT id, issued_service, service, status, issued_at, called_at, started_at,"
        " finished_at, window, staff_id FROM tickets WHERE day = ?", [day]).fetchall()
    recalled = _first_calls(db, day)
    for (tid, issued_service, service, status, issued_at, called_at, started_at, finished_at,
         window, staff_id) in tickets:
        hour = hours(issued_at)
        leaves[(issued_service, None, None, hour)].c[ISSUED] += 1
        if status == "done":
            b = leaves[(service, window, staff_id, hour)]
            b.c[SERVED] += 1
            b.handles.append(finished_at - (started_at or called_at))
        elif status == "no_show":
            leaves[(service, window, staff_id, hour)].c[NO_SHOW] += 1
        elif status == "cancelled":
            leaves[(service, None, None, hour)].c[CANCELLED] += 1
        elif status == "expired":
            leaves[(service, None, None, hour)].c[EXPIRED] += 1
        if tid in recalled:
            call = recalled[tid]
        else:
            call = (called_at, window, staff_id, service) if called_at is not None else None
        if call is not None:
            waited = call[0] - issued_at
            b = leaves[(call[3], call[1], call[2], hour)]
            b.waits.append(waited)
            b.c[WITHIN] += waited <= targets.get(call[3], 20 * 60)

    _collect_events(db, config, day, now, leaves, hours)
    return dict(leaves)


def _collect_events(db: Database, config: HallConfig, day: str, now: float,
                    leaves: dict, hours: _Hours, hour_sql: Any = None) -> None:
    """Transfers, away periods and ratings of `day` into `leaves` (a few hundred rows)."""
    for window, staff_id, from_service, issued_at in db.execute(
            "SELECT e.window, e.staff_id, json_extract(e.data, '$.from_service'), t.issued_at"
            " FROM events e CROSS JOIN tickets t ON t.id = e.ticket_id"  # CROSS: events first
            " WHERE e.type = 'transfer' AND e.day >= ? AND t.day = ?", [day, day]):
        leaves[(from_service, window, staff_id, hours(issued_at))].c[TRANSFERRED] += 1

    begin = datetime.combine(date.fromisoformat(day), time(), config.tz).timestamp()
    end = datetime.combine(date.fromisoformat(day) + timedelta(days=1), time(),
                           config.tz).timestamp()
    for window, staff_id, started_at, ended_at, overdue in db.execute(
            "SELECT window, staff_id, started_at, ended_at, overdue FROM away_periods"
            " WHERE started_at >= ? AND started_at < ?", [begin, end]):
        b = leaves[(None, window, staff_id, hours(started_at))]
        b.c[AWAY] += 1
        b.c[AWAY_S] += (ended_at if ended_at is not None else max(now, started_at)) - started_at
        b.c[OVERDUE] += overdue

    if hour_sql is not None:  # grouped in SQLite
        for service, window, staff_id, hour, score, n in db.execute(
                f"SELECT t.service, r.window, r.staff_id, {hour_sql('r.at')}, r.score, count(*)"
                " FROM ratings r JOIN tickets t ON t.id = r.ticket_id WHERE t.day = ?"
                " GROUP BY 1, 2, 3, 4, 5", [day]):
            leaves[(service, window, staff_id, hour)].c[RATED_1 + score - 1] += n
        return
    for score, window, staff_id, at, service in db.execute(
            "SELECT r.score, r.window, r.staff_id, r.at, t.service FROM ratings r"
            " JOIN tickets t ON t.id = r.ticket_id WHERE t.day = ?", [day]):
        leaves[(service, window, staff_id, hours(at))].c[RATED_1 + score - 1] += 1


# -- closed days, kept ------------------------------------------------------------------------
CACHE_VERSION = 1  # bump when the figures' definitions change: stored days are recomputed

CACHE_SCHEMA = """
CREATE TABLE IF NOT EXISTS report_days (
    day TEXT PRIMARY KEY,
    stamp TEXT NOT NULL,
    rows TEXT NOT NULL,   -- [[dimension, key, counters, n_waits, n_handles], ...]
    times BLOB NOT NULL   -- each row's sorted waits then handles: doubles, seconds
)"""


def _fingerprint(config: HallConfig) -> str:
    """What the stored figures depend on besides the data: targets, time zone, this code."""
    targets = ",".join(f"{s.id}={s.target_wait_minutes}" for s in config.services)
    return f"v{CACHE_VERSION};{config.timezone};{targets}"


def _closed(db: Database, config: HallConfig, day: str, now: float) -> bool:
    """True once nothing can change the day's figures: the day is over, none of its tickets
    is still waiting, called or serving, no away period begun that day is open, and the last
    finished ticket can no longer be rated."""
    tz = config.tz
    if day >= datetime.fromtimestamp(now, tz).date().isoformat():
        return False
    open_tickets, last_finish = db.execute(
        "SELECT sum(status IN ('waiting', 'called', 'serving')),"
        " max(CASE WHEN status = 'done' THEN finished_at END)"
        " FROM tickets WHERE day = ?", [day]).fetchone()
    if open_tickets or (last_finish or 0) > now - config.rules.rating_minutes * 60:
        return False
    begin = datetime.combine(date.fromisoformat(day), time(), tz).timestamp()
    end = datetime.combine(date.fromisoformat(day) + timedelta(days=1), time(), tz).timestamp()
    return not db.execute("SELECT 1 FROM away_periods WHERE started_at >= ? AND started_at < ?"
                          " AND ended_at IS NULL LIMIT 1", [begin, end]).fetchone()


def _stored_days(db: Database, start: str, end: str,
                 stamp: str) -> dict[str, dict]:
    try:
        rows = db.execute("SELECT day, rows, times FROM report_days WHERE day BETWEEN ? AND ?"
                          " AND stamp = ?", [start, end, stamp]).fetchall()
    except sqlite3.OperationalError:  # no table yet: nothing stored
        return {}
    days = {}
    for day, index, blob in rows:
        # The times are one array of doubles per day: read back without parsing text.
        values = array("d")
        values.frombytes(blob)
        part, at = {}, 0
        for dim, key, counts, n_waits, n_handles in json.loads(index):
            b = part[(dim, key)] = Bucket()
            b.c = counts
            b.waits = values[at:at + n_waits].tolist()
            b.handles = values[at + n_waits:at + n_waits + n_handles].tolist()
            at += n_waits + n_handles
        days[day] = part
    return days


def _store_days(store: Store, days: list[tuple[str, dict]], stamp: str) -> None:
    with store.write() as db:
        db.execute(CACHE_SCHEMA)
        for day, part in days:
            index, values = [], array("d")
            for (dim, key), b in part.items():
                index.append([dim, key, b.c, len(b.waits), len(b.handles)])
                values.extend(b.waits)
                values.extend(b.handles)
            db.execute("INSERT OR REPLACE INTO report_days (day, stamp, rows, times)"
                       " VALUES (?, ?, ?, ?)",
                       [day, stamp, json.dumps(index, ensure_ascii=False), values.tobytes()])


RECALLED_SQL = ("(transfers > 0 OR id IN (SELECT ticket_id FROM events WHERE day >= ?"
                " AND type = 'force_close' AND ticket_id IS NOT NULL))")


def _first_calls(db: Database, day: str) -> dict:
    """The first call of each ticket of `day` that may have been called more than once, through
    a transfer or a force-closed window (the tickets row keeps only the last call):
    id → (at, window, staff, service), or None if never called."""
    ids = {r[0] for r in db.execute(f"SELECT id FROM tickets WHERE day = ? AND {RECALLED_SQL}",
                                    [day, day])}
    found: dict[int, tuple | None] = {}
    ordered = sorted(ids)
    for i in range(0, len(ordered), 500):
        chunk = ordered[i:i + 500]
        marks = ",".join("?" * len(chunk))
        # SQLite's bare columns beside min() come from the row that holds the minimum;
        # `+type` keeps the planner on the ticket index (a few rows), not the type index.
        for tid, at, window, staff_id, service in db.execute(
                "SELECT ticket_id, min(at), window, staff_id, json_extract(data, '$.service')"
                f" FROM events WHERE +type = 'call' AND ticket_id IN ({marks})"
                " GROUP BY ticket_id", chunk):
            found[tid] = (at, window, staff_id, service)
    for tid in ids:
        found.setdefault(tid, None)  # never called yet
    return found


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


def _assemble(db: Database, config: HallConfig, start: str, end: str, now: float,
              buckets: dict, logins: list[dict]) -> dict:
    names = _staff_names(db, config)
    by_dim: dict[str, list] = defaultdict(list)
    for dim, key in buckets:
        by_dim[dim].append(key)
    first_logins: dict[str, dict[str, str]] = defaultdict(dict)
    for login in logins:
        login["name"] = names.get(login["staff_id"], login["staff_id"])
        first_logins[login["staff_id"]][login["day"]] = login["at"]

    def figures(dim: str, key: Any) -> dict:
        return buckets[(dim, key)].figures() if (dim, key) in buckets else Bucket().figures()

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
]
DIM_NAMES = {"total": "合计 total", "service": "业务 service", "window": "窗口 window",
             "clerk": "工作人员 clerk", "hour": "时段 hour", "day": "日期 day"}


def report_rows(report: dict) -> list[list[Any]]:
    """The report as one rectangular table: dimension, key, name, figures..., first logins."""
    header = ["维度 dimension", "项目 key", "名称 name", *(label for _, label in CSV_COLUMNS),
              "首次登录 first login"]
    out = [header]

    def add(dim: str, key: Any, name: str, row: dict, logins: str = "") -> None:
        values = ["" if row[k] is None else row[k] for k, _ in CSV_COLUMNS]
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
    report = build_report(Store(args.db), config, start, end, _time.time())
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
        cells = [f"{label:<16}", f"{r['issued']:>6}", f"{r['served']:>6}", f"{r['no_show']:>5}",
                 f"{r['transferred']:>5}", f"{r['cancelled'] + r['expired']:>5}",
                 _cell(r["wait_mean_min"]), _cell(r["wait_p90_min"]),
                 _cell(r["within_target"], pct=True), _cell(r["handling_mean_min"]),
                 f"{r['away_count']:>4}", _cell(r["away_min"]), f"{r['away_overdue']:>3}",
                 f"{r['rated']:>5}", _cell(r["satisfaction"], pct=True)]
        return " ".join(cells)

    head = " ".join([f"{'':<16}", f"{'issued':>6}", f"{'served':>6}", f"{'noshw':>5}",
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


def _cell(value: float | None, pct: bool = False) -> str:
    if value is None:
        return f"{'—':>6}"
    return f"{value * 100:>5.0f}%" if pct else f"{value:>6.1f}"
