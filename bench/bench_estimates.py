"""How well the wait printed on a ticket holds on a simulated working day (issue 14).

    .venv/bin/python bench/bench_estimates.py [--seeds 20] [--loads 0.65,0.9,1.0] [--quick]

A day of a utility hall drives the real `Hall` (a real SQLite file, a virtual clock):
six windows share three services in overlapping sets; arrivals come as a crowd at opening,
a 09:00-10:30 peak and an afternoon bump; handling times are lognormal per service and per
clerk; clerks take short 暂离 breaks; lunch is taken both ways (even seeds: issuing paused by
the hours' 12:00-13:00 break and every window at lunch; odd seeds: no break in the hours and a
staggered lunch, half the windows at a time, issuing on); 5% green channel, 3% transfers,
recalls and no-shows. A load's days (one a seed) are consecutive working days of one hall, in
one database, as a real hall's are: from the second day on, the hall's own past is there.

Each ticket's printed `estimated_wait_min` is compared with its real wait (first call - issue),
and so is the status page's estimate 10 minutes after issue (with the wait still to come then).
"Within" means within max(3 min, 25% of the estimate). Bias = mean(estimate - real): negative
means people waited longer than promised. "Ahead" is right when the printed number is within 1
of the calls actually made between the issue and the ticket's own call by the windows that take
its service (as the hall defines ahead: calls at windows that never take it are not counted).

It also times the estimate of a hall with 300 waiting at 10 windows (--quick: smaller).
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hall.auth import Actor
from hall.config import parse_config
from hall.errors import HallError
from hall.hall import Hall
from hall.migrations import migrated
from hall.store import Store

TZ = ZoneInfo("Asia/Shanghai")
DAY = "2026-11-23"  # a Monday
BOSS = Actor(role="supervisor", staff_id="9001", key="boss")
KIOSK = Actor(role="kiosk", device_id="kiosk-1", key="kiosk")

# service: (share of arrivals, mean handling minutes, configured avg_minutes)
SERVICES = {"pay": (0.5, 3.5, 4), "enquiry": (0.3, 4.0, 5), "account": (0.2, 10.0, 10)}
WINDOWS = {1: ["pay", "enquiry"], 2: ["pay", "account"], 3: ["account", "enquiry"],
           4: ["enquiry", "pay"], 5: ["account", "pay"], 6: ["pay", "enquiry", "account"]}
PRIORITY_WINDOW = 1
# Relative arrival rate by clock time (minutes after midnight): peak, lull, afternoon bump.
PROFILE = [(9 * 60, 10 * 60 + 30, 1.6), (10 * 60 + 30, 12 * 60, 1.0), (12 * 60, 13 * 60 + 30, 0.7),
           (13 * 60 + 30, 14 * 60, 0.9), (14 * 60, 15 * 60 + 30, 1.2),
           (15 * 60 + 30, 16 * 60 + 30, 0.8)]
OPEN, LAST_TICKET, CLOSE = 9 * 60, 16 * 60 + 30, 17 * 60
OPENING_CROWD = 0.03  # of the day's tickets, in the first three minutes
GREEN, TRANSFER, NO_SHOW, LATE = 0.05, 0.03, 0.04, 0.06
PERIODS = [("peak", 9 * 60, 10 * 60 + 30), ("before lunch", 10 * 60 + 30, 12 * 60),
           ("lunch", 12 * 60, 13 * 60 + 30), ("afternoon", 13 * 60 + 30, 17 * 60)]
STATUS_AFTER = 10  # minutes after issue the status page is read


def at(minute: float, day: int = 0) -> float:
    """Epoch seconds of `minute` after midnight on the bench's working day `day` (0: DAY, a
    Monday; the days run Monday to Friday)."""
    date = datetime.fromisoformat(DAY) + timedelta(days=day + 2 * (day // 5))
    return date.replace(tzinfo=TZ).timestamp() + minute * 60


def lognormal(rnd: random.Random, mean: float, cv: float) -> float:
    sigma = math.sqrt(math.log(1 + cv * cv))
    return rnd.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)


def lunch_of(number: int) -> tuple[float, float]:
    """A window's lunch when it is staggered (odd windows first), minutes after midnight."""
    start = 11 * 60 + 30 if number % 2 else 12 * 60 + 30
    return start, start + 60


