"""The kiosk's ticket printer: ESC/POS over python-escpos (USB, serial, network, device file).

Chinese thermal printers take GB18030 in "Chinese mode" (`FS &`); python-escpos only sends
GB18030 when a string holds an ideograph and prints `?` for `→` or `，` otherwise, so every line
is encoded here and sent raw. The QR code is the printer's own (`GS ( k`, ~150 bytes) unless the
profile says it has none; then it is drawn as a raster image.

Status comes from `DLE EOT` replies where the connection can read (USB, serial, network). An
empty or malformed reply means *unknown*, never "paper OK". The test double is python-escpos's
`Dummy` printer, whose `.output` holds exactly the bytes a File printer would write.
"""

from __future__ import annotations

import contextlib
import logging
import struct
from dataclasses import dataclass
from typing import Any

import qrcode
from escpos.escpos import Escpos
from escpos.printer import Dummy, File, Network, Serial, Usb
from PIL import Image, ImageOps

from kiosk.words import ahead_words

log = logging.getLogger("hallq.printer")

STATES = ("ok", "no_paper", "offline", "cover_open", "error", "unknown")

CHINESE_MODE_ON = b"\x1c\x26"  # FS &
INIT = b"\x1b\x40"  # ESC @
BIG_NUMBER_SIZE = {58: 4, 80: 6}  # GS ! width/height multiplier for the ticket number
COLUMNS = {58: 32, 80: 48}  # half-width columns of font A (12 x 24 dots)
DOTS = {58: 384, 80: 576}  # printable width in dots at 203 dpi
QR_MODULE = {58: 5, 80: 7}  # dots per QR module

# Real-time status requests (DLE EOT n) and the bits of their one-byte replies.
STATUS_PRINTER = b"\x10\x04\x01"
STATUS_OFFLINE_CAUSE = b"\x10\x04\x02"
STATUS_PAPER = b"\x10\x04\x04"
BIT_OFFLINE, BIT_COVER_OPEN, BIT_PAPER_STOP, BIT_ERROR = 0x08, 0x04, 0x20, 0x40
PAPER_END, PAPER_NEAR_END = 0x60, 0x0C
FIXED_MASK, FIXED_BITS = 0x93, 0x12  # every status byte has bits 1 and 4 set, 0 and 7 clear

PRIORITY_MARK = {
    "priority": "★ 绿色通道 PRIORITY ★",
    "vip": "★ 贵宾 VIP ★",
    "appointment": "预约 APPOINTMENT",
}


class PrintFailed(Exception):  # noqa: N818
    """The ticket did not (or may not have) come out; `state` is one of STATES."""

    def __init__(self, state: str, detail: str) -> None:
        super().__init__(detail)
        self.state = state
        self.detail = detail


@dataclass(frozen=True)
class TicketText:
    """Everything printed on one ticket, already in the words the customer reads."""

    hall_name: str
    service_zh: str
    service_en: str
    number: str
    priority: str  # normal | priority | vip | appointment
    ahead: int | None  # how many are ahead; the low end when it is a range
    wait_min: int | None
    issued: str  # "2026-11-23 10:02"
    status_url: str
    footer: str = ""
    slot: str = ""  # an appointment's booked time, "10:00–10:30"
    wait_note: str = ""  # "中文 · English": no window serves the service now (then no figure)
    ahead_high: int | None = None  # the range's top when ahead is not one figure


