"""The Pi-speed bench still runs, with tiny counts, and leaves no cgroup or process behind,
even when it is stopped halfway. Skipped where it cannot run: no root, no cgroup cpu
controller, no C compiler for the fsync delay."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import bench_pi  # noqa: E402

REASON = bench_pi.unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"bench_pi: {REASON}")


def run_bench(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(BENCH / "bench_pi.py"), "--tiny",
                             "--displays", "2", "--kiosks", "1", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def its_cgroup(bench: subprocess.Popen) -> Path:
    root = bench_pi.cpu_cgroup_v2() or bench_pi.cpu_cgroup_v1()
    return root / f"hallq-bench-pi-{bench.pid}"


def test_a_tiny_run_prints_every_figure_and_cleans_up():
    bench = run_bench()
    out, _ = bench.communicate(timeout=120)
    assert bench.returncode == 0, out
    assert "Delay check" in out and "fsyncs delayed" in out
    for way in ("Socket.IO `command`", "HTTP POST"):  # the kiosk's way, and the API's
        assert f"{way}, 1 kiosk , back to back: p50" in out
        assert f"{way}, 8 kiosks, back to back: p50" in out
        assert f"{way}, 8 kiosks, one ticket each every 250 ms: p50" in out
    assert "tickets/s" in out
    # each load's fsyncs and CPU, counted from the kiosks' go to the last answer
    assert out.count("tickets per fsync), server CPU") == 6
    assert "at every display: p50" in out
    assert not its_cgroup(bench).exists()


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_the_strace_delay_still_runs_to_compare():
    bench = run_bench("--only", "issue", "--way", "http", "--delay-with", "strace")
    out, _ = bench.communicate(timeout=120)
    assert bench.returncode == 0, out
    assert "strace --seccomp-bpf inject delay_exit" in out and "fsyncs delayed" in out
    assert "HTTP POST, 8 kiosks, back to back: p50" in out and "Socket.IO" not in out
    assert not its_cgroup(bench).exists()


def test_stopped_halfway_it_kills_its_server_and_removes_its_cgroup():
    bench = run_bench("--only", "issue")
    cgroup = its_cgroup(bench)
    deadline = time.monotonic() + 60
    server: list[int] = []
    while not server and time.monotonic() < deadline:
        if (cgroup / "cgroup.procs").exists():
            server = [int(p) for p in (cgroup / "cgroup.procs").read_text().split()]
        time.sleep(0.05)
    assert server, "the bench never started a server in its cgroup"
    bench.send_signal(signal.SIGTERM)
    out, _ = bench.communicate(timeout=60)
    assert "terminated" in out
    assert not cgroup.exists()
    for pid in server:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
