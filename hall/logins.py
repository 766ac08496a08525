"""Who may have a PIN checked now: failures counted per client address and per staff id.

An attempt is counted *before* its PIN is checked, in the write transaction that checks the
locks, and taken back if the PIN was right. So parallel requests cannot slip past the allowance
between check and count, and a lock is only ever lifted by time, a right PIN, a supervisor or a
PIN reset.

- Per address and staff id: MAX_PIN_FAILURES wrong PINs lock that id *for that address only*:
  whoever guesses from one laptop cannot lock the clerk out at her own counter.
- Per address: MAX_ADDRESS_FAILURES failures a minute (any ids) block the address for a minute,
  then for twice as long at each repeat, up to an hour.
- Per staff id, from all addresses together: after MAX_ID_FAILURES wrong PINs within
  ID_WINDOW_SECONDS (someone guessing from many addresses), the id is locked, until that hour
  is over, for every address where it never logged in: the clerk at her usual counter
  carries on, a laptop that changes its address every five tries does not.

Unknown ids are counted like real ones (or a lock would tell which ids exist); the rows are
bounded in size (ids ≤ 32 characters) and number (pruned to MAX_FAILURE_ROWS a table by the
hall's tick, at most every 10 s).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from hall import auth
from hall.errors import HallError, bad_request
from hall.hours import local_time
from hall.store import Database, one, scalar

SCHEMA = """
CREATE TABLE IF NOT EXISTS login_failures (
    address TEXT NOT NULL,
    staff_id TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_at REAL NOT NULL,
    locked_until REAL,
    PRIMARY KEY (address, staff_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS login_failures_by_time ON login_failures (last_at);
CREATE INDEX IF NOT EXISTS login_failures_by_id ON login_failures (staff_id);
CREATE TABLE IF NOT EXISTS address_failures (
    address TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_start REAL NOT NULL,
    strikes INTEGER NOT NULL DEFAULT 0,
    blocked_until REAL,
    last_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS address_failures_by_time ON address_failures (last_at);
-- Where each staff member has logged in (with the right PIN), for the id-wide lock.
CREATE TABLE IF NOT EXISTS login_known (
    staff_id TEXT NOT NULL,
    address TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (staff_id, address)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS login_known_by_time ON login_known (at);
-- Per staff id, wrong PINs from all addresses in the hour that began at window_start.
CREATE TABLE IF NOT EXISTS id_failures (
    staff_id TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_start REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS id_failures_by_time ON id_failures (window_start);
"""
KNOWN_KEPT_SECONDS = 90 * 24 * 3600

WRONG = "工号或密码错误 · Wrong staff id or PIN"
# The SQL below is what SQLite and PostgreSQL both read (upserts, CASE rather than the
# two-argument max() or greatest()), so the region's logins count and lock with these same
# functions over its own tables (region/users.py); `?` is the hall's placeholder.
_LESS_ONE = "CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END"


def check_fields(staff_id: Any, pin: Any) -> tuple[str, str]:
    """Bounded strings, refused before anything is read or written."""
    if not isinstance(staff_id, str) or not 0 < len(staff_id) <= auth.STAFF_ID_MAX:
        raise bad_request(f"staff_id: a text of 1 to {auth.STAFF_ID_MAX} characters")
    if not isinstance(pin, str) or not 0 < len(pin) <= auth.PIN_MAX or \
            not (pin.isascii() and pin.isdigit()):
        raise bad_request(f"pin: 1 to {auth.PIN_MAX} digits")
    return staff_id, pin


def address_key(address: Any) -> str:
    """What failures are counted against: the client's IPv4 address, or its IPv6 /64 (one
    host picks any address it likes inside its /64)."""
    if not isinstance(address, str) or not address:
        return "local"
    try:
        ip = ipaddress.ip_address(address[:auth.ADDRESS_MAX])
    except ValueError:
        return address[:auth.ADDRESS_MAX]
    if ip.version == 6 and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def reserve(db: Database, now: float, tz: Any, address: str, staff_id: str) -> str | None:
    """Count one attempt of `address` at `staff_id`, or refuse it (`locked`,
    `too_many_attempts`) without writing. Returns what the attempt locked, if it did
    ("id", "address" or "id_wide"), for the caller to announce."""
    refuse_if_blocked(db, now, tz, address, staff_id)
    locked = None
    row = one(db, "SELECT failures, last_at FROM login_failures"
              " WHERE address = ? AND staff_id = ?", [address, staff_id])
    failures = 1 if row is None or row["last_at"] < now - auth.LOCK_SECONDS \
        else row["failures"] + 1
    until = None
    if failures >= auth.MAX_PIN_FAILURES:
        until, locked = now + auth.LOCK_SECONDS, "id"
    db.execute("INSERT INTO login_failures"
               " (address, staff_id, failures, last_at, locked_until) VALUES (?, ?, ?, ?, ?)"
               " ON CONFLICT (address, staff_id) DO UPDATE SET failures = excluded.failures,"
               " last_at = excluded.last_at, locked_until = excluded.locked_until",
               [address, staff_id, failures, now, until])
    if _count_address(db, now, address):
        locked = locked or "address"
    if _count_id(db, now, staff_id):
        locked = locked or "id_wide"
    return locked


def _count_id(db: Database, now: float, staff_id: str) -> bool:
    """One more failure of `staff_id` from any address; True if it now locks the id."""
    row = one(db, "SELECT failures, window_start FROM id_failures WHERE staff_id = ?",
              [staff_id])
    if row is None or row["window_start"] <= now - auth.ID_WINDOW_SECONDS:
        row = {"failures": 0, "window_start": now}
    failures = row["failures"] + 1
    db.execute("INSERT INTO id_failures (staff_id, failures, window_start) VALUES (?, ?, ?)"
               " ON CONFLICT (staff_id) DO UPDATE SET failures = excluded.failures,"
               " window_start = excluded.window_start", [staff_id, failures, row["window_start"]])
    return failures == auth.MAX_ID_FAILURES


def refuse_if_blocked(db: Database, now: float, tz: Any, address: str, staff_id: str) -> None:
    """Raise `too_many_attempts` or `locked` if this attempt may not have its PIN checked."""
    blocked = scalar(db, "SELECT blocked_until FROM address_failures WHERE address = ?",
                     [address])
    if blocked and blocked > now:
        raise _refusal("too_many_attempts", blocked, now, tz,
                       "尝试次数过多，请于 {until} 后再试 · Too many attempts; try again after "
                       "{until}")
    locked = scalar(db, "SELECT locked_until FROM login_failures"
                    " WHERE address = ? AND staff_id = ?", [address, staff_id])
    if not (locked and locked > now):
        locked = _id_wide_lock(db, now, staff_id)
        if locked and scalar(db, "SELECT 1 FROM login_known WHERE staff_id = ?"
                             " AND address = ?", [staff_id, address]):
            locked = None
    if locked and locked > now:
        raise _refusal("locked", locked, now, tz,
                       "密码错误次数过多，请于 {until} 后再试 · Too many wrong PINs; "
                       "try again after {until}")


def _id_wide_lock(db: Database, now: float, staff_id: str) -> float | None:
    """Until when `staff_id` is locked for unknown addresses, if it is: it has had
    MAX_ID_FAILURES wrong PINs from all addresses in its current hour."""
    row = one(db, "SELECT failures, window_start FROM id_failures WHERE staff_id = ?",
              [staff_id])
    if row and row["failures"] >= auth.MAX_ID_FAILURES:
        return row["window_start"] + auth.ID_WINDOW_SECONDS
    return None


def _refusal(code: str, until: float, now: float, tz: Any, text: str) -> HallError:
    at = local_time(until, tz).strftime("%H:%M:%S")
    return HallError(code, text.format(until=at), retry_after=max(1, round(until - now)))


def _count_address(db: Database, now: float, address: str) -> bool:
    """One more failure of `address` in its current minute; True if it now blocks."""
    row = one(db, "SELECT * FROM address_failures WHERE address = ?", [address])
    # An hour of calm after the last failure and the last block forgives the strikes.
    if row is None or max(row["last_at"], row["blocked_until"] or 0) < \
            now - auth.ADDRESS_BLOCK_MAX_SECONDS:
        row = {"failures": 0, "window_start": now, "strikes": 0}
    elif row["window_start"] <= now - auth.ADDRESS_WINDOW_SECONDS:
        row = {**row, "failures": 0, "window_start": now}
    failures, strikes, blocked = row["failures"] + 1, row["strikes"], None
    if failures >= auth.MAX_ADDRESS_FAILURES:
        seconds = min(auth.ADDRESS_WINDOW_SECONDS * 2 ** strikes, auth.ADDRESS_BLOCK_MAX_SECONDS)
        blocked, strikes, failures = now + seconds, strikes + 1, 0
    db.execute("INSERT INTO address_failures"
               " (address, failures, window_start, strikes, blocked_until, last_at)"
               " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (address) DO UPDATE SET"
               " failures = excluded.failures, window_start = excluded.window_start,"
               " strikes = excluded.strikes, blocked_until = excluded.blocked_until,"
               " last_at = excluded.last_at",
               [address, failures, row["window_start"], strikes, blocked, now])
    return blocked is not None


def release(db: Database, now: float, address: str, staff_id: str) -> bool:
    """The PIN was right: forget this pair's failures, take back this attempt from the
    address's count, and remember the address as one of this id's. Returns whether a lock
    was lifted (for the dashboard)."""
    locked = scalar(db, "SELECT locked_until FROM login_failures"
                    " WHERE address = ? AND staff_id = ?", [address, staff_id])
    db.execute("DELETE FROM login_failures WHERE address = ? AND staff_id = ?",
               [address, staff_id])
    db.execute(f"UPDATE address_failures SET failures = {_LESS_ONE} WHERE address = ?",
               [address])
    db.execute(f"UPDATE id_failures SET failures = {_LESS_ONE} WHERE staff_id = ?", [staff_id])
    db.execute("INSERT INTO login_known (staff_id, address, at) VALUES (?, ?, ?)"
               " ON CONFLICT (staff_id, address) DO UPDATE SET at = excluded.at",
               [staff_id, address, now])
    return locked is not None


def lift(db: Database, staff_id: str | None = None, address: str | None = None) -> int:
    """A supervisor lifts locks: of one id (every address), one address (every id and its
    block), or one pair. Returns how many records went."""
    where, params = [], []
    for column, value in (("staff_id", staff_id), ("address", address)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    gone = db.execute("DELETE FROM login_failures WHERE " + " AND ".join(where), params).rowcount
    if staff_id is not None and address is None:
        gone += db.execute("DELETE FROM id_failures WHERE staff_id = ?", [staff_id]).rowcount
    if staff_id is None:
        gone += db.execute("DELETE FROM address_failures WHERE address = ?", [address]).rowcount
    return gone


def current(db: Database, now: float) -> list[dict]:
    """The locks in force: an id locked for an address, or a whole address blocked."""
    ids = [{"staff_id": r["staff_id"], "address": r["address"], "until": r["locked_until"],
            "failures": r["failures"]}
           for r in db.query("SELECT * FROM login_failures WHERE locked_until > ?"
                             " ORDER BY locked_until", [now])]
    addresses = [{"staff_id": None, "address": r["address"], "until": r["blocked_until"],
                  "failures": None}
                 for r in db.query("SELECT * FROM address_failures WHERE blocked_until > ?"
                                   " ORDER BY blocked_until", [now])]
    id_wide = [{"staff_id": r["staff_id"], "address": None,
                "until": r["window_start"] + auth.ID_WINDOW_SECONDS, "failures": r["failures"]}
               for r in db.query("SELECT * FROM id_failures WHERE window_start > ?"
                                 " AND failures >= ? ORDER BY window_start",
                                 [now - auth.ID_WINDOW_SECONDS, auth.MAX_ID_FAILURES])]
    return addresses + id_wide + ids


def count(db: Database, now: float) -> int:
    return len(current(db, now))


def prune(db: Database, now: float) -> None:
    """Forget what no longer counts, and keep at most MAX_FAILURE_ROWS of each table (the
    oldest go first) whatever an attacker sends."""
    stale = now - auth.ADDRESS_BLOCK_MAX_SECONDS
    db.execute("DELETE FROM login_failures WHERE last_at < ? AND"
               " coalesce(locked_until, 0) < ?", [now - auth.LOCK_SECONDS, now])
    db.execute("DELETE FROM address_failures WHERE last_at < ? AND coalesce(blocked_until, 0) < ?",
               [stale, stale])
    db.execute("DELETE FROM login_known WHERE at < ?", [now - KNOWN_KEPT_SECONDS])
    db.execute("DELETE FROM id_failures WHERE window_start <= ?",
               [now - auth.ID_WINDOW_SECONDS])
    for table, column in (("login_failures", "last_at"), ("address_failures", "last_at"),
                          ("login_known", "at"), ("id_failures", "window_start")):
        db.execute(f"DELETE FROM {table} WHERE {column} <= (SELECT {column} FROM {table}"
                   f" ORDER BY {column} DESC LIMIT 1 OFFSET ?)", [auth.MAX_FAILURE_ROWS])
