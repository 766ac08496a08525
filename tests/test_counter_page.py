"""The clerk's page in Debian's Chromium against the real server: two windows side by side, a
Python device client playing the lobby display, and a server restart in the middle."""

from __future__ import annotations

import re
import sqlite3

import pytest
from playwright.sync_api import Page, expect
from support import ServerProcess, listening_display, wait_until

from hall.config import DEMO_CONFIG

pytestmark = pytest.mark.browser

AWAY_LIMIT_MINUTES = 0.05  # 3 s, so the away-overdue state arrives within the test


def short_away_config(tmp_path) -> str:
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    assert "away_limit_minutes = 10" in text
    path = tmp_path / "hall.toml"
    path.write_text(text.replace("away_limit_minutes = 10",
                                 f"away_limit_minutes = {AWAY_LIMIT_MINUTES}"), encoding="utf-8")
    return path


@pytest.fixture
def hall_server(tmp_path):
    srv = ServerProcess(tmp_path / "hall.db", config=short_away_config(tmp_path)).start()
    yield srv
    srv.stop()


@pytest.fixture
def display(hall_server):
    with listening_display(hall_server.url) as live:
        yield live


def open_counter(browser, url: str, staff_id: str, pin: str, window: int) -> Page:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(f"{url}/counter?window={window}")
    page.fill("#staff-id", staff_id)
    page.fill("#pin", pin)
    expect(page.locator(f"#login-window option[value='{window}']")).to_have_count(1)
    page.select_option("#login-window", str(window))
    page.click("#login button[type=submit]")
    expect(page.locator("#desk")).to_be_visible()
    expect(page.locator("#conn")).to_have_class(re.compile("online"))
    return page


def button(page: Page, command: str):
    return page.locator(f'#buttons [data-cmd="{command}"]')


def key(page: Page, name: str) -> None:
    """A clerk's key, pressed once the page has the answer to its last command: until then the
    buttons are disabled (the command's event may show on screen before its answer comes)."""
    page.wait_for_function("() => !HallQCounter.busy")
    page.keyboard.press(name)


def waiting_count(page: Page, label: str):
    return page.locator("#waiting tr", has_text=label).locator("td").nth(1)


