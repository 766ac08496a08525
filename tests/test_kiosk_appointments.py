"""The kiosk's appointment check-in (预约取号) against the real server: the keypad, a barcode
reader typing the code, too early, too late, and the printed appointment ticket.

Each screen is rendered to test-artifacts/kiosk-appointment-*.png: look at them. The server
runs the demo hall in a time zone where it is about noon now, so that the slots used here lie
within today whatever the hour of the test run.
"""

from datetime import UTC, datetime, timedelta

import pygame
import pytest
from escpos.printer import Dummy
from support import KIOSK, ServerProcess, wait_until
from test_kiosk import TAP_GUARD_S, Clock, config_file, make_kiosk, render  # noqa: F401
from test_printer_decode import decode, draw_paper

from kiosk.kiosk import CODE_SCREEN_S
from kiosk.screen import Screen

BOOKING = "demo-booking-1-token"


def start_at_noon(tmp_path, *changes: tuple[str, str]) -> ServerProcess:
    """The demo hall where it is about 12:00 now."""
    offset = 12 - datetime.now(UTC).hour  # hours east of UTC: -11 … +12
    zone = f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"  # Etc/GMT-8 is UTC+8
    config = config_file(tmp_path, ('timezone = "Asia/Shanghai"', f'timezone = "{zone}"'),
                         *changes)
    srv = ServerProcess(tmp_path / "hall.db", config=config).start()
    srv.zone_offset = timedelta(hours=offset)
    return srv


@pytest.fixture
def noon_server(tmp_path):
    srv = start_at_noon(tmp_path)
    yield srv
    srv.stop()


def book(server, hours_from_now: float = 0) -> dict:
    """A booking of 新装开户 in the slot running `hours_from_now`."""
    slots = server.get("/api/v1/appointments/slots?service=account", token=BOOKING).json()
    when = datetime.now(UTC) + timedelta(hours=hours_from_now)
    slot = next(s for s in slots["slots"]
                if datetime.fromisoformat(s["start"]) <= when < datetime.fromisoformat(s["end"]))
    r = server.post("/api/v1/appointments", {"service": "account", "slot_start": slot["start"],
                                             "phone": "13812345678"}, token=BOOKING)
    assert r.status_code == 201, r.text
    return r.json()["appointment"]


def ready(make_kiosk, server, device=None):  # noqa: F811
    clock = Clock()
    kiosk = make_kiosk(server, device if device is not None else Dummy(), clock=clock)
    clock.advance(TAP_GUARD_S + 0.1)
    return kiosk, clock


def test_home_offers_the_check_in_and_the_keypad_takes_the_code(
        noon_server, make_kiosk, artifacts):  # noqa: F811
    booked = book(noon_server)
    device = Dummy()
    kiosk, clock = ready(make_kiosk, noon_server, device)
    surface = pygame.Surface((1280, 720))
    buttons = Screen().draw(surface, kiosk.view())
    assert ("appointment",) in [action for _, action in buttons]
    render(kiosk, artifacts / "kiosk-appointment-home.png")

    kiosk.tap(("appointment",))
    assert kiosk.view().screen == "appointment"
    clock.advance(TAP_GUARD_S + 0.1)
    for digit in booked["code"][:4]:
        kiosk.tap(("digit", digit))
    kiosk.tap(("digit", "9"))
    kiosk.tap(("delete",))
    assert kiosk.view().code == booked["code"][:4]
    assert not kiosk.check_in()  # four digits: nothing sent
    render(kiosk, artifacts / "kiosk-appointment-keypad.png")
    render(kiosk, artifacts / "kiosk-appointment-keypad-portrait.png", size=(720, 1280))
    for digit in booked["code"][4:]:
        kiosk.tap(("digit", digit))
    kiosk.tap(("digit", "1"))  # a seventh digit is not taken
    assert kiosk.view().code == booked["code"]
    kiosk.tap(("check_in",))
    wait_until(lambda: kiosk.issued and not kiosk.busy, timeout=10)
    view = kiosk.view()
    assert view.screen == "issued" and view.ticket["priority"] == "appointment"
    assert view.ticket["number"] == "B001"
    printed = decode(device.output)
    assert printed.big() == ["B001"]
    slot = datetime.fromisoformat(booked["slot_start"])
    text = printed.text()
    assert "预约 APPOINTMENT" in text and f"预约时段 {slot:%H:%M}–" in text
    assert "前面还有" not in text  # called at the slot, not by place in the queue
    draw_paper(printed).save(artifacts / "ticket-appointment-80mm.png")
    render(kiosk, artifacts / "kiosk-appointment-issued.png")


