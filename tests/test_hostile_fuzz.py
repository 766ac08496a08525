"""A hypothesis fuzz of every HTTP route and every Socket.IO event, against the real server on
loopback, with every kind of token: none, a bad one, each device role, a clerk, a supervisor.

The routes come from the app's own url_map, so a new route is fuzzed without a change here.
Whatever is sent: never a 5xx; under /api/ always the JSON error body; and a refusal (or any
GET) changes nothing: the event log's seq is the same before and after.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
import requests
import socketio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import DISPLAY, KIOSK, ServerProcess, counter_box_token, evaluator_token, migrated

from hall.config import load_config
from hall.hall import Hall
from hall.store import Store

FUZZ = settings(max_examples=400, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SOCKET_FUZZ = settings(FUZZ, max_examples=250)

ROLES = ["none", "bad", "kiosk", "display", "evaluator", "counter", "clerk", "supervisor"]
DEVICE_TOKENS = {"bad": "not-a-token-of-this-hall", "kiosk": KIOSK, "display": DISPLAY,
                 "evaluator": evaluator_token(1), "counter": counter_box_token(1)}
STAFF = {"clerk": ("1001", "1234", 1), "supervisor": ("9001", "9999", None)}

# Field names the commands read, so the fuzz reaches past "missing field" most of the time.
FIELDS = ["name", "service", "priority", "window", "to_window", "to_service", "score", "reason",
          "request_id", "state", "detail", "text", "ticket", "id", "staff_id", "staff_name",
          "pin", "role", "phone", "customer_name", "note", "changes", "token", "code"]
NASTY = ["", " ", "pay", "repair", "A001", "1", "2", "6", "0", "-1", "²", "١", "1" * 40,
         "\ud800", "\udfff", "\x00", "NaN", "<script>alert(1)</script>", "../../etc/passwd",
         "暂离", "9001", "1001", "1234", "open", "call-next", "finish", "ok", "no_paper"]
SEGMENTS = ["1", "2", "6", "0", "99", "²", "1" * 30, "A001", "pay", "open", "close",
            "call-next", "recall", "start", "finish", "no-show", "transfer", "away", "back",
            "rating", "summary", "force-close", "callback", "cancel", "disable", "enable",
            "reset-pin", "pause", "resume", "done", "phone", "9001", "1001", "..", "%00"]


def build_app_rules() -> list[tuple[str, str, list[str]]]:
    """(method, rule, argument names) for every route of the app, read from its url_map."""
    import tempfile
    from pathlib import Path

    from web.app import create_app

    directory = tempfile.mkdtemp(prefix="hallq-routes-")
    app, _ = create_app(Hall(load_config(), Store(migrated(Path(directory) / "routes.db"))))
    rules = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            rules.append((method, rule.rule, sorted(rule.arguments)))
    return rules


RULES = build_app_rules()

scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
           | st.sampled_from(NASTY))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                           max_leaves=6)
bodies = (st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=5)
          | json_values)
raw_bodies = st.one_of(
    bodies.map(lambda b: json.dumps(b).encode()),  # json.dumps escapes surrogates as \\ud800
    st.sampled_from([b"", b"{", b"[" * 5000 + b"]" * 5000, b'{"service": NaN}',
                     b'{"a": 1' + b"0" * 5000 + b"}", b"\xff\xfe", b"service=pay"]),
)
content_types = st.sampled_from(["application/json", "application/json; charset=utf-8",
                                 "text/plain", "application/x-www-form-urlencoded", None])
segments = st.sampled_from(SEGMENTS) | st.text(min_size=1, max_size=12)
queries = st.dictionaries(st.sampled_from(["from", "to", "window", "x"]),
                          st.sampled_from(["2026-11-23", "2026-13-45", "²", "", "1" * 30])
                          | st.text(max_size=10), max_size=2)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = ServerProcess(tmp_path_factory.mktemp("fuzz") / "hall.db").start()
    yield server
    server.stop()


class Tokens:
    """Each kind of token; a staff login ended by the fuzz itself (logout, a PIN reset) is
    taken again, so every example still runs with the kind of token it drew."""

    def __init__(self, srv: ServerProcess) -> None:
        self.srv = srv
        self.staff: dict[str, str] = {}

    def get(self, role: str) -> str | None:
        if role == "none":
            return None
        if role in DEVICE_TOKENS:
            return DEVICE_TOKENS[role]
        token = self.staff.get(role)
        if token is None or self.srv.get("/api/v1/me", token=token).status_code != 200:
            staff_id, pin, window = STAFF[role]
            r = self.srv.post("/api/v1/login", {"staff_id": staff_id, "pin": pin,
                                                "window": window})
            token = self.staff[role] = r.json().get("token") if r.ok else "a-lost-login"
        return token


@pytest.fixture(scope="module")
def tokens(srv):
    return Tokens(srv)


def seq(srv: ServerProcess) -> int:
    return srv.get("/api/v1/state").json()["seq"]


def fill(rule: str, values: list[str]) -> str:
    """The rule's <arguments> replaced, in order, by the drawn path segments."""
    parts = iter(values)
    return re.sub(r"<[^>]+>", lambda _: quote(next(parts), safe=""), rule)


