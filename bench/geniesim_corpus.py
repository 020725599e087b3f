"""Genie Sim bundles of the scene corpus: every scene of `blueprint_pipeline.testing.corpus` and the
meshed kitchen through the scene, simready, usd and geniesim stages, each native bundle checked
with `blueprint geniesim check`'s rules (geniesim/native/check.py).

    python bench/geniesim_corpus.py [--only NAME ...]

Per scene: the pick tasks bundled, the tasks left out with their reasons (bundle.json
`skipped_tasks`), and the check's verdict with its first problems. Totals: bundles that pass,
tasks bundled and left out. The figures are in docs/geniesim.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

from blueprint_pipeline.contract import RunOptions, StageContext
from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.geniesim.native.check import check_bundle
from blueprint_pipeline.runner import run_pipeline
from blueprint_pipeline.testing.corpus import corpus
from blueprint_pipeline.testing.mesh_assets import write_meshed_kitchen


def bundle_of(name: str, manifest_path: Path, root: Path) -> Path:
    out = root / name
    ctx = StageContext(manifest_url=str(manifest_path), out_url=str(out), options=RunOptions.create())
    for stage in ("scene", "simready", "usd", "geniesim"):
        run_pipeline(ctx, only=stage)
    return out / "geniesim" / "native"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None, help="scene names to run")
    args = ap.parse_args()
    passing, bundled, left_out, reasons = 0, 0, 0, Counter()
    with tempfile.TemporaryDirectory(prefix="bp-geniesim-corpus-") as tmp:
        root = Path(tmp)
        meshed = Path(write_meshed_kitchen(str(root)))  # its meshes under root/assets/
        scenes = [(n, m) for n, m in [*corpus(), ("meshed_kitchen", None)] if not args.only or n in args.only]
        print(f"{'scene':26s} {'tasks':>5s} {'left out':>8s}  check")
        for name, manifest in scenes:
            path = meshed if manifest is None else root / f"{name}.json"
            if manifest is not None:
                path.write_text(json.dumps(manifest))
            native = bundle_of(name, path, root)
            info = json.loads((native / "bundle.json").read_text())
            bundled += len(info["tasks"])
            left_out += len(info["skipped_tasks"])
            reasons.update(s["reason"] for s in info["skipped_tasks"])
            try:
                check_bundle(native)
                verdict = "ok"
                passing += 1
            except InvalidInputError as exc:
                problems = [p.message for p in getattr(exc, "problems", [])]
                verdict = f"{len(problems)} problem(s): " + "; ".join(m[:90] for m in problems[:2])
            print(f"{name:26s} {len(info['tasks']):5d} {len(info['skipped_tasks']):8d}  {verdict}", flush=True)
    print(f"bundles passing the check: {passing}/{len(scenes)}; pick tasks bundled {bundled}, left out {left_out}")
    for reason, n in reasons.most_common():
        print(f"  left out, {n}: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
