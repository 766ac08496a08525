"""The staff directory: who may log in, kept in the database so a supervisor can manage it.

The hall config's `[[staff]]` entries are the seed: each is inserted when missing, and never
overwritten afterwards, so a PIN reset or a disabled account made on the dashboard survives a
restart. Login, tokens and the names shown at windows all read this table.
"""

from __future__ import annotations

from hall.config import HallConfig, Staff
from hall.store import Database, one

SCHEMA = """
CREATE TABLE IF NOT EXISTS staff (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('clerk', 'supervisor', 'admin')),
    pin_hash TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    source TEXT NOT NULL DEFAULT 'config',
    changed_at REAL
);
"""


def prepare(db: Database, config: HallConfig) -> None:
    """Create the table and insert the config's staff that it does not hold yet."""
    execute_script(db, SCHEMA)
    for s in config.staff:
        db.execute("INSERT OR IGNORE INTO staff (id, name, role, pin_hash) VALUES (?, ?, ?, ?)",
                   [s.id, s.name, s.role, s.pin_hash])


def execute_script(db: Database, script: str) -> None:
    """Run DDL inside the caller's transaction (executescript would commit it)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def member(db: Database, staff_id: str | None,
           active_only: bool = True) -> Staff | None:
    """The staff member `staff_id`; a disabled one only when `active_only` is False."""
    if not staff_id:
        return None
    row = one(db, "SELECT * FROM staff WHERE id = ?", [staff_id])
    if row is None or (active_only and not row["active"]):
        return None
    return Staff(id=row["id"], name=row["name"], role=row["role"], pin_hash=row["pin_hash"])


def listing(db: Database) -> list[dict]:
    """Everyone, without PIN hashes, for the dashboard."""
    return [{"id": r["id"], "name": r["name"], "role": r["role"], "active": bool(r["active"])}
            for r in db.query("SELECT * FROM staff ORDER BY role != 'clerk', id")]
