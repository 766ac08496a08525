"""The real server on loopback: the REST API, Socket.IO devices, bad input, and a short day."""

import threading

import pytest
import requests
import socketio
from support import DISPLAY, KIOSK, listening_display, wait_until

from client.live import CommandFailed, LiveHall


@pytest.fixture
def display(server):
    with listening_display(server.url) as live:
        yield live


def test_a_kiosk_issues_over_http_and_gets_the_ticket(server):
    r = server.post("/api/v1/tickets", {"service": "pay"}, token=KIOSK)
    assert r.status_code == 201
    ticket = r.json()["ticket"]
    assert ticket["number"] == "A001" and ticket["status_url"].startswith("/t/")
    assert server.get(f"/api/v1/tickets/{ticket['public_id']}").json()["ticket"]["ahead"] == 0


@pytest.mark.parametrize("path, body, token, status, code", [
    ("/api/v1/tickets", b"{not json", KIOSK, 400, "bad_request"),
    ("/api/v1/tickets", b"[1, 2]", KIOSK, 400, "bad_request"),
    ("/api/v1/tickets", b'{"service": 5}', KIOSK, 404, "unknown_service"),
    ("/api/v1/tickets", b'{"service": "pay", "priority": "king"}', KIOSK, 400, "bad_request"),
    ("/api/v1/tickets", b'{"service": "pay"}', None, 401, "unauthorized"),
    ("/api/v1/tickets", b'{"service": "pay"}', "made-up-token", 401, "unauthorized"),
    ("/api/v1/tickets", b'{"service": "pay"}', DISPLAY, 403, "forbidden"),
    ("/api/v1/windows/99/call-next", b"", KIOSK, 404, "unknown_window"),
    ("/api/v1/windows/one/call-next", b"", KIOSK, 404, "unknown_window"),
    ("/api/v1/windows/1/dance", b"", KIOSK, 404, "not_found"),
    ("/api/v1/windows/1/rating", b'{"score": 9}', "demo-evaluator-1-token", 400, "bad_request"),
    ("/api/v1/login", b'{"staff_id": "1001", "pin": 1234, "window": 1}', None, 400,
     "bad_request"),
    ("/api/v1/login", b'{"staff_id": "1001", "pin": "9", "window": 1}', None, 401,
     "unauthorized"),
    ("/api/v1/devices/printer", b'{"state": "on fire"}', KIOSK, 400, "bad_request"),
    ("/api/v1/tickets", b'{"service": "pay", "request_id": 12}', KIOSK, 400, "bad_request"),
])
def test_bad_input_gets_a_json_error_with_a_stable_code_and_changes_nothing(
        server, path, body, token, status, code):
    seq = server.get("/api/v1/state").json()["seq"]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers["Content-Type"] = "application/json"
    r = requests.post(server.url + path, data=body, headers=headers, timeout=10)
    assert (r.status_code, r.json()["error"]["code"]) == (status, code)
    assert r.json()["error"]["message"]
    assert server.get("/api/v1/state").json()["seq"] == seq


def test_no_state_changes_over_get(server):
    for path in ("/api/v1/tickets", "/api/v1/windows/1/call-next", "/api/v1/login"):
        r = server.get(path)
        assert r.status_code == 405 and r.json()["error"]["code"] == "bad_request"


def test_socket_commands_answer_with_the_same_json_as_rest(server, display):
    kiosk = LiveHall(server.url, token=KIOSK)
    kiosk.start()
    kiosk.wait_for_state()
    over_socket = kiosk.command("issue", service="pay")
    over_http = server.post("/api/v1/tickets", {"service": "pay"}, token=KIOSK).json()
    assert over_socket["status"] == 201
    assert set(over_socket["ticket"]) == set(over_http["ticket"])
    with pytest.raises(CommandFailed) as refused:
        kiosk.command("issue", service="tea")
    http_refused = server.post("/api/v1/tickets", {"service": "tea"}, token=KIOSK).json()
    assert refused.value.answer["error"] == http_refused["error"]
    kiosk.stop()


def test_a_socket_connection_with_a_bad_token_is_refused(server):
    live = LiveHall(server.url, token="nobody-knows-this")
    live.start()
    with pytest.raises(TimeoutError):
        live.wait_for_state(2)
    live.stop()


def test_a_retried_issue_with_the_same_request_id_issues_once(server):
    first = server.post("/api/v1/tickets", {"service": "pay", "request_id": "tap-1"},
                        token=KIOSK).json()
    again = server.post("/api/v1/tickets", {"service": "pay", "request_id": "tap-1"},
                        token=KIOSK).json()
    assert first == again
    assert server.get("/api/v1/state").json()["services"][0]["waiting"] == 1


