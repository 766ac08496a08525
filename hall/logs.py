"""How every HallQ program logs: to standard error, read by journald under systemd.

Under systemd each line starts with its syslog priority (`<3>` for an error), which journald
takes as the record's priority, so `journalctl -p err` finds the errors; and it has no time of
its own, since the journal stamps every record. On a terminal each line carries the time with
its offset from UTC, so that it says which clock it read.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO


def priority(level: int) -> int:
    """The syslog priority of a logging level: 2 critical, 3 error, 4 warning, 6 info, 7
    debug."""
    for at_least, value in ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4),
                            (logging.INFO, 6)):
        if level >= at_least:
            return value
    return 7


class JournalFormatter(logging.Formatter):
    """`<N>name: message`, each line of a traceback prefixed too (journald reads lines)."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{priority(record.levelno)}>"
        return prefix + super().format(record).replace("\n", "\n" + prefix)


TERMINAL_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
TERMINAL_TIME = "%Y-%m-%d %H:%M:%S%z"


def to_journal(stream: TextIO) -> bool:
    """Whether systemd connected `stream` to the journal: it names that stream's device and
    inode in JOURNAL_STREAM."""
    try:
        device, inode = (int(part) for part in os.environ["JOURNAL_STREAM"].split(":"))
        stat = os.fstat(stream.fileno())
    except (KeyError, ValueError, OSError):
        return False
    return (stat.st_dev, stat.st_ino) == (device, inode)


def formatter_for(stream: TextIO) -> logging.Formatter:
    if to_journal(stream):
        return JournalFormatter("%(name)s: %(message)s")
    return logging.Formatter(TERMINAL_FORMAT, TERMINAL_TIME)


def setup(level: int = logging.INFO) -> None:
    """Send every logger's records to standard error, formatted for where it goes."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter_for(sys.stderr))
    logging.basicConfig(level=level, handlers=[handler], force=True)
