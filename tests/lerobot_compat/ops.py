"""Run the real lerobot on a dataset this project wrote (run inside a venv with lerobot and this
project installed; `run.sh` builds those venvs; `make test-lerobot` runs it).

Operations, each reported PASS or FAIL: load and iterate, delta_timestamps at the default
tolerance, LeRobot's own statistics aggregate against stats.json, merge with a dataset recorded by
this lerobot in both orders, delete_episodes, split, 20 ACT training steps on the CPU, and
lerobot-eval in our evaluation environment (evaluate/lerobot_plugin). Exit status 1 when any
operation failed.

    python tests/lerobot_compat/ops.py WORK_DIR
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import traceback
from importlib.metadata import version
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for the episode fixtures
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from test_dataset_fixtures import make_episode  # noqa: E402

from blueprint_pipeline.dataset import layout  # noqa: E402
from blueprint_pipeline.dataset.check import check_dataset  # noqa: E402
from blueprint_pipeline.dataset.lerobot_compat import convert, reattach_extras  # noqa: E402
from blueprint_pipeline.dataset.writer import DatasetWriter  # noqa: E402
from lerobot.datasets.compute_stats import aggregate_stats  # noqa: E402
from lerobot.datasets.dataset_tools import delete_episodes, merge_datasets, split_dataset  # noqa: E402
from lerobot.datasets.lerobot_dataset import LeRobotDataset  # noqa: E402

LEROBOT = version("lerobot")
OLD = LEROBOT.startswith("0.4.")
# lerobot 0.4's torchcodec pick needs FFmpeg 8 shared libraries from the system; decode with PyAV there
BACKEND = {"video_backend": "pyav"} if OLD else {}
TASKS = ["move the arm over the red box", "move the arm back"]
RESULTS: list[tuple[str, bool, str]] = []


def step(name: str):
    def wrap(fn):
        try:
            detail = fn() or ""
            RESULTS.append((name, True, detail))
        except Exception as exc:  # noqa: BLE001 - every failure is a result to report
            traceback.print_exc()
            RESULTS.append((name, False, f"{type(exc).__name__}: {str(exc)[:300]}"))
        print(f"{'PASS' if RESULTS[-1][1] else 'FAIL'} {name}: {RESULTS[-1][2]}", flush=True)
        return fn
    return wrap


def episodes(n: int, seed: int):
    return [make_episode(i, frames=30, cameras=("top",), task=TASKS[i % 2], seed=seed) for i in range(n)]


def write_ours(root: Path, n: int = 4) -> None:
    writer = DatasetWriter(root)
    for rec in episodes(n, seed=0):
        writer.add_episode(rec)
    writer.finish()


def record_with_lerobot(root: Path, ours: Path, n: int = 2) -> None:
    """A dataset recorded by this lerobot through its own API, with our features.

    A camera's `camera.*` info keys (its intrinsics) are part of its feature: a user recording
    data to merge with ours gives them, as merging frames of different cameras would be wrong.
    LeRobot 0.5+ adds what it probes from the video to the info it is given; 0.4 probes only when
    it is given none, so there it gets our whole info (converted to the 0.4 layout)."""
    info = json.loads((ours / layout.INFO_PATH).read_text())
    features = {k: {kk: vv for kk, vv in ft.items() if kk != "info"} for k, ft in info["features"].items()
                if k not in layout.INDEX_FEATURES}
    for k, ft in features.items():
        ft["shape"] = tuple(ft["shape"])
        given = info["features"][k].get("info") or {}
        if not OLD:
            given = {kk: vv for kk, vv in given.items() if kk.startswith("camera.")}
        if given:
            ft["info"] = given
    ds = LeRobotDataset.create("local/recorded", fps=info["fps"], root=root, robot_type=info["robot_type"],
                               features=features, use_videos=True)
    for rec in episodes(n, seed=7):
        cols = {"observation.state": rec.state, "observation.velocity": rec.velocity,
                "observation.ee_pose": rec.ee_pose, "observation.environment_state": rec.task_state,
                "observation.contacts": rec.contact, "action": rec.action}
        for k in range(rec.length):
            frame = {key: np.asarray(v, np.float32).reshape(rec.length, -1)[k] for key, v in cols.items()
                     if key in features}
            frame["next.reward"] = np.array([rec.reward[k]], np.float32)
            frame["next.done"] = np.array([bool(rec.done[k])])
            frame["next.success"] = np.array([bool(rec.success_flags[k])])
            frame["observation.images.top"] = rec.images["top"][k]
            frame["task"] = rec.task_description
            ds.add_frame(frame)
        ds.save_episode()
    ds.finalize()


def load(root: Path, repo: str, **kw) -> LeRobotDataset:
    return LeRobotDataset(repo, root=root, **BACKEND, **kw)


def main(work: Path) -> int:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    ours, recorded = work / "ours", work / "recorded"
    write_ours(ours)
    problems = check_dataset(ours)
    if problems:
        print("our checker:", problems)
        return 1
    print(f"lerobot {LEROBOT}, python {sys.version.split()[0]}, av {version('av')}, torch {version('torch')}")

    @step("load and iterate")
    def _():
        ds = load(ours, "local/ours")
        for i in range(len(ds)):
            item = ds[i]
        assert tuple(item["observation.images.top"].shape) == (3, 64, 64)
        return f"{ds.num_episodes} episodes, {len(ds)} frames"

    @step("delta_timestamps (default tolerance)")
    def _():
        fps = 30
        ds = load(ours, "local/ours", delta_timestamps={"action": [k / fps for k in range(5)],
                                                        "observation.images.top": [-1 / fps, 0.0],
                                                        "observation.state": [-2 / fps, -1 / fps, 0.0]})
        for i in range(0, len(ds), 7):
            item = ds[i]
        assert tuple(item["action"].shape)[0] == 5 and tuple(item["observation.images.top"].shape)[0] == 2
        return "action x5, image x2, state x3"

    @step("lerobot's aggregate_stats of our per-episode stats equals stats.json")
    def _():
        import pandas as pd  # as lerobot reads the episodes metadata

        df = pd.concat([pd.read_parquet(p) for p in sorted((ours / layout.EPISODES_DIR).glob("*/*.parquet"))])
        per_ep = []
        for row in df.to_dict(orient="records"):
            st: dict[str, dict] = {}
            for col, val in row.items():
                if col.startswith("stats/"):
                    _, feat, stat = col.split("/")
                    arr = np.asarray(val, dtype=np.float64) if not isinstance(val, np.ndarray) or val.dtype != object \
                        else np.array([np.asarray(x).reshape(-1)[0] for x in val], np.float64)
                    if info_dtype(ours, feat) == "video" and stat != "count":
                        arr = arr.reshape(-1, 1, 1)
                    st.setdefault(feat, {})[stat] = arr
            per_ep.append(st)
        agg = aggregate_stats(per_ep)
        ours_stats = json.loads((ours / layout.STATS_PATH).read_text())
        worst = 0.0
        for feat, s in ours_stats.items():
            for stat in ("min", "max", "mean", "std", "q01", "q10", "q50", "q90", "q99"):
                d = np.abs(np.asarray(s[stat], np.float64).reshape(-1) - np.asarray(agg[feat][stat], np.float64).reshape(-1))
                worst = max(worst, float(d.max()))
        assert worst < 1e-6, worst
        return f"largest difference {worst:.2g}"

    src = ours
    if OLD:
        src = work / "ours-0.4"
        shutil.copytree(ours, src)
        convert(src, "0.4")

    @step("record a dataset with this lerobot")
    def _():
        record_with_lerobot(recorded, src)
        return f"{load(recorded, 'local/recorded').num_episodes} episodes"

    for name, order in (("merge ours + recorded", (src, recorded)), ("merge recorded + ours", (recorded, src))):
        @step(name + (" (ours converted to the 0.4 layout)" if OLD else ""))
        def _(order=order, name=name):
            out = work / name.replace(" ", "_").replace("+", "and")
            merged = merge_datasets([load(order[0], "local/a"), load(order[1], "local/b")],
                                    output_repo_id="local/merged", output_dir=out)
            ds = load(out, "local/merged")
            for i in range(0, len(ds), 11):
                ds[i]
            assert ds.num_episodes == 6, ds.num_episodes
            return f"{ds.num_episodes} episodes, {len(ds)} frames; {merged.meta.total_frames} frames"

    @step("delete_episodes")
    def _():
        out = work / "deleted"
        delete_episodes(load(ours, "local/ours"), episode_indices=[1], output_dir=out, repo_id="local/deleted")
        ds = load(out, "local/deleted")
        ds[len(ds) - 1]
        found, total = reattach_extras(out, [ours])
        assert (ds.num_episodes, found, total) == (3, 3, 3), (ds.num_episodes, found, total)
        return f"{ds.num_episodes} episodes; per-episode fields found again by fingerprint: {found}/{total}"

    @step("split")
    def _():
        out = work / "split"
        parts = split_dataset(load(ours, "local/ours"), splits={"train": [0, 1, 2], "val": [3]}, output_dir=out)
        sizes = {k: v.num_episodes for k, v in parts.items()}
        assert sizes == {"train": 3, "val": 1}, sizes
        found, total = reattach_extras(parts["val"].root, [ours])
        assert found == total == 1
        return f"{sizes}; val's per-episode fields found again: {found}/{total}"

    @step("train ACT 20 steps (CPU)")
    def _():
        out = work / "train_act"
        cmd = [str(Path(sys.executable).with_name("lerobot-train")), "--dataset.repo_id=local/ours",
               f"--dataset.root={ours}", "--policy.type=act", "--policy.device=cpu",
               "--policy.push_to_hub=false", "--policy.pretrained_backbone_weights=null", "--steps=20",
               "--batch_size=2", "--num_workers=0", "--log_freq=10", "--save_checkpoint=false",
               "--wandb.enable=false", f"--output_dir={out}",
               *([f"--dataset.video_backend={BACKEND['video_backend']}"] if BACKEND else [])]
        run = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        if run.returncode != 0:
            raise RuntimeError(run.stderr[-1500:] or run.stdout[-1500:])
        return "20 steps"

    @step("lerobot-eval and blueprint eval --policy in our environment (untrained ACT, 2 held-out episodes)")
    def _():
        return eval_in_our_environment(work / "eval_env")

    failed = [r for r in RESULTS if not r[1]]
    print(f"\nlerobot {LEROBOT}: {len(RESULTS) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def eval_in_our_environment(work: Path) -> str:
    """lerobot-eval finds our environment through the plugin, builds it, runs a policy with the
    environment's features in it and reads success from it (an untrained ACT: the plumbing, not
    the policy, is under test)."""
    import torch
    from lerobot.envs.utils import env_to_policy_features
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.act.modeling_act import ACTPolicy
    from lerobot.policies.factory import make_pre_post_processors

    import blueprint_pipeline.evaluate.lerobot_plugin as plugin
    from blueprint_pipeline.testing.tabletop import tabletop_scene, write_inputs

    shutil.rmtree(work, ignore_errors=True)
    scene = tabletop_scene(with_clutter=True)
    write_inputs(str(work / "out"), *scene)
    task = scene[2].tasks[0].task_id
    features = env_to_policy_features(plugin.BlueprintEnvConfig(out_dir=str(work / "out"), task=task))
    inputs = {k: v for k, v in features.items() if k != "action"}
    cfg = ACTConfig(input_features=inputs, output_features={"action": features["action"]}, device="cpu",
                    pretrained_backbone_weights=None, dim_model=64, dim_feedforward=128, chunk_size=10,
                    n_action_steps=10)
    stats = {k: {"mean": torch.zeros(v.shape), "std": torch.ones(v.shape), "min": -torch.ones(v.shape),
                 "max": torch.ones(v.shape)} for k, v in features.items()}
    pre, post = make_pre_post_processors(cfg, dataset_stats=stats)
    for part in (ACTPolicy(cfg), pre, post):
        part.save_pretrained(work / "policy")
    cmd = [str(Path(sys.executable).with_name("lerobot-eval")),
           "--env.discover_packages_path=blueprint_pipeline.evaluate.lerobot_plugin", "--env.type=blueprint",
           f"--env.out_dir={work / 'out'}", f"--env.task={task}", "--env.episode_length=30",
           f"--policy.path={work / 'policy'}", "--policy.device=cpu", "--eval.n_episodes=2", "--eval.batch_size=1",
           f"--output_dir={work / 'eval'}"]
    run = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if run.returncode != 0:
        raise RuntimeError(run.stderr[-1500:] or run.stdout[-1500:])
    info = json.loads((work / "eval" / "eval_info.json").read_text())
    overall = info.get("overall") or info.get("aggregated")
    assert overall["n_episodes"] == 2, overall
    # the same checkpoint through `blueprint eval --policy` (our summary, with failure reasons)
    ours = subprocess.run([str(Path(sys.executable).with_name("blueprint")), "eval", str(work / "out"),
                           "--policy", str(work / "policy"), "--episodes", "2", "--max-steps", "30"],
                          capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if ours.returncode != 0:
        raise RuntimeError(ours.stderr[-1500:] or ours.stdout[-1500:])
    summary = json.loads((work / "out" / "eval" / "summary.json").read_text())
    assert summary["episodes"] == 2 and summary["policy"].startswith("lerobot act"), summary
    return (f"lerobot-eval: pc_success {overall['pc_success']} over {overall['n_episodes']} episodes; "
            f"blueprint eval: {summary['successes']}/2, {summary['failure_reasons']} (untrained)")


def info_dtype(root: Path, feature: str) -> str:
    return json.loads((root / layout.INFO_PATH).read_text())["features"].get(feature, {}).get("dtype", "")


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
