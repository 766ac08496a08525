"""The hall configuration: read a TOML file, check every key, and build plain objects.

A config error names the key and the problem (`services[2].prefix: ...`); the server refuses to
start half-configured.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hall.auth import pin_hash_problem

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PRIORITY_CLASSES = ("normal", "priority", "vip", "appointment")
STAFF_ROLES = ("clerk", "supervisor", "admin")
DEVICE_ROLES = ("kiosk", "display", "evaluator", "counter", "booking")
WINDOW_FLAGS = ("priority", "vip")
CALL_POLICIES = ("priority_first", "service_order")
LANGUAGES = ("zh", "en")

MIN_TOKEN_LENGTH = 16

DEMO_CONFIG = Path(__file__).with_name("demo_hall.toml")


class ConfigError(ValueError):
    """The configuration is wrong; the message names the key."""


@dataclass(frozen=True)
class Hours:
    days: tuple[str, ...]
    open: int  # minutes after midnight
    close: int
    last_ticket: int
    breaks: tuple[tuple[int, int], ...]
    closed_dates: frozenset[str] = frozenset()  # ISO dates (国庆 …): no tickets, no slots


@dataclass(frozen=True)
class Rules:
    away_limit_minutes: float = 10
    max_recalls: int = 2
    rating_minutes: float = 5
    call_policy: str = "priority_first"
    no_paper_no_ticket: bool = False
    supervisor_session_hours: float = 12  # a clerk's session ends with the hall day


@dataclass(frozen=True)
class Booking:
    """A bookable service's slots: `capacity` customers per `slot_minutes`."""

    slot_minutes: int
    capacity: int


@dataclass(frozen=True)
class Appointments:
    """When a booked customer may check in, and how long their phone number is kept."""

    checkin_early_minutes: float = 30  # check-in opens this long before the slot starts
    grace_minutes: float = 15  # and closes this long after it ends; later is a no-show
    head_start_minutes: float = 15  # how far ahead of walk-ins a slot's customer is called
    book_days_ahead: int = 30  # the last day that may be booked, counted from today
    purge_phone_days: int = 30  # phone numbers and names are erased this long after the slot


@dataclass(frozen=True)
class AwayReason:
    """Why a window is away: how long before the overdue alarm, and how long it usually lasts
    (when the estimates expect the window back)."""

    name: str
    limit_minutes: float
    expected_minutes: float
    name_en: str = ""  # what the pages and the display show in English; blank: the name


# The reasons the counter page offers; any other text a clerk gives follows 暂离's rule.
SHORT_AWAY, LUNCH = "暂离", "午休"
DEFAULT_LUNCH_MINUTES = 60


@dataclass(frozen=True)
class Service:
    id: str
    prefix: str
    name: dict[str, str]
    avg_minutes: float
    daily_cap: int | None = None
    target_wait_minutes: float = 20
    number_digits: int = 3  # A001; 4 for a service that passes 999 a day (A1000)
    booking: Booking | None = None  # None: not bookable

    @property
    def last_number(self) -> int:
        """The day's numbers run out here: 999, or 9999 with four digits."""
        return 10**self.number_digits - 1

    def ticket_number(self, n: int) -> str:
        return f"{self.prefix}{n:0{self.number_digits}d}"


@dataclass(frozen=True)
class Window:
    number: int
    name: dict[str, str]
    services: tuple[str, ...]
    flags: tuple[str, ...] = ()
    # This window's own breaks beside the hours' (a staggered lunch): the estimates expect no
    # call from it then.
    breaks: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Staff:
    id: str
    name: str
    role: str
    pin_hash: str


@dataclass(frozen=True)
class Device:
    id: str
    role: str
    token: str
    window: int | None = None


@dataclass(frozen=True)
class RegionLink:
    """`[region]`: where the hall ships its event log (hall/shipping.py, web/shipper.py)."""

    url: str  # the region server's base URL
    hall_id: str  # the hall's id at the region
    token: str  # the hall's token there (`hallq-region add-hall` printed it)


