"""What the wall screen shows, worked out from the hall's state: texts and kinds only, no pygame.

`build_screen(...)` turns a snapshot into a `Screen`; the renderer (display/render.py) only
places and paints it. Everything shown is public: ticket numbers, never names (HALL-RULES #11)
— the clerk's name in the snapshot is never read here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

HISTORY = 7

TEXT: dict[str, dict[str, str]] = {
    "now_calling": {"zh": "正在叫号", "en": "Now calling"},
    "go_to": {"zh": "请到 {zh}", "en": "Please go to {en}"},
    "recent": {"zh": "最近叫号", "en": "Recent calls"},
    "waiting": {"zh": "等候人数", "en": "Waiting"},
    "calling": {"zh": "正在呼叫", "en": "Calling"},
    "serving": {"zh": "正在办理", "en": "Serving"},
    "idle": {"zh": "空闲", "en": "Free"},
    "away": {"zh": "暂时离开", "en": "Temporarily away"},
    "closed": {"zh": "暂停服务", "en": "Closed"},
    "hours": {"zh": "营业时间", "en": "Hours"},
    "break": {"zh": "午休", "en": "break"},
    "stopped": {"zh": "停止取号", "en": "No more tickets today"},
    "stopped_detail": {"zh": "已取号的客户请耐心等候，均将办理完毕",
                       "en": "Everyone holding a ticket will still be served"},
    "not_issuing": {"zh": "暂停取号", "en": "Not issuing tickets now"},
    "issuing_from": {"zh": "{time} 起取号", "en": "from {time}"},
    "offline": {"zh": "离线 · 正在重新连接", "en": "Offline · reconnecting"},
    "connecting": {"zh": "正在连接服务器…", "en": "Connecting to the server…"},
    "token_refused": {"zh": "令牌无效", "en": "Token refused — check this device's token"},
    "no_calls": {"zh": "请取号等候叫号", "en": "Please take a ticket and wait for your number"},
    "notice": {"zh": "公告", "en": "Notice"},
    "recalled": {"zh": "重呼{n}次", "en": "recalled ×{n}"},
    # a called ticket's class, beside its number (the printed ticket names it the same way)
    "priority": {"zh": "绿色通道", "en": "Priority"},
    "vip": {"zh": "贵宾", "en": "VIP"},
    "appointment": {"zh": "预约", "en": "Appointment"},
    "about": {"zh": "约{m}分钟", "en": "~{m} min"},
    "no_window": {"zh": "暂无窗口", "en": "no window now"},
}
MARKED_CLASSES = ("priority", "vip", "appointment")
WEEKDAYS_ZH = "一二三四五六日"
WINDOW_KINDS = ("calling", "serving", "idle", "away", "closed")


@dataclass(frozen=True)
class CallLine:
    number: str
    window: int
    go_to: tuple[str, ...]  # "请到 3号窗口", "Please go to Window 3"
    window_name: str  # in the first language: "3号窗口"
    recalls: int = 0
    highlight: float = 0.0  # seconds of highlight left
    mark: tuple[str, ...] = ()  # its class in each language: 绿色通道 Priority, 预约 ...


@dataclass(frozen=True)
class WindowTile:
    number: int
    name: str
    kind: str  # one of WINDOW_KINDS
    status: tuple[str, ...]  # the status in each language
    ticket: str | None = None
    detail: str | None = None  # the away reason


@dataclass(frozen=True)
class ServiceCount:
    prefix: str
    names: tuple[str, ...]
    waiting: int
    wait: tuple[str, ...] = ()  # the estimated wait of a ticket taken now, when anyone waits


@dataclass(frozen=True)
class Screen:
    languages: tuple[str, ...]
    hall_name: str = ""
    date: tuple[str, ...] = ()
    clock: str = ""
    hours: str = ""
    issuing_note: tuple[str, ...] = ()  # empty while issuing
    issuing_stopped: bool = False  # after the last ticket: 停止取号
    current: CallLine | None = None
    history: tuple[CallLine, ...] = ()
    windows: tuple[WindowTile, ...] = ()
    services: tuple[ServiceCount, ...] = ()
    notice: str = ""
    offline: bool = False
    connecting: bool = False  # no state ever received
    refused: bool = False  # the server refuses this display's token

    def text(self, key: str, **values: str) -> tuple[str, ...]:
        return tr(key, self.languages, **values)

    def all_text(self) -> str:
        """Every string on the screen (for tests: nothing private may appear)."""
        parts = [self.hall_name, *self.date, self.clock, self.hours, *self.issuing_note,
                 self.notice]
        for call in ([self.current] if self.current else []) + list(self.history):
            parts += [call.number, call.window_name, *call.go_to, *call.mark]
        for tile in self.windows:
            parts += [tile.name, *tile.status, tile.ticket or "", tile.detail or ""]
        for service in self.services:
            parts += [service.prefix, *service.names]
        return "\n".join(parts)


def tr(key: str, languages: tuple[str, ...], **values: str) -> tuple[str, ...]:
    texts = TEXT[key]
    return tuple(texts[code].format(**values) for code in languages if code in texts)


def build_screen(state: dict | None, connected: bool, now: float,
                 highlight: Callable[[dict], float] = lambda call: 0.0,
                 refused: bool = False) -> Screen:
    """The screen for `state` at epoch time `now` (the server's clock); `refused` while the
    server refuses this display's token."""
    if state is None:
        return Screen(languages=("zh", "en"), connecting=True, refused=refused,
                      clock=datetime.fromtimestamp(now).strftime("%H:%M"))
    hall = state["hall"]
    languages = tuple(c for c in hall.get("languages") or ("zh", "en") if c in ("zh", "en"))
    languages = languages or ("zh", "en")
    local = datetime.fromtimestamp(now, ZoneInfo(hall.get("timezone") or "Asia/Shanghai"))
    recent = state.get("recent_calls", [])
    calls = [_call_line(c, languages, highlight(c) if i == 0 else 0.0)
             for i, c in enumerate(recent)]
    current = _still_open(recent, calls, state.get("windows", []))
    return Screen(
        languages=languages,
        hall_name=hall.get("name", ""),
        date=_date(local, languages),
        clock=local.strftime("%H:%M"),
        hours=_hours(hall.get("hours") or {}, languages),
        issuing_note=_issuing_note(hall, languages),
        issuing_stopped=bool(hall.get("last_ticket_passed")),
        current=current,
        history=_history(calls, current),
        windows=tuple(_window(w, languages) for w in state.get("windows", [])),
        services=tuple(_service(s, languages) for s in state.get("services", [])),
        notice=(hall.get("notice") or "").strip(),
        offline=not connected,
        refused=refused and not connected,
    )


def _call_line(call: dict, languages: tuple[str, ...], highlight: float) -> CallLine:
    name = call.get("window_name") or {}
    if not isinstance(name, dict):
        name = {"zh": str(name), "en": str(name)}
    names = {"zh": name.get("zh") or f"{call['window']}号窗口",
             "en": name.get("en") or f"Window {call['window']}"}
    priority = call.get("priority")
    return CallLine(number=call["number"], window=call["window"],
                    go_to=tr("go_to", languages, **names), window_name=names[languages[0]],
                    recalls=call.get("recalls", 0), highlight=highlight,
                    mark=tr(priority, languages) if priority in MARKED_CLASSES else ())


def _still_open(recent: list[dict], calls: list[CallLine],
                windows: list[dict]) -> CallLine | None:
    """The newest call whose customer is still called or served at that window. A call whose
    ticket was finished, or whose window went away or closed, is no longer "now calling": a
    customer would walk to an empty window."""
    at_window = {w.get("number"): w for w in windows}
    for call, line in zip(recent, calls, strict=True):
        window = at_window.get(call["window"]) or {}
        ticket = window.get("ticket") or {}
        if window.get("status") in ("calling", "serving") and \
                ticket.get("number") == call["number"]:
            return line
    return None


def _history(calls: list[CallLine], current: CallLine | None) -> tuple[CallLine, ...]:
    """The calls but the current one, newest first; a recalled number appears once, with its
    latest recall count."""
    seen = {(current.number, current.window)} if current else set()
    out = []
    for call in calls:
        if (call.number, call.window) in seen:
            continue
        seen.add((call.number, call.window))
        out.append(call)
    return tuple(out[:HISTORY])


def _date(local: datetime, languages: tuple[str, ...]) -> tuple[str, ...]:
    texts = {"zh": f"{local.year}年{local.month}月{local.day}日 星期{WEEKDAYS_ZH[local.weekday()]}",
             "en": local.strftime("%a %d %b %Y")}
    return tuple(texts[c] for c in languages)


def _hours(hours: dict, languages: tuple[str, ...]) -> str:
    if not hours.get("open"):
        return ""
    zh_first = languages[0] == "zh"
    label = "营业时间" if zh_first else "Hours"
    days = _days(hours.get("days") or [], zh_first)
    text = f"{label} {days}{' ' if days else ''}{hours['open']}–{hours['close']}"
    for start, end in hours.get("breaks") or []:
        text += f"  {'午休' if zh_first else 'Break'} {start}–{end}"
    return text


DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = {True: ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
             False: ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}


def _days(days: list[str], zh: bool) -> str:
    """"周一至周五" for a run of days, "周一、周三" otherwise; nothing when open every day."""
    index = sorted(DAY_KEYS.index(d) for d in days if d in DAY_KEYS)
    if not index or len(index) == 7:
        return ""
    names = DAY_NAMES[zh]
    if len(index) > 2 and index == list(range(index[0], index[-1] + 1)):
        return f"{names[index[0]]}{'至' if zh else '–'}{names[index[-1]]}"
    return ("、" if zh else ", ").join(names[i] for i in index)


def _issuing_note(hall: dict, languages: tuple[str, ...]) -> tuple[str, ...]:
    if hall.get("last_ticket_passed"):  # rule #8: those already waiting are still served
        return ("  ".join(tr("stopped", languages)), " · ".join(tr("stopped_detail", languages)))
    if hall.get("issuing", True):
        return ()
    note = tr("not_issuing", languages)
    if hall.get("next_issuing_at"):
        at = hall["next_issuing_at"][11:16]
        note = tuple(f"{a} {b}" for a, b in zip(note, tr("issuing_from", languages, time=at),
                                                   strict=True))
    return note


def _window(window: dict, languages: tuple[str, ...]) -> WindowTile:
    status = window.get("status", "closed")
    kind = status if status in WINDOW_KINDS else "closed"
    ticket = (window.get("ticket") or {}).get("number") if kind in ("calling", "serving") else None
    detail = None
    if kind == "away":
        detail = _away_reason(window.get("away") or {}, languages)
    name = window.get("name") or {}
    first = name.get(languages[0]) if isinstance(name, dict) else str(name)
    return WindowTile(number=window["number"], name=first or str(window["number"]), kind=kind,
                      status=tr(kind, languages), ticket=ticket, detail=detail)


def _away_reason(away: dict, languages: tuple[str, ...]) -> str | None:
    """The reason in the display's languages ("午休 · Lunch"), each different name once."""
    names = {"zh": away.get("reason"), "en": away.get("reason_en") or away.get("reason")}
    shown = dict.fromkeys((names.get(lang) or "").strip() for lang in languages)
    return " · ".join(name for name in shown if name) or None


def _service(service: dict, languages: tuple[str, ...]) -> ServiceCount:
    names = service.get("name") or {}
    waiting = int(service.get("waiting") or 0)
    wait: tuple[str, ...] = ()
    if service.get("estimate_note"):  # no window serves it now
        wait = tr("no_window", languages)
    elif waiting and service.get("estimated_wait_min") is not None:
        wait = tr("about", languages, m=str(service["estimated_wait_min"]))
    return ServiceCount(prefix=service.get("prefix", ""),
                        names=tuple(names.get(c, "") for c in languages if names.get(c)),
                        waiting=waiting, wait=wait)
