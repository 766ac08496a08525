"""How well the printed waits held, for the reports (issue 14): per service and per day, the share
of tickets whose real wait (issue to first call) was within max(3 min, 25 %) of the estimate
printed on the ticket, the median error and the bias (estimate - real, in minutes: negative means
people waited longer than promised).

The printed estimate is the one the `issue` event recorded; tickets issued with no figure (no
window served their service) and tickets never called are left out.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict

from hall.store import Database

WITHIN_FLOOR_MIN = 3.0
WITHIN_SHARE = 0.25


def within(estimate: float, real: float) -> bool:
    """Whether a real wait kept the promise: within max(3 min, 25 % of the estimate)."""
    return abs(real - estimate) <= max(WITHIN_FLOOR_MIN, WITHIN_SHARE * estimate)


def promise_figures_empty() -> dict:
    return {"promised": 0, "promise_within": None, "promise_median_error_min": None,
            "promise_bias_min": None}


def _figures(pairs: list[tuple[float, float]]) -> dict:
    if not pairs:
        return promise_figures_empty()
    return {
        "promised": len(pairs),
        "promise_within": round(sum(within(e, r) for e, r in pairs) / len(pairs), 4),
        "promise_median_error_min": round(statistics.median(abs(r - e) for e, r in pairs), 1),
        "promise_bias_min": round(statistics.fmean(e - r for e, r in pairs), 1),
    }


def promise_figures(db: Database, start: str, end: str) -> dict:
    """{"total": figures, "service": {id: figures}, "day": {day: figures}} for start..end."""
    first_call = dict(db.execute(
        "SELECT ticket_id, min(at) FROM events WHERE type = 'call' AND day BETWEEN ? AND ?"
        " GROUP BY ticket_id", [start, end]).fetchall())
    groups: dict[tuple, list] = defaultdict(list)
    for day, ticket_id, at, data in db.execute(
            "SELECT day, ticket_id, at, data FROM events WHERE type = 'issue'"
            " AND day BETWEEN ? AND ?", [start, end]):
        issued = json.loads(data)
        promised, called = issued.get("estimated_wait_min"), first_call.get(ticket_id)
        if promised is None or called is None:
            continue
        pair = (float(promised), (called - at) / 60)
        for key in (("total", ""), ("service", issued["service"]), ("day", day)):
            groups[key].append(pair)
    out: dict = {"total": _figures(groups[("total", "")]), "service": {}, "day": {}}
    for (dim, key), pairs in groups.items():
        if dim != "total":
            out[dim][key] = _figures(pairs)
    return out
