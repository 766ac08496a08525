"""The ticket printer: the bytes of a ticket decoded, status replies, write failures."""

import pytest
import qrcode
from escpos.printer import Dummy
from PIL import Image
from test_printer_decode import decode, draw_paper, paper_mm

from hardware.printer import (
    BIG_NUMBER_SIZE,
    COLUMNS,
    DOTS,
    PrintFailed,
    TicketPrinter,
    TicketText,
    open_printer,
    text_width,
    wrap,
)

URL = "http://192.168.1.10:8080/t/Zq3xW9kLmN0aB1cD"
FOOTER = "服务承诺：一次告知，限时办结。投诉电话 12345 · Complaints: 12345"


# (ahead, ahead_high) as the server sends them: figures, and ranges up to four digits wide.
AHEAD_SHOWN = [(0, None), (9, 9), (10, None), (99, 99), (100, None), (2, 6), (26, 34),
               (95, 105), (92, 108), (975, 1025)]


def ticket(**changes) -> TicketText:
    fields = dict(hall_name="示范营业厅", service_zh="缴费", service_en="Payment",
                  number="A007", priority="normal", ahead=3, wait_min=6,
                  issued="2026-11-23 10:02", status_url=URL, footer=FOOTER)
    return TicketText(**{**fields, **changes})


class ScriptedPrinter(Dummy):
    """A Dummy that answers status requests (DLE EOT n) as a real printer would."""

    def __init__(self, replies: dict[int, bytes], **kwargs) -> None:
        super().__init__(**kwargs)
        self.replies = replies
        self.asked: int | None = None

    def _raw(self, msg: bytes) -> None:
        if msg.startswith(b"\x10\x04"):
            self.asked = msg[2]
            return
        super()._raw(msg)

    def _read(self) -> bytes:
        return self.replies.get(self.asked, b"")


class BrokenPrinter(Dummy):
    def _raw(self, msg: bytes) -> None:
        raise OSError(5, "Input/output error")


@pytest.mark.parametrize("width", [58, 80])
def test_ticket_bytes_decode_to_the_ticket(width, artifacts):
    printer = TicketPrinter(Dummy(), width_mm=width)
    printer.print_ticket(ticket(priority="priority"))
    printed = decode(printer.device.output)
    draw_paper(printed, DOTS[width]).save(artifacts / f"ticket-{width}mm.png")

    assert printed.big() == ["A007"]  # GS ! n, at least 4x wide and tall
    assert printed.qr == [URL]  # native GS ( k: the payload is the status page's URL
    assert not printed.rasters
    text = printed.text()
    for words in ("示范营业厅", "缴费", "Payment", "绿色通道", "前面还有 3 人", "3 ahead of you",
                  "预计等候约 6 分钟", "2026-11-23 10:02", "扫码查看排队进度"):
        assert words in text
    assert "缴费".encode("gb18030") in printer.device.output
    assert printed.chinese_mode_at is not None
    assert printed.chinese_mode_at < printed.first_high_byte_at  # FS & before any GB18030
    assert printed.cut
    body = [t for s, t in printed.lines if s == 0]
    assert all(text_width(line) <= COLUMNS[width] for line in body)
    footer = "".join(line for line in body if "12345" in line or "承诺" in line)
    assert "投诉电话" in footer


@pytest.mark.parametrize("width", [58, 80])
def test_the_longest_number_fits_the_paper_big(width, artifacts):
    """Two prefix letters and four digits: a big hall's 1000th customer of a day."""
    printer = TicketPrinter(Dummy(), width_mm=width)
    printer.print_ticket(ticket(number="AB1234"))
    printed = decode(printer.device.output)
    draw_paper(printed, DOTS[width]).save(artifacts / f"ticket-{width}mm-4-digits.png")
    assert printed.big() == ["AB1234"]
    size = next(s for s, t in printed.lines if t == "AB1234")
    assert len("AB1234") * 12 * ((size >> 4) + 1) <= DOTS[width]  # font A: 12 dots a sign