class TicketPrinter:
    """One ESC/POS printer: lays out and prints tickets, reads the printer's state."""

    def __init__(self, device: Escpos, width_mm: int = 80, native_qr: bool | None = None,
                 name: str = "") -> None:
        if width_mm not in COLUMNS:
            raise ValueError("paper width must be 58 or 80 (mm)")
        self.device = device
        self.width_mm = width_mm
        self.native_qr = device.profile.supports("qrCode") if native_qr is None else native_qr
        self.name = name or type(device).__name__

    @property
    def can_report_status(self) -> bool:
        """USB, serial and network connections read replies; File, LP and Dummy cannot."""
        return type(self.device)._read is not Escpos._read

    # -- printing ------------------------------------------------------------------------------
    def print_ticket(self, ticket: TicketText) -> None:
        """Print one ticket or raise PrintFailed (checked first where the printer can tell)."""
        state, detail = self.status()
        if state not in ("ok", "unknown"):
            raise PrintFailed(state, detail)
        try:
            self.device._raw(self.layout(ticket))
        except Exception as error:  # any backend's write error: USBError, OSError, serial...
            log.warning("printing %s failed: %s", ticket.number, error)
            self._forget_connection()
            raise PrintFailed("offline" if _is_connection_error(error) else "error",
                              f"{type(error).__name__}: {error}") from error

    def layout(self, t: TicketText) -> bytes:
        """The whole ticket as bytes, sent in one write (a half-printed ticket helps nobody)."""
        out = Buffer(self.device.profile)
        cols = COLUMNS[self.width_mm]
        out.raw(INIT + CHINESE_MODE_ON)
        out.set(align="center")
        out.style(height=2, bold=True)
        out.line(t.hall_name)
        out.style()
        out.line("-" * cols)
        out.style(width=2, height=2, bold=True)
        out.line(t.service_zh)
        out.style()
        out.line(t.service_en)
        big = BIG_NUMBER_SIZE[self.width_mm]
        out.style(width=big, height=big, bold=True)
        out.line(t.number)
        out.style()
        if t.priority in PRIORITY_MARK:
            out.set(invert=True, bold=True)
            out.line(f" {PRIORITY_MARK[t.priority]} ")
            out.set(invert=False, bold=False)
        if t.slot:
            out.pair(f"预约时段 {t.slot}", f"Booked {t.slot}", cols)
        if t.ahead is not None:
            out.pair(*ahead_words(t.ahead, t.ahead_high), cols)
        if t.wait_min is not None:
            out.pair(f"预计等候约 {t.wait_min} 分钟", f"about {t.wait_min} min", cols)
        if t.wait_note:
            zh, _, en = t.wait_note.partition(" · ")
            out.pair(zh, en, cols)
        out.line(t.issued)
        out.raw(b"\n")
        self._qr(out, t.status_url)
        out.line("扫码查看排队进度")
        out.line("Scan to follow your turn")
        if t.footer:
            out.line("-" * cols)
            for line in wrap(t.footer, cols):
                out.line(line)
        out.cut()
        return out.bytes()

    def _qr(self, out: Buffer, url: str) -> None:
        module = QR_MODULE[self.width_mm]
        if self.native_qr:  # centred by the ESC a 1 in force
            out.qr(url, native=True, size=module, ec=1)  # ec 1 = M: survives a smudge
            out.raw(b"\n")
            return
        # Printers differ on whether ESC a moves raster images: print it left-aligned, with the
        # centring margin inside the image.
        out.set(align="left")
        out.raw(raster(qr_raster(url, module, DOTS[self.width_mm])) + b"\n")
        out.set(align="center")

    # -- status --------------------------------------------------------------------------------
    def status(self) -> tuple[str, str]:
        """(state, detail) as the printer itself reports it; "unknown" when it cannot say."""
        if not self.can_report_status:
            return self._probe_without_status()
        try:
            printer = self._ask(STATUS_PRINTER)
            if printer is None:
                return "unknown", "打印机未应答 · no status reply"
            if printer & BIT_OFFLINE:
                cause = self._ask(STATUS_OFFLINE_CAUSE) or 0
                paper = self._ask(STATUS_PAPER) or 0
                if cause & BIT_COVER_OPEN:
                    return "cover_open", "纸仓盖打开 · cover open"
                if cause & BIT_PAPER_STOP or paper & PAPER_END == PAPER_END:
                    return "no_paper", "打印纸用完 · out of paper"
                if cause & BIT_ERROR:
                    return "error", "打印机故障 · printer error"
                return "offline", "打印机离线 · printer offline"
            paper = self._ask(STATUS_PAPER)
            if paper is None:
                return "unknown", "纸张状态未应答 · no paper status reply"
            if paper & PAPER_END == PAPER_END:
                return "no_paper", "打印纸用完 · out of paper"
            if paper & PAPER_NEAR_END == PAPER_NEAR_END:
                return "ok", "纸将用完 · paper low"
            return "ok", ""
        except Exception as error:
            self._forget_connection()
            return "offline", f"{type(error).__name__}: {error}"

    def _ask(self, request: bytes) -> int | None:
        """Send one DLE EOT request; the reply byte, or None if none (or a malformed one) came."""
        self.device._raw(request)
        try:
            reply = self.device._read()
        except Exception as error:
            if isinstance(error, TimeoutError) or "Timeout" in type(error).__name__:
                return None  # a printer that does not answer status requests: unknown
            raise
        if not reply:
            return None
        byte = reply[-1]
        return byte if byte & FIXED_MASK == FIXED_BITS else None

    def _probe_without_status(self) -> tuple[str, str]:
        # File, LP and Dummy cannot read; at least find out whether the device can be opened.
        if isinstance(self.device, Dummy):
            return "unknown", "此连接无法读取状态 · this connection cannot report status"
        try:
            self.device.open()
        except Exception as error:
            return "offline", f"{type(error).__name__}: {error}"
        return "unknown", "此连接无法读取状态 · this connection cannot report status"

    def _forget_connection(self) -> None:
        # The next write opens the device again: a re-plugged USB printer is found anew.
        with contextlib.suppress(Exception):
            self.device.close()
        self.device._device = False

    def close(self) -> None:
        self._forget_connection()


