"""Drawing the kiosk's screens with pygame; every size follows the window, so one layout serves
landscape and portrait touch screens. `draw()` returns the buttons it drew as (rect, action)
for the touch handler."""

from __future__ import annotations

import math
import os
from datetime import datetime
from zoneinfo import ZoneInfo

import pygame
import pygame.freetype
import qrcode

from kiosk.kiosk import CODE_DIGITS, KioskView
from kiosk.words import (
    PRINTER,
    PRIORITY,
    REASONS,
    hours_line,
    resumes,
    say,
    slot_text,
    split_message,
    ticket_ahead,
    unrepeated,
)

FONT_FACES = (  # (path, face index): Noto's face 2 is Simplified Chinese; face 0 is Japanese
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
)

BG = (244, 246, 248)
INK = (27, 31, 36)
MUTED = (91, 101, 114)
BLUE = (11, 92, 173)
BLUE_DARK = (8, 66, 125)
GREEN = (31, 122, 58)
AMBER = (178, 106, 0)
AMBER_BG = (255, 243, 214)
RED = (179, 38, 30)
WHITE = (255, 255, 255)
TEAL = (0, 110, 122)  # appointments: neither the services' blue nor the green channel's green
CARD = (255, 255, 255)

Button = tuple[pygame.Rect, tuple]


def load_font(path: str | None = None) -> pygame.freetype.Font:
    """The first CJK font found (a hall may name its own with HALLQ_FONT=path[:index])."""
    pygame.freetype.init()
    faces = list(FONT_FACES)
    custom = path or os.environ.get("HALLQ_FONT")
    if custom:
        file, _, index = custom.partition(":")
        faces.insert(0, (file, int(index or 0)))
    for file, index in faces:
        if os.path.exists(file):
            font = pygame.freetype.Font(file, 24, font_index=index)
            font.pad = False
            return font
    raise RuntimeError("no Chinese font found: install fonts-noto-cjk or fonts-wqy-zenhei")


