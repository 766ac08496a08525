"""The region server's configuration: a TOML file, every key checked as the hall's is.

```toml
[region]
name = "某某供电公司 · Example Power"
listen = "127.0.0.1:8090"          # HOST:PORT; behind the company's reverse proxy
dsn = "postgresql:///hallq?host=/run/postgresql"   # libpq connection string or URI
public_url = "https://hallq.example.com"           # optional: where browsers open it
timezone = "Asia/Shanghai"
pool_size = 8                       # PostgreSQL connections of the server process
silent_minutes = 10                 # a hall with no contact this long is an alert
session_hours = 12                  # a region user's login lasts this long
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hall.config import ConfigError, _public_url, _Reader, _refuse_unknown_tables, read_toml

__all__ = ["ConfigError", "RegionConfig", "load_config", "parse_config"]

DEFAULT_PATH = Path("/etc/hallq/region.toml")


@dataclass(frozen=True)
class RegionConfig:
    name: str
    host: str
    port: int
    dsn: str
    public_url: str | None = None
    timezone: str = "Asia/Shanghai"
    pool_size: int = 8
    silent_minutes: int = 10
    session_hours: int = 12
    source: str = ""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_config(path: str | Path) -> RegionConfig:
    path = Path(path)
    return parse_config(read_toml(path), source=str(path))


def parse_config(raw: dict[str, Any], source: str = "") -> RegionConfig:
    """Check a decoded TOML document; an unknown key is refused with its path, as a typo
    would otherwise load silently with the default."""
    _refuse_unknown_tables(raw, tables=("region",), arrays=())
    r = _Reader(raw)
    t = r.table("region")
    host, port = _listen(r.string(t, "region.listen", default="127.0.0.1:8090"))
    timezone = r.string(t, "region.timezone", default="Asia/Shanghai")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"region.timezone: unknown time zone {timezone!r}") from None
    config = RegionConfig(
        name=r.string(t, "region.name", default="HallQ region"),
        host=host,
        port=port,
        dsn=_dsn(r.string(t, "region.dsn")),
        public_url=_public_url(r.string(t, "region.public_url", default=None),
                               key="region.public_url"),
        timezone=timezone,
        pool_size=r.integer(t, "region.pool_size", default=8, minimum=2, maximum=200),
        silent_minutes=r.integer(t, "region.silent_minutes", default=10, minimum=1,
                                 maximum=24 * 60),
        session_hours=r.integer(t, "region.session_hours", default=12, minimum=1, maximum=24 * 7),
        source=source,
    )
    r.refuse_unread_keys()
    return config


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f'region.listen: "HOST:PORT", such as "127.0.0.1:8090" '
                          f"(got {value!r})")
    return host, int(port)


def _dsn(value: str) -> str:
    """A libpq connection string (`host=... dbname=...`) or URI (`postgresql://...`)."""
    from psycopg.conninfo import conninfo_to_dict
    from psycopg.errors import ProgrammingError

    try:
        conninfo_to_dict(value)
    except ProgrammingError as error:
        raise ConfigError(f"region.dsn: not a PostgreSQL connection string: {error}") from None
    return value
