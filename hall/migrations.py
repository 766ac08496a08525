"""The hall database's schema, and how a database of any earlier version is brought up to it:
sqlite-utils' Migrations, applied in order, each once, recorded in the file's
`_sqlite_migrations` table.

They run before the server starts, in a process of their own (server.py runs `python -m
hall.migrations --db DB`), so the server never imports sqlite-utils (~14 MB of its memory):
its Store only checks that every name in store.MIGRATIONS is recorded. By hand:
`server.py migrate --db DB [--list]`, or sqlite-utils' own
`sqlite-utils migrate DB hall/migrations.py [--list]` (with the app on PYTHONPATH).

The first five steps are the upgrades of the releases before migrations, and a database of
those releases carries no record of them: each looks at the file and does only what is
missing. A step added later runs once and may simply change things.

sqlite-utils' `table.transform()` rebuilds a table and silently drops its triggers: rebuild
`tickets` with `rebuild_tickets()` only, which makes its triggers and indexes again.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlite_utils import Database, Migrations

from hall.store import MIGRATION_SET

# Made again by rebuild_tickets(), whatever transform() keeps.
TICKET_INDEXES = """
DROP INDEX IF EXISTS tickets_waiting;  -- replaced by the two partial indexes below
-- The waiting tickets in issue order, without reading the tickets of every day before.
CREATE INDEX IF NOT EXISTS tickets_waiting_list ON tickets (id) WHERE status = 'waiting';
CREATE INDEX IF NOT EXISTS tickets_by_day ON tickets (day);
-- How many wait, and how many are ahead of a ticket, read from this index alone; it holds the
-- waiting tickets only, so it stays small however busy the day.
CREATE INDEX IF NOT EXISTS tickets_queue ON tickets (service, target_window, priority,
    issued_at, id) WHERE status = 'waiting';
-- A service's latest handling times (the wait estimate) without reading the whole day.
CREATE INDEX IF NOT EXISTS tickets_done ON tickets (service, day, finished_at)
    WHERE status = 'done';
"""

TABLES = f"""
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    day TEXT NOT NULL,
    type TEXT NOT NULL,
    window INTEGER,
    ticket_id INTEGER,
    staff_id TEXT,
    actor TEXT,
    data TEXT NOT NULL DEFAULT '{{}}'
);
CREATE INDEX IF NOT EXISTS events_by_day ON events (day, type);

-- Per service and day: the last number given. Issuing writes here first (upsert ... RETURNING),
-- so the number is taken inside the write lock and two kiosks never read the same last number.
CREATE TABLE IF NOT EXISTS counters (
    service TEXT NOT NULL,
    day TEXT NOT NULL,
    last INTEGER NOT NULL,
    PRIMARY KEY (service, day)
);

CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY,
    public_id TEXT NOT NULL UNIQUE,
    day TEXT NOT NULL,
    number TEXT NOT NULL,
    service TEXT NOT NULL,
    issued_service TEXT NOT NULL,
    priority TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN
        ('waiting', 'called', 'serving', 'done', 'no_show', 'cancelled', 'expired')),
    issued_at REAL NOT NULL,
    called_at REAL,
    started_at REAL,
    finished_at REAL,
    window INTEGER,
    target_window INTEGER,
    staff_id TEXT,
    recalls INTEGER NOT NULL DEFAULT 0,
    transfers INTEGER NOT NULL DEFAULT 0,
    closed_reason TEXT,
    UNIQUE (day, number)
);
{TICKET_INDEXES}
CREATE TABLE IF NOT EXISTS windows (
    number INTEGER PRIMARY KEY,
    status TEXT NOT NULL DEFAULT 'closed' CHECK (status IN
        ('closed', 'idle', 'calling', 'serving', 'away')),
    staff_id TEXT,
    ticket_id INTEGER REFERENCES tickets (id),
    away_reason TEXT,
    away_since REAL,
    away_overdue_sent INTEGER NOT NULL DEFAULT 0,
    last_finished_ticket_id INTEGER REFERENCES tickets (id),
    opened_at REAL
);
-- A ticket is at one window at most: the unique index makes a second assignment fail loudly.
CREATE UNIQUE INDEX IF NOT EXISTS one_window_per_ticket ON windows (ticket_id);

