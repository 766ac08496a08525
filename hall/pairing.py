"""Pairing an evaluator page with its window, without its device token in any URL.

The supervisor asks for a code for one evaluator (the `pairing-code` command, on the
dashboard's device list); the person setting up the tablet at the window types it into the
evaluator page's set-up form, and the page gets the device's token in the answer
(`POST /api/v1/pair`) and keeps it in its own storage. A code is six digits, good for
CODE_MINUTES and once; a newer code for the same device replaces the older one. Guessing is
bounded at the edge (web/pairing.py: a few wrong codes per address).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hall.auth import Actor
from hall.errors import HallError, bad_request
from hall.numbers import is_digits
from hall.store import one

if TYPE_CHECKING:
    from hall.hall import Hall

CODE_DIGITS = 6
CODE_MINUTES = 5
PAIRED_ROLES = ("evaluator",)  # the device that is a web page; the others are programs


def new_code(hall: Hall, actor: Actor, body: dict) -> dict:
    """The `pairing-code` command: `{device}` -> `{code, device, window, expires_at}`."""
    hall.require(actor, "manage")
    device_id = body.get("device")
    device = next((d for d in hall.config.devices if d.id == device_id), None)
    if device is None or device.role not in PAIRED_ROLES:
        raise HallError("not_found", "没有这台评价器 · No such evaluator device")
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    now = hall.clock()
    expires = now + CODE_MINUTES * 60
    with hall.store.write() as db:
        db.execute("DELETE FROM pairing_codes WHERE device_id = ? OR expires_at <= ?",
                   [device.id, now])
        db.execute("INSERT OR REPLACE INTO pairing_codes VALUES (?, ?, ?, ?)",
                   [code, device.id, now, expires])
    return {"code": code, "device": device.id, "window": device.window,
            "expires_at": _iso(hall, expires)}


def redeem(hall: Hall, code: Any) -> dict:
    """A code typed at the evaluator -> `{token, device: {id, role, window}}`, once."""
    if not is_digits(code, CODE_DIGITS, CODE_DIGITS):
        raise bad_request(f"code: {CODE_DIGITS} digits")
    with hall.store.write() as db:
        row = one(db, "SELECT * FROM pairing_codes WHERE code = ? AND expires_at > ?",
                  [code, hall.clock()])
        if row is not None:
            db.execute("DELETE FROM pairing_codes WHERE code = ?", [code])
    device = next((d for d in hall.config.devices if row and d.id == row["device_id"]), None)
    if device is None:
        raise HallError("unauthorized", "配对码无效或已过期 · Unknown or expired pairing code")
    return {"token": device.token,
            "device": {"id": device.id, "role": device.role, "window": device.window}}


def _iso(hall: Hall, epoch: float) -> str:
    return datetime.fromtimestamp(epoch, hall.config.tz).isoformat(timespec="seconds")
