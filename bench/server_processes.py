"""What the server's processes use, summed over all of them (gunicorn's master and worker):
CPU time, and memory as PSS and RSS from /proc/PID/smaps_rollup.

PSS shares each page among the processes that map it, so the master and the worker's common
pages (the interpreter, the libraries loaded before the fork) count once; RSS summed over the
processes would count them twice."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def server_pids(pid: int) -> list[int]:
    """The process `pid` and every process below it."""
    pids, i = [pid], 0
    while i < len(pids):
        for task in Path(f"/proc/{pids[i]}/task").glob("*"):
            with contextlib.suppress(OSError):
                pids += [int(p) for p in (task / "children").read_text().split()]
        i += 1
    return pids


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server's processes: what a request costs, whatever else
    the machine is doing (wall-clock figures on a busy machine say more about the neighbours)."""
    return sum(process_cpu_seconds(each) for each in server_pids(pid))


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the one process `pid` (0 once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int) -> dict[str, float]:
    """{"pss": .., "rss": ..} in MB, summed over the server's processes, and each process's PSS
    ("pss_by_pid")."""
    total = {"pss": 0.0, "rss": 0.0}
    by_pid: dict[int, float] = {}
    for each in server_pids(pid):
        try:
            lines = Path(f"/proc/{each}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            name, _, value = line.partition(":")
            if name in ("Pss", "Rss"):
                mb = int(value.split()[0]) / 1024
                total[name.lower()] += mb
                if name == "Pss":
                    by_pid[each] = mb
    return {**total, "pss_by_pid": by_pid}


def describe(memory: dict) -> str:
    parts = " + ".join(f"{mb:.1f}" for mb in memory["pss_by_pid"].values())
    return f"{memory['pss']:.1f} MB PSS ({parts}), {memory['rss']:.1f} MB RSS summed"
