"""The kiosk against the real server: issuing, printing, refusals, printer trouble, screens.

Every screen is rendered headless to test-artifacts/kiosk-*.png: look at them.
"""

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pygame
import pytest
from escpos.printer import Dummy
from support import KIOSK, ROOT, SHANGHAI, ServerProcess, free_port, wait_until
from test_printer import BrokenPrinter, ScriptedPrinter
from test_printer_decode import decode

from client.live import CommandFailed, LiveHall
from hall.config import DAY_NAMES, DEMO_CONFIG
from hardware.printer import TicketPrinter
from kiosk.kiosk import SHOW_TICKET_S, TAP_GUARD_S, Kiosk, KioskView
from kiosk.screen import Screen
from kiosk.words import ticket_ahead

NO_PAPER = {1: b"\x16", 4: b"\x72"}  # online, paper sensor: end


class Clock:
    """The kiosk's monotonic clock, moved by hand (screens time out by it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def config_file(tmp_path: Path, *changes: tuple[str, str]) -> Path:
    """The demo hall's TOML with a few lines replaced."""
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "hall.toml"
    path.write_text(text, encoding="utf-8")
    return path


def closed_today(tmp_path: Path) -> Path:
    today = DAY_NAMES[datetime.now(SHANGHAI).weekday()]
    days = ", ".join(f'"{d}"' for d in DAY_NAMES if d != today)
    return config_file(tmp_path, ('days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]',
                                  f"days = [{days}]"))


@pytest.fixture
def make_kiosk():
    made: list[Kiosk] = []

    def make(server, device=None, live=None, **kwargs) -> Kiosk:
        printer = TicketPrinter(device if device is not None else Dummy(), width_mm=80)
        kiosk = Kiosk(server.url, KIOSK, printer, live=live, clock=kwargs.pop("clock", Clock()),
                      **kwargs)
        if live is not None:
            live._on_connection = kiosk._connection
        kiosk.start(watch_printer=False)
        wait_until(lambda: kiosk.live.connected and kiosk.live.state, timeout=10)
        made.append(kiosk)
        return kiosk

    yield make
    for kiosk in made:
        kiosk.stop()


def render(kiosk_or_view, path: Path, size=(1280, 720)) -> Path:
    view = kiosk_or_view if isinstance(kiosk_or_view, KioskView) else kiosk_or_view.view()
    surface = pygame.Surface(size)
    buttons = Screen().draw(surface, view)
    pygame.image.save(surface, str(path))
    assert buttons or view.screen not in ("home", "priority")
    return path


def issue_and_wait(kiosk: Kiosk, service="pay", priority="normal") -> dict:
    before = len(kiosk.issued)
    assert kiosk.request_ticket(service, priority)
    wait_until(lambda: not kiosk.busy, timeout=30)
    assert len(kiosk.issued) == before + 1, kiosk.view()
    return kiosk.issued[-1]


def waiting(server, service="pay") -> int:
    state = server.get("/api/v1/state").json()
    return next(s["waiting"] for s in state["services"] if s["id"] == service)


