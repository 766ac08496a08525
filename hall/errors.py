"""The one error type the domain raises, with a stable code that devices can rely on."""

from __future__ import annotations

from typing import Any


class HallError(Exception):
    """A command was refused; nothing in the hall changed.

    `code` is stable (devices switch on it), `message` is for people, `extra` goes into the
    error JSON beside them (e.g. `next_issuing_at` for `hall_closed`).
    """

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra

    def as_json(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


def bad_request(message: str) -> HallError:
    return HallError("bad_request", message)
