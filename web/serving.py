"""The HTTP server: Werkzeug's, with a pool of request threads, in one process.

Flask-SocketIO's threading mode runs on Werkzeug's server or on gunicorn's threaded worker.
gunicorn keeps connections alive and costs less per request, but its master process is
~23 MB on top of the worker, and the whole server is to stay under 80 MB with a hall's
hundred devices connected. So: Werkzeug, in one process, made cheaper where it costs most:
- its threaded server starts a new thread for every request; here a finished request's
  thread waits for the next;
- it closes every connection after one answer; here a client's connection stays open for
  its next request (HTTP/1.1 keep-alive), and a plain request is read and answered without
  the email package that http.server parses headers with. WebSocket upgrades and unusual
  requests take Werkzeug's own path.

A device's WebSocket holds its thread for as long as it is connected, and a kept-alive
connection its thread for up to KEEP_ALIVE_SECONDS between requests, so the pool grows with
the clients (there is never a request left waiting for a thread) and shrinks back to
`KEEP_IDLE` when they go.
"""

from __future__ import annotations

import ctypes
import email.utils
import logging
import queue
import socket
import threading
import time
from http import HTTPStatus
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler
from werkzeug.wsgi import LimitedStream

log = logging.getLogger("hallq.serving")

KEEP_IDLE = 16  # threads kept waiting for requests; more are started when needed
KEEP_ALIVE_SECONDS = 15  # how long a client's idle connection is kept open
MAX_HEADER_LINE = 65536  # http.client's limits on request headers
MAX_HEADERS = 100


class QuietRequestHandler(WSGIRequestHandler):
    """No line per request: journald on an SD card is no place for a hall's every tap (and
    Werkzeug formats the line even when its logger would drop it). Errors are still logged."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class RequestHeaders:
    """A request's headers as Werkzeug's WSGI environ and http.server read them: `items()`,
    and `get()` by name in any case (the first of a repeated header)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs
        self._first: dict[str, str] = {}
        for name, value in pairs:
            self._first.setdefault(name.lower(), value)

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    def get(self, name: str, default: Any = None) -> Any:
        return self._first.get(name.lower(), default)


