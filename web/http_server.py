"""The HTTP server: gunicorn's threaded worker (gthread), one worker process, simple-websocket:
the production setup Flask-SocketIO documents for its threading mode.

`python server.py` runs gunicorn through its custom-application API: the master process binds
the port and watches the worker; the worker holds the Hall, the ticker and the upkeep threads
(threads do not survive a fork, so everything is built in the worker, never in the master).

What gunicorn's settings give us (see `options`):
- `threads`: one thread per request being handled, and one per WebSocket for as long as it is
  open. Beyond that, accepted connections wait in the worker's queue for a free thread.
- `worker_connections`: the cap on open connections (WebSockets, requests, kept-alive ones);
  at the cap the worker stops accepting and new connections wait in the kernel's backlog.
- a new connection that sends nothing is parked without a thread and closed after `keepalive`.
- `limit_request_*`: bounded request line and headers; gunicorn answers 400 to duplicate or
  malformed Content-Length, obs-folded headers and bare-LF lines.

What they do not give, and `HallWorker` (a small gthread subclass) adds:
- a time limit on reading a request. Once a request's first byte has arrived, gthread reads
  its headers and body in a thread, with a blocking socket and no time limit (gunicorn 27's
  `timeout` is the master's check of the worker's heartbeat, which request threads do not
  touch): a client trickling a header byte every few seconds, or announcing a body it never
  sends, would hold a thread for ever. Here the headers, and a small body of known length,
  are gathered as they come without holding a thread (the connection waits on gthread's
  poller), and a request must be read whole within `read_seconds` of its first byte, or it
  gets 408 and its connection is shut.
- closing without stalling: gthread's graceful close waits on the worker's one main thread,
  up to 2 s, for a client to close its end; here the upkeep thread does that waiting.
- a cap on connections from one address (`per_address`): one laptop cannot take every
  connection, or every thread, of the hall's server.
- threads WebSockets may not take (`http_threads`): a WebSocket holds its thread for as long
  as it is open, so beyond `threads - http_threads` of them a new one gets 503 (the client
  retries), and plain requests (a kiosk's ticket) keep threads of their own.
- a new connection holds a thread only `FIRST_BYTE_WAIT` for its first byte (gthread: 5 s)
  before it is parked without one.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import itertools
import json
import logging
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from gunicorn import glogging, util
from gunicorn.app.base import BaseApplication
from gunicorn.http.errors import ParseException
from gunicorn.workers.gthread import _DEFER, TConn, ThreadWorker
from werkzeug.exceptions import ClientDisconnected

from hall import logs

log = logging.getLogger("hallq.server")

READ_SECONDS = 10.0  # headers and body of one request, from its first byte
FIRST_BYTE_WAIT = 0.5  # a new connection holds a thread this long for its first byte (gthread: 5)
HTTP_THREADS = 16  # threads WebSockets may not take: plain requests always find one
PER_ADDRESS = 32  # open connections from one client address
HEAD_LIMIT = 64 * 1024  # bytes of headers read ahead; gunicorn's own limits come after
BODY_AHEAD = 64 * 1024  # a body up to this long is gathered with its headers
ERROR_CODES = {"400": "bad_request", "403": "forbidden", "414": "too_large",
               "431": "too_large", "500": "error"}  # gunicorn's answers, in our codes
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]{1,9})[ \t]*\r\n")
LINGER_SECONDS = 2.0  # a closed connection is drained this long for the client's last bytes
STOP_SECONDS = 4  # SIGTERM: requests in flight get this long, then the worker is killed
KEEPALIVE_SECONDS = 15  # an idle kept-alive connection waits this long, without a thread



def _error_answer(status: str, code: str, message: str) -> bytes:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return (f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


TIMEOUT_ANSWER = _error_answer("408 Request Timeout", "timeout",
                               "the request was not sent in time")
TOO_MANY_ANSWER = _error_answer("503 Service Unavailable", "busy",
                                "too many connections from this address")
BUSY_BODY = json.dumps({"error": {"code": "busy", "message": "too many live connections; "
                                  "try again shortly"}}).encode()


@dataclass(frozen=True)
class Limits:
    """HallWorker's own limits, beside gunicorn's settings."""

    read_seconds: float = READ_SECONDS
    per_address: int = PER_ADDRESS  # 0: no limit (e.g. behind a reverse proxy)
    http_threads: int = HTTP_THREADS


class HallServer(BaseApplication):
    """gunicorn, configured from `options` in code (no config file, no command line of its
    own); `build()` makes the WSGI app in the worker process."""

    def __init__(self, options: dict[str, Any], build: Callable[[], Any],
                 limits: Limits | None = None) -> None:
        self.options = options
        self.build = build
        self.limits = limits or Limits()
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.build()


def options(host: str, port: int, threads: int, connections: int,
            when_ready: Callable[[Any], None]) -> dict[str, Any]:
    """gunicorn's settings for the hall's server."""
    return {
        "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
        "workers": 1,  # the Hall and its Socket.IO rooms live in one process
        "worker_class": HallWorker,
        "threads": threads,
        "worker_connections": connections,
        "keepalive": KEEPALIVE_SECONDS,
        "graceful_timeout": STOP_SECONDS,
        "timeout": 30,  # the master restarts a worker whose main loop hangs this long
        "limit_request_line": 8190,  # gunicorn's most; a path too long for a hall gets 404
        "limit_request_fields": 100,
        "limit_request_field_size": 8190,
        "control_socket_disable": True,  # no gunicornc socket in $HOME or /run
        "proc_name": "hallq-server",
        "loglevel": "warning",  # no line per request in journald; errors still show
        "logger_class": HallLogger,
        "when_ready": when_ready,
    }


class HallLogger(glogging.Logger):
    """gunicorn's own lines as every HallQ line (hall/logs.py): under systemd with their
    priority and without a second time stamp, on a terminal with the clock's UTC offset."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in [*self.error_log.handlers, *self.access_log.handlers]:
            handler.setFormatter(logs.formatter_for(sys.stderr))


