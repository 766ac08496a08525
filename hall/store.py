"""The SQLite file that holds the hall: schema, connections, and one transaction per command.

Facts learnt the hard way (STACK-NOTES.md): a connection may not be used by two threads at
once, so each block (`read()`, `write()`) borrows one from a pool; WAL with
`synchronous=FULL`, because a Pi on an SD card loses power and NORMAL can lose the last
commits then; a write transaction starts with `BEGIN IMMEDIATE`, so it never
has to upgrade a read lock (the source of SQLITE_BUSY under load).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    day TEXT NOT NULL,
    type TEXT NOT NULL,
    window INTEGER,
    ticket_id INTEGER,
    staff_id TEXT,
    actor TEXT,
    data TEXT NOT NULL DEFAULT '{}'
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
# Made by _upgrade, each step's last object last: a step is done when that one exists.
UPGRADED = ("ratings_by_day", "ratings_filled", "queue_moved", "sessions_by_staff")

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
UPGRADED += ("appointments_by_day",)  # its step's mark


def _upgrade(db: Database) -> None:
    """Bring a database made by an earlier version up to SCHEMA, inside the caller's write
    transaction. Each step is skipped if done (another server process may have done it)."""
    for statement in APPOINTMENTS.split(";"):  # a new table: nothing to carry over
        db.execute(statement)
    columns = {row[1] for row in db.execute("PRAGMA table_info(ratings)")}
    for column in ("service", "day"):  # ratings from before they carried them
        if column not in columns:
            db.execute(f"ALTER TABLE ratings ADD COLUMN {column} TEXT")
    db.execute(FILL_RATINGS + " WHERE service IS NULL OR day IS NULL")
    db.execute(RATINGS_BY_DAY)
    db.execute(RATINGS_FILLED)
    # Counted afresh with the triggers made in this one transaction: no ticket can join or
    # leave a queue between the count and the triggers (counting again changes nothing).
    db.execute(QUEUE_LENGTHS)
    db.execute("DELETE FROM queue_lengths")
    db.execute(FILL_QUEUE_LENGTHS)
    for trigger in QUEUE_TRIGGERS:
        db.execute(trigger)
    if "expires_at" not in {row[1] for row in db.execute("PRAGMA table_info(sessions)")}:
        db.execute("ALTER TABLE sessions ADD COLUMN expires_at REAL")
    db.execute(SESSIONS_BY_STAFF)


def _upgraded(db: Database) -> bool:
    marks = ",".join("?" * len(UPGRADED))
    found = db.execute(f"SELECT count(*) FROM sqlite_master WHERE name IN ({marks})",
                       UPGRADED).fetchone()[0]
    return found == len(UPGRADED)


class Database:
    """One SQLite connection, asked two ways: `execute` (a cursor) and `query` (dicts).

    The server needs no more than this. sqlite-utils' Database does the same and much more,
    and importing it (its plugin machinery, dateutil) cost the server ~3 MB of its memory
    target of 80 MB.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def query(self, sql: str, params: Any = ()) -> Iterator[dict]:
        cursor = self.conn.execute(sql, params)
        names = [column[0] for column in cursor.description or ()]
        for row in cursor:
            yield dict(zip(names, row, strict=True))


class Store:
    """One SQLite file; pooled connections; `write()` is one transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._idle: list[Database] = []
        self._idle_lock = threading.Lock()
        # Threads of this process queue here rather than spin in SQLite's busy handler;
        # busy_timeout still covers a second server process on the same file.
        self._write_lock = threading.Lock()
        self.db.conn.executescript(SCHEMA)
        if not _upgraded(self.db):
            with self.write() as db:
                _upgrade(db)

    @property
    def db(self) -> Database:
        """The connection of the `read()` or `write()` block this thread is in; outside one,
        a connection lent to this thread for its life (for tools and tests: the server's
        code reads and writes in blocks, as its threads may live as long as a WebSocket)."""
        current = getattr(self._local, "current", None)
        if current is not None:
            return current
        lease = getattr(self._local, "lease", None)
        if lease is None:
            lease = self._local.lease = _Lease(self._borrow(), self._give_back)
        return lease.db

    def _connect(self) -> Database:
        # Never used by two threads at once (see _lent), so it may move between threads.
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=10,
                               check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        return Database(conn)

    @contextmanager
    def _lent(self) -> Iterator[tuple[Database, bool]]:
        """A pooled connection for one block, and whether this block is the outermost.

        Lent per block, not per thread: a hundred devices on WebSockets are a hundred
        long-lived threads, and a connection each (with its page cache) was ~10 MB of the
        server's memory. Opening a connection costs more than the command it serves, so they
        are kept."""
        current = getattr(self._local, "current", None)
        if current is not None:
            yield current, False
            return
        db = self._local.current = self._borrow()
        try:
            yield db, True
        finally:
            self._local.current = None
            self._give_back(db)

    def _borrow(self) -> Database:
        with self._idle_lock:
            db = self._idle.pop() if self._idle else None
        return db or self._connect()

    def _give_back(self, db: Database) -> None:
        with self._idle_lock:
            self._idle.append(db)

    @contextmanager
    def write(self) -> Iterator[Database]:
        """A write transaction: committed if the block ends normally, else rolled back."""
        with self._lent() as (db, outermost):
            if not outermost:
                raise RuntimeError("a write block inside another block")
            with self._write_lock:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                    db.execute("COMMIT")
                except BaseException:
                    if db.conn.in_transaction:  # also when COMMIT failed (a full disk, say)
                        db.execute("ROLLBACK")
                    raise

    @contextmanager
    def read(self) -> Iterator[Database]:
        """A consistent read: every query in the block sees the same committed state (inside
        another block, that block's)."""
        with self._lent() as (db, outermost):
            if not outermost:
                yield db
                return
            db.execute("BEGIN")
            try:
                yield db
            finally:
                db.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection and every idle one."""
        lease = getattr(self._local, "lease", None)
        if lease is not None:
            lease.db.conn.close()
            lease.db = None
            self._local.lease = None
        with self._idle_lock:
            for db in self._idle:
                db.conn.close()
            self._idle.clear()


class _Lease:
    """A pooled connection held by one thread; it goes back to the pool when the thread's
    local storage is dropped, that is when the thread ends."""

    def __init__(self, db: Database, give_back: Callable[[Database], None]) -> None:
        self.db, self._give_back = db, give_back

    def __del__(self) -> None:
        if self.db is not None:
            self._give_back(self.db)


def one(db: Database, sql: str, params: Any = ()) -> dict | None:
    """The first row of a query as a dict, or None."""
    return next(iter(db.query(sql, params)), None)


def scalar(db: Database, sql: str, params: Any = ()) -> Any:
    row = db.execute(sql, params).fetchone()
    return row[0] if row else None


def insert(db: Database, table: str, row: dict) -> int:
    """INSERT one row; returns its rowid. Plain SQL: sqlite-utils' table.insert() reads the
    table's schema on every call, which costs more than the insert on the hot path."""
    columns = ", ".join(row)
    marks = ", ".join("?" * len(row))
    return db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                      list(row.values())).lastrowid


def update(db: Database, table: str, key: str, value: Any, changes: dict) -> None:
    """UPDATE the row whose `key` column equals `value`."""
    assignments = ", ".join(f"{column} = ?" for column in changes)
    db.execute(f"UPDATE {table} SET {assignments} WHERE {key} = ?", [*changes.values(), value])


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