class KeepAliveRequestHandler(QuietRequestHandler):
    """Keeps a client's connection open between requests (HTTP/1.1), where Werkzeug closes
    every one: a kiosk's or a browser's next request skips the new connection, the hand-over
    to a thread and the closing. The app's answer is gathered (the hall's answers are small)
    and goes out in one write, with its length.

    A WebSocket upgrade, a chunked request body or an Expect header takes Werkzeug's own
    path, which then closes the connection as before."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(KEEP_ALIVE_SECONDS)  # an idle connection frees its thread

    def parse_request(self) -> bool:
        """The request line and headers of a plain HTTP/1.x request, read without the email
        package that http.server parses headers with (a tenth of a request's time). Anything
        unusual in the request line goes to http.server's own parsing and its error answers."""
        words = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n").split()
        if len(words) != 3 or words[2] not in ("HTTP/1.0", "HTTP/1.1"):
            return super().parse_request()
        self.requestline = " ".join(words)
        self.command, self.path, self.request_version = words
        if self.path.startswith("//"):  # as http.server does: no scheme-less absolute URL
            self.path = "/" + self.path.lstrip("/")
        headers = self._read_headers()
        if headers is None:
            return False
        self.headers = headers
        connection = headers.get("Connection", "").lower()
        self.close_connection = connection == "close" or (
            self.request_version == "HTTP/1.0" and connection != "keep-alive")
        return True

    def _read_headers(self) -> RequestHeaders | None:
        """The header lines up to the empty one, with http.client's limits; None when a
        limit was passed or a line is not a header (the error answer is sent)."""
        pairs: list[tuple[str, str]] = []
        while True:
            line = self.rfile.readline(MAX_HEADER_LINE + 1)
            if len(line) > MAX_HEADER_LINE or len(pairs) > MAX_HEADERS:
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
                return None
            if line in (b"\r\n", b"\n", b""):
                return RequestHeaders(pairs)
            text = line.decode("iso-8859-1").rstrip("\r\n")
            if text[:1] in (" ", "\t") and pairs:  # an old-style folded line continues a value
                name, value = pairs[-1]
                pairs[-1] = (name, f"{value} {text.strip()}")
                continue
            name, colon, value = text.partition(":")
            if not colon or not name or name != name.strip():
                self.send_error(HTTPStatus.BAD_REQUEST, "Bad header line")
                return None
            pairs.append((name, value.strip(" \t")))

    def run_wsgi(self) -> None:
        if self._needs_werkzeug():
            self.close_connection = True
            self.connection.settimeout(None)  # a WebSocket may be quiet for long
            return super().run_wsgi()
        self.environ = environ = self.make_environ()
        length = int(environ.get("CONTENT_LENGTH") or 0)
        environ["wsgi.input"] = body = LimitedStream(self.rfile, length)
        answer: list = []
        written: list[bytes] = []

        def start_response(status: str, headers: list, exc_info: Any = None) -> Any:
            answer[:] = [status, headers]  # a second call, after an error, replaces the first
            return written.append

        try:
            chunks = self.server.app(environ, start_response)
            try:
                written.extend(chunks)
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()
        except Exception:  # Flask answers its own errors; this is a bug below it
            log.exception("error on %s %s", self.command, self.path)
            self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR)
            return
        body.exhaust()  # what the app left unread would be taken for the next request
        self._send(*answer, b"".join(written))

    def _needs_werkzeug(self) -> bool:
        headers = self.headers
        return (headers.get("Upgrade") is not None
                or headers.get("Transfer-Encoding") is not None
                or headers.get("Expect") is not None
                or not (headers.get("Content-Length") or "0").isdigit())

    def _send(self, status: str, headers: list[tuple[str, str]], content: bytes) -> None:
        lines = [f"HTTP/1.1 {status}", f"Server: {self.server_version}",
                 f"Date: {_http_date()}"]
        if self.command == "HEAD":  # the app's headers say what a GET would have sent
            lines += [f"{key}: {value}" for key, value in headers]
        else:
            lines += [f"{key}: {value}" for key, value in headers
                      if key.lower() != "content-length"]
            lines.append(f"Content-Length: {len(content)}")
        if self.close_connection:
            lines.append("Connection: close")
        elif self.request_version == "HTTP/1.0":  # it asked to keep it: say we do
            lines.append("Connection: keep-alive")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head if self.command == "HEAD" else head + content)

    def log_error(self, format: str, *args: Any) -> None:
        if not format.startswith("Request timed out"):  # an idle kept connection, closed
            super().log_error(format, *args)


class PooledWSGIServer(BaseWSGIServer):
    """Werkzeug's WSGI server with request threads that are reused."""

    multithread = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # threads waiting for a job that no job has been promised to yet

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        with self._lock:
            waiting = self._idle > 0
            if waiting:
                self._idle -= 1  # promised: the next job is that thread's
        if waiting:
            self._jobs.put((request, client_address))
        else:
            threading.Thread(target=self._work, args=(request, client_address),
                             name="hallq-request", daemon=True).start()

    def _work(self, request: socket.socket, client_address: Any) -> None:
        while True:
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)
            with self._lock:
                if self._idle >= KEEP_IDLE:
                    return
                self._idle += 1
            request, client_address = self._jobs.get()


_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    """The Date header, formatted once a second (formatting it is a tenth of a request)."""
    global _date_cache
    second = int(time.time())
    if _date_cache[0] != second:
        _date_cache = (second, email.utils.formatdate(second, usegmt=True))
    return _date_cache[1]


def serve(app: Any, host: str, port: int) -> None:
    """Serve `app` (the Flask app with Flask-SocketIO's middleware) until the process ends."""
    server = PooledWSGIServer(host, port, app, handler=KeepAliveRequestHandler)
    server.serve_forever()


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """glibc gives threads their own malloc arenas (up to eight per core), each keeping
    memory it freed; with several threads per connected device that was ~4 MB of the
    server's memory. False where the C library is not glibc."""
    try:
        return ctypes.CDLL("libc.so.6").mallopt(-8, arenas) == 1  # M_ARENA_MAX
    except (OSError, AttributeError):
        return False
