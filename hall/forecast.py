"""The estimator's inputs, read from what the day's database already holds, and its answer.

Windows and their current tickets, the waiting tickets, today's call/end/away events (each
window's time per customer), the ended away periods of the last four weeks (how long each
reason lasts here, and how much of the windows' time short breaks take), today's priority
tickets (the green-channel rate) and the hours' breaks: estimate.py steps them forward.
"""

from __future__ import annotations

import bisect
import json
import math
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

from hall import estimate, policy
from hall.config import LUNCH, HallConfig
from hall.estimate import Forecast, Sample, WindowPlan
from hall.store import Database

# A window that waited longer than this after a customer had nobody to call: its time per
# customer is the customer's own plus a usual wrap-up.
IDLE_AFTER_S = 90
WRAP_UP_S = 20
# How far back the hall's own absences are read: long enough for a few dozen of each reason,
# short enough to follow a change of staff or habits.
AWAY_HISTORY_DAYS = 28
# The green-channel rate is read over at least this long, so an early one is no flood.
LEAST_RATE_WINDOW_S = 3600
# Short breaks stretch the time per customer by at most this share.
MOST_AWAY_SHARE = 0.2
PHANTOM_ID = 10**12  # the model's "ticket issued now" of each service, beyond real ids

EVENT_TYPES = ("call", "finish", "no_show", "transfer", "away", "back", "close")


def day_start(config: HallConfig, day: str) -> float:
    return datetime.fromisoformat(day).replace(tzinfo=config.tz).timestamp()


def breaks_today(config: HallConfig, day: str, now: float) -> list[tuple[float, float]]:
    """The hours' breaks of today still to end, as epoch intervals."""
    start = day_start(config, day)
    spans = [(start + a * 60, start + b * 60) for a, b in config.hours.breaks]
    return [(a, b) for a, b in spans if b > now]


def _overlap(a: float, b: float, spans: Sequence[tuple[float, float]]) -> float:
    return sum(max(0.0, min(b, y) - max(a, x)) for x, y in spans)


class _DayRead:
    """What samples_today has read of a day's events: the samples, the calls still open, and
    the last event read (seq and content, to notice a rolled-back command's events)."""

    def __init__(self, path: str, day: str) -> None:
        self.path, self.day = path, day
        self.seq = 0
        self.last: tuple | None = None
        self.open_call: dict[int, dict] = {}
        self.samples: list[Sample] = []

    def copy(self) -> _DayRead:
        other = _DayRead(self.path, self.day)
        other.seq, other.last = self.seq, self.last
        other.open_call = {n: dict(call) for n, call in self.open_call.items()}
        other.samples = list(self.samples)
        return other


_READ: dict[str, _DayRead] = {}  # by database file: a few, whatever the tests open
_READ_KEPT = 8
_READ_LOCK = threading.Lock()
_EVENT_COLUMNS = "seq, at, type, window, ticket_id, data"


def samples_today(db: Database, config: HallConfig, day: str) -> list[Sample]:
    """Each window's time from one call to its next, away time and breaks left out, and the
    time it waited for the next customer to come (a ticket issued after the last customer was
    done); when it waited longer than that, the customer's time plus a usual wrap-up instead.

    Every ticket asks for this, and a busy day holds thousands of events: only the events
    since the last call are read (per database file, in this process). If the last event read
    is gone or changed (its command was rolled back), the day is read again."""
    path = db.execute("PRAGMA database_list").fetchone()[2]
    with _READ_LOCK:
        known = _READ.get(path)
    if known is None or known.day != day or not _still_there(db, known):
        known = _DayRead(path, day)
    read = known.copy()
    marks = ",".join("?" * len(EVENT_TYPES))
    rows = db.execute(
        f"SELECT {_EVENT_COLUMNS}, (SELECT issued_at FROM tickets t WHERE t.id = ticket_id"
        f" AND type = 'call') FROM events WHERE seq > ? AND day = ? AND type IN ({marks})"
        " AND window IS NOT NULL ORDER BY seq", [read.seq, day, *EVENT_TYPES]).fetchall()
    if rows:
        _take(read, rows, config, day)
        with _READ_LOCK:
            _READ.pop(path, None)
            _READ[path] = read
            while len(_READ) > _READ_KEPT:
                del _READ[next(iter(_READ))]
    return read.samples


