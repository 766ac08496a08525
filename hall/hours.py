"""Opening hours: when the kiosk issues tickets, and when it will again.

Windows keep calling outside these hours (a customer who took a number before `last_ticket` is
served, HALL-RULES.md #8): hours only govern issuing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hall.config import DAY_NAMES, Hours


@dataclass(frozen=True)
class Issuing:
    issuing: bool
    reason: str | None  # closed_day, before_open, break, after_last_ticket, after_close, paused
    next_at: datetime | None  # when issuing starts again


def local_time(epoch: float, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(epoch, tz)


def hall_day(epoch: float, tz: ZoneInfo) -> str:
    """The hall's calendar day (ticket numbers restart on each)."""
    return local_time(epoch, tz).date().isoformat()


def issuing_periods(hours: Hours) -> list[tuple[int, int]]:
    """Minutes-after-midnight intervals of an open day in which tickets are issued."""
    periods, start = [], hours.open
    for b_start, b_end in hours.breaks:
        if b_start > start:
            periods.append((start, min(b_start, hours.last_ticket)))
        start = max(start, b_end)
    if start < hours.last_ticket:
        periods.append((start, hours.last_ticket))
    return [(a, b) for a, b in periods if a < b]


def is_open_day(hours: Hours, day: date) -> bool:
    """A working day of the week that is not one of the hall's closed dates (国庆 …)."""
    return DAY_NAMES[day.weekday()] in hours.days and day.isoformat() not in hours.closed_dates


def open_periods(hours: Hours) -> list[tuple[int, int]]:
    """Minutes-after-midnight intervals of an open day in which the hall serves (the
    appointment slots lie in these): opening to closing, less the breaks."""
    periods, start = [], hours.open
    for b_start, b_end in hours.breaks:
        periods.append((start, b_start))
        start = b_end
    periods.append((start, hours.close))
    return [(a, b) for a, b in periods if a < b]


def issuing_at(hours: Hours, now: datetime, paused: bool = False) -> Issuing:
    """Whether the kiosk may issue at `now` (aware, in the hall's zone), and if not, why."""
    minute = now.hour * 60 + now.minute
    if is_open_day(hours, now.date()):
        for start, end in issuing_periods(hours):
            if start <= minute < end:
                return Issuing(False, "paused", None) if paused else Issuing(True, None, None)
    # Only a refusal says when issuing resumes: the search over the coming days is not made
    # for every ticket issued.
    nxt = next_issuing_start(hours, now)
    if not is_open_day(hours, now.date()):
        return Issuing(False, "closed_day", nxt)
    if minute < hours.open:
        return Issuing(False, "before_open", nxt)
    if minute >= hours.close:
        return Issuing(False, "after_close", nxt)
    if minute >= hours.last_ticket:
        return Issuing(False, "after_last_ticket", nxt)
    return Issuing(False, "break", nxt)


def next_issuing_start(hours: Hours, now: datetime) -> datetime | None:
    """The first start of an issuing period after `now`, within the coming fortnight."""
    minute = now.hour * 60 + now.minute
    for offset in range(15):
        day = now.date() + timedelta(days=offset)
        if not is_open_day(hours, day):
            continue
        for start, _ in issuing_periods(hours):
            if offset == 0 and start <= minute:
                continue
            midnight = datetime(day.year, day.month, day.day, tzinfo=now.tzinfo)
            return midnight + timedelta(minutes=start)
    return None


def is_open(hours: Hours, now: datetime) -> bool:
    """Whether the hall is open to customers (breaks excluded)."""
    minute = now.hour * 60 + now.minute
    if not is_open_day(hours, now.date()) or not hours.open <= minute < hours.close:
        return False
    return not any(a <= minute < b for a, b in hours.breaks)


def clock_text(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
