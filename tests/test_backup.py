"""Online backups of the hall's SQLite file, the nightly schedule, and restore — the library
and `python server.py backup|restore`, with the real server running."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from support import KIOSK, ROOT, SHANGHAI, FakeClock, ServerProcess

from hall import backup as bk
from hall.auth import Actor


def query(path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def server_py(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "server.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


KIOSK_ACTOR = Actor(role="kiosk", device_id="kiosk-1", key="kiosk")


def test_backups_taken_while_tickets_are_issued_are_consistent(hall, tmp_path):
    stop = threading.Event()

    def issue_forever() -> None:
        while not stop.is_set():
            hall.issue(KIOSK_ACTOR, "pay")

    writer = threading.Thread(target=issue_forever)
    writer.start()
    copies = []
    try:
        for i in range(8):
            copies.append(bk.backup(hall.store.path, tmp_path / f"copy-{i}.db"))
    finally:
        stop.set()
        writer.join()
    counts = []
    for copy in copies:
        assert query(copy, "PRAGMA integrity_check") == [("ok",)]
        assert query(copy, "PRAGMA journal_mode") == [("delete",)]  # one self-contained file
        assert not copy.with_name(copy.name + "-wal").exists()
        # a snapshot, never half a command: every ticket has its counter and its event
        tickets, last, events = query(copy, "SELECT (SELECT count(*) FROM tickets),"
                                      " (SELECT coalesce(max(last), 0) FROM counters),"
                                      " (SELECT count(*) FROM events WHERE type = 'issue')")[0]
        assert tickets == last == events
        counts.append(tickets)
    assert counts == sorted(counts) and counts[-1] > 0
    assert not list(tmp_path.glob("*.part"))


def test_backup_into_a_folder_keeps_the_newest_n(hall, tmp_path):
    folder = tmp_path / "backups"
    for day in range(1, 6):
        bk.backup_into(hall.store.path, folder, keep=3,
                       when=datetime(2026, 11, day, 2, 30, tzinfo=SHANGHAI))
    assert [p.name for p in bk.backups(folder)] == [
        "hall-20261103-023000+0800.db", "hall-20261104-023000+0800.db",
        "hall-20261105-023000+0800.db"]
    with pytest.raises(bk.BackupError):
        bk.prune(folder, 0)
    with pytest.raises(bk.BackupError, match="no database"):
        bk.backup(tmp_path / "missing.db", tmp_path / "x.db")


def test_backups_by_two_clocks_are_kept_in_the_order_they_were_taken(hall, tmp_path):
    folder = tmp_path / "backups"
    utc = datetime(2026, 11, 24, 1, 0, tzinfo=ZoneInfo("UTC"))  # 09:00 in the hall
    bk.backup_into(hall.store.path, folder, keep=5,
                   when=datetime(2026, 11, 24, 2, 30, tzinfo=SHANGHAI))  # the night before
    bk.backup_into(hall.store.path, folder, keep=5, when=utc)  # by hand on a UTC machine
    assert [p.name for p in bk.backups(folder)] == ["hall-20261124-023000+0800.db",
                                                    "hall-20261124-010000+0000.db"]


def test_nightly_backup_runs_at_once_when_none_is_recent_then_every_night(hall, tmp_path):
    clock = FakeClock("2026-11-23 10:00")
    folder = tmp_path / "backups"
    nightly = bk.NightlyBackup(hall.store.path, folder, keep=2, at="02:30", tz=SHANGHAI,
                               clock=clock)
    assert nightly.run_pending().name == "hall-20261123-100000+0800.db"  # none yet: at once
    assert nightly.status()["next"] == "2026-11-24T02:30:00+08:00"
    clock.set("2026-11-24 02:29")
    assert nightly.run_pending() is None
    for night in ("2026-11-24 02:30", "2026-11-25 02:31"):
        clock.set(night)
        assert nightly.run_pending() is not None
    assert [p.name for p in bk.backups(folder)] == ["hall-20261124-023000+0800.db",
                                                    "hall-20261125-023100+0800.db"]
    assert nightly.status()["last"] == "hall-20261125-023100+0800.db"
    # a server started the next morning finds a fresh backup and waits for the night
    clock.set("2026-11-25 09:00")
    later = bk.NightlyBackup(hall.store.path, folder, keep=2, at="02:30", tz=SHANGHAI,
                             clock=lambda: datetime.now().timestamp())
    assert later.due > datetime.now().timestamp()
    with pytest.raises(bk.BackupError, match="HH:MM"):
        bk.parse_at("25:00")


def test_restore_puts_a_backup_back_and_keeps_what_it_replaced(hall, tmp_path):
    hall.issue(KIOSK_ACTOR, "pay")
    hall.issue(KIOSK_ACTOR, "pay")
    copy = bk.backup(hall.store.path, tmp_path / "copy.db")
    hall.issue(KIOSK_ACTOR, "pay")
    # this process's hall beat just now: restore refuses while a server uses the file
    with pytest.raises(bk.BackupError, match="stop it"):
        bk.restore(copy, hall.store.path)
    hall.store.close()
    aside = bk.restore(copy, hall.store.path, force=True)
    assert query(aside, "SELECT count(*) FROM tickets") == [(3,)]
    assert query(hall.store.path, "SELECT number FROM tickets ORDER BY number") == [
        ("A001",), ("A002",)]
    assert query(hall.store.path, "PRAGMA journal_mode") == [("wal",)]
    not_hallq = tmp_path / "other.db"
    sqlite3.connect(not_hallq).execute("CREATE TABLE x (y)")
    with pytest.raises(bk.BackupError, match="not a HallQ database"):
        bk.restore(not_hallq, tmp_path / "new.db")


def test_backup_and_restore_from_the_command_line_with_the_real_server(tmp_path):
    db = tmp_path / "hall.db"
    srv = ServerProcess(db, extra=["--backup-at", "off"]).start()
    try:
        for _ in range(3):
            srv.issue("pay")
        done = server_py("backup", "--db", str(db), str(tmp_path / "backups") + "/")
        assert done.returncode == 0, done.stderr
        copy = done.stdout.strip()
        srv.issue("pay")
        refused = server_py("restore", "--db", str(db), copy)
        assert refused.returncode == 1 and "stop it first" in refused.stderr
    finally:
        srv.stop()
    restored = server_py("restore", "--db", str(db), copy)  # the server is stopped now
    assert restored.returncode == 0, restored.stderr
    srv = ServerProcess(db, extra=["--backup-at", "off"]).start()
    try:
        state = srv.get("/api/v1/state", token=KIOSK).json()
        assert next(s for s in state["services"] if s["id"] == "pay")["waiting"] == 3
        assert srv.issue("pay")["number"] == "A004"  # the counter came back with the tickets
    finally:
        srv.stop()
    assert server_py("backup", "--db", str(tmp_path / "none.db"), "x.db").returncode == 1