def printer_reported(server, device="kiosk-1") -> str | None:
    state = server.get("/api/v1/state").json()
    return next(d["printer"] for d in state["devices"] if d["id"] == device)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    return subprocess.run([sys.executable, "-m", "kiosk", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


# -- screens from the command line -----------------------------------------------------------
def test_home_screenshot_from_the_command_line(server, artifacts):
    path = artifacts / "kiosk-home.png"
    result = run_cli("--server", server.url, "--token", KIOSK, "--printer", "dummy",
                     "--screenshot", str(path))
    assert result.returncode == 0, result.stderr
    assert "(home)" in result.stdout
    assert pygame.image.load(str(path)).get_size() == (1280, 720)

    portrait = artifacts / "kiosk-home-portrait.png"
    result = run_cli("--server", server.url, "--token", KIOSK, "--portrait",
                     "--screenshot", str(portrait))
    assert result.returncode == 0, result.stderr
    assert pygame.image.load(str(portrait)).get_size() == (720, 1280)


def test_unreachable_server_screenshot(artifacts):
    path = artifacts / "kiosk-unreachable.png"
    result = run_cli("--server", f"http://127.0.0.1:{free_port()}", "--token", KIOSK,
                     "--wait", "1", "--screenshot", str(path))
    assert result.returncode == 0, result.stderr
    assert "(offline)" in result.stdout


def test_bad_printer_spec_is_a_clear_error():
    result = run_cli("--server", "http://127.0.0.1:1", "--token", KIOSK, "--printer", "lpt1")
    assert result.returncode == 2
    assert "usb:VID:PID" in result.stderr


# -- issuing ---------------------------------------------------------------------------------
def test_a_tap_issues_prints_and_shows_the_ticket(server, make_kiosk, artifacts):
    server.issue("pay")  # someone is ahead
    device = Dummy()
    clock = Clock()
    kiosk = make_kiosk(server, device, clock=clock)
    assert kiosk.view().screen == "home"
    clock.advance(TAP_GUARD_S + 0.1)
    kiosk.tap(("service", "pay"))
    wait_until(lambda: kiosk.issued, timeout=10)
    wait_until(lambda: not kiosk.busy)
    view = kiosk.view()
    assert view.screen == "issued" and view.print_problem is None
    ticket = view.ticket
    assert ticket["number"] == "A002" and ticket["ahead"] == 1
    assert waiting(server) == 2

    printed = decode(device.output)
    assert printed.big() == ["A002"]
    assert printed.qr == [server.url + ticket["status_url"]]
    assert "缴费" in printed.text() and "前面还有 1 人" in printed.text()
    assert "投诉电话 12345" in printed.text()  # the demo hall's ticket_footer
    # no window is open: no figure, and the ticket says so
    assert ticket["estimated_wait_min"] is None and "暂无窗口办理" in printed.text()
    assert printed.cut
    render(kiosk, artifacts / "kiosk-issued.png")

    clock.advance(SHOW_TICKET_S + 0.1)  # the screen returns home by itself
    assert kiosk.view().screen == "home"


def test_many_ahead_is_shown_and_printed_as_the_servers_range(server, make_kiosk, artifacts):
    """30 ahead at one open window: the server gives a range (ahead_low–ahead_high), and the
    screen and the ticket show that range, not the one figure."""
    server.login("1001", "1234", 1)
    for _ in range(30):
        server.issue("pay")
    device = Dummy()
    kiosk = make_kiosk(server, device)
    ticket = issue_and_wait(kiosk)
    low, high = ticket["ahead_low"], ticket["ahead_high"]
    assert low < ticket["ahead"] == 30 < high
    printed = decode(device.output)
    assert f"前面约 {low}–{high} 人 · about {low}–{high} ahead of you" in printed.text()
    assert "前面还有" not in printed.text()
    wait_until(lambda: not kiosk.busy)
    for lang in ("zh", "en"):
        view = kiosk.view()
        view.lang = lang
        render(view, artifacts / f"kiosk-issued-ahead-range-{lang}.png")


def test_the_ticket_says_from_when_an_away_window_will_serve(server, make_kiosk, artifacts):
    token = server.login("1001", "1234", 1)  # window 1: pay, enquiry
    assert server.post("/api/v1/windows/1/away", {"reason": "暂离"}, token=token).ok
    device = Dummy()
    clock = Clock()
    kiosk = make_kiosk(server, device, clock=clock)
    clock.advance(TAP_GUARD_S + 0.1)
    kiosk.tap(("service", "pay"))
    wait_until(lambda: kiosk.issued, timeout=10)
    wait_until(lambda: not kiosk.busy)
    ticket = kiosk.view().ticket
    assert ticket["estimated_wait_min"] == 10 and ticket["serving_from"]
    when = ticket["estimate_note"].split("预计 ")[1][:5]
    assert f"暂无窗口办理，预计 {when} 起" in decode(device.output).text()
    render(kiosk, artifacts / "kiosk-issued-away.png")
    clock.advance(SHOW_TICKET_S + 0.1)
    wait_until(lambda: kiosk.view().state["services"][0].get("estimate_note"))
    render(kiosk, artifacts / "kiosk-home-away.png")


def test_a_double_tap_and_taps_while_issuing_give_one_ticket(server, make_kiosk):
    clock = Clock()
    kiosk = make_kiosk(server, clock=clock)
    clock.advance(TAP_GUARD_S + 0.1)
    kiosk.tap(("service", "pay"))
    kiosk.tap(("service", "pay"))  # the same finger, a moment later
    kiosk.tap(("service", "account"))
    wait_until(lambda: not kiosk.busy, timeout=10)
    kiosk.tap(("service", "pay"))  # lands on the ticket screen just shown: not a new ticket
    assert len(kiosk.issued) == 1
    assert waiting(server, "pay") == 1 and waiting(server, "account") == 0
    assert kiosk.view().screen == "issued"


def test_priority_asks_to_confirm_by_choosing_the_service(server, make_kiosk, artifacts):
    clock = Clock()
    device = Dummy()
    kiosk = make_kiosk(server, device, clock=clock)
    clock.advance(TAP_GUARD_S + 0.1)
    kiosk.tap(("priority",))
    assert kiosk.view().screen == "priority" and not kiosk.issued
    render(kiosk, artifacts / "kiosk-priority.png")
    clock.advance(TAP_GUARD_S + 0.1)
    kiosk.tap(("service", "enquiry"))
    wait_until(lambda: kiosk.issued and not kiosk.busy, timeout=10)
    assert kiosk.issued[0]["priority"] == "priority"
    assert "绿色通道" in decode(device.output).text()
    render(kiosk, artifacts / "kiosk-issued-priority.png")


def test_priority_screen_can_be_cancelled(server, make_kiosk):
    clock = Clock()
    kiosk = make_kiosk(server, clock=clock)
    clock.advance(TAP_GUARD_S + 0.1)
    kiosk.tap(("priority",))
    clock.advance(TAP_GUARD_S + 0.1)
    kiosk.tap(("cancel",))
    assert kiosk.view().screen == "home" and not kiosk.issued


def test_language_switch(server, make_kiosk, artifacts):
    clock = Clock()
    kiosk = make_kiosk(server, clock=clock)
    clock.advance(TAP_GUARD_S + 0.1)
    kiosk.tap(("lang",))
    assert kiosk.view().lang == "en"
    render(kiosk, artifacts / "kiosk-home-en.png")
    kiosk.tap(("priority",))
    clock.advance(TAP_GUARD_S + 0.1)
    kiosk.tap(("cancel",))
    assert kiosk.view().lang == "en"  # the same customer, still reading English
    issue_and_wait(kiosk)
    clock.advance(SHOW_TICKET_S + 0.1)
    assert kiosk.view().lang == "zh"  # the next customer starts in the hall's language


class LosesFirstAnswer(LiveHall):
    """The command reaches the server, but its answer is lost (a dropped connection)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[dict] = []

    def command(self, name, **body):
        self.sent.append(body)
        answer = super().command(name, **body)
        if name == "issue" and len(self.sent) == 1:
            raise CommandFailed("timeout", "服务器无响应 · The server did not answer")
        return answer


def test_a_retry_after_a_lost_answer_issues_once(server, make_kiosk):
    live = LosesFirstAnswer(server.url, KIOSK)
    kiosk = make_kiosk(server, live=live)
    ticket = issue_and_wait(kiosk)
    issues = [b for b in live.sent if "service" in b]
    assert len(issues) == 2 and issues[0]["request_id"] == issues[1]["request_id"]
    assert ticket["number"] == "A001"
    assert waiting(server) == 1  # the server issued one ticket, not two


def test_a_frozen_server_is_waited_for_and_issues_once(server, make_kiosk):
    # The server stops answering for longer than one command's timeout (5 s), then recovers:
    # the kiosk retries with the same request_id, the server answers both with one ticket.
    kiosk = make_kiosk(server, clock=time.monotonic)
    server.signal(signal.SIGSTOP)
    try:
        assert kiosk.request_ticket("pay")
        wait_until(lambda: kiosk.view().retrying, timeout=10)
    finally:
        server.signal(signal.SIGCONT)
    wait_until(lambda: not kiosk.busy, timeout=20)
    assert [t["number"] for t in kiosk.issued] == ["A001"]
    assert waiting(server) == 1


def test_no_answer_at_all_means_no_ticket_and_says_so(server, make_kiosk, artifacts):
    kiosk = make_kiosk(server, clock=time.monotonic, issue_patience=0.5)
    server.signal(signal.SIGSTOP)
    try:
        assert kiosk.request_ticket("pay")
        wait_until(lambda: not kiosk.busy, timeout=15)
        view = kiosk.view()
        assert view.screen == "unreachable" and not kiosk.issued
        assert kiosk.printer.device.output == b""  # nothing printed without the server's number
        render(view, artifacts / "kiosk-no-answer.png")
    finally:
        server.signal(signal.SIGCONT)


def test_server_gone_stops_offering_tickets(server, make_kiosk, artifacts):
    kiosk = make_kiosk(server)
    server.kill()
    wait_until(lambda: not kiosk.live.connected, timeout=15)
    assert kiosk.view().screen == "offline"
    assert not kiosk.request_ticket("pay")
    render(kiosk, artifacts / "kiosk-offline.png")


# -- refusals --------------------------------------------------------------------------------
def test_closed_hall_shows_why_and_when(tmp_path, make_kiosk, artifacts):
    srv = ServerProcess(tmp_path / "hall.db", closed_today(tmp_path)).start()
    try:
        kiosk = make_kiosk(srv)
        view = kiosk.view()
        assert view.screen == "closed"
        assert view.state["hall"]["issuing_reason"] == "closed_day"
        assert view.state["hall"]["next_issuing_at"]
        assert not kiosk.request_ticket("pay")
        render(kiosk, artifacts / "kiosk-closed.png")
        render(kiosk, artifacts / "kiosk-closed-portrait.png", size=(720, 1280))
    finally:
        srv.stop()


def test_a_refusal_is_explained(tmp_path, make_kiosk, artifacts):
    config = config_file(tmp_path, ("avg_minutes = 4\n", "avg_minutes = 4\ndaily_cap = 1\n"))
    srv = ServerProcess(tmp_path / "hall.db", config).start()
    try:
        kiosk = make_kiosk(srv)
        issue_and_wait(kiosk)
        kiosk.clock.advance(SHOW_TICKET_S + 1)
        assert kiosk.request_ticket("pay")
        wait_until(lambda: not kiosk.busy, timeout=10)
        view = kiosk.view()
        assert view.screen == "refused" and view.error["code"] == "service_full"
        assert len(kiosk.issued) == 1
        render(view, artifacts / "kiosk-refused-full.png")
    finally:
        srv.stop()


def test_a_refusal_at_the_break_names_the_time_issuing_resumes(artifacts):
    # The kiosk's state said "issuing" a moment before the server refused (lunch began).
    state = {"hall": {"name": "示范营业厅", "timezone": "Asia/Shanghai", "issuing": True,
                      "hours": {"open": "09:00", "close": "17:00", "last_ticket": "16:45",
                                "breaks": [["12:00", "13:00"]]}},
             "services": []}
    now = datetime.now(SHANGHAI)
    error = {"code": "hall_closed", "reason": "break",
             "message": "午间休息，暂停取号 · Break: not issuing",
             "next_issuing_at": now.replace(hour=13, minute=0).isoformat()}
    render(KioskView(screen="refused", lang="zh", state=state, error=error),
           artifacts / "kiosk-refused-break.png")


# -- printer trouble -------------------------------------------------------------------------
def test_out_of_paper_shows_the_number_on_screen_and_reports(server, make_kiosk, artifacts):
    device = ScriptedPrinter(NO_PAPER)
    kiosk = make_kiosk(server, device)
    ticket = issue_and_wait(kiosk)
    view = kiosk.view()
    assert view.screen == "issued" and view.print_problem == "no_paper"
    assert view.ticket["number"] == ticket["number"] == "A001"
    assert device.output == b""
    wait_until(lambda: printer_reported(server) == "no_paper")
    render(kiosk, artifacts / "kiosk-no-paper-issued.png")
    render(kiosk, artifacts / "kiosk-no-paper-issued-portrait.png", size=(720, 1280))

    # The hall did not ask for "no paper, no ticket": the kiosk keeps offering, with a note.
    kiosk.clock.advance(SHOW_TICKET_S + 1)
    assert kiosk.view().screen == "home"
    render(kiosk, artifacts / "kiosk-home-printer-banner.png")

    device.replies = {1: b"\x16", 4: b"\x12"}  # paper loaded
    assert kiosk.check_printer()[0] == "ok"
    wait_until(lambda: printer_reported(server) == "ok")


def test_no_paper_no_ticket(tmp_path, make_kiosk, artifacts):
    config = config_file(tmp_path, ("[rules]\n", "[rules]\nno_paper_no_ticket = true\n"))
    srv = ServerProcess(tmp_path / "hall.db", config).start()
    try:
        device = ScriptedPrinter(NO_PAPER)
        kiosk = make_kiosk(srv, device)
        assert kiosk.view().screen == "home"
        kiosk.check_printer()
        assert kiosk.view().screen == "no_paper"
        assert not kiosk.request_ticket("pay")
        wait_until(lambda: printer_reported(srv) == "no_paper")
        render(kiosk, artifacts / "kiosk-no-paper.png")
        device.replies = {1: b"\x16", 4: b"\x12"}
        kiosk.check_printer()
        assert kiosk.view().screen == "home"
        issue_and_wait(kiosk)
    finally:
        srv.stop()


def test_a_printer_whose_writes_fail_takes_the_on_screen_path(server, make_kiosk, artifacts):
    kiosk = make_kiosk(server, BrokenPrinter())
    issue_and_wait(kiosk)
    view = kiosk.view()
    assert view.screen == "issued" and view.print_problem == "offline"
    assert view.status_url == server.url + view.ticket["status_url"]
    wait_until(lambda: printer_reported(server) == "offline")
    render(kiosk, artifacts / "kiosk-printer-failed.png")


def test_the_touch_loop_turns_two_quick_clicks_into_one_ticket(server, make_kiosk):
    from kiosk.__main__ import parse_args, run

    args = parse_args(["--server", server.url, "--token", KIOSK, "--size", "1024x600"])
    kiosk = make_kiosk(server, clock=time.monotonic)
    time.sleep(TAP_GUARD_S)  # the guard after the home screen appeared
    pygame.display.init()
    try:
        surface = pygame.display.set_mode((1024, 600))
        buttons = Screen().draw(surface, kiosk.view())
        pay = next(rect for rect, action in buttons if action == ("service", "pay"))
        for _ in range(2):  # a double tap arrives as two clicks
            pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=pay.center,
                                                 button=1))
        pygame.event.post(pygame.event.Event(pygame.QUIT))
        assert run(kiosk, args) == 0
    finally:
        pygame.display.quit()
    wait_until(lambda: kiosk.issued and not kiosk.busy, timeout=10)
    assert [t["number"] for t in kiosk.issued] == ["A001"]
    assert waiting(server) == 1


def test_words_for_hours_and_when_issuing_resumes():
    from kiosk.words import hours_line, resumes

    now = datetime(2026, 11, 23, 12, 10, tzinfo=SHANGHAI)  # a Monday, lunch break
    assert resumes("2026-11-23T13:00:00+08:00", now) == ("13:00 开始取号", "Tickets from 13:00")
    assert resumes("2026-11-24T09:00:00+08:00", now) == ("明天 09:00 开始取号",
                                                         "Tickets from 09:00 tomorrow")
    assert resumes("2026-11-30T09:00:00+08:00", now) == ("11月30日 09:00 开始取号",
                                                         "Tickets from Mon 30 Nov 09:00")
    assert resumes(None, now) is None
    hours = {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "17:00",
             "last_ticket": "16:45", "breaks": [["12:00", "13:00"]]}
    zh, en = hours_line(hours)
    assert zh == "营业时间 周一至周五 09:00–17:00（午休 12:00–13:00），16:45 停止取号"
    assert en == "Open Mon–Fri 09:00–17:00 (break 12:00–13:00), last ticket 16:45"


def test_ahead_is_one_figure_when_sure_else_the_range():
    assert ticket_ahead({"ahead": 3, "ahead_low": 3, "ahead_high": 3}) == (
        "前面还有 3 人", "3 ahead of you")
    assert ticket_ahead({"ahead": 30, "ahead_low": 26, "ahead_high": 34}) == (
        "前面约 26–34 人", "about 26–34 ahead of you")
    assert ticket_ahead({"ahead": 7}) == ("前面还有 7 人", "7 ahead of you")  # an older server
    assert ticket_ahead({"ahead": None}) is None


def test_a_four_digit_number_fits_the_issued_screen(artifacts):
    state = {"hall": {"name": "示范营业厅", "timezone": "Asia/Shanghai", "issuing": True,
                      "hours": {"open": "09:00", "close": "17:00"}},
             "services": [{"id": "pay", "prefix": "AB", "name": {"zh": "缴费", "en": "Payment"},
                           "waiting": 120, "estimated_wait_min": 35}]}
    ticket = {"number": "AB1234", "service": "pay", "priority": "normal", "ahead": 119,
              "ahead_low": 110, "ahead_high": 128, "estimated_wait_min": 35, "status_url": "/t/x",
              "issued_at": "2026-11-23T10:02:00"}
    for lang in ("zh", "en"):
        render(KioskView(screen="issued", lang=lang, state=state, ticket=ticket,
                         status_url="http://127.0.0.1/t/x"),
               artifacts / f"kiosk-issued-4-digits-{lang}.png")


def test_the_paused_kiosk_says_paused_once(artifacts):
    """Paused from the dashboard: the title says 暂停取号, the line under it says who paused
    it and what to do, not 暂停取号 again."""
    state = {"hall": {"name": "示范营业厅", "timezone": "Asia/Shanghai", "issuing": False,
                      "issuing_reason": "paused",
                      "hours": {"open": "09:00", "close": "17:00", "last_ticket": "16:45",
                                "breaks": []}},
             "services": []}
    view = KioskView(screen="closed", lang="zh", state=state)
    _, title, lines = Screen().notice_words(view)
    said = " ".join(zh for zh, _ in [title, *lines])
    assert said.count("暂停取号") == 1, said
    assert "Paused by the staff: please wait" in [en for _, en in lines]
    render(view, artifacts / "kiosk-paused.png")
