"""Feature statistics: exact per episode, streamed and bounded for the whole dataset.

Shapes follow LeRobot's `compute_stats`: a vector feature of width n gets (n,) arrays, a scalar
feature (1,) arrays, `count` is always (1,), and a camera gets per-channel (3, 1, 1) arrays over
pixel values divided by 255 (so they lie in [0, 1]) of a sample of its frames.

Quantile methods (q01, q10, q50, q90, q99):
- per episode, numeric features: exact (numpy's linear interpolation between order statistics);
- per episode and dataset, images: exact, from a 256-bin histogram per channel (pixels are uint8,
  so the histogram loses nothing and merges by addition);
- dataset, numeric features: numpy's linear quantile over a uniform reservoir sample of at most
  `RESERVOIR_ROWS` frames (Vitter's algorithm R, seeded). Exact while the dataset has at most that
  many frames; beyond it the rank error of each quantile has standard deviation
  sqrt(q (1 - q) / RESERVOIR_ROWS) <= 0.0035, which is what the checker's rank tolerance allows for.
min, max, mean, std and count are exact everywhere (means and variances merged with Chan's
parallel formula in float64).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

import numpy as np

from blueprint_pipeline.dataset.layout import QUANTILES

RESERVOIR_ROWS = 20_000
IMAGE_SAMPLE_MIN = 100  # LeRobot samples this many frames per episode (all of them if fewer)
IMAGE_SAMPLE_MAX = 10_000
IMAGE_DOWNSAMPLE_ABOVE_PX = 300  # LeRobot strides larger images down to about 150 px
IMAGE_DOWNSAMPLE_TARGET_PX = 150


def sampled_frame_indices(length: int) -> np.ndarray:
    """Frames of an episode that image statistics are computed from (LeRobot's heuristic)."""
    n = max(min(IMAGE_SAMPLE_MIN, length), min(int(length ** 0.75), IMAGE_SAMPLE_MAX))
    return np.round(np.linspace(0, length - 1, n)).astype(np.int64)


def downsample_stride(height: int, width: int) -> int:
    if max(height, width) < IMAGE_DOWNSAMPLE_ABOVE_PX:
        return 1
    return int(max(height, width) / IMAGE_DOWNSAMPLE_TARGET_PX)


def vector_stats(values: np.ndarray) -> dict[str, np.ndarray]:
    """Exact statistics of (T,) or (T, n) values, with LeRobot's shapes.

    One sort per call; quantiles interpolate linearly between order statistics, which is
    numpy's default quantile method.
    """
    v = np.asarray(values, dtype=np.float64)
    v2 = v.reshape(len(v), -1)
    s = np.sort(v2, axis=0)
    mean = v2.mean(0)
    out = {"min": s[0], "max": s[-1], "mean": mean, "std": np.sqrt(np.square(v2 - mean).mean(0)),
           "count": np.array([len(v2)], dtype=np.int64)}
    n = len(s)
    for key, q in QUANTILES.items():
        pos = q * (n - 1)
        lo = int(np.floor(pos))
        hi = min(lo + 1, n - 1)
        out[key] = s[lo] + (pos - lo) * (s[hi] - s[lo])
    return out


def split_stats(stats: dict[str, np.ndarray], widths: list[int]) -> list[dict[str, np.ndarray]]:
    """Cut statistics of side-by-side columns back into one dict per feature."""
    edges = np.cumsum([0, *widths]).tolist()
    return [{k: v if k == "count" else v[a:b] for k, v in stats.items()} for a, b in pairwise(edges)]


def histogram_quantiles(hist: np.ndarray, q: float) -> np.ndarray:
    """Per-row linear-interpolated quantile of integer samples 0..255 given as (C, 256) counts.

    Same value numpy's default (linear) method gives on the raw samples.
    """
    out = np.empty(hist.shape[0])
    for c in range(hist.shape[0]):
        cum = np.cumsum(hist[c])
        n = int(cum[-1])
        pos = q * (n - 1)
        lo = int(np.floor(pos))
        v_lo = int(np.searchsorted(cum, lo + 1))
        v_hi = int(np.searchsorted(cum, min(lo + 2, n)))
        out[c] = v_lo + (pos - lo) * (v_hi - v_lo)
    return out


@dataclass
class ImageStats:
    """Mergeable per-channel pixel statistics of sampled frames (count = frames sampled)."""

    channels: int = 3
    frames: int = 0
    hist: np.ndarray = field(default_factory=lambda: np.zeros((3, 256), dtype=np.int64))

    def update(self, frames: np.ndarray) -> None:
        """Add (N, H, W, C) uint8 frames."""
        stride = downsample_stride(frames.shape[1], frames.shape[2])
        px = frames[:, ::stride, ::stride, :].reshape(-1, frames.shape[-1])
        for c in range(px.shape[1]):
            self.hist[c] += np.bincount(px[:, c], minlength=256)
        self.frames += int(frames.shape[0])

    def merge(self, other: ImageStats) -> None:
        self.hist += other.hist
        self.frames += other.frames

    def result(self) -> dict[str, np.ndarray]:
        levels = np.arange(256, dtype=np.float64)
        n = self.hist.sum(1).astype(np.float64)
        mean = (self.hist * levels).sum(1) / n
        var = (self.hist * levels**2).sum(1) / n - mean**2
        nz = self.hist > 0
        out = {
            "min": np.array([levels[r].min() for r in nz]),
            "max": np.array([levels[r].max() for r in nz]),
            "mean": mean,
            "std": np.sqrt(np.maximum(var, 0.0)),
        }
        out.update({k: histogram_quantiles(self.hist, q) for k, q in QUANTILES.items()})
        res = {k: (v / 255.0).reshape(-1, 1, 1) for k, v in out.items()}
        res["count"] = np.array([self.frames], dtype=np.int64)
        return res


def image_episode_stats(frames: np.ndarray) -> tuple[dict[str, np.ndarray], ImageStats]:
    """Statistics of one episode's (T, H, W, 3) frames, and the mergeable accumulator behind them."""
    acc = ImageStats(channels=frames.shape[-1], hist=np.zeros((frames.shape[-1], 256), np.int64))
    acc.update(frames[sampled_frame_indices(len(frames))])
    return acc.result(), acc


@lru_cache(maxsize=64)
def _order_statistics(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For n values: the sorted positions to read (min, max, then the low and high neighbour of
    each quantile), where the low and high ones sit in that list, and the interpolation weights."""
    pos = np.array(list(QUANTILES.values())) * (n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    k = len(lo)
    return (np.concatenate([[0, n - 1], lo, hi]), np.arange(2, 2 + k), np.arange(2 + k, 2 + 2 * k),
            pos - lo)


def column_stats(columns: np.ndarray, sorted_columns: np.ndarray | None = None
                 ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Exact statistics of each row of (features, T) `columns`, then of each row of
    `sorted_columns` (rows already in order: an index written as a range, a constant), stacked.

    Returns the statistics (same values as `vector_stats` on the transpose), each row's sum of
    squared deviations, and all the rows as float64 (what `RunningStats.add` merges). The sort runs
    on contiguous rows in the columns' own dtype: a float32 sort orders exactly as a float64 one
    would, at a third of the cost.
    """
    n = columns.shape[1]
    extra = 0 if sorted_columns is None else sorted_columns.shape[0]
    at, lo, hi, frac = _order_statistics(n)
    values = np.empty((columns.shape[0] + extra, n))
    picked = np.empty((len(values), len(at)))
    values[: len(columns)] = columns
    picked[: len(columns)] = np.sort(columns, axis=1)[:, at]
    if extra:
        values[len(columns):] = sorted_columns
        picked[len(columns):] = sorted_columns[:, at]
    mean = values.mean(1)
    dev = values - mean[:, None]
    m2 = np.square(dev, out=dev).sum(1)
    qs = picked[:, lo] + frac * (picked[:, hi] - picked[:, lo])
    out = {"min": picked[:, 0], "max": picked[:, 1], "mean": mean, "std": np.sqrt(m2 / n),
           "count": np.array([n], dtype=np.int64)}
    out.update({key: qs[:, i] for i, key in enumerate(QUANTILES)})
    return out, m2, values


class RunningStats:
    """Streaming statistics of (N, n) rows: exact moments and extremes, reservoir quantiles."""

    def __init__(self, width: int, rng: np.random.Generator, reservoir_rows: int = RESERVOIR_ROWS):
        self.width = width
        self.count = 0
        self.mean = np.zeros(width)
        self.m2 = np.zeros(width)
        self.min = np.full(width, np.inf)
        self.max = np.full(width, -np.inf)
        self._rng = rng
        # one contiguous row per feature column: the final quantiles partition rows, not strides
        self._reservoir = np.empty((width, reservoir_rows))
        self._capacity = reservoir_rows

    def update(self, values: np.ndarray) -> None:
        columns = np.asarray(values, dtype=np.float64).reshape(len(values), self.width).T
        if columns.shape[1] == 0:
            return
        stats, m2, columns = column_stats(np.ascontiguousarray(columns))
        self.add(columns, stats, m2)

    def add(self, columns: np.ndarray, stats: dict[str, np.ndarray], m2: np.ndarray) -> None:
        """Merge a batch given as (width, n) columns and their `column_stats` (exact moments,
        merged with Chan's formula, so the batch is not reduced twice)."""
        n = columns.shape[1]
        total = self.count + n
        delta = stats["mean"] - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.count * n / total)
        self.min = np.minimum(self.min, stats["min"])
        self.max = np.maximum(self.max, stats["max"])
        self._sample(columns)
        self.count = total

    def _sample(self, columns: np.ndarray) -> None:
        # Algorithm R: row number i (0-based, over the whole stream) replaces a random slot with
        # probability capacity / (i + 1) once the reservoir is full.
        n = columns.shape[1]
        free = max(0, self._capacity - self.count)
        take = min(free, n)
        self._reservoir[:, self.count:self.count + take] = columns[:, :take]
        if take == n:
            return
        seen = self.count + take + np.arange(n - take)
        slot = self._rng.integers(0, seen + 1)
        keep = slot < self._capacity
        self._reservoir[:, slot[keep]] = columns[:, take:][:, keep]

    def result(self) -> dict[str, np.ndarray]:
        filled = self._reservoir[:, : min(self.count, self._capacity)]
        out = {"min": self.min.copy(), "max": self.max.copy(), "mean": self.mean.copy(),
               "std": np.sqrt(np.maximum(self.m2 / max(self.count, 1), 0.0)),
               "count": np.array([self.count], dtype=np.int64)}
        qs = np.quantile(filled, list(QUANTILES.values()), axis=1)
        out.update({k: qs[i] for i, k in enumerate(QUANTILES)})
        return out


def to_json(stats: dict[str, np.ndarray]) -> dict[str, list]:
    """JSON-ready nested lists (floats, and an integer `count`)."""
    return {k: (np.asarray(v).astype(np.int64) if k == "count" else np.asarray(v, np.float64)).tolist()
            for k, v in stats.items()}
