"""Which devices are online, when one or several server processes share the hall's SQLite file.

A device is online while it holds a Socket.IO connection to *some* server process. Each process
counts its own connections in `device_links` (one row per device and process) and keeps a row in
`server_instances` fresh with a beat every few seconds; `devices.connected` is the sum over the
processes still alive. So a second process starting up does not zero the first one's devices, and
a process that died (kill -9, power cut of one host) stops counting once it is found dead: at once
when it ran on this host (its pid is gone), else after `STALE_SECONDS` without a beat.

Presence is not a queue change: it writes no event row and takes no `seq`, and its writes do not
wait for the disk (`Store.write(durable=False)`): after a power cut every process is gone anyway.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

from hall.store import Database, Store

BEAT_SECONDS = 5.0
STALE_SECONDS = 30.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS server_instances (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at REAL NOT NULL,
    last_beat REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS device_links (
    device_id TEXT NOT NULL,
    instance TEXT NOT NULL,
    connections INTEGER NOT NULL,
    PRIMARY KEY (device_id, instance)
);
"""


class Presence:
    """This process's share of the hall's device presence."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock  # real time: it judges processes, not the hall's day
        self.instance = uuid.uuid4().hex[:12]
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started_at = clock()
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._last_beat = 0.0
        store.db.conn.executescript(SCHEMA)
        with store.write() as db:
            self._register(db)
            self._prune(db)

    # -- connections ---------------------------------------------------------------------------
    def change(self, device_id: str, delta: int, seen_at: float) -> None:
        """A connection of `device_id` to this process came (+1) or went (-1)."""
        with self.store.write(durable=False) as db:  # counted inside: threads write in order
            with self._lock:
                count = self._counts[device_id] = max(0, self._counts.get(device_id, 0) + delta)
            self._write_link(db, device_id, count)
            db.execute("UPDATE devices SET connected = ?, last_seen = ? WHERE id = ?",
                       [_total(db, device_id), seen_at, device_id])

    def seen(self, device_id: str, seen_at: float) -> bool:
        """A heartbeat: the device is alive now. False if the device is unknown."""
        with self.store.write(durable=False) as db:
            cursor = db.execute("UPDATE devices SET last_seen = ? WHERE id = ?",
                                [seen_at, device_id])
            return cursor.rowcount > 0

    # -- process liveness ----------------------------------------------------------------------
    def beat(self, force: bool = False) -> None:
        """Keep this process's row fresh and forget processes that died; at most every
        BEAT_SECONDS unless forced (the caller may call it every second)."""
        now = self.clock()
        if not force and now - self._last_beat < BEAT_SECONDS:
            return
        with self.store.write(durable=False) as db:
            self._register(db)
            self._prune(db)

    def instances(self) -> list[dict]:
        """The server processes that share this file and are alive, this one first."""
        with self.store.read() as db:
            rows = list(db.query(
                "SELECT id, host, pid, started_at, last_beat FROM server_instances"
                " WHERE last_beat >= ? ORDER BY id != ?, started_at",
                [self.clock() - STALE_SECONDS, self.instance]))
        for row in rows:
            row["this"] = row["id"] == self.instance
        return rows

    def _register(self, db: Database) -> None:
        now = self._last_beat = self.clock()
        cursor = db.execute("UPDATE server_instances SET last_beat = ? WHERE id = ?",
                            [now, self.instance])
        if cursor.rowcount:
            return
        # New, or pruned by another process while this one stalled: (re)write our links.
        db.execute("INSERT INTO server_instances (id, host, pid, started_at, last_beat)"
                   " VALUES (?, ?, ?, ?, ?)",
                   [self.instance, self.host, self.pid, self.started_at, now])
        with self._lock:
            counts = dict(self._counts)
        for device_id, count in counts.items():
            self._write_link(db, device_id, count)

    def _prune(self, db: Database) -> None:
        dead = [row["id"] for row in db.query(
            "SELECT id, host, pid, last_beat FROM server_instances WHERE id != ?",
            [self.instance])
            if row["last_beat"] < self._last_beat - STALE_SECONDS
            or (row["host"] == self.host and not pid_alive(row["pid"]))]
        for instance in dead:
            db.execute("DELETE FROM server_instances WHERE id = ?", [instance])
        db.execute("DELETE FROM device_links WHERE instance NOT IN"
                   " (SELECT id FROM server_instances)")
        # Recount every device: also clears counts left by an older server without this table.
        db.execute("UPDATE devices SET connected = coalesce((SELECT sum(connections)"
                   " FROM device_links WHERE device_id = devices.id), 0)")

    def _write_link(self, db: Database, device_id: str, count: int) -> None:
        if count:
            db.execute("INSERT INTO device_links (device_id, instance, connections)"
                       " VALUES (?, ?, ?) ON CONFLICT (device_id, instance)"
                       " DO UPDATE SET connections = excluded.connections",
                       [device_id, self.instance, count])
        else:
            db.execute("DELETE FROM device_links WHERE device_id = ? AND instance = ?",
                       [device_id, self.instance])


def _total(db: Database, device_id: str) -> int:
    row = db.execute("SELECT coalesce(sum(connections), 0) FROM device_links"
                     " WHERE device_id = ?", [device_id]).fetchone()
    return int(row[0])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    return True
