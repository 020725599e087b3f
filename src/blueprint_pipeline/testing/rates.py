"""Rate measurements shared by tests and benchmarks."""

from __future__ import annotations


def max_in_window(arrivals: list[float], window_s: float = 1.0) -> int:
    """Most events that fell within any `window_s` window (sliding, half-open)."""
    times = sorted(arrivals)
    best, j = 0, 0
    for i, t in enumerate(times):
        while t - times[j] >= window_s:
            j += 1
        best = max(best, i - j + 1)
    return best