@dataclass(frozen=True)
class HallConfig:
    name: str
    timezone: str
    languages: tuple[str, ...]
    hours: Hours
    rules: Rules
    services: tuple[Service, ...]
    windows: tuple[Window, ...]
    staff: tuple[Staff, ...]
    devices: tuple[Device, ...]
    public_url: str | None = None
    notice: str = ""
    ticket_footer: str = ""
    source: str = ""
    appointments: Appointments = field(default_factory=Appointments)
    away_reasons: tuple[AwayReason, ...] = ()
    region: RegionLink | None = None  # None: the hall ships nothing
    _by_id: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id.update(
            service={s.id: s for s in self.services},
            window={w.number: w for w in self.windows},
            staff={s.id: s for s in self.staff},
            token={d.token: d for d in self.devices},
            away={a.name: a for a in self.away_reasons},
        )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def service(self, service_id: str) -> Service | None:
        return self._by_id["service"].get(service_id)

    def window(self, number: int) -> Window | None:
        return self._by_id["window"].get(number)

    def staff_member(self, staff_id: str) -> Staff | None:
        return self._by_id["staff"].get(staff_id)

    def device_by_token(self, token: str) -> Device | None:
        return self._by_id["token"].get(token)

    def away_reason(self, reason: str | None) -> AwayReason:
        """The rule of an away reason; a reason the hall did not name follows 暂离's."""
        by_name = self._by_id["away"]
        if reason in by_name:
            return by_name[reason]
        limit = self.rules.away_limit_minutes
        return by_name.get(SHORT_AWAY, AwayReason(SHORT_AWAY, limit, limit))

    def away_reason_en(self, reason: str | None) -> str | None:
        """The stored reason in English: the hall's name for it, else the text as stored (a
        clerk's own words are shown as they were given)."""
        known = self._by_id["away"].get(reason)
        return (known.name_en or known.name) if known else reason


def load_config(path: str | Path | None = None) -> HallConfig:
    """Read and check a hall TOML file; without a path, the bundled demo hall."""
    path = Path(path) if path else DEMO_CONFIG
    return parse_config(read_toml(path), source=str(path))


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file decoded, or a ConfigError that names the file (the region's config too)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def parse_config(raw: dict[str, Any], source: str = "") -> HallConfig:
    """Check a decoded TOML document and build the HallConfig. A key the hall does not know is
    refused with its path, as a typo would otherwise load silently with the default."""
    _refuse_unknown_tables(raw)
    r = _Reader(raw)
    config = _build(r, raw, source)
    r.refuse_unread_keys()
    return config


# The config's top level: [table] or [[array of tables]].
TABLES = ("hall", "hours", "rules", "appointments", "region")
ARRAYS = ("services", "windows", "staff", "devices", "away_reasons")


def _refuse_unknown_tables(raw: dict[str, Any], tables: tuple[str, ...] = TABLES,
                           arrays: tuple[str, ...] = ARRAYS) -> None:
    for name, value in raw.items():
        if name in tables or name in arrays:
            continue
        kind = "key" if not isinstance(value, dict | list) else "table"
        written = {f"[{t}]": t for t in tables} | {f"[[{a}]]": a for a in arrays}
        raise ConfigError(f"{name}: unknown {kind}{_did_you_mean(name, written)}")


def _did_you_mean(name: str, choices: dict[str, str] | Iterable[str]) -> str:
    """` (did you mean X?)` for the known name closest to a mistyped one; `choices` maps how
    each is written to its bare name."""
    written = choices if isinstance(choices, dict) else {c: c for c in choices}
    close = difflib.get_close_matches(name, list(written.values()), n=1, cutoff=0.6)
    if not close:
        return ""
    shown = next(w for w, bare in written.items() if bare == close[0])
    return f" (did you mean {shown}?)"


def _build(r: _Reader, raw: dict[str, Any], source: str) -> HallConfig:
    hall = r.table("hall")
    name = r.string(hall, "hall.name")
    timezone = r.string(hall, "hall.timezone", default="Asia/Shanghai")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"hall.timezone: unknown time zone {timezone!r}") from None
    languages = tuple(r.string_list(hall, "hall.languages", default=["zh", "en"]))
    for lang in languages:
        if lang not in LANGUAGES:
            raise ConfigError(f"hall.languages: {lang!r} is not one of {', '.join(LANGUAGES)}")
    if not languages:
        raise ConfigError("hall.languages: name at least one language")

    digits = _number_digits(r, hall, "hall.number_digits", 3)
    services = tuple(_service(r, s, f"services[{i}]", digits)
                     for i, s in enumerate(r.array("services")))
    _unique([s.id for s in services], "services", "id")
    _unique([s.prefix for s in services], "services", "prefix")
    service_ids = {s.id for s in services}

    windows = tuple(
        _window(r, w, f"windows[{i}]", service_ids) for i, w in enumerate(r.array("windows"))
    )
    _unique([w.number for w in windows], "windows", "number")
    window_numbers = {w.number for w in windows}

    staff = tuple(_staff(r, s, f"staff[{i}]") for i, s in enumerate(r.array("staff", min_len=0)))
    _unique([s.id for s in staff], "staff", "id")
    devices = tuple(
        _device(r, d, f"devices[{i}]", window_numbers)
        for i, d in enumerate(r.array("devices", min_len=0))
    )
    _unique([d.id for d in devices], "devices", "id")
    _unique([d.token for d in devices], "devices", "token")
    hours = _hours(r, r.table("hours"))
    rules = _rules(r, r.table("rules", required=False))

    config = HallConfig(
        name=name,
        timezone=timezone,
        languages=languages,
        hours=hours,
        rules=rules,
        services=services,
        windows=windows,
        staff=staff,
        devices=devices,
        public_url=_public_url(r.string(hall, "hall.public_url", default=None)),
        notice=r.optional_text(hall, "hall.notice"),
        ticket_footer=r.optional_text(hall, "hall.ticket_footer"),
        source=source,
        appointments=_appointments(r, r.table("appointments", required=False)),
        away_reasons=_away_reasons(r, hours, rules),
        region=_region(r, r.table("region", required=False)),
    )
    return config


