"""Timing and percentiles without numpy."""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0–100), linear interpolation between closest ranks (inclusive)."""
    if not values:
        raise ValueError("no values")
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    if p <= 0:
        return data[0]
    if p >= 100:
        return data[-1]
    # statistics.quantiles(method="inclusive") with n=1000 gives the same points for whole
    # percentiles; computed directly so any p works.
    position = (len(data) - 1) * p / 100
    low = int(position)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (position - low)


def summarize(seconds: list[float]) -> dict:
    """Latency summary in milliseconds: n, mean, p50, p95, p99, min, max."""
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "mean_ms": round(statistics.fmean(ms), 3),
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "min_ms": round(min(ms), 3),
        "max_ms": round(max(ms), 3),
    }


class Timer:
    """`with timer: ...` appends the block's wall time (perf_counter seconds) to `samples`."""

    def __init__(self):
        self.samples: list[float] = []

    @contextmanager
    def __call__(self):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.samples.append(time.perf_counter() - started)