@pytest.mark.parametrize("width", [58, 80])
@pytest.mark.parametrize("priority", ["normal", "priority", "vip", "appointment"])
def test_strict_and_lenient_printers_print_the_same_ticket(width, priority):
    """Sizes by GS ! only: a printer that reads ESC ! the strict way (letters only, GS ! kept)
    prints what a lenient one prints, whatever the class and however many are ahead."""
    for ahead, high in AHEAD_SHOWN:
        data = TicketPrinter(Dummy(), width_mm=width).layout(
            ticket(priority=priority, ahead=ahead, ahead_high=high, wait_min=ahead * 2))
        strict, lenient = decode(data, "strict"), decode(data, "lenient")
        assert strict.layout() == lenient.layout()
        sizes = {text: (w, h) for w, h, text in strict.layout()}
        assert sizes["示范营业厅"] == (1, 2) and sizes["缴费"] == (2, 2)
        assert sizes["A007"] == (BIG_NUMBER_SIZE[width],) * 2
        after_number = strict.layout()[[t for *_, t in strict.layout()].index("A007") + 1:]
        assert {(w, h) for w, h, _ in after_number} == {(1, 1)}
        assert max(strict.columns) <= COLUMNS[width], (ahead, strict.lines)  # nothing wraps
        assert paper_mm(strict) == paper_mm(lenient) < (135 if width == 58 else 150)


@pytest.mark.parametrize("width", [58, 80])
def test_a_range_ahead_prints_as_a_range_on_whole_lines(width, artifacts):
    """What the server scores is what is printed: 前面约 95–105 人, not one figure."""
    printed = decode(TicketPrinter(Dummy(), width_mm=width).layout(
        ticket(ahead=95, ahead_high=105, wait_min=190)))
    draw_paper(printed, DOTS[width]).save(artifacts / f"ticket-{width}mm-ahead-range.png")
    lines = [t for _, t in printed.lines]
    if width == 80:  # 47 columns: one line
        assert "前面约 95–105 人 · about 95–105 ahead of you" in lines
    else:  # split by language, each whole
        assert "前面约 95–105 人" in lines and "about 95–105 ahead of you" in lines
    assert "前面还有" not in printed.text()
    assert max(printed.columns) <= COLUMNS[width]


def test_the_ahead_line_fits_58_mm_with_two_digits():
    """`·` is two columns wide in Chinese mode: "… ahead of you" must not lose its "u"."""
    printed = decode(TicketPrinter(Dummy(), width_mm=58).layout(ticket(ahead=42)))
    assert "前面还有 42 人" in printed.text() and "42 ahead of you" in printed.text()
    assert max(printed.columns) <= COLUMNS[58]


def test_long_lines_split_by_language_on_58_mm():
    printer = TicketPrinter(Dummy(), width_mm=58)
    printer.print_ticket(ticket(ahead=123, wait_min=245))
    lines = [t for s, t in decode(printer.device.output).lines]
    assert "前面还有 123 人" in lines and "123 ahead of you" in lines
    assert "预计等候约 245 分钟" in lines and "about 245 min" in lines


def test_normal_ticket_has_no_priority_mark_and_no_footer_when_none():
    printer = TicketPrinter(Dummy(), width_mm=80)
    printer.print_ticket(ticket(footer="", ahead=0, wait_min=0))
    text = decode(printer.device.output).text()
    assert "绿色通道" not in text and "PRIORITY" not in text
    assert "前面还有 0 人" in text