def _region(r: _Reader, t: dict) -> RegionLink | None:
    """`[region] url, hall_id, token`: all three, or no table at all."""
    if not t:
        return None
    url = r.string(t, "region.url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"region.url: the region server's http:// or https:// address "
                          f"(got {url!r})")
    hall_id = r.string(t, "region.hall_id")
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,31}", hall_id):
        raise ConfigError("region.hall_id: the hall's id at the region: 1-32 lower-case "
                          f"letters, digits, - or _ (got {hall_id!r})")
    token = r.string(t, "region.token")
    if len(token) < MIN_TOKEN_LENGTH or not token.isascii() or not token.isprintable():
        raise ConfigError("region.token: the token `hallq-region add-hall` printed for this "
                          "hall")
    return RegionLink(url.rstrip("/"), hall_id, token)


def _public_url(url: str | None, key: str = "hall.public_url") -> str | None:
    """What the tickets' QR codes point at: phones must be able to open it."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{key}: an http:// or https:// address with a host, such "
                          f"as http://192.168.1.10:8080 (got {url!r})")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ConfigError(f"{key}: the port is not a number (got {url!r})") from None
    return url.rstrip("/")


def _number_digits(r: _Reader, t: dict, key: str, default: int) -> int:
    """Digits of a ticket number: 3 (A001 … A999) or 4 (A0001 … A9999), for the hall or one
    service; the display, the voice, the ticket and the kiosk all take either."""
    return r.integer(t, key, default=default, minimum=3, maximum=4)


def _away_reasons(r: _Reader, hours: Hours, rules: Rules) -> tuple[AwayReason, ...]:
    """暂离 is the hall's away limit (HALL-RULES #1), 午休 the configured lunch (the first break
    in the hours, else an hour), 会议 and 其他 as 暂离 until the hall says otherwise:
    `[[away_reasons]]` entries (name, name_en, limit_minutes, expected_minutes) change these or
    add others."""
    limit = rules.away_limit_minutes
    lunch = next((end - start for start, end in hours.breaks), DEFAULT_LUNCH_MINUTES)
    reasons = {SHORT_AWAY: AwayReason(SHORT_AWAY, limit, limit, "Short break"),
               LUNCH: AwayReason(LUNCH, lunch, lunch, "Lunch"),
               "会议": AwayReason("会议", limit, limit, "Meeting"),
               "其他": AwayReason("其他", limit, limit, "Other")}
    for i, t in enumerate(r.array("away_reasons", min_len=0)):
        key = f"away_reasons[{i}]"
        name = r.string(t, f"{key}.name").strip()
        known = reasons.get(name)
        limit_minutes = r.number(t, f"{key}.limit_minutes",
                                 default=known.limit_minutes if known else limit,
                                 minimum=0.05, maximum=600)
        expected = r.number(t, f"{key}.expected_minutes", default=limit_minutes,
                            minimum=0.05, maximum=600)
        name_en = r.optional_text(t, f"{key}.name_en") or (known.name_en if known else "")
        reasons[name] = AwayReason(name, limit_minutes, expected, name_en)
    return tuple(reasons.values())


def _service(r: _Reader, t: dict, key: str, hall_digits: int) -> Service:
    sid = r.string(t, f"{key}.id")
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", sid):
        raise ConfigError(f"{key}.id: use lower-case letters, digits, - or _ (got {sid!r})")
    prefix = r.string(t, f"{key}.prefix")
    if not re.fullmatch(r"[A-Z]{1,2}", prefix):
        raise ConfigError(f"{key}.prefix: one or two capital letters A-Z (got {prefix!r})")
    digits = _number_digits(r, t, f"{key}.number_digits", hall_digits)
    cap = r.integer(t, f"{key}.daily_cap", default=None, minimum=1, maximum=10**digits - 1)
    return Service(
        id=sid,
        prefix=prefix,
        name=r.names(t, f"{key}.name"),
        avg_minutes=r.number(t, f"{key}.avg_minutes", default=5, minimum=0.5, maximum=240),
        daily_cap=cap,
        target_wait_minutes=r.number(
            t, f"{key}.target_wait_minutes", default=20, minimum=1, maximum=600
        ),
        number_digits=digits,
        booking=_booking(r, t, f"{key}.booking"),
    )


def _booking(r: _Reader, t: dict, key: str) -> Booking | None:
    """`booking = { slot_minutes = 30, capacity = 4 }`: a service without it is not bookable."""
    booking = r.value(t, key, dict, default=None)
    if booking is None:
        return None
    return Booking(
        slot_minutes=r.integer(booking, f"{key}.slot_minutes", minimum=5, maximum=240),
        capacity=r.integer(booking, f"{key}.capacity", minimum=1, maximum=100),
    )


def _appointments(r: _Reader, t: dict) -> Appointments:
    key = "appointments."
    return Appointments(
        checkin_early_minutes=r.number(t, key + "checkin_early_minutes", default=30,
                                       minimum=0, maximum=240),
        grace_minutes=r.number(t, key + "grace_minutes", default=15, minimum=0, maximum=240),
        head_start_minutes=r.number(t, key + "head_start_minutes", default=15, minimum=0,
                                    maximum=240),
        book_days_ahead=r.integer(t, key + "book_days_ahead", default=30, minimum=0,
                                  maximum=366),
        purge_phone_days=r.integer(t, key + "purge_phone_days", default=30, minimum=1,
                                   maximum=3650),
    )


def _window(r: _Reader, t: dict, key: str, service_ids: set[str]) -> Window:
    number = r.integer(t, f"{key}.number", minimum=1, maximum=999)
    services = r.string_list(t, f"{key}.services")
    if not services:
        raise ConfigError(f"{key}.services: a window serves at least one service")
    for sid in services:
        if sid not in service_ids:
            raise ConfigError(f"{key}.services: unknown service {sid!r}")
    flags = r.string_list(t, f"{key}.flags", default=[])
    for flag in flags:
        if flag not in WINDOW_FLAGS:
            raise ConfigError(f"{key}.flags: {flag!r} is not one of {', '.join(WINDOW_FLAGS)}")
    default_name = {"zh": f"{number}号窗口", "en": f"Window {number}"}
    name = r.names(t, f"{key}.name") if "name" in t else default_name
    return Window(number=number, name=name, services=tuple(services), flags=tuple(flags),
                  breaks=_breaks(r, t, f"{key}.breaks"))


def _staff(r: _Reader, t: dict, key: str) -> Staff:
    sid = r.string(t, f"{key}.id")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", sid):
        raise ConfigError(f"{key}.id: letters, digits, - or _ (got {sid!r})")
    role = r.choice(t, f"{key}.role", STAFF_ROLES, default="clerk")
    pin_hash = r.string(t, f"{key}.pin_hash")
    problem = pin_hash_problem(pin_hash)
    if problem:
        raise ConfigError(f"{key}.pin_hash: {problem}; make one with "
                          "`python server.py hash-pin PIN`")
    return Staff(id=sid, name=r.string(t, f"{key}.name"), role=role, pin_hash=pin_hash)


def _device(r: _Reader, t: dict, key: str, window_numbers: set[int]) -> Device:
    role = r.choice(t, f"{key}.role", DEVICE_ROLES)
    token = r.string(t, f"{key}.token")
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(f"{key}.token: at least {MIN_TOKEN_LENGTH} characters, as anyone on "
                          "the hall's network may try to guess it; make one with python3 -c "
                          "'import secrets; print(secrets.token_urlsafe(24))'")
    window = r.integer(t, f"{key}.window", default=None, minimum=1, maximum=999)
    if role in ("evaluator", "counter") and window is None:
        raise ConfigError(f"{key}.window: a {role} belongs to one window; name it")
    if window is not None and window not in window_numbers:
        raise ConfigError(f"{key}.window: there is no window {window}")
    return Device(id=r.string(t, f"{key}.id"), role=role, token=token, window=window)


def _hours(r: _Reader, t: dict) -> Hours:
    days = r.string_list(t, "hours.days", default=list(DAY_NAMES[:5]))
    for day in days:
        if day not in DAY_NAMES:
            raise ConfigError(f"hours.days: {day!r} is not one of {', '.join(DAY_NAMES)}")
    opens = r.clock_time(t, "hours.open")
    closes = r.clock_time(t, "hours.close")
    if closes <= opens:
        raise ConfigError("hours.close: must be after hours.open")
    last = r.clock_time(t, "hours.last_ticket", default=closes)
    if not opens < last <= closes:
        raise ConfigError("hours.last_ticket: must lie after hours.open and not after hours.close")
    breaks = _breaks(r, t, "hours.breaks", opens, closes)
    closed = r.string_list(t, "hours.closed_dates", default=[])
    for i, value in enumerate(closed):
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ConfigError(f'hours.closed_dates[{i}]: a date is "YYYY-MM-DD" '
                              f"(got {value!r})") from None
    return Hours(tuple(days), opens, closes, last, breaks,
                 frozenset(date.fromisoformat(v).isoformat() for v in closed))


def _breaks(r: _Reader, t: dict, key: str, opens: int = 0,
            closes: int = 24 * 60) -> tuple[tuple[int, int], ...]:
    breaks = []
    for i, pair in enumerate(r.value(t, key, list, default=[])):
        item = f"{key}[{i}]"
        if not (isinstance(pair, list) and len(pair) == 2):
            raise ConfigError(f'{item}: a break is ["HH:MM", "HH:MM"]')
        start, end = (_parse_clock(v, item) for v in pair)
        if not opens <= start < end <= closes:
            raise ConfigError(f"{item}: must lie within opening hours, start before end")
        breaks.append((start, end))
    return tuple(sorted(breaks))


def _rules(r: _Reader, t: dict) -> Rules:
    return Rules(
        away_limit_minutes=r.number(t, "rules.away_limit_minutes", default=10, minimum=0.05,
                                    maximum=240),
        max_recalls=r.integer(t, "rules.max_recalls", default=2, minimum=0, maximum=10),
        rating_minutes=r.number(t, "rules.rating_minutes", default=5, minimum=0.1, maximum=60),
        call_policy=r.choice(t, "rules.call_policy", CALL_POLICIES, default="priority_first"),
        no_paper_no_ticket=r.value(t, "rules.no_paper_no_ticket", bool, default=False),
        supervisor_session_hours=r.number(t, "rules.supervisor_session_hours", default=12,
                                          minimum=0.1, maximum=24 * 7),
    )


def _unique(values: list, table: str, key: str) -> None:
    seen = set()
    for i, value in enumerate(values):
        if value in seen:
            raise ConfigError(f"{table}[{i}].{key}: {value!r} is used twice")
        seen.add(value)


def _parse_clock(value: Any, key: str) -> int:
    if not isinstance(value, str) or not re.fullmatch(r"\d{2}:\d{2}", value):
        raise ConfigError(f'{key}: a time is "HH:MM" (got {value!r})')
    hours, minutes = int(value[:2]), int(value[3:])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ConfigError(f"{key}: {value!r} is not a time of day")
    return hours * 60 + minutes


_MISSING = object()


class _Reader:
    """Typed access to the raw TOML that names the key in every complaint."""

    def __init__(self, raw: dict) -> None:
        self.raw = raw
        self._tables: dict[int, tuple[str, dict, set[str]]] = {}  # id -> (path, table, read)

    def _mark_read(self, t: dict, key: str) -> None:
        path, _, leaf = key.rpartition(".")
        self._register(path, t)
        self._tables[id(t)][2].add(leaf)

    def refuse_unread_keys(self) -> None:
        """Every key of every table read must have been asked for: the rest are typos or keys
        of another version, which would otherwise be ignored without a word."""
        for path, table, read in self._tables.values():
            for name in table:
                if name not in read:
                    raise ConfigError(f"{path}.{name}: unknown key{_did_you_mean(name, read)}")

    def table(self, name: str, required: bool = True) -> dict:
        value = self.raw.get(name, _MISSING)
        if value is _MISSING:
            if required:
                raise ConfigError(f"[{name}]: this table is missing")
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: must be a table [{name}]")
        self._register(name, value)
        return value

    def _register(self, path: str, t: dict) -> None:
        self._tables.setdefault(id(t), (path, t, set()))

    def array(self, name: str, min_len: int = 1) -> list[dict]:
        value = self.raw.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ConfigError(f"{name}: must be an array of tables [[{name}]]")
        if len(value) < min_len:
            raise ConfigError(f"[[{name}]]: name at least {min_len}")
        for i, t in enumerate(value):
            self._register(f"{name}[{i}]", t)
        return value

    def value(self, t: dict, key: str, kind: type, default: Any = _MISSING) -> Any:
        leaf = key.rsplit(".", 1)[-1]
        self._mark_read(t, key)
        if leaf not in t:
            if default is _MISSING:
                raise ConfigError(f"{key}: missing")
            return default
        value = t[leaf]
        if kind in (int, float) and isinstance(value, bool):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if kind is float and isinstance(value, int):
            return float(value)
        if not isinstance(value, kind):
            raise ConfigError(f"{key}: expected {_KIND_NAMES[kind]}, got {value!r}")
        return value

    def string(self, t: dict, key: str, default: Any = _MISSING) -> Any:
        value = self.value(t, key, str, default)
        if isinstance(value, str) and not value.strip():
            raise ConfigError(f"{key}: must not be empty")
        return value

    def optional_text(self, t: dict, key: str) -> str:
        """Free text a hall may leave out: missing or blank means none."""
        return self.value(t, key, str, default="").strip()

    def string_list(self, t: dict, key: str, default: Any = _MISSING) -> list[str]:
        value = self.value(t, key, list, default)
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key}: expected a list of strings, got {value!r}")
        return value

    def integer(self, t: dict, key: str, default: Any = _MISSING, minimum: int = 0,
                maximum: int = 10**9) -> Any:
        value = self.value(t, key, int, default)
        if value is not None and not minimum <= value <= maximum:
            raise ConfigError(f"{key}: must be between {minimum} and {maximum}, got {value}")
        return value

    def number(self, t: dict, key: str, default: Any = _MISSING, minimum: float = 0,
               maximum: float = 1e9) -> float:
        value = self.value(t, key, float, default)
        if not minimum <= value <= maximum:
            raise ConfigError(f"{key}: must be between {minimum} and {maximum}, got {value}")
        return float(value)

    def choice(self, t: dict, key: str, choices: tuple[str, ...], default: Any = _MISSING) -> str:
        value = self.value(t, key, str, default)
        if value not in choices:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(choices)}")
        return value

    def clock_time(self, t: dict, key: str, default: Any = _MISSING) -> int:
        value = self.value(t, key, str, _MISSING if default is _MISSING else None)
        return default if value is None else _parse_clock(value, key)

    def names(self, t: dict, key: str) -> dict[str, str]:
        value = self.value(t, key, dict)
        for lang in ("zh", "en"):
            self._mark_read(value, f"{key}.{lang}")
            if not isinstance(value.get(lang), str) or not value[lang].strip():
                raise ConfigError(f"{key}.{lang}: missing; give {{ zh = \"…\", en = \"…\" }}")
        return {"zh": value["zh"], "en": value["en"]}


_KIND_NAMES = {str: "a string", int: "a whole number", float: "a number", list: "a list",
               dict: "a table", bool: "true or false"}
