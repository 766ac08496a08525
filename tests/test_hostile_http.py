"""What an attacker on the hall's LAN sends, one finding at a time (issue 13, parts 4–6): the real
server on loopback, raw HTTP and real Socket.IO clients. Every refusal is a 4xx with the JSON
error body and changes nothing."""

from __future__ import annotations

import json
import re

import pytest
import requests
import socketio
from support import KIOSK, ServerProcess, counter_box_token

from hall.config import DEMO_CONFIG
from hall.errors import HallError

API_JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = ServerProcess(tmp_path_factory.mktemp("hostile") / "hall.db").start()
    yield server
    server.stop()


def seq(srv: ServerProcess) -> int:
    return srv.get("/api/v1/state").json()["seq"]


def raw_post(srv: ServerProcess, path: str, data: bytes | str, token: str | None = KIOSK,
             headers: dict | None = None) -> requests.Response:
    all_headers = {**API_JSON, **(headers or {})}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    return requests.post(srv.url + path, data=data, headers=all_headers, timeout=10)


def assert_refused(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == code, response.text


# -- numbers -------------------------------------------------------------------------------------
@pytest.mark.parametrize("number", ["²", "١", "1" * 5000, "9" * 20, "-1", "+1", "1_0"])
def test_a_window_in_the_path_is_ascii_digits_of_bounded_length(srv, number):
    before = seq(srv)
    r = srv.post(f"/api/v1/windows/{number}/open", {}, token=counter_box_token(1))
    assert_refused(r, 404, "unknown_window")
    r = srv.get(f"/api/v1/windows/{number}/summary", token=counter_box_token(1))
    assert_refused(r, 404, "unknown_window")
    assert seq(srv) == before


@pytest.mark.parametrize("window", ["²", "1" * 5000, 10**30, -(10**30), 1.5e308])
def test_a_window_in_the_body_is_bounded_too(srv, window):
    before = seq(srv)
    r = srv.post("/api/v1/login", {"staff_id": "1001", "pin": "1234", "window": window})
    assert r.status_code in (400, 404), r.text
    assert r.json()["error"]["code"] in ("bad_request", "unknown_window")
    assert seq(srv) == before


def test_a_ticket_or_callback_id_beyond_sqlite_is_simply_unknown(srv):
    boss = srv.login("9001", "9999")
    before = seq(srv)
    for path in ("/api/v1/tickets/99999999999999999999999/cancel",
                 "/api/v1/tickets/²/cancel"):
        r = srv.post(path, {"reason": "x"}, token=boss)
        assert_refused(r, 404, "unknown_ticket")
    for path in ("/api/v1/callbacks/99999999999999999999999/done",
                 "/api/v1/callbacks/²/done"):
        assert_refused(srv.post(path, {}, token=boss), 404, "not_found")
    assert_refused(srv.get("/api/v1/callbacks/99999999999999999999999/phone", token=boss),
                   404, "not_found")
    assert seq(srv) == before


def test_a_pin_is_ascii_digits(srv):
    boss = srv.login("9001", "9999")
    before = seq(srv)
    r = srv.post("/api/v1/staff", {"id": "7001", "staff_name": "测试", "pin": "²²²²"}, token=boss)
    assert_refused(r, 400, "bad_request")
    assert seq(srv) == before


# -- JSON ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [9, 5000, 30000])
def test_deeply_nested_json_is_a_bad_request(srv, depth):
    before = seq(srv)
    body = '{"service": "pay", "x": ' + "[" * depth + "]" * depth + "}"
    assert_refused(raw_post(srv, "/api/v1/tickets", body), 400, "bad_request")
    assert seq(srv) == before


@pytest.mark.parametrize("field", ["service", "request_id", "priority"])
def test_a_lone_surrogate_is_a_bad_request(srv, field):
    before = seq(srv)
    body = {"service": "pay", field: "\ud800"}
    r = raw_post(srv, "/api/v1/tickets", json.dumps(body))  # ensure_ascii: sent as \\ud800
    assert_refused(r, 400, "bad_request")
    assert seq(srv) == before


@pytest.mark.parametrize("body", ['{"service": "pay", "request_id": NaN}',
                                  '{"service": "pay", "x": 1' + "0" * 5000 + "}",
                                  '{"service": "pay", "x": 9007199254740993}',
                                  '{"service": "pay", "x": Infinity}'])
def test_numbers_in_json_are_finite_and_bounded(srv, body):
    before = seq(srv)
    assert_refused(raw_post(srv, "/api/v1/tickets", body), 400, "bad_request")
    assert seq(srv) == before


def test_a_body_over_64_kb_is_refused_with_413(srv):
    before = seq(srv)
    body = json.dumps({"service": "pay", "pad": "x" * 70_000})
    assert_refused(raw_post(srv, "/api/v1/tickets", body), 413, "too_large")
    assert seq(srv) == before


# -- the HTTP layer's own errors -----------------------------------------------------------------
def test_http_layer_errors_on_the_api_are_json(srv):
    assert_refused(srv.get("/api/v1/nothing-here"), 404, "not_found")
    r = requests.put(srv.url + "/api/v1/tickets", json={}, timeout=5)
    assert_refused(r, 405, "bad_request")
    assert "POST" in r.headers["Allow"]
    r = requests.delete(srv.url + "/api/v1/state", timeout=5)
    assert_refused(r, 405, "bad_request")


def test_pages_keep_html_errors(srv):
    r = requests.get(srv.url + "/no-such-page", timeout=5)
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("text/html")


# -- Socket.IO commands --------------------------------------------------------------------------
@pytest.fixture
def kiosk_socket(srv):
    client = socketio.Client(reconnection=False)
    client.connect(srv.url, auth={"token": KIOSK}, transports=["websocket"], wait_timeout=5)
    yield client
    client.disconnect()


def call_raw(client: socketio.Client, *args, event: str = "command") -> dict:
    """Emit `event` with exactly `args` (python-socketio's call() takes one data argument; a
    tuple goes out as several) and wait for the acknowledgement."""
    return client.call(event, args if len(args) != 1 else args[0], timeout=5)


@pytest.mark.parametrize("args", [(), ({"name": "issue", "service": "pay"}, "extra"),
                                  ("issue",), (None,), ([1, 2],), (42,)])
def test_every_command_is_acknowledged_malformed_or_not(srv, kiosk_socket, args):
    before = seq(srv)
    answer = call_raw(kiosk_socket, *args)
    assert answer["status"] == 400 and answer["error"]["code"] == "bad_request", answer
    assert seq(srv) == before


def test_a_command_with_a_lone_surrogate_or_deep_nesting_is_acknowledged(srv, kiosk_socket):
    before = seq(srv)
    for body in ({"name": "issue", "service": "pay", "request_id": "\ud800"},
                 {"name": "issue", "service": "pay", "x": json.loads("[" * 20 + "]" * 20)}):
        answer = kiosk_socket.call("command", body, timeout=5)
        assert answer["error"]["code"] == "bad_request", answer
    assert seq(srv) == before


class _DeepJson:
    """python-socketio's JSON for a client that sends 30,000 levels of nesting in place of
    the string "DEEP" (the json module itself cannot write that deep)."""

    @staticmethod
    def dumps(obj, **kwargs) -> str:
        return json.dumps(obj, **kwargs).replace('"DEEP"', "[" * 30000 + "]" * 30000)

    loads = staticmethod(json.loads)


def test_a_command_nested_too_deep_to_parse_is_acknowledged(srv):
    client = socketio.Client(reconnection=False, json=_DeepJson)
    client.connect(srv.url, auth={"token": KIOSK}, transports=["websocket"], wait_timeout=5)
    try:
        before = seq(srv)
        answer = client.call("command", {"name": "issue", "service": "pay", "x": "DEEP"},
                             timeout=5)
        assert answer["error"]["code"] == "bad_request", answer
        assert seq(srv) == before
        assert client.call("command", {"name": "issue", "service": "pay"},
                           timeout=5)["status"] == 201  # the connection lives on
    finally:
        client.disconnect()


def test_a_socket_message_over_64_kb_ends_that_connection_only(srv, kiosk_socket):
    client = socketio.Client(reconnection=False)
    client.connect(srv.url, auth={"token": KIOSK}, transports=["websocket"], wait_timeout=5)
    before = seq(srv)
    with pytest.raises(socketio.exceptions.SocketIOError):
        client.call("command", {"name": "issue", "service": "pay", "pad": "x" * 70_000},
                    timeout=3)
    assert seq(srv) == before
    answer = kiosk_socket.call("command", {"name": "issue", "service": "pay"}, timeout=5)
    assert answer["status"] == 201
    client.disconnect()


@pytest.mark.parametrize("event", ["no-such-event", "*", "changes", "state_"])
def test_an_unknown_event_is_acknowledged_as_not_found(kiosk_socket, event):
    for args in ((), ({"x": 1},), (1, 2)):
        answer = kiosk_socket.call(event, args if len(args) != 1 else args[0], timeout=5)
        assert answer["status"] == 404 and answer["error"]["code"] == "not_found", args


# -- a refused socket says why -------------------------------------------------------------------
@pytest.mark.parametrize("token", ["not-a-kiosk-token", "\ud800", 12345])
def test_a_refused_socket_says_unauthorized(srv, token):
    errors = []
    client = socketio.Client(reconnection=False)
    client.on("connect_error", lambda data=None: errors.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(srv.url, auth={"token": token}, transports=["websocket"],
                       wait_timeout=5)
    assert errors[0]["message"] == "unauthorized"
    assert errors[0]["data"]["code"] == "unauthorized"
    assert "Token refused" in errors[0]["data"]["message"]


def refusal_lines(srv: ServerProcess) -> list[str]:
    return [line for line in srv.log.read_text().splitlines()
            if "refused a device connection" in line]


def test_refused_connections_are_logged_once_a_minute_without_the_token(srv):
    secret = "evaluator-secret-that-must-not-be-logged"
    before = len(refusal_lines(srv))
    for _ in range(5):
        client = socketio.Client(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(srv.url, auth={"token": secret}, transports=["websocket"],
                           wait_timeout=5)
    lines = refusal_lines(srv)
    assert lines and "from 127.0.0.1: token " in lines[-1]
    assert len(lines) - before <= 1  # five attempts from one address: one line at most
    assert secret not in srv.log.read_text()


def test_the_refusal_log_says_how_many_it_held_back(caplog):
    from web.refusals import RefusalLog

    now = [0.0]
    refusals = RefusalLog(clock=lambda: now[0])
    with caplog.at_level("WARNING", logger="hallq.refused"):
        for _ in range(4):
            refusals.refused("10.0.0.7", "demo-display-9-token")
        refusals.refused("10.0.0.8", "x")
        now[0] = 61
        refusals.refused("10.0.0.7", "demo-display-9-token")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    assert "10.0.0.7" in lines[0] and "like a display's device token" in lines[0]
    assert "3 more from there" in lines[2]
    assert not any("demo-display-9-token" in line for line in lines)


# -- cross-site ----------------------------------------------------------------------------------
LOGIN = json.dumps({"staff_id": "1001", "pin": "0000", "window": 1})


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
def test_a_mutating_request_with_a_body_must_be_json(srv, content_type):
    before = seq(srv)
    headers = {"Content-Type": content_type} if content_type else {}
    r = requests.post(srv.url + "/api/v1/login", data=LOGIN, headers=headers, timeout=5)
    assert_refused(r, 415, "unsupported_media_type")
    r = requests.post(srv.url + "/api/v1/tickets", data='{"service": "pay"}',
                      headers={**headers, "Authorization": f"Bearer {KIOSK}"}, timeout=5)
    assert_refused(r, 415, "unsupported_media_type")
    assert seq(srv) == before


def test_a_cross_site_text_plain_login_checks_no_pin(srv):
    """What a page on another site can send from a hall browser without a CORS preflight."""
    r = requests.post(srv.url + "/api/v1/login", data=LOGIN, timeout=5,
                      headers={"Content-Type": "text/plain;charset=UTF-8",
                               "Origin": "http://evil.example"})
    assert r.status_code in (403, 415) and r.json()["error"]["code"] != "unauthorized"


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1",
                                    "https://127.0.0.1"])
def test_a_foreign_origin_is_refused(srv, origin):
    before = seq(srv)
    r = requests.post(srv.url + "/api/v1/tickets", json={"service": "pay"}, timeout=5,
                      headers={"Authorization": f"Bearer {KIOSK}", "Origin": origin})
    assert_refused(r, 403, "forbidden")
    assert "Cross-site" in r.json()["error"]["message"]
    assert seq(srv) == before


def test_the_servers_own_origin_and_no_origin_are_allowed(srv):
    own = srv.url  # http://127.0.0.1:PORT, as a page opened from this server sends it
    for headers in ({"Origin": own}, {"Origin": own.replace("127.0.0.1", "127.0.0.1")}, {}):
        r = requests.post(srv.url + "/api/v1/tickets", json={"service": "pay"}, timeout=5,
                          headers={"Authorization": f"Bearer {KIOSK}", **headers})
        assert r.status_code == 201, r.text
    # a command without a body needs no Content-Type (curl -X POST, the benchmarks)
    boss = srv.login("9001", "9999")
    r = requests.post(srv.url + "/api/v1/issuing/resume", timeout=5,
                      headers={"Authorization": f"Bearer {boss}"})
    assert r.status_code == 200, r.text


def socket_from(url: str, origin: str) -> socketio.Client:
    """A Socket.IO client whose handshake carries `origin` as its only Origin header (the
    websocket library would add one of its own)."""
    client = socketio.Client(reconnection=False,
                             websocket_extra_options={"suppress_origin": True})
    client.connect(url, headers={"Origin": origin}, transports=["websocket"], wait_timeout=5)
    return client


def test_a_socket_from_a_foreign_origin_is_refused(srv):
    for origin in ("http://evil.example", "null"):
        with pytest.raises(socketio.exceptions.ConnectionError):
            socket_from(srv.url, origin)
    socket_from(srv.url, srv.url).disconnect()


def test_public_url_is_an_origin_of_its_own(tmp_path):
    """Phones reach the hall at public_url (say, through a proxy): pages opened there work."""
    text = DEMO_CONFIG.read_text(encoding="utf-8").replace(
        '[hall]\n', '[hall]\npublic_url = "https://queue.hall.example/"\n', 1)
    config = tmp_path / "hall.toml"
    config.write_text(text, encoding="utf-8")
    server = ServerProcess(tmp_path / "hall.db", config=config).start()
    try:
        for origin, status in (("https://queue.hall.example", 201),
                               ("https://QUEUE.hall.example", 201),
                               ("http://queue.hall.example", 403)):
            r = requests.post(server.url + "/api/v1/tickets", json={"service": "pay"},
                              timeout=5, headers={"Authorization": f"Bearer {KIOSK}",
                                                  "Origin": origin})
            assert r.status_code == status, (origin, r.text)
        socket_from(server.url, "https://queue.hall.example").disconnect()
        with pytest.raises(socketio.exceptions.ConnectionError):
            socket_from(server.url, "https://evil.example")
    finally:
        server.stop()


# -- /healthz ------------------------------------------------------------------------------------
def lan_address() -> str | None:
    """This machine's address on a network other than loopback (no packet is sent)."""
    import socket as sockets

    with sockets.socket(sockets.AF_INET, sockets.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 9))
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_healthz_shows_details_only_to_a_supervisor_or_on_loopback(tmp_path):
    address = lan_address()
    if address is None:
        pytest.skip("no address beside loopback to come from")
    server = ServerProcess(tmp_path / "hall.db", extra=["--host", "0.0.0.0"]).start()
    try:
        lan = f"http://{address}:{server.port}/healthz"
        assert requests.get(lan, timeout=5).json() == {"ok": True}
        for token in (KIOSK, "not-a-token", server.login("1001", "1234", 1)):
            r = requests.get(lan, timeout=5, headers={"Authorization": f"Bearer {token}"})
            assert r.json() == {"ok": True}, token
        boss = server.login("9001", "9999")
        full = requests.get(lan, timeout=5, headers={"Authorization": f"Bearer {boss}"}).json()
        assert full["db"]["path"] and full["devices"]["list"] and full["servers"][0]["host"]
        local = server.get("/healthz").json()  # from the server's own machine
        assert local["db"]["path"] == full["db"]["path"]
    finally:
        server.stop()


