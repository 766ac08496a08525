"""The pages in Debian's Chromium against the real server, as an attacker or a stale browser
meets them: a dead token is dropped and the login shown (not reconnected forever)."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect
from support import ServerProcess

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = ServerProcess(tmp_path_factory.mktemp("pages") / "hall.db").start()
    yield server
    server.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda e: page.problems.append(f"pageerror: {e}"))
    page.on("console", lambda m: page.problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
    yield page
    context.close()


def dead_token(srv: ServerProcess, staff_id: str, pin: str, window: int | None) -> str:
    token = srv.login(staff_id, pin, window)
    assert srv.post("/api/v1/logout", {}, token=token).status_code == 200
    return token


def with_storage(page: Page, url: str, storage: str, items: dict) -> None:
    """Open `url` with `items` already in the page's local or session storage."""
    page.goto(url)
    for key, value in items.items():
        page.evaluate(f"([k, v]) => {storage}.setItem(k, v)", [key, value])
    page.reload()


def test_the_counter_drops_a_dead_token_and_shows_the_login(srv, page):
    token = dead_token(srv, "1003", "3456", 3)
    with_storage(page, srv.url + "/counter?window=3", "localStorage",
                 {"hallq.counter.token": token, "hallq.counter.window": "3",
                  "hallq.counter.staff": json.dumps({"id": "1003", "name": "x"})})
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#desk")).to_be_hidden()
    assert page.evaluate("localStorage.getItem('hallq.counter.token')") is None


def test_the_dashboard_drops_a_dead_token_and_shows_the_login(srv, page):
    token = dead_token(srv, "9001", "9999", None)
    me = {"token": token, "staff": {"id": "9001", "name": "x", "role": "supervisor"}}
    with_storage(page, srv.url + "/dashboard", "sessionStorage",
                 {"hallq.supervisor": json.dumps(me)})
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('hallq.supervisor')") is None


def test_the_evaluator_drops_a_refused_token_and_shows_its_set_up(srv, page):
    with_storage(page, srv.url + "/evaluator?window=2", "localStorage",
                 {"hallq.evaluator.token.2": "not-a-token"})
    expect(page.locator("#setup")).to_be_visible()
    assert page.evaluate("localStorage.getItem('hallq.evaluator.token.2')") is None
