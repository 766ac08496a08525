"""Estimated waiting time: people ahead × average handling time ÷ windows serving.

The average is the rolling mean of today's last handling times of the service, with the
configured `avg_minutes` counted as one more sample, so the first customers of the day get a
sensible figure and a slow morning moves it.
"""

from __future__ import annotations

import math

RECENT_SAMPLES = 20


def average_handling(seed_minutes: float, recent_minutes: list[float]) -> float:
    samples = recent_minutes[:RECENT_SAMPLES]
    return (seed_minutes + sum(samples)) / (1 + len(samples))


def wait_minutes(ahead: int, avg_minutes: float, windows_serving: int) -> int:
    """Whole minutes, rounded up; nobody ahead means no wait."""
    if ahead <= 0:
        return 0
    return math.ceil(ahead * avg_minutes / max(1, windows_serving))
