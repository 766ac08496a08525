"""Paints a `Screen` (display/view.py) with pygame, for 1920×1080 and 1280×720 alike.

The layout is drawn in a 1920×1080 design space and scaled. High contrast on black, big
numbers in yellow, the current call blinking amber while it is new. What does not change
every frame (everything except the clock, the blink and the notice ticker) is painted once
into a cached surface, so a frame costs one big blit plus a few small ones.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pygame
import pygame.freetype

from display.view import Screen

DESIGN_W, DESIGN_H = 1920, 1080
BOLD_FONTS = [
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),  # face 2 = Simplified Chinese
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
]
REGULAR_FONTS = [
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
]
TICKER_SPEED = 140  # design pixels per second
BLINK_SECONDS = 0.5
MIN_SHRINK = 0.6  # a text shrunk further than this to fit is cut short instead

BLACK = (0, 0, 0)
WHITE = (255, 255, 255)
YELLOW = (255, 214, 0)
AMBER = (255, 176, 0)
HEADER = (8, 28, 64)
PANEL = (22, 26, 36)
RED = (210, 0, 0)
GREY = (170, 170, 170)
GREEN = (0, 122, 61)
TILE = {  # window kind → (background, text)
    "calling": (AMBER, BLACK),
    "serving": ((0, 105, 50), WHITE),
    "idle": ((28, 58, 110), WHITE),
    "away": ((190, 80, 0), WHITE),
    "closed": ((44, 44, 44), GREY),
}


class FontMissingError(RuntimeError):
    """No CJK font is installed: Chinese would render as boxes, so refuse to start."""


def find_font(candidates: list[tuple[str, int]]) -> tuple[str, int]:
    for path, index in candidates:
        if Path(path).is_file():
            return path, index
    tried = ", ".join(p for p, _ in candidates)
    raise FontMissingError(f"no CJK font found (tried {tried}); install fonts-noto-cjk or "
                      "fonts-wqy-zenhei")


class Renderer:
    def __init__(self, size: tuple[int, int]) -> None:
        if not pygame.display.get_init():  # pixel format conversion needs it (no window)
            pygame.display.init()
        pygame.freetype.init()
        self.size = size
        self.scale = min(size[0] / DESIGN_W, size[1] / DESIGN_H)
        self.offset = ((size[0] - DESIGN_W * self.scale) / 2, (size[1] - DESIGN_H * self.scale) / 2)
        self.bold = pygame.freetype.Font(*_font_args(find_font(BOLD_FONTS)))
        self.regular = pygame.freetype.Font(*_font_args(find_font(REGULAR_FONTS)))
        for font in (self.bold, self.regular):
            font.pad = False
            font.antialiased = True
        self._texts: dict[tuple, pygame.Surface] = {}
        # freetype renders ABGR; blitting that onto the screen's XRGB is ten times slower
        # than ARGB, so texts are converted once when cached.
        self._text_format = pygame.Surface((1, 1), pygame.SRCALPHA, 32,
                                           masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000))
        self._static: dict[bool, pygame.Surface] = {}  # blink phase → the painted layer
        self._static_key: object = None

    # -- geometry and text -----------------------------------------------------------------------
    def rect(self, x: float, y: float, w: float, h: float) -> pygame.Rect:
        s, (ox, oy) = self.scale, self.offset
        return pygame.Rect(round(ox + x * s), round(oy + y * s), round(w * s), round(h * s))

    def text(self, text: str, size: float, color: tuple, bold: bool = True,
             max_width: float | None = None) -> pygame.Surface:
        """A rendered text, shrunk to fit `max_width` (design pixels); cached."""
        key = (text, size, color, bold, max_width)
        surface = self._texts.get(key)
        if surface is None:
            if len(self._texts) > 600:
                self._texts.clear()
            font = self.bold if bold else self.regular
            px = max(1, size * self.scale)
            if max_width is not None:
                text, px = self._fit(font, text, px, max_width * self.scale)
            surface, _ = font.render(text, color, size=px)
            surface = surface.convert(self._text_format)
            self._texts[key] = surface
        return surface

    @staticmethod
    def _fit(font: pygame.freetype.Font, text: str, px: float, limit: float) -> tuple[str, float]:
        """Shrink to fit, but not below MIN_SHRINK of the size: beyond that, cut with "…"."""
        width = font.get_rect(text, size=px).width
        if width <= limit:
            return text, px
        if width * MIN_SHRINK <= limit:
            return text, px * limit / width
        px *= MIN_SHRINK
        while len(text) > 1 and font.get_rect(text + "…", size=px).width > limit:
            text = text[:-1]
        return text + "…", px

    def put(self, target: pygame.Surface, surface: pygame.Surface, box: pygame.Rect,
            align: str = "center") -> None:
        """Blit into `box`: centred vertically; left, centre or right horizontally."""
        y = box.y + (box.height - surface.get_height()) // 2
        if align == "left":
            x = box.x
        elif align == "right":
            x = box.right - surface.get_width()
        else:
            x = box.x + (box.width - surface.get_width()) // 2
        target.blit(surface, (x, y))

    # -- a frame -------------------------------------------------------------------------------
    def draw(self, target: pygame.Surface, screen: Screen, t: float) -> None:
        """Paint `screen` at time `t` (seconds, any monotonic clock: drives blink and ticker)."""
        blink = screen.current is not None and screen.current.highlight > 0 and \
            int(t / BLINK_SECONDS) % 2 == 0
        highlighted = screen.current is not None and screen.current.highlight > 0
        current = screen.current and dataclasses.replace(screen.current, highlight=highlighted)
        key = dataclasses.replace(screen, clock="", current=current)
        if key != self._static_key:
            self._static = {}
            self._static_key = key
        layer = self._static.get(blink)
        if layer is None:
            layer = self._static[blink] = pygame.Surface(self.size, 0, target)
            self._paint_static(layer, screen, blink)
        target.blit(layer, (0, 0))
        if not screen.connecting:
            self._paint_clock(target, screen)
            self._paint_ticker(target, screen, t)
            if screen.offline:  # a red frame round everything: the state shown may be old
                pygame.draw.rect(target, RED, self.rect(0, 0, DESIGN_W, DESIGN_H),
                                 max(2, round(10 * self.scale)))

    def _paint_static(self, target: pygame.Surface, screen: Screen, blink: bool) -> None:
        target.fill(BLACK)
        if screen.connecting:
            box = self.rect(0, 0, DESIGN_W, DESIGN_H)
            lines = screen.text("token_refused" if screen.refused else "connecting")
            if screen.refused:  # for whoever sets the display up: not the network, the token
                target.fill(RED, self.rect(0, 380, DESIGN_W, 320))
            for i, line in enumerate(lines):
                self.put(target, self.text(line, 64 if i == 0 else 40, WHITE, i == 0),
                         box.move(0, round((i * 90 - 40) * self.scale)))
            return
        self._paint_header(target, screen)
        self._paint_current(target, screen, blink)
        self._paint_history(target, screen)
        self._paint_windows(target, screen)
        self._paint_services(target, screen)

    def _paint_header(self, target: pygame.Surface, screen: Screen) -> None:
        target.fill(HEADER, self.rect(0, 0, DESIGN_W, 120))
        self.put(target, self.text(screen.hall_name, 56, WHITE, max_width=560),
                 self.rect(32, 0, 560, 120), "left")
        middle = self.rect(620, 14, 820, 92)
        if screen.offline:
            target.fill(RED, middle)
            line = "● " + "  ".join(screen.text("token_refused" if screen.refused
                                                else "offline"))
            self.put(target, self.text(line, 40, WHITE, max_width=790), middle)
        elif screen.issuing_note:
            target.fill(RED, middle)
            first, *rest = screen.issuing_note
            self.put(target, self.text(first, 46, WHITE, max_width=780),
                     middle.move(0, -round(20 * self.scale)) if rest else middle)
            if rest:
                self.put(target, self.text("  ".join(rest), 28, WHITE, False, 780),
                         middle.move(0, round(26 * self.scale)))
        else:
            self.put(target, self.text(screen.hours, 38, WHITE, max_width=800), middle)
        date_box = self.rect(1440, 14, 270, 92)
        for i, line in enumerate(screen.date[:2]):
            self.put(target, self.text(line, 28 if i == 0 else 24, WHITE if i == 0 else GREY,
                                       i == 0, 270),
                     date_box.move(0, round((i * 36 - 18) * self.scale)), "right")

    def _paint_clock(self, target: pygame.Surface, screen: Screen) -> None:
        box = self.rect(1720, 0, 180, 120)
        self.put(target, self.text(screen.clock, 66, YELLOW), box, "right")

    def _paint_current(self, target: pygame.Surface, screen: Screen, blink: bool) -> None:
        panel = self.rect(24, 136, 1200, 500)
        call = screen.current
        background, label, number, text = PANEL, WHITE, YELLOW, WHITE
        if blink:
            background, label, number, text = AMBER, BLACK, BLACK, BLACK
        elif call is not None and call.highlight > 0:
            pygame.draw.rect(target, AMBER, panel, max(2, round(8 * self.scale)))
        target.fill(background, panel.inflate(-round(16 * self.scale), -round(16 * self.scale))
                    if call is not None and call.highlight > 0 and not blink else panel)
        self.put(target, self.text("  ".join(screen.text("now_calling")), 44, label),
                 self.rect(56, 150, 1100, 70), "left")
        if call is not None and call.mark:
            label = self._label("  ".join(call.mark), 40)
            box = self.rect(640, 150, 560, 70)
            self.put(target, label, box.move(box.width - label.get_width(), 0), "left")
        if call is None:
            lines = screen.text("no_calls")
            self.put(target, self.text(lines[0], 72, text, max_width=1120),
                     self.rect(24, 300, 1200, 120))
            if len(lines) > 1:
                self.put(target, self.text(lines[1], 40, GREY, False, 1120),
                         self.rect(24, 410, 1200, 70))
            return
        self.put(target, self.text(call.number, 270, number, max_width=1120),
                 self.rect(24, 205, 1200, 270))
        first, *rest = call.go_to
        self.put(target, self.text(first, 92, text, max_width=1120), self.rect(24, 470, 1200, 100))
        if rest:
            self.put(target, self.text(rest[0], 48, text, False, 1120),
                     self.rect(24, 565, 1200, 60))

    def _label(self, text: str, size: float) -> pygame.Surface:
        """A ticket's class as white on green, as the hall's green-channel signs are."""
        words = self.text(text, size, WHITE)
        pad = round(12 * self.scale)
        label = pygame.Surface((words.get_width() + 2 * pad, words.get_height() + pad))
        label.fill(GREEN)
        label.blit(words, (pad, pad // 2))
        return label

    def _history_parts(self, screen: Screen, call) -> list[pygame.Surface]:
        """A recent call's number, its class and how often it was recalled, left to right."""
        parts = [self.text(call.number, 50, YELLOW)]
        if call.mark:
            parts.append(self._label(call.mark[0], 26))
        if call.recalls:
            parts.append(self.text(screen.text("recalled", n=str(call.recalls))[0], 30, GREY))
        return parts

    def _paint_history(self, target: pygame.Surface, screen: Screen) -> None:
        panel = self.rect(1244, 136, 652, 500)
        target.fill(PANEL, panel)
        self.put(target, self.text("  ".join(screen.text("recent")), 40, WHITE, max_width=600),
                 self.rect(1270, 146, 600, 64), "left")
        pygame.draw.line(target, GREY, self.rect(1270, 212, 0, 0).topleft,
                         self.rect(1870, 212, 0, 0).topleft, max(1, round(2 * self.scale)))
        for i, call in enumerate(screen.history):
            row = self.rect(1270, 222 + i * 58, 600, 58)
            gap = round(14 * self.scale)
            x = row.x
            for part in self._history_parts(screen, call):
                self.put(target, part, pygame.Rect(x, row.y, part.get_width(), row.height), "left")
                x += part.get_width() + gap
            self.put(target, self.text(call.window_name, 44, WHITE, max_width=330), row, "right")

    def _paint_windows(self, target: pygame.Surface, screen: Screen) -> None:
        tiles = screen.windows
        if not tiles:
            return
        per_row = min(len(tiles), 8)
        rows = (len(tiles) + per_row - 1) // per_row
        gap, top, height = 14, 652, 240
        w = (1872 - gap * (per_row - 1)) / per_row
        h = (height - gap * (rows - 1)) / rows
        for i, tile in enumerate(tiles):
            x = 24 + (i % per_row) * (w + gap)
            y = top + (i // per_row) * (h + gap)
            self._paint_tile(target, tile, x, y, w, h)

    def _paint_tile(self, target: pygame.Surface, tile, x: float, y: float, w: float,
                    h: float) -> None:
        background, color = TILE[tile.kind]
        target.fill(background, self.rect(x, y, w, h))
        inner = w - 24
        k = h / 240  # tiles shrink when there are two rows
        self.put(target, self.text(tile.name, 40 * k, color, max_width=inner),
                 self.rect(x + 12, y + 6 * k, inner, 52 * k), "left")
        status = tile.status
        if tile.ticket:
            line = "  ".join(status)
            self.put(target, self.text(line, 28 * k, color, False, inner),
                     self.rect(x + 12, y + 60 * k, inner, 40 * k), "left")
            self.put(target, self.text(tile.ticket, 92 * k, color, max_width=inner),
                     self.rect(x + 12, y + 100 * k, inner, 130 * k))
            return
        self.put(target, self.text(status[0], 52 * k, color, max_width=inner),
                 self.rect(x + 12, y + 70 * k, inner, 70 * k))
        if len(status) > 1:
            self.put(target, self.text(status[1], 28 * k, color, False, inner),
                     self.rect(x + 12, y + 138 * k, inner, 40 * k))
        if tile.detail:
            self.put(target, self.text(tile.detail, 34 * k, color, max_width=inner),
                     self.rect(x + 12, y + 180 * k, inner, 50 * k))

    def _paint_services(self, target: pygame.Surface, screen: Screen) -> None:
        labels = screen.text("waiting")
        self.put(target, self.text(labels[0], 34, WHITE), self.rect(30, 906, 170, 52), "left")
        if len(labels) > 1:
            self.put(target, self.text(labels[1], 24, GREY, False), self.rect(30, 950, 170, 40),
                     "left")
        services = screen.services
        if not services:
            return
        gap = 10
        w = (1896 - 190 - gap * (len(services) - 1)) / len(services)
        for i, service in enumerate(services):
            x = 190 + i * (w + gap)
            target.fill(PANEL, self.rect(x, 906, w, 88))
            names = service.names or ("",)
            self.put(target, self.text(f"{service.prefix} {names[0]}", 28, WHITE,
                                       max_width=w - 80), self.rect(x + 10, 910, w - 80, 46),
                     "left")
            if len(names) > 1:  # beside the wait, if one is shown
                second = w - (140 if service.wait else 80)
                self.put(target, self.text(names[1], 20, GREY, False, second),
                         self.rect(x + 10, 954, second, 34), "left")
            if not service.wait:
                self.put(target, self.text(str(service.waiting), 58, YELLOW),
                         self.rect(x + w - 76, 906, 66, 88), "right")
                continue
            self.put(target, self.text(str(service.waiting), 46, YELLOW),
                     self.rect(x + w - 96, 906, 86, 56), "right")
            self.put(target, self.text(service.wait[0], 20, GREY, False, 120),
                     self.rect(x + w - 130, 960, 120, 30), "right")

    def _paint_ticker(self, target: pygame.Surface, screen: Screen, t: float) -> None:
        band = self.rect(0, 1008, DESIGN_W, 72)
        target.fill(HEADER, band)
        label_box = self.rect(0, 1008, 150, 72)
        target.fill(RED, label_box)
        self.put(target, self.text(screen.text("notice")[0], 38, WHITE), label_box)
        if not screen.notice:
            return
        surface = self.text(screen.notice, 40, WHITE)
        lane = self.rect(170, 1008, DESIGN_W - 170, 72)
        # Starts at the left edge (so a screenshot shows it), runs out, comes in from the right.
        travel = lane.width + surface.get_width()
        x = lane.x - (t * TICKER_SPEED * self.scale) % travel
        if x + surface.get_width() < lane.x:
            x += travel
        clip = target.get_clip()
        target.set_clip(lane)
        target.blit(surface, (round(x), lane.y + (lane.height - surface.get_height()) // 2))
        target.set_clip(clip)


def _font_args(found: tuple[str, int]) -> tuple:
    path, index = found
    return (path, 0, index)  # (file, default size, font_index)
