"""The region server under many halls: simulated halls ship a month of days into a real
hallq-region on a real PostgreSQL that this starts (durable: fsync and synchronous commits on,
PostgreSQL's defaults). Prints figures; asserts nothing.

    .venv/bin/python bench/bench_region.py                      # 500 halls, 30 days
    .venv/bin/python bench/bench_region.py --halls 20 --days 3  # a quick look

The default ships ~21 million events (500 halls x 30 days x ~1,400 events a day: ~300 tickets,
each issued, called, started and finished, most rated, with transfers, no-shows and away
periods) in full batches of the hall shipper's size (2,000), each hall in order, from
`--senders` processes; at 20,000 events/s that is ~18 minutes, and PostgreSQL's files grow by
~8 GB (in a temporary directory, removed at the end unless --keep).

Targets (issue 18): ingest >= 20,000 events/s; the month's report across all halls from the
daily aggregates <= 2 s; an event shown live (Socket.IO) <= 2 s after it reached the region.
The senders, the region and PostgreSQL share this machine's cores: the figures include the
senders' own cost.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from pg_support import Postgres, RegionProcess, postgres_bin, start_postgres  # noqa: E402
from server_processes import cpu_seconds  # noqa: E402

from hall import shipping  # noqa: E402
from region.aggregates import summed  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
FIRST_DAY = date(2026, 11, 2)
SERVICES = (("pay", 0.45, 4), ("account", 0.15, 12), ("transfer", 0.1, 10),
            ("usage", 0.08, 8), ("enquiry", 0.15, 5), ("complaint", 0.07, 15))
SERVICE_LIST = [{"id": sid, "name": {"zh": sid, "en": sid}, "target_wait_minutes": 20}
                for sid, _, _ in SERVICES]
WINDOWS = 6


def hall_day(rng: random.Random, day_index: int, tickets: int) -> list[dict]:
    """One simulated hall day's events, in time order, without seq."""
    day = FIRST_DAY + timedelta(days=day_index)
    opens = datetime(day.year, day.month, day.day, 9, tzinfo=TZ).timestamp()
    events: list[tuple] = []

    def add(at: float, type_: str, window: int | None = None, ticket: int | None = None,
            **data: object) -> None:
        events.append((at, type_, window, ticket, data))

    for w in range(1, WINDOWS + 1):
        add(opens - 600 + w, "open", w)
        add(opens + 8 * 3600 + w, "close", w)
        for _ in range(2):
            start = opens + rng.uniform(600, 7 * 3600)
            add(start, "away", w)
            if rng.random() < 0.1:
                add(start + 600, "away_overdue", w, minutes=10)
            length = rng.uniform(2, 14)
            add(start + length * 60, "back", w, away_minutes=round(length, 2))
    names, weights = [s[0] for s in SERVICES], [s[1] for s in SERVICES]
    handling = {sid: minutes for sid, _, minutes in SERVICES}
    for i in range(1, int(tickets * rng.uniform(0.8, 1.2)) + 1):
        tid = day_index * 100_000 + i
        service = rng.choices(names, weights)[0]
        number = f"A{i:03d}"
        issued = opens + rng.uniform(0, 7.75 * 3600)
        estimate = round(rng.uniform(2, 25), 1)
        add(issued, "issue", None, tid, number=number, service=service, priority="normal",
            estimated_wait_min=estimate)
        called = issued + rng.expovariate(1 / 600)
        window = rng.randint(1, WINDOWS)
        add(called, "call", window, tid, number=number, service=service, recalls=0)
        if rng.random() < 0.03:
            add(called + 60, "recall", window, tid, number=number, service=service, recalls=1)
            add(called + 180, "no_show", window, tid, number=number, service=service)
            continue
        add(called + 20, "start", window, tid, number=number, service=service)
        if rng.random() < 0.03:
            to = rng.choice(names)
            add(called + 120, "transfer", window, tid, number=number, from_service=service,
                to_service=to, to_window=None)
            service, called = to, called + 120 + rng.expovariate(1 / 300)
            add(called, "call", window, tid, number=number, service=service, recalls=0)
            add(called + 20, "start", window, tid, number=number, service=service)
        done = called + 20 + rng.expovariate(1 / (handling[service] * 60))
        add(done, "finish", window, tid, number=number, service=service,
            handling_s=round(done - called - 20, 1))
        if rng.random() < 0.6:
            add(done + 10, "rate", window, tid, number=number, score=rng.choice((5, 5, 5, 4, 3)))
    events.sort(key=lambda e: e[0])
    iso = day.isoformat()
    return [{"at": round(at, 3), "day": iso, "type": type_, "window": window,
             "ticket_id": ticket, "staff_id": f"{window:04d}" if window else None, "data": data}
            for at, type_, window, ticket, data in events]