def check(response: requests.Response, path: str, method: str, before: int, after: int) -> None:
    where = f"{method} {path} -> {response.status_code} {response.text[:200]!r}"
    assert response.status_code < 500, where
    if path.startswith("/api/") and response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["code"], str) and error["message"], where
    if response.status_code >= 400 or method == "GET":
        assert after == before, where


@FUZZ
@given(data=st.data(), role=st.sampled_from(ROLES), route=st.sampled_from(RULES),
       body=raw_bodies, content_type=content_types, query=queries,
       origin=st.sampled_from([None, None, None, "http://evil.example", "null"]))
def test_every_route_with_every_token(srv, tokens, data, role, route, body, content_type,
                                      query, origin):
    method, rule, arguments = route
    path = fill(rule, [data.draw(segments) for _ in arguments])
    headers = {}
    token = tokens.get(role)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if content_type:
        headers["Content-Type"] = content_type
    if origin:
        headers["Origin"] = origin
    before = seq(srv)
    response = requests.request(method, srv.url + path, params=query, headers=headers,
                                data=body if method != "GET" else None, timeout=10)
    check(response, path, method, before, seq(srv))


# -- Socket.IO ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sockets(srv, tokens):
    """One connection per kind of token that may connect (a bad token may not)."""
    clients = {}
    for role in ROLES:
        if role == "bad":
            continue
        client = socketio.Client(reconnection=False)
        client.connect(srv.url, auth={"token": tokens.get(role), "changes": True},
                       transports=["websocket"], wait_timeout=5)
        clients[role] = client
    yield clients
    for client in clients.values():
        client.disconnect()


event_names = st.sampled_from(["command", "command", "command", "state", "heartbeat",
                               "message", "*", "changes"]) | st.text(min_size=1, max_size=10)
socket_args = st.lists(json_values | bodies, max_size=3).map(tuple)
commands = st.fixed_dictionaries(
    {"name": st.sampled_from(["issue", "open", "close", "call-next", "recall", "start",
                              "finish", "no-show", "transfer", "away", "back", "rate",
                              "printer", "heartbeat", "notice", "pause-issuing",
                              "resume-issuing", "cancel-ticket", "transfer-ticket",
                              "force-close", "callback", "callback-done", "staff-add",
                              "staff-disable", "staff-enable", "staff-reset-pin"])
     | json_values},
    optional={field: json_values for field in FIELDS if field != "name"})


@SOCKET_FUZZ
@given(role=st.sampled_from([r for r in ROLES if r != "bad"]), event=event_names,
       args=socket_args, command=commands, as_command=st.booleans())
def test_every_socket_event_with_every_token(srv, sockets, role, event, args, command,
                                             as_command):
    if event in ("connect", "disconnect"):  # the library's own, never handlers of ours
        return
    client = sockets[role]
    if as_command:
        event, args = "command", (command,)
    before = seq(srv)
    answer = client.call(event, args if len(args) != 1 else args[0], timeout=3)
    after = seq(srv)
    where = f"{role} {event} {args!r:.200} -> {answer!r:.300}"
    assert isinstance(answer, dict), where
    if event == "state":
        assert "seq" in answer, where
        return
    assert answer["status"] < 500, where
    if "error" in answer:
        assert isinstance(answer["error"]["code"], str) and answer["error"]["message"], where
        assert after == before, where


@settings(FUZZ, max_examples=60)
@given(auth=json_values | st.dictionaries(st.sampled_from(["token", "changes"]), json_values))
def test_any_handshake_is_taken_or_refused_cleanly(srv, auth):
    client = socketio.Client(reconnection=False)
    try:
        client.connect(srv.url, auth=auth, transports=["websocket"], wait_timeout=5)
    except socketio.exceptions.ConnectionError:
        pass  # refused: a bad token
    else:
        client.disconnect()
    assert srv.get("/healthz").json()["ok"] is True


def test_the_server_logged_no_traceback(srv):
    """Run last: nothing above made the server fail inside, even where it answered well."""
    log = srv.log.read_text()
    assert "Traceback" not in log, log[log.find("Traceback") - 300:][:3000]
