"""The pages in Debian's Chromium against the real server, as an attacker or a stale browser
meets them: a dead token is dropped and the login shown (not reconnected forever)."""

from __future__ import annotations

import json
import re

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


def listen_for_csp(page: Page) -> None:
    """Collect the page's CSP violations (they also show as console errors)."""
    page.add_init_script("""document.addEventListener('securitypolicyviolation', e =>
        console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));""")


def log_in_supervisor(page: Page) -> None:
    page.fill("#login input[name=staff_id]", "9001")
    page.fill("#login input[name=pin]", "9999")
    page.click("#login button[type=submit]")
    expect(page.locator("#app")).to_be_visible()


def test_every_page_works_under_its_csp(srv, page):
    listen_for_csp(page)
    ticket = srv.issue("pay")
    page.goto(srv.url + "/")
    expect(page.locator("#windows tbody tr")).to_have_count(6)
    expect(page.locator("#conn")).to_have_class("conn online")
    page.goto(srv.url + ticket["status_url"])
    expect(page.locator("#number")).to_have_text(ticket["number"])
    page.goto(srv.url + "/dashboard")
    log_in_supervisor(page)
    expect(page.locator("#waiting tbody tr").first).to_be_visible()
    pairing = page.locator("#devices tr[data-device='evaluator-4'] button")
    pairing.click()
    code = page.locator("#devices tr[data-device='evaluator-4'] .pairing-code")
    expect(code).to_have_text(re.compile(r"^\d{6}$"))
    code = code.text_content()
    page.goto(srv.url + "/reports")
    expect(page.locator("#t-services tr").first).to_be_visible()
    page.locator("#logout").click()
    expect(page.locator("#login")).to_be_visible()
    page.wait_for_load_state()
    page.goto(srv.url + "/counter?window=4")
    page.fill("#staff-id", "1004")
    page.fill("#pin", "4567")
    expect(page.locator("#login-window option[value='4']")).to_have_count(1)
    page.select_option("#login-window", "4")
    page.click("#login button[type=submit]")
    expect(page.locator("#desk")).to_be_visible()
    page.locator('#buttons [data-cmd="call-next"]').click()
    expect(page.locator("#conn")).to_have_class("conn online")
    page.goto(srv.url + "/evaluator?window=4")
    page.fill("#code", code)  # the code the dashboard showed
    page.click("#setup button[type=submit]")
    expect(page.locator("#face")).to_be_visible()
    expect(page.locator("#status")).not_to_be_empty()
    assert page.problems == []


def test_pages_and_api_answers_carry_the_security_headers(srv):
    import requests

    for path in ("/", "/dashboard", "/reports", "/counter", "/evaluator", "/api/v1/state",
                 "/static/hallq.js", "/no-such-page"):
        headers = requests.get(srv.url + path, timeout=5).headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "'unsafe-inline'" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"


def test_no_page_holds_inline_script_or_style():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    for template in [*root.glob("web/templates/*.html"),
                     *root.glob("counter_terminal/templates/*/*.html")]:
        text = template.read_text(encoding="utf-8")
        assert "<style" not in text and " style=" not in text, template
        assert not re.search(r"\son[a-z]+=", text), template  # onclick= and the like
        for attributes in re.findall(r"<script([^>]*)>", text):
            assert "src=" in attributes or 'type="application/json"' in attributes, template
