"""Feature statistics: exact per episode, streamed and bounded for the whole dataset.

Dataset quantiles in `meta/stats.json` are the ones LeRobot computes whenever it recomputes a
dataset's statistics (`aggregate_stats`: after merge, delete_episodes, split, ...): the mean of
the episodes' quantiles weighted by their counts (`QuantileMean`). They are not quantiles of the
pooled frames (they differ most where episodes differ); the exact ones, described below, go to
the sidecar `meta/blueprint_stats_exact.json`.

Shapes follow LeRobot's `compute_stats`: a vector feature of width n gets (n,) arrays, a scalar
feature (1,) arrays, `count` is always (1,), and a camera gets per-channel (3, 1, 1) arrays over
pixel values divided by 255 (so they lie in [0, 1]) of a sample of its frames.

Quantile methods (q01, q10, q50, q90, q99):
- per episode, numeric features: exact (numpy's linear interpolation between order statistics);
- per episode and dataset, images: exact, from a 256-bin histogram per channel (pixels are uint8,
  so the histogram loses nothing and merges by addition);
- dataset, numeric features: the same linear interpolation over a uniform reservoir sample of at
  most `RESERVOIR_ROWS` frames (Vitter's algorithm R, seeded). Exact while the dataset has at most
  that many frames; beyond it the rank error of each quantile has standard deviation
  sqrt(q (1 - q) / RESERVOIR_ROWS) <= 0.0035, which is what the checker's rank tolerance allows for.
min, max, mean, std and count are exact everywhere (means and variances merged with Chan's
parallel formula in float64).

Cost: the writer hands over a block of episodes (a parquet row group) at a time, and
`episode_stats` reduces the whole block with one sort and a handful of numpy calls, whatever the
number of episodes in it; the dataset quantiles are one partition per column of the reservoir at
the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import pyarrow as pa

from blueprint_pipeline.dataset.layout import QUANTILES

RESERVOIR_ROWS = 20_000
DEVIATION_CHUNK_VALUES = 1 << 16  # float64 deviations computed at a time (512 KiB)
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


class QuantileMean:
    """q01..q99 of a set of episodes the way LeRobot aggregates per-episode statistics: each
    quantile is the mean of the episodes' quantiles weighted by their `count`."""

    def __init__(self) -> None:
        self._sums: dict[str, np.ndarray] = {}
        self.count = 0

    def add(self, quantiles: dict[str, np.ndarray], counts: np.ndarray) -> None:
        """`quantiles[k]` (E, ...) for E episodes of `counts` (E,) frames each."""
        w = np.asarray(counts, dtype=np.float64).reshape(-1)
        for k in QUANTILES:
            q = np.asarray(quantiles[k], dtype=np.float64)
            part = np.tensordot(w, q, axes=(0, 0))
            self._sums[k] = part if k not in self._sums else self._sums[k] + part
        self.count += int(w.sum())

    def result(self) -> dict[str, np.ndarray]:
        return {k: v / self.count for k, v in self._sums.items()}


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


def pool_empty(shape: tuple[int, ...], dtype: type | np.dtype) -> np.ndarray:
    """An uninitialised C-contiguous array in arrow's memory pool, where the data tables live too.

    The pool keeps freed memory for the next allocation; numpy's allocator hands large arrays
    back to the operating system when they are freed, and every new one costs page faults again
    (a fault per 4 KiB page: for a block of episodes, as much time as the arithmetic on it).
    """
    dtype = np.dtype(dtype)
    size = int(np.prod(shape))
    buf = pa.allocate_buffer(max(size, 1) * dtype.itemsize)
    return np.frombuffer(buf, dtype=dtype, count=size).reshape(shape)


