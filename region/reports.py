"""Reports across halls, from the daily aggregates only (daily_service, daily_hall; never the
raw events): the hall's report figures (hall/reports.py) per hall, service, day and month, a
ranking of halls for the appraisal, and CSV for Excel.

    GET /api/reports?from=YYYY-MM-DD&to=YYYY-MM-DD&by=hall|service|day|month[&hall=ID...]
    GET /api/reports.csv?...                 the same rows, UTF-8 with a BOM (Excel)
    GET /api/ranking?from=&to=&rank_by=within_target|satisfaction|wait_mean_min|promise_within

What differs from a hall's own report, because the region keeps sums and histograms, not each
wait: P90s are read from whole-minute histograms and given as the upper edge of the minute the
P90 falls in (a wait of 4 min 10 s is in "5"); the last bucket is open-ended (120 = two hours or
more). Away figures are per hall and day, so a service's row has none. Handling has a mean, no
P90. A month across 500 halls is one pass over its ~100,000 rows with every figure (histogram
elements included) summed by PostgreSQL, and answers in well under the 2 s asked.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import psycopg
from flask import Flask, Response, request
from flask_socketio import SocketIO

from hall import reports as hall_reports
from hall.errors import HallError, bad_request
from hall.reports import LEVELS, parse_day
from region import users
from region.admin import current_user
from region.app import Region, reply

GROUPS = ("hall", "service", "day", "month")
WAIT_BUCKETS = 121
ERROR_BUCKETS = 61
MAX_DAYS_ACROSS = 400
COUNTERS = ("issued", "served", "no_show", "cancelled", "expired", "transferred", "wait_count",
            "wait_sum_s", "wait_within_target", "handling_count", "handling_sum_s",
            "rating_count", "rating_sum", "estimate_count", "estimate_within",
            "estimate_err_sum_s", "appointments_booked", "appointments_checked_in",
            "appointments_no_show")
HALL_COUNTERS = ("away_count", "away_sum_s", "away_overdue")
RANK_BY = {
    "within_target": ("达标率（等候不超过目标的比例，高者优先）· Share of waits within target, "
                      "highest first", True),
    "satisfaction": ("满意率（非常满意与满意占评价的比例）· Satisfaction (very satisfied and "
                     "satisfied among ratings), highest first", True),
    "wait_mean_min": ("平均等候（短者优先）· Mean wait, shortest first", False),
    "promise_within": ("预计准确率 · Share of printed estimates that held, highest first", True),
}
GROUP_NAMES = {"total": "合计 total", "hall": "营业厅 hall", "service": "业务 service",
               "day": "日期 day", "month": "月份 month"}

# Every figure of a group in one pass: counters summed, histograms summed element by element
# (subscripts, not unnest: no row per element).
_SUMS = ", ".join([f"sum({c})::float8" for c in COUNTERS]
                  + [f"sum(wait_hist[{i}])" for i in range(1, WAIT_BUCKETS + 1)]
                  + [f"sum(ratings[{i}])" for i in range(1, 6)]
                  + [f"sum(estimate_err_hist[{i}])" for i in range(1, ERROR_BUCKETS + 1)])
_KEYS = {"hall": "hall_id", "service": "service_id", "day": "day::text",
         "month": "to_char(day, 'YYYY-MM')"}


_WHERE = " WHERE day BETWEEN %(start)s AND %(end)s AND (%(all)s OR hall_id = ANY(%(halls)s))"


# Each key's sums in one (parallel) pass; the total is the sum of the keys' rows, added up here
# (GROUPING SETS with () measured twice as slow: a sorted, not a parallel hashed, aggregate).
def _service_sql(group: str) -> str:
    return f"SELECT {_KEYS[group]} AS key, {_SUMS} FROM daily_service{_WHERE} GROUP BY 1"


def _hall_sql(group: str) -> str:
    """Away figures are per hall and day: a service's row has none, the total has them."""
    key = "hall_id" if group == "service" else _KEYS[group]
    sums = ", ".join(f"sum({c})::float8" for c in HALL_COUNTERS)
    return f"SELECT {key} AS key, {sums} FROM daily_hall{_WHERE} GROUP BY 1"


