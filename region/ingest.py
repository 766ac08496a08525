"""POST /api/ingest: a hall's batch of events and its live status (filled in by step 2)."""

from __future__ import annotations

from flask import Flask
from flask_socketio import SocketIO


def register(app: Flask, socketio: SocketIO, region: object) -> None:
    """Nothing yet: the skeleton's place for ingest."""