def test_a_barcode_reader_typing_the_code_and_enter_checks_in(
        noon_server, make_kiosk):  # noqa: F811
    from kiosk.__main__ import parse_args, run

    booked = book(noon_server)
    kiosk, _ = ready(make_kiosk, noon_server)
    args = parse_args(["--server", noon_server.url, "--token", KIOSK, "--size", "1024x600"])
    pygame.display.init()
    try:
        pygame.display.set_mode((1024, 600))
        for char in booked["code"]:  # on the home screen, no tap first
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=ord(char), unicode=char,
                                                 mod=0, scancode=0))
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RETURN,
                                             unicode="\r", mod=0, scancode=0))
        pygame.event.post(pygame.event.Event(pygame.QUIT))
        assert run(kiosk, args) == 0
    finally:
        pygame.display.quit()
    wait_until(lambda: kiosk.issued and not kiosk.busy, timeout=10)
    assert kiosk.issued[0]["priority"] == "appointment"
    again = noon_server.post(f"/api/v1/appointments/{booked['code']}/check-in", token=KIOSK)
    assert again.json()["error"]["code"] == "appointment_checked_in"


def test_too_early_says_when_check_in_opens(noon_server, make_kiosk, artifacts):  # noqa: F811
    booked = book(noon_server, hours_from_now=2)
    kiosk, clock = ready(make_kiosk, noon_server)
    for char in booked["code"] + "\n":
        kiosk.key(char)
    wait_until(lambda: not kiosk.busy and kiosk.view().screen != "issuing", timeout=10)
    view = kiosk.view()
    assert view.screen == "too_early" and not kiosk.issued
    opens = datetime.fromisoformat(view.error["checkin_opens_at"])
    assert opens == datetime.fromisoformat(booked["slot_start"]) - timedelta(minutes=30)
    render(kiosk, artifacts / "kiosk-appointment-too-early.png")
    clock.advance(30)
    assert kiosk.view().screen == "home"


def test_too_late_offers_a_normal_ticket(noon_server, make_kiosk, artifacts):  # noqa: F811
    """A booking whose slot ended before the grace: written straight into the hall's file, as
    no booking of a past slot is accepted."""
    import sqlite3

    now = datetime.now(UTC)
    start = (now - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    day = (now + noon_server.zone_offset).date().isoformat()
    with sqlite3.connect(noon_server.db) as db:
        db.execute("INSERT INTO appointments (day, code, service, slot_start, slot_end, phone,"
                   " status, source, booked_at) VALUES (?, '424242', 'account', ?, ?,"
                   " '13812345678', 'booked', 'external', ?)",
                   [day, start.timestamp(), start.timestamp() + 1800, start.timestamp()])
    kiosk, clock = ready(make_kiosk, noon_server)
    kiosk.tap(("appointment",))
    clock.advance(TAP_GUARD_S + 0.1)
    for digit in "424242":
        kiosk.tap(("digit", digit))
    assert kiosk.check_in()
    wait_until(lambda: not kiosk.busy and kiosk.view().screen != "issuing", timeout=10)
    view = kiosk.view()
    assert view.screen == "too_late" and view.error["service"] == "account"
    surface = pygame.Surface((1280, 720))
    buttons = Screen().draw(surface, view)
    assert ("service", "account") in [action for _, action in buttons]
    render(kiosk, artifacts / "kiosk-appointment-too-late.png")
    clock.advance(TAP_GUARD_S + 0.1)
    kiosk.tap(("service", "account"))
    wait_until(lambda: kiosk.issued and not kiosk.busy, timeout=10)
    assert kiosk.issued[0]["priority"] == "normal" and kiosk.issued[0]["number"] == "B001"


def test_the_keypad_goes_home_when_left(noon_server, make_kiosk):  # noqa: F811
    kiosk, clock = ready(make_kiosk, noon_server)
    kiosk.key("1")
    assert kiosk.view().screen == "appointment" and kiosk.view().code == "1"
    clock.advance(CODE_SCREEN_S - 1)
    kiosk.key("2")  # typing keeps it open
    clock.advance(CODE_SCREEN_S - 1)
    assert kiosk.view().code == "12"
    clock.advance(2)
    assert kiosk.view().screen == "home" and kiosk.view().code == ""


def test_after_the_last_ticket_a_booked_customer_still_checks_in(
        tmp_path, make_kiosk, artifacts):  # noqa: F811
    server = start_at_noon(tmp_path, ('last_ticket = "23:55"', 'last_ticket = "00:05"'))
    try:
        booked = book(server)
        kiosk, _ = ready(make_kiosk, server)
        assert kiosk.view().screen == "closed"
        surface = pygame.Surface((1280, 720))
        buttons = Screen().draw(surface, kiosk.view())
        assert ("appointment",) in [action for _, action in buttons]
        render(kiosk, artifacts / "kiosk-appointment-closed.png")
        kiosk.tap(("appointment",))
        assert kiosk.view().screen == "appointment"
        for char in booked["code"] + "\r":
            kiosk.key(char)
        wait_until(lambda: kiosk.issued and not kiosk.busy, timeout=10)
        assert kiosk.issued[0]["priority"] == "appointment"
    finally:
        server.stop()
