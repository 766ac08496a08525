"""The hall overview at / in Chromium, live against the real server."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_a_recalled_number_is_listed_once_with_its_count(browser, server, artifacts):
    token = server.login("1001", "1234", 1)
    server.issue("pay")
    server.issue("pay")
    for action in ("call-next", "recall", "recall"):
        assert server.post(f"/api/v1/windows/1/{action}", token=token).ok
    page = browser.new_page()
    try:
        page.goto(server.url + "/")
        page.wait_for_function("() => document.querySelectorAll('#calls li').length > 0")
        assert page.locator("#calls li").all_inner_texts() == ["A001 → 1号窗口（重呼 2）"]
        server.post("/api/v1/windows/1/start", token=token)
        server.post("/api/v1/windows/1/finish", token=token)
        server.post("/api/v1/windows/1/call-next", token=token)  # live: A002 comes on top
        page.wait_for_function("() => document.querySelectorAll('#calls li').length == 2")
        assert page.locator("#calls li").all_inner_texts() == [
            "A002 → 1号窗口", "A001 → 1号窗口（重呼 2）"]
        page.screenshot(path=str(artifacts / "overview.png"), full_page=True)
    finally:
        page.close()
