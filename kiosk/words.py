"""Everything the kiosk says, in Chinese and English (both are always shown; the language
switch only changes which comes first and larger)."""

from __future__ import annotations

from datetime import datetime

WORDS: dict[str, tuple[str, str]] = {
    "choose": ("请选择业务", "Please choose a service"),
    "priority": ("绿色通道", "Priority"),
    "priority_for": ("老年人、残疾人、孕妇优先", "Elderly, disabled, pregnant"),
    "priority_confirm": ("绿色通道：请选择业务以确认",
                         "Priority ticket: choose a service to confirm"),
    "priority_note": ("工作人员可能会核实，谢谢理解",
                      "Staff may check. Thank you for understanding"),
    "cancel": ("返回", "Back"),
    "switch": ("English", "中文"),
    "waiting": ("等候 {n} 人", "{n} waiting"),
    "no_wait": ("无需等候", "No one waiting"),
    "about": ("约 {m} 分钟", "about {m} min"),
    "issuing": ("正在取号…", "Issuing your ticket…"),
    "still_trying": ("正在连接服务器，请稍候", "Reaching the server, please wait"),
    "your_number": ("您的号码", "Your number"),
    "ahead": ("前面还有 {n} 人", "{n} ahead of you"),
    "ahead_range": ("前面约 {low}–{high} 人", "about {low}–{high} ahead of you"),
    "wait": ("预计等候约 {m} 分钟", "Estimated wait about {m} min"),
    "take_ticket": ("请取走号票，留意叫号", "Please take your ticket and listen for your number"),
    "print_failed": ("号票未能打印，请记住您的号码", "The ticket could not be printed: "
                     "please remember your number"),
    "scan": ("扫码查看排队进度", "Scan to follow your turn"),
    "touch_home": ("点击屏幕返回", "Touch to go back"),
    "closed": ("暂停取号", "Not issuing tickets now"),
    "resumes": ("{when} 开始取号", "Tickets from {when_en}"),
    "refused": ("未能取号", "No ticket issued"),
    "full": ("今日号已取完", "No more tickets today"),
    "offline": ("暂时无法取号", "Cannot issue tickets right now"),
    "offline_why": ("正在连接服务器，请稍候或咨询工作人员",
                    "Reconnecting to the server: please wait or ask the staff"),
    "token_refused": ("令牌无效", "Token refused"),
    "token_refused_why": ("服务器不接受本机的令牌，请检查本设备的令牌",
                          "Token refused — check this device's token"),
    "unreachable_why": ("服务器未应答，没有发出号码，请稍后再试",
                        "The server did not answer, no number was issued. Please try again"),
    "no_paper": ("打印机缺纸，暂停取号", "The printer is out of paper: tickets paused"),
    "printer_trouble": ("打印机故障，暂停取号", "Printer problem: tickets paused"),
    "ask_staff": ("请咨询工作人员", "Please ask the staff"),
    "printer_banner": ("打印机故障，号码将显示在屏幕上", "Printer problem: your number will be "
                       "shown on the screen"),
    "hours": ("营业时间 {open}–{close}", "Open {open}–{close}"),
    "break": ("午休 {a}–{b}", "break {a}–{b}"),
    "last_ticket": ("{t} 停止取号", "last ticket {t}"),
    "appointment": ("预约取号", "Booked? Check in"),
    "appointment_for": ("已预约的客户请点此签到", "Customers with a booking"),
    "enter_code": ("请输入 6 位预约码", "Enter your 6-digit booking code"),
    "scan_code": ("或将预约二维码对准扫码口", "or hold your booking's QR code to the scanner"),
    "check_in": ("签到取号", "Check in"),
    "delete": ("删除", "Delete"),
    "checking_in": ("正在签到…", "Checking you in…"),
    "your_slot": ("预约时段 {slot}", "Your slot {slot}"),
    "too_early": ("签到时间未到", "Too early to check in"),
    "opens_at": ("{t} 起可签到", "Check-in opens at {t}"),
    "come_back": ("请稍后再来签到", "Please come back then"),
    "too_late": ("已过预约时间", "Your booking time has passed"),
    "normal_ticket": ("取普通号", "Take a normal ticket"),
}

REASONS: dict[str, tuple[str, str]] = {
    "closed_day": ("今天不办理业务", "Closed today"),
    "before_open": ("尚未开始取号", "Not issuing yet"),
    "break": ("午间休息，暂停取号", "Lunch break"),
    "after_last_ticket": ("今日已停止取号", "No more tickets today"),
    "after_close": ("今日已停止取号", "No more tickets today"),
    # under the title 暂停取号: says who paused it and what to do, not the title again
    "paused": ("已由工作人员暂停，请稍候", "Paused by the staff: please wait"),
}

