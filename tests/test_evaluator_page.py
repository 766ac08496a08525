"""The customer's evaluator page in Chromium against the real server: who serves, away, closed,
and a rating after a finished ticket (with a reason when it is bad), once per ticket."""

from __future__ import annotations

import sqlite3

import pytest
from playwright.sync_api import expect
from support import DISPLAY, evaluator_token, wait_until

from client.live import LiveHall

pytestmark = pytest.mark.browser


def pair(server, page, window: int, opened_at: int | None = None) -> None:
    """Set the page up as a hall does: a supervisor makes a pairing code on the dashboard, and
    it is typed into the evaluator's set-up form (the device token never goes in a URL)."""
    boss = server.login("9001", "9999")
    r = server.post(f"/api/v1/devices/evaluator-{window}/pairing-code", token=boss)
    assert r.status_code == 200, r.text
    page.goto(f"{server.url}/evaluator?window={opened_at or window}")
    page.fill("#code", r.json()["code"])
    page.click("#setup button")
    expect(page.locator("#face")).to_be_visible()
    assert page.url.endswith(f"/evaluator?window={window}")


@pytest.fixture
def page(server, browser):
    context = browser.new_context(viewport={"width": 1024, "height": 600})
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    context.close()


def test_the_evaluator_shows_the_window_and_rates_a_finished_ticket(server, page, artifacts):
    ratings = []
    display = LiveHall(server.url, token=DISPLAY,
                       on_event=lambda n, p: ratings.append(p) if n == "rating" else None)
    display.start()
    display.wait_for_state()

    pair(server, page, 1)
    expect(page.locator("#status")).to_have_text("暂停服务")  # window closed
    expect(page.locator("#conn")).to_have_class("conn online")

    clerk = server.login("1001", "1234", 1)
    expect(page.locator("#status")).to_have_text("欢迎光临")
    expect(page.locator("#clerk-name")).to_have_text("王芳")
    expect(page.locator("#clerk-id")).to_have_text("工号 1001")

    server.issue("pay")
    server.post("/api/v1/windows/1/call-next", token=clerk)
    expect(page.locator("#status")).to_have_text("请 A001 号到本窗口")
    server.post("/api/v1/windows/1/start", token=clerk)
    expect(page.locator("#status")).to_have_text("正在为 A001 号办理")
    assert server.post("/api/v1/windows/1/finish", token=clerk).status_code == 200

    # Five levels, best first; a bad one asks why.
    expect(page.locator("#rate")).to_be_visible()
    expect(page.locator("#levels .level")).to_have_text(
        ["★★★★★非常满意", "★★★★满意", "★★★基本满意", "★★不满意", "★非常不满意"])
    expect(page.locator("#rate-left")).to_contain_text("秒")
    page.click('#levels [data-score="2"]')
    expect(page.locator("#reasons")).to_be_visible()
    page.screenshot(path=str(artifacts / "evaluator-rating.png"))
    page.click('#reason-list [data-reason="办理太慢"]')
    expect(page.locator("#thanks")).to_be_visible()
    expect(page.locator("#rate")).to_be_hidden()
    wait_until(lambda: ratings)
    assert (ratings[0]["window"], ratings[0]["number"], ratings[0]["score"]) == (1, "A001", 2)
    with sqlite3.connect(server.db) as db:
        assert db.execute("SELECT score, reason FROM ratings").fetchall() == [(2, "办理太慢")]

    # One rating per ticket: the server refuses a second one (the page no longer offers it).
    again = server.post("/api/v1/windows/1/rating", {"score": 5}, token=evaluator_token(1))
    assert again.json()["error"]["code"] == "already_rated"

    # A good rating goes straight through.
    server.issue("pay")
    server.post("/api/v1/windows/1/call-next", token=clerk)
    server.post("/api/v1/windows/1/finish", token=clerk)
    page.click('#levels [data-score="5"]')
    expect(page.locator("#thanks")).to_be_visible()
    wait_until(lambda: len(ratings) == 2)
    assert ratings[1]["score"] == 5

    # Away: the reason and the time the clerk will be back; closed: service paused.
    server.post("/api/v1/windows/1/away", {"reason": "会议"}, token=clerk)
    expect(page.locator("#status")).to_have_text("暂时离开")
    expect(page.locator("#detail")).to_contain_text("会议 · 预计")
    expect(page.locator("#detail")).to_contain_text("回来")
    expect(page.locator("#thanks")).to_be_hidden(timeout=8000)
    page.screenshot(path=str(artifacts / "evaluator-away.png"))
    page.click("#lang")
    expect(page.locator("#status")).to_have_text("Temporarily away")
    expect(page.locator("#detail")).to_contain_text("Back by")
    expect(page.locator("#detail")).to_contain_text("Meeting")  # the stored 会议, in English
    page.click("#lang")
    server.post("/api/v1/windows/1/close", token=clerk)
    expect(page.locator("#status")).to_have_text("暂停服务")
    expect(page.locator("#clerk")).to_be_hidden()
    display.stop()
    assert page.errors == []


def test_the_rating_offer_ends_when_the_buttons_of_the_gpio_evaluator_rated(server, page):
    pair(server, page, 2)
    expect(page.locator("#conn")).to_have_class("conn online")  # the offer comes live
    clerk = server.login("1002", "2345", 2)
    server.issue("pay")
    server.post("/api/v1/windows/2/call-next", token=clerk)
    server.post("/api/v1/windows/2/finish", token=clerk)
    expect(page.locator("#rate")).to_be_visible()
    server.post("/api/v1/windows/2/rating", {"score": 4}, token=evaluator_token(2))
    expect(page.locator("#rate")).to_be_hidden()
    expect(page.locator("#thanks")).to_be_visible()


def test_without_a_token_the_page_asks_for_a_pairing_code(server, page):
    page.goto(f"{server.url}/evaluator?window=3")
    expect(page.locator("#setup")).to_be_visible()
    page.fill("#code", "000000")
    page.click("#setup button")
    expect(page.locator("#setup-error")).to_contain_text("Unknown or expired pairing code")
    pair(server, page, 3)
    expect(page.locator("#status")).to_have_text("暂停服务")
    page.reload()  # the token is kept in this browser
    expect(page.locator("#face")).to_be_visible()
    assert page.evaluate("localStorage.getItem('hallq.evaluator.token.3')") == \
        evaluator_token(3)


def test_a_code_for_another_window_sets_up_that_window(server, page):
    pair(server, page, 5, opened_at=1)
    expect(page.locator("#window-name")).to_have_text("5号窗口")