class Scratch:
    """Work arrays reused from one block of episodes to the next.

    Allocated in arrow's memory pool (see `pool_empty`) and grown when a block needs more.
    """

    def __init__(self) -> None:
        self._flat: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: type | np.dtype) -> np.ndarray:
        """A C-contiguous array of this shape (contents undefined), valid until the next `get(name)`."""
        size = int(np.prod(shape))
        flat = self._flat.get(name)
        if flat is None or flat.dtype != np.dtype(dtype) or flat.size < size:
            flat = self._flat[name] = pool_empty((max(size, 1),), dtype)
        return flat[:size].reshape(shape)


def _flip_negative(keys: np.ndarray, work: np.ndarray | None = None) -> np.ndarray:
    """float32 bits seen as int32 <-> integers in the floats' order, in place (its own inverse):
    negative floats get their magnitude bits flipped. `work`, as large as `keys`, saves the
    temporary array."""
    work = np.right_shift(keys, 31, out=work)
    np.bitwise_and(work, np.int32(0x7FFFFFFF), out=work)
    return np.bitwise_xor(keys, work, out=keys)


def _order_positions(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For episodes of these lengths: the sorted positions to read, (E, 2 + 2k) (min, max, then the
    low and high neighbour of each of the k quantiles), and the interpolation weights (E, k)."""
    last = lengths[:, None] - 1
    pos = np.array(list(QUANTILES.values()))[None, :] * last
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, last)
    return np.concatenate([np.zeros_like(last), last, lo, hi], axis=1), pos - lo


def episode_stats(columns: np.ndarray, ordered: np.ndarray, lengths: np.ndarray | list[int],
                  scratch: Scratch | None = None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Exact statistics of each episode of a block of episodes stored back to back.

    `columns` is (F, N) and C-contiguous: one row per feature dimension, finite values, sorted in
    their own dtype (a float32 sort orders exactly as a float64 one would, at a third of the
    cost); when the episodes are all as long, they are sorted in place. `ordered` is (S, N)
    float64: rows already in order within each episode (an index written as a range, a
    constant), which are not sorted. `lengths` (E,) sum to N.

    Returns the statistics as (E, F + S) arrays (`count` (E, 1)), the values `vector_stats` gives
    for each episode, and each episode's sum of squared deviations (E, F + S). The whole block is
    reduced by a handful of numpy calls, whatever the number of episodes in it; its work arrays
    come from `scratch`.
    """
    scratch = scratch or Scratch()
    lengths = np.asarray(lengths, dtype=np.int64)
    n_eps, t_max = len(lengths), int(lengths.max())
    f, s = columns.shape[0], ordered.shape[0]
    # (row, episode, frame) blocks; shorter episodes are padded with +inf, which sorts after every
    # finite value, so after the sort the padding is still at `pad`, where it becomes 0
    if int(lengths.min()) == t_max:
        pad = None
        own = columns.reshape(f, n_eps, t_max)
        idx = ordered.reshape(s, n_eps, t_max)
    else:
        pad = np.arange(t_max) >= lengths[:, None]
        own = scratch.get("padded", (f, n_eps, t_max), columns.dtype)
        own[:, pad] = np.inf
        own[:, ~pad] = columns
        idx = np.full((s, n_eps, t_max), np.inf)
        idx[:, ~pad] = ordered
    if own.dtype == np.float32:  # sorted as integers in the same order: faster than a float sort
        work = scratch.get("flip", own.shape, np.int32)
        keys = _flip_negative(own.view(np.int32), work)
        keys.sort(axis=-1)
        _flip_negative(keys, work)
    else:
        own.sort(axis=-1)
    at, frac = _order_positions(lengths)
    k = frac.shape[1]
    picked = np.concatenate([np.take_along_axis(own, at[None], axis=-1),
                             np.take_along_axis(idx, at[None], axis=-1)], dtype=np.float64)
    if pad is not None:
        own[:, pad] = 0
        idx[:, pad] = 0
    n = lengths.astype(np.float64)
    mean = np.concatenate([own.sum(-1, dtype=np.float64), idx.sum(-1)]) / n  # (F + S, E)
    m2 = np.empty_like(mean)
    # deviations in float64, a few rows at a time so that they stay in the cache
    step = max(1, DEVIATION_CHUNK_VALUES // (n_eps * t_max))
    for offset, block in ((0, own), (f, idx)):
        for a in range(0, len(block), step):
            part = block[a:a + step]
            dev = np.subtract(part, mean[offset + a:offset + a + len(part), :, None],
                              out=scratch.get("deviations", part.shape, np.float64))
            if pad is not None:
                dev[:, pad] = 0
            m2[offset + a:offset + a + len(part)] = np.vecdot(dev, dev)
    lo, hi = picked[..., 2:2 + k], picked[..., 2 + k:]
    qs = lo + frac * (hi - lo)
    out = {"min": picked[..., 0].T, "max": picked[..., 1].T, "mean": mean.T, "std": np.sqrt(m2 / n).T,
           "count": lengths[:, None].copy()}
    out.update({key: qs[..., i].T for i, key in enumerate(QUANTILES)})
    return out, m2.T


class RunningStats:
    """Streaming statistics of frames: exact moments and extremes, reservoir quantiles.

    A frame has `width` values: the first `sorted_width` (kept as `dtype`) are sorted per episode,
    the rest are float64 and already in order within each episode (see `episode_stats`).
    """

    def __init__(self, width: int, rng: np.random.Generator, reservoir_rows: int = RESERVOIR_ROWS,
                 sorted_width: int | None = None, dtype: type = np.float64):
        self.width = width
        self.sorted_width = width if sorted_width is None else sorted_width
        self.dtype = np.dtype(dtype)
        self.count = 0
        self.mean = np.zeros(width)
        self.m2 = np.zeros(width)
        self.min = np.full(width, np.inf)
        self.max = np.full(width, -np.inf)
        self._rng = rng
        # one contiguous row per column: the final quantiles partition rows, not strides
        self._own = pool_empty((self.sorted_width, reservoir_rows), self.dtype)
        self._ordered = pool_empty((width - self.sorted_width, reservoir_rows), np.float64)
        self._capacity = reservoir_rows
        self._scratch = Scratch()
        self.episode_quantiles = QuantileMean()

    def update(self, values: np.ndarray) -> None:
        """Add (N, width) frames (finite values) as one episode."""
        frames = np.asarray(values, dtype=np.float64).reshape(len(values), self.width)
        if len(frames) == 0:
            return
        self.add_episodes([frames[:, :self.sorted_width]], list(frames[:, self.sorted_width:].T), [len(frames)])

    def add_episodes(self, frames: list[np.ndarray], ordered: list[np.ndarray], lengths: list[int] | np.ndarray
                     ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Add a block of episodes stored back to back and return their `episode_stats`.

        `frames` are (n, w) arrays side by side (one per feature, widths summing to
        `sorted_width`), `ordered` the (n,) columns in order within each episode. The block's
        moments are merged from its episodes' (Chan's parallel formula), so no frame is reduced
        twice."""
        n = len(ordered[0]) if ordered else len(frames[0])
        columns = self._scratch.get("columns", (self.sorted_width, n), self.dtype)
        row = 0
        for part in frames:
            columns[row:row + part.shape[1]] = part.T
            row += part.shape[1]
        in_order = self._scratch.get("ordered", (len(ordered), n), np.float64)
        for i, col in enumerate(ordered):
            in_order[i] = col
        self._sample(columns, in_order, n)  # before the sort: the reservoir samples frames
        stats, m2 = episode_stats(columns, in_order, lengths, self._scratch)
        self.episode_quantiles.add(stats, stats["count"][:, 0])
        ep_n = stats["count"][:, 0].astype(np.float64)
        mean = ep_n @ stats["mean"] / n
        m2_block = m2.sum(0) + ep_n @ np.square(stats["mean"] - mean)
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2_block + delta**2 * (self.count * n / total)
        self.min = np.minimum(self.min, stats["min"].min(0))
        self.max = np.maximum(self.max, stats["max"].max(0))
        self.count = total
        return stats, m2

    def _sample(self, columns: np.ndarray, ordered: np.ndarray, n: int) -> None:
        # Algorithm R: frame number i (0-based, over the whole stream) replaces a random slot with
        # probability capacity / (i + 1) once the reservoir is full.
        take = min(max(0, self._capacity - self.count), n)
        if take:
            self._own[:, self.count:self.count + take] = columns[:, :take]
            self._ordered[:, self.count:self.count + take] = ordered[:, :take]
        if take == n:
            return
        seen = self.count + take + np.arange(n - take)
        slot = self._rng.integers(0, seen + 1)
        kept = np.flatnonzero(slot < self._capacity)
        slot = slot[kept]
        # a slot drawn twice in this block keeps the later frame, as if frames came one at a time
        order = np.arange(len(slot))
        latest = np.full(self._capacity, -1)
        np.maximum.at(latest, slot, order)
        last = np.flatnonzero(latest[slot] == order)
        frames, slot = take + kept[last], slot[last]
        self._own[:, slot] = np.take(columns, frames, axis=1)
        self._ordered[:, slot] = np.take(ordered, frames, axis=1)

    def lerobot_result(self) -> dict[str, np.ndarray]:
        """`result()` with the quantiles LeRobot computes (`QuantileMean` of the episodes')."""
        out = {"min": self.min.copy(), "max": self.max.copy(), "mean": self.mean.copy(),
               "std": np.sqrt(np.maximum(self.m2 / max(self.count, 1), 0.0)),
               "count": np.array([self.count], dtype=np.int64)}
        out.update(self.episode_quantiles.result())
        return out

    def result(self) -> dict[str, np.ndarray]:
        """Exact moments and extremes, reservoir quantiles of the pooled frames."""
        filled = min(self.count, self._capacity)
        out = {"min": self.min.copy(), "max": self.max.copy(), "mean": self.mean.copy(),
               "std": np.sqrt(np.maximum(self.m2 / max(self.count, 1), 0.0)),
               "count": np.array([self.count], dtype=np.int64)}
        # a column that never changed has its one value at every quantile: no need to select
        varies = self.min != self.max
        qs = np.repeat(self.min[None], len(QUANTILES), axis=0)
        at, frac = _order_positions(np.array([filled]))
        at, frac, kth = at[0], frac[0], np.unique(at[0])
        picked = np.empty((self.width, len(at)))
        for first, sample in ((0, self._own), (self.sorted_width, self._ordered)):
            rows = sample[:, :filled]
            # float32 rows are selected as integers in the same order: integer selection runs
            # faster than float selection, which has to place NaNs
            keys = rows.view(np.int32) if rows.dtype == np.float32 else rows
            if keys is not rows:
                work = self._scratch.get("flip", keys.shape, np.int32)
                _flip_negative(keys, work)
            got = np.zeros((len(rows), len(at)), keys.dtype)
            # each row partitioned in place: a copy of the reservoir would be fresh memory to
            # fault in; the rows keep their values, in another order
            for r in np.flatnonzero(varies[first:first + len(rows)]):
                keys[r].partition(kth)
                got[r] = keys[r, at]
            if keys is not rows:
                _flip_negative(keys, work)
                got = _flip_negative(got).view(np.float32)
            picked[first:first + len(rows)] = got
        lo, hi = picked[:, 2:2 + len(frac)], picked[:, 2 + len(frac):]
        qs[:, varies] = (lo + frac * (hi - lo)).T[:, varies]
        out.update({k: qs[i] for i, k in enumerate(QUANTILES)})
        return out


def to_json(stats: dict[str, np.ndarray]) -> dict[str, list]:
    """JSON-ready nested lists (floats, and an integer `count`)."""
    return {k: (np.asarray(v).astype(np.int64) if k == "count" else np.asarray(v, np.float64)).tolist()
            for k, v in stats.items()}