PRINTER: dict[str, tuple[str, str]] = {
    "no_paper": ("打印纸用完", "out of paper"),
    "offline": ("打印机未连接", "printer not reachable"),
    "cover_open": ("纸仓盖打开", "printer cover open"),
    "error": ("打印机故障", "printer error"),
}

PRIORITY: dict[str, tuple[str, str]] = {
    "priority": ("绿色通道", "Priority"),
    "vip": ("贵宾", "VIP"),
    "appointment": ("预约", "Appointment"),
}

DAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def say(key: str, **values: object) -> tuple[str, str]:
    zh, en = WORDS[key]
    return zh.format(**values), en.format(**values)


def ahead_words(low: int, high: int | None = None) -> tuple[str, str]:
    """How many are ahead, as the server's estimate gives it: one figure when it is sure
    (`high` None or equal), else the range the bench scores (ahead_low–ahead_high)."""
    if high is None or high == low:
        return say("ahead", n=low)
    return say("ahead_range", low=low, high=high)


def ticket_ahead(ticket: dict) -> tuple[str, str] | None:
    """The ahead words of a ticket from the server; None when it carries no count. An older
    server sends `ahead` alone: then the figure."""
    if ticket.get("ahead") is None:
        return None
    low = ticket.get("ahead_low")
    if low is None:
        return ahead_words(ticket["ahead"])
    return ahead_words(low, ticket.get("ahead_high"))


def slot_text(slot: dict | None) -> str:
    """"10:00–10:30" from a slot's ISO start and end."""
    if not slot:
        return ""
    start, end = (datetime.fromisoformat(slot[k]) for k in ("start", "end"))
    return f"{start:%H:%M}–{end:%H:%M}"


def split_message(message: str) -> tuple[str, str]:
    """The server's messages read "中文 · English"."""
    zh, _, en = message.partition(" · ")
    return zh.strip(), (en or zh).strip()


def unrepeated(title: tuple[str, str], lines: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The lines under a title, without one that only says the title again."""
    return [line for line in lines if line[0] != title[0]]


def resumes(next_at: str | None, now: datetime) -> tuple[str, str] | None:
    """"09:00 开始取号" (today), "明天 09:00" or "11-24 09:00" later."""
    if not next_at:
        return None
    when = datetime.fromisoformat(next_at)
    clock = when.strftime("%H:%M")
    days = (when.date() - now.astimezone(when.tzinfo).date()).days
    if days <= 0:
        zh, en = clock, clock
    elif days == 1:
        zh, en = f"明天 {clock}", f"{clock} tomorrow"
    else:
        zh = f"{when.month}月{when.day}日 {clock}"
        en = f"{DAYS_EN[when.weekday()]} {when.day} {when.strftime('%b')} {clock}"
    return say("resumes", when=zh, when_en=en)


DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def open_days(days: list[str]) -> tuple[str, str] | None:
    """"周一至周五 · Mon–Fri"; None when open every day, or every day but one."""
    index = sorted(DAY_KEYS.index(d) for d in days if d in DAY_KEYS)
    if not index or len(index) >= 6:
        return None
    if index == list(range(index[0], index[-1] + 1)) and len(index) > 2:
        return (f"{DAYS_ZH[index[0]]}至{DAYS_ZH[index[-1]]}",
                f"{DAYS_EN[index[0]]}–{DAYS_EN[index[-1]]}")
    return "、".join(DAYS_ZH[i] for i in index), ", ".join(DAYS_EN[i] for i in index)


def hours_line(hours: dict) -> tuple[str, str]:
    days = hours.get("days", [])
    named = open_days(days) or ("", "")
    zh, en = (text.format(open=f"{day} {hours['open']}".strip(), close=hours["close"])
              for text, day in zip(WORDS["hours"], named, strict=True))
    closed = [i for i, key in enumerate(DAY_KEYS) if key not in days]
    if len(closed) == 1:
        zh, en = f"{zh}（{DAYS_ZH[closed[0]]}休息）", f"{en} (closed {DAYS_EN[closed[0]]})"
    for a, b in hours.get("breaks", []):
        bzh, ben = say("break", a=a, b=b)
        zh, en = f"{zh}（{bzh}）", f"{en} ({ben})"
    if hours.get("last_ticket") and hours["last_ticket"] != hours["close"]:
        lzh, len_ = say("last_ticket", t=hours["last_ticket"])
        zh, en = f"{zh}，{lzh}", f"{en}, {len_}"
    return zh, en
