"""Make a written dataset fit a given LeRobot release, and find this project's per-episode fields
again after LeRobot's tools have edited a dataset.

Two things differ between LeRobot releases in what they write, and LeRobot's merge
(`aggregate_datasets`) refuses to mix them:

- per-episode statistics in `meta/episodes`: LeRobot 0.4 stores `min` / `max` of a bool feature
  as bool lists (and of int64 features as int64 lists); 0.5 and later store doubles. Parquet
  readers turn the columns into numpy arrays, and pyarrow cannot put bool and double arrays in
  one column ("Cannot mix NumPy dtypes float64 and bool"). int64 and double mix freely.
- a video feature's `info`: 0.4 writes `video.is_depth_map`; 0.5 and later write `is_depth_map`
  and the encoder settings (`video.g`, `video.crf`, `video.preset`, `video.fast_decode`,
  `video.video_backend`, `video.extra_options`). 0.4's merge compares features exactly.

The writer produces the current layout ("0.6"); `convert(root, "0.4")` rewrites a dataset in place
to 0.4's layout (and `convert(root, "0.6")` back). Every LeRobot release reads both layouts.

This project's per-episode fields (source_episode_index, task_id, success, failure_reason) are
columns of `meta/episodes`, which LeRobot's merge keeps (filling them with nulls for episodes
that lack them, so integers become doubles) and its delete_episodes and split drop. The writer
also puts them in the sidecar `meta/blueprint_episodes.parquet`, with a fingerprint of each
episode's frame values (`writer.episode_fingerprint`): LeRobot's tools renumber episodes but keep
those values, so `reattach_extras(new_root, [old_roots])` finds each episode of an edited dataset
in the original datasets' sidecars and writes the sidecar of the new one.

    python -m blueprint_pipeline.dataset.lerobot_compat convert DIR --to 0.4
    python -m blueprint_pipeline.dataset.lerobot_compat reattach NEW_DIR ORIGINAL_DIR [...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from blueprint_pipeline.dataset import layout
from blueprint_pipeline.dataset.writer import episode_fingerprint

LAYOUTS = ("0.4", "0.6")
ENCODER_INFO_KEYS = ("video.g", "video.crf", "video.preset", "video.fast_decode", "video.video_backend",
                     "video.extra_options")


def _replace(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def _video_info_for(info: dict, target: str, encoder: dict) -> dict:
    out = {k: v for k, v in info.items() if k not in ("is_depth_map", "video.is_depth_map", *ENCODER_INFO_KEYS)}
    depth = bool(info.get("is_depth_map", info.get("video.is_depth_map", False)))
    if target == "0.4":
        out["video.is_depth_map"] = depth
    else:
        out.update(encoder)
        out["is_depth_map"] = depth
    return out


def convert(root: str | Path, target: str) -> None:
    """Rewrite the dataset at `root` in place to the layout LeRobot `target` ("0.4" or "0.6") writes.

    Going to 0.4 drops the encoder settings from the video info; they are kept in
    `meta/blueprint_video_encoder.json`, from which going back to 0.6 restores them."""
    if target not in LAYOUTS:
        raise ValueError(f"unknown layout {target!r}; use one of {', '.join(LAYOUTS)}")
    root = Path(root)
    info_path = root / layout.INFO_PATH
    info = json.loads(info_path.read_text(encoding="utf-8"))
    features: dict[str, dict] = info["features"]
    saved_path = root / "meta/blueprint_video_encoder.json"
    saved = json.loads(saved_path.read_text(encoding="utf-8")) if saved_path.is_file() else {}
    for key, ft in features.items():
        if ft["dtype"] == "video" and isinstance(ft.get("info"), dict):
            encoder = {k: ft["info"][k] for k in ENCODER_INFO_KEYS if k in ft["info"]}
            if target == "0.4" and encoder:
                saved[key] = encoder
            ft["info"] = _video_info_for(ft["info"], target, encoder or saved.get(key, {}))
    if target == "0.4" and saved:
        saved_path.write_text(json.dumps(saved, indent=4) + "\n", encoding="utf-8")
    # per-episode min / max: 0.4 keeps the feature's own type for bool and int64 features
    leaf = {}
    for key, ft in features.items():
        if ft["dtype"] in ("bool", "int64"):
            own = pa.bool_() if ft["dtype"] == "bool" else pa.int64()
            leaf[key] = own if target == "0.4" else pa.float64()
    for path in sorted((root / layout.EPISODES_DIR).glob("chunk-*/file-*.parquet")):
        table = pq.read_table(path)
        for key, typ in leaf.items():
            for stat in ("min", "max"):
                name = f"stats/{key}/{stat}"
                if name in table.column_names:
                    i = table.column_names.index(name)
                    table = table.set_column(i, name, table.column(name).cast(pa.list_(typ)))
        _replace(path, lambda tmp, t=table: pq.write_table(t, tmp))
    _replace(info_path, lambda tmp: tmp.write_text(json.dumps(info, indent=4) + "\n", encoding="utf-8"))


def _frame_columns(root: Path, features: dict[str, dict]) -> dict[str, np.ndarray]:
    """Every non-index, non-video feature of the whole dataset, as the writer held it per episode."""
    own = [k for k, ft in features.items() if ft["dtype"] != "video" and k not in layout.INDEX_FEATURES]
    parts: dict[str, list[np.ndarray]] = {k: [] for k in [*own, "episode_index"]}
    for path in sorted((root / "data").glob("chunk-*/file-*.parquet")):
        table = pq.read_table(path, columns=list(parts))
        for k in parts:
            col = table.column(k).combine_chunks()
            if pa.types.is_fixed_size_list(col.type) or pa.types.is_list(col.type):
                width = int(features[k]["shape"][0])
                arr = col.flatten().to_numpy(zero_copy_only=False).reshape(len(col), width)
            else:
                arr = col.to_numpy(zero_copy_only=False)
            if k != "episode_index":
                arr = arr.astype(np.dtype(features[k]["dtype"]), copy=False)
            parts[k].append(arr)
    return {k: np.concatenate(v) for k, v in parts.items()}


def fingerprints(root: str | Path) -> dict[int, str]:
    """episode_index -> fingerprint of that episode's frames, computed from the data files."""
    root = Path(root)
    features = json.loads((root / layout.INFO_PATH).read_text(encoding="utf-8"))["features"]
    cols = _frame_columns(root, features)
    ep = cols.pop("episode_index")
    order = np.argsort(ep, kind="stable")
    ep_sorted = ep[order]
    starts = np.flatnonzero(np.r_[True, ep_sorted[1:] != ep_sorted[:-1]])
    ends = np.r_[starts[1:], len(ep_sorted)]
    out = {}
    for a, b in zip(starts, ends, strict=True):
        rows = order[a:b]
        out[int(ep_sorted[a])] = episode_fingerprint({k: np.ascontiguousarray(v[rows]) for k, v in cols.items()})
    return out


