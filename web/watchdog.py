"""systemd's notify protocol, spoken directly: READY=1 when serving, WATCHDOG=1 while healthy.

The protocol is one datagram per message on the unix socket named by `$NOTIFY_SOCKET` (a path,
or an abstract socket when it starts with `@`); `$WATCHDOG_USEC` says how often systemd expects
to hear from us. Outside systemd the variables are unset and all of this does nothing.

The watchdog pets only after a real `GET /healthz` through the server's own HTTP port answers
200 (which includes a write to the database): a server whose request threads hang, or whose
database cannot be written, stops petting and systemd restarts it (`WatchdogSec=`).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import urllib.request
from collections.abc import Callable

log = logging.getLogger("hallq.watchdog")


def sd_notify(message: str, environ: dict | None = None) -> bool:
    """Send one notify message (e.g. "READY=1"); False when not run by systemd."""
    address = (environ if environ is not None else os.environ).get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.connect(address)
            sock.sendall(message.encode())
        except OSError as error:
            log.warning("sd_notify %r failed: %s", message, error)
            return False
    return True


def watchdog_interval(environ: dict | None = None) -> float | None:
    """Seconds between pets (half of WatchdogSec=), or None when no watchdog is asked for."""
    environ = environ if environ is not None else os.environ
    usec = environ.get("WATCHDOG_USEC")
    pid = environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return max(0.5, int(usec) / 2e6)
    except ValueError:
        return None


def http_check(url: str, timeout: float = 5.0) -> Callable[[], str | None]:
    """A check that GETs `url` (the server's /healthz): None if healthy, else what went wrong."""

    def check() -> str | None:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as reply:
                body = json.loads(reply.read() or b"{}")
        except Exception as error:  # refused, timed out, 503 ...: all mean "not healthy"
            return f"{type(error).__name__}: {error}"
        return None if body.get("ok") else f"unhealthy: {body}"

    return check


def start(check: Callable[[], str | None], environ: dict | None = None,
          stop: threading.Event | None = None, ready_poll: float = 0.2) -> threading.Thread | None:
    """Send READY=1 once `check` first passes, then WATCHDOG=1 after each passing check.

    Returns the thread, or None when not run by systemd."""
    environ = dict(environ if environ is not None else os.environ)
    if not environ.get("NOTIFY_SOCKET"):
        return None
    stop = stop or threading.Event()
    interval = watchdog_interval(environ)

    def loop() -> None:
        while not stop.is_set() and check() is not None:  # until the HTTP port answers
            stop.wait(ready_poll)
        sd_notify("READY=1\nSTATUS=serving", environ)
        log.info("told systemd we are ready%s",
                 f"; watchdog every {interval:.1f} s" if interval else "")
        while interval and not stop.wait(interval):
            problem = check()
            if problem is None:
                sd_notify("WATCHDOG=1", environ)
            else:  # no pet: systemd restarts us once WatchdogSec= passes without one
                log.error("health check failed, not petting the watchdog: %s", problem)
                sd_notify(f"STATUS=unhealthy: {problem[:200]}", environ)

    thread = threading.Thread(target=loop, name="hallq-watchdog", daemon=True)
    thread.start()
    return thread