def clock_text(minute: float) -> str:
    return f"{int(minute) // 60:02d}:{int(minute) % 60:02d}"


def hall_config(paused_lunch: bool):
    """Lunch paused by the hours, or staggered: each window's lunch declared as its breaks."""
    breaks = [["12:00", "13:00"]] if paused_lunch else []
    return parse_config({
        "hall": {"name": "bench", "timezone": "Asia/Shanghai"},
        "hours": {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "17:00",
                  "last_ticket": "16:30", "breaks": breaks},
        "rules": {"away_limit_minutes": 10, "max_recalls": 2},
        "services": [{"id": s, "prefix": "ABC"[i], "name": {"zh": s, "en": s},
                      "avg_minutes": avg, "target_wait_minutes": 20}
                     for i, (s, (_, _, avg)) in enumerate(SERVICES.items())],
        "windows": [{"number": n, "services": svc,
                     "flags": ["priority"] if n == PRIORITY_WINDOW else [],
                     "breaks": [] if paused_lunch else [[clock_text(m) for m in lunch_of(n)]]}
                    for n, svc in WINDOWS.items()],
    })


@dataclass
class Ticket:
    public_id: str
    service: str
    issued: float  # minutes after midnight
    estimate: float | None
    ahead: int
    shown: tuple[int, int]  # the ahead shown: (low, high), equal for a figure
    calls_before: int  # calls made before it was issued
    called: float | None = None
    ahead_then: int = 0  # calls between its issue and its own, at windows that take it
    status_estimate: float | None = None  # minutes from the status check
    day: int = 0  # the seed of its day


@dataclass
class Clerk:
    number: int
    speed: float
    breaks: list = field(default_factory=list)  # [(start minute, minutes, reason)]
    waiting_for_customers: bool = False
    idle_since: float | None = None  # minute it found nobody to call
    idle: float = 0.0  # minutes spent with nobody to call, while present