def report(conn: psycopg.Connection, group: str, start: Any, end: Any,
           halls: list[str] | None) -> dict:
    """The figures of the days start..end of `halls` (None: every hall), a row per `group`
    key and a total."""
    if group not in GROUPS:
        raise bad_request(f"by: one of {', '.join(GROUPS)}")
    start, end = _range(start, end)
    params = {"start": start, "end": end, "all": halls is None, "halls": halls or []}
    rows = _figures(conn, group, params)
    total = rows.pop(None)
    names = _names(conn, group, list(rows))
    out = [{"key": key, "name": names.get(key, {"zh": key, "en": key}), **row}
           for key, row in sorted(rows.items())]
    return {"from": start, "to": end, "by": group, "rows": out, "total": total}


def _range(start: Any, end: Any) -> tuple[str, str]:
    try:
        first, last = parse_day(start, "from"), parse_day(end or start, "to")
    except ValueError as error:
        raise bad_request(str(error)) from None
    if last < first:
        raise bad_request("to: must not be before from")
    if (last - first).days >= MAX_DAYS_ACROSS:
        raise bad_request(f"a report covers at most {MAX_DAYS_ACROSS} days")
    return first.isoformat(), last.isoformat()


def _figures(conn: psycopg.Connection, group: str, params: dict) -> dict[str, dict]:
    """{key: figures} and the total under None."""
    service = {r[0]: r[1:] for r in conn.execute(_service_sql(group), params)}
    hall = {r[0]: r[1:] for r in conn.execute(_hall_sql(group), params)}
    total = _figures_of(_added(service.values()), _added(hall.values()))
    if group == "service":
        hall = {}
    return {**{key: _figures_of(service.get(key), hall.get(key))
               for key in sorted(set(service) | set(hall))}, None: total}


def _added(rows: Any) -> tuple | None:
    """Rows of sums added up column by column (None when there are none)."""
    rows = list(rows)
    if not rows:
        return None
    return tuple(sum(v or 0 for v in column) for column in zip(*rows, strict=True))


def _figures_of(s: tuple | None, h: tuple | None) -> dict:
    """The hall's report figures (hall/reports.py's names) from one group's sums."""
    n = len(COUNTERS)
    # No rows at all: the total's sums are NULL
    c = {k: v or 0 for k, v in zip(COUNTERS, s[:n], strict=True)} if s \
        else dict.fromkeys(COUNTERS, 0)
    waits = [int(x or 0) for x in s[n:n + WAIT_BUCKETS]] if s else []
    ratings = [int(x or 0) for x in s[n + WAIT_BUCKETS:n + WAIT_BUCKETS + 5]] if s else [0] * 5
    errors = [int(x or 0) for x in s[n + WAIT_BUCKETS + 5:]] if s else []
    away = dict(zip(HALL_COUNTERS, h, strict=True)) if h and h[0] is not None else None
    waited, rated, promised = int(c["wait_count"]), sum(ratings), int(c["estimate_count"])
    out = {
        "issued": int(c["issued"]), "served": int(c["served"]), "no_show": int(c["no_show"]),
        "transferred": int(c["transferred"]), "cancelled": int(c["cancelled"]),
        "expired": int(c["expired"]), "waited": waited,
        "wait_mean_min": _mean_min(c["wait_sum_s"], waited),
        "wait_p90_min": _percentile(waits, 0.9),
        "within_target": _share(c["wait_within_target"], waited),
        "handled": int(c["handling_count"]),
        "handling_mean_min": _mean_min(c["handling_sum_s"], c["handling_count"]),
        "away_count": int(away["away_count"]) if away else None,
        "away_min": round(away["away_sum_s"] / 60, 2) if away else None,
        "away_overdue": int(away["away_overdue"]) if away else None,
        "rated": rated,
        **{f"rating_{k}": ratings[k - 1] for k in LEVELS},
        "satisfaction": _share(ratings[4] + ratings[3], rated),
        "promised": promised,
        "promise_within": _share(c["estimate_within"], promised),
        "promise_median_error_min": _percentile(errors, 0.5),
        "promise_bias_min": _mean_min(c["estimate_err_sum_s"], promised),
        "appointments_booked": int(c["appointments_booked"]),
        "appointments_checked_in": int(c["appointments_checked_in"]),
        "appointments_no_show": int(c["appointments_no_show"]),
    }
    return out


def _percentile(hist: list[int], q: float) -> int | None:
    """Nearest rank on a whole-minute histogram: the upper edge of the bucket it falls in
    (the last bucket, open-ended, gives its lower edge)."""
    n = sum(hist)
    if not n:
        return None
    rank, seen = math.ceil(q * n), 0
    for i, count in enumerate(hist):
        seen += count
        if seen >= rank:
            return i + 1 if i < len(hist) - 1 else i
    return len(hist) - 1