def reattach_extras(root: str | Path, sources: list[str | Path]) -> tuple[int, int]:
    """Write `meta/blueprint_episodes.parquet` for the dataset at `root` (made by LeRobot's tools
    from the datasets at `sources`), matching episodes by fingerprint. Returns (found, episodes);
    an episode found in no source sidecar (recorded by LeRobot, say) gets nulls."""
    root = Path(root)
    known: dict[str, dict] = {}
    schema = layout.EXTRAS_SCHEMA
    for src in sources:
        path = Path(src) / layout.EXTRAS_PATH
        if path.is_file():
            table = pq.read_table(path)
            schema = pa.unify_schemas([schema, table.schema])  # the cameras' columns, when any has them
            for row in table.to_pylist():
                known.setdefault(row["fingerprint"], row)
    rows = []
    found = 0
    for ep, fp in sorted(fingerprints(root).items()):
        src = known.get(fp)
        found += src is not None
        rows.append({name: (src or {}).get(name) for name in schema.names} | {"episode_index": ep, "fingerprint": fp})
    table = pa.Table.from_pylist(rows, schema=schema)
    _replace(root / layout.EXTRAS_PATH, lambda tmp: pq.write_table(table, tmp))
    return found, len(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m blueprint_pipeline.dataset.lerobot_compat",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("convert", help="rewrite a dataset in place to the layout a LeRobot release writes")
    c.add_argument("root")
    c.add_argument("--to", choices=LAYOUTS, required=True)
    r = sub.add_parser("reattach", help="write the per-episode sidecar of a dataset edited by LeRobot's tools")
    r.add_argument("root")
    r.add_argument("sources", nargs="+")
    args = parser.parse_args(argv)
    if args.command == "convert":
        convert(args.root, args.to)
        print(f"{args.root}: LeRobot {args.to} layout")
    else:
        found, total = reattach_extras(args.root, args.sources)
        print(f"{args.root}: {found} of {total} episodes found in the sources' sidecars")
    return 0


if __name__ == "__main__":
    sys.exit(main())