class Day:
    """One simulated day: an event heap of (minute, order, action) driving the real Hall."""

    def __init__(self, seed: int, load: float, folder: Path) -> None:
        self.rnd = random.Random(seed)
        self.seed = seed
        self.paused_lunch = seed % 2 == 0
        self.config = hall_config(self.paused_lunch)
        self.now = OPEN - 5.0
        # A load's days follow one another in one hall, as a real hall's do: what the
        # estimator learns from the hall's past days is there from the second day on.
        self.hall = Hall(self.config, Store(migrated(folder / f"hall-{load}.db")),
                         clock=lambda: at(self.now, seed))
        self.heap: list = []
        self.order = 0
        self.tickets: dict[int, Ticket] = {}
        self.calls: list[int] = []  # the window of every call, in order
        self.clerks = {n: Clerk(n, lognormal(self.rnd, 1.0, 0.15)) for n in WINDOWS}
        self.plan_breaks()
        self.plan_arrivals(load)

    # -- the plan ----------------------------------------------------------------------------
    def plan_breaks(self) -> None:
        for n, clerk in self.clerks.items():
            for _ in range(2):
                start = self.rnd.uniform(OPEN + 30, LAST_TICKET - 30)
                clerk.breaks.append((start, self.rnd.uniform(3, 9), "暂离"))
            if self.paused_lunch:
                clerk.breaks.append((12 * 60, 60, "午休"))
            else:
                clerk.breaks.append((lunch_of(n)[0], 60, "午休"))
            clerk.breaks.sort()
            for start, _, _ in clerk.breaks:  # an idle clerk notices the time
                self.push(start, self.free, n)

    def issuing(self, minute: float) -> bool:
        return OPEN <= minute < LAST_TICKET and not (
            self.paused_lunch and 12 * 60 <= minute < 13 * 60)

    def plan_arrivals(self, load: float) -> None:
        demand = sum(share * (mean + 0.7) for share, mean, _ in SERVICES.values()) + 0.15
        lunch_loss = 60 * len(WINDOWS)
        capacity = (len(WINDOWS) * (LAST_TICKET + 10 - OPEN) - lunch_loss) * 0.97
        weight = sum((b - a) * w for a, b, w in PROFILE if self.issuing(a))
        total = load * capacity / demand
        base = total * (1 - OPENING_CROWD) / weight  # tickets per minute at weight 1
        for _ in range(round(total * OPENING_CROWD)):
            self.push(OPEN + self.rnd.uniform(0, 3), self.arrive)
        for a, b, w in PROFILE:
            t = a
            while True:
                t += self.rnd.expovariate(base * w)
                if t >= b:
                    break
                if self.issuing(t):
                    self.push(t, self.arrive)
        for n in WINDOWS:
            self.push(OPEN - 2 + n * 0.1, self.open_window, n)

    def push(self, minute: float, action, *args) -> None:
        self.order += 1
        heapq.heappush(self.heap, (minute, self.order, action, args))

    def run(self) -> list[Ticket]:
        while self.heap:
            minute, _, action, args = heapq.heappop(self.heap)
            self.now = max(self.now, minute)
            action(*args)
        for n in WINDOWS:  # every customer served: the day is over
            self.command(n, "close")
        return list(self.tickets.values())

    # -- customers ---------------------------------------------------------------------------
    def arrive(self) -> None:
        shares = [share for share, _, _ in SERVICES.values()]
        service = self.rnd.choices(list(SERVICES), shares)[0]
        priority = "priority" if self.rnd.random() < GREEN else "normal"
        try:
            ticket = self.hall.issue(KIOSK, service, priority)["ticket"]
        except HallError:
            return
        ahead = ticket.get("ahead", 0)  # a hall without ahead_low/high shows the figure
        self.tickets[ticket["id"]] = Ticket(
            ticket["public_id"], service, self.now, ticket.get("estimated_wait_min"), ahead,
            (ticket.get("ahead_low", ahead), ticket.get("ahead_high", ahead)), len(self.calls),
            day=self.seed)
        self.push(self.now + STATUS_AFTER, self.read_status, ticket["id"])
        self.wake_idle()

    def read_status(self, ticket_id: int) -> None:
        if self.tickets[ticket_id].called is not None:
            return  # called already (and waiting again after a transfer): its wait is over
        status = self.hall.ticket_status(self.tickets[ticket_id].public_id)["ticket"]
        if status["status"] == "waiting":
            self.tickets[ticket_id].status_estimate = status.get("estimated_wait_min")

    def wake_idle(self) -> None:
        for clerk in self.clerks.values():
            if clerk.waiting_for_customers:
                clerk.waiting_for_customers = False
                self.push(self.now, self.free, clerk.number)

    # -- windows -----------------------------------------------------------------------------
    def command(self, n: int, name: str, **params) -> dict:
        return self.hall.window_command(BOSS, n, name, params)

    def open_window(self, n: int) -> None:
        self.command(n, "open")
        self.push(self.now, self.free, n)

    def free(self, n: int) -> None:
        """The clerk of window n has nobody: a due break, or the next customer."""
        clerk = self.clerks[n]
        if clerk.idle_since is not None:
            clerk.idle += self.now - clerk.idle_since
            clerk.idle_since = None
        with self.hall.view() as view:
            row = view.window_row(n)
        if row["status"] != "idle" or row["ticket_id"] is not None:
            return  # busy, away, or already woken by another event
        if clerk.breaks and clerk.breaks[0][0] <= self.now:
            _, minutes, reason = clerk.breaks.pop(0)
            self.command(n, "away", reason=reason)
            self.push(self.now + minutes, self.come_back, n)
            return
        try:
            result = self.command(n, "call-next")
        except HallError:
            clerk.waiting_for_customers = True
            clerk.idle_since = self.now
            return
        ticket = self.tickets.get(result["ticket"]["id"])
        if ticket and ticket.called is None:
            takers = {w for w, services in WINDOWS.items() if ticket.service in services}
            ticket.called = self.now
            ticket.ahead_then = sum(w in takers for w in self.calls[ticket.calls_before:])
        self.calls.append(n)
        self.customer_answers(n)

    def come_back(self, n: int) -> None:
        self.command(n, "back")
        self.free(n)

    def customer_answers(self, n: int) -> None:
        luck = self.rnd.random()
        if luck < NO_SHOW:
            self.push(self.now + 1, self.command, n, "recall")
            self.push(self.now + 2, self.command, n, "recall")
            self.push(self.now + 2.5, self.no_show, n)
        elif luck < NO_SHOW + LATE:
            self.push(self.now + 1, self.command, n, "recall")
            self.push(self.now + 1.3, self.start, n)
        else:
            self.push(self.now + 0.3 + lognormal(self.rnd, 0.4, 0.5), self.start, n)

    def no_show(self, n: int) -> None:
        self.command(n, "no-show")
        self.push(self.now + 0.2, self.free, n)

    def start(self, n: int) -> None:
        ticket = self.command(n, "start")["ticket"]
        mean = SERVICES[ticket["service"]][1] * self.clerks[n].speed
        minutes = lognormal(self.rnd, mean, 0.6)
        if self.rnd.random() < TRANSFER:
            others = [s for s in SERVICES if s != ticket["service"]]
            self.push(self.now + min(minutes, 1.5), self.transfer, n, self.rnd.choice(others))
        else:
            self.push(self.now + minutes, self.finish, n)

    def finish(self, n: int) -> None:
        self.command(n, "finish")
        self.push(self.now + 0.2, self.free, n)

    def transfer(self, n: int, service: str) -> None:
        self.command(n, "transfer", service=service)
        self.wake_idle()
        self.push(self.now + 0.2, self.free, n)


