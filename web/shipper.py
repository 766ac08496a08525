"""The thread that ships the hall's event log to the company's region server (issue 18), when
the hall's config has `[region] url, hall_id, token`. What goes is hall/shipping.py's decision.

It runs beside the hall, never inside a command: its own SQLite connection reads the events
after the cursor (`seq > acked ORDER BY seq LIMIT 2000`) and posts them with a timeout; the
cursor moves only on the region's acknowledgement, so an event is sent at least once and the
region stores it once. A failure (WAN down, region stopped or slow) waits with exponential
backoff and jitter, up to `MAX_BACKOFF_S`, then the backlog goes in bounded batches, one after
another. Every `STATUS_EVERY_S` a batch carries the hall's live status, events or none.

The region may answer:
- 409 `gap` with `expected`: it has fewer events than the cursor says (its database was
  restored): the cursor goes back and those events go again;
- 409 `diverged`: this hall's log differs from the region's copy (this database was restored
  from a backup). Events stop; only the status goes, until the region's administrator decides
  (`hallq-region accept-restore`). The dashboard and /healthz say so.

A WAN outage never slows a ticket: the thread holds no lock of the hall's while it waits on the
network, and its SQLite work is a read and a one-row write after each acknowledgement.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import sqlite3
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from hall import shipping
from hall.config import RegionLink
from hall.hall import Hall
from hall.store import Database

log = logging.getLogger("hallq.shipper")

STATUS_EVERY_S = 5.0
LINGER_S = 0.3  # after a new event, wait this long for others to go in the same batch
CONNECT_TIMEOUT_S = 5.0
ANSWER_TIMEOUT_S = 30.0  # a full batch (2000) is stored in well under a second
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 300.0


class RegionRefusedError(Exception):
    def __init__(self, status: int, body: dict) -> None:
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        self.status, self.body = status, body
        self.code = error.get("code", str(status))
        super().__init__(f"{status} {self.code}: {error.get('message', '')}".strip())


class Shipper:
    """Ships the log of `hall` to `link.url`; `start()` runs it in a daemon thread."""

    def __init__(self, hall: Hall, link: RegionLink, batch: int = shipping.BATCH) -> None:
        self.hall, self.link = hall, link
        self.batch = self.full_batch = batch
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {
            "url": link.url, "hall_id": link.hall_id, "acked_seq": None, "backlog": None,
            "last_ack_at": None, "last_error": None, "last_error_at": None,
            "diverged": None, "next_try_at": None}
        self._failures = 0
        self._last_status = 0.0
        self._conn: http.client.HTTPConnection | None = None
        self.path = urlsplit(link.url).path.rstrip("/") + "/api/ingest"

    # -- what the dashboard and /healthz show ---------------------------------------------------
    def state(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._state)

    def _set(self, **values: Any) -> None:
        with self._lock:
            self._state.update(values)

    # -- running --------------------------------------------------------------------------------
    def start(self) -> Shipper:
        self.hall.subscribe(lambda events: self.wake.set())  # a command committed: ship soon
        threading.Thread(target=self.run, name="hallq-shipper", daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    def run(self) -> None:
        db = self._open()
        try:
            while not self.stopping.is_set():
                try:
                    more = self.ship_once(db)
                    self._failures = 0
                    self._set(next_try_at=None)
                except (OSError, http.client.HTTPException, RegionRefusedError, ValueError,
                        sqlite3.Error) as error:  # the WAN, the region, the database: later
                    self._failed(error)
                    continue
                except Exception as error:  # a bug of ours must not end shipping for good
                    log.exception("shipping to the region failed")
                    self._failed(error)
                    continue
                if not more:
                    self._idle()
        finally:
            db.conn.close()
            if self._conn:
                self._conn.close()

    def _open(self) -> Database:
        """A connection of its own: the shipper never borrows the hall's. Losing the last
        cursor move in a power cut only sends those events again (the region skips them),
        so its commits need not wait for the disk."""
        conn = sqlite3.connect(self.hall.store.path, timeout=5, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA synchronous=NORMAL")
        return Database(conn)

    def _idle(self) -> None:
        """Sleep until the next status is due, or a new event (then linger a moment, so a
        burst of commands goes as one batch)."""
        due = self._last_status + STATUS_EVERY_S - time.monotonic()
        if due > 0 and self.wake.wait(due) and not self.stopping.is_set():
            time.sleep(LINGER_S)
        self.wake.clear()

    def _failed(self, error: Exception) -> None:
        self._failures += 1
        delay = min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** (self._failures - 1))
        delay *= random.uniform(0.5, 1.0)  # halls that lost the WAN together retry apart
        self._set(last_error=str(error)[:300], last_error_at=time.time(),
                  next_try_at=time.time() + delay)
        if self._conn:  # a connection that failed may be half-read: start afresh
            self._conn.close()
            self._conn = None
        log.warning("region %s: %s; next try in %.0f s", self.link.url, error, delay)
        self.stopping.wait(delay)

    # -- one batch ------------------------------------------------------------------------------
    def ship_once(self, db: Database) -> bool:
        """Send the next batch (and the status, when due); True if more events wait."""
        acked, epoch = shipping.cursor(db)
        diverged = self.state()["diverged"]
        events = [] if diverged else shipping.read_batch(db, acked, self.batch)
        status_due = time.monotonic() - self._last_status >= STATUS_EVERY_S
        if not events and not status_due:
            return False
        last = events[-1]["seq"] if events else acked
        backlog = shipping.backlog(db, last)
        body: dict[str, Any] = {
            "hall_id": self.link.hall_id, "epoch": epoch, "after": acked, "events": events,
            "backlog": backlog, "services": self._services()}
        if status_due:
            body["status"] = shipping.status_summary(self.hall.state())
        try:
            answer = self._post(body)
        except RegionRefusedError as refused:
            if refused.status == 413 and len(events) > 1:  # a few huge events: fewer a batch
                self.batch = max(1, len(events) // 2)
                return True
            if refused.code == "gap" and isinstance(refused.body.get("expected"), int):
                shipping.rewind(db, max(0, refused.body["expected"] - 1))
                log.warning("region %s asks for events from %s on", self.link.url,
                            refused.body["expected"])
                return True
            if refused.code == "diverged":
                self._diverged(refused)
                if status_due:
                    self._last_status = time.monotonic()
                return False
            raise
        if status_due:
            self._last_status = time.monotonic()
        # Never past what was sent: a region ahead of this database (restored from a backup)
        # must see this hall's next events under their own numbers, and compare them.
        shipping.advance(db, min(int(answer["acked"]), last))
        self._set(acked_seq=min(int(answer["acked"]), last), backlog=backlog,
                  last_ack_at=time.time(), last_error=None, diverged=None)
        self.batch = self.full_batch
        if diverged is not None:
            log.warning("region %s takes this hall's events again", self.link.url)
            return True
        return bool(events) and backlog > 0

    def _diverged(self, refused: RegionRefusedError) -> None:
        message = refused.body.get("error", {}).get("message", "")
        if self.state()["diverged"] is None:
            log.error("region %s refuses this hall's events: %s", self.link.url, message)
        self._set(diverged=message or "diverged", last_error=str(refused),
                  last_error_at=time.time())

    def _services(self) -> list[dict]:
        return [{"id": s.id, "name": s.name, "target_wait_minutes": s.target_wait_minutes}
                for s in self.hall.config.services]

    def _post(self, body: dict) -> dict:
        data = json.dumps(body, ensure_ascii=False, allow_nan=False).encode()
        reused = self._conn is not None and self._conn.sock is not None
        try:
            status, raw = self._send(data)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            if not reused:
                raise
            self._conn.close()  # the region closed the kept-alive connection: once more
            status, raw = self._send(data)
        return _answer(status, raw)

    def _send(self, data: bytes) -> tuple[int, bytes]:
        conn = self._connection()
        conn.request("POST", self.path, data, {
            "Authorization": f"Bearer {self.link.token}",
            "Content-Type": "application/json"})
        conn.sock.settimeout(ANSWER_TIMEOUT_S)
        response = conn.getresponse()
        return response.status, response.read()

    def _connection(self) -> http.client.HTTPConnection:
        """One kept-alive connection to the region; made again after a failure."""
        if self._conn is None:
            parts = urlsplit(self.link.url)
            kind = (http.client.HTTPSConnection if parts.scheme == "https"
                    else http.client.HTTPConnection)
            self._conn = kind(parts.hostname, parts.port, timeout=CONNECT_TIMEOUT_S)
        if self._conn.sock is None:
            self._conn.connect()
        return self._conn


def _answer(status: int, raw: bytes) -> dict:
    """The region's JSON answer; RegionRefusedError for anything but 200."""
    try:
        answer = json.loads(raw) if raw else {}
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    if status != 200:
        raise RegionRefusedError(status, answer)
    if not isinstance(answer.get("acked"), int):
        raise ValueError(f"the region's answer has no acked seq: {raw[:200]!r}")
    return answer


def start_shipping(hall: Hall, extensions: dict) -> Shipper | None:
    """Start the shipper if the hall's config names a region; kept in `extensions`, where
    /healthz and the dashboard find it."""
    if hall.config.region is None:
        return None
    shipper = Shipper(hall, hall.config.region).start()
    extensions["hallq_shipper"] = shipper
    return shipper