# -- pairing an evaluator page -------------------------------------------------------------------
def pairing_code(srv: ServerProcess, device: str = "evaluator-2", token: str | None = None):
    return srv.post(f"/api/v1/devices/{device}/pairing-code", {},
                    token=token or srv.login("9001", "9999"))


def test_a_pairing_code_gives_the_evaluator_its_token_once(srv):
    r = pairing_code(srv)
    assert r.status_code == 200, r.text
    code = r.json()["code"]
    assert re.fullmatch(r"\d{6}", code) and r.json()["window"] == 2
    first = srv.post("/api/v1/pair", {"code": code})
    assert first.json() == {"token": "demo-evaluator-2-token",
                            "device": {"id": "evaluator-2", "role": "evaluator", "window": 2}}
    assert_refused(srv.post("/api/v1/pair", {"code": code}), 401, "unauthorized")


def test_a_new_code_replaces_the_last_one(srv):
    old = pairing_code(srv).json()["code"]
    new = pairing_code(srv).json()["code"]
    if old != new:
        assert_refused(srv.post("/api/v1/pair", {"code": old}), 401, "unauthorized")
    assert srv.post("/api/v1/pair", {"code": new}).status_code == 200


@pytest.mark.parametrize("token, device, status, code", [
    (KIOSK, "evaluator-1", 403, "forbidden"),
    (counter_box_token(1), "evaluator-1", 403, "forbidden"),
    ("demo-evaluator-1-token", "evaluator-1", 403, "forbidden"),
    (None, "evaluator-1", 401, "unauthorized"),
    ("supervisor", "kiosk-1", 404, "not_found"),  # programs keep their --token
    ("supervisor", "no-such-device", 404, "not_found"),
])
def test_only_a_supervisor_makes_codes_and_only_for_evaluators(srv, token, device, status,
                                                              code):
    if token == "supervisor":
        token = srv.login("9001", "9999")
    r = srv.post(f"/api/v1/devices/{device}/pairing-code", {}, token=token)
    assert_refused(r, status, code)


def test_wrong_codes_are_limited_per_address(tmp_path):
    server = ServerProcess(tmp_path / "hall.db").start()
    try:
        code = pairing_code(server).json()["code"]
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(5):
            assert_refused(server.post("/api/v1/pair", {"code": wrong}), 401, "unauthorized")
        # the sixth try is refused before the code is even looked at, a right one too
        assert_refused(server.post("/api/v1/pair", {"code": code}), 429, "locked")
        for bad in ("12345", "1234567", "²²²²²²", 123456, None):
            assert server.post("/api/v1/pair", {"code": bad}).status_code in (400, 429)
    finally:
        server.stop()


def test_a_pairing_code_lasts_five_minutes(hall, clock):
    from hall import pairing

    boss = hall.authenticate(hall.login("9001", "9999")["token"])
    code = pairing.new_code(hall, boss, {"device": "evaluator-3"})["code"]
    clock.advance(minutes=5, seconds=1)
    with pytest.raises(HallError) as refused:
        pairing.redeem(hall, code)
    assert refused.value.code == "unauthorized"
    code = pairing.new_code(hall, boss, {"device": "evaluator-3"})["code"]
    clock.advance(minutes=4)
    assert pairing.redeem(hall, code)["device"]["window"] == 3