class HallWorker(ThreadWorker):
    """gthread with limits of its own (`Limits`): the time to read a request, connections
    from one address, threads kept from WebSockets for plain requests. WebSockets are shut on
    SIGTERM, and the worker does not outlive its master."""

    def init_process(self) -> None:
        _die_with_parent()
        self.limits: Limits = getattr(self.app, "limits", Limits())
        self.max_websockets = max(1, self.cfg.threads - self.limits.http_threads)
        # requests being read, by thread (or by connection while waiting on the poller)
        self._reading: dict[tuple[str, int], tuple[float, socket.socket]] = {}
        self._lock = threading.Lock()
        self._websockets: set[socket.socket] = set()
        self._by_address: dict[str, list[socket.socket]] = {}
        self._close_after = threading.local()  # .now: close the connection after this answer
        self._lingering: list[tuple[float, socket.socket]] = []
        threading.Thread(target=self._cut_slow_requests, name="hallq-read-limit",
                         daemon=True).start()
        super().init_process()

    def accept(self, listener: socket.socket) -> None:
        """gthread's accept, refusing an address that has `per_address` connections open."""
        try:
            client, address = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        if not self._admit(client, address):
            _refuse(client, TOO_MANY_ANSWER)
            return
        self.nr_conns += 1
        client.setblocking(True)
        conn = _Connection(self.cfg, client, address, listener.getsockname())
        conn.linger = partial(self._linger, address=address)
        self.enqueue_req(conn)

    def _admit(self, client: socket.socket, address: Any) -> bool:
        if not self.limits.per_address or not isinstance(address, tuple):
            return True
        with self._lock:
            mine = [s for s in self._by_address.get(address[0], []) if s.fileno() != -1]
            if len(mine) >= self.limits.per_address:
                return False
            self._by_address[address[0]] = [*mine, client]
        return True

    def handle(self, conn: Any) -> Any:
        # A new connection waits FIRST_BYTE_WAIT in a thread for its first byte, then is
        # parked without one (gthread waits 5 s: a burst of silent connections would hold every
        # thread). The read time starts once the bytes come.
        if not conn.initialized and not conn.data_ready:
            if not conn.wait_for_data(FIRST_BYTE_WAIT):
                return _DEFER
            conn.data_ready = True
        started = self._take_head(conn)
        if started is None:  # not all here: wait for more on the poller, without a thread
            deadline = conn.head_started + self.limits.read_seconds
            if time.monotonic() > deadline:
                _refuse(conn.sock, TIMEOUT_ANSWER)
                return False
            with self._lock:  # cut there if nothing more comes
                self._reading[("conn", id(conn))] = (deadline, conn.sock)
            return _DEFER
        with self._lock:
            self._reading.pop(("conn", id(conn)), None)
            self._reading[("thread", threading.get_ident())] = (
                started + self.limits.read_seconds, conn.sock)
        try:
            return super().handle(conn)
        finally:
            self._done_reading()

    def _take_head(self, conn: Any) -> float | None:
        """Read what has come of the request's headers, and of a small body of known length,
        without waiting for more; when they are all here (or the client has closed), hand
        them to gunicorn's parser and return when their first byte came. gthread reads them
        in a thread, blocking: clients trickling theirs from many addresses would hold every
        thread."""
        conn.init()  # gunicorn's parser for the connection (once)
        unreader = conn.parser.unreader
        data = unreader.take_buffered()
        if conn.head_started is None:
            conn.head_started = time.monotonic()
        ended = False
        conn.sock.setblocking(False)
        try:
            while (wanted := _bytes_wanted(data)) and len(data) < wanted:
                chunk = conn.sock.recv(65536)
                if not chunk:
                    ended = True
                    break
                data += chunk
        except BlockingIOError:
            pass
        except OSError:
            ended = True
        finally:
            conn.sock.setblocking(True)
        unreader.unread(data)
        if not ended and (wanted := _bytes_wanted(data)) and len(data) < wanted:
            return None
        started, conn.head_started = conn.head_started, None
        return started

    def load_wsgi(self) -> None:
        super().load_wsgi()
        app = self.wsgi

        def read_limited(environ: dict, start_response: Callable) -> Any:
            length = environ.get("CONTENT_LENGTH") or "0"
            if length == "0" and "HTTP_TRANSFER_ENCODING" not in environ:
                self._done_reading()  # no body: a WebSocket may now be quiet for long
            else:
                environ["wsgi.input"] = _BodyRead(environ["wsgi.input"], int(length),
                                                  self._done_reading)

            def start(status: str, headers: list, exc_info: Any = None) -> Any:
                self._done_reading()  # answering: whatever it read, it read in time
                return start_response(status, headers, exc_info)

            if environ.get("HTTP_UPGRADE", "").lower() != "websocket":
                return app(environ, start)
            sock = environ["gunicorn.socket"]
            with self._lock:
                full = len(self._websockets) >= self.max_websockets
                if not full:
                    self._websockets.add(sock)
            if full:  # the client retries later; plain requests keep their threads
                self._close_after.now = True  # what it sent after the upgrade is no request
                start_response("503 Service Unavailable", [
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(BUSY_BODY))), ("Retry-After", "5")])
                return [BUSY_BODY]
            try:  # simple-websocket serves the whole WebSocket inside this call
                return app(environ, start)
            finally:
                with self._lock:
                    self._websockets.discard(sock)

        self.wsgi = read_limited

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """gunicorn's answer to a request it could not parse (400, 414, 431, ...), in the
        hall's JSON error format instead of its HTML page."""
        page = _Captured()
        super().handle_error(req, page, addr, exc)
        status, _, reason = page.status_line().partition(" ")
        code = ERROR_CODES.get(status, "bad_request" if status.startswith("4") else "error")
        body = json.dumps({"error": {"code": code, "message": reason}}).encode()
        answer = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        with contextlib.suppress(OSError):
            util.write_nonblock(client, answer.encode("latin-1") + body)

    def _keepalive_after(self, conn: Any, keepalive: bool) -> bool:
        if getattr(self._close_after, "now", False):
            self._close_after.now = False
            return False
        return super()._keepalive_after(conn, keepalive)

    def _done_reading(self) -> None:
        with self._lock:
            self._reading.pop(("thread", threading.get_ident()), None)

    def _cut_slow_requests(self) -> None:
        """Every 0.2 s: cut the requests past their read time; now and then, forget the
        addresses whose connections have all closed."""
        for turn in itertools.count():
            time.sleep(0.2)
            now = time.monotonic()
            with self._lock:
                late = [(key, sock) for key, (deadline, sock) in self._reading.items()
                        if deadline < now]
                for key, _ in late:
                    del self._reading[key]
                if turn % 25 == 0:
                    self._by_address = {
                        address: open_ for address, socks in self._by_address.items()
                        if (open_ := [s for s in socks if s.fileno() != -1])}
            for _, sock in late:
                _refuse(sock, TIMEOUT_ANSWER)
                log.info("a request not read whole in time was cut")
            self._close_lingering(now)

    def _linger(self, sock: socket.socket, address: Any = None) -> None:
        """Close `sock` the way gunicorn's close_graceful does (our answer is sent: FIN, then
        read what the client still sends, so that no RST cuts the answer short), but without
        waiting: gthread does that wait, up to 2 s, on the worker's main thread, where a
        client that keeps its end open stops the worker from serving anyone else."""
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
        except OSError:
            sock.close()
            return
        with self._lock:
            self._lingering.append((time.monotonic() + LINGER_SECONDS, sock))
            if isinstance(address, tuple) and address[0] in self._by_address:
                # done with: no longer one of the address's open connections
                self._by_address[address[0]] = [
                    s for s in self._by_address[address[0]] if s is not sock]

    def _close_lingering(self, now: float) -> None:
        with self._lock:
            lingering, self._lingering = self._lingering, []
        still = []
        for deadline, sock in lingering:
            if deadline > now and _drain(sock):
                still.append((deadline, sock))
            else:
                sock.close()
        with self._lock:
            self._lingering += still

    def handle_exit(self, sig: int, frame: Any) -> None:
        """SIGTERM: gthread stops accepting and lets requests in flight finish. A WebSocket
        holds its thread for as long as it is open, so they are shut here, or the worker would
        wait for them until it is killed. A dropped connection is what devices reconnect after
        by themselves (a Socket.IO "server disconnect" would tell them not to)."""
        super().handle_exit(sig, frame)
        with self._lock:
            websockets = list(self._websockets)
        for sock in websockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Captured:
    """Takes what gunicorn would send as its error page, for `HallWorker.handle_error`."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0

    def sendall(self, data: bytes) -> None:
        self.data += data

    def status_line(self) -> str:
        """"414 URI Too Long" from "HTTP/1.1 414 URI Too Long\r\n..." """
        first = self.data.split(b"\r\n", 1)[0].decode("latin-1")
        return first.partition(" ")[2] or "500 Internal Server Error"


def _bytes_wanted(data: bytes) -> int:
    """How many bytes of `data` to gather before a thread takes the request: up to the end
    of its headers, and of its body when that has one Content-Length of at most BODY_AHEAD
    and no Expect (the client waits for "100 Continue" before sending the body). 0: enough
    here, gunicorn's parser reads the rest and judges the request."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return HEAD_LIMIT
    head = data[:end + 2].lower()
    lengths = CONTENT_LENGTH.findall(head)
    if len(lengths) != 1 or b"\r\nexpect:" in head or b"\r\ntransfer-encoding:" in head:
        return 0
    length = int(lengths[0])
    return end + 4 + length if length <= BODY_AHEAD else 0


