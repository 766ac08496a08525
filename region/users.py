"""Region users: who may log in to the company's view, and what they may see.

- `admin`: every hall; manages halls (add, rename, disable, new token) and region users.
- `supervisor`: the halls given to them (region_user_halls), nothing else.

A login is as hardened as a hall's, with the hall's own code: bounded fields, the attempt
counted before the KDF and taken back when the password was right (hall/logins.py, over the
same tables in PostgreSQL, serialised by one advisory lock as SQLite's single writer does for
the hall), per-(user, address) locks, address backoff, scrypt through hall/auth.py's bounded
pool (answering `busy` past it), the same answer after the same work for unknown users and
wrong passwords. Sessions end at logout, at expiry and when the user is disabled; every
request and every Socket.IO command checks the session again.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg_pool import ConnectionPool

from hall import auth, logins
from hall.errors import HallError, bad_request

ROLES = ("admin", "supervisor")
USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
PASSWORD_MIN = 10  # for a new password; a login only bounds what it reads
PASSWORD_MAX = 128
NAME_MAX = 100
LOGIN_LOCK = 4201  # pg_advisory_xact_lock key: one login's count at a time, as in the hall
WRONG = "用户名或密码错误 · Wrong user or password"
SESSION_ENDED = "登录已失效，请重新登录 · Session ended; log in again"


@dataclass(frozen=True)
class User:
    id: str
    name: str
    role: str
    token_key: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def public(self) -> dict:
        return {"id": self.id, "name": self.name, "role": self.role}


class PgDatabase:
    """A psycopg connection asked as hall/store.Database is (`execute`, `query`), so that
    hall/logins.py's functions run on it unchanged; `?` is written `%s` for psycopg."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Any = ()) -> psycopg.Cursor:
        return self.conn.execute(sql.replace("?", "%s"), list(params))

    def query(self, sql: str, params: Any = ()) -> Iterator[dict]:
        cursor = self.execute(sql, params)
        names = [column.name for column in cursor.description or ()]
        for row in cursor:
            yield dict(zip(names, row, strict=True))


# -- checking what comes in -------------------------------------------------------------------
def check_user_id(value: Any) -> str:
    if not isinstance(value, str) or not USER_ID.fullmatch(value):
        raise bad_request("user: 1 to 32 letters, digits, '.', '_' or '-'")
    return value


def check_login_fields(user_id: Any, password: Any) -> tuple[str, str]:
    """Bounded strings, refused before anything is read or written (hall/logins.py's rule)."""
    if not isinstance(user_id, str) or not 0 < len(user_id) <= auth.STAFF_ID_MAX:
        raise bad_request(f"user: a text of 1 to {auth.STAFF_ID_MAX} characters")
    if not isinstance(password, str) or not 0 < len(password) <= PASSWORD_MAX:
        raise bad_request(f"password: 1 to {PASSWORD_MAX} characters")
    return user_id, password


def check_new_password(value: Any) -> str:
    if not isinstance(value, str) or not PASSWORD_MIN <= len(value) <= PASSWORD_MAX \
            or value.strip() != value:
        raise bad_request(f"password: {PASSWORD_MIN} to {PASSWORD_MAX} characters, no spaces "
                          "at either end")
    return value


def check_name(value: Any, what: str = "name") -> str:
    if not isinstance(value, str) or not 0 < len(value.strip()) <= NAME_MAX:
        raise bad_request(f"{what}: a text of 1 to {NAME_MAX} characters")
    return value.strip()


def new_password() -> str:
    return secrets.token_urlsafe(12)


# -- logging in and out -----------------------------------------------------------------------
def login(pool: ConnectionPool, tz: ZoneInfo, user_id: Any, password: Any, address: Any,
          session_hours: float) -> dict:
    """Check a password; returns {token, user, expires_at}. Refusals: `bad_request`,
    `too_many_attempts`, `locked`, `busy`, `unauthorized` (the same for an unknown user)."""
    user_id, password = check_login_fields(user_id, password)
    address = logins.address_key(address)
    with pool.connection() as conn:  # a blocked address is turned away without a KDF slot
        logins.refuse_if_blocked(PgDatabase(conn), time.time(), tz, address, user_id)
    with auth.kdf_slot():
        _reserve(pool, tz, address, user_id)
        with pool.connection() as conn:
            row = conn.execute("SELECT name, role, password_hash FROM region_users"
                               " WHERE id = %s AND NOT disabled", [user_id]).fetchone()
        if not auth.verify_pin(password, row[2] if row else None):
            raise HallError("unauthorized", WRONG)
        name, role, stored = row
        rehashed = auth.hash_pin(password) if auth.needs_rehash(stored) else None
    token = auth.new_token()
    now = time.time()
    expires = now + session_hours * 3600
    with pool.connection() as conn, conn.transaction():
        _serialised(conn)
        logins.release(PgDatabase(conn), now, address, user_id)
        if rehashed:
            conn.execute("UPDATE region_users SET password_hash = %s WHERE id = %s"
                         " AND password_hash = %s", [rehashed, user_id, stored])
        conn.execute("INSERT INTO region_sessions (token_key, user_id, created_at, expires_at)"
                     " VALUES (%s, %s, %s, %s)", [auth.token_key(token), user_id, now, expires])
    return {"token": token, "user": User(user_id, name, role).public(), "expires_at": expires}