CREATE TABLE IF NOT EXISTS away_periods (
    id INTEGER PRIMARY KEY,
    window INTEGER NOT NULL,
    staff_id TEXT,
    reason TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL,
    overdue INTEGER NOT NULL DEFAULT 0
);

-- `service` and `day` are the ticket's (see FILL_RATINGS below): the reports read a day's
-- ratings without visiting its tickets.
CREATE TABLE IF NOT EXISTS ratings (
    ticket_id INTEGER PRIMARY KEY REFERENCES tickets (id),
    window INTEGER NOT NULL,
    staff_id TEXT,
    score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    reason TEXT,
    at REAL NOT NULL,
    service TEXT,
    day TEXT
);

CREATE TABLE IF NOT EXISTS sessions (
    token_key TEXT PRIMARY KEY,
    staff_id TEXT NOT NULL,
    role TEXT NOT NULL,
    window INTEGER,
    created_at REAL NOT NULL,
    ended_at REAL,
    expires_at REAL  -- a clerk's at the end of the hall day, a supervisor's after some hours
);

-- Unused since failures are counted per client address (hall/logins.py); kept for a server of
-- an earlier version that may share the file.
CREATE TABLE IF NOT EXISTS pin_failures (
    staff_id TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    locked_until REAL
);

-- The first answer to a command that carried a request_id, so that a retry gets it again.
CREATE TABLE IF NOT EXISTS requests (
    actor TEXT NOT NULL,
    request_id TEXT NOT NULL,
    at REAL NOT NULL,
    response TEXT NOT NULL,
    PRIMARY KEY (actor, request_id)
);

CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    window INTEGER,
    last_seen REAL,
    connected INTEGER NOT NULL DEFAULT 0,
    printer_state TEXT,
    printer_detail TEXT
);

CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Short-lived codes that hand an evaluator page its device token (hall/pairing.py).
CREATE TABLE IF NOT EXISTS pairing_codes (
    code TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
"""

# A rating's service and day are its ticket's, copied in by the database whoever writes the
# rating (a server of an earlier version sharing the file, too). A rated ticket is finished:
# they no longer change.
FILL_RATINGS = """
UPDATE ratings SET (service, day) = (SELECT service, day FROM tickets t WHERE t.id = ticket_id)
"""
RATINGS_FILLED = f"""
CREATE TRIGGER IF NOT EXISTS ratings_filled AFTER INSERT ON ratings
WHEN NEW.service IS NULL OR NEW.day IS NULL
BEGIN
    {FILL_RATINGS.strip()} WHERE ticket_id = NEW.ticket_id;
END
"""
# The reports read a day's ratings from this index alone, in the order they group them.
RATINGS_BY_DAY = """
CREATE INDEX IF NOT EXISTS ratings_by_day ON ratings (day, service, window, staff_id, at, score)
"""
# How many tickets wait in each queue (a service's own, `target_window` 0, or a window's) and
# priority class, kept by the database on every change of a ticket whoever writes it: a queue's
# length and a ticket's place are then read without walking every waiting ticket, of which a
# busy morning has hundreds. One trigger per way a ticket can join or leave a queue.
QUEUE_LENGTHS = """
CREATE TABLE IF NOT EXISTS queue_lengths (
    service TEXT NOT NULL,
    target_window INTEGER NOT NULL,
    priority TEXT NOT NULL,
    waiting INTEGER NOT NULL,
    PRIMARY KEY (service, target_window, priority)
) WITHOUT ROWID
"""
_JOIN = """INSERT INTO queue_lengths
    SELECT NEW.service, coalesce(NEW.target_window, 0), NEW.priority, 1 WHERE NEW.status = 'waiting'
    ON CONFLICT DO UPDATE SET waiting = waiting + 1;"""
_LEAVE = """UPDATE queue_lengths SET waiting = waiting - 1
    WHERE OLD.status = 'waiting' AND service = OLD.service
    AND target_window = coalesce(OLD.target_window, 0) AND priority = OLD.priority;"""
QUEUE_TRIGGERS = (
    f"""CREATE TRIGGER IF NOT EXISTS queue_joined AFTER INSERT ON tickets
WHEN NEW.status = 'waiting' BEGIN {_JOIN} END""",
    f"""CREATE TRIGGER IF NOT EXISTS queue_left AFTER DELETE ON tickets
WHEN OLD.status = 'waiting' BEGIN {_LEAVE} END""",
    f"""CREATE TRIGGER IF NOT EXISTS queue_moved
AFTER UPDATE OF status, service, target_window, priority ON tickets
WHEN OLD.status = 'waiting' OR NEW.status = 'waiting' BEGIN {_LEAVE} {_JOIN} END""",
)
FILL_QUEUE_LENGTHS = """
INSERT INTO queue_lengths SELECT service, coalesce(target_window, 0), priority, count(*)
FROM tickets WHERE status = 'waiting' GROUP BY 1, 2, 3
"""
# Ending every session of one staff member (disabling, a PIN reset) without a full scan.
SESSIONS_BY_STAFF = "CREATE INDEX IF NOT EXISTS sessions_by_staff ON sessions (staff_id)"

# Appointments (hall/appointments.py): a booked slot of a service. `code` is the 6 digits the
# customer types or scans at the kiosk, unique within the slot's day; `phone` and `name` are
# erased (NULL) some days after the slot (HALL-RULES.md #11).
APPOINTMENTS = """
CREATE TABLE IF NOT EXISTS appointments (
    id INTEGER PRIMARY KEY,
    day TEXT NOT NULL,
    code TEXT NOT NULL CHECK (length(code) = 6),
    service TEXT NOT NULL,
    slot_start REAL NOT NULL,
    slot_end REAL NOT NULL,
    phone TEXT,
    name TEXT,
    status TEXT NOT NULL CHECK (status IN ('booked', 'checked_in', 'cancelled', 'no_show')),
    source TEXT NOT NULL,
    window INTEGER,
    callback_id INTEGER,
    booked_at REAL NOT NULL,
    booked_by TEXT,
    checked_in_at REAL,
    ticket_id INTEGER UNIQUE REFERENCES tickets (id),
    closed_at REAL,
    UNIQUE (day, code)
);
CREATE INDEX IF NOT EXISTS appointments_by_slot ON appointments (service, slot_start, status);
CREATE INDEX IF NOT EXISTS appointments_due ON appointments (slot_end) WHERE status = 'booked';
CREATE INDEX IF NOT EXISTS appointments_phones ON appointments (slot_end)
    WHERE phone IS NOT NULL;
CREATE INDEX IF NOT EXISTS appointments_by_day ON appointments (day, slot_start)
"""

# Shipping the event log to the region (hall/shipping.py): the last seq the region acknowledged,
# and the database's epoch, a random id made with it: a backup carries it, a new database has
# another.
SHIPPING = """
CREATE TABLE IF NOT EXISTS shipping (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    epoch TEXT NOT NULL,
    acked_seq INTEGER NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO shipping (id, epoch) VALUES (1, lower(hex(randomblob(16))))
"""


migrations = Migrations(MIGRATION_SET)


@migrations(name="0001_tables")
def tables(db: Database) -> None:
    """Every table of the first release, as it made them."""
    run_script(db, TABLES)


@migrations(name="0002_ratings_carry_service_and_day")
def ratings_carry_service_and_day(db: Database) -> None:
    columns = db["ratings"].columns_dict
    for column in ("service", "day"):  # ratings from before they carried them
        if column not in columns:
            db["ratings"].add_column(column, str)
    db.execute(FILL_RATINGS + " WHERE service IS NULL OR day IS NULL")
    db.execute(RATINGS_BY_DAY)
    db.execute(RATINGS_FILLED)


@migrations(name="0003_queue_lengths")
def queue_lengths(db: Database) -> None:
    db.execute(QUEUE_LENGTHS)
    count_queues_and_keep_them_counted(db)


@migrations(name="0004_session_expiry")
def session_expiry(db: Database) -> None:
    if "expires_at" not in db["sessions"].columns_dict:
        db["sessions"].add_column("expires_at", float)
    db.execute(SESSIONS_BY_STAFF)


@migrations(name="0005_appointments")
def appointments(db: Database) -> None:
    run_script(db, APPOINTMENTS)  # a new table: nothing to carry over


@migrations(name="0006_shipping")
def shipping(db: Database) -> None:
    run_script(db, SHIPPING)


def count_queues_and_keep_them_counted(db: Database) -> None:
    """Count the queues afresh and make the triggers that keep the count, in the caller's
    transaction: no ticket can join or leave a queue between the two."""
    db.execute("DELETE FROM queue_lengths")
    db.execute(FILL_QUEUE_LENGTHS)
    for trigger in QUEUE_TRIGGERS:
        db.execute(trigger)


def rebuild_tickets(db: Database, **transform: Any) -> None:
    """`db["tickets"].transform(**transform)`, for a later step, with what transform leaves
    out made again: the queue-length triggers (it drops triggers silently) and the indexes."""
    db["tickets"].transform(**transform)
    run_script(db, TICKET_INDEXES)
    count_queues_and_keep_them_counted(db)


def run_script(db: Database, script: str) -> None:
    """Each statement of `script` inside the step's transaction (executescript would commit
    it first)."""
    for statement in statements(script):
        db.execute(statement)


def statements(script: str) -> Iterator[str]:
    """The statements of an SQL script; a trigger's body with its semicolons stays whole."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if pending.strip() and sqlite3.complete_statement(pending + ";"):
        yield pending


def migrate(path: str | Path) -> list[str]:
    """Apply every pending step to the database at `path` (made if missing); returns the names
    applied. All in one write transaction, so two processes starting on one file at once
    apply each step once, and a step that fails leaves the file as it was."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = Database(path, execute_plugins=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")  # the Store's mode, from the file's start
        db.execute("BEGIN IMMEDIATE")
        try:
            applied = [step.name for step in migrations.pending(db)]
            migrations.apply(db)
            db.execute("COMMIT")
        except BaseException:
            db.rollback()
            raise
        return applied
    finally:
        db.close()


def migrated(path: str | Path) -> Path:
    """`path`, once migrate() has run on it: `Store(migrated(path))` for tools and benches."""
    migrate(path)
    return Path(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="server.py migrate",
        description="Bring the hall database up to this version's schema (made if missing). "
        "The server does it as it starts; this is for doing it, or looking, beforehand.")
    parser.add_argument("--db", default="var/hall.db", help="SQLite file (default var/hall.db)")
    parser.add_argument("--list", action="store_true",
                        help="list the steps not yet applied, changing nothing")
    args = parser.parse_args(argv)
    if args.list:  # a missing file is not made
        db = Database(args.db if Path(args.db).exists() else ":memory:", execute_plugins=False)
        print("\n".join(step.name for step in migrations.pending(db)) or "nothing to apply")
        return 0
    try:
        applied = migrate(args.db)
    except sqlite3.Error as error:
        print(f"migrate: {args.db}: {error}", file=sys.stderr)
        return 1
    if applied:
        print(f"migrate: {args.db}: applied {', '.join(applied)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
