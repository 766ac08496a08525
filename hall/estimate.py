"""When each waiting ticket will be called: today's windows stepped forward through the call policy.

The model is the hall as it stands: each open window becomes free at a predicted moment (now if
idle, when its current customer is done, when its clerk is expected back from an away, after a
break in the hours or its own: taken whole once the customer served when it began is done),
then calls the ticket the call policy (policy.py, the same function the windows use) gives it,
and is busy for its own time per customer of that service. Green-channel tickets expected
from today's rate join the queues at their expected times. A ticket's predicted call is when
the model's window calls it; "ahead" is how many the windows that may call it (its service's,
or the one it was sent to) call before it, across services at shared windows and expected
green-channel tickets included. Calls at windows that never take it are not "ahead": they
depend on other queues' later arrivals, which the model does not foresee. Customers are shown
"ahead" as a range when it is large (ahead_range): which shared window calls each of those in
front, and the green channel still to come, move it by about its square root.

Time per customer is a window's, call to next call (walk-up, recalls, no-shows and wrap-up
included, away time left out), learned from today's events and pulled towards the service's
`avg_minutes` while there are few samples.

This module is pure: hall/forecast.py reads its inputs from the day's database.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hall import policy
from hall.config import Window

Ticket = Mapping[str, Any]

# A service's seed (avg_minutes) counts as this many samples of its time per customer, and a
# window's speed starts as this many samples of "as fast as the others".
SERVICE_SEED_WEIGHT = 3
WINDOW_SEED_WEIGHT = 5
RECENT_SAMPLES = 40
# A customer whose service has run longer than expected still needs a part of it: for a
# right-skewed time (lognormal, cv 0.6) the mean time still to go never falls below about
# 0.56 of the mean, however long it has run.
LEAST_REMAINING_SHARE = 0.55
# "Ahead" is certain only while few are ahead: which shared window calls each of those in front,
# and the green channel still to come, move it by about sqrt(ahead). This share of sqrt(ahead)
# either side held about 9 in 10 tickets' real count at every load of bench_estimates.
AHEAD_SPREAD = 0.8
# Past absences of a reason count once there are this many; before, the config's expected
# minutes. An away clerk past every length seen is expected back this soon.
AWAY_SAMPLES = 2
SOON_BACK_S = 60
# The expected green-channel arrivals are generated this far ahead at most.
ARRIVALS_HORIZON_S = 4 * 3600
UNKNOWN_SERVICE_S = 5 * 60


@dataclass
class WindowPlan:
    """One open window as the model sees it."""

    window: Window
    free_at: float  # epoch seconds when it can call next
    seconds: Mapping[str, float]  # its time per customer, by service
    present: bool = True  # serving now, not away
    breaks: Sequence[tuple[float, float]] = ()  # its own, beside the hours' (epoch intervals)
    serving_since: float | None = None  # when it called the customer it serves now

    def time_for(self, service: str) -> float:
        """Its time per customer of `service`; a service gone from the config since the ticket
        was taken gets the mean of the others'."""
        if service in self.seconds:
            return self.seconds[service]
        return sum(self.seconds.values()) / max(1, len(self.seconds)) or UNKNOWN_SERVICE_S


@dataclass
class Forecast:
    """What the model predicts: each waiting ticket's call time and how many go first."""

    now: float
    call_at: dict[int, float] = field(default_factory=dict)
    ahead: dict[int, int] = field(default_factory=dict)

    def wait_minutes(self, ticket_id: int) -> int | None:
        """Whole minutes from now, rounded to the nearest; None: no open window will call it."""
        at = self.call_at.get(ticket_id)
        return None if at is None else max(0, round((at - self.now) / 60))


def _queue_key(ticket: Ticket) -> tuple:
    return (ticket["service"], ticket["target_window"], ticket["priority"])


def _arrival(ticket: Ticket) -> float:
    return ticket.get("arrives_at", ticket["issued_at"])