def test_printers_without_native_qr_get_a_raster_qr_of_the_url(artifacts):
    printer = TicketPrinter(Dummy(profile="POS-5890"), width_mm=58)  # profile: no native QR
    assert not printer.native_qr
    printer.print_ticket(ticket())
    printed = decode(printer.device.output)
    draw_paper(printed, 384).save(artifacts / "ticket-58mm-raster-qr.png")
    assert printed.qr == [] and len(printed.rasters) == 1
    raster = printed.rasters[0]
    assert raster.width <= 384  # fits 58 mm paper

    # Read the dots back at the centre of each QR module: they are the URL's QR code.
    code = qrcode.QRCode(box_size=5, border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(URL)
    code.make(fit=True)
    matrix = code.get_matrix()
    side = len(matrix) * 5
    left = (384 + side) // 2 - side
    dots = raster.convert("L").load()
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            black = dots[left + c * 5 + 2, r * 5 + 2] == 255  # 1 bits are black dots
            assert black == dark, (r, c)


def test_a_ticket_is_one_write():
    # Half a ticket (number but no QR) helps nobody: the bytes go out in one write.
    device = Dummy()
    TicketPrinter(device).print_ticket(ticket())
    assert len(device._output_list) == 1


def test_a_printer_whose_writes_fail_raises_print_failed():
    printer = TicketPrinter(BrokenPrinter())
    with pytest.raises(PrintFailed) as failure:
        printer.print_ticket(ticket())
    assert failure.value.state == "offline"
    assert "Input/output error" in failure.value.detail


@pytest.mark.parametrize("replies, state", [
    ({}, "unknown"),  # no reply at all is not "paper OK"
    ({1: b"\x16", 4: b"\x12"}, "ok"),
    ({1: b"\x16", 4: b"\x1e"}, "ok"),  # paper low: still prints
    ({1: b"\x16", 4: b"\x72"}, "no_paper"),
    ({1: b"\x1e", 2: b"\x16", 4: b"\x12"}, "cover_open"),  # offline, cause: cover
    ({1: b"\x1e", 2: b"\x32", 4: b"\x72"}, "no_paper"),  # offline, cause: paper end
    ({1: b"\x1e", 2: b"\x52", 4: b"\x12"}, "error"),
    ({1: b"\x1e", 2: b"\x12", 4: b"\x12"}, "offline"),
    ({1: b"\xff", 4: b"\x12"}, "unknown"),  # not a status byte: line noise
    ({1: b"\x16"}, "unknown"),  # online, but the paper sensor did not answer
])
def test_status_replies(replies, state):
    assert TicketPrinter(ScriptedPrinter(replies)).status()[0] == state


def test_no_paper_stops_the_ticket_before_any_byte_is_printed():
    device = ScriptedPrinter({1: b"\x16", 4: b"\x72"})
    with pytest.raises(PrintFailed) as failure:
        TicketPrinter(device).print_ticket(ticket())
    assert failure.value.state == "no_paper"
    assert device.output == b""


def test_backends_that_cannot_read_report_unknown():
    printer = TicketPrinter(Dummy())
    assert not printer.can_report_status
    assert printer.status()[0] == "unknown"


def test_file_printer_writes_the_same_bytes_as_dummy(tmp_path):
    device_file = tmp_path / "lp0"
    device_file.touch()
    printer = open_printer(f"file:{device_file}", width_mm=58)
    printer.print_ticket(ticket())
    printer.close()
    dummy = TicketPrinter(Dummy(), width_mm=58)
    dummy.print_ticket(ticket())
    assert device_file.read_bytes() == dummy.device.output


def test_a_missing_device_file_is_offline(tmp_path):
    printer = open_printer(f"file:{tmp_path}/no/such/lp0")
    assert printer.status()[0] == "offline"
    with pytest.raises(PrintFailed) as failure:
        printer.print_ticket(ticket())
    assert failure.value.state == "offline"


@pytest.mark.parametrize("spec", ["", "usb:zz:1", "serial:", "carrier-pigeon:1", "network:"])
def test_bad_printer_specs_are_refused(spec):
    with pytest.raises(ValueError):
        open_printer(spec)


def test_network_printer_spec():
    printer = open_printer("network:10.0.0.9:9101")
    assert (printer.device.host, printer.device.port) == ("10.0.0.9", 9101)
    assert printer.can_report_status


def test_wrap_respects_columns_and_keeps_english_words_whole():
    lines = wrap(FOOTER, 32)
    assert all(text_width(line) <= 32 for line in lines)
    assert "".join(lines).replace(" ", "") == FOOTER.replace(" ", "")
    assert wrap("please take your ticket and wait", 12) == ["please take", "your ticket",
                                                             "and wait"]


def test_raster_is_black_on_white():
    from hardware.printer import raster

    image = Image.new("1", (16, 1), 1)
    image.putpixel((0, 0), 0)  # one black dot at the left
    assert raster(image)[8:] == b"\x80\x00"


@pytest.mark.parametrize("spec", ["serial:/dev/ttyHALLQ-absent", "usb:0416:5011"])
def test_an_absent_usb_or_serial_printer_is_offline_not_ok(spec):
    printer = open_printer(spec)
    assert printer.can_report_status
    assert printer.status()[0] == "offline"
    with pytest.raises(PrintFailed) as failure:
        printer.print_ticket(ticket())
    assert failure.value.state == "offline"


class SilentPrinter(Dummy):
    """A printer that takes bytes but never answers status requests (a read timeout)."""

    def _read(self) -> bytes:
        raise TimeoutError("timed out")


def test_a_printer_that_never_answers_is_unknown_and_still_prints():
    device = SilentPrinter()
    printer = TicketPrinter(device)
    assert printer.status()[0] == "unknown"
    printer.print_ticket(ticket())
    assert decode(device.output.replace(b"\x10\x04\x01", b"")).big() == ["A007"]
