"""PostgreSQL for the region: connections and a pool from a DSN, and the schema's migrations
(yoyo-migrations, SQL files in region/migrations/, run before the server serves)."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

MIGRATIONS = Path(__file__).with_name("migrations")


def connect(dsn: str, **kwargs: object) -> psycopg.Connection:
    return psycopg.connect(dsn, **kwargs)


def pool(dsn: str, size: int = 8) -> ConnectionPool:
    """The server's connections; opened at once, so a wrong DSN fails at start."""
    return ConnectionPool(dsn, min_size=1, max_size=size, open=True,
                          kwargs={"application_name": "hallq-region"})


def yoyo_uri(dsn: str) -> str:
    """`dsn` (a libpq string or URI) as yoyo's URI: the database in the path, every other
    parameter passed through to psycopg.connect as it is (host may be a socket directory)."""
    params = {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    database = params.pop("dbname", "")
    return f"postgresql+psycopg:///{quote(database, safe='')}?{urlencode(params)}"


def migrate(dsn: str) -> list[str]:
    """Bring the database up to this version's schema; returns the ids applied. yoyo holds a
    lock while it works, so two servers starting at once do not apply a migration twice."""
    from yoyo import get_backend, read_migrations

    backend = get_backend(yoyo_uri(dsn))
    try:
        migrations = read_migrations(str(MIGRATIONS))
        with backend.lock():
            todo = backend.to_apply(migrations)
            backend.apply_migrations(todo)
        return [m.id for m in todo]
    finally:
        backend.connection.close()


# -- halls and their tokens --------------------------------------------------------------------
def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def add_hall(conn: psycopg.Connection, hall_id: str, name: str) -> str:
    """Register a hall; returns its token, which is stored only as its sha256."""
    token = new_token()
    with conn.transaction():
        conn.execute("INSERT INTO halls (id, name, token_sha256) VALUES (%s, %s, %s)",
                     [hall_id, name, token_digest(token)])
        conn.execute("INSERT INTO hall_links (hall_id) VALUES (%s)", [hall_id])
    return token


def rotate_token(conn: psycopg.Connection, hall_id: str) -> str | None:
    """A new token for a hall (the old one stops working); None if there is no such hall."""
    token = new_token()
    with conn.transaction():
        done = conn.execute("UPDATE halls SET token_sha256 = %s WHERE id = %s",
                            [token_digest(token), hall_id])
    return token if done.rowcount else None