class Buffer(Dummy):
    """Collects one ticket's bytes with python-escpos's own formatting commands."""

    def __init__(self, profile: Any) -> None:
        super().__init__()
        self.profile = profile

    def raw(self, data: bytes) -> None:
        self._raw(data)

    def style(self, width: int = 1, height: int = 1, bold: bool = False) -> None:
        """Size and weight of what follows; plain text without arguments. Sizes always go as
        `GS ! n` (a custom size to python-escpos), never its double_* `ESC !`: on Epson's
        Chinese models and many Chinese clones `ESC !` sizes only letters and digits and does
        not undo a `GS !`, so Chinese printed small and every line after the big number big."""
        self.set(custom_size=True, width=width, height=height, bold=bold)

    def line(self, text: str) -> None:
        self._raw(text.encode("gb18030") + b"\n")

    def pair(self, zh: str, en: str, columns: int) -> None:
        """"中文 · English" on one line if it fits the paper, else on two."""
        both = f"{zh} · {en}"
        if text_width(both) <= columns:
            self.line(both)
        else:
            self.line(zh)
            self.line(en)

    def bytes(self) -> bytes:
        return self.output


def qr_raster(url: str, module: int, paper_dots: int) -> Image.Image:
    """The QR code as a 1-bit image centred on the paper, for printers without native QR."""
    code = qrcode.QRCode(box_size=module, border=2,
                         error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(url)
    code.make(fit=True)
    image = code.make_image().get_image().convert("1")
    if image.width > paper_dots:
        image = image.resize((paper_dots, paper_dots))
    # Pad on the left only: the printer leaves the rest of the line blank anyway.
    page = Image.new("1", ((paper_dots + image.width) // 2, image.height), 1)
    page.paste(image, ((paper_dots - image.width) // 2, 0))
    return page


def raster(image: Image.Image) -> bytes:
    """`GS v 0`: a 1-bit image, one bit per dot, 1 = black."""
    width_bytes = (image.width + 7) // 8
    canvas = Image.new("L", (width_bytes * 8, image.height), 255)
    canvas.paste(image.convert("L"), (0, 0))
    bits = ImageOps.invert(canvas).convert("1").tobytes()
    header = b"\x1d\x76\x30\x00" + struct.pack("<HH", width_bytes, image.height)
    return header + bits


def text_width(text: str) -> int:
    """Printed columns in Chinese mode: every character sent as two or more GB18030 bytes prints
    two columns wide, `·`, `★` and `→` too, which Unicode calls narrow or "ambiguous"."""
    return sum(1 if c.isascii() else 2 for c in text)


def wrap(text: str, columns: int) -> list[str]:
    """Break text to the paper's width, between any two CJK characters or at spaces."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for char in paragraph:
            if text_width(line + char) > columns:
                cut = line.rfind(" ")
                if char != " " and cut > 0 and line[cut + 1:].isascii():
                    lines.append(line[:cut])
                    line = line[cut + 1:]
                else:
                    lines.append(line.rstrip())
                    line = ""
            if line or char != " ":
                line += char
        lines.append(line)
    return lines


def _is_connection_error(error: Exception) -> bool:
    name = type(error).__name__
    return isinstance(error, (OSError, ConnectionError)) or name in (
        "DeviceNotFoundError", "USBNotFoundError", "USBError", "SerialException")


def open_printer(spec: str, width_mm: int = 80, profile: str | None = None,
                 native_qr: bool | None = None) -> TicketPrinter:
    """A printer from a command-line spec: usb:VID:PID, serial:/dev/ttyUSB0,
    network:HOST[:PORT], file:/dev/usb/lp0 or dummy. Opens lazily: a missing printer is noticed
    (and reported) at the first status check or ticket, not here."""
    kind, _, rest = spec.partition(":")
    kwargs: dict[str, Any] = {"profile": profile} if profile else {}
    if kind == "dummy":
        device: Escpos = Dummy(**kwargs)
    elif kind == "usb":
        vid, _, pid = rest.partition(":")
        try:
            device = Usb(int(vid, 16), int(pid, 16), timeout=2000, **kwargs)
        except ValueError:
            raise ValueError(f"usb printer: expected usb:VID:PID in hex, got {spec!r}") from None
    elif kind == "serial" and rest:
        device = Serial(devfile=rest, baudrate=9600, timeout=1, **kwargs)
    elif kind == "network" and rest:
        host, _, port = rest.partition(":")
        device = Network(host, port=int(port or 9100), timeout=3, **kwargs)
    elif kind == "file" and rest:
        device = File(devfile=rest, **kwargs)
    else:
        raise ValueError(f"unknown printer {spec!r}: use usb:VID:PID, serial:DEV, "
                         "network:HOST[:PORT], file:PATH or dummy")
    return TicketPrinter(device, width_mm=width_mm, native_qr=native_qr, name=spec)