class _Connection(TConn):
    """gthread's connection, closed gracefully without waiting (see `HallWorker._linger`)."""

    linger: Callable[[socket.socket], None]
    head_started: float | None = None  # when the first byte of the request being read came

    def close(self, graceful: bool = False) -> None:
        if graceful:
            self.linger(self.sock)
        else:
            super().close()


def _drain(sock: socket.socket) -> bool:
    """Read what a closing client still sends; False once it has closed its end."""
    try:
        for _ in range(16):
            if not sock.recv(4096):
                return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    return True


class _BodyRead:
    """A request body that says when it has been read to its end. A body that cannot be read
    (cut short, cut for time, malformed chunks) is the client's fault: Flask answers 400
    (ClientDisconnected is Werkzeug's BadRequest), not 500 with a traceback."""

    def __init__(self, body: Any, length: int, done: Callable[[], None]) -> None:
        self._body, self._left, self._done = body, length, done

    def _seen(self, data: bytes, size: int | None) -> bytes:
        self._left -= len(data)
        if self._left <= 0 or (not data and size != 0):
            self._done()
        return data

    def read(self, size: int | None = None) -> bytes:
        with _bad_body():
            return self._seen(self._body.read(size), size)

    def readline(self, size: int | None = None) -> bytes:
        with _bad_body():
            return self._seen(self._body.readline(size), size)

    def readlines(self, hint: int | None = None) -> list[bytes]:
        with _bad_body():
            lines = self._body.readlines(hint)
        self._seen(b"".join(lines), None)
        return lines

    def __iter__(self) -> Any:
        return iter(self.readline, b"")


@contextlib.contextmanager
def _bad_body() -> Iterator[None]:
    try:
        yield
    except (OSError, ParseException) as error:
        raise ClientDisconnected(f"the request body could not be read: {error}") from None


def _refuse(sock: socket.socket, answer: bytes) -> None:
    """Send `answer` if it fits the socket's buffer, and shut the connection: a thread
    reading it wakes up to an ended stream."""
    with contextlib.suppress(OSError):
        sock.send(answer, socket.MSG_DONTWAIT)
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _die_with_parent() -> None:
    """If the master is killed outright (kill -9, the OOM killer), the worker goes too,
    instead of serving on alone until its next look at its parent."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """glibc gives threads their own malloc arenas (up to eight per core), each keeping
    memory it freed. With 100 devices connected that makes no difference beyond noise; under
    200 parallel logins (16 MiB of scrypt each, bench/bench_hostile.py, no bound on parallel
    key derivations) it does: 660-722 MB PSS at the peak and 468-532 MB 2 s after with two
    arenas, 861-1167 and 746-826 MB without. False where the C library is not glibc."""
    try:
        return ctypes.CDLL("libc.so.6").mallopt(-8, arenas) == 1  # M_ARENA_MAX
    except (OSError, AttributeError):
        return False
