"""The server at Raspberry Pi speed: its processes (gunicorn's master and worker) held to a
quarter of a core by a cgroup CPU quota, and every fsync/fdatasync they make delayed by 10 ms,
as an SD card takes. The load (kiosks, displays, the clerk) runs outside the cgroup, as on
devices of their own.

    sudo .venv/bin/python bench/bench_pi.py [--quick] [--delay-with preload|strace]

Prints issue p50/p99 with 1 and with 8 kiosks (issuing over Socket.IO, as the kiosk program
does, and over HTTP), tickets/s, and call → all 10 displays p50/p99, against the targets
(issue #16): issue p99 ≤ 50 ms, fan-out p99 ≤ 100 ms. Needs root (a cgroup of its own: v2
`cpu.max`, else v1 `cpu.cfs_quota_us`). Before it measures, it checks the delay is in effect:
the same tickets on the same capped server with and without it.

The delay: `preload` (the default; needs a C compiler) builds bench/fsync_delay.c and preloads
it into the server: fsync and fdatasync return 10 ms after the real call, one at a time (two
that overlap take 20 ms, as on one SD card), and nothing else changes. `strace` (≥ 5.3)
injects the same delay with `--seccomp-bpf -f` (per thread, so overlapping fsyncs overlap),
but measured here (strace 6.1) it also stops the server's threads in the tracer on their
futex and socket calls: a round trip between two Python threads took 68-131 µs under it
instead of 23 µs, which no Pi does; it is kept to compare.

The quota's period is short (10 ms by default, `--period-ms`): a quota refills once a period,
so a server that used its share early waits out the rest of it. A 100 ms period would freeze
the server up to 75 ms at a time, a stall no slow CPU makes; a short one spreads the cap evenly,
as a slower core does.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from bench_server import Clerk, fanout, fifty_window_hall, issue_with, percentile  # noqa: E402
from server_processes import process_cpu_seconds  # noqa: E402
from support import ServerProcess  # noqa: E402

ISSUE_P99_TARGET = 0.050
FANOUT_P99_TARGET = 0.100
FSYNC_DELAY_US = 10_000
# Joins the cgroup, then becomes the server: only the server's processes are capped, not strace.
JOIN = 'echo $$ > "$0" && exec "$@"'
SHIM_SOURCE = Path(__file__).resolve().parent / "fsync_delay.c"


class FsyncDelay:
    """How the server's fsyncs are delayed: `preload` (bench/fsync_delay.c) or `strace`."""

    def __init__(self) -> None:
        self.method = "preload"
        self.shim: Path | None = None

    def prepare(self, method: str, workdir: Path) -> None:
        self.method = method
        if method == "preload":
            self.shim = workdir / "fsync_delay.so"
            subprocess.run([compiler(), "-shared", "-fPIC", "-O2", "-o", str(self.shim),
                            str(SHIM_SOURCE), "-ldl", "-lpthread"], check=True)

    def wrap(self, command: list[str], log: Path) -> list[str]:
        """`command`, run with every fsync/fdatasync delayed and counted in `log`."""
        if self.method == "strace":
            return ["strace", "--seccomp-bpf", "-f", "-qq", "-o", str(log),
                    "-e", "trace=fsync,fdatasync",
                    "-e", f"inject=fsync,fdatasync:delay_exit={FSYNC_DELAY_US}", "--", *command]
        return ["env", f"LD_PRELOAD={self.shim}", f"FSYNC_DELAY_US={FSYNC_DELAY_US}",
                f"FSYNC_LOG={log}", *command]

    def count(self, log: Path) -> int:
        if not log.exists():
            return 0
        data = log.read_bytes()
        return sum(1 for line in data.splitlines() if b"sync(" in line) \
            if self.method == "strace" else len(data)

    def describe(self) -> str:
        return ("strace --seccomp-bpf inject delay_exit" if self.method == "strace" else
                "preloaded bench/fsync_delay.c, after the real call, one at a time")


FSYNC_DELAY = FsyncDelay()


def compiler() -> str | None:
    return shutil.which("cc") or shutil.which("gcc")


