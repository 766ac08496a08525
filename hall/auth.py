"""PINs, tokens and who may do what.

PINs are hashed with scrypt (a standard memory-hard KDF from the standard library); tokens are
random and stored only as their SHA-256, so a copied database does not log anyone in. How many
derivations run at once is bounded here, as each holds 8 MiB.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from hall.errors import HallError

# New hashes use n=2**13, r=8: 8 MiB and ~14 ms per check on the development machine, so
# 40-70 ms on a Raspberry Pi 4 (3-5x slower), inside the 50-100 ms a login may take. n=2**14
# (the earlier setting, 16 MiB) would be 85-140 ms there and doubles the memory of each check.
# Hashes made with other parameters keep verifying with the ones written in them, and are
# rewritten with these at the owner's next login.
_SCRYPT = {"n": 2**13, "r": 8, "p": 1}
_MAX_SCRYPT_MEMORY = 32 * 2**20  # hashlib's own default: no pin_hash makes a check take more

# Per address and staff id: five wrong PINs lock that pair for five minutes. Per address, ten
# failures in a minute block it for one minute, then two, four ... up to an hour.
MAX_PIN_FAILURES = 5
LOCK_SECONDS = 5 * 60
MAX_ID_FAILURES = 20  # an hour, from all addresses together; then only known addresses may try
ID_WINDOW_SECONDS = 3600
MAX_ADDRESS_FAILURES = 10
ADDRESS_WINDOW_SECONDS = 60
ADDRESS_BLOCK_MAX_SECONDS = 3600
MAX_FAILURE_ROWS = 2000  # failure records kept, whatever ids and addresses are sent
STAFF_ID_MAX = 32
PIN_MAX = 12
ADDRESS_MAX = 64

# At most KDF_THREADS derivations run at once, and at most KDF_WAITING more wait for one; any
# further login is answered `busy` at once instead of holding a thread and 8 MiB each. Only the
# pool's own threads ever run scrypt, so only their malloc arenas hold its big buffers: memory
# after a burst stays at a few times 8 MiB, where every request thread kept its own before.
KDF_THREADS = 2
KDF_WAITING = 6
_kdf_pool = ThreadPoolExecutor(max_workers=KDF_THREADS, thread_name_prefix="kdf")
_kdf_slots = threading.BoundedSemaphore(KDF_THREADS + KDF_WAITING)
_dummy_hash: str | None = None


class KdfSlot:
    """`with kdf_slot():` around a login's checks: taken at once, or `busy`."""

    def __enter__(self) -> None:
        if not _kdf_slots.acquire(blocking=False):
            raise HallError("busy", "服务器忙，请稍后再试 · Busy, try again in a moment",
                            retry_after=1)

    def __exit__(self, *exc: object) -> None:
        _kdf_slots.release()


kdf_slot = KdfSlot


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return _kdf_pool.submit(hashlib.scrypt, pin.encode(), salt=salt, n=n, r=r, p=p,
                            maxmem=_MAX_SCRYPT_MEMORY).result()


def hash_pin(pin: str) -> str:
    """Return a `scrypt$n$r$p$salt$hash` string for the config's `pin_hash`."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(pin, salt, **_SCRYPT)
    return "scrypt${n}${r}${p}$".format(**_SCRYPT) + "$".join(
        base64.b64encode(v).decode() for v in (salt, digest)
    )


def verify_pin(pin: str, pin_hash: str | None) -> bool:
    """Whether `pin` matches `pin_hash`. With no hash (an unknown staff id) a dummy hash of
    the current parameters is checked, so that the answer takes as long as for a real id."""
    if pin_hash is None:
        _matches(pin, _dummy())
        return False
    return _matches(pin, pin_hash)


def _matches(pin: str, pin_hash: str) -> bool:
    try:
        _, n, r, p, salt, digest = pin_hash.split("$")
        expected = base64.b64decode(digest)
        actual = _scrypt(pin, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError, OverflowError, MemoryError):
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(pin_hash: str) -> bool:
    """Whether a hash was made with other parameters than new ones are."""
    return not pin_hash.startswith("scrypt${n}${r}${p}$".format(**_SCRYPT))


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_pin(secrets.token_hex(8))
    return _dummy_hash


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


def pin_hash_problem(pin_hash: str) -> str | None:
    """What is wrong with a `pin_hash` from the config, or None: a placeholder or a damaged
    hash would otherwise load and only fail, unexplained, at the clerk's first login."""
    fields = pin_hash.split("$")
    if len(fields) != 6 or fields[0] != "scrypt":
        return "not a pin_hash (scrypt$n$r$p$salt$hash)"
    n, r, p = (int(v) if v.isascii() and v.isdigit() else 0 for v in fields[1:4])
    if not (n >= 2**10 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
        return "its scrypt parameters n, r, p are out of range"
    if 128 * n * r * p > _MAX_SCRYPT_MEMORY:
        return "its scrypt parameters need more memory than a check may take"
    try:
        salt, digest = (base64.b64decode(v, validate=True) for v in fields[4:])
    except ValueError:
        return "its salt or hash is not base64"
    if len(salt) < 8 or len(digest) != 64:
        return "its salt or hash has the wrong length"
    return None
