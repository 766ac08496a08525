"""The estimates bench still runs: one short simulated day through the real Hall."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import bench_estimates


def test_the_quick_bench_scores_every_ticket_of_a_short_day(capsys):
    results = bench_estimates.main(["--quick"])
    (scored,) = results.values()
    overall = scored[("all", "all")]
    assert overall["printed"]["n"] > 50
    assert 0 <= overall["printed"]["within"] <= 100
    assert 0 <= overall["ahead"] <= 100
    out = capsys.readouterr().out
    assert "speed:" in out and "per waiting ticket" in out
