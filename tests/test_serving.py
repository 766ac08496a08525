"""The HTTP server's edges, against the real server (gunicorn's gthread worker) on loopback:
slow and stalled requests are cut, connections are capped, malformed lengths are refused,
kept-alive connections go on, and SIGTERM finishes what is in flight."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time

import pytest
from support import KIOSK, ROOT, ServerProcess, wait_until

from client.live import LiveHall

READ_TIMEOUT = 2.0  # seconds for a request's headers and body, instead of the default 10


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = ServerProcess(tmp_path_factory.mktemp("serving") / "hall.db",
                           extra=["--read-timeout", str(READ_TIMEOUT)]).start()
    yield server
    server.stop()


def exchange(sock: socket.socket, request: bytes) -> bytes:
    """Send one request; read one answer (its headers and Content-Length bytes of body)."""
    sock.sendall(request)
    return read_answer(sock)


def read_answer(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def issue_request(body: bytes, *headers: bytes) -> bytes:
    return (b"POST /api/v1/tickets HTTP/1.1\r\nHost: hall\r\n"
            b"Authorization: Bearer " + KIOSK.encode() + b"\r\n"
            b"Content-Type: application/json\r\n" + b"".join(h + b"\r\n" for h in headers)
            + b"\r\n" + body)


def seq(server: ServerProcess) -> int:
    return server.get("/api/v1/state", token=KIOSK).json()["seq"]


# -- slow and stalled requests -------------------------------------------------------------------
def test_headers_trickled_a_byte_at_a_time_are_cut_after_the_read_timeout(server):
    request = b"GET /healthz HTTP/1.1\r\nHost: hall\r\nX-Slow: " + b"a" * 100 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        started = time.monotonic()
        answer = b""
        for byte in request:
            try:
                sock.sendall(bytes([byte]))
            except OSError:  # the server has shut the connection
                break
            time.sleep(0.25)
            if time.monotonic() - started > READ_TIMEOUT + 3:
                break
        sock.settimeout(5)
        answer = read_until_closed(sock)
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408")
    assert b'"code": "timeout"' in answer
    assert READ_TIMEOUT - 0.5 < elapsed < READ_TIMEOUT + 2


@pytest.mark.parametrize("headers", [
    [b"Content-Length: 40"],
    [b"Transfer-Encoding: chunked"],
    [b"Content-Length: 40", b"Expect: 100-continue"],
], ids=["content-length", "chunked", "expect-100-continue"])
def test_a_body_that_never_comes_is_cut_and_issues_nothing(server, headers):
    before = seq(server)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(issue_request(b"", *headers))
        answer = read_until_closed(sock)
        elapsed = time.monotonic() - started
    if b"Expect: 100-continue" in headers:
        assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        answer = answer.removeprefix(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 408")
    assert elapsed < READ_TIMEOUT + 2
    assert seq(server) == before


def test_stalled_and_trickling_requests_hold_no_thread(tmp_path):
    # Two threads; five clients whose headers are half sent, five whose body is not: a
    # kiosk's ticket is still answered at once (each would have held a thread until cut).
    server = ServerProcess(tmp_path / "hall.db", extra=["--threads", "2"]).start()
    stalled = []
    try:
        for i in range(10):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            request = issue_request(b"", b"Content-Length: 40")
            sock.sendall(request[:40] if i % 2 else request)
            stalled.append(sock)
        time.sleep(1)
        started = time.monotonic()
        assert server.issue("pay")["number"] == "A001"
        assert time.monotonic() - started < 1
    finally:
        for sock in stalled:
            sock.close()
        server.stop()


def test_a_slow_request_that_ends_in_time_is_served(server):
    body = json.dumps({"service": "pay"}).encode()
    request = issue_request(body, b"Content-Length: %d" % len(body))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for part in (request[:30], request[30:-5], request[-5:]):
            sock.sendall(part)
            time.sleep(READ_TIMEOUT / 4)
        assert read_answer(sock).startswith(b"HTTP/1.1 201")


def test_a_websocket_outlives_the_read_timeout(server):
    live = LiveHall(server.url, token=KIOSK)
    live.start()
    try:
        live.wait_for_state()
        sid = live.sio.sid
        time.sleep(READ_TIMEOUT + 1.5)
        assert live.command("issue", service="enquiry")["ticket"]["number"].startswith("E")
        assert live.sio.sid == sid and live._connections == 1  # the same connection throughout
    finally:
        live.stop()


# -- malformed lengths ---------------------------------------------------------------------------
@pytest.mark.parametrize("lengths", [
    [b"Content-Length: 18", b"Content-Length: 17"],
    ["Content-Length: \u00b2".encode()],
    [b"Content-Length: 18, 17"],
    [b"Content-Length: -1"],
], ids=["two-different", "superscript-two", "a-list", "negative"])
def test_a_malformed_content_length_gets_400_and_issues_nothing(server, lengths):
    before = seq(server)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(issue_request(b'{"service": "pay"}', *lengths))
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 400")
    assert b'Content-Type: application/json' in answer
    assert b'"code": "bad_request"' in answer
    assert seq(server) == before
    assert "Traceback" not in server.log.read_text(errors="replace")


@pytest.mark.parametrize("request_bytes, status", [
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: hall\r\n\r\n", b"414"),
    (b"GET /healthz HTTP/1.1\r\nHost: hall\r\nX-A: " + b"a" * 9000 + b"\r\n\r\n", b"431"),
    (b"GET /healthz HTTP/1.1\r\nHost: hall\r\n" + b"X-A: 1\r\n" * 120 + b"\r\n", b"431"),
    (b"GET /healthz HTTP/1.1\r\nHost : hall\r\n\r\n", b"400"),
], ids=["long-line", "long-header", "many-headers", "space-before-colon"])
def test_the_servers_own_refusals_are_json_too(server, request_bytes, status):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request_bytes)
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 " + status)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"Content-Type: application/json" in head
    assert json.loads(body)["error"]["code"] in ("bad_request", "too_large")


# -- connections ---------------------------------------------------------------------------------
def test_a_kiosk_issues_ticket_after_ticket_on_one_kept_alive_connection(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {"Authorization": f"Bearer {KIOSK}", "Content-Type": "application/json"}
    numbers, sockets = [], set()
    for _ in range(3):
        connection.request("POST", "/api/v1/tickets", json.dumps({"service": "pay"}), headers)
        sockets.add(id(connection.sock))
        answer = connection.getresponse()
        assert answer.status == 201
        assert answer.getheader("Connection") != "close"
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


def test_clients_that_keep_their_end_open_after_close_do_not_hold_up_others(server):
    # gunicorn's own graceful close waits up to 2 s for each such client on the worker's one
    # main thread: ten of them held every other client up for 20 s.
    held = []
    try:
        for _ in range(10):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            answer = exchange(sock, b"GET /healthz HTTP/1.1\r\nHost: hall\r\n"
                              b"Connection: close\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 200")
            held.append(sock)  # read, and never closed
        started = time.monotonic()
        assert server.get("/healthz").status_code == 200
        assert time.monotonic() - started < 1
    finally:
        for sock in held:
            sock.close()


def test_connections_beyond_the_cap_wait_to_be_accepted(tmp_path):
    # 2 threads, 4 connections: four silent connections fill the server; a fifth is queued by
    # the kernel, unanswered, until they go. (Each silent one holds a thread for up to 5 s,
    # gthread's wait for a first byte, before it is parked without one.)
    server = ServerProcess(tmp_path / "hall.db",
                           extra=["--threads", "2", "--max-connections", "4"]).start()
    silent = []
    try:
        time.sleep(1)  # the start-up's /healthz connection is closed
        silent = [socket.create_connection(("127.0.0.1", server.port), timeout=10)
                  for _ in range(4)]
        time.sleep(0.5)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as fifth:
            fifth.sendall(b"GET /healthz HTTP/1.1\r\nHost: hall\r\n\r\n")
            fifth.settimeout(1.5)
            with pytest.raises(TimeoutError):
                fifth.recv(1)
            started = time.monotonic()
            while silent:
                silent.pop().close()
            fifth.settimeout(10)
            assert read_answer(fifth).startswith(b"HTTP/1.1 200")
            assert time.monotonic() - started < 2
    finally:
        for sock in silent:
            sock.close()
        server.stop()


def test_one_address_gets_at_most_its_share_of_connections(tmp_path):
    server = ServerProcess(tmp_path / "hall.db", extra=["--max-per-address", "3"]).start()
    try:
        time.sleep(0.5)  # the start-up's /healthz connection is closed
        held = [socket.create_connection(("127.0.0.1", server.port), timeout=10)
                for _ in range(3)]
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as fourth:
            answer = read_until_closed(fourth)
        assert answer.startswith(b"HTTP/1.1 503") and b'"code": "busy"' in answer
        other = socket.socket()  # another machine on the LAN is served as before
        other.bind(("127.0.0.2", 0))
        other.connect(("127.0.0.1", server.port))
        with other:
            answer = exchange(other, b"GET /healthz HTTP/1.1\r\nHost: hall\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200")
        held.pop().close()
        time.sleep(0.3)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as again:
            answer = exchange(again, b"GET /healthz HTTP/1.1\r\nHost: hall\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200")
        for sock in held:
            sock.close()
    finally:
        server.stop()


def test_websockets_leave_threads_for_plain_requests(tmp_path):
    # 18 threads, 16 kept for plain requests: two WebSockets at most
    server = ServerProcess(tmp_path / "hall.db", extra=["--threads", "18"]).start()
    devices = [LiveHall(server.url, token=KIOSK) for _ in range(2)]
    try:
        for device in devices:
            device.start()
            device.wait_for_state()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as third:
            answer = exchange(third, b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                              b"Host: hall\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              b"Sec-WebSocket-Version: 13\r\n"
                              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 503") and b'"code": "busy"' in answer
        assert server.issue("pay")["number"] == "A001"
    finally:
        for device in devices:
            device.stop()
        server.stop()


# -- starting -----------------------------------------------------------------------------------
def test_the_banner_comes_once_the_port_is_bound_and_says_how_to_go_on(server):
    banner = server.log.read_text()
    assert "HallQ: " in banner and "token demo-kiosk-1-token" in banner
    assert f"-m kiosk --server {server.url} --token demo-kiosk-1-token" in banner
    assert f"-m display --server {server.url} --token demo-display-1-token" in banner
    assert "Ctrl+C" in banner


def test_a_busy_port_prints_only_the_error_and_exits_non_zero(server, tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "server.py"), "--db", str(tmp_path / "x.db"),
                          "--port", str(server.port)], capture_output=True, text=True,
                         timeout=30, cwd=ROOT)
    assert run.returncode != 0
    assert f"port {server.port} on 127.0.0.1 is in use" in run.stderr
    assert "HallQ: " not in run.stdout + run.stderr
    assert not (tmp_path / "x.db").exists()  # nothing started


# -- a graceful stop -----------------------------------------------------------------------------
def test_sigterm_answers_and_keeps_the_command_in_flight_then_exits_quickly(tmp_path):
    server = ServerProcess(tmp_path / "hall.db").start()
    display = LiveHall(server.url, token="demo-display-1-token")
    display.start()
    display.wait_for_state()
    body = json.dumps({"service": "account"}).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        request = issue_request(body, b"Content-Length: %d" % len(body))
        sock.sendall(request[:-8])  # the command is on its way when the stop comes
        time.sleep(0.3)
        stopped = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        sock.sendall(request[-8:])
        answer = read_answer(sock)
        assert read_until_closed(sock) == b""  # and then the connection is closed
    assert answer.startswith(b"HTTP/1.1 201")
    ticket = json.loads(answer.partition(b"\r\n\r\n")[2])["ticket"]
    server.proc.wait(10)
    assert time.monotonic() - stopped < 5
    assert server.proc.returncode == 0
    wait_until(lambda: not display.connected)

    again = ServerProcess(server.db, port=server.port).start()
    try:
        kept = again.get(f"/api/v1/tickets/{ticket['public_id']}").json()["ticket"]
        assert (kept["number"], kept["status"]) == (ticket["number"], "waiting")
        # the display reconnects by itself
        wait_until(lambda: display.connected and display._connections == 2, timeout=10)
    finally:
        display.stop()
        again.stop()