def _mean_min(total_s: float, count: float) -> float | None:
    return round(total_s / count / 60, 2) if count else None


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _names(conn: psycopg.Connection, group: str, keys: list[str]) -> dict[str, dict]:
    if group == "hall":
        return {i: {"zh": n, "en": n} for i, n in conn.execute(
            "SELECT id, name FROM halls WHERE id = ANY(%s)", [keys])}
    if group == "service":  # the same id may be named by several halls: the first one's
        return {i: n for i, n in conn.execute(
            "SELECT DISTINCT ON (service_id) service_id, name FROM hall_services"
            " WHERE service_id = ANY(%s) ORDER BY service_id, hall_id", [keys])}
    return {}


def ranking(conn: psycopg.Connection, start: Any, end: Any, halls: list[str] | None,
            rank_by: Any) -> dict:
    """The halls in order of one figure (RANK_BY says which and which way); halls without
    that figure (no waits, no ratings) come last, unranked."""
    if rank_by not in RANK_BY:
        raise bad_request(f"rank_by: one of {', '.join(RANK_BY)}")
    text, high_first = RANK_BY[rank_by]
    by_hall = report(conn, "hall", start, end, halls)
    ranked = [r for r in by_hall["rows"] if r[rank_by] is not None]
    ranked.sort(key=lambda r: (-r[rank_by] if high_first else r[rank_by], r["key"]))
    rest = [r for r in by_hall["rows"] if r[rank_by] is None]
    rows = [{"rank": i, **r} for i, r in enumerate(ranked, 1)] + \
        [{"rank": None, **r} for r in rest]
    return {"from": by_hall["from"], "to": by_hall["to"], "rank_by": rank_by,
            "ranks_by": text, "rows": rows}


def _csv_columns() -> list[tuple[str, str]]:
    """The hall's CSV columns (hall/reports.py), those the region has: its figures carry the
    same names, a booking's flattened (appointments.booked -> appointments_booked)."""
    have = _figures_of(None, None)
    return [(key.replace(".", "_"), label) for key, label in hall_reports.CSV_COLUMNS
            if key.replace(".", "_") in have]


def report_csv(result: dict) -> bytes:
    """UTF-8 with a BOM, as the hall's CSV, so that Excel opens the Chinese as Chinese."""
    columns = _csv_columns()
    header = ["维度 dimension", "项目 key", "名称 name", *(label for _, label in columns)]
    lines = [header]
    for dim, key, name, row in [("total", "", f"{result['from']} – {result['to']}",
                                 result["total"])] + \
            [(result["by"], r["key"], _name(r["name"]), r) for r in result["rows"]]:
        lines.append([GROUP_NAMES[dim], key, name,
                      *("" if row.get(k) is None else row[k] for k, _ in columns)])
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows(lines)
    return "\ufeff".encode() + text.getvalue().encode("utf-8")


def _name(name: Any) -> str:
    if isinstance(name, dict):
        zh, en = name.get("zh") or "", name.get("en") or ""
        return zh if zh == en else f"{zh} {en}".strip()
    return str(name)


def register(app: Flask, socketio: SocketIO, region: Region) -> None:
    def asked() -> tuple[str, str, list[str] | None]:
        user = current_user(region)
        wanted = request.args.getlist("hall")
        with region.pool.connection() as conn:
            visible = users.visible_halls(conn, user)
        if wanted:
            if any(visible is not None and h not in visible for h in wanted):
                raise HallError("not_found", "没有这个营业厅 · No such hall")
            visible = wanted
        return request.args.get("from"), request.args.get("to"), visible

    @app.get("/api/reports")
    def reports_json() -> Response:
        start, end, halls = asked()
        with region.pool.connection() as conn:
            return reply(200, report(conn, request.args.get("by", "hall"), start, end, halls))

    @app.get("/api/reports.csv")
    def reports_csv() -> Response:
        start, end, halls = asked()
        with region.pool.connection() as conn:
            result = report(conn, request.args.get("by", "hall"), start, end, halls)
        name = f"hallq-region-{result['by']}-{result['from']}-{result['to']}.csv"
        return Response(report_csv(result), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.get("/api/ranking")
    def ranking_json() -> Response:
        start, end, halls = asked()
        with region.pool.connection() as conn:
            return reply(200, ranking(conn, start, end, halls,
                                      request.args.get("rank_by", "within_target")))
