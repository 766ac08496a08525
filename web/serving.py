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
import queue
import socket
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler

KEEP_IDLE = 16  # threads kept waiting for requests; more are started when needed


class QuietRequestHandler(WSGIRequestHandler):
    """No line per request: journald on an SD card is no place for a hall's every tap (and
    Werkzeug formats the line even when its logger would drop it). Errors are still logged."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


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


def serve(app: Any, host: str, port: int) -> None:
    """Serve `app` (the Flask app with Flask-SocketIO's middleware) until the process ends."""
    server = PooledWSGIServer(host, port, app, handler=QuietRequestHandler)
    server.serve_forever()


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """glibc gives threads their own malloc arenas (up to eight per core), each keeping
    memory it freed; with several threads per connected device that was ~4 MB of the
    server's memory. False where the C library is not glibc."""
    try:
        return ctypes.CDLL("libc.so.6").mallopt(-8, arenas) == 1  # M_ARENA_MAX
    except (OSError, AttributeError):
        return False