def _still_there(db: Database, read: _DayRead) -> bool:
    if read.last is None:
        return True
    row = db.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq = ?",
                     [read.seq]).fetchone()
    return row is not None and tuple(row) == read.last


def _take(read: _DayRead, rows: Sequence[tuple], config: HallConfig, day: str) -> None:
    start = day_start(config, day)
    breaks = [(start + a * 60, start + b * 60) for a, b in config.hours.breaks]
    open_call, out = read.open_call, read.samples
    for row in rows:
        _, at, type_, window, _, data, issued_at = row
        current = open_call.get(window)
        if type_ == "call":
            if current is not None:
                sample = _sample(current, at, breaks, issued_at)
                if sample > 0:
                    out.append(Sample(window, current["service"], sample))
            open_call[window] = {"at": at, "service": json.loads(data)["service"],
                                 "ended": None, "away": 0.0, "away_since": None}
        elif current is None:
            continue
        elif type_ in ("finish", "no_show", "transfer"):
            current["ended"] = at
        elif type_ == "away":
            current["away_since"] = at
        elif type_ == "back" and current["away_since"] is not None:
            current["away"] += at - current["away_since"]
            current["away_since"] = None
        elif type_ == "close":
            del open_call[window]
    read.seq, read.last = rows[-1][0], tuple(rows[-1][:-1])


def _sample(call: dict, next_call: float, breaks: Sequence[tuple[float, float]],
            next_issued: float | None) -> float:
    gap = next_call - call["at"] - call["away"] - _overlap(call["at"], next_call, breaks)
    ended = call["ended"]
    if ended is None:
        return gap
    waited = max(0.0, next_issued - ended) if next_issued is not None else 0.0
    if next_call - ended - call["away"] - waited > IDLE_AFTER_S:
        return ended - call["at"] + WRAP_UP_S
    return max(ended - call["at"], gap - waited)


def away_lengths(db: Database, config: HallConfig, day: str) -> dict[str, list[float]]:
    """How long each away reason lasted here, today and over the AWAY_HISTORY_DAYS before
    (ended absences only): a hall's 暂离 takes its clerks' time, not the rule's limit."""
    out = {reason: list(lengths) for reason, lengths in past_days(db, config, day)[2].items()}
    for reason, length in db.execute(
            "SELECT reason, ended_at - started_at FROM away_periods"
            " WHERE ended_at IS NOT NULL AND started_at >= ?", [day_start(config, day)]):
        out.setdefault(reason, []).append(length)
    return out


def window_plans(db: Database, config: HallConfig, day: str, now: float,
                 closed: bool = False) -> list[WindowPlan]:
    """Every open window: when it can call next and its time per customer of each service.
    With `closed`, the closed windows instead, as if opened now (for the supervisor's
    suggestions)."""
    seeds = {s.id: s.avg_minutes * 60 for s in config.services}
    samples = samples_today(db, config, day)
    per_service = estimate.service_seconds(seeds, samples)
    speeds = estimate.window_speeds(per_service, samples)
    stretch = 1 / (1 - short_away_share(db, config, day, now, samples))
    away = away_lengths(db, config, day)
    start = day_start(config, day)
    plans = []
    for row in db.execute(
            "SELECT w.number, w.status, w.away_reason, w.away_since, t.service, t.called_at"
            " FROM windows w LEFT JOIN tickets t ON t.id = w.ticket_id"
            f" WHERE w.status {'=' if closed else '!='} 'closed' ORDER BY w.number"):
        number, status, reason, since, service, called_at = row
        window = config.window(number)
        if window is None:
            continue
        speed = 1.0 if closed else speeds.get(number, 1.0)
        seconds = {s: t * speed * stretch for s, t in per_service.items()}
        present = status != "away"
        if status == "away":
            prior = config.away_reason(reason).expected_minutes * 60
            free_at = now + estimate.away_left(away.get(reason, ()), prior, now - since)
        else:
            free_at = now
        own = [(start + a * 60, start + b * 60) for a, b in window.breaks]
        plan = WindowPlan(window, free_at, seconds, present, [(a, b) for a, b in own if b > now])
        if status != "away" and service is not None:
            plan.free_at = now + estimate.remaining_seconds(plan.time_for(service),
                                                           now - called_at)
            plan.serving_since = called_at
        plans.append(plan)
    return plans


