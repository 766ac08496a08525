"""One dispatcher for every command, so HTTP and Socket.IO answer with the very same JSON."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from hall.auth import Actor
from hall.errors import HallError
from hall.hall import WINDOW_COMMANDS, Hall

log = logging.getLogger("hallq.commands")

HTTP_STATUS = {
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "unknown_service": 404,
    "unknown_window": 404,
    "unknown_ticket": 404,
    "too_large": 413,
    "unsupported_media_type": 415,
    "locked": 429,
    "too_many_attempts": 429,
    "busy": 503,
    "internal": 500,
}
CONFLICT = 409  # every other code: the hall's state forbids the command right now


# Commands that modules add beside the core ones (supervisor actions, ...): name -> handler
# `handler(hall, actor, body) -> dict`, raising HallError to refuse. HTTP routes and the
# Socket.IO `command` event both reach them through run_command.
EXTRA_COMMANDS: dict[str, Callable[[Hall, Actor, dict], dict]] = {}
CREATING_COMMANDS: set[str] = set()  # those of them that answer 201 Created, as issue does


def status_for(error: HallError) -> int:
    return HTTP_STATUS.get(error.code, CONFLICT)


def run_command(hall: Hall, actor: Actor, name: Any, body: Any,
                window: Any = None) -> tuple[int, dict]:
    """Run command `name` with the JSON `body` (on `window`, for window commands and ratings);
    return (HTTP status, JSON answer)."""
    try:
        if not isinstance(body, dict):
            raise HallError("bad_request", "the body must be a JSON object")
        return _dispatch(hall, actor, name, body, window)
    except HallError as error:
        return status_for(error), error.as_json()
    except Exception:  # a bug, not bad input: say so without leaking a trace to the device
        log.exception("command %r failed", name)
        return 500, {"error": {"code": "internal", "message": "服务器内部错误 · Internal error"}}


def socket_command(hall: Hall, actor: Actor, body: Any) -> tuple[int, dict]:
    """A Socket.IO `command`: `{name, window, ...}`. `window` names the window acting, so a
    transfer's target window travels as `to_window` (and, for symmetry, `to_service`)."""
    if not isinstance(body, dict):
        return run_command(hall, actor, None, body)
    params = {k: v for k, v in body.items() if k not in ("name", "window")}
    for alias, field in (("to_window", "window"), ("to_service", "service")):
        if alias in params:
            params[field] = params.pop(alias)
    return run_command(hall, actor, body.get("name"), params, window=body.get("window"))


def _dispatch(hall: Hall, actor: Actor, name: Any, body: dict,
              window: Any) -> tuple[int, dict]:
    rid = body.get("request_id")
    if name == "issue":
        return 201, hall.issue(actor, body.get("service"), body.get("priority"), rid)
    if name in WINDOW_COMMANDS:
        return 200, hall.window_command(actor, window, name, body, rid)
    if name == "rate":
        return 200, hall.rate(actor, window, body.get("score"), body.get("reason"), rid)
    if name == "printer":
        return 200, hall.report_printer(actor, body.get("state"), body.get("detail"), rid)
    if isinstance(name, str) and name in EXTRA_COMMANDS:
        if window is not None:
            body = {**body, "window": window}
        return 201 if name in CREATING_COMMANDS else 200, EXTRA_COMMANDS[name](hall, actor, body)
    raise HallError("not_found", f"unknown command {name!r}")
