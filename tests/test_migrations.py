"""The schema's migrations (hall/migrations.py): a database of the release before them is
upgraded with every row kept; a fresh one is made; the Store refuses a database not migrated;
the server runs them in a process of its own and never imports sqlite-utils."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlite_utils
from support import KIOSK, ROOT, FakeClock, ServerProcess

from hall.config import load_config
from hall.hall import Hall
from hall.migrations import FILL_QUEUE_LENGTHS, migrate, migrated, migrations, rebuild_tickets
from hall.store import MIGRATIONS, NotMigratedError, Store

RELEASE = Path(__file__).parent / "fixtures" / "release-before-migrations.sql"
TRIGGERS = {"queue_joined", "queue_left", "queue_moved", "ratings_filled"}


def release_database(path: Path) -> Path:
    """The database the release before migrations left (tests/fixtures, made with its code)."""
    with sqlite3.connect(path) as db:
        db.executescript(RELEASE.read_text())
        db.execute("PRAGMA journal_mode=WAL")
    return path


def contents(path: Path) -> dict[str, list[tuple]]:
    """Every table's rows, in a stable order."""
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: sorted(db.execute(f'SELECT * FROM "{t}"'), key=repr) for t in tables}


def names(path: Path, kind: str) -> set[str]:
    with sqlite3.connect(path) as db:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = ?",
                                          [kind])}


def queue_lengths(path: Path) -> tuple[list, list]:
    """The kept lengths (queues that are empty left out) and the lengths counted afresh."""
    with sqlite3.connect(path) as db:
        kept = db.execute("SELECT * FROM queue_lengths WHERE waiting > 0 ORDER BY 1, 2, 3")
        counted = db.execute(FILL_QUEUE_LENGTHS.replace("INSERT INTO queue_lengths", "")
                             + " ORDER BY 1, 2, 3")
        return kept.fetchall(), counted.fetchall()


def test_a_database_of_the_release_before_is_upgraded_with_every_row_kept(tmp_path):
    path = release_database(tmp_path / "hall.db")
    before, indexes = contents(path), names(path, "index")
    assert len(before["tickets"]) == 8 and not names(path, "table") & {"_sqlite_migrations"}

    assert migrate(path) == list(MIGRATIONS)

    after = contents(path)
    # the queues are counted afresh, below; shipping starts with the upgrade
    derived = ("_sqlite_migrations", "queue_lengths", "shipping")
    assert {t: rows for t, rows in after.items() if t not in derived} == \
        {t: rows for t, rows in before.items() if t not in derived}
    assert [r[2] for r in after["_sqlite_migrations"]] == list(MIGRATIONS)
    assert names(path, "trigger") == TRIGGERS
    assert indexes <= names(path, "index")
    kept, counted = queue_lengths(path)
    assert kept == counted == [("account", 0, "normal", 1), ("account", 0, "vip", 1),
                               ("pay", 0, "normal", 2), ("transfer", 0, "normal", 2)]

    # and the hall carries on where it stopped: numbers, queues, the called ticket
    hall = Hall(load_config(), Store(path), clock=FakeClock("2026-11-23 10:30"))
    kiosk = hall.authenticate(KIOSK)
    assert hall.issue(kiosk, "pay")["ticket"]["number"] == "A005"
    assert [s["waiting"] for s in hall.state()["services"][:3]] == [3, 2, 2]
    assert hall.state()["windows"][0]["ticket"]["number"] == "A001"
    kept, counted = queue_lengths(path)
    assert kept == counted
    assert migrate(path) == []  # nothing left to do


def test_a_fresh_database_is_made_with_every_step_recorded(tmp_path):
    path = tmp_path / "var" / "hall.db"  # its folder too
    assert migrate(path) == list(MIGRATIONS)
    db = sqlite_utils.Database(path)
    # the Store's list of steps is the Migrations' list: the one checks what the other applies
    assert [m.name for m in migrations.applied(db)] == list(MIGRATIONS)
    assert migrations.pending(db) == []
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"tickets", "queue_lengths", "appointments", "_sqlite_migrations"} <= set(
        db.table_names())
    assert names(path, "trigger") == TRIGGERS
    assert "expires_at" in db["sessions"].columns_dict
    hall = Hall(load_config(), Store(path), clock=FakeClock())
    assert hall.issue(hall.authenticate(KIOSK), "pay")["ticket"]["number"] == "A001"


def test_the_store_refuses_a_database_not_migrated_and_changes_nothing(tmp_path):
    missing = tmp_path / "none" / "hall.db"
    with pytest.raises(NotMigratedError, match=r"server\.py migrate --db"):
        Store(missing)
    assert not missing.parent.exists()  # no empty file left behind

    old = release_database(tmp_path / "old.db")
    before = contents(old)
    with pytest.raises(NotMigratedError, match=r"lacks the migrations 0001_tables, .*"
                                               "0005_appointments"):
        Store(old)
    assert contents(old) == before

    with sqlite3.connect(migrated(tmp_path / "half.db")) as db:  # a step not yet applied
        db.execute("DELETE FROM _sqlite_migrations WHERE name = '0005_appointments'")
    with pytest.raises(NotMigratedError, match=r"lacks the migrations 0005_appointments: run"):
        Store(tmp_path / "half.db")


