"""Backups of the hall's SQLite file: consistent copies taken while the server runs, and restore.

A copy is made with SQLite's online backup API (`sqlite3.Connection.backup`), which copies a
consistent snapshot even while other connections write (WAL readers do not block writers). The
copy is written beside its final name, checked (`PRAGMA integrity_check`), switched to a plain
rollback journal so it is one self-contained file, and only then renamed into place: a crash
mid-backup never leaves a half file under a backup's name.

    python server.py backup /var/lib/hallq/backups/      # into a folder, keeps the last 14
    python server.py backup /media/usb/hall-copy.db      # to one file
    python server.py restore /var/lib/hallq/backups/hall-20261123-023000.db

Restore refuses while a server process is using the file (stop it first); the file it replaces
is first copied aside as `<db>.before-restore-<time>`.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hall.presence import pid_alive as _pid_alive

log = logging.getLogger("hallq.backup")

PREFIX = "hall-"
SUFFIX = ".db"
DEFAULT_KEEP = 14
DEFAULT_AT = "02:30"
# A server process that beat this recently is still using the file (see hall/presence.py).
IN_USE_SECONDS = 30


class BackupError(Exception):
    """A backup or restore could not be done; the message says why."""


def backup(db_path: str | Path, dest: str | Path) -> Path:
    """Copy the live database `db_path` to the file `dest`, consistently. Returns `dest`."""
    db_path, dest = Path(db_path), Path(dest)
    if not db_path.is_file():
        raise BackupError(f"no database at {db_path}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    part.unlink(missing_ok=True)
    source = sqlite3.connect(db_path, timeout=30)
    try:
        copy = sqlite3.connect(part)
        try:
            source.backup(copy)  # all pages in one step: one consistent snapshot
            copy.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
            _check(copy, part)
        finally:
            copy.close()
    finally:
        source.close()
    _fsync(part)
    os.replace(part, dest)
    _fsync(dest.parent)
    return dest


def backup_into(db_path: str | Path, directory: str | Path, keep: int = DEFAULT_KEEP,
                when: datetime | None = None) -> Path:
    """A backup named by its time into `directory`; then keep only the newest `keep`."""
    dest = Path(directory) / f"{PREFIX}{stamp(when)}{SUFFIX}"
    backup(db_path, dest)
    prune(directory, keep)
    return dest


def stamp(when: datetime | None = None) -> str:
    """A backup's time in its name, with its offset from UTC, so that the name says which clock
    it read: the nightly backup takes the hall's time, a backup by hand the machine's."""
    return f"{when or datetime.now().astimezone():%Y%m%d-%H%M%S%z}"


def taken_at(path: Path) -> float:
    """When a backup was taken, by its name (by the file's time for a name without offset)."""
    try:
        return datetime.strptime(path.name[len(PREFIX):-len(SUFFIX)], "%Y%m%d-%H%M%S%z") \
            .timestamp()
    except ValueError:
        return path.stat().st_mtime


def backups(directory: str | Path) -> list[Path]:
    """The backups in `directory`, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.glob(f"{PREFIX}*{SUFFIX}") if p.is_file()),
                  key=taken_at)


def prune(directory: str | Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups; returns the deleted ones."""
    if keep < 1:
        raise BackupError("keep at least one backup")
    old = backups(directory)[:-keep]
    for path in old:
        path.unlink()
    return old


def restore(backup_file: str | Path, db_path: str | Path, force: bool = False) -> Path | None:
    """Put the content of `backup_file` into the database `db_path`.

    Returns where the replaced database was copied aside (None if there was none)."""
    backup_file, db_path = Path(backup_file), Path(db_path)
    if not backup_file.is_file():
        raise BackupError(f"no backup at {backup_file}")
    source = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
    try:
        _check(source, backup_file)
        if not _table_exists(source, "events"):
            raise BackupError(f"{backup_file} is not a HallQ database (no events table)")
        aside = None
        if db_path.is_file():
            if not force:
                _refuse_if_in_use(db_path)
            aside = backup(db_path, db_path.with_name(f"{db_path.name}.before-restore-{stamp()}"))
        db_path.parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(db_path, timeout=30)
        try:
            source.backup(target)  # writes through SQLite: the -wal/-shm files stay coherent
            target.execute("PRAGMA journal_mode=WAL")  # as the server keeps it
            _check(target, db_path)
        finally:
            target.close()
    finally:
        source.close()
    return aside


def _refuse_if_in_use(db_path: Path) -> None:
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        if not _table_exists(conn, "server_instances"):
            return
        rows = conn.execute("SELECT host, pid, last_beat FROM server_instances"
                            " WHERE last_beat >= ?", [time.time() - IN_USE_SECONDS]).fetchall()
    finally:
        conn.close()
    here = socket.gethostname()
    using = [beat for host, pid, beat in rows if host != here or _pid_alive(pid)]
    if using:
        raise BackupError(
            f"a server is using {db_path} (seen {time.time() - max(using):.0f} s ago): stop it"
            " first (sudo systemctl stop hallq-server), or pass --force")


def _check(conn: sqlite3.Connection, path: Path) -> None:
    result = conn.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        raise BackupError(f"{path} failed the integrity check: {result}")


def _table_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        [name]).fetchone() is not None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- the nightly backup ----------------------------------------------------------------------------
class NightlyBackup:
    """Takes a backup every night at `at` (hall time) and keeps the newest `keep`.

    A Pi that is switched off at night misses that hour, so a server that starts with no backup
    younger than a day takes one at once."""

    def __init__(self, db_path: str | Path, directory: str | Path, keep: int = DEFAULT_KEEP,
                 at: str = DEFAULT_AT, tz: ZoneInfo | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.db_path, self.directory, self.keep = Path(db_path), Path(directory), keep
        self.at = parse_at(at)
        self.tz = tz
        self.clock = clock
        self.last: Path | None = None
        self.last_error: str | None = None
        newest = backups(self.directory)[-1:]
        fresh = newest and newest[0].stat().st_mtime > clock() - 24 * 3600
        self.due = self.next_after(clock()) if fresh else clock()
        if newest:
            self.last = newest[0]

    def next_after(self, now: float) -> float:
        """The first backup time strictly after `now`."""
        local = datetime.fromtimestamp(now, self.tz)
        due = local.replace(hour=self.at[0], minute=self.at[1], second=0, microsecond=0)
        if due <= local:
            due = (due + timedelta(days=1)).replace(hour=self.at[0], minute=self.at[1])
        return due.timestamp()

    def run_pending(self) -> Path | None:
        """Take the backup if it is due; returns it (None if not due or failed)."""
        now = self.clock()
        if now < self.due:
            return None
        self.due = self.next_after(now)
        try:
            self.last = backup_into(self.db_path, self.directory, self.keep,
                                    datetime.fromtimestamp(now, self.tz))
        except (BackupError, sqlite3.Error, OSError) as error:
            self.last_error = f"{type(error).__name__}: {error}"
            log.error("nightly backup failed: %s", self.last_error)
            return None
        self.last_error = None
        log.info("backup written: %s (keeping %d)", self.last, self.keep)
        return self.last

    def status(self) -> dict:
        return {"dir": str(self.directory), "keep": self.keep,
                "last": self.last.name if self.last else None, "last_error": self.last_error,
                "next": datetime.fromtimestamp(self.due, self.tz).isoformat(timespec="seconds")}

    def start(self, stop: threading.Event | None = None) -> threading.Thread:
        stop = stop or threading.Event()

        def loop() -> None:
            while not stop.is_set():
                self.run_pending()
                stop.wait(max(1.0, min(60.0, self.due - self.clock())))

        thread = threading.Thread(target=loop, name="hallq-backup", daemon=True)
        thread.start()
        return thread


def parse_at(text: str) -> tuple[int, int]:
    try:
        hour, minute = (int(part) for part in text.split(":"))
    except ValueError:
        raise BackupError(f"backup time {text!r}: write HH:MM, e.g. 02:30") from None
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise BackupError(f"backup time {text!r}: write HH:MM, e.g. 02:30")
    return hour, minute


# -- command line: `python server.py backup|restore ...` -------------------------------------
def backup_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="server.py backup",
        description="Copy the hall's database consistently, even while the server runs.")
    parser.add_argument("dest", help="a file, or a folder (ending in /, or existing) to put a "
                        "timestamped backup in")
    parser.add_argument("--db", default="var/hall.db", help="the live database (var/hall.db)")
    parser.add_argument("--keep", type=int, default=DEFAULT_KEEP,
                        help=f"into a folder: keep the newest N backups ({DEFAULT_KEEP})")
    args = parser.parse_args(argv)
    try:
        if args.dest.endswith("/") or Path(args.dest).is_dir():
            written = backup_into(args.db, args.dest, args.keep)
        else:
            written = backup(args.db, args.dest)
    except (BackupError, sqlite3.Error, OSError) as error:
        print(f"backup: {error}", file=sys.stderr)
        return 1
    print(written)
    return 0


def restore_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="server.py restore",
        description="Put a backup back as the hall's database (stop the server first).")
    parser.add_argument("backup", help="the backup file")
    parser.add_argument("--db", default="var/hall.db", help="the database to replace")
    parser.add_argument("--force", action="store_true",
                        help="even if a server seems to be using the database")
    args = parser.parse_args(argv)
    try:
        aside = restore(args.backup, args.db, force=args.force)
    except (BackupError, sqlite3.Error, OSError) as error:
        print(f"restore: {error}", file=sys.stderr)
        return 1
    if aside:
        print(f"the replaced database was kept as {aside}")
    print(f"restored {args.backup} into {args.db}")
    return 0
