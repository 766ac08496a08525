"""Appointment check-in latency at the kiosk, beside a plain issue's, over HTTP with keep-alive
against the real server (the demo hall, capacity raised so that one slot holds them all).
Prints figures; asserts nothing.

    .venv/bin/python bench/bench_checkin.py [--count 300]

Target (issue 17): as a ticket's issue (issue #2: median ≤ 3 ms).
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support import KIOSK, ServerProcess  # noqa: E402

from hall.config import DEMO_CONFIG  # noqa: E402

BOOKING = "demo-booking-1-token"
SERVICES = ("account", "transfer", "usage")


def roomy_hall(path: Path) -> Path:
    """The demo hall with 100 places in every slot of its bookable services."""
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    for capacity in (4, 2, 3):
        text = text.replace(f"capacity = {capacity} }}", "capacity = 100 }")
    path.write_text(text, encoding="utf-8")
    return path


class Client:
    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict, float]:
        start = time.perf_counter()
        self.conn.request(method, path, json.dumps(body) if body else None, self.headers)
        response = self.conn.getresponse()
        answer = json.loads(response.read())
        return response.status, answer, time.perf_counter() - start


def summary(name: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (f"{name:<9} n={len(seconds)}  median {statistics.median(seconds) * 1000:.2f} ms"
            f"  p99 {p99 * 1000:.2f} ms  max {ordered[-1] * 1000:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="check-ins (≤ 300)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        server = ServerProcess(workdir / "hall.db", config=roomy_hall(workdir / "hall.toml"))
        server.start()
        try:
            booker, kiosk = Client(server.port, BOOKING), Client(server.port, KIOSK)
            codes = []
            for service in SERVICES:
                _, day, _ = booker.call("GET", f"/api/v1/appointments/slots?service={service}")
                slot = next(s for s in day["slots"] if not s["past"])
                for _ in range(min(100, args.count - len(codes))):
                    status, answer, _ = booker.call("POST", "/api/v1/appointments", {
                        "service": service, "slot_start": slot["start"],
                        "phone": "13812345678"})
                    assert status == 201, answer
                    codes.append(answer["appointment"]["code"])
            check_ins, issues = [], []
            for i, code in enumerate(codes):  # alternated: both meet the same file and load
                status, answer, took = kiosk.call("POST", f"/api/v1/appointments/{code}/check-in")
                assert status == 201, answer
                check_ins.append(took)
                status, answer, took = kiosk.call("POST", "/api/v1/tickets",
                                                  {"service": SERVICES[i % 3]})
                assert status == 201, answer
                issues.append(took)
            print(summary("check-in", check_ins))
            print(summary("issue", issues))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