def test_two_windows_and_a_display_through_a_short_day(server, display):
    t1 = server.login("1001", "1234", 1)
    t2 = server.login("1002", "2345", 2)
    numbers = [server.issue("pay")["number"] for _ in range(3)]
    numbers.append(server.issue("enquiry", priority="priority")["number"])
    assert numbers == ["A001", "A002", "A003", "E001"]
    wait_until(lambda: display.state["services"][0]["waiting"] == 3)

    def call(token, window):
        r = server.post(f"/api/v1/windows/{window}/call-next", token=token)
        assert r.status_code == 200, r.text
        return r.json()["ticket"]["number"]

    assert call(t1, 1) == "E001"  # green channel first
    assert call(t2, 2) == "A001"
    wait_until(lambda: len(display.calls) == 2)
    assert [(c["number"], c["window"]) for c in display.calls] == [("E001", 1), ("A001", 2)]
    assert server.post("/api/v1/windows/2/recall", token=t2).status_code == 200
    wait_until(lambda: len(display.calls) == 3)
    assert display.calls[-1]["recalls"] == 1

    server.post("/api/v1/windows/1/finish", token=t1)
    server.post("/api/v1/windows/1/away", {"reason": "暂离"}, token=t1)
    wait_until(lambda: display.state["windows"][0]["status"] == "away")
    assert display.state["windows"][0]["away"]["reason"] == "暂离"
    r = server.post("/api/v1/windows/1/call-next", token=t1)
    assert r.status_code == 409 and r.json()["error"]["code"] == "window_away"

    server.post("/api/v1/windows/2/start", token=t2)
    server.post("/api/v1/windows/2/transfer", {"service": "enquiry"}, token=t2)
    server.post("/api/v1/windows/1/back", token=t1)
    assert call(t1, 1) == "A001"  # transferred, still first in line
    rated = server.post("/api/v1/windows/1/finish", token=t1)
    assert rated.status_code == 200
    r = server.post("/api/v1/windows/1/rating", {"score": 5}, token="demo-evaluator-1-token")
    assert r.json()["rating"]["number"] == "A001"

    assert [call(t2, 2) for _ in range(1)] == ["A002"]
    wait_until(lambda: display.state["services"][0]["waiting"] == 1)
    state = server.get("/api/v1/state").json()
    assert display.state["seq"] == state["seq"]
    assert display.state["windows"] == state["windows"]
    assert display.resyncs == 0


def test_events_carry_a_seq_that_grows_by_one_per_command(server, display):
    seen = []
    display._on_event = lambda name, p: seen.append(p["seq"])
    start = display.state["seq"]
    threads = [threading.Thread(target=server.issue) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # each issue sends ticket_issued and then queue, both with its seq: wait for the last queue
    wait_until(lambda: display.state["services"][0]["waiting"] == 8)
    wait_until(lambda: len(set(seen)) >= 8)  # the callbacks follow on a thread of their own
    assert sorted(set(seen)) == list(range(start + 1, start + 9))


def test_a_device_takes_each_event_or_each_commands_changes_as_it_asked(server):
    """DESIGN.md's events one by one for a plain client; one `changes` message per command,
    with the same events in the same order, for a client that asked with `changes: true`."""
    heard: dict[str, list] = {"plain": [], "changes": []}
    clients = {}

    def listener(kind: str):
        def hear(name: str, payload: dict) -> None:
            if name != "state":  # the snapshot sent on connect
                heard[kind].append((name, payload))
        return hear

    for kind, auth in (("plain", {"token": DISPLAY}),
                       ("changes", {"token": DISPLAY, "changes": True})):
        client = socketio.Client()
        client.on("*", listener(kind))
        client.connect(server.url, auth=auth, transports=["websocket"])
        clients[kind] = client
    try:
        server.issue("pay")
        wait_until(lambda: len(heard["plain"]) == 2 and heard["changes"])
        assert [name for name, _ in heard["plain"]] == ["ticket_issued", "queue"]
        assert [name for name, _ in heard["changes"]] == ["changes"]
        message = heard["changes"][0][1]
        assert message["seq"] == heard["plain"][0][1]["seq"]
        assert message["events"] == [list(event) for event in heard["plain"]]
    finally:
        for client in clients.values():
            client.disconnect()


def test_the_overview_page_and_health(server):
    page = requests.get(server.url + "/", timeout=5)
    assert page.status_code == 200 and "示范营业厅" in page.text
    assert "socket.io.min.js" in page.text and "http" not in page.text.split("<body")[0]
    assert server.get("/healthz").json()["ok"] is True