class Screen:
    def __init__(self, font: pygame.freetype.Font | None = None) -> None:
        self.font = font or load_font()
        self.buttons: list[Button] = []

    # -- drawing helpers ---------------------------------------------------------------------
    def text(self, surface: pygame.Surface, text: str, size: float, color: tuple,
             center: tuple[float, float] | None = None, topleft: tuple[float, float] | None = None,
             max_width: float | None = None, midright: tuple[float, float] | None = None,
             midleft: tuple[float, float] | None = None) -> pygame.Rect:
        size = max(8, int(size))
        if max_width:
            width = self.font.get_rect(text, size=size).width
            if width > max_width:
                size = max(8, int(size * max_width / width))
        image, rect = self.font.render(text, color, size=size)
        if center:
            rect.center = (int(center[0]), int(center[1]))
        elif midright:
            rect.midright = (int(midright[0]), int(midright[1]))
        elif midleft:
            rect.midleft = (int(midleft[0]), int(midleft[1]))
        else:
            rect.topleft = (int(topleft[0]), int(topleft[1])) if topleft else (0, 0)
        surface.blit(image, rect)
        return rect

    def pair(self, surface: pygame.Surface, words: tuple[str, str], lang: str, size: float,
             center: tuple[float, float], color: tuple, max_width: float,
             second_color: tuple | None = None) -> float:
        """Both languages, the chosen one first and larger; returns the y below them."""
        first, second = words if lang == "zh" else (words[1], words[0])
        x, y = center
        top = self.text(surface, first, size, color, center=(x, y), max_width=max_width)
        low = self.text(surface, second, size * 0.55, second_color or color,
                        center=(x, top.bottom + size * 0.45), max_width=max_width)
        return low.bottom

    def button(self, surface: pygame.Surface, rect: pygame.Rect, color: tuple,
               action: tuple) -> None:
        shadow = rect.move(0, max(2, rect.height // 40))
        pygame.draw.rect(surface, (190, 198, 208), shadow, border_radius=rect.height // 8)
        pygame.draw.rect(surface, color, rect, border_radius=rect.height // 8)
        self.buttons.append((rect, action))

    def hit(self, pos: tuple[int, int]) -> tuple:
        for rect, action in reversed(self.buttons):
            if rect.collidepoint(pos):
                return action
        return ("background",)

    def qr(self, surface: pygame.Surface, url: str, center: tuple[float, float],
           side: float) -> None:
        code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
        code.add_data(url)
        code.make(fit=True)
        matrix = code.get_matrix()
        cell = max(1, int(side // len(matrix)))
        full = cell * len(matrix)
        left, top = int(center[0] - full / 2), int(center[1] - full / 2)
        pygame.draw.rect(surface, WHITE, (left, top, full, full))
        for r, row in enumerate(matrix):
            for c, dark in enumerate(row):
                if dark:
                    pygame.draw.rect(surface, INK, (left + c * cell, top + r * cell, cell, cell))

    # -- the frame -----------------------------------------------------------------------------
    def draw(self, surface: pygame.Surface, view: KioskView) -> list[Button]:
        self.buttons = []
        surface.fill(BG)
        w, h = surface.get_size()
        self.unit = min(w, h) / 100  # one percent of the short side
        self.portrait = h > w
        body = self.header(surface, view)
        screen = view.screen
        if screen == "home":
            self.home(surface, view, body)
        elif screen == "priority":
            self.priority(surface, view, body)
        elif screen == "issuing":
            self.issuing(surface, view, body)
        elif screen == "issued":
            self.issued(surface, view, body)
        elif screen == "appointment":
            self.appointment(surface, view, body)
        else:
            self.notice(surface, view, body)
        self.footer(surface, view)
        return self.buttons

    def header(self, surface: pygame.Surface, view: KioskView) -> pygame.Rect:
        w, h = surface.get_size()
        u = self.unit
        bar = pygame.Rect(0, 0, w, int(max(h * 0.12, 14 * u)))
        pygame.draw.rect(surface, BLUE, bar)
        hall = view.state["hall"] if view.state else None
        name = hall["name"] if hall else "HallQ"
        lang = pygame.Rect(0, 0, int(min(bar.height * 1.9, w * 0.2)), int(bar.height * 0.56))
        lang.midright = (int(w - 3 * u), bar.centery)
        self.button(surface, lang, BLUE_DARK, ("lang",))
        self.text(surface, say("switch")[0 if view.lang == "zh" else 1], lang.height * 0.45,
                  WHITE, center=lang.center, max_width=lang.width * 0.9)
        tz = ZoneInfo(hall["timezone"]) if hall else None
        clock = self.text(surface, datetime.now(tz).strftime("%H:%M"), bar.height * 0.36, WHITE,
                          midright=(lang.left - 3 * u, bar.centery))
        room = clock.left - 6 * u
        subtitle = view.screen in ("home", "priority")
        if subtitle:
            self.text(surface, name, bar.height * 0.42, WHITE,
                      topleft=(3 * u, bar.height * 0.12), max_width=room)
        else:
            self.text(surface, name, bar.height * 0.42, WHITE,
                      midleft=(3 * u, bar.centery), max_width=room)
        if subtitle:
            words = say("choose") if view.lang == "zh" else say("choose")[::-1]
            self.text(surface, "  ·  ".join(words), bar.height * 0.22, (210, 226, 245),
                      topleft=(3 * u, bar.height * 0.64), max_width=room)
        footer_h = int(max(h * 0.07, 8 * u))
        return pygame.Rect(0, bar.bottom, w, h - bar.bottom - footer_h)

    def footer(self, surface: pygame.Surface, view: KioskView) -> None:
        w, h = surface.get_size()
        u = self.unit
        bar = pygame.Rect(0, int(h - max(h * 0.07, 8 * u)), w, int(max(h * 0.07, 8 * u)))
        trouble = view.printer[0] in PRINTER and view.screen == "home"
        pygame.draw.rect(surface, AMBER_BG if trouble else (228, 232, 237), bar)
        if trouble:
            zh, en = say("printer_banner")
            text = f"⚠ {zh} · {en}"
            self.text(surface, text, bar.height * 0.36, AMBER, center=bar.center,
                      max_width=w - 6 * u)
            return
        if view.state:
            zh, en = hours_line(view.state["hall"]["hours"])
            first, second = (zh, en) if view.lang == "zh" else (en, zh)
            size = bar.height * 0.36
            text = f"{first}   ·   {second}"
            if self.font.get_rect(text, size=int(size)).width <= w - 6 * u:
                self.text(surface, text, size, MUTED, center=bar.center)
            else:  # a narrow (portrait) screen: one language per line
                for line, y in ((first, 0.3), (second, 0.72)):
                    self.text(surface, line, bar.height * 0.3, MUTED,
                              center=(bar.centerx, bar.top + bar.height * y),
                              max_width=w - 6 * u)

    # -- screens -----------------------------------------------------------------------------
    def service_grid(self, surface: pygame.Surface, view: KioskView, area: pygame.Rect,
                     with_priority: bool, priority_ticket: bool = False) -> None:
        services = view.state["services"]
        extras = []
        if with_priority:
            extras.append(self.priority_button)
            if any(s.get("bookable") for s in services):
                extras.append(self.appointment_button)
        cells = len(services) + len(extras)
        cols = max(1, round(math.sqrt(cells * area.width / area.height / 1.2)))
        cols = min(cols, cells)
        rows = math.ceil(cells / cols)
        gap = 2.2 * self.unit
        cw = (area.width - gap * (cols + 1)) / cols
        ch = (area.height - gap * (rows + 1)) / rows
        for i in range(cells):
            r, c = divmod(i, cols)
            rect = pygame.Rect(int(area.left + gap + c * (cw + gap)),
                               int(area.top + gap + r * (ch + gap)), int(cw), int(ch))
            if i < len(services):
                self.service_button(surface, view, rect, services[i], priority_ticket)
            else:
                extras[i - len(services)](surface, view, rect)

    def service_button(self, surface: pygame.Surface, view: KioskView, rect: pygame.Rect,
                       service: dict, priority_ticket: bool) -> None:
        self.button(surface, rect, GREEN if priority_ticket else BLUE,
                    ("service", service["id"]))
        name = (service["name"].get("zh", service["id"]), service["name"].get("en", ""))
        size = min(rect.height * 0.25, rect.width * 0.17)
        bottom = self.pair(surface, name, view.lang, size,
                           (rect.centerx, rect.top + rect.height * 0.32), WHITE,
                           rect.width * 0.9, second_color=(220, 232, 246))
        if service.get("estimate_note"):  # no window serves it now: say when, not a figure
            line = split_message(service["estimate_note"])
        elif service["waiting"]:
            wait_zh, wait_en = say("waiting", n=service["waiting"])
            about_zh, about_en = say("about", m=service["estimated_wait_min"])
            line = (f"{wait_zh} · {about_zh}", f"{wait_en} · {about_en}")
        else:
            line = say("no_wait")
        self.text(surface, line[0] if view.lang == "zh" else line[1], size * 0.42,
                  (235, 242, 250), center=(rect.centerx, max(bottom + size * 0.5,
                                                              rect.bottom - rect.height * 0.14)),
                  max_width=rect.width * 0.92)

    def priority_button(self, surface: pygame.Surface, view: KioskView,
                        rect: pygame.Rect) -> None:
        self.extra_button(surface, view, rect, GREEN, ("priority",), "priority", "priority_for")

    def appointment_button(self, surface: pygame.Surface, view: KioskView,
                           rect: pygame.Rect) -> None:
        self.extra_button(surface, view, rect, TEAL, ("appointment",), "appointment",
                          "appointment_for")

    def extra_button(self, surface: pygame.Surface, view: KioskView, rect: pygame.Rect,
                     color: tuple, action: tuple, title: str, note: str) -> None:
        self.button(surface, rect, color, action)
        size = min(rect.height * 0.25, rect.width * 0.17)
        bottom = self.pair(surface, say(title), view.lang, size,
                           (rect.centerx, rect.top + rect.height * 0.32), WHITE,
                           rect.width * 0.9)
        words = say(note)
        self.text(surface, words[0] if view.lang == "zh" else words[1], size * 0.36,
                  (226, 244, 231), center=(rect.centerx, max(bottom + size * 0.5,
                                                              rect.bottom - rect.height * 0.14)),
                  max_width=rect.width * 0.92)

    def home(self, surface: pygame.Surface, view: KioskView, body: pygame.Rect) -> None:
        self.service_grid(surface, view, body, with_priority=True)

    def priority(self, surface: pygame.Surface, view: KioskView, body: pygame.Rect) -> None:
        u = self.unit
        top = pygame.Rect(body.left, body.top, body.width, int(body.height * 0.22))
        pygame.draw.rect(surface, (222, 242, 228), top)
        self.pair(surface, say("priority_confirm"), view.lang, top.height * 0.3,
                  (top.centerx - body.width * 0.08, top.top + top.height * 0.32), GREEN,
                  body.width * 0.75)
        cancel = pygame.Rect(0, 0, int(body.width * 0.13), int(top.height * 0.55))
        cancel.midright = (int(body.right - 3 * u), top.centery)
        self.button(surface, cancel, MUTED, ("cancel",))
        self.text(surface, say("cancel")[0 if view.lang == "zh" else 1], cancel.height * 0.42,
                  WHITE, center=cancel.center)
        note = say("priority_note")
        self.text(surface, note[0] if view.lang == "zh" else note[1], top.height * 0.14, MUTED,
                  center=(top.centerx - body.width * 0.08, top.bottom - top.height * 0.14),
                  max_width=body.width * 0.7)
        grid = pygame.Rect(body.left, top.bottom, body.width, body.bottom - top.bottom)
        self.service_grid(surface, view, grid, with_priority=False, priority_ticket=True)

    def issuing(self, surface: pygame.Surface, view: KioskView, body: pygame.Rect) -> None:
        words = say("checking_in") if view.code else say("issuing")
        if view.retrying:
            words = say("still_trying")
        self.pair(surface, words, view.lang, body.height * 0.1, body.center, BLUE,
                  body.width * 0.9)

    def appointment(self, surface: pygame.Surface, view: KioskView, body: pygame.Rect) -> None:
        """The booking code: six boxes, and a keypad (a barcode reader types into the boxes)."""
        u = self.unit
        if self.portrait:
            prompt = pygame.Rect(body.left, body.top, body.width, int(body.height * 0.4))
            pad = pygame.Rect(body.left, prompt.bottom, body.width, body.bottom - prompt.bottom)
            pad = pad.inflate(-int(body.width * 0.12), -4 * u)
        else:
            prompt = pygame.Rect(body.left, body.top, int(body.width * 0.56), body.height)
            pad = pygame.Rect(prompt.right, body.top, body.right - prompt.right, body.height)
            pad = pad.inflate(-4 * u, -6 * u)
        y = self.pair(surface, say("enter_code"), view.lang, prompt.height * 0.09,
                      (prompt.centerx, prompt.top + prompt.height * 0.18), TEAL,
                      prompt.width * 0.9)
        side = min(prompt.width * 0.8 / CODE_DIGITS, prompt.height * 0.2)
        gap = side * 0.15
        left = prompt.centerx - (CODE_DIGITS * side + (CODE_DIGITS - 1) * gap) / 2
        top = y + prompt.height * 0.07
        for i in range(CODE_DIGITS):
            box = pygame.Rect(int(left + i * (side + gap)), int(top), int(side), int(side))
            pygame.draw.rect(surface, CARD, box, border_radius=int(u))
            current = i == len(view.code)
            pygame.draw.rect(surface, TEAL if current else (190, 198, 208), box,
                             width=max(2, int(u * (0.7 if current else 0.35))),
                             border_radius=int(u))
            if i < len(view.code):
                self.text(surface, view.code[i], side * 0.7, INK, center=box.center)
        y = top + side + prompt.height * 0.08
        self.pair(surface, say("scan_code"), view.lang, prompt.height * 0.05,
                  (prompt.centerx, y), MUTED, prompt.width * 0.9)
        back = pygame.Rect(0, 0, int(prompt.width * 0.24), int(min(prompt.height * 0.12, 12 * u)))
        back.midbottom = (prompt.centerx, int(prompt.bottom - 2 * u))
        self.button(surface, back, MUTED, ("cancel",))
        self.text(surface, say("cancel")[0 if view.lang == "zh" else 1], back.height * 0.42,
                  WHITE, center=back.center)
        self.keypad(surface, view, pad)

    def keypad(self, surface: pygame.Surface, view: KioskView, pad: pygame.Rect) -> None:
        keys = [*"123456789", "delete", "0", "check_in"]
        gap = 1.6 * self.unit
        kw, kh = (pad.width - 2 * gap) / 3, (pad.height - 3 * gap) / 4
        ready = len(view.code) == CODE_DIGITS
        for i, key in enumerate(keys):
            r, c = divmod(i, 3)
            rect = pygame.Rect(int(pad.left + c * (kw + gap)), int(pad.top + r * (kh + gap)),
                               int(kw), int(kh))
            if key.isdigit():
                self.button(surface, rect, BLUE, ("digit", key))
                self.text(surface, key, rect.height * 0.55, WHITE, center=rect.center)
                continue
            if key == "check_in" and not ready:  # drawn, but not a button until six digits
                pygame.draw.rect(surface, (190, 198, 208), rect, border_radius=rect.height // 8)
                color = (235, 238, 242)
            else:
                self.button(surface, rect, TEAL if key == "check_in" else MUTED, (key,))
                color = WHITE
            words = say(key)
            self.pair(surface, words, view.lang, rect.height * 0.3,
                      (rect.centerx, rect.top + rect.height * 0.36), color, rect.width * 0.9)

    def issued(self, surface: pygame.Surface, view: KioskView, body: pygame.Rect) -> None:
        t = view.ticket
        u = self.unit
        lang = view.lang
        failed = view.print_problem is not None
        side_by_side = failed and not self.portrait
        col = pygame.Rect(body.left, body.top, int(body.width * (0.62 if side_by_side else 1)),
                          body.height if not (failed and self.portrait) else
                          int(body.height * 0.58))
        x = col.centerx
        service = next((s for s in view.state["services"] if s["id"] == t["service"]), None)
        name = (service["name"]["zh"], service["name"]["en"]) if service else (t["service"],) * 2
        y = col.top + col.height * 0.09
        self.text(surface, " · ".join(name if lang == "zh" else name[::-1]),
                  col.height * 0.07, MUTED, center=(x, y), max_width=col.width * 0.9)
        label = say("your_number")
        self.text(surface, label[0] if lang == "zh" else label[1], col.height * 0.05, MUTED,
                  center=(x, y + col.height * 0.09))
        number = self.text(surface, t["number"], col.height * 0.34, BLUE,
                           center=(x, col.top + col.height * 0.4), max_width=col.width * 0.9)
        y = number.bottom + col.height * 0.02
        if t.get("priority") in PRIORITY:
            mark = PRIORITY[t["priority"]]
            tag = self.text(surface, f"  {mark[0]} · {mark[1]}  ", col.height * 0.045, WHITE,
                            center=(x, y + col.height * 0.03))
            pygame.draw.rect(surface, GREEN, tag.inflate(2 * u, u), border_radius=int(u))
            self.text(surface, f"  {mark[0]} · {mark[1]}  ", col.height * 0.045, WHITE,
                      center=tag.center)
            y = tag.bottom + col.height * 0.01
        lines = []
        if t.get("slot"):  # called at the slot: a count of those ahead, a wait would mislead
            lines.append(say("your_slot", slot=slot_text(t["slot"])))
        else:
            if t.get("ahead") is not None:
                lines.append(ticket_ahead(t))
            if t.get("estimate_note"):  # no window serves it now: when one will, for a wait
                lines.append(split_message(t["estimate_note"]))
            elif t.get("estimated_wait_min") is not None:
                lines.append(say("wait", m=t["estimated_wait_min"]))
        for words in lines:
            y = self.pair(surface, words, lang, col.height * 0.06,
                          (x, y + col.height * 0.05), INK, col.width * 0.9) + col.height * 0.01
        if failed:
            self.print_failed(surface, view, body, col, side_by_side)
        else:
            box = pygame.Rect(0, 0, int(col.width * 0.8), int(col.height * 0.13))
            box.midbottom = (x, int(body.bottom - col.height * 0.03))
            pygame.draw.rect(surface, (222, 242, 228), box, border_radius=int(u * 1.5))
            self.pair(surface, say("take_ticket"), lang, box.height * 0.36,
                      (box.centerx, box.top + box.height * 0.34), GREEN, box.width * 0.94)

    def print_failed(self, surface: pygame.Surface, view: KioskView, body: pygame.Rect,
                     col: pygame.Rect, side_by_side: bool) -> None:
        u = self.unit
        if side_by_side:
            panel = pygame.Rect(col.right, body.top + 2 * u, body.right - col.right - 2 * u,
                                body.height - 4 * u)
        else:
            panel = pygame.Rect(body.left + 2 * u, col.bottom, body.width - 4 * u,
                                body.bottom - col.bottom - 2 * u)
        pygame.draw.rect(surface, AMBER_BG, panel, border_radius=int(2 * u))
        pygame.draw.rect(surface, AMBER, panel, width=max(2, int(u * 0.5)),
                         border_radius=int(2 * u))
        zh, en = say("print_failed")
        why = PRINTER.get(view.print_problem or "", ("打印机故障", "printer problem"))
        size = min(panel.width * 0.065, panel.height * 0.085)
        y = panel.top + size * 1.2
        for line, s, color in ((zh, size, AMBER), (f"（{why[0]}）", size * 0.7, AMBER),
                               (en, size * 0.62, INK), (f"({why[1]})", size * 0.55, MUTED)):
            for part in self.wrap(line, s, panel.width * 0.9):
                r = self.text(surface, part, s, color, center=(panel.centerx, y))
                y = r.bottom + s * 0.55
        if view.status_url:
            side = min(panel.width * 0.6, panel.bottom - y - size * 3)
            if side > 60:
                self.qr(surface, view.status_url, (panel.centerx, y + side / 2 + size * 0.3),
                        side)
                scan = say("scan")
                self.text(surface, f"{scan[0]} · {scan[1]}", size * 0.55, INK,
                          center=(panel.centerx, y + side + size * 1.0),
                          max_width=panel.width * 0.9)

    def wrap(self, text: str, size: float, width: float) -> list[str]:
        if self.font.get_rect(text, size=int(size)).width <= width:
            return [text]
        lines, line = [], ""
        for word in (text.split(" ") if text.isascii() else list(text)):
            joiner = " " if text.isascii() and line else ""
            if self.font.get_rect(line + joiner + word, size=int(size)).width > width and line:
                lines.append(line)
                line = word
            else:
                line += joiner + word
        return [*lines, line]

    def notice(self, surface: pygame.Surface, view: KioskView, body: pygame.Rect) -> None:
        """closed, offline, token_refused, no_paper, refused, unreachable: why no ticket, and
        until when."""
        color, title, lines = self.notice_words(view)
        u = self.unit
        panel = body.inflate(-8 * u, -8 * u)
        pygame.draw.rect(surface, CARD, panel, border_radius=int(2 * u))
        pygame.draw.rect(surface, color, (panel.left, panel.top, panel.width, int(1.6 * u)),
                         border_top_left_radius=int(2 * u), border_top_right_radius=int(2 * u))
        y = self.pair(surface, title, view.lang, panel.height * 0.13,
                      (panel.centerx, panel.top + panel.height * 0.2), color,
                      panel.width * 0.9)
        y += panel.height * 0.06
        for words in lines:
            y = self.pair(surface, words, view.lang, panel.height * 0.075,
                          (panel.centerx, y + panel.height * 0.05), INK,
                          panel.width * 0.9) + panel.height * 0.03
        error = view.error or {}
        if view.screen == "closed" and any(s.get("bookable") for s in view.state["services"]):
            button = pygame.Rect(0, 0, int(panel.width * 0.36), int(panel.height * 0.17))
            button.midbottom = (panel.centerx, int(panel.bottom - panel.height * 0.06))
            self.appointment_button(surface, view, button)
        if view.screen == "too_late" and error.get("service") and view.state:
            self.normal_ticket_button(surface, view, panel, error["service"])
        if view.screen in ("refused", "unreachable", "too_early", "too_late"):
            hint = say("touch_home")
            self.text(surface, f"{hint[0]} · {hint[1]}", panel.height * 0.04, MUTED,
                      center=(panel.centerx, panel.bottom - panel.height * 0.06))

    def normal_ticket_button(self, surface: pygame.Surface, view: KioskView,
                             panel: pygame.Rect, service_id: str) -> None:
        """Past the grace: a normal ticket of the booked service, one tap away."""
        service = next((s for s in view.state["services"] if s["id"] == service_id), None)
        if service is None:
            return
        rect = pygame.Rect(0, 0, int(panel.width * 0.5), int(panel.height * 0.17))
        rect.midbottom = (panel.centerx, int(panel.bottom - panel.height * 0.12))
        self.button(surface, rect, BLUE, ("service", service_id))
        words = say("normal_ticket")
        name = service["name"]
        self.pair(surface, (f"{words[0]}：{name['zh']}", f"{words[1]}: {name['en']}"),
                  view.lang, rect.height * 0.3, (rect.centerx, rect.top + rect.height * 0.34),
                  WHITE, rect.width * 0.92)

    def notice_words(self, view: KioskView) -> tuple[tuple, tuple, list[tuple[str, str]]]:
        hall = view.state["hall"] if view.state else {}
        now = datetime.now(ZoneInfo(hall["timezone"])) if hall else datetime.now().astimezone()
        screen = view.screen
        if screen == "closed":
            lines = [REASONS.get(hall.get("issuing_reason") or "", say("closed"))]
            when = resumes(hall.get("next_issuing_at"), now)
            return AMBER, say("closed"), unrepeated(say("closed"), lines + ([when] if when else []))
        if screen == "refused":
            error = view.error or {}
            title = say("full") if error.get("code") == "service_full" else say("refused")
            if error.get("code") == "hall_closed":
                title = say("closed")
                lines = [REASONS.get(error.get("reason") or "", say("closed"))]
                when = resumes(error.get("next_issuing_at"), now)
                return AMBER, title, unrepeated(title, lines + ([when] if when else []))
            return AMBER, title, [split_message(error.get("message", ""))]
        if screen in ("too_early", "too_late"):
            error = view.error or {}
            lines = [say("your_slot", slot=slot_text(error.get("slot")))]
            if screen == "too_late":
                return AMBER, say("too_late"), lines  # and the normal ticket's button
            opens = datetime.fromisoformat(error["checkin_opens_at"]).strftime("%H:%M") \
                if error.get("checkin_opens_at") else "?"
            return TEAL, say("too_early"), [*lines, say("opens_at", t=opens), say("come_back")]
        if screen == "no_paper":
            title = say("no_paper") if view.printer[0] == "no_paper" else say("printer_trouble")
            return RED, title, [PRINTER.get(view.printer[0], ("", "")), say("ask_staff")]
        if screen == "unreachable":
            return RED, say("offline"), [say("unreachable_why")]
        if screen == "token_refused":
            return RED, say("token_refused"), [say("token_refused_why"), say("ask_staff")]
        return RED, say("offline"), [say("offline_why")]
