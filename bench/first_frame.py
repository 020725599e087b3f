"""First frames against the rest: each episode's decoded first frame, compared with its render.

    python bench/first_frame.py OUT_DIR     # a run with --render: episodes/data and dataset/

For every episode of the dataset and every camera, the mean absolute pixel error between each
decoded video frame and the frame the episode file holds (what the renderer gave the encoder).
Printed per camera: the first frame's error, the median frame's error over the episode, their
ratio (first / median), and how many episodes have a first frame worse than their median. The
issue's target: no first frame worse than its episode's median. The same against the median of
the next NEAR frames, which show nearly the same picture: the median over a whole episode mixes
in other content (a wrist camera close to a plain surface codes better than one seeing a whole
textured table). And the first frame's error through the conversion to yuv420p and back alone,
uncoded, and in how many episodes that alone is worse than the episode's median: no encoder
setting can bring those first frames under their median.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq

from blueprint_pipeline.dataset import layout
from blueprint_pipeline.dataset.features import IMAGE_PREFIX
from blueprint_pipeline.sim.episode_io import episode_filename, load_episode


NEAR = 9


def decoded_frames(path: Path) -> dict[float, np.ndarray]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return {round(float(f.pts * s.time_base), 4): f.to_ndarray(format="rgb24") for f in c.decode(s)}


def uncoded(frame: np.ndarray) -> np.ndarray:
    """The frame through yuv420p and back, as the encoder's input and a reader's output convert it."""
    vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
    return vf.reformat(format="yuv420p").to_ndarray(format="rgb24")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir", type=Path)
    args = ap.parse_args()
    root = args.out_dir / "dataset"
    meta = [row for p in sorted((root / layout.EPISODES_DIR).glob("*/*.parquet")) for row in pq.read_table(p).to_pylist()]
    if not meta:
        print(f"error: no dataset episodes under {root}", file=sys.stderr)
        return 2
    videos: dict[str, dict[float, np.ndarray]] = {}
    rows: dict[str, list[tuple[float, float, float, float]]] = {}
    for row in meta:
        rec = load_episode(str(args.out_dir / "episodes/data" / episode_filename(row["source_episode_index"])))
        for cam, frames in rec.images.items():
            key = IMAGE_PREFIX + cam
            rel = layout.video_path(key, row[f"videos/{key}/chunk_index"], row[f"videos/{key}/file_index"])
            if rel not in videos:
                videos[rel] = decoded_frames(root / rel)
            t0 = row[f"videos/{key}/from_timestamp"]
            errs = [np.abs(videos[rel][round(t0 + k / rec.fps, 4)].astype(int) - frames[k]).mean()
                    for k in range(len(frames))]
            floor = float(np.abs(uncoded(frames[0]).astype(int) - frames[0]).mean())
            rows.setdefault(cam, []).append((errs[0], float(np.median(errs)), float(np.median(errs[1:NEAR + 1])),
                                             floor))
    print(f"{'camera':10s} {'episodes':>8s} {'first':>7s} {'median':>7s} {'first/median':>12s} {'first worse':>11s} "
          f"{'first/next ' + str(NEAR):>13s} {'worse than next':>15s} {'first uncoded':>13s} {'worse uncoded':>13s}")
    for cam, quads in sorted(rows.items()):
        first, median, near, floor = np.array(quads).T
        print(f"{cam:10s} {len(quads):8d} {first.mean():7.2f} {median.mean():7.2f} {np.mean(first / median):12.2f} "
              f"{int(np.sum(first > median)):11d} {np.mean(first / near):13.2f} {int(np.sum(first > near)):15d} "
              f"{floor.mean():13.2f} {int(np.sum(floor > median)):13d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