def sender(port: int, halls: list[tuple[str, str]], days: int, tickets: int, batch: int,
           go: multiprocessing.Event, results: multiprocessing.Queue) -> None:
    """Ships each hall's month, day by day across its halls, each hall's batches in order.
    A hall catching up sends full batches across its days, as the hall's shipper reads its
    log (`seq > cursor LIMIT batch`): what is left of a day goes with the next day's first."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    seqs = dict.fromkeys((h for h, _ in halls), 0)
    waiting: dict[str, list[dict]] = {h: [] for h, _ in halls}
    sent = refused = 0
    batches: list[float] = []
    go.wait()
    for day_index in range(days + 1):
        last = day_index == days
        for hall_id, token in halls:
            rng = random.Random(f"{hall_id}/{day_index}")
            if not last:
                events = hall_day(rng, day_index, tickets)
                for n, e in enumerate(events, seqs[hall_id] + 1):
                    e["seq"] = n
                seqs[hall_id] += len(events)
                waiting[hall_id] += events
            log = waiting[hall_id]
            while len(log) >= batch or (last and log):
                part, log = log[:batch], log[batch:]
                body = json.dumps({
                    "hall_id": hall_id, "epoch": "bench", "events": part,
                    "services": SERVICE_LIST, "backlog": len(log),
                    "status": {"waiting": rng.randint(0, 40), "sent_at": time.time()}})
                started = time.perf_counter()
                conn.request("POST", "/api/ingest", body,
                             {"Authorization": f"Bearer {token}",
                              "Content-Type": "application/json"})
                answer = conn.getresponse()
                answer.read()
                batches.append(time.perf_counter() - started)
                if answer.status == 200:
                    sent += len(part)
                else:
                    refused += 1
            waiting[hall_id] = log
    results.put((sent, refused, batches))


class Watcher:
    """A live-view client: the delay from each batch's arrival at the region to its update
    reaching this Socket.IO connection."""

    def __init__(self, url: str, token: str) -> None:
        import socketio

        self.delays: list[float] = []
        self.client = socketio.Client(reconnection=True)
        self.client.on("hall", self._update)
        self.client.connect(url, auth={"token": token}, transports=["websocket"],
                            wait_timeout=10)

    def _update(self, message: dict) -> None:
        self.delays.append(time.time() - message["received_at"])

    def stop(self) -> None:
        self.client.disconnect()


WAIT, RATINGS = summed("wait_hist"), summed("ratings")
REPORT_SQL = {
    "per hall and service": f"""
        SELECT hall_id, service_id, sum(issued), sum(served), sum(no_show),
               sum(wait_count), sum(wait_sum_s) / nullif(sum(wait_count), 0),
               sum(wait_within_target)::float / nullif(sum(wait_count), 0),
               {WAIT}, sum(handling_sum_s) / nullif(sum(handling_count), 0),
               sum(rating_count), {RATINGS}, sum(estimate_within)::float
                   / nullif(sum(estimate_count), 0)
        FROM daily_service WHERE day BETWEEN %s AND %s GROUP BY hall_id, service_id""",
    "ranking of halls": f"""
        SELECT hall_id, sum(wait_within_target)::float / nullif(sum(wait_count), 0) AS within,
               (sum(ratings[5]) + sum(ratings[4]))::float / nullif(sum(rating_count), 0),
               sum(served), {WAIT}
        FROM daily_service WHERE day BETWEEN %s AND %s GROUP BY hall_id
        ORDER BY within DESC NULLS LAST""",
    "per day, all halls": f"""
        SELECT day, sum(issued), sum(served), sum(wait_sum_s) / nullif(sum(wait_count), 0),
               {WAIT}
        FROM daily_service WHERE day BETWEEN %s AND %s GROUP BY day ORDER BY day""",
    "away per hall": """
        SELECT hall_id, sum(away_count), sum(away_sum_s), sum(away_overdue)
        FROM daily_hall WHERE day BETWEEN %s AND %s GROUP BY hall_id""",
}


def report_times(dsn: str, days: int) -> dict[str, tuple[float, float]]:
    """Each report query's first and best-of-three time over the whole month."""
    import psycopg

    start, end = FIRST_DAY, FIRST_DAY + timedelta(days=days - 1)
    out = {}
    with psycopg.connect(dsn) as conn:
        for name, sql in REPORT_SQL.items():
            times = []
            for _ in range(3):
                began = time.perf_counter()
                conn.execute(sql, [start, end]).fetchall()
                times.append(time.perf_counter() - began)
            out[name] = (times[0], min(times))
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--halls", type=int, default=500)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--tickets", type=int, default=300, help="a hall's tickets a day")
    parser.add_argument("--senders", type=int, default=2, help="sending processes")
    parser.add_argument("--batch", type=int, default=shipping.BATCH,
                        help="events per request (default: the hall's shipper's)")
    parser.add_argument("--keep", action="store_true", help="keep PostgreSQL's directory")
    args = parser.parse_args()
    if postgres_bin() is None:
        print("bench_region: needs Debian's postgresql (initdb, pg_ctl)", file=sys.stderr)
        return 1

    pg = start_postgres(durable=True, settings="-c shared_buffers=256MB -c max_wal_size=4GB")
    work = Path(tempfile.mkdtemp(prefix="bench-region-"))
    region = None
    try:
        pg.execute("CREATE DATABASE bench TEMPLATE region_template")
        region = RegionProcess(pg.dsn("bench"), work).start()
        halls = add_halls(pg, args.halls)
        print(f"{args.halls} halls x {args.days} days, ~{args.tickets} tickets a hall a day, "
              f"{args.senders} senders, batches of {args.batch}; PostgreSQL in {pg.dir}")
        watcher = Watcher(region.url, region.viewer_token())
        go = multiprocessing.Event()
        results: multiprocessing.Queue = multiprocessing.Queue()
        procs = [multiprocessing.Process(
            target=sender, args=(region.port, halls[i::args.senders], args.days, args.tickets,
                                 args.batch, go, results)) for i in range(args.senders)]
        for p in procs:
            p.start()
        postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
        cpu_before = cpu_seconds(region.proc.pid), cpu_seconds(postmaster)
        began = time.perf_counter()
        go.set()
        got = [results.get() for _ in procs]
        elapsed = time.perf_counter() - began
        cpu = cpu_seconds(region.proc.pid) - cpu_before[0]
        pg_cpu = cpu_seconds(postmaster) - cpu_before[1]
        for p in procs:
            p.join()
        time.sleep(1)
        watcher.stop()
        sent = sum(g[0] for g in got)
        refused = sum(g[1] for g in got)
        batch_times = [t for g in got for t in g[2]]
        print(f"ingest: {sent:,} events in {elapsed:.1f} s = {sent / elapsed:,.0f} events/s "
              f"(target >= 20,000); {len(batch_times):,} batches, {refused} refused; "
              f"batch round trip median {statistics.median(batch_times) * 1000:.1f} ms, p99 "
              f"{percentile(batch_times, 99) * 1000:.1f} ms")
        print(f"CPU: region {cpu:.0f} s ({cpu / elapsed:.0%} of one core), PostgreSQL "
              f"{pg_cpu:.0f} s ({pg_cpu / elapsed:.0%}): {(cpu + pg_cpu) / sent * 1e6:.0f} us of "
              f"CPU an event, {sent / (cpu + pg_cpu):,.0f} events per CPU-second; "
              f"load average {os.getloadavg()[0]:.1f} at the end (other work on the machine)")
        delays = watcher.delays
        if delays:
            print(f"live: {len(delays):,} updates; arrival -> Socket.IO client p50 "
                  f"{percentile(delays, 50) * 1000:.1f} ms, p99 {percentile(delays, 99) * 1000:.1f}"
                  f" ms, max {max(delays) * 1000:.1f} ms (target <= 2 s)")
        for name, (first, best) in report_times(pg.dsn("bench"), args.days).items():
            print(f"report over the month, {name}: first {first * 1000:.0f} ms, best of 3 "
                  f"{best * 1000:.0f} ms (target <= 2 s)")
        print(f"database size: {database_size(pg)}")
    finally:
        if region:
            region.stop()
        if args.keep:
            print(f"kept: {pg.dir}")
            pg.stop()
        else:
            pg.remove()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def add_halls(pg: Postgres, count: int) -> list[tuple[str, str]]:
    from region import db

    with db.connect(pg.dsn("bench")) as conn:
        return [(f"hall-{i:03d}", db.add_hall(conn, f"hall-{i:03d}", f"营业厅 {i}"))
                for i in range(1, count + 1)]


def database_size(pg: Postgres) -> str:
    import psycopg

    with psycopg.connect(pg.dsn("bench")) as conn:
        return conn.execute("SELECT pg_size_pretty(pg_database_size('bench'))").fetchone()[0]


if __name__ == "__main__":
    sys.exit(main())
