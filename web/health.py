"""The server's upkeep: `GET /healthz`, device heartbeats, the systemd watchdog, nightly backups.

`GET /healthz` answers 200 when the server can serve: the database takes a real write (this
process's presence beat), and says how long the process has run, which devices are online, and
which server processes share the database. 503 when the database cannot be written. Only a
supervisor's token or a request from the server's own machine sees those details; anyone else
gets `{"ok": true|false}`.

Devices send the `heartbeat` command (over Socket.IO, as `client.live.LiveHall` does every
`HEARTBEAT_SECONDS` while connected, or `POST /api/v1/devices/heartbeat`); it updates the
device's `last_seen`. A device is `online` while it holds a Socket.IO connection.
"""

from __future__ import annotations

import argparse
import ipaddress
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from flask_socketio import SocketIO

from hall.auth import Actor
from hall.backup import NightlyBackup
from hall.hall import Hall
from web import app as web_app
from web import watchdog
from web.commands import EXTRA_COMMANDS, run_command


def register(app: Flask, socketio: SocketIO, hall: Hall) -> None:
    EXTRA_COMMANDS["heartbeat"] = heartbeat
    started = time.time()

    @app.get("/healthz")
    def healthz() -> Response:
        body = health(hall, started)
        body["message_queue"] = _message_queue(socketio)
        upkeep = app.extensions.get("hallq_upkeep", {})
        if "backup" in upkeep:
            body["backup"] = upkeep["backup"].status()
        if "hallq_shipper" in app.extensions:  # shipping to the region: not the hall's health
            body["region"] = app.extensions["hallq_shipper"].state()
        status = 200 if body["ok"] else 503
        if not _may_see_details(hall):
            body = {"ok": body["ok"]}
        return web_app._reply(status, body)

    @app.post("/api/v1/devices/heartbeat")
    def heartbeat_route() -> Response:
        return web_app._reply(*run_command(hall, web_app._actor(hall), "heartbeat", {}))


def _may_see_details(hall: Hall) -> bool:
    """The database path, host name and device list are for the people running the hall: a
    supervisor's token, or the server's own machine (systemd's watchdog, an operator's curl)."""
    try:
        if ipaddress.ip_address(request.remote_addr or "").is_loopback:
            return True
    except ValueError:
        pass
    _, actor = web_app._bearer(hall)
    return actor is not None and actor.is_manager


def heartbeat(hall: Hall, actor: Actor, body: dict) -> dict:
    """A device says it is alive: its `last_seen` becomes now (others are just answered)."""
    now = hall.clock()
    if actor.device_id is not None:
        hall.presence.seen(actor.device_id, now)
    return {"device": actor.device_id,
            "now": datetime.fromtimestamp(now, hall.config.tz).isoformat(timespec="seconds")}


def health(hall: Hall, started: float) -> dict:
    """The figures of `/healthz`; `ok` is False when the database cannot be written."""
    db: dict[str, Any] = {"path": str(Path(hall.store.path).resolve()), "writable": True}
    try:
        hall.presence.beat(force=True)  # a real write transaction, committed
        db["size_bytes"] = Path(hall.store.path).stat().st_size
    except (sqlite3.Error, OSError) as error:
        db.update(writable=False, error=f"{type(error).__name__}: {error}")
    body: dict[str, Any] = {"ok": db["writable"], "uptime_s": round(time.time() - started, 1),
                            "db": db}
    try:
        state = hall.state()
        devices = state["devices"]
        body["seq"] = state["seq"]
        body["devices"] = {
            "total": len(devices),
            "online": sum(d["online"] for d in devices),
            "offline": [d["id"] for d in devices if not d["online"]],
            "list": [{k: d[k] for k in ("id", "role", "window", "online", "last_seen")}
                     for d in devices],
        }
        body["servers"] = [{**row, "started_at": _iso(hall, row["started_at"]),
                            "last_beat": _iso(hall, row["last_beat"])}
                           for row in hall.presence.instances()]
    except sqlite3.Error as error:
        body.update(ok=False, error=f"{type(error).__name__}: {error}")
    return body


def _iso(hall: Hall, epoch: float) -> str:
    return datetime.fromtimestamp(epoch, hall.config.tz).isoformat(timespec="seconds")


def _message_queue(socketio: SocketIO) -> str | None:
    manager = getattr(socketio.server, "manager", None)
    name = type(manager).__name__ if manager else ""
    return None if name in ("", "Manager") else name.removesuffix("Manager").lower()


# -- started by server.py ------------------------------------------------------------------------
def start_upkeep(app: Flask, hall: Hall, args: argparse.Namespace,
                 systemd: dict[str, str] | None = None) -> None:
    """The nightly backup thread, and the systemd watchdog when run by systemd (`systemd`:
    its notify variables, default this process's environment)."""
    upkeep = app.extensions.setdefault("hallq_upkeep", {})
    if args.backup_at != "off" and hall.store.path != ":memory:":
        directory = args.backup_dir or Path(hall.store.path).resolve().parent / "backups"
        nightly = NightlyBackup(hall.store.path, directory, keep=args.backup_keep,
                                at=args.backup_at, tz=hall.config.tz)
        nightly.start()
        upkeep["backup"] = nightly
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    host = f"[{host}]" if ":" in host else host
    watchdog.start(watchdog.http_check(f"http://{host}:{args.port}/healthz"), systemd)
