"""How long the online backup of a big hall database takes, and what it does to commands issued
meanwhile (WAL: writers go on while the backup reads). Prints figures; asserts nothing.

    .venv/bin/python bench/backup_while_serving.py [EVENTS]
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hall import backup as bk
from hall.auth import Actor
from hall.config import load_config
from hall.hall import Hall
from hall.migrations import migrated
from hall.store import Store

KIOSK = Actor(role="kiosk", device_id="kiosk-1", key="bench-kiosk")


def main(events: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="hallq-bench-"))
    hall = Hall(load_config(), Store(migrated(folder / "hall.db")))
    with hall.store.write() as db:  # a long event log, as months of a busy hall leave behind
        db.conn.executemany(
            "INSERT INTO events (at, day, type, window, data) VALUES (?, ?, ?, ?, ?)",
            [(1.7e9 + i, "2026-01-01", "bench", i % 6 + 1,
              '{"number":"A001","service":"pay","priority":"normal"}') for i in range(events)])
    size_mb = (folder / "hall.db").stat().st_size / 1e6
    print(f"database: {events} events, {size_mb:.1f} MB")
    for label in ("no backup", "during backup"):
        latencies: list[float] = []
        stop = threading.Event()
        worker = threading.Thread(target=_issue, args=(hall, stop, latencies))
        worker.start()
        started = time.perf_counter()
        if label == "no backup":
            time.sleep(2.5)
        else:
            bk.backup(folder / "hall.db", folder / "copy.db")
        took = time.perf_counter() - started
        stop.set()
        worker.join()
        latencies.sort()
        print(f"{label:>13}: {took:.2f} s; {len(latencies)} tickets meanwhile, issue latency "
              f"p50 {_ms(latencies, 0.5):.1f} ms, p99 {_ms(latencies, 0.99):.1f} ms, "
              f"max {latencies[-1] * 1000:.1f} ms")


def _ms(sorted_seconds: list[float], q: float) -> float:
    return sorted_seconds[min(len(sorted_seconds) - 1, int(len(sorted_seconds) * q))] * 1000


def _issue(hall: Hall, stop: threading.Event, latencies: list[float]) -> None:
    services = ("pay", "enquiry", "repair", "complaint")  # 999 numbers a day each
    while not stop.is_set():
        started = time.perf_counter()
        hall.issue(KIOSK, services[len(latencies) % len(services)])
        latencies.append(time.perf_counter() - started)
        time.sleep(0.01)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 450_000)
