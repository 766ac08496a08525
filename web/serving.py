"""The HTTP server: Werkzeug's, with a pool of request threads, in one process.

Flask-SocketIO's threading mode runs on Werkzeug's server or on gunicorn's threaded worker.
gunicorn keeps connections alive and costs less per request, but its master process is
~23 MB on top of the worker, and the whole server is to stay under 80 MB with a hall's
hundred devices connected. So: Werkzeug, in one process, made cheaper where it costs most:
its threaded server starts a new thread for every request (and every request is a new
connection: Werkzeug closes each one). Here a finished request's thread waits for the next.

A device's WebSocket holds its thread for as long as it is connected, so the pool grows with
the devices (there is never a request left waiting for a thread) and shrinks back to
`KEEP_IDLE` when they go.
"""

from __future__ import annotations

import ctypes
import email.utils
import queue
import socket
import threading
import time
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler
from werkzeug.wsgi import LimitedStream

KEEP_IDLE = 16  # threads kept waiting for requests; more are started when needed
KEEP_ALIVE_SECONDS = 15  # how long a client's idle connection is kept open


class QuietRequestHandler(WSGIRequestHandler):
    """No line per request: journald on an SD card is no place for a hall's every tap (and
    Werkzeug formats the line even when its logger would drop it). Errors are still logged."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class KeepAliveRequestHandler(QuietRequestHandler):
    """Keeps a client's connection open between requests (HTTP/1.1), where Werkzeug closes
    every one: a kiosk's or a browser's next request skips the new connection, the hand-over
    to a thread and the closing. The app's answer goes out in one write.

    A WebSocket upgrade, a chunked request body or an answer of unknown length takes
    Werkzeug's own path, which then closes the connection as before."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(KEEP_ALIVE_SECONDS)  # an idle connection frees its thread

    def run_wsgi(self) -> None:
        if self._needs_werkzeug():
            self.close_connection = True
            self.connection.settimeout(None)  # a WebSocket may be quiet for long
            return super().run_wsgi()
        self.environ = environ = self.make_environ()
        length = int(environ.get("CONTENT_LENGTH") or 0)
        environ["wsgi.input"] = body = LimitedStream(self.rfile, length)
        answer: list = []
        chunks = self.server.app(environ, lambda status, headers, exc_info=None:
                                 answer.extend((status, headers)) or self.wfile.write)
        try:
            content = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        body.exhaust()  # what the app left unread would be taken for the next request
        self._send(*answer, content)

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