# -- the figures -------------------------------------------------------------------------------
def within(estimate: float, real: float) -> bool:
    return abs(real - estimate) <= max(3.0, 0.25 * estimate)


def figures(pairs: list[tuple[float, float]]) -> dict:
    """pairs of (estimate, real) minutes."""
    if not pairs:
        return {"n": 0}
    errors = sorted(abs(r - e) for e, r in pairs)
    return {"n": len(pairs),
            "within": 100 * sum(within(e, r) for e, r in pairs) / len(pairs),
            "median": statistics.median(errors),
            "p90": errors[min(len(errors) - 1, int(0.9 * len(errors)))],
            "bias": statistics.fmean(e - r for e, r in pairs)}


def period_of(minute: float) -> str:
    return next((name for name, a, b in PERIODS if a <= minute < b), "afternoon")


def shown_right(shown: tuple[int, int], real: int) -> bool:
    """A figure is right within 1; a range when the real count is inside it."""
    low, high = shown
    return abs(low - real) <= 1 if low == high else low <= real <= high


def bias_se(group: list[Ticket]) -> float:
    """The standard error of the printed bias, from how it varies day to day: one day's
    lunch or slow clerks move a period's bias by several minutes."""
    by_day: dict[int, list[float]] = defaultdict(list)
    for t in group:
        by_day[t.day].append(t.estimate - (t.called - t.issued))
    days = [statistics.fmean(errors) for errors in by_day.values()]
    return statistics.stdev(days) / math.sqrt(len(days)) if len(days) > 1 else float("nan")


def score(tickets: list[Ticket]) -> dict[tuple[str, str], dict]:
    """Per (service, period) groups, "all" included: printed, status page and ahead figures."""
    groups: dict[tuple[str, str], list[Ticket]] = defaultdict(list)
    for t in tickets:
        if t.called is None or t.estimate is None:
            continue
        for key in ((t.service, "all"), ("all", period_of(t.issued)), ("all", "all")):
            groups[key].append(t)
    out = {}
    for key, group in groups.items():
        printed = figures([(t.estimate, t.called - t.issued) for t in group])
        printed["bias_se"] = bias_se(group)
        status = figures([(t.status_estimate, t.called - t.issued - STATUS_AFTER)
                          for t in group if t.status_estimate is not None])
        ahead = [abs(t.ahead - t.ahead_then) <= 1 for t in group]
        shown = [shown_right(t.shown, t.ahead_then) for t in group]
        out[key] = {"printed": printed, "status": status,
                    "ahead": 100 * sum(ahead) / len(ahead),
                    "ahead_shown": 100 * sum(shown) / len(shown)}
    return out