def _break_taken(t: float, serving_since: float | None,
                 breaks: Sequence[tuple[float, float]]) -> float:
    """When a window free at `t` calls next. A clerk serving someone when a break begins takes
    the whole break once that customer is done (a lunch starts late and ends late); one free
    in a break calls again when it ends."""
    if serving_since is not None:
        for start, end in breaks:
            if serving_since < start <= t:
                return t + (end - start)
    return _out_of_breaks(t, breaks)


def _out_of_breaks(t: float, breaks: Sequence[tuple[float, float]]) -> float:
    moved = True
    while moved:  # breaks may touch: the end of one the start of the next
        moved = False
        for start, end in breaks:
            if start <= t < end:
                t, moved = end, True
    return t


def forecast(now: float, windows: Iterable[WindowPlan], waiting: Iterable[Ticket],
             call_policy: str, breaks: Sequence[tuple[float, float]] = (),
             arrivals: Iterable[Ticket] = ()) -> Forecast:
    """Step the windows forward until every waiting ticket is called (or no window may).

    `waiting` and `arrivals` are tickets as policy.py reads them (id, service, target_window,
    priority, issued_at); arrivals are expected ones (issued_at in the future, negative ids),
    called in the model but not reported. `breaks` are epoch intervals in which no window
    calls."""
    result = Forecast(now)
    plans = {plan.window.number: plan for plan in windows}
    queues = _Queues(plans)
    real = 0
    for ticket in sorted(waiting, key=lambda t: (t["issued_at"], t["id"])):
        queues.of(ticket).append(ticket)
        real += 1
    # An expected ticket joins the queues when it arrives (`arrives_at`, else its issue time):
    # a transferred one keeps its older issue time, and so its place. One with an id of its own
    # (not negative) is reported like a waiting ticket: "a ticket taken in an hour".
    expected = deque(sorted(arrivals, key=_arrival))
    real += sum(1 for a in expected if a["id"] >= 0)
    pauses = {n: [*breaks, *p.breaks] for n, p in plans.items()}
    ready = [(p.free_at, n) for n, p in plans.items()]
    heapq.heapify(ready)
    calls = dict.fromkeys(plans, 0)  # by window number
    serving_since = {n: p.serving_since for n, p in plans.items()}
    while real and ready:
        t, number = heapq.heappop(ready)
        later = _break_taken(t, serving_since[number], pauses[number])
        serving_since[number] = None
        if later != t:  # a break: the window calls again when it ends
            heapq.heappush(ready, (later, number))
            continue
        while expected and _arrival(expected[0]) <= t:
            arrival = expected.popleft()
            queues.of(arrival).append(arrival)
        plan = plans[number]
        heads = [q[0] for q in queues.open_to[number] if q]
        ticket = policy.next_ticket(plan.window, heads, call_policy)
        if ticket is None:
            nxt = next((_arrival(a) for a in expected if policy.may_take(plan.window, a)), None)
            if nxt is not None:  # nothing now; an expected arrival is for this window
                heapq.heappush(ready, (nxt, number))
            continue
        key = _queue_key(ticket)
        queues.by_key[key].popleft()
        if ticket["id"] >= 0:  # expected arrivals (negative ids) are called, not reported
            result.call_at[ticket["id"]] = t
            result.ahead[ticket["id"]] = sum(calls[w] for w in queues.takers[key])
            real -= 1
        calls[number] += 1
        serving_since[number] = t
        heapq.heappush(ready, (t + plan.time_for(ticket["service"]), number))
    return result


class _Queues:
    """The model's queues, one per (service, target window, class), each in issue order; and
    for each window the queues it may take (policy.may_take), worked out once per queue: a
    window's next call then looks at its own queues' first tickets only."""

    def __init__(self, plans: Mapping[int, WindowPlan]) -> None:
        self.plans = plans
        self.by_key: dict[tuple, deque] = {}
        self.takers: dict[tuple, list[int]] = {}  # queue -> the windows that may take it
        self.open_to: dict[int, list[deque]] = {n: [] for n in plans}

    def of(self, ticket: Ticket) -> deque:
        key = _queue_key(ticket)
        queue = self.by_key.get(key)
        if queue is None:
            queue = self.by_key[key] = deque()
            self.takers[key] = [n for n, plan in self.plans.items()
                                if policy.may_take(plan.window, ticket)]
            for number in self.takers[key]:
                self.open_to[number].append(queue)
        return queue