def _serialised(conn: psycopg.Connection) -> None:
    """One login count at a time: what SQLite's single writer gives the hall."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", [LOGIN_LOCK])


def _reserve(pool: ConnectionPool, tz: ZoneInfo, address: str, user_id: str) -> None:
    """Count the attempt before the password is checked; a refusal raised here comes after
    the transaction is rolled back, so it writes nothing."""
    with pool.connection() as conn, conn.transaction():
        _serialised(conn)
        db = PgDatabase(conn)
        now = time.time()
        logins.reserve(db, now, tz, address, user_id)
        if secrets.randbelow(50) == 0:  # now and then, as the hall's tick does
            logins.prune(db, now)


def authenticate(conn: psycopg.Connection, token: Any) -> User | None:
    """The user of a live session, or None (unknown, ended, expired, user disabled)."""
    if not isinstance(token, str) or not 0 < len(token) <= 200:
        return None
    try:
        key = auth.token_key(token)
    except UnicodeEncodeError:
        return None
    row = conn.execute(
        "SELECT u.id, u.name, u.role FROM region_sessions s JOIN region_users u"
        " ON u.id = s.user_id WHERE s.token_key = %s AND s.ended_at IS NULL"
        " AND s.expires_at > %s AND NOT u.disabled", [key, time.time()]).fetchone()
    return User(*row, token_key=key) if row else None


def session_alive(conn: psycopg.Connection, user: User) -> bool:
    row = conn.execute(
        "SELECT 1 FROM region_sessions s JOIN region_users u ON u.id = s.user_id"
        " WHERE s.token_key = %s AND s.ended_at IS NULL AND s.expires_at > %s"
        " AND NOT u.disabled", [user.token_key, time.time()]).fetchone()
    return row is not None


def logout(conn: psycopg.Connection, user: User) -> None:
    with conn.transaction():
        conn.execute("UPDATE region_sessions SET ended_at = %s WHERE token_key = %s",
                     [time.time(), user.token_key])


# -- what a user sees --------------------------------------------------------------------------
def visible_halls(conn: psycopg.Connection, user: User) -> list[str] | None:
    """The hall ids `user` may see; None for every hall (an admin)."""
    if user.is_admin:
        return None
    return [r[0] for r in conn.execute(
        "SELECT hall_id FROM region_user_halls WHERE user_id = %s ORDER BY hall_id",
        [user.id])]


def may_see(conn: psycopg.Connection, user: User, hall_id: str) -> bool:
    halls = visible_halls(conn, user)
    return halls is None or hall_id in halls


def require_admin(user: User) -> None:
    if not user.is_admin:
        raise HallError("forbidden", "仅限区域管理员 · Regional admins only")


# -- managing users ----------------------------------------------------------------------------
def add_user(conn: psycopg.Connection, user_id: Any, name: Any, role: Any, password: Any,
             halls: Any = ()) -> dict:
    user_id = check_user_id(user_id)
    name = check_name(name)
    if role not in ROLES:
        raise bad_request(f"role: one of {', '.join(ROLES)}")
    password = check_new_password(password)
    halls = _check_halls(conn, halls)
    password_hash = auth.hash_pin(password)
    try:
        with conn.transaction():
            conn.execute("INSERT INTO region_users (id, name, role, password_hash)"
                         " VALUES (%s, %s, %s, %s)", [user_id, name, role, password_hash])
            _give_halls(conn, user_id, halls)
    except psycopg.errors.UniqueViolation:
        raise HallError("exists", f"已有用户 {user_id} · There is already a user "
                        f"{user_id!r}") from None
    return user_row(conn, user_id)


def change_user(conn: psycopg.Connection, user_id: Any, changes: dict) -> dict:
    """Rename, change role or halls, disable or enable, set a new password. Disabling or a new
    password ends the user's sessions."""
    user_id = check_user_id(user_id)
    unknown = set(changes) - {"name", "role", "halls", "disabled", "password"}
    if unknown:
        raise bad_request(f"unknown field {sorted(unknown)[0]!r}")
    if user_row(conn, user_id) is None:
        raise HallError("not_found", f"没有用户 {user_id} · No user {user_id!r}")
    sets: dict[str, Any] = {}
    if "name" in changes:
        sets["name"] = check_name(changes["name"])
    if "role" in changes:
        if changes["role"] not in ROLES:
            raise bad_request(f"role: one of {', '.join(ROLES)}")
        sets["role"] = changes["role"]
    if "disabled" in changes:
        if not isinstance(changes["disabled"], bool):
            raise bad_request("disabled: true or false")
        sets["disabled"] = changes["disabled"]
    if "password" in changes:
        sets["password_hash"] = auth.hash_pin(check_new_password(changes["password"]))
    halls = _check_halls(conn, changes["halls"]) if "halls" in changes else None
    with conn.transaction():
        for column, value in sets.items():  # column names come from the code above only
            conn.execute(f"UPDATE region_users SET {column} = %s WHERE id = %s",
                         [value, user_id])
        if halls is not None:
            conn.execute("DELETE FROM region_user_halls WHERE user_id = %s", [user_id])
            _give_halls(conn, user_id, halls)
        if sets.get("disabled") or "password_hash" in sets:
            conn.execute("UPDATE region_sessions SET ended_at = %s WHERE user_id = %s"
                         " AND ended_at IS NULL", [time.time(), user_id])
        _keep_an_admin(conn)
    return user_row(conn, user_id)