def test_two_clerks_call_recall_transfer_go_away_and_survive_a_restart(
        hall_server, browser, display, artifacts):
    for service in ("pay", "pay", "pay", "enquiry"):
        hall_server.issue(service)
    one = open_counter(browser, hall_server.url, "1001", "1234", 1)
    two = open_counter(browser, hall_server.url, "1002", "2345", 2)
    expect(one.locator("#clerk")).to_have_text("王芳（1001）")
    expect(waiting_count(one, "缴费")).to_have_text("3")

    # Idle: call next, away and close make sense; the rest is disabled.
    for cmd, enabled in [("call-next", True), ("recall", False), ("start", False),
                         ("finish", False), ("no-show", False), ("transfer", False),
                         ("away", True), ("back", False), ("close", True)]:
        (expect(button(one, cmd)).to_be_enabled if enabled
         else expect(button(one, cmd)).to_be_disabled)()
    expect(button(one, "call-next")).to_contain_text("N")  # the shortcut is on the button

    # Window 1 calls by keyboard; the display hears it, window 2's counts move at once.
    key(one, "n")
    expect(one.locator("#ticket-number")).to_have_text("A001")
    expect(one.locator("#status")).to_have_text("呼叫中")
    wait_until(lambda: [(c["number"], c["window"]) for c in display.calls] == [("A001", 1)])
    expect(waiting_count(two, "缴费")).to_have_text("2")
    button(two, "call-next").click()
    expect(two.locator("#ticket-number")).to_have_text("A002")
    expect(waiting_count(one, "缴费")).to_have_text("1")

    # Recall twice: the count is on the button; then no-show becomes possible.
    expect(button(one, "no-show")).to_be_disabled()
    key(one, "r")
    expect(button(one, "recall")).to_contain_text("(1/2)")
    key(one, "r")
    expect(button(one, "recall")).to_contain_text("(2/2)")
    expect(button(one, "no-show")).to_be_enabled()
    wait_until(lambda: [c["recalls"] for c in display.calls if c["window"] == 1] == [0, 1, 2])

    key(one, "s")
    expect(one.locator("#status")).to_have_text("办理中")
    expect(one.locator("#ticket-facts")).to_contain_text("缴费")
    expect(one.locator("#ticket-facts")).to_contain_text("窗口办理")
    expect(button(one, "no-show")).to_be_disabled()
    expect(button(one, "call-next")).to_be_disabled()
    one.screenshot(path=str(artifacts / "counter-serving.png"))

    # A refused command shows the server's message: window 2 closes while window 1 picks it.
    key(two, "f")
    expect(two.locator("#status")).to_have_text("空闲")
    key(one, "t")
    expect(one.locator("#transfer-dialog")).to_be_visible()
    expect(one.locator('[data-choice="window-2"]')).to_be_visible()
    key(two, "c")
    expect(two.locator("#status")).to_have_text("窗口已关闭")
    one.locator('[data-choice="window-2"]').click()
    expect(one.locator("#message")).to_contain_text("Window 2 is closed")
    expect(one.locator("#message")).to_have_class(re.compile("bad"))
    expect(one.locator("#ticket-number")).to_have_text("A001")  # nothing changed

    # Window 2 opens again; window 1 hands its customer over (首问负责制).
    button(two, "open").click()
    expect(two.locator("#status")).to_have_text("空闲")
    # The transfer dialog offers the windows open when it opens: wait until window 1 has heard.
    one.wait_for_function("() => HallQCounter.state.windows.find(w => w.number === 2).status"
                          " !== 'closed'")
    key(one, "t")
    one.locator('[data-choice="window-2"]').click()
    expect(one.locator("#status")).to_have_text("空闲")
    expect(one.locator("#last tbody tr").first).to_contain_text("A001")
    expect(one.locator("#last tbody tr").first).to_contain_text("转出 → 2")
    expect(two.locator("#waiting tr.here")).to_contain_text("1")
    key(two, "n")  # the transferred customer keeps their place: called first
    expect(two.locator("#ticket-number")).to_have_text("A001")
    wait_until(lambda: (display.calls[-1]["number"], display.calls[-1]["window"]) == ("A001", 2))

    # Away with a reason, a live countdown, red once overdue (the limit here is 3 s), back.
    key(one, "a")
    expect(one.locator("#away-dialog")).to_be_visible()
    key(one, "1")  # 暂离: the hall's away limit (午休 has the lunch's)
    expect(one.locator("#status")).to_have_text("暂时离开")
    expect(one.locator("#away-reason")).to_contain_text("暂离")
    expect(one.locator("#away-clock")).to_contain_text("距暂离上限")
    expect(button(one, "call-next")).to_be_disabled()
    expect(one.locator("#current")).to_have_class(re.compile("overdue"), timeout=15000)
    expect(one.locator("#away-clock")).to_contain_text(re.compile(r"已超时 0:0[2-9]"))
    one.screenshot(path=str(artifacts / "counter-away-overdue.png"))
    key(one, "b")
    expect(one.locator("#status")).to_have_text("空闲")
    expect(one.locator("#current")).not_to_have_class(re.compile("overdue"))

    # English at the flick of a switch.
    one.click("#lang")
    expect(button(one, "call-next")).to_contain_text("Call next")
    expect(one.locator("#status")).to_have_text("Idle")
    one.click("#lang")

    # The system failed for a customer: the clerk takes their phone for a call back (#10).
    key(one, "p")
    expect(one.locator("#callback-dialog")).to_be_visible()
    one.fill("#cb-phone", "138 1234 5678")
    one.fill("#cb-name", "张先生")
    one.fill("#cb-note", "过户材料系统故障")
    one.click("#callback-form .save")
    expect(one.locator("#message")).to_have_text("已登记回访")
    expect(one.locator("#callback-dialog")).to_be_hidden()
    with sqlite3.connect(hall_server.db) as db:
        assert db.execute("SELECT window, staff_id, phone, name FROM callbacks").fetchall() == [
            (1, "1001", "13812345678", "张先生")]

    # A reload keeps the clerk logged in.
    one.reload()
    expect(one.locator("#desk")).to_be_visible()
    expect(one.locator("#login")).to_be_hidden()
    expect(one.locator("#status")).to_have_text("空闲")

    # The server dies: the page says so and disables every button; it comes back by itself.
    hall_server.kill()
    expect(one.locator("#offline-banner")).to_be_visible(timeout=15000)
    expect(button(one, "call-next")).to_be_disabled()
    expect(button(one, "away")).to_be_disabled()
    restarted = ServerProcess(hall_server.db, config=hall_server.config,
                              port=hall_server.port).start()
    try:
        expect(one.locator("#offline-banner")).to_be_hidden(timeout=20000)
        expect(one.locator("#clerk")).to_have_text("王芳（1001）")
        restarted.issue("enquiry")  # resynced and live again: the new ticket shows
        expect(waiting_count(one, "咨询")).to_have_text("2")
        expect(button(one, "away")).to_be_enabled()
        key(one, "n")
        expect(one.locator("#ticket-number")).to_have_text("A003")
    finally:
        restarted.stop()
    assert one.errors == [] and two.errors == []


def test_wrong_pin_is_refused_with_the_servers_message(hall_server, browser):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.goto(f"{hall_server.url}/counter")
    page.fill("#staff-id", "1001")
    page.fill("#pin", "0000")
    page.click("#login button[type=submit]")
    expect(page.locator("#message")).to_contain_text("Wrong staff id or PIN")
    expect(page.locator("#desk")).to_be_hidden()


def test_the_summary_route_is_for_this_windows_clerk_only(hall_server):
    token = hall_server.login("1001", "1234", 1)
    assert hall_server.get("/api/v1/windows/1/summary", token=token).json()["today"] == {
        "served": 0, "avg_handling_min": None, "no_show": 0, "transferred": 0}
    assert hall_server.get("/api/v1/windows/2/summary", token=token).status_code == 403
    assert hall_server.get("/api/v1/windows/1/summary").status_code == 401
    assert hall_server.get("/api/v1/windows/9/summary", token=token).status_code == 404
    box = hall_server.get("/api/v1/windows/1/summary", token="demo-counter-box-1-token")
    assert box.json()["staff_id"] == "1001"


def test_an_expired_session_sends_the_clerk_back_to_the_login(browser, hall_server):
    page = open_counter(browser, hall_server.url, "1001", "1234", 1)
    hall_server.issue("pay")
    expect(button(page, "call-next")).to_be_enabled()
    with sqlite3.connect(hall_server.db) as db:  # the hall day ended while the page was open
        db.execute("UPDATE sessions SET expires_at = 0 WHERE staff_id = '1001'")
    # The next thing the page asks the server (this key, or a summary refresh) is refused.
    page.keyboard.press("N")
    expect(page.locator("#login")).to_be_visible()
    assert page.evaluate("localStorage.getItem('hallq.counter.token')") is None
    assert hall_server.get("/api/v1/state").json()["services"][0]["waiting"] == 1
    assert not page.errors, page.errors
    page.context.close()
