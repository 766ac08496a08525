"""Reading ESC/POS bytes back as a ticket printer would (imported by the printer and kiosk
tests)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from PIL import Image

SKIP3 = (b"\x1bE", b"\x1ba", b"\x1dB", b"\x1bd", b"\x1b-", b"\x1bM", b"\x1b{", b"\x1bG",
         b"\x1b3", b"\x1dV")


@dataclass
class Printed:
    lines: list[tuple[int, str]] = field(default_factory=list)  # (GS ! size byte, text)
    qr: list[str] = field(default_factory=list)
    rasters: list[Image.Image] = field(default_factory=list)
    chinese_mode_at: int | None = None
    first_high_byte_at: int | None = None
    cut: bool = False

    def text(self) -> str:
        return "\n".join(t for _, t in self.lines)

    def big(self, minimum: int = 4) -> list[str]:
        """Lines printed at least `minimum` times as wide and as tall (GS ! n)."""
        return [t for s, t in self.lines if (s >> 4) + 1 >= minimum and (s & 15) + 1 >= minimum]


def decode(data: bytes) -> Printed:
    out = Printed()
    size = 0
    line = bytearray()
    i = 0
    while i < len(data):
        if data.startswith(b"\x1b@", i):
            size, i = 0, i + 2
        elif data.startswith(b"\x1c&", i):
            out.chinese_mode_at = i if out.chinese_mode_at is None else out.chinese_mode_at
            i += 2
        elif data.startswith(b"\x1d!", i):
            size, i = data[i + 2], i + 3
        elif data.startswith(b"\x1b!", i):
            size, i = 0, i + 3  # ESC ! selects the normal size (and clears GS ! on our printers)
        elif data.startswith(b"\x1d(k", i):
            n = data[i + 3] + 256 * data[i + 4]
            body = data[i + 5:i + 5 + n]
            if body[:3] == b"1P0":
                out.qr.append(body[3:].decode("utf-8"))
            i += 5 + n
        elif data.startswith(b"\x1dv0", i):
            width_bytes, height = struct.unpack("<HH", data[i + 4:i + 8])
            bits = data[i + 8:i + 8 + width_bytes * height]
            image = Image.frombytes("1", (width_bytes * 8, height), bits)
            out.rasters.append(image)  # note: 1 bits are black dots here
            i += 8 + width_bytes * height
        elif data.startswith(b"\x1dV", i):
            out.cut = True
            i += 3
        elif any(data.startswith(cmd, i) for cmd in SKIP3):
            i += 3
        elif data[i] == 0x0A:
            out.lines.append((size, line.decode("gb18030")))
            line = bytearray()
            i += 1
        else:
            if data[i] >= 0x80 and out.first_high_byte_at is None:
                out.first_high_byte_at = i
            line.append(data[i])
            i += 1
    if line:
        out.lines.append((size, line.decode("gb18030")))
    return out


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
    printed = decode(p.output)
    assert printed.big() == ["A001"]
    assert ("缴费" in printed.text()) and printed.qr == ["http://hall/t/x"] and printed.cut
    assert printed.chinese_mode_at < printed.first_high_byte_at