class CpuQuota:
    """A cgroup of its own that holds whatever joins it to `share` of one core."""

    def __init__(self, share: float, period_us: int) -> None:
        self.share, self.period_us = share, period_us
        self.path: Path | None = None
        self.version = ""

    def create(self) -> CpuQuota:
        name = f"hallq-bench-pi-{os.getpid()}"
        quota = max(1000, round(self.share * self.period_us))
        v2 = cpu_cgroup_v2()
        if v2:
            with contextlib.suppress(OSError):  # already on, or the parent has it on for us
                (v2 / "cgroup.subtree_control").write_text("+cpu")
            self.path, self.version = v2 / name, "cgroup v2 cpu.max"
            self.path.mkdir()
            (self.path / "cpu.max").write_text(f"{quota} {self.period_us}")
        else:
            v1 = cpu_cgroup_v1()
            if v1 is None:
                raise RuntimeError("no cgroup with the cpu controller is mounted")
            self.path, self.version = v1 / name, "cgroup v1 cpu.cfs_quota_us"
            self.path.mkdir()
            (self.path / "cpu.cfs_period_us").write_text(str(self.period_us))
            (self.path / "cpu.cfs_quota_us").write_text(str(quota))
        return self

    @property
    def procs(self) -> Path:
        assert self.path is not None
        return self.path / "cgroup.procs"

    def describe(self) -> str:
        quota = max(1000, round(self.share * self.period_us))
        return (f"{self.version}: {quota / 1000:g} ms of CPU every {self.period_us / 1000:g} ms "
                f"({quota / self.period_us:.0%} of a core)")

    def throttled(self) -> tuple[int, int, float]:
        """(periods, periods throttled, seconds throttled) so far."""
        stat = dict(line.split() for line in (self.path / "cpu.stat").read_text().splitlines())
        if "throttled_usec" in stat:
            seconds = int(stat["throttled_usec"]) / 1e6
        else:
            seconds = int(stat["throttled_time"]) / 1e9
        return int(stat["nr_periods"]), int(stat["nr_throttled"]), seconds

    def cpu_seconds(self) -> float:
        """User + system CPU time of the processes in the cgroup (the server's, not strace's)."""
        pids = [int(p) for p in self.procs.read_text().split()]
        return sum(process_cpu_seconds(pid) for pid in pids)

    def remove(self) -> None:
        """Kills what is still in the cgroup (only the bench's own server can be), then removes
        it. Bounded: a cgroup that will not empty is left, and said so."""
        if self.path is None or not self.path.exists():
            return
        for _ in range(50):
            pids = [int(p) for p in self.procs.read_text().split()]
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        try:
            self.path.rmdir()
        except OSError as error:
            print(f"could not remove {self.path}: {error}", file=sys.stderr)


def cpu_cgroup_v2() -> Path | None:
    """The cgroup v2 mount, if the cpu controller is on it."""
    for line in Path("/proc/mounts").read_text().splitlines():
        _, where, kind, *_ = line.split()
        if kind == "cgroup2" and "cpu" in (Path(where) / "cgroup.controllers").read_text().split():
            return Path(where)
    return None


def cpu_cgroup_v1() -> Path | None:
    for line in Path("/proc/mounts").read_text().splitlines():
        _, where, kind, options, *_ = line.split()
        if kind == "cgroup" and "cpu" in options.split(","):
            return Path(where)
    return None


