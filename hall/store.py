"""The SQLite file that holds the hall: connections, and one transaction per command. Its schema
is made and upgraded by hall/migrations.py, before the server starts.

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

# The steps of hall/migrations.py, in order (a test holds the two lists together). The server
# never imports sqlite-utils (~14 MB), so it cannot ask the Migrations object: it checks these
# names are recorded, and leaves applying them to the step before it starts.
MIGRATIONS = ("0001_tables", "0002_ratings_carry_service_and_day", "0003_queue_lengths",
              "0004_session_expiry", "0005_appointments", "0006_shipping")
MIGRATION_SET = "hallq"


class NotMigratedError(RuntimeError):
    """The database lacks steps of hall/migrations.py (or is not a hall database yet)."""


def check_migrated(db: Database, path: str) -> None:
    """Raise NotMigratedError unless every step of MIGRATIONS is recorded in the file."""
    try:
        done = {row[0] for row in db.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ?", [MIGRATION_SET])}
    except sqlite3.OperationalError:  # no such table: never migrated
        done = set()
    missing = [name for name in MIGRATIONS if name not in done]
    if missing:
        raise NotMigratedError(
            f"the database {path} lacks the migrations {', '.join(missing)}: run "
            f"`python server.py migrate --db {path}` first (the server does it as it starts)")


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
        if not Path(self.path).is_file():  # connecting would make an empty file
            raise NotMigratedError(f"no database at {self.path}: `python server.py migrate "
                                   f"--db {self.path}` makes one (the server does as it starts)")
        self._local = threading.local()
        self._idle: list[Database] = []
        self._idle_lock = threading.Lock()
        # Threads of this process queue here rather than spin in SQLite's busy handler;
        # busy_timeout still covers a second server process on the same file.
        self._write_lock = threading.Lock()
        check_migrated(self.db, self.path)

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
    def write(self, durable: bool = True) -> Iterator[Database]:
        """A write transaction: committed if the block ends normally, else rolled back.

        `durable=False` is for bookkeeping that a power cut may lose (which devices are
        connected, heartbeats, pruning): its COMMIT does not wait for the disk, which makes it
        durable with the next commit that does. Each fsync holds the hall's one writer for
        ~10 ms on an SD card, and tickets queue behind it."""
        with self._lent() as (db, outermost):
            if not outermost:
                raise RuntimeError("a write block inside another block")
            with self._write_lock:
                if not durable:
                    db.execute("PRAGMA synchronous=NORMAL")  # WAL: no sync at COMMIT
                try:
                    db.execute("BEGIN IMMEDIATE")
                    try:
                        yield db
                        db.execute("COMMIT")
                    except BaseException:
                        if db.conn.in_transaction:  # also when COMMIT failed (a full disk)
                            db.execute("ROLLBACK")
                        raise
                finally:
                    if not durable:
                        db.execute("PRAGMA synchronous=FULL")

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