def print_table(title: str, tickets: list[Ticket]) -> dict:
    scored = score(tickets)
    print(f"\n{title}")
    print(f"{'group':<22}{'n':>5}{'within%':>9}{'med':>6}{'p90':>6}{'bias':>7}{'±se':>5}"
          f" | {'status n':>8}{'within%':>9}{'med':>6}{'p90':>6}{'bias':>7} | {'ahead±1%':>8}"
          f"{'shown%':>7}")
    keys = [("all", "all")] + [(s, "all") for s in SERVICES] + [("all", p) for p, _, _ in PERIODS]
    for key in keys:
        if key not in scored:
            continue
        p, s = scored[key]["printed"], scored[key]["status"]
        name = key[0] if key[1] == "all" else key[1]
        line = f"{name:<22}{p['n']:>5}{p['within']:>9.1f}{p['median']:>6.1f}{p['p90']:>6.1f}" \
               f"{p['bias']:>7.1f}{p['bias_se']:>5.1f} | "
        if s["n"]:
            line += f"{s['n']:>8}{s['within']:>9.1f}{s['median']:>6.1f}{s['p90']:>6.1f}" \
                    f"{s['bias']:>7.1f}"
        else:
            line += f"{0:>8}{'':>28}"
        print(line + f" | {scored[key]['ahead']:>8.1f}{scored[key]['ahead_shown']:>7.1f}")
    return scored


def busy_share(day: Day) -> float:
    """Share of the windows' present time (opened to the hall's last customer done, away time
    left out) in which the clerk had someone to serve: not idle for want of customers. Walk-up,
    recalls, no-shows, transfers and wrap-up all count as busy: a window the queue never lets
    rest is 100% busy."""
    db = day.hall.store.db
    first = at(0, day.seed)
    last = db.execute("SELECT max(coalesce(finished_at, called_at)) FROM tickets"
                      " WHERE issued_at >= ?", [first]).fetchone()[0]
    away = db.execute("SELECT sum(min(coalesce(ended_at, ?), ?) - started_at) FROM away_periods"
                      " WHERE started_at BETWEEN ? AND ?", [last, last, first, last]
                      ).fetchone()[0] or 0
    end = (last - first) / 60
    idle = sum(c.idle + (max(0.0, end - c.idle_since) if c.idle_since is not None else 0.0)
               for c in day.clerks.values())
    present = len(WINDOWS) * (last - at(OPEN - 2, day.seed)) - away
    return 1 - idle * 60 / present


RANGE_FROM_MIN = 20  # a long wait shown as a range instead: 约 a–b 分钟


def shown_range(estimate: float) -> tuple[int, int]:
    """The range a long estimate would be shown as: 0.8× to 1.25×, to whole 5 minutes."""
    return 5 * math.floor(0.8 * estimate / 5), 5 * math.ceil(1.25 * estimate / 5)


def print_range_choice(tickets: list[Ticket]) -> None:
    """The customer sees a figure; what a range for the long waits would have scored."""
    long = [t for t in tickets if t.called is not None and t.estimate is not None
            and t.estimate >= RANGE_FROM_MIN]
    if not long:
        return
    inside = [shown_range(t.estimate)[0] <= t.called - t.issued <= shown_range(t.estimate)[1]
              for t in long]
    kept = [within(t.estimate, t.called - t.issued) for t in long]
    width = statistics.fmean(b - a for a, b in map(shown_range, (t.estimate for t in long)))
    print(f"estimates of {RANGE_FROM_MIN}+ min ({len(long)}): as a figure within "
          f"{100 * sum(kept) / len(kept):.1f}%; as a range (0.8x-1.25x to 5 min, "
          f"{width:.0f} min wide on average) inside {100 * sum(inside) / len(inside):.1f}%")


