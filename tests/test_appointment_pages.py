"""Booking from the pages, in Chromium against the real server: the clerk books the customer a
time from the callback dialog and reads out the code; the supervisor books, turns a callback
into a booking, lists and cancels. Screenshots go to test-artifacts/appointments-*.png."""

from __future__ import annotations

import re
import sqlite3

import pytest
from playwright.sync_api import expect
from support import FakeClock, ServerProcess, migrated
from test_appointments import script_booked_day
from test_counter_page import key, open_counter
from test_dashboard import log_in, page  # noqa: F401

from hall.config import load_config
from hall.hall import Hall
from hall.store import Store

pytestmark = pytest.mark.browser


def test_a_clerk_books_the_customer_a_time_and_tells_the_code(server, browser, artifacts):
    counter = open_counter(browser, server.url, "1003", "3456", 3)
    key(counter, "p")
    expect(counter.locator("#cb-booking")).to_be_visible()
    # Window 3 serves 新装开户 first: it is offered first, with today's slots.
    expect(counter.locator("#cb-service")).to_have_value("account")
    expect(counter.locator("#cb-slot option").first).to_contain_text("余 4")
    counter.fill("#cb-phone", "139 0000 1111")
    counter.fill("#cb-name", "刘女士")
    counter.click("#cb-book")
    code = counter.locator("#cb-code")
    expect(code).to_be_visible()
    expect(code).to_contain_text(re.compile(r"预约码 \d{6}"))
    counter.screenshot(path=str(artifacts / "appointments-counter.png"))
    shown = re.search(r"\d{6}", code.inner_text()).group()
    with sqlite3.connect(server.db) as db:
        assert db.execute("SELECT code, phone, name, source, window FROM appointments"
                          ).fetchall() == [(shown, "13900001111", "刘女士", "counter", 3)]
    expect(counter.locator("#cb-slot option").first).to_contain_text("余 3")
    assert not counter.errors


def test_the_dashboard_books_lists_and_cancels(server, page, artifacts):  # noqa: F811
    clerk = server.login("1001", "1234", 1)
    server.post("/api/v1/windows/1/callback", {"phone": "13812345678", "name": "张三"},
                token=clerk)
    log_in(page, server.url, "/dashboard")
    page.locator("#callbacks tbody tr").first.wait_for()
    # A callback answered by a booking, in one step: the callback's own number is booked.
    page.locator("#callbacks tbody tr button:has-text('预约')").click()
    expect(page.locator("#appt-from-callback")).to_contain_text("138****5678")
    page.click("#appt-form button[type=submit]")
    expect(page.locator("#appt-result")).to_contain_text(re.compile(r"预约码 \d{6}"))
    page.wait_for_selector("#callbacks tbody tr", state="detached")
    # And a booking typed in.
    page.fill("#appt-form input[name=phone]", "13700002222")
    page.click("#appt-form button[type=submit]")
    rows = page.locator("#appointments tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("138****5678")
    expect(page.locator("#appointments")).to_contain_text("137****2222")
    page.screenshot(path=str(artifacts / "appointments-dashboard.png"), full_page=True)
    page.once("dialog", lambda d: d.accept())
    rows.nth(1).locator("button:has-text('取消')").click()
    expect(rows.nth(1)).to_contain_text("已取消")
    with sqlite3.connect(server.db) as db:
        assert sorted(db.execute("SELECT status, source FROM appointments").fetchall()) == [
            ("booked", "dashboard"), ("cancelled", "dashboard")]


def test_the_reports_page_shows_bookings_beside_walk_ins(page, tmp_path, artifacts):  # noqa: F811
    db = tmp_path / "hall.db"
    hall = Hall(load_config(), Store(migrated(db)), clock=(clock := FakeClock()))
    script_booked_day(hall, clock)
    hall.store.close()
    srv = ServerProcess(db).start()
    try:
        log_in(page, srv.url, "/reports")
        page.locator("#cards .card").first.wait_for()
        page.fill("#range input[name=from]", "2026-11-23")
        page.fill("#range input[name=to]", "2026-11-23")
        page.click("#range button[type=submit]")
        page.wait_for_selector("#status:has-text('2026-11-23 – 2026-11-23')")
        rows = page.locator("#t-appointments tbody tr")
        expect(rows).to_have_count(3)  # total, 新装开户, the day
        cells = [rows.nth(1).locator("td").nth(i).inner_text() for i in range(7)]
        assert cells == ["新装开户 · New connection", "3", "2", "1", "1", "24", "70"]
        page.locator("#appointments-section").screenshot(
            path=str(artifacts / "appointments-report.png"))
    finally:
        srv.stop()