def _keep_an_admin(conn: psycopg.Connection) -> None:
    """The last enabled admin may not be demoted or disabled: nobody could manage the region."""
    if not conn.execute("SELECT 1 FROM region_users WHERE role = 'admin' AND NOT disabled"
                        " LIMIT 1").fetchone():
        raise HallError("last_admin", "至少保留一名区域管理员 · The region needs one enabled "
                        "admin")


def _check_halls(conn: psycopg.Connection, halls: Any) -> list[str]:
    if not isinstance(halls, list | tuple) or len(halls) > 10000 or \
            not all(isinstance(h, str) for h in halls):
        raise bad_request("halls: a list of hall ids")
    halls = sorted(set(halls))
    known = {r[0] for r in conn.execute("SELECT id FROM halls WHERE id = ANY(%s)", [halls])}
    missing = [h for h in halls if h not in known]
    if missing:
        raise HallError("not_found", f"没有营业厅 {missing[0][:40]} · No hall "
                        f"{missing[0][:40]!r}")
    return halls


def _give_halls(conn: psycopg.Connection, user_id: str, halls: list[str]) -> None:
    if halls:
        conn.execute("INSERT INTO region_user_halls (user_id, hall_id)"
                     " SELECT %s, unnest(%s::text[])", [user_id, halls])


def user_row(conn: psycopg.Connection, user_id: str) -> dict | None:
    row = conn.execute(
        "SELECT u.id, u.name, u.role, u.disabled, coalesce(array_agg(h.hall_id ORDER BY"
        " h.hall_id) FILTER (WHERE h.hall_id IS NOT NULL), '{}') FROM region_users u"
        " LEFT JOIN region_user_halls h ON h.user_id = u.id WHERE u.id = %s"
        " GROUP BY u.id", [user_id]).fetchone()
    if row is None:
        return None
    return {"id": row[0], "name": row[1], "role": row[2], "disabled": row[3], "halls": row[4]}


def all_users(conn: psycopg.Connection) -> list[dict]:
    ids = [r[0] for r in conn.execute("SELECT id FROM region_users ORDER BY id")]
    return [user_row(conn, i) for i in ids]


def ended_sessions(conn: psycopg.Connection, keys: list[str]) -> set[str]:
    """Of these session keys, those no longer alive (for dropping their sockets)."""
    if not keys:
        return set()
    alive = {r[0] for r in conn.execute(
        "SELECT s.token_key FROM region_sessions s JOIN region_users u ON u.id = s.user_id"
        " WHERE s.token_key = ANY(%s) AND s.ended_at IS NULL AND s.expires_at > %s"
        " AND NOT u.disabled", [keys, time.time()])}
    return set(keys) - alive