def unavailable(delay_with: str = "preload") -> str | None:
    """Why this bench cannot run here, or None if it can."""
    if os.geteuid() != 0:
        return "needs root, to make a cgroup of its own"
    if cpu_cgroup_v2() is None and cpu_cgroup_v1() is None:
        return "no cgroup with the cpu controller is mounted"
    if delay_with == "preload":
        return None if compiler() else "no C compiler for the fsync delay (apt-get install gcc)"
    if shutil.which("strace") is None:
        return "strace is not installed (apt-get install strace)"
    probe = subprocess.run(["strace", "--seccomp-bpf", "-f", "-qq", "-o", "/dev/null", "true"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"strace --seccomp-bpf does not work here: {probe.stderr.strip()}"
    return None


class PiServer(ServerProcess):
    """The real server, joined to the cgroup, its fsyncs delayed (FSYNC_DELAY) and counted
    in `fsync_log` when one is given."""

    def __init__(self, db: Path, quota: CpuQuota, fsync_log: Path | None = None,
                 config: Path | None = None) -> None:
        wrapper = ["sh", "-c", JOIN, str(quota.procs)]
        if fsync_log is not None:
            wrapper = FSYNC_DELAY.wrap(wrapper, fsync_log)
        super().__init__(db, config=config, wrapper=wrapper)
        self.fsync_log = fsync_log

    def fsyncs(self) -> int:
        return 0 if self.fsync_log is None else FSYNC_DELAY.count(self.fsync_log)

    def stop(self) -> None:
        """SIGTERM to the whole session (strace if any, gunicorn's master and its worker), then
        SIGKILL to whatever is left after 10 s."""
        if self.proc is None:
            return
        self.signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        self.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def verdict(value: float, target: float) -> str:
    return f"{'meets' if value <= target else 'MISSES'} ≤ {target * 1000:.0f} ms"


def check_injection(workdir: Path, quota: CpuQuota, count: int, warm: bool) -> None:
    """The same `count` tickets, one kiosk, on the capped server without and with the delay.
    A ticket's commit waits for one fsync, so with the delay in effect no ticket can be quicker
    than the delay, and a delayed fsync must have been logged for each. The quickest without
    is printed beside it; it is no test, as a few tickets' quickest swings with the machine."""
    quickest, medians, fsyncs = [], [], 0
    for delayed in (False, True):
        log = workdir / "check.fsyncs" if delayed else None
        server = PiServer(workdir / f"check-{delayed}.db", quota, log).start(timeout=90)
        try:
            if warm:
                issue_with(server, 1, 5, timeout=120)
            latencies, _ = issue_with(server, 1, count, timeout=120)
        finally:
            server.stop()
        quickest.append(min(latencies))
        medians.append(statistics.median(latencies))
        fsyncs = server.fsyncs()
    grew = quickest[1] - quickest[0]
    print(f"Delay check: 1 kiosk, {count} tickets: quickest {ms(quickest[0])} / median "
          f"{ms(medians[0])} without the fsync delay, quickest {ms(quickest[1])} / median "
          f"{ms(medians[1])} with it (+{ms(grew)} quickest); {fsyncs} fsyncs delayed")
    if quickest[1] < FSYNC_DELAY_US / 1e6 or fsyncs < count:
        raise RuntimeError("the fsync delay is not in effect: a ticket came back before it")


class Phase:
    """What the server did during one load's tickets: fsyncs, CPU time, throttled periods,
    from the kiosks' go to the last one's answer (`issue_with`'s span). The kiosks' connects
    and disconnects fall outside: each is a write and an fsync of its own (the device's
    presence), and a connect's snapshot costs more CPU than a ticket."""

    def __init__(self, server: PiServer, quota: CpuQuota) -> None:
        self.server, self.quota = server, quota
        self.marks: dict[str, tuple[int, float, tuple[int, int, float]]] = {}

    def span(self, mark: str) -> None:
        self.marks[mark] = (self.server.fsyncs(), self.quota.cpu_seconds(),
                            self.quota.throttled())

    def since(self, tickets: int) -> str:
        (fsyncs0, cpu0, throttled0), (fsyncs1, cpu1, throttled1) = \
            self.marks["go"], self.marks["done"]
        fsyncs = fsyncs1 - fsyncs0
        return (f"{fsyncs} fsyncs ({tickets / max(fsyncs, 1):.2f} tickets per fsync), "
                f"server CPU {ms((cpu1 - cpu0) / tickets)} per ticket, quota used up in "
                f"{throttled1[1] - throttled0[1]} of {throttled1[0] - throttled0[0]} periods")


# (how, kiosks, seconds between a kiosk's tickets). The kiosk program issues over the
# Socket.IO connection it holds; HTTP is the API's other way in (a booking back end, curl).
LOADS = (("socket", 1, 0.0), ("socket", 8, 0.0), ("socket", 8, 0.25),
         ("http", 1, 0.0), ("http", 8, 0.0), ("http", 8, 0.25))
WAYS = {"socket": "Socket.IO `command`", "http": "HTTP POST"}


def load_name(way: str, kiosks: int, interval: float) -> str:
    name = f"{WAYS[way]}, {kiosks} kiosk{'s' if kiosks > 1 else ' '}"
    return name + (f", one ticket each every {interval * 1000:.0f} ms" if interval else
                   ", back to back")


def bench_issue(workdir: Path, quota: CpuQuota, rounds: int, count: int,
                warm: bool, ways: tuple[str, ...]) -> None:
    """`rounds` fresh servers, each given `count` tickets by each load of LOADS in turn, with
    the demo hall's six windows open as in a working day (no one is called, so the queue
    grows to 3 × count + 20 waiting at most, a busy hall's)."""
    loads = [load for load in LOADS if load[0] in ways]
    latencies: dict[tuple, list[float]] = {load: [] for load in loads}
    spent = dict.fromkeys(loads, 0.0)
    did: dict[tuple, list[str]] = {load: [] for load in loads}
    for n in range(rounds):
        server = PiServer(workdir / f"issue-{n}.db", quota,
                          workdir / f"issue-{n}.fsyncs").start(timeout=90)
        try:
            clerk = Clerk(server)
            for window in range(1, 7):
                clerk.post(f"/api/v1/windows/{window}/open")
            if warm:
                issue_with(server, 1, 20, timeout=300)
            for load in loads:
                way, kiosks, interval = load
                phase = Phase(server, quota)
                got, rate = issue_with(server, kiosks, count // kiosks, timeout=300,
                                       interval=interval, way=way, span=phase.span)
                spent[load] += len(got) / rate  # from the go to the last answer
                latencies[load] += got
                did[load].append(phase.since(len(got)))
        finally:
            server.stop()
    print(f"Ticket issue, each kiosk in its own process, {rounds} round(s) of {count} "
          f"tickets a load (target p99 ≤ {ISSUE_P99_TARGET * 1000:.0f} ms)")
    for load in loads:
        got = latencies[load]
        p99 = percentile(got, 99)
        print(f"  {load_name(*load)}: p50 {ms(statistics.median(got))}, p99 {ms(p99)} "
              f"({verdict(p99, ISSUE_P99_TARGET)}), max {ms(max(got))}, "
              f"{len(got) / spent[load]:.0f} tickets/s")
        for line in did[load]:
            print(f"      {line}")


def bench_fanout(workdir: Path, quota: CpuQuota, calls: int, displays: int, kiosks: int) -> None:
    config = fifty_window_hall(workdir / "fifty.toml")
    server = PiServer(workdir / "fanout.db", quota, workdir / "fanout.fsyncs",
                      config=config).start(timeout=90)
    try:
        to_all, to_each = fanout(server, calls, displays, kiosks)
    finally:
        server.stop()
    p99 = percentile(to_all, 99)
    print(f"Call fan-out: call-next request → `called` at {displays} displays, each in its own "
          f"process (50 windows, {kiosks} kiosks connected), {calls} calls")
    print(f"  at every display: p50 {ms(percentile(to_all, 50))}, p99 {ms(p99)} "
          f"({verdict(p99, FANOUT_P99_TARGET)})")
    print(f"  at each display : p50 {ms(percentile(to_each, 50))}, "
          f"p99 {ms(percentile(to_each, 99))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    parser.add_argument("--tiny", action="store_true",
                        help="a smoke run, for the tests: a few tickets, no warm-up")
    parser.add_argument("--share", type=float, default=0.25, help="of one core (0.25)")
    parser.add_argument("--period-ms", type=float, default=10, help="the quota's period (10)")
    parser.add_argument("--only", choices=["issue", "fanout"], help="one benchmark")
    parser.add_argument("--displays", type=int, default=10)
    parser.add_argument("--kiosks", type=int, default=5, help="fan-out: kiosks connected")
    parser.add_argument("--way", choices=sorted(WAYS), action="append",
                        help="how kiosks issue (both without it)")
    parser.add_argument("--delay-with", choices=["preload", "strace"], default="preload",
                        help="how fsyncs are delayed (preload)")
    args = parser.parse_args()
    reason = unavailable(args.delay_with)
    if reason:
        sys.exit(f"bench_pi cannot run here: {reason}")
    rounds, count, calls, check = (1, 16, 4, 5) if args.tiny else \
        (1, 200, 50, 20) if args.quick else (3, 200, 300, 50)
    # A SIGTERM (a CI timeout, say) unwinds like Ctrl-C: the cgroup and the servers go too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench_pi: terminated"))
    quota = CpuQuota(args.share, round(args.period_ms * 1000))
    print(f"uptime: {Path('/proc/loadavg').read_text().split()[:3]} (load 1, 5, 15 min)")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            quota.create()
            FSYNC_DELAY.prepare(args.delay_with, Path(tmp))
            print(f"CPU: {quota.describe()}; fsync/fdatasync +{FSYNC_DELAY_US / 1000:g} ms "
                  f"({FSYNC_DELAY.describe()})")
            check_injection(Path(tmp), quota, check, warm=not args.tiny)
            if args.only in (None, "issue"):
                bench_issue(Path(tmp), quota, rounds, count, warm=not args.tiny,
                            ways=tuple(args.way or WAYS))
            if args.only in (None, "fanout"):
                bench_fanout(Path(tmp), quota, calls, args.displays, args.kiosks)
        except BaseException:
            print_server_logs(Path(tmp))  # before the directory goes
            raise
        finally:
            quota.remove()


def print_server_logs(workdir: Path, lines: int = 30) -> None:
    for log in sorted(workdir.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        print(f"--- last lines of {log.name}", *tail, sep="\n", file=sys.stderr)


if __name__ == "__main__":
    main()
