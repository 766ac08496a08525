"""The hall configuration: read a TOML file, check every key, and build plain objects.

A config error names the key and the problem (`services[2].prefix: ...`); the server refuses to
start half-configured.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PRIORITY_CLASSES = ("normal", "priority", "vip", "appointment")
STAFF_ROLES = ("clerk", "supervisor", "admin")
DEVICE_ROLES = ("kiosk", "display", "evaluator", "counter")
WINDOW_FLAGS = ("priority", "vip")
CALL_POLICIES = ("priority_first", "service_order")
LANGUAGES = ("zh", "en")

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


@dataclass(frozen=True)
class Rules:
    away_limit_minutes: float = 10
    max_recalls: int = 2
    rating_minutes: float = 5
    call_policy: str = "priority_first"
    no_paper_no_ticket: bool = False
    supervisor_session_hours: float = 12  # a clerk's session ends with the hall day


@dataclass(frozen=True)
class Service:
    id: str
    prefix: str
    name: dict[str, str]
    avg_minutes: float
    daily_cap: int | None = None
    target_wait_minutes: float = 20


@dataclass(frozen=True)
class Window:
    number: int
    name: dict[str, str]
    services: tuple[str, ...]
    flags: tuple[str, ...] = ()


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
    _by_id: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id.update(
            service={s.id: s for s in self.services},
            window={w.number: w for w in self.windows},
            staff={s.id: s for s in self.staff},
            token={d.token: d for d in self.devices},
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


def load_config(path: str | Path | None = None) -> HallConfig:
    """Read and check a hall TOML file; without a path, the bundled demo hall."""
    path = Path(path) if path else DEMO_CONFIG
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(raw, source=str(path))


def parse_config(raw: dict[str, Any], source: str = "") -> HallConfig:
    """Check a decoded TOML document and build the HallConfig."""
    r = _Reader(raw)
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

    services = tuple(_service(r, s, f"services[{i}]") for i, s in enumerate(r.array("services")))
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

    return HallConfig(
        name=name,
        timezone=timezone,
        languages=languages,
        hours=_hours(r, r.table("hours")),
        rules=_rules(r, r.table("rules", required=False)),
        services=services,
        windows=windows,
        staff=staff,
        devices=devices,
        public_url=r.string(hall, "hall.public_url", default=None),
        notice=r.optional_text(hall, "hall.notice"),
        ticket_footer=r.optional_text(hall, "hall.ticket_footer"),
        source=source,
    )


def _service(r: _Reader, t: dict, key: str) -> Service:
    sid = r.string(t, f"{key}.id")
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", sid):
        raise ConfigError(f"{key}.id: use lower-case letters, digits, - or _ (got {sid!r})")
    prefix = r.string(t, f"{key}.prefix")
    if not re.fullmatch(r"[A-Z]{1,2}", prefix):
        raise ConfigError(f"{key}.prefix: one or two capital letters A-Z (got {prefix!r})")
    cap = r.integer(t, f"{key}.daily_cap", default=None, minimum=1, maximum=999)
    return Service(
        id=sid,
        prefix=prefix,
        name=r.names(t, f"{key}.name"),
        avg_minutes=r.number(t, f"{key}.avg_minutes", default=5, minimum=0.5, maximum=240),
        daily_cap=cap,
        target_wait_minutes=r.number(
            t, f"{key}.target_wait_minutes", default=20, minimum=1, maximum=600
        ),
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
    return Window(number=number, name=name, services=tuple(services), flags=tuple(flags))


def _staff(r: _Reader, t: dict, key: str) -> Staff:
    sid = r.string(t, f"{key}.id")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", sid):
        raise ConfigError(f"{key}.id: letters, digits, - or _ (got {sid!r})")
    role = r.choice(t, f"{key}.role", STAFF_ROLES, default="clerk")
    pin_hash = r.string(t, f"{key}.pin_hash")
    if not pin_hash.startswith("scrypt$"):
        raise ConfigError(f"{key}.pin_hash: make one with `python server.py hash-pin PIN`")
    return Staff(id=sid, name=r.string(t, f"{key}.name"), role=role, pin_hash=pin_hash)


def _device(r: _Reader, t: dict, key: str, window_numbers: set[int]) -> Device:
    role = r.choice(t, f"{key}.role", DEVICE_ROLES)
    token = r.string(t, f"{key}.token")
    if len(token) < 8:
        raise ConfigError(f"{key}.token: at least 8 characters")
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
    breaks = []
    for i, pair in enumerate(r.value(t, "hours.breaks", list, default=[])):
        key = f"hours.breaks[{i}]"
        if not (isinstance(pair, list) and len(pair) == 2):
            raise ConfigError(f'{key}: a break is ["HH:MM", "HH:MM"]')
        start, end = (_parse_clock(v, key) for v in pair)
        if not opens <= start < end <= closes:
            raise ConfigError(f"{key}: must lie within opening hours, start before end")
        breaks.append((start, end))
    return Hours(tuple(days), opens, closes, last, tuple(sorted(breaks)))


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

    def table(self, name: str, required: bool = True) -> dict:
        value = self.raw.get(name, _MISSING)
        if value is _MISSING:
            if required:
                raise ConfigError(f"[{name}]: this table is missing")
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: must be a table [{name}]")
        return value

    def array(self, name: str, min_len: int = 1) -> list[dict]:
        value = self.raw.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ConfigError(f"{name}: must be an array of tables [[{name}]]")
        if len(value) < min_len:
            raise ConfigError(f"[[{name}]]: name at least {min_len}")
        return value

    def value(self, t: dict, key: str, kind: type, default: Any = _MISSING) -> Any:
        leaf = key.rsplit(".", 1)[-1]
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
            if not isinstance(value.get(lang), str) or not value[lang].strip():
                raise ConfigError(f"{key}.{lang}: missing; give {{ zh = \"…\", en = \"…\" }}")
        return {"zh": value["zh"], "en": value["en"]}


_KIND_NAMES = {str: "a string", int: "a whole number", float: "a number", list: "a list",
               dict: "a table", bool: "true or false"}