def run_load(load: float, seeds: int, folder: Path) -> list[Ticket]:
    everyone: list[Ticket] = []
    started = time.perf_counter()
    busy = []
    for seed in range(seeds):
        day = Day(seed, load, folder)
        tickets = day.run()
        everyone += tickets
        busy.append(busy_share(day))
        day.hall.store.close()
    seconds = time.perf_counter() - started
    issued = len(everyone) / seeds
    print_table(f"== load {load:.0%} (windows busy {statistics.fmean(busy):.0%}): {seeds} days,"
                f" {issued:.0f} tickets a day, {seconds:.1f} s ==", everyone)
    print_range_choice(everyone)
    return everyone


# -- speed ---------------------------------------------------------------------------------------
def time_estimates(folder: Path, waiting: int, windows: int, repeats: int,
                   history: int) -> None:
    """The ticket answer's cost with `waiting` tickets and `windows` open windows, after
    `history` customers served today."""
    services = [{"id": f"s{i}", "prefix": chr(65 + i), "name": {"zh": f"s{i}", "en": f"s{i}"},
                 "avg_minutes": 3 + i} for i in range(5)]
    config = parse_config({
        "hall": {"name": "speed"},
        "hours": {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "open": "00:00",
                  "close": "24:00"},
        "services": services,
        "windows": [{"number": n, "services": [services[(n + k) % 5]["id"] for k in range(3)]}
                    for n in range(1, windows + 1)],
    })
    now = [at(10 * 60)]
    hall = Hall(config, Store(migrated(folder / "speed.db")), clock=lambda: now[0])
    rnd = random.Random(1)
    for n in range(1, windows + 1):
        hall.window_command(BOSS, n, "open", {})
    for _ in range(history):  # the morning so far: the events the model learns from
        now[0] += 30
        hall.issue(KIOSK, rnd.choice(services)["id"])
        n = rnd.randint(1, windows)
        try:
            hall.window_command(BOSS, n, "call-next", {})
            now[0] += 60 * rnd.uniform(2, 6)
            hall.window_command(BOSS, n, "finish", {})
        except HallError:
            pass
    for _ in range(waiting):
        now[0] += 1
        hall.issue(KIOSK, rnd.choice(services)["id"],
                   "priority" if rnd.random() < GREEN else "normal")
    for n in range(1, windows + 1, 2):  # half the windows busy with someone
        hall.window_command(BOSS, n, "call-next", {})
    with hall.view() as v:
        rows = v.waiting()
        started = time.perf_counter()
        for _ in range(repeats):
            v.forget_cache()
            v.ticket(rows[-1])
        one = (time.perf_counter() - started) / repeats
        started = time.perf_counter()
        v.forget_cache()
        for row in rows:
            v.ticket(row)
        every = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(repeats):  # the kiosk's whole command: the ticket's and the queue's estimates
        now[0] += 1
        hall.issue(KIOSK, rnd.choice(services)["id"])
    issue = (time.perf_counter() - started) / repeats
    print(f"\n== speed: {len(rows)} waiting, {windows} windows, {history} served before ==")
    print(f"issuing a ticket, the whole command with its estimates: {issue * 1000:.2f} ms")
    print(f"one new ticket's answer (estimate made afresh): {one * 1000:.2f} ms "
          f"= {one * 1000 / len(rows):.4f} ms per waiting ticket")
    print(f"every waiting ticket's answer in one view: {every * 1000:.1f} ms "
          f"= {every * 1000 / len(rows):.3f} ms per ticket")
    hall.store.close()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--loads", default="0.65,0.9,1.0")
    parser.add_argument("--quick", action="store_true", help="one short day, a smoke test")
    args = parser.parse_args(argv)
    loads = [float(x) for x in args.loads.split(",")]
    seeds = args.seeds
    if args.quick:
        loads, seeds = [0.3], 1
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for load in loads:
            results[load] = score(run_load(load, seeds, folder))
        time_estimates(folder, 40 if args.quick else 300, 10, 3 if args.quick else 20,
                       50 if args.quick else 600)
    return results


if __name__ == "__main__":
    main()