def rate_hours(db: Database, day: str, now: float) -> float:
    """Hours over which today's rates are read: since today's first ticket (none: a day that
    has had only older tickets moving), and at least LEAST_RATE_WINDOW_S."""
    first = db.execute("SELECT coalesce(min(issued_at), ?) FROM tickets WHERE day = ?",
                       [now, day]).fetchone()[0]
    return max(now - first, LEAST_RATE_WINDOW_S) / 3600


def green_channel(db: Database, config: HallConfig, day: str, now: float) -> list[dict]:
    """The priority-class tickets expected from today's rate, until the last ticket."""
    counts = db.execute(
        "SELECT service, priority, count(*), min(issued_at) FROM tickets WHERE day = ?"
        " AND priority != 'normal' GROUP BY service, priority", [day]).fetchall()
    if not counts:
        return []
    hours = rate_hours(db, day, now)
    rates = {(service, priority): count / hours for service, priority, count, _ in counts}
    last = day_start(config, day) + config.hours.last_ticket * 60
    breaks = breaks_today(config, day, now)
    return [a for a in estimate.expected_arrivals(now, rates, last)
            if not any(x <= a["issued_at"] < y for x, y in breaks)]


def transfers(db: Database, config: HallConfig, day: str, now: float) -> list[dict]:
    """The transfers to a service expected from today's rate: each comes back to the queue
    with its first issue time, as old as today's transferred tickets were on average."""
    rows = db.execute(
        "SELECT json_extract(e.data, '$.to_service'), count(*), avg(e.at - t.issued_at)"
        " FROM events e JOIN tickets t ON t.id = e.ticket_id WHERE e.day = ?"
        " AND e.type = 'transfer' AND json_extract(e.data, '$.to_window') IS NULL"
        " GROUP BY 1", [day]).fetchall()
    if not rows:
        return []
    hours = rate_hours(db, day, now)
    out: list[dict] = []
    for service, count, age in rows:
        if config.service(service) is None:
            continue
        out += estimate.expected_arrivals(now, {(service, "normal"): count / hours},
                                          now + estimate.ARRIVALS_HORIZON_S, age=age,
                                          first_id=-1_000_000 - len(out))
    return out


def short_away_share(db: Database, config: HallConfig, day: str, now: float,
                     samples: Sequence[Sample]) -> float:
    """The share of the windows' time that goes to short breaks (lunch aside): the model's
    time per customer leaves them out, and more will come. Today's breaks and working time,
    with the AWAY_HISTORY_DAYS before: their breaks against their calls, each call worth
    today's time per customer. Early in the day the clerks' breaks are still to come, and
    the past days say how much they take."""
    away = db.execute(
        "SELECT coalesce(sum(coalesce(ended_at, ?) - started_at), 0) FROM away_periods"
        " WHERE started_at >= ? AND reason != ?", [now, day_start(config, day), LUNCH]
    ).fetchone()[0]
    working = sum(s.seconds for s in samples)
    past_away, past_calls = past_short_away(db, config, day)
    if past_calls:
        seeds = [s.avg_minutes * 60 for s in config.services] or [estimate.UNKNOWN_SERVICE_S]
        per_call = working / len(samples) if samples else sum(seeds) / len(seeds)
        away, working = away + past_away, working + past_calls * per_call
    if away <= 0 or working <= 0:
        return 0.0
    return min(MOST_AWAY_SHARE, away / (away + working))


# (database file, day): the past days' short breaks, calls and away lengths by reason
_PAST: dict[tuple[str, str], tuple[float, int, dict[str, list[float]]]] = {}


