"""The HTTP server keeps a client's connection open between requests (HTTP/1.1 keep-alive),
and never lets one request's leftovers be read as the next request."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest
from support import KIOSK, ServerProcess

from web import serving


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = ServerProcess(tmp_path_factory.mktemp("serving") / "hall.db").start()
    yield server
    server.stop()


def exchange(sock: socket.socket, request: bytes) -> bytes:
    """Send one request; read one answer (its headers and Content-Length bytes of body)."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    if not request.startswith(b"HEAD"):
        while len(body) < length:
            body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def closed_by_server(sock: socket.socket, timeout: float = 5) -> bool:
    sock.settimeout(timeout)
    return sock.recv(1) == b""


def test_a_kiosk_issues_ticket_after_ticket_on_one_connection(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {"Authorization": f"Bearer {KIOSK}", "Content-Type": "application/json"}
    numbers, sockets = [], set()
    for _ in range(3):
        connection.request("POST", "/api/v1/tickets", json.dumps({"service": "pay"}), headers)
        sockets.add(id(connection.sock))
        answer = connection.getresponse()
        assert answer.status == 201
        assert answer.getheader("Connection") is None  # kept open
        numbers.append(json.loads(answer.read())["ticket"]["number"])
    assert len(sockets) == 1
    assert len(set(numbers)) == 3
    connection.close()


def test_a_body_the_app_left_unread_is_not_taken_for_the_next_request(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        body = b"x" * 5000
        first = exchange(sock, b"POST /api/v1/no-such-thing HTTP/1.1\r\nHost: hall\r\n"
                         b"Content-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        assert first.startswith(b"HTTP/1.1 404")
        second = exchange(sock, b"GET /healthz HTTP/1.1\r\nHost: hall\r\n\r\n")
        assert second.startswith(b"HTTP/1.1 200")


def test_http_1_0_and_connection_close_end_the_connection_after_the_answer(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        answer = exchange(sock, b"GET /healthz HTTP/1.0\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200")
        assert closed_by_server(sock)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        answer = exchange(sock, b"GET /healthz HTTP/1.1\r\nHost: hall\r\nConnection: close\r\n\r\n")
        assert b"\r\nConnection: close\r\n" in answer
        assert closed_by_server(sock)


def test_head_sends_the_headers_only_and_the_connection_goes_on(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        head = exchange(sock, b"HEAD / HTTP/1.1\r\nHost: hall\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and head.endswith(b"\r\n\r\n")
        answer = exchange(sock, b"GET /healthz HTTP/1.1\r\nHost: hall\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200")


def test_a_chunked_body_is_read_whole_then_the_connection_is_closed(server):
    body = json.dumps({"service": "enquiry"}).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        answer = exchange(sock, b"POST /api/v1/tickets HTTP/1.1\r\nHost: hall\r\n"
                          b"Authorization: Bearer " + KIOSK.encode() + b"\r\n"
                          b"Content-Type: application/json\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n"
                          b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        assert answer.startswith(b"HTTP/1.1 201")
        assert b'"service":"enquiry"' in answer
        assert closed_by_server(sock)


@pytest.fixture
def serve_app():
    """Serve a WSGI app on loopback in this process; yields a function that starts one."""
    servers = []

    def start(app):
        server = serving.PooledWSGIServer("127.0.0.1", 0, app,
                                          handler=serving.KeepAliveRequestHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_port

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_an_idle_connection_is_closed_after_the_keep_alive_time(monkeypatch, serve_app):
    monkeypatch.setattr(serving, "KEEP_ALIVE_SECONDS", 0.3)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    with socket.create_connection(("127.0.0.1", serve_app(app)), timeout=10) as sock:
        answer = exchange(sock, b"GET / HTTP/1.1\r\nHost: hall\r\n\r\n")
        assert answer.endswith(b"\r\n\r\nok")
        assert b"Content-Length: 2" in answer
        started = time.monotonic()
        assert closed_by_server(sock)
        assert time.monotonic() - started < 3


def test_an_app_that_fails_gets_a_500_and_the_connection_is_closed(serve_app):
    def app(environ, start_response):
        raise RuntimeError("a bug")

    with socket.create_connection(("127.0.0.1", serve_app(app)), timeout=10) as sock:
        answer = exchange(sock, b"GET / HTTP/1.1\r\nHost: hall\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 500")
        assert closed_by_server(sock)


def test_header_names_in_any_case_and_folded_values_are_read(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        body = b'{"service": "pay"}'
        answer = exchange(sock, b"POST /api/v1/tickets HTTP/1.1\r\nhost: hall\r\n"
                          b"AUTHORIZATION: Bearer\r\n  " + KIOSK.encode() + b"\r\n"
                          b"content-type: application/json\r\n"
                          b"content-length: %d\r\n\r\n%s" % (len(body), body))
        assert answer.startswith(b"HTTP/1.1 201")


@pytest.mark.parametrize("request_bytes, status", [
    (b"GET /healthz HTTP/1.1\r\nHost hall\r\n\r\n", b"400"),  # no colon
    (b"GET /healthz HTTP/1.1\r\nHost : hall\r\n\r\n", b"400"),  # space before the colon
    (b"GET /healthz HTTP/1.1\r\n" + b"X-A: 1\r\n" * 120 + b"\r\n", b"431"),  # too many
    (b"GET /healthz HTTP/1.1\r\nX-A: " + b"a" * 70000 + b"\r\n\r\n", b"431"),  # too long
    (b"GET /healthz HTTP/2.0\r\n\r\n", b"505"),  # http.server's own answer
])
def test_a_malformed_request_gets_an_error_and_the_connection_is_closed(server, request_bytes,
                                                                        status):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request_bytes)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        assert b"Error code: " + status in answer
