"""The ticket's status page (the QR code's URL), in Debian's Chromium and over plain HTTP."""


import pytest

PHONE = {"width": 390, "height": 760}


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


def test_unknown_ticket_is_a_404_page(server):
    r = server.get("/t/not-a-ticket")
    assert r.status_code == 404
    assert "没有这张号票" in r.text and "No such ticket" in r.text


def test_page_holds_numbers_only_and_stays_private(server):
    ticket = server.issue("pay")
    r = server.get(ticket["status_url"])
    assert r.status_code == 200
    assert ticket["number"] in r.text
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["Cache-Control"] == "no-store"
    assert "cdn" not in r.text.lower() and "https://" not in r.text  # loads from the hall only
    assert len(ticket["public_id"]) >= 16  # not guessable


@pytest.mark.browser
def test_the_page_says_go_to_window_n_when_the_clerk_calls(server, phone, artifacts):
    first = server.issue("pay")
    mine = server.issue("pay")
    phone.goto(server.url + mine["status_url"])
    phone.wait_for_function("() => document.querySelector('#ahead').textContent.startsWith('1')")
    assert phone.text_content("#number") == mine["number"] == "A002"
    assert "请等候叫号" in phone.text_content("#headline")
    assert "缴费" in phone.text_content("#service")
    phone.screenshot(path=str(artifacts / "ticket-page-waiting.png"))

    token = server.login("1001", "1234", 1)
    r = server.post("/api/v1/windows/1/call-next", token=token)
    assert r.json()["ticket"]["number"] == first["number"]
    # Someone ahead was called: one fewer ahead, live.
    phone.wait_for_function("() => document.querySelector('#ahead').textContent.startsWith('0')")
    assert "请等候叫号" in phone.text_content("#headline")

    server.post("/api/v1/windows/1/finish", token=token)
    r = server.post("/api/v1/windows/1/call-next", token=token)
    assert r.json()["ticket"]["number"] == "A002"
    phone.wait_for_selector("#status.called")
    headline = phone.text_content("#headline")
    assert "请到 1号窗口" in headline and "Please go to Window 1" in headline
    assert phone.title().startswith("▶")
    assert phone.is_hidden("#queue")
    phone.screenshot(path=str(artifacts / "ticket-page-called.png"))

    server.post("/api/v1/windows/1/recall", token=token)
    phone.wait_for_function(
        "() => document.querySelector('#detail').textContent.includes('第 2 次')")

    server.post("/api/v1/windows/1/start", token=token)
    phone.wait_for_selector("#status.serving")
    server.post("/api/v1/windows/1/finish", token=token)
    phone.wait_for_selector("#status.done")
    assert "办理完毕" in phone.text_content("#headline")
    assert "Served" in phone.text_content("#headline")


@pytest.mark.browser
def test_the_estimate_moves_live_and_says_so_when_it_moves_a_lot(server, phone, artifacts):
    one = server.login("1001", "1234", 1)  # windows 1 and 2 both take pay
    two = server.login("1002", "2345", 2)
    for _ in range(5):
        server.issue("pay")
    mine = server.issue("pay")
    assert (mine["ahead"], mine["estimated_wait_min"]) == (5, 8)  # 2 windows, 4 min each
    phone.goto(server.url + mine["status_url"])
    phone.wait_for_function("() => document.querySelector('#wait').textContent.startsWith('8')")
    assert phone.text_content("#detail") == ""

    assert server.post("/api/v1/windows/2/close", token=two).ok  # one window left: 20 min
    phone.wait_for_function("() => document.querySelector('#wait').textContent.startsWith('20')")
    detail = phone.text_content("#detail")
    assert "排队变慢，预计" in detail and "The queue slowed" in detail
    phone.screenshot(path=str(artifacts / "ticket-page-moved.png"))

    assert server.post("/api/v1/windows/1/away", {"reason": "暂离"}, token=one).ok
    phone.wait_for_function(
        "() => document.querySelector('#detail').textContent.includes('暂无窗口')")
    assert "No window now; from about" in phone.text_content("#detail")
    phone.screenshot(path=str(artifacts / "ticket-page-no-window.png"))


@pytest.mark.browser
def test_many_ahead_shows_the_range_the_server_gives(server, phone, artifacts):
    """100 ahead: the model is sure of no single count, so the page shows
    ahead_low–ahead_high (92–108), on one line in both languages."""
    server.login("1001", "1234", 1)
    for _ in range(100):
        server.issue("pay")
    mine = server.issue("pay")
    low, high = mine["ahead_low"], mine["ahead_high"]
    assert low < mine["ahead"] == 100 < high
    phone.goto(server.url + mine["status_url"])
    phone.wait_for_function("() => document.querySelector('#ahead').textContent.includes('–')")
    assert phone.text_content("#ahead") == f"约 {low}–{high} 人"
    phone.screenshot(path=str(artifacts / "ticket-page-ahead-range.png"))
    phone.click("#lang")
    phone.wait_for_function("() => document.querySelector('#ahead').textContent.includes('a')")
    assert phone.text_content("#ahead") == f"about {low}–{high}"
    phone.screenshot(path=str(artifacts / "ticket-page-ahead-range-en.png"))
    # Not wrapped: the value is no taller than the single-line wait beside it.
    heights = phone.evaluate("() => ['#ahead', '#wait'].map(s =>"
                             " document.querySelector(s).getBoundingClientRect().height)")
    assert heights[0] <= heights[1], heights


@pytest.mark.browser
def test_language_switch_and_reconnect_reload(server, phone, artifacts):
    ticket = server.issue("repair", priority="priority")
    phone.goto(server.url + ticket["status_url"])
    phone.click("#lang")
    phone.wait_for_function(
        "() => document.querySelector('#headline .primary').textContent"
        " === 'Please wait to be called'")
    assert "Priority" in phone.text_content("#mark")
    assert phone.text_content("#service").startswith("Repair reports")
    phone.screenshot(path=str(artifacts / "ticket-page-en.png"))
    phone.reload()  # the choice is kept on this phone
    phone.wait_for_function(
        "() => document.querySelector('#headline .primary').textContent"
        " === 'Please wait to be called'")


@pytest.mark.browser
def test_the_pages_apply_the_commands_of_one_commit_in_seq_order(server, phone):
    """A `changes` message carries the commands committed together, each event with its own
    seq; one that came early waits for those before it (hallq.js, which every page uses)."""
    mine = server.issue("pay")
    phone.goto(server.url + mine["status_url"])
    heard = phone.evaluate("""() => new Promise(resolve => {
        const heard = [];
        let first = null;
        const client = HallQ.live({
          onEvent: (name, p) => heard.push([name, p.seq]),
          onState: state => {
            if (first !== null) return;
            first = state.seq;
            const changes = client.socket.listeners("changes")[0];
            const seq = n => ["seq", {seq: first + n, parts: 1}];
            setTimeout(() => {
              changes({seq: first + 3, events: [seq(3)]});  // early: waits for 1 and 2
              changes({seq: first + 2, events: [seq(1), seq(2)]});  // one commit, two commands
              resolve({heard: heard.map(([n, s]) => [n, s - first]),
                       last: client.lastSeq - first});
            }, 0);
          }});
      })""")
    assert heard == {"heard": [["seq", 1], ["seq", 2], ["seq", 3]], "last": 3}