def test_two_processes_starting_at_once_apply_each_step_once(tmp_path):
    path, results, errors = tmp_path / "hall.db", [], []

    def start() -> None:
        try:
            results.append(migrate(path))
        except Exception as error:  # pragma: no cover - the assertion below shows it
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results, key=len) == [[], [], [], list(MIGRATIONS)]


def test_a_step_that_fails_leaves_the_file_as_it_was(tmp_path):
    path = release_database(tmp_path / "hall.db")
    with sqlite3.connect(path) as db:
        db.execute("DROP TRIGGER queue_moved")  # step 0003 would make it again
        db.execute("DROP TABLE appointments")
        db.execute("CREATE TABLE appointments (id INTEGER PRIMARY KEY)")  # step 0005 fails
    before = contents(path)
    with pytest.raises(sqlite3.OperationalError, match="service"):
        migrate(path)
    assert contents(path) == before  # no step recorded, nothing counted
    assert "queue_moved" not in names(path, "trigger")


def test_rebuilding_tickets_keeps_its_triggers_and_indexes(tmp_path):
    path = migrated(tmp_path / "hall.db")
    hall = Hall(load_config(), Store(path), clock=FakeClock())
    kiosk = hall.authenticate(KIOSK)
    for service in ("pay", "pay", "account"):
        hall.issue(kiosk, service)
    hall.store.close()
    indexes = {i for i in names(path, "index") if "tickets" in i}

    db = sqlite_utils.Database(path)
    db.execute("BEGIN")  # the trap: a bare transform drops the triggers without a word
    db["tickets"].transform(types={"recalls": int})
    assert not names_in(db, "trigger") & {"queue_joined", "queue_left", "queue_moved"}
    db.execute("ROLLBACK")
    with db.atomic():
        rebuild_tickets(db, types={"recalls": int})
    db.close()

    assert names(path, "trigger") == TRIGGERS
    assert indexes <= names(path, "index")
    hall = Hall(load_config(), Store(path), clock=FakeClock())
    hall.issue(hall.authenticate(KIOSK), "pay")
    kept, counted = queue_lengths(path)
    assert kept == counted == [("account", 0, "normal", 1), ("pay", 0, "normal", 3)]


def names_in(db: sqlite_utils.Database, kind: str) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = ?", [kind])}


def test_the_server_migrates_in_a_process_of_its_own_and_never_imports_sqlite_utils(
        tmp_path, monkeypatch):
    """Every import of sqlite_utils, in any Python process started below, is logged with the
    process's command line by a sitecustomize on PYTHONPATH."""
    hook, log = tmp_path / "hook", tmp_path / "imports"
    hook.mkdir(), log.mkdir()
    (hook / "sitecustomize.py").write_text(WATCH_IMPORTS)
    monkeypatch.setenv("PYTHONPATH", str(hook))
    monkeypatch.setenv("HALLQ_IMPORT_LOG", str(log))
    server = ServerProcess(release_database(tmp_path / "hall.db")).start()
    try:
        assert server.post("/api/v1/tickets", {"service": "pay"}, token=KIOSK).ok
        served = server_pids(server.proc.pid)
    finally:
        server.stop()
    assert len(served) == 2  # gunicorn's master and its worker
    imports = {int(f.name): f.read_text().split() for f in log.iterdir()}
    assert imports, "the migrations were not run, or the hook saw no import"
    for pid, argv in imports.items():
        assert pid not in served
        assert argv[0].endswith(str(Path("hall", "migrations.py"))), argv
    assert contents(tmp_path / "hall.db")["_sqlite_migrations"]


def server_pids(master: int) -> set[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return {master, *map(int, children)}


WATCH_IMPORTS = '''
import os, sys

class WatchImports:
    def find_spec(self, name, path=None, target=None):
        if name == "sqlite_utils":
            folder = os.environ["HALLQ_IMPORT_LOG"]
            with open(os.path.join(folder, str(os.getpid())), "a") as log:
                log.write(" ".join(sys.argv) + "\\n")
        return None

sys.meta_path.insert(0, WatchImports())
'''


def test_server_py_migrate_applies_and_lists_the_steps(tmp_path):
    path = tmp_path / "hall.db"
    run = [sys.executable, str(ROOT / "server.py"), "migrate", "--db", str(path)]
    listed = subprocess.run([*run, "--list"], capture_output=True, text=True, check=True)
    assert listed.stdout.split() == list(MIGRATIONS) and not path.exists()
    done = subprocess.run(run, capture_output=True, text=True, check=True)
    assert f"migrate: {path}: applied 0001_tables, " in done.stdout
    again = subprocess.run([*run, "--list"], capture_output=True, text=True, check=True)
    assert again.stdout.strip() == "nothing to apply"
    # sqlite-utils' own command reads the same set from hall/migrations.py
    cli = Path(sys.executable).with_name("sqlite-utils")
    theirs = subprocess.run([str(cli), "migrate", str(path), str(ROOT / "hall" / "migrations.py"),
                             "--list"], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert "Migrations for: hallq" in theirs.stdout and "0005_appointments - " in theirs.stdout


def test_a_server_whose_database_cannot_be_upgraded_does_not_serve(tmp_path):
    path = release_database(tmp_path / "hall.db")
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE appointments")
        db.execute("CREATE TABLE appointments (id INTEGER PRIMARY KEY)")  # step 0005 fails
    before = contents(path)
    server = ServerProcess(path)
    with pytest.raises(RuntimeError, match="could not be brought up to date"):
        server.start()
    assert server.proc.returncode == 1
    assert contents(path) == before