def ahead_range(ahead: int) -> tuple[int, int]:
    """What a customer is shown for `ahead`: (low, high), low == high for a figure. A figure
    while the spread is at most one either side, else the range that spread covers."""
    spread = round(AHEAD_SPREAD * math.sqrt(max(0, ahead)))
    if spread <= 1:
        return ahead, ahead
    return max(0, ahead - spread), ahead + spread


def expected_arrivals(now: float, per_hour: Mapping[tuple[str, str], float],
                      until: float, age: float = 0, first_id: int = -1) -> list[dict]:
    """Tickets expected at today's rate, (service, priority) -> tickets an hour, evenly spaced
    from now (the first half a gap from now) until `until` or the horizon; each issued `age`
    seconds before it arrives (a transfer's customer took their ticket earlier)."""
    out: list[dict] = []
    end = min(until, now + ARRIVALS_HORIZON_S)
    for (service, priority), rate in sorted(per_hour.items()):
        if rate <= 0:
            continue
        gap = 3600 / rate
        t = now + gap / 2
        while t < end:
            out.append({"id": first_id - len(out), "service": service, "target_window": None,
                        "priority": priority, "issued_at": t - age, "arrives_at": t})
            t += gap
    return out


# -- learning the windows' time per customer ------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    window: int
    service: str
    seconds: float


def service_seconds(seeds: Mapping[str, float], samples: Sequence[Sample]) -> dict[str, float]:
    """Each service's time per customer: its seed (avg_minutes, in seconds) as
    SERVICE_SEED_WEIGHT samples, with today's last RECENT_SAMPLES."""
    out = {}
    for service, seed in seeds.items():
        mine = [s.seconds for s in samples if s.service == service][-RECENT_SAMPLES:]
        out[service] = (SERVICE_SEED_WEIGHT * seed + sum(mine)) / (SERVICE_SEED_WEIGHT + len(mine))
    return out


def window_speeds(per_service: Mapping[str, float], samples: Sequence[Sample]) -> dict[int, float]:
    """Each window's pace against the services' times (1.0 = as fast as the hall's mean)."""
    ratios: dict[int, list[float]] = {}
    for s in samples:
        if s.service in per_service:
            ratios.setdefault(s.window, []).append(s.seconds / per_service[s.service])
    return {number: (WINDOW_SEED_WEIGHT + sum(r[-RECENT_SAMPLES:]))
            / (WINDOW_SEED_WEIGHT + len(r[-RECENT_SAMPLES:]))
            for number, r in ratios.items()}


def away_left(lengths: Sequence[float], prior: float, elapsed: float) -> float:
    """How much longer a clerk away for `elapsed` seconds is expected to stay: the mean of
    what the hall's own past absences of that reason (`lengths`) had left at that point, those
    already over left out; with fewer than AWAY_SAMPLES of them, the configured `prior` less
    the time gone. At least SOON_BACK_S: one past every length seen is expected back soon."""
    if len(lengths) < AWAY_SAMPLES:
        return max(prior - elapsed, SOON_BACK_S)
    longer = [length - elapsed for length in lengths if length > elapsed]
    return max(sum(longer) / len(longer), SOON_BACK_S) if longer else SOON_BACK_S


def remaining_seconds(expected: float, elapsed: float) -> float:
    """Time still to go for a customer being served for `elapsed` of an `expected` time."""
    return max(expected - elapsed, LEAST_REMAINING_SHARE * expected)


# -- handling time (start to finish), shown beside the estimates ----------------------------------
HANDLING_SAMPLES = 20


def average_handling(seed_minutes: float, recent_minutes: list[float]) -> float:
    """The rolling mean of today's last handling times, the seed counted as one more sample."""
    samples = recent_minutes[:HANDLING_SAMPLES]
    return (seed_minutes + sum(samples)) / (1 + len(samples))
