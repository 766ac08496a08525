"""Every page in Chromium against the real server, checked with axe-core (from npm, in
tests/axe; `./dev.sh test` installs it) and for the rough edges a newcomer met first (issue 15):
no "connecting" before a login, no empty pills, a favicon, tables that fit at 1280 px.

axe runs in the page through `page.evaluate` of axe.min.js's text: a DevTools evaluation, which
the pages' CSP does not block (a <script> tag from add_script_tag would be), so the pages are
checked with their CSP in force."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from support import ROOT, FakeClock, ServerProcess, page_without_errors

try:  # main's migrations: a database file is made by migrating it, not by opening it
    from support import migrated
except ImportError:  # before them, opening made it
    def migrated(path: Path) -> Path:
        return path
from test_reports import DAY, script_day

from hall.config import load_config
from hall.hall import Hall
from hall.store import Store

pytestmark = pytest.mark.browser

AXE = ROOT / "tests" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


@pytest.fixture(scope="module")
def hall_server(tmp_path_factory):
    """The demo hall with a day of history (for the reports), live today."""
    db = tmp_path_factory.mktemp("pages") / "hall.db"
    hall = Hall(load_config(), Store(migrated(db)), clock=(clock := FakeClock()))
    script_day(hall, clock)
    hall.store.close()
    srv = ServerProcess(db).start()
    yield srv
    srv.stop()


@pytest.fixture
def page(browser):
    with page_without_errors(browser, 1280, 900) as page:
        yield page


def axe_violations(page: Page) -> list[dict]:
    """The serious and critical violations axe-core finds in the page as it is now."""
    assert AXE.exists(), "axe-core is missing: ./dev.sh test installs it (npm ci in tests/axe)"
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in found["violations"] if v["impact"] in SERIOUS]


def log_in_supervisor(page: Page, url: str, path: str) -> None:
    page.goto(url + path)
    page.fill("#login input[name=staff_id]", "9001")
    page.fill("#login input[name=pin]", "9999")
    page.click("#login button[type=submit]")
    expect(page.locator("#app")).to_be_visible()


def log_in_counter(page: Page, url: str, window: int = 1) -> None:
    page.goto(f"{url}/counter?window={window}")
    page.fill("#staff-id", "1001")
    page.fill("#pin", "1234")
    expect(page.locator(f"#login-window option[value='{window}']")).to_have_count(1)
    page.select_option("#login-window", str(window))
    page.click("#login button[type=submit]")
    expect(page.locator("#desk")).to_be_visible()


def show_reports_day(page: Page) -> None:
    page.locator("#cards .card").first.wait_for()
    page.fill("#range input[name=from]", DAY)
    page.fill("#range input[name=to]", DAY)
    page.click("#range button[type=submit]")
    page.wait_for_selector(f"#status:has-text('{DAY} – {DAY}')")


def check(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"page-{name}.png"), full_page=True)
    found = axe_violations(page)
    assert found == [], f"{name}: {found}"


def test_overview_passes_axe(hall_server, page, artifacts):
    page.goto(hall_server.url + "/")
    expect(page.locator("#conn")).to_have_class("conn online")
    check(page, artifacts, "overview")


def test_dashboard_passes_axe_logged_out_and_in(hall_server, page, artifacts):
    page.goto(hall_server.url + "/dashboard")
    check(page, artifacts, "dashboard-login")
    log_in_supervisor(page, hall_server.url, "/dashboard")
    expect(page.locator("#conn")).to_have_class("conn online")
    page.locator("#staff tbody tr").first.wait_for()
    check(page, artifacts, "dashboard")


def test_reports_pass_axe(hall_server, page, artifacts):
    log_in_supervisor(page, hall_server.url, "/reports")
    show_reports_day(page)
    check(page, artifacts, "reports")


def test_counter_passes_axe_logged_out_and_in(hall_server, page, artifacts):
    page.goto(hall_server.url + "/counter?window=1")
    expect(page.locator("#login")).to_be_visible()
    check(page, artifacts, "counter-login")
    log_in_counter(page, hall_server.url)
    expect(page.locator("#conn")).to_have_class("conn online")
    check(page, artifacts, "counter")
    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()


def test_evaluator_setup_passes_axe(hall_server, page, artifacts):
    page.goto(hall_server.url + "/evaluator?window=4")
    expect(page.locator("#setup")).to_be_visible()
    check(page, artifacts, "evaluator-setup")


def test_ticket_page_passes_axe(hall_server, page, artifacts):
    ticket = hall_server.issue("pay")
    page.goto(hall_server.url + ticket["status_url"])
    expect(page.locator("body")).to_contain_text(ticket["number"])
    check(page, artifacts, "ticket")


def test_reports_tables_fit_1280_px_with_the_ratings_in_view(hall_server, page, artifacts):
    log_in_supervisor(page, hall_server.url, "/reports")
    show_reports_day(page)
    width = page.evaluate("() => document.documentElement.clientWidth")
    for table in ("#t-services", "#t-windows", "#t-clerks", "#t-hours", "#t-appointments"):
        right = page.evaluate(f"() => document.querySelector('{table}')"
                              ".getBoundingClientRect().right")
        assert right <= width, (table, right, width)
    satisfaction = page.locator("#t-clerks th", has_text="满意率")
    assert satisfaction.bounding_box()["x"] + satisfaction.bounding_box()["width"] <= width
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(artifacts / "page-reports-1280.png"), full_page=True)


def test_the_charts_are_named_by_their_headings(hall_server, page):
    log_in_supervisor(page, hall_server.url, "/reports")
    show_reports_day(page)
    for chart in ("chart-wait", "chart-tickets", "chart-satisfaction"):
        svg = page.locator(f"#{chart} svg")
        expect(svg).to_have_attribute("role", "img")
        name = page.evaluate(f"() => document.getElementById("
                             f"document.querySelector('#{chart} svg')"
                             ".getAttribute('aria-labelledby')).textContent")
        assert name and "·" in name, chart


@pytest.mark.parametrize("path", ["/counter?window=1", "/dashboard", "/evaluator?window=4"])
def test_no_connecting_pill_before_a_login(hall_server, page, path):
    page.goto(hall_server.url + path)
    expect(page.locator("#login, #setup").first).to_be_visible()
    page.wait_for_timeout(500)  # time for a socket the page should not open
    expect(page.locator("#conn")).to_be_hidden()
    assert "连接中" not in page.locator("header").inner_text()
    assert "connecting" not in page.locator("header").inner_text()


def test_the_dashboard_header_shows_no_empty_pills(hall_server, page):
    page.goto(hall_server.url + "/dashboard")
    expect(page.locator("#login")).to_be_visible()
    assert page.locator("header .conn:visible").count() == 0
    log_in_supervisor(page, hall_server.url, "/dashboard")
    expect(page.locator("#conn")).to_have_class("conn online")
    expect(page.locator("#clock")).to_be_visible()
    for pill in page.locator("header .conn:visible").all():
        assert pill.inner_text().strip()


def test_every_page_links_the_favicon(hall_server, page):
    ticket = hall_server.issue("pay")
    for path in ("/", "/dashboard", "/reports", "/counter", "/evaluator?window=1",
                 ticket["status_url"]):
        page.goto(hall_server.url + path)
        href = page.locator("link[rel=icon]").get_attribute("href")
        r = hall_server.get(href)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("image/svg"), path
        assert b"<svg" in r.content and b"http" not in r.content.replace(
            b"http://www.w3.org/2000/svg", b""), path  # nothing fetched from elsewhere


def styled_as_a_button(page: Page, selector: str) -> dict:
    return page.evaluate(f"""() => {{
        const s = getComputedStyle(document.querySelector('{selector}'));
        return {{background: s.backgroundColor, size: parseFloat(s.fontSize),
                 radius: parseFloat(s.borderTopLeftRadius)}};
    }}""")


def test_the_counter_login_button_and_the_evaluator_set_up_are_styled(hall_server, page,
                                                                        artifacts):
    blue = "rgb(11, 92, 173)"  # the accent, not the browser's grey default
    page.goto(hall_server.url + "/counter?window=1")
    expect(page.locator("#login")).to_be_visible()
    style = styled_as_a_button(page, "#login button.big")
    assert style["background"] == blue and style["size"] >= 20 and style["radius"] > 0
    page.locator("#login").screenshot(path=str(artifacts / "page-counter-login-form.png"))
    page.goto(hall_server.url + "/evaluator?window=4")
    expect(page.locator("#setup")).to_be_visible()
    style = styled_as_a_button(page, "#setup button[type=submit]")
    assert style["background"] == blue and style["size"] >= 20
    card = page.evaluate("() => getComputedStyle(document.querySelector('#setup')).backgroundColor")
    assert card == "rgb(255, 255, 255)"
    page.locator("#setup").screenshot(path=str(artifacts / "page-evaluator-setup-form.png"))
    page.goto(hall_server.url + "/")
    link = page.locator("footer a[href^='/evaluator']")
    expect(link).to_contain_text("pair with a code from the dashboard")  # what it is for


def test_the_stored_away_reason_shows_in_english_mode(hall_server, page, artifacts):
    page.goto(f"{hall_server.url}/counter?window=2")
    page.fill("#staff-id", "1002")
    page.fill("#pin", "2345")
    expect(page.locator("#login-window option[value='2']")).to_have_count(1)
    page.select_option("#login-window", "2")
    page.click("#login button[type=submit]")
    expect(page.locator("#desk")).to_be_visible()
    token = page.evaluate("() => localStorage.getItem('hallq.counter.token')")
    r = hall_server.post("/api/v1/windows/2/away", {"reason": "午休"}, token=token)
    assert r.status_code == 200, r.text
    expect(page.locator("#away-reason")).to_have_text("· 午休")
    page.click("#lang")
    expect(page.locator("#away-reason")).to_have_text("· Lunch")
    page.screenshot(path=str(artifacts / "page-counter-away-english.png"))
    page.click("#lang")  # the next test's pages start in Chinese
    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()


def test_an_address_for_another_window_asks_what_to_do(hall_server, page, artifacts):
    log_in_counter(page, hall_server.url, window=1)
    token = page.evaluate("() => localStorage.getItem('hallq.counter.token')")
    page.goto(f"{hall_server.url}/counter?window=2")
    dialog = page.locator("#switch-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("王芳（1001） 在 1号窗口 登录着，地址要的是 2号窗口")
    expect(page.locator("#desk")).to_be_hidden()  # not window 1 behind the question
    page.screenshot(path=str(artifacts / "page-counter-switch.png"))
    check(page, artifacts, "counter-switch")
    page.click("#switch-stay")
    expect(page.locator("#desk")).to_be_visible()
    expect(page.locator("#window-name")).to_contain_text("1号窗口")
    assert page.url.endswith("/counter?window=1")
    page.reload()  # the address now matches: no question
    expect(page.locator("#desk")).to_be_visible()
    expect(page.locator("#switch-dialog")).to_be_hidden()

    page.goto(f"{hall_server.url}/counter?window=2")
    page.click("#switch-leave")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#login-window")).to_have_value("2")
    assert hall_server.get("/api/v1/windows/1/summary", token=token).status_code == 401
