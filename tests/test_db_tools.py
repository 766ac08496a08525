"""The operators' read-only look into the live database (docs/raspberry-pi.md): sqlite-utils'
commands on the WAL file the running server has open."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import KIOSK, ServerProcess

SQLITE_UTILS = str(Path(sys.executable).with_name("sqlite-utils"))


def sqlite_utils(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SQLITE_UTILS, *args], capture_output=True, text=True, timeout=30)


@pytest.fixture
def live(tmp_path):
    server = ServerProcess(tmp_path / "hall.db").start()
    for service in ("pay", "pay", "account"):
        assert server.post("/api/v1/tickets", {"service": service}, token=KIOSK).ok
    assert (tmp_path / "hall.db-wal").exists()  # the server's commits are in the WAL
    yield server
    server.stop()


def test_the_read_only_commands_work_on_the_live_wal_file(live):
    db = str(live.db)
    tables = sqlite_utils("tables", db, "--counts")
    assert tables.returncode == 0, tables.stderr
    assert {"table": "tickets", "count": 3} in json.loads(tables.stdout)

    rows = sqlite_utils("rows", db, "tickets", "-c", "number", "-c", "status")
    assert json.loads(rows.stdout) == [{"number": n, "status": "waiting"}
                                       for n in ("A001", "A002", "B001")]

    read_only = f"file:{db}?mode=ro"
    query = sqlite_utils("query", read_only,
                         "SELECT service, waiting FROM queue_lengths ORDER BY 1")
    assert query.returncode == 0, query.stderr
    assert json.loads(query.stdout) == [{"service": "account", "waiting": 1},
                                        {"service": "pay", "waiting": 2}]
    refused = sqlite_utils("query", read_only, "DELETE FROM tickets")
    assert refused.returncode != 0 and "readonly database" in refused.stderr

    # the server went on serving throughout, and nothing was taken away
    assert live.post("/api/v1/tickets", {"service": "pay"}, token=KIOSK).json()[
        "ticket"]["number"] == "A003"
    count = sqlite_utils("query", read_only, "SELECT count(*) AS n FROM tickets")
    assert json.loads(count.stdout) == [{"n": 4}]
