"""What the server takes from the outside, checked once at the edge: JSON bodies over HTTP and
the arguments of Socket.IO events.

A command's body is a small flat object (under 1 KB). Whatever could make the standard library
or SQLite raise deeper in the server is refused here as `bad_request`: nesting deeper than
`MAX_DEPTH` (Python's JSON parser recurses, and would hit the recursion limit), a lone UTF-16
surrogate in a string (it cannot be encoded to UTF-8, so SQLite raises), whole numbers beyond
what SQLite and JavaScript hold exactly, and NaN or Infinity.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hall.errors import bad_request

MAX_DEPTH = 8  # a command body is an object of strings and numbers: depth 1 or 2
MAX_WHOLE_NUMBER = 2**53 - 1  # JavaScript's safe integers; SQLite holds 2**63 - 1


def parse_json(raw: bytes | str) -> Any:
    """JSON text -> checked value; `bad_request` for anything malformed or out of bounds."""
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise bad_request(f"the JSON is nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError):  # JSONDecodeError and too many digits included
        raise bad_request("the body is not valid JSON") from None
    return checked(value)


def checked(value: Any) -> Any:
    """`value` unchanged if every part of it is within bounds, else `bad_request`."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise bad_request(f"the JSON is nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if abs(item) > MAX_WHOLE_NUMBER:
                raise bad_request("a number is too large")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise bad_request("numbers must be finite")
        elif isinstance(item, dict):
            for key, inner in item.items():
                if isinstance(key, str):
                    _check_text(key)
                stack.append((inner, depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend((inner, depth + 1) for inner in item)
    return value


def is_text(value: Any) -> bool:
    """A string that can be stored and sent on (no lone surrogate)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_text(text: str) -> None:
    if not is_text(text):
        raise bad_request("a text holds a lone UTF-16 surrogate (not Unicode text)")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
