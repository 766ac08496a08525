"""What the region's pages see live: one Socket.IO room per hall, and one for the overview.

`publish` is the one place an update leaves for the browsers: ingest calls it after each
commit. A connection joins the rooms of the halls it may see (`Region.live_access`), all of
them or those it names in its `auth` ({"halls": ["east", ...]}).

Until region users exist, `live_access` lets in connections from the server's own machine only
(an operator's tool, the benchmark); the users' sessions replace it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask, request
from flask_socketio import ConnectionRefusedError, SocketIO, join_room

if TYPE_CHECKING:
    from region.app import Region

ALL_HALLS = "halls"  # the room of the overview: every hall's updates

# Who may watch which halls: auth payload -> the hall ids, or None for every hall; raises
# ConnectionRefusedError to refuse.
Access = Callable[[Any], Iterable[str] | None]


def hall_room(hall_id: str) -> str:
    return f"hall:{hall_id}"


def publish(socketio: SocketIO, hall_id: str, payload: dict[str, Any]) -> None:
    """Send a compact "hall" update (hall id, status, link health) to the hall's own room
    and to the overview's."""
    message = {"hall_id": hall_id, **payload}
    socketio.emit("hall", message, to=[hall_room(hall_id), ALL_HALLS])


def loopback_only(auth: Any) -> Iterable[str] | None:
    """Every hall, for a connection from this machine; anyone else is refused."""
    try:
        if ipaddress.ip_address(request.remote_addr or "").is_loopback:
            return None
    except ValueError:
        pass
    raise ConnectionRefusedError("not allowed to watch the halls")


def register(app: Flask, socketio: SocketIO, region: Region) -> None:
    region.live_access = region.live_access or loopback_only

    @socketio.on("connect")
    def connect(auth: Any = None) -> None:
        allowed = region.live_access(auth)
        wanted = auth.get("halls") if isinstance(auth, dict) else None
        if wanted is not None and not (isinstance(wanted, list)
                                       and all(isinstance(h, str) for h in wanted)):
            raise ConnectionRefusedError("auth.halls: a list of hall ids")
        if allowed is None and wanted is None:
            join_room(ALL_HALLS)
            return
        halls = set(wanted) if wanted is not None else set()
        if allowed is not None:
            halls = halls & set(allowed) if wanted is not None else set(allowed)
        for hall_id in sorted(halls):
            join_room(hall_room(hall_id))
