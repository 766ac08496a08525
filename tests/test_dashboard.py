"""The dashboard and the reports page in Chromium, against the real server."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from support import KIOSK, ROOT, FakeClock, ServerProcess, migrated, page_without_errors
from test_reports import DAY, script_day

from hall.config import load_config
from hall.hall import Hall
from hall.store import Store

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser):
    with page_without_errors(browser, 1400, 1000, accept_downloads=True) as page:
        yield page


@pytest.fixture
def short_away_server(tmp_path):
    """The demo hall with a 3-second away limit (away_limit_minutes = 0.05)."""
    text = (ROOT / "hall" / "demo_hall.toml").read_text(encoding="utf-8")
    config = tmp_path / "hall.toml"
    config.write_text(re.sub(r"(?m)^away_limit_minutes = 10$", "away_limit_minutes = 0.05",
                             text), encoding="utf-8")
    assert "away_limit_minutes = 0.05" in config.read_text(encoding="utf-8")
    srv = ServerProcess(tmp_path / "hall.db", config=config).start()
    yield srv
    srv.stop()


def log_in(page, url: str, path: str) -> None:
    page.goto(url + path)
    page.fill("#login input[name=staff_id]", "9001")
    page.fill("#login input[name=pin]", "9999")
    page.click("#login button[type=submit]")


def test_overdue_away_is_highlighted_with_a_sound(page, short_away_server, artifacts):
    srv = short_away_server
    clerk = srv.login("1001", "1234", 1)
    srv.issue("pay")
    log_in(page, srv.url, "/dashboard")
    row = page.locator("#windows tr[data-window='1']")
    row.locator("text=王芳（1001）").wait_for()
    assert "overdue" not in (row.get_attribute("class") or "")
    assert page.locator("#alerts .alert").count() == 0

    r = srv.post("/api/v1/windows/1/away", {"reason": "暂离"}, token=clerk)
    assert r.status_code == 200, r.text
    page.wait_for_selector("#windows tr[data-window='1'].overdue.alerting", timeout=20000)
    alert = page.locator("#alerts .alert[data-window='1']")
    alert.wait_for()
    assert "暂离超时" in alert.inner_text() and "王芳" in alert.inner_text()
    page.wait_for_function("() => Number(document.body.dataset.beeps || 0) >= 1")
    assert "超时" in row.locator("td.away").inner_text()
    # the server's own overdue alert has arrived too (not only the page's countdown)
    page.wait_for_function("""() => document.querySelector("#windows tr[data-window='1'] .badge")
                              .textContent.includes('overdue')""")
    assert srv.get("/api/v1/state").json()["windows"][0]["away"]["overdue"] is True
    page.screenshot(path=str(artifacts / "dashboard-overdue.png"), full_page=True)

    alert.locator("button").click()  # acknowledged: the row stays red, the blinking stops
    page.wait_for_selector("#windows tr[data-window='1'].overdue:not(.alerting)")
    assert "已知悉" in alert.inner_text()

    srv.post("/api/v1/windows/1/back", token=clerk)
    page.wait_for_selector("#windows tr[data-window='1'].status-idle:not(.overdue)")
    assert page.locator("#alerts .alert").count() == 0


def test_dashboard_actions(page, short_away_server, artifacts):
    srv = short_away_server
    clerk = srv.login("1001", "1234", 1)
    for service in ("pay", "pay", "enquiry"):
        srv.issue(service)
    srv.post("/api/v1/windows/1/callback", {"phone": "13812345678", "name": "张三",
                                            "note": "系统故障，约明天上午"}, token=clerk)
    log_in(page, srv.url, "/dashboard")
    page.locator("#waiting tr[data-ticket='A002']").wait_for()
    assert page.locator("#waiting-count").inner_text() == "3 人"

    # the notice
    page.fill("#notice-form input[name=text]", "今日下午水费系统升级，暂停缴费业务")
    page.click("#notice-form button")
    page.wait_for_function("""() => true""")
    srv_notice = lambda: srv.get("/api/v1/state").json()["hall"]["notice"]  # noqa: E731
    _wait(lambda: srv_notice() == "今日下午水费系统升级，暂停缴费业务")

    # pause and resume issuing
    page.click("#pause")
    page.wait_for_selector("#issuing-state:has-text('已暂停')")
    assert srv.post("/api/v1/tickets", {"service": "pay"}, token=KIOSK).status_code == 409
    page.click("#resume")
    page.wait_for_selector("#issuing-state:has-text('正在取号')")

    # cancel a waiting ticket, with a reason
    page.click("#waiting tr[data-ticket='A002'] button")
    dialog = page.locator("#ticket-dialog")
    dialog.locator("select[name=kind]").select_option("cancel")
    dialog.locator("input[name=reason]").fill("客户已离开")
    dialog.locator("button[value=ok]").click()
    page.wait_for_selector("#waiting tr[data-ticket='A002']", state="detached")
    # transfer another to a service
    page.click("#waiting tr[data-ticket='E001'] button")
    dialog.locator("select[name=service]").select_option("complaint")
    dialog.locator("input[name=reason]").fill("实为投诉")
    dialog.locator("button[value=ok]").click()
    page.wait_for_selector("#services tr[data-service='complaint'] td:nth-child(2):has-text('1')")
    # each service's predicted wait for a ticket taken now, or that no window serves it
    predicted = page.locator("#services tr td:nth-child(4)").all_inner_texts()
    assert all(p.endswith("分") or "暂无窗口办理" in p or "目标" in p for p in predicted), predicted

    # callbacks: masked in the list, the full number on demand, gone when done
    cb = page.locator("#callbacks tbody tr").first
    assert cb.locator(".phone").inner_text() == "138****5678"
    assert "张*" in cb.inner_text() and "张三" not in cb.inner_text()
    cb.locator("button:has-text('显示')").click()
    page.wait_for_selector("#callbacks .phone:has-text('13812345678')")

    # staff: add, then disable
    form = page.locator("#staff-form")
    form.locator("input[name=id]").fill("1020")
    form.locator("input[name=name]").fill("钱多")
    form.locator("input[name=pin]").fill("5555")
    form.locator("button").click()
    page.locator("#staff tr[data-staff='1020']").wait_for()
    assert srv.post("/api/v1/login", {"staff_id": "1020", "pin": "5555",
                                      "window": 2}).status_code == 200
    page.locator("#staff tr[data-staff='1020'] button:has-text('停用')").click()
    page.wait_for_selector("#staff tr[data-staff='1020'] .badge:has-text('停用')")
    page.screenshot(path=str(artifacts / "dashboard-actions.png"), full_page=True)

    page.locator("#callbacks tbody tr button:has-text('已回访')").click()
    page.wait_for_selector("#callbacks tbody tr", state="detached")

    # force-close the window: its clerk's customer goes back to waiting
    srv.post("/api/v1/windows/1/call-next", token=clerk)
    page.locator("#windows tr[data-window='1'] b:has-text('A001')").wait_for()
    page.once("dialog", lambda d: d.accept())
    page.click("#windows tr[data-window='1'] button.danger")
    page.wait_for_selector("#windows tr[data-window='1'].status-closed")
    page.locator("#waiting tr[data-ticket='A001']").wait_for()


def test_reports_page(page, tmp_path, artifacts):
    db = tmp_path / "hall.db"
    hall = Hall(load_config(), Store(migrated(db)), clock=(clock := FakeClock()))
    script_day(hall, clock)
    hall.store.close()
    srv = ServerProcess(db).start()
    try:
        log_in(page, srv.url, "/reports")
        page.locator("#cards .card").first.wait_for()
        page.fill("#range input[name=from]", DAY)
        page.fill("#range input[name=to]", DAY)
        page.click("#range button[type=submit]")
        page.wait_for_selector(f"#status:has-text('{DAY} – {DAY}')")
        cards = page.locator("#cards").inner_text()
        assert "7\n取号" in cards and "13.20" in cards and "50.0%" in cards
        clerks = page.locator("#t-clerks").inner_text()
        assert "王芳（1001）" in clerks and "张敏（1003）" in clerks
        assert page.locator("#logins tbody tr").count() == 2
        assert "08:50:00" in page.locator("#logins").inner_text()
        # the charts: bars for hours 09, 10, 16 and one bar per rated clerk
        assert page.locator("#chart-wait svg rect").count() == 6
        assert page.locator("#chart-tickets svg rect").count() == 6
        assert page.locator("#chart-satisfaction svg rect").count() == 2
        assert "50.0%" in page.locator("#chart-satisfaction").inner_text()
        page.screenshot(path=str(artifacts / "reports.png"), full_page=True)

        with page.expect_download() as info:
            page.click("#csv")
        data = Path(info.value.path()).read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        assert rows[1][:4] == ["合计 total", "", f"{DAY} – {DAY}", "7"]
        assert info.value.suggested_filename == f"hallq-report-{DAY}-{DAY}.csv"
    finally:
        srv.stop()


def test_pages_refuse_clerks(page, short_away_server):
    page.goto(short_away_server.url + "/reports")
    page.fill("#login input[name=staff_id]", "1001")
    page.fill("#login input[name=pin]", "1234")
    page.click("#login button[type=submit]")
    page.wait_for_selector("#login .error:has-text('负责人')")
    assert page.locator("#app").is_hidden()


def _wait(predicate, timeout=5.0):
    from support import wait_until

    return wait_until(predicate, timeout=timeout)


def test_dashboard_reconnects_after_a_server_restart(page, short_away_server):
    srv = short_away_server
    log_in(page, srv.url, "/dashboard")
    page.wait_for_selector("#conn.online")
    srv.kill()  # a power cut of the server
    page.wait_for_selector("#conn.offline", timeout=20000)
    srv.start()
    clerk = srv.login("1002", "2345", 2)  # something happened while the page was away
    srv.post("/api/v1/windows/2/away", {"reason": "暂离"}, token=clerk)  # 3 s limit
    page.wait_for_selector("#conn.online", timeout=20000)
    page.wait_for_selector("#windows tr[data-window='2'].overdue", timeout=20000)
    page.locator("#staff tr[data-staff='1002']").wait_for()  # still logged in


def test_devices_online_and_the_kiosk_paper(page, short_away_server):
    import socketio

    srv = short_away_server
    log_in(page, srv.url, "/dashboard")
    kiosk_row = page.locator("#devices tr[data-device='kiosk-1']")
    kiosk_row.locator("text=离线").wait_for()
    kiosk = socketio.Client()
    kiosk.connect(srv.url, auth={"token": KIOSK}, transports=["websocket"])
    try:
        kiosk_row.locator("text=在线").wait_for(timeout=20000)
        srv.post("/api/v1/devices/printer", {"state": "no_paper", "detail": "缺纸"}, token=KIOSK)
        kiosk_row.locator("text=no_paper (缺纸)").wait_for()
    finally:
        kiosk.disconnect()
    kiosk_row.locator("text=离线").wait_for(timeout=20000)


def test_lockouts_appear_live_and_are_lifted(page, short_away_server, artifacts):
    from test_hostile_logins import login

    srv = short_away_server
    log_in(page, srv.url, "/dashboard")
    page.locator("#lockout-count", has_text="none").wait_for()
    laptop = "127.0.0.7"
    for _ in range(5):
        login(srv, "1002", "0000", 2, source=laptop)
    row = page.locator(f"#lockouts tr[data-lockout='1002@{laptop}']")
    row.wait_for(timeout=5000)  # pushed by the `lockouts` event, no reload
    page.screenshot(path=str(artifacts / "dashboard-lockouts.png"), full_page=True)
    row.locator("button").click()
    row.wait_for(state="detached", timeout=5000)
    assert login(srv, "1002", "2345", 2, source=laptop)[0] == 200


def test_the_supervisor_sees_the_queue_coming_and_what_to_do(page, server, artifacts):
    server.login("1001", "1234", 1)  # window 1 alone takes pay: 4 minutes each
    for _ in range(8):
        server.issue("pay")
    log_in(page, server.url, "/dashboard")
    row = page.locator("#services tr[data-service='pay']")
    row.locator(".suggestion").wait_for()
    assert "将超目标" in row.inner_text()  # a new ticket would wait 32 min, the target is 20
    assert "开启 2 号窗口办理缴费：预计等候 32 → 16 分钟" in row.inner_text()
    assert "60 分钟后取号约" in row.locator(".outlook").inner_text()
    page.screenshot(path=str(artifacts / "dashboard-suggestion.png"), full_page=True)