def _merged(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Spans sorted by start, merged where they overlap."""
    out: list[tuple[float, float]] = []
    for a, b in spans:
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _inside(t: float, merged: list[tuple[float, float]]) -> bool:
    i = bisect.bisect_right(merged, (t, math.inf)) - 1
    return i >= 0 and merged[i][0] <= t < merged[i][1]


def past_short_away(db: Database, config: HallConfig, day: str) -> tuple[float, int]:
    """The AWAY_HISTORY_DAYS before `day`: seconds of short breaks, and calls made."""
    away, calls, _ = past_days(db, config, day)
    return away, calls


def past_days(db: Database, config: HallConfig,
              day: str) -> tuple[float, int, dict[str, list[float]]]:
    """The AWAY_HISTORY_DAYS before `day`: seconds of short breaks, calls made, and how long
    each away reason lasted. Every command asks; a big hall's four weeks hold thousands of
    absences: kept per day (the past does not change), for a few database files."""
    path = db.execute("PRAGMA database_list").fetchone()[2]
    key = (path, day)
    with _READ_LOCK:
        if key in _PAST:
            return _PAST[key]
    start = day_start(config, day)
    first = (datetime.fromisoformat(day) - timedelta(days=AWAY_HISTORY_DAYS)).date().isoformat()
    # A break begun while nobody waited cost no customer any time (at a quiet hour it takes
    # the place of idle time): only those begun while someone waited count.
    waited = _merged(db.execute(
        "SELECT issued_at, coalesce(called_at, finished_at, issued_at) FROM tickets"
        " WHERE day >= ? AND day < ? ORDER BY issued_at", [first, day]).fetchall())
    away, lengths = 0.0, {}
    for reason, begin, end in db.execute(
            "SELECT reason, started_at, ended_at FROM away_periods WHERE ended_at IS NOT NULL"
            " AND started_at >= ? AND started_at < ?", [start - AWAY_HISTORY_DAYS * 86400, start]):
        lengths.setdefault(reason, []).append(end - begin)
        if reason != LUNCH and _inside(begin, waited):
            away += end - begin
    calls = db.execute("SELECT count(*) FROM events WHERE day >= ? AND day < ? AND type = 'call'",
                       [first, day]).fetchone()[0]
    if path:  # an in-memory database is not kept: nothing tells one from another
        with _READ_LOCK:
            _PAST[key] = (away, calls, lengths)
            while len(_PAST) > _READ_KEPT:
                del _PAST[next(iter(_PAST))]
    return away, calls, lengths


WAITING_COLUMNS = "id, service, target_window, priority, issued_at"


def hall_forecast(db: Database, config: HallConfig, day: str, now: float,
                  phantoms: bool = False,
                  version: int | None = None) -> tuple[Forecast, list[WindowPlan]]:
    """The model's answer for every waiting ticket; with `phantoms`, also for a normal ticket
    of each service issued now (ids PHANTOM_ID + the service's index).

    With the Hall's `version` (Hall.model_version), a forecast of the same state made less
    than FRESH_S ago is taken up again, and the normal tickets issued since are added at the
    end of their queues: a kiosk's ticket then costs a few lookups, where a run of the model
    steps through every waiting ticket (thousands, on the benchmark's day)."""
    if phantoms and version is not None:
        path = db.execute("PRAGMA database_list").fetchone()[2]
        with _RUNS_LOCK:
            kept = _RUNS.get(path)
            if kept is not None and kept.serves(day, version, now) and kept.extend(db, now):
                return kept.result, kept.plans
    waiting = _waiting(db, config, now, phantoms)
    plans = window_plans(db, config, day, now)
    result = estimate.forecast(now, plans, waiting, config.rules.call_policy,
                               breaks_today(config, day, now), _arrivals(db, config, day, now))
    if phantoms and version is not None:
        with _RUNS_LOCK:
            _RUNS.pop(path, None)
            _RUNS[path] = _Run(config, day, version, now, result, plans, waiting)
            while len(_RUNS) > _READ_KEPT:
                del _RUNS[next(iter(_RUNS))]
    return result, plans


FRESH_S = 5.0  # a forecast is taken up again this long, while only normal tickets were issued


class _Run:
    """A forecast with its phantoms, kept to answer the next normal tickets of its state."""

    def __init__(self, config: HallConfig, day: str, version: int, now: float,
                 result: Forecast, plans: list[WindowPlan], waiting: list[dict]) -> None:
        self.config, self.day, self.version, self.made = config, day, version, now
        self.result, self.plans = result, plans
        self.last_id = max((t["id"] for t in waiting if t["id"] < PHANTOM_ID), default=0)
        # Each service's calls follow one another by this much, at the windows taking it now.
        self.gap = {}
        for svc in config.services:
            rate = sum(1 / p.time_for(svc.id) for p in plans if svc.id in p.window.services)
            self.gap[svc.id] = 1 / rate if rate else None

    def serves(self, day: str, version: int, now: float) -> bool:
        return (self.day, self.version) == (day, version) and 0 <= now - self.made <= FRESH_S

    def extend(self, db: Database, now: float) -> bool:
        """Add the tickets issued since: each normal one takes its service's phantom's place,
        and the phantom moves one gap on. False if any other kind of ticket came."""
        rows = list(db.query(f"SELECT {WAITING_COLUMNS} FROM tickets WHERE id > ?"
                             " AND status = 'waiting' ORDER BY id", [self.last_id]))
        if any(r["priority"] != "normal" or r["target_window"] is not None for r in rows):
            return False
        calls, ahead = self.result.call_at, self.result.ahead
        index = {s.id: i for i, s in enumerate(self.config.services)}
        for row in rows:
            if row["service"] not in index:  # a service gone from the config: run the model
                return False
            phantom = PHANTOM_ID + index[row["service"]]
            if phantom in calls:  # else no open window takes the service: no call to predict
                calls[row["id"]], ahead[row["id"]] = calls[phantom], ahead[phantom]
                calls[phantom] += self.gap[row["service"]]
                ahead[phantom] += 1
            self.last_id = row["id"]
        self.result.now = now
        return True


_RUNS: dict[str, _Run] = {}  # by database file, as _READ
_RUNS_LOCK = threading.Lock()


def _waiting(db: Database, config: HallConfig, now: float, phantoms: bool) -> list[dict]:
    """The waiting tickets as the call policy reads them; a checked-in appointment with the
    time it counts as queued from (its slot less the head start), as the windows call it."""
    head_start = config.appointments.head_start_minutes
    waiting = []
    for row in db.query(f"SELECT {WAITING_COLUMNS}, (SELECT slot_start FROM appointments a"
                        " WHERE a.ticket_id = t.id) AS slot_start FROM tickets t"
                        " WHERE status = 'waiting'"):
        slot_start = row.pop("slot_start")
        if slot_start is not None:
            row["call_at"] = row["issued_at"] = policy.appointment_call_at(slot_start,
                                                                          head_start)
        waiting.append(row)
    if phantoms:
        waiting += [{"id": PHANTOM_ID + i, "service": s.id, "target_window": None,
                     "priority": "normal", "issued_at": now}
                    for i, s in enumerate(config.services)]
    return waiting


def _arrivals(db: Database, config: HallConfig, day: str, now: float) -> list[dict]:
    return (green_channel(db, config, day, now) + transfers(db, config, day, now)
            + booked(db, config, day, now))


def booked(db: Database, config: HallConfig, day: str, now: float) -> list[dict]:
    """Today's bookings not checked in yet, as tickets expected when their slot counts them
    queued: they will be called ahead of the walk-ins who came after that time."""
    rules = config.appointments
    rows = db.execute(
        "SELECT id, service, slot_start FROM appointments WHERE day = ? AND status = 'booked'"
        " AND slot_end + ? > ?", [day, rules.grace_minutes * 60, now]).fetchall()
    out = []
    for booking_id, service, slot_start in rows:
        at = max(now, policy.appointment_call_at(slot_start, rules.head_start_minutes))
        out.append({"id": -2_000_000 - booking_id, "service": service, "target_window": None,
                    "priority": "appointment", "issued_at": at, "arrives_at": at,
                    "call_at": at})
    return out


OUTLOOK_MINUTES = (30, 60)
RECENT_RATE_S = 3600  # the coming hour's arrivals are expected at the last hour's rate


def outlook(db: Database, config: HallConfig, day: str, now: float) -> dict[str, list[dict]]:
    """Each service's wait for a normal ticket taken in 30 and in 60 minutes, with everyone
    expected to come meanwhile at the last hour's rate: [{"in_min", "wait_min"}, ...]."""
    since = max(now - RECENT_RATE_S, db.execute(
        "SELECT coalesce(min(issued_at), ?) FROM tickets WHERE day = ?", [now, day]).fetchone()[0])
    hours = max(now - since, LEAST_RATE_WINDOW_S / 2) / 3600
    rates = {(service, "normal"): count / hours for service, count in db.execute(
        "SELECT service, count(*) FROM tickets WHERE day = ? AND priority = 'normal'"
        " AND issued_at >= ? GROUP BY service", [day, since])}
    last = day_start(config, day) + config.hours.last_ticket * 60
    coming = [a | {"id": a["id"] - 10**6} for a in estimate.expected_arrivals(now, rates, last)]
    probes = [{"id": PHANTOM_ID + 1000 * k + i, "service": s.id, "target_window": None,
               "priority": "normal", "issued_at": now + minutes * 60}
              for k, minutes in enumerate(OUTLOOK_MINUTES) for i, s in enumerate(config.services)]
    result = estimate.forecast(now, window_plans(db, config, day, now), _waiting(db, config, now,
                               False), config.rules.call_policy, breaks_today(config, day, now),
                               [*_arrivals(db, config, day, now), *coming, *probes])
    out: dict[str, list[dict]] = {}
    for probe in probes:
        at = result.call_at.get(probe["id"])
        wait = None if at is None else max(0, round((at - probe["issued_at"]) / 60))
        minutes = round((probe["issued_at"] - now) / 60)
        out.setdefault(probe["service"], []).append({"in_min": minutes, "wait_min": wait})
    return out


def suggestions(db: Database, config: HallConfig, day: str, now: float) -> dict[str, dict]:
    """For each service whose wait for a ticket taken now passes its target (or that no open
    window takes): the closed window whose opening, in the model, brings that wait down most,
    as {"window", "from_min", "to_min", "text"}."""
    base, plans = hall_forecast(db, config, day, now, phantoms=True)
    waiting = _waiting(db, config, now, phantoms=True)
    someone = {t["service"] for t in waiting if t["id"] < PHANTOM_ID}
    over = {}
    for i, svc in enumerate(config.services):
        wait = base.wait_minutes(PHANTOM_ID + i)
        unserved = wait is None and svc.id in someone
        if unserved or (wait is not None and wait > svc.target_wait_minutes):
            over[i] = wait
    if not over:
        return {}
    breaks, arrivals = breaks_today(config, day, now), _arrivals(db, config, day, now)
    best: dict[int, tuple[int, int]] = {}
    for extra in window_plans(db, config, day, now, closed=True):
        result = estimate.forecast(now, [*plans, extra], waiting, config.rules.call_policy,
                                   breaks, arrivals)
        for i, before in over.items():
            after = result.wait_minutes(PHANTOM_ID + i)
            if after is not None and (before is None or after < before) and (
                    i not in best or after < best[i][1]):
                best[i] = (extra.window.number, after)
    out = {}
    for i, (number, after) in best.items():
        svc, before = config.services[i], over[i]
        shown = "—" if before is None else str(before)
        out[svc.id] = {"window": number, "from_min": before, "to_min": after,
                       "text": f"开启 {number} 号窗口办理{svc.name['zh']}：预计等候 {shown} → "
                               f"{after} 分钟 · Open window {number} for {svc.name['en']}: "
                               f"wait {shown} → {after} min"}
    return out


def serving_from(plans: Sequence[WindowPlan], config: HallConfig, day: str, now: float,
                 service: str, target_window: int | None = None) -> float | None:
    """None when a window that takes these tickets serves now; else when the first is expected
    (back from away, after a break); +inf when no open window takes them at all."""
    if target_window is not None:
        mine = [p for p in plans if p.window.number == target_window]
    else:
        mine = [p for p in plans if service in p.window.services]
    if not mine:
        return float("inf")
    breaks = breaks_today(config, day, now)
    in_break = next((b for a, b in breaks if a <= now < b), None)
    if in_break is None and any(p.present for p in mine):
        return None
    first = min(p.free_at if not p.present else now for p in mine)
    return max(first, in_break or first)


def clock(config: HallConfig, epoch: float) -> str:
    """HH:MM in the hall's zone, rounded up to the next 5 minutes (a promise, not a guess)."""
    local = datetime.fromtimestamp(epoch, config.tz)
    if local.second or local.microsecond:
        local = local.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return (local + timedelta(minutes=(-local.minute) % 5)).strftime("%H:%M")
