"""Reading ESC/POS bytes back as a ticket printer would (imported by the printer and kiosk
tests)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from PIL import Image

SKIP3 = (b"\x1bE", b"\x1bd", b"\x1b-", b"\x1bM", b"\x1b{", b"\x1bG", b"\x1b3")
NOTO = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


READINGS = ("strict", "lenient")


@dataclass
class Printed:
    lines: list[tuple[int, str]] = field(default_factory=list)  # (size byte, text)
    columns: list[int] = field(default_factory=list)  # half-width columns each line takes
    qr: list[str] = field(default_factory=list)
    rasters: list[Image.Image] = field(default_factory=list)
    chinese_mode_at: int | None = None
    first_high_byte_at: int | None = None
    cut: bool = False
    # What comes out of the printer, in order, to draw it: ("text", w, h, align, invert, text),
    # ("qr", payload, align), ("raster", image), ("cut",).
    paper: list[tuple] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(t for _, t in self.lines)

    def big(self, minimum: int = 4) -> list[str]:
        """Lines printed at least `minimum` times as wide and as tall."""
        return [t for s, t in self.lines if (s >> 4) + 1 >= minimum and (s & 15) + 1 >= minimum]

    def layout(self) -> list[tuple[int, int, str]]:
        """(width, height, text) of every printed line: what two readings must agree on."""
        return [(w, h, text) for kind, w, h, _, _, text in
                (p for p in self.paper if p[0] == "text")]


class _Sizes:
    """Character sizes as a printer reads `GS ! n` and `ESC ! n`, in one of two readings:
    - strict (Epson's Chinese and Japanese models, several Chinese clones' manuals): `ESC !`
      sizes single-byte characters only and leaves a `GS !` in force for Chinese;
    - lenient (other clones): `ESC !` cancels `GS !` and sizes every character.
    `GS !` sizes every character in both."""

    def __init__(self, reading: str) -> None:
        assert reading in READINGS
        self.reading = reading
        self.reset()

    def reset(self) -> None:
        self.gs = (1, 1)  # (width, height) from GS !
        self.esc = (1, 1)  # from ESC !
        self.single_from_esc = False  # strict: which command last sized single-byte characters

    def gs_size(self, n: int) -> None:
        self.gs, self.single_from_esc = ((n >> 4) + 1, (n & 15) + 1), False

    def esc_mode(self, n: int) -> None:
        self.esc = (1 + bool(n & 0x20), 1 + bool(n & 0x10))
        self.single_from_esc = True
        if self.reading == "lenient":
            self.gs = (1, 1)

    def of(self, double_byte: bool) -> tuple[int, int]:
        if self.reading == "lenient":
            return self.esc if self.single_from_esc else self.gs
        if double_byte or not self.single_from_esc:
            return self.gs
        return self.esc


def decode(data: bytes, reading: str = "strict") -> Printed:
    out = Printed()
    sizes = _Sizes(reading)
    align = invert = 0  # ESC a n, GS B n
    chars: list[tuple[str, int, int, int]] = []  # (character, bytes, width, height)
    pending = bytearray()  # the bytes of a double-byte character read so far

    def end_line() -> None:
        text = "".join(c for c, *_ in chars)
        w = max((cw for _, _, cw, _ in chars), default=sizes.of(False)[0])
        h = max((ch for _, _, _, ch in chars), default=sizes.of(False)[1])
        out.lines.append((((w - 1) << 4) | (h - 1), text))
        out.columns.append(sum(min(n, 2) * cw for _, n, cw, _ in chars))
        out.paper.append(("text", w, h, align, invert, text))
        chars.clear()

    def take(byte: int) -> None:
        pending.append(byte)
        if pending[0] < 0x80 or (len(pending) == 2 and not 0x30 <= pending[1] <= 0x39) \
                or len(pending) == 4:  # GB18030: 1, 2 or 4 bytes
            size = sizes.of(double_byte=len(pending) > 1)
            chars.append((bytes(pending).decode("gb18030"), len(pending), *size))
            pending.clear()

    i = 0
    while i < len(data):
        if data.startswith(b"\x1b@", i):
            sizes.reset()
            align = invert = 0
            i += 2
        elif data.startswith(b"\x1c&", i):
            out.chinese_mode_at = i if out.chinese_mode_at is None else out.chinese_mode_at
            i += 2
        elif data.startswith(b"\x1d!", i):
            sizes.gs_size(data[i + 2])
            i += 3
        elif data.startswith(b"\x1b!", i):
            sizes.esc_mode(data[i + 2])
            i += 3
        elif data.startswith(b"\x1ba", i):
            align, i = data[i + 2], i + 3
        elif data.startswith(b"\x1dB", i):
            invert, i = data[i + 2], i + 3
        elif data.startswith(b"\x1d(k", i):
            n = data[i + 3] + 256 * data[i + 4]
            body = data[i + 5:i + 5 + n]
            if body[:3] == b"1P0":
                out.qr.append(body[3:].decode("utf-8"))
                out.paper.append(("qr", out.qr[-1], align))
            i += 5 + n
        elif data.startswith(b"\x1dv0", i):
            width_bytes, height = struct.unpack("<HH", data[i + 4:i + 8])
            bits = data[i + 8:i + 8 + width_bytes * height]
            image = Image.frombytes("1", (width_bytes * 8, height), bits)
            out.rasters.append(image)  # note: 1 bits are black dots here
            out.paper.append(("raster", image))
            i += 8 + width_bytes * height
        elif data.startswith(b"\x1dV", i):
            out.cut = True
            out.paper.append(("cut",))
            i += 4 if data[i + 2] in (65, 66) else 3
        elif any(data.startswith(cmd, i) for cmd in SKIP3):
            i += 3
        elif data[i] == 0x0A and not pending:
            end_line()
            i += 1
        else:
            if data[i] >= 0x80 and out.first_high_byte_at is None:
                out.first_high_byte_at = i
            take(data[i])
            i += 1
    if chars:
        end_line()
    return out


def paper_mm(printed: Printed) -> float:
    """How much paper the ticket takes: 8 dots a millimetre (203 dpi), as draw_paper lays it."""
    return draw_paper(printed).height / 8


def draw_paper(printed: Printed, dots: int = 576) -> Image.Image:
    """The printout as a picture (203 dpi, font A = 12 x 24 dots), to look at the layout."""
    import qrcode
    from PIL import ImageChops, ImageDraw, ImageFont

    parts: list[Image.Image] = []
    for item in printed.paper:
        if item[0] == "text":
            _, w, h, align, invert, text = item
            font = ImageFont.truetype(NOTO, 22 * h, index=2)
            width = int(font.getlength(text) * w / h) + 2
            part = Image.new("L", (dots, 30 * h), 255)
            glyphs = Image.new("L", (max(1, int(font.getlength(text))) + 2, 30 * h), 255)
            ImageDraw.Draw(glyphs).text((0, 0), text, font=font, fill=0)
            glyphs = glyphs.resize((max(1, width), 30 * h))
            x = {0: 0, 1: (dots - width) // 2, 2: dots - width}.get(align, 0)
            if invert:
                glyphs = ImageChops.invert(glyphs)
            part.paste(glyphs, (max(0, x), 0))
            parts.append(part)
        elif item[0] == "qr":
            code = qrcode.QRCode(box_size=6, border=2)
            code.add_data(item[1])
            image = code.make_image().get_image().convert("L")
            part = Image.new("L", (dots, image.height), 255)
            x = {1: (dots - image.width) // 2, 2: dots - image.width}.get(item[2], 0)
            part.paste(image, (x, 0))  # native QR follows ESC a
            parts.append(part)
        elif item[0] == "raster":
            part = Image.new("L", (dots, item[1].height), 255)
            part.paste(ImageChops.invert(item[1].convert("L")), (0, 0))
            parts.append(part)
        else:
            part = Image.new("L", (dots, 12), 255)
            ImageDraw.Draw(part).line([(0, 6), (dots, 6)], fill=0, width=1)
            parts.append(part)
    paper = Image.new("L", (dots, sum(p.height for p in parts) + 20), 255)
    y = 10
    for part in parts:
        paper.paste(part, (0, y))
        y += part.height
    return paper


def test_the_decoder_reads_what_python_escpos_writes():
    from escpos.printer import Dummy

    p = Dummy()
    p._raw(b"\x1b@\x1c&")
    p.set(custom_size=True, width=6, height=6)
    p._raw("A001\n".encode("gb18030"))
    p.set(normal_textsize=True)
    p._raw("缴费\n".encode("gb18030"))
    p.qr("http://hall/t/x", native=True)
    p.cut()
    printed = decode(p.output, "lenient")
    assert printed.big() == ["A001"]
    # normal_textsize is ESC !, which a strict printer does not apply to Chinese: 缴费 stays 6x
    assert decode(p.output, "strict").big() == ["A001", "缴费"]
    assert ("缴费" in printed.text()) and printed.qr == ["http://hall/t/x"] and printed.cut
    assert printed.chinese_mode_at < printed.first_high_byte_at
