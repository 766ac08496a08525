"""Log lines: under systemd each carries its priority for journald and no second time stamp;
on a terminal each says the time with its offset from UTC."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from support import ROOT

PROGRAM = ("from hall import logs; import logging; logs.setup(); log = logging.getLogger('hallq.x')"
           "; log.error('boom\\nsecond line'); log.warning('careful'); log.info('fine');"
           " log.debug('hidden')")


def run(tmp_path, journal: bool) -> str:
    err = tmp_path / "stderr"
    with open(err, "w") as stream:
        env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
        if journal:  # what systemd sets when it connects the stream to the journal
            stat = os.fstat(stream.fileno())
            env["JOURNAL_STREAM"] = f"{stat.st_dev}:{stat.st_ino}"
        subprocess.run([sys.executable, "-c", PROGRAM], cwd=ROOT, env=env, stderr=stream,
                       check=True, timeout=30)
    return err.read_text()


def test_under_systemd_each_line_carries_its_priority_and_no_time(tmp_path):
    assert run(tmp_path, journal=True).splitlines() == [
        "<3>hallq.x: boom", "<3>second line", "<4>hallq.x: careful", "<6>hallq.x: fine"]


def test_on_a_terminal_each_line_says_its_time_and_clock(tmp_path):
    lines = run(tmp_path, journal=False).splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d{4} ERROR hallq\.x: boom", lines[0])
    assert len(lines) == 4 and "<" not in lines[0]


def test_a_journal_stream_that_is_not_ours_is_not_taken_for_the_journal(tmp_path):
    os.environ["JOURNAL_STREAM"] = "1:2"  # inherited from a parent that logs to the journal
    try:
        from hall import logs
        with open(tmp_path / "x", "w") as stream:
            assert not logs.to_journal(stream)
    finally:
        del os.environ["JOURNAL_STREAM"]
