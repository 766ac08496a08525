"""How long the report of a month of a busy hall takes: 150,000 tickets (about 5,000 a day in
six windows... and the event log that goes with them), written straight into SQLite.

    .venv/bin/python bench/bench_reports.py [--tickets 150000] [--days 30] [--cold-runs 3]
                                            [--runs 5]

Prints the time to generate, then the report's time: cold (the first report of those days
reads each day from the tickets and the event log, in two threads, and stores its figures;
measured --cold-runs times, the stored days dropped before each) and warm (every later report
of closed days reads the stored figures; --runs times).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hall.config import load_config
from hall.hall import Hall
from hall.migrations import migrated
from hall.reports import build_report, report_csv
from hall.store import Store, to_json


def generate(store: Store, tickets: int, days: int, first: date, seed: int = 7) -> None:
    config = load_config()
    tz = config.tz
    rnd = random.Random(seed)
    services = [s.id for s in config.services]
    prefixes = {s.id: s.prefix for s in config.services}
    clerks = [s.id for s in config.staff if s.role == "clerk"]
    per_day = tickets // days
    ticket_rows, event_rows, rating_rows, away_rows = [], [], [], []
    tid = 0
    for d in range(days):
        day = first + timedelta(days=d)
        iso = day.isoformat()
        opening = datetime(day.year, day.month, day.day, 9, tzinfo=tz).timestamp()
        for window, clerk in enumerate(clerks, start=1):
            event_rows.append((opening - rnd.randint(60, 900), iso, "login", window, None, clerk,
                               clerk, to_json({"role": "clerk"})))
            for _ in range(rnd.randint(1, 4)):
                start = opening + rnd.uniform(0, 7.5 * 3600)
                length = rnd.uniform(60, 900)
                away_rows.append((window, clerk, "暂离", start, start + length,
                                  int(length > 600)))
        counters = dict.fromkeys(services, 0)
        for _ in range(per_day):
            tid += 1
            service = rnd.choice(services)
            counters[service] += 1
            number = f"{prefixes[service]}{counters[service] % 1000:03d}"
            issued = opening + rnd.uniform(0, 7.75 * 3600)
            window = rnd.randint(1, 6)
            clerk = clerks[window - 1]
            fate = rnd.random()
            called = issued + rnd.expovariate(1 / 900)
            started = called + rnd.uniform(10, 90)
            finished = started + rnd.expovariate(1 / 400)
            status, transfers = "done", 0
            event_rows.append((issued, iso, "issue", None, tid, None, "kiosk-1",
                               to_json({"number": number, "service": service,
                                        "priority": "normal"})))
            if fate < 0.02:
                status, called, started, finished = "expired", None, None, issued + 36000
            elif fate < 0.03:
                status, called, started, finished = "cancelled", None, None, issued + 600
            else:
                event_rows.append((called, iso, "call", window, tid, clerk, clerk,
                                   to_json({"number": number, "service": service,
                                            "priority": "normal", "recalls": 0})))
                if fate < 0.07:
                    status, started = "no_show", None
                else:
                    if fate < 0.09:  # transferred once: the call above was the first one
                        transfers = 1
                        event_rows.append((called + 30, iso, "transfer", window, tid, clerk,
                                           clerk, to_json({"number": number,
                                                           "from_service": service,
                                                           "to_service": service,
                                                           "to_window": None})))
                        called += 300
                        event_rows.append((called, iso, "call", window, tid, clerk, clerk,
                                           to_json({"number": number, "service": service,
                                                    "priority": "normal", "recalls": 0})))
                    event_rows.append((started, iso, "start", window, tid, clerk, clerk,
                                       to_json({"number": number, "service": service})))
                    event_rows.append((finished, iso, "finish", window, tid, clerk, clerk,
                                       to_json({"number": number, "service": service})))
                    if rnd.random() < 0.6:
                        score = rnd.choices([5, 4, 3, 2, 1], [60, 25, 8, 4, 3])[0]
                        rating_rows.append((tid, window, clerk, score, None, finished + 20,
                                            service, iso))
            ticket_rows.append((tid, f"p{tid}", iso, number, service, service, "normal", status,
                                issued, called, started, finished, window if called else None,
                                clerk if called else None, transfers))
    with store.write() as db:
        db.conn.executemany(
            "INSERT INTO tickets (id, public_id, day, number, service, issued_service, priority,"
            " status, issued_at, called_at, started_at, finished_at, window, staff_id,"
            " transfers) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", ticket_rows)
        event_rows.sort(key=lambda e: e[0])
        db.conn.executemany(
            "INSERT INTO events (at, day, type, window, ticket_id, staff_id, actor, data)"
            " VALUES (?,?,?,?,?,?,?,?)", event_rows)
        db.conn.executemany(
            "INSERT INTO ratings (ticket_id, window, staff_id, score, reason, at, service, day)"
            " VALUES (?,?,?,?,?,?,?,?)", rating_rows)
        db.conn.executemany(
            "INSERT INTO away_periods (window, staff_id, reason, started_at, ended_at, overdue)"
            " VALUES (?,?,?,?,?,?)", away_rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=150_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    config = load_config()
    first = date(2026, 10, 1)
    last = first + timedelta(days=args.days - 1)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(migrated(Path(tmp) / "bench.db"))
        Hall(config, store)  # the schema and indexes the running server has
        t0 = time.perf_counter()
        generate(store, args.tickets, args.days, first)
        events = store.db.execute("SELECT count(*) FROM events").fetchone()[0]
        print(f"generated {args.tickets:,} tickets, {events:,} events over {args.days} days "
              f"in {time.perf_counter() - t0:.1f} s")

        def timed() -> tuple[float, dict]:
            t0 = time.perf_counter()
            report = build_report(store, config, first.isoformat(), last.isoformat(),
                                  time.time())
            return time.perf_counter() - t0, report

        cold = []
        for _ in range(max(1, args.cold_runs)):
            with store.write() as db:
                db.execute("DELETE FROM report_days")
            cold.append(timed()[0])
        warm = []
        for _ in range(max(1, args.runs)):
            seconds, report = timed()
            warm.append(seconds)
        t0 = time.perf_counter()
        size = len(report_csv(report))
        csv_s = time.perf_counter() - t0
        total = report["total"]
        print(f"report of {total['issued']:,} tickets ({total['served']:,} served, "
              f"{total['rated']:,} ratings)")
        for name, times in (("cold (every day read from the tickets and events, then stored)",
                             cold), ("warm (closed days read back)", warm)):
            print(f"  {name}: median {statistics.median(times) * 1000:.0f} ms, "
                  f"max {max(times) * 1000:.0f} ms over {len(times)} runs")
        print(f"  CSV {size / 1024:.0f} KiB in {csv_s * 1000:.1f} ms")
        for name, times in (("cold", cold), ("warm", warm)):
            print(f"{name} month under a second: {'yes' if max(times) < 1 else 'NO'}")


if __name__ == "__main__":
    main()
