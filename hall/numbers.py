"""Whole numbers typed by people or sent by devices, as text ("3" in a URL, "7" for a ticket id).

`str.isdigit()` is not the check: it is True for "²" and "٣", which `int()` then refuses or
reads as another digit, and `int()` of a 5000-digit string raises. Only ASCII digits, and only
as many as a hall can use, are numbers here.
"""

from __future__ import annotations

MAX_DIGITS = 9  # windows, ticket and callback ids: far below a billion, and within SQLite


def parse_whole(text: str, max_digits: int = MAX_DIGITS) -> int | None:
    """The number `text` spells in ASCII digits, or None if it spells none (or too long a one)."""
    if not (0 < len(text) <= max_digits and text.isascii() and text.isdigit()):
        return None
    return int(text)


def is_digits(text: object, min_len: int, max_len: int) -> bool:
    """A string of min_len..max_len ASCII digits (a PIN, a pairing code)."""
    return (isinstance(text, str) and min_len <= len(text) <= max_len and text.isascii()
            and text.isdigit())
