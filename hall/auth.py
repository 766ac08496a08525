"""PINs, tokens and who may do what.

PINs are hashed with scrypt (a standard memory-hard KDF from the standard library); tokens are
random and stored only as their SHA-256, so a copied database does not log anyone in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

# n=2**14, r=8 costs 16 MiB and ~50 ms on a Raspberry Pi 4: cheap for one login, dear for a
# brute force of the 10,000 four-digit PINs (which the lockout stops long before anyway).
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}

MAX_PIN_FAILURES = 5
LOCK_SECONDS = 5 * 60


def hash_pin(pin: str) -> str:
    """Return a `scrypt$n$r$p$salt$hash` string for the config's `pin_hash`."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, **_SCRYPT)
    return "scrypt${n}${r}${p}$".format(**_SCRYPT) + "$".join(
        base64.b64encode(v).decode() for v in (salt, digest)
    )


def verify_pin(pin: str, pin_hash: str) -> bool:
    try:
        _, n, r, p, salt, digest = pin_hash.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            pin.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Actor:
    """Who sent a command: a logged-in staff member, a device from the config, or nobody."""

    role: str  # clerk | supervisor | admin | kiosk | display | evaluator | counter | booking
    #          | viewer
    staff_id: str | None = None
    device_id: str | None = None
    window: int | None = None
    key: str = "anonymous"  # scopes request ids: one token's retries never meet another's

    @property
    def is_staff(self) -> bool:
        return self.staff_id is not None

    @property
    def is_manager(self) -> bool:
        return self.role in ("supervisor", "admin")


VIEWER = Actor(role="viewer")

# Which roles may send which command. Window commands are further bound to the actor's window
# (see may_act_on_window); a supervisor or admin acts on any window.
_WINDOW_COMMANDS = {"open", "close", "call-next", "recall", "start", "finish", "no-show",
                    "transfer", "away", "back"}
_ALLOWED = {
    "issue": {"kiosk", "supervisor", "admin"},
    "printer": {"kiosk"},
    "rate": {"evaluator", "supervisor", "admin"},
    "open": {"clerk", "supervisor", "admin"},
    "stats": {"supervisor", "admin"},
    "manage": {"supervisor", "admin"},
    "callback": {"clerk", "supervisor", "admin"},
    "book": {"booking", "clerk", "supervisor", "admin"},  # appointments: slots, book, cancel
    "check-in": {"kiosk"},
    **{c: {"clerk", "counter", "supervisor", "admin"} for c in _WINDOW_COMMANDS - {"open"}},
}


def may(actor: Actor, command: str, window: int | None = None) -> bool:
    """The one place that says whether `actor` may send `command` (to `window`)."""
    if actor.role not in _ALLOWED.get(command, ()):
        return False
    if window is not None and not actor.is_manager:
        return actor.window == window
    return True


# hashlib.scrypt refuses more memory than this by default; such a hash would never verify.
_SCRYPT_MAX_MEMORY = 32 * 1024 * 1024


def pin_hash_problem(pin_hash: str) -> str | None:
    """What is wrong with a `pin_hash` from the config, or None: a placeholder or a damaged
    hash would otherwise load and only fail, unexplained, at the clerk's first login."""
    fields = pin_hash.split("$")
    if len(fields) != 6 or fields[0] != "scrypt":
        return "not a pin_hash (scrypt$n$r$p$salt$hash)"
    n, r, p = (int(v) if v.isascii() and v.isdigit() else 0 for v in fields[1:4])
    if not (n >= 2**10 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
        return "its scrypt parameters n, r, p are out of range"
    if 128 * n * r * p > _SCRYPT_MAX_MEMORY:
        return "its scrypt parameters need more memory than a check may take"
    try:
        salt, digest = (base64.b64decode(v, validate=True) for v in fields[4:])
    except ValueError:
        return "its salt or hash is not base64"
    if len(salt) < 8 or len(digest) != 64:
        return "its salt or hash has the wrong length"
    return None
