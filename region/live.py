"""What the region's pages see live: one Socket.IO room per hall.

`publish` is the one place an update leaves for the browsers; ingest calls it after each
commit, the live view (and anything else) listens in the rooms it joins."""

from __future__ import annotations

from typing import Any

from flask_socketio import SocketIO

ALL_HALLS = "halls"  # the room of the overview: every hall's updates


def hall_room(hall_id: str) -> str:
    return f"hall:{hall_id}"


def publish(socketio: SocketIO, hall_id: str, payload: dict[str, Any]) -> None:
    """Send a compact "hall" update (hall id, status, link health) to the hall's own room
    and to the overview's."""
    message = {"hall_id": hall_id, **payload}
    socketio.emit("hall", message, to=[hall_room(hall_id), ALL_HALLS])
