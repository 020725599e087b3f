"""Episode files -> a LeRobot v3.0 dataset in a local staging folder (in this process or in the
watched worker of `dataset.watchdog`, which is why it is not in `dataset.stage`)."""

from __future__ import annotations

from pathlib import Path

from blueprint_pipeline.dataset.writer import DatasetWriter, WriterOptions
from blueprint_pipeline.errors import InvalidInputError, Problem
from blueprint_pipeline.sim.episode_io import iter_episode_files, load_episode

MAX_LISTED_SKIPS = 20


def write_dataset(episodes_dir_url: str, staging: Path, options: WriterOptions, keep_failed: bool,
                  progress=None) -> tuple[dict, dict]:
    """Write every usable episode file under `episodes_dir_url` into `staging`; (info, summary)."""
    writer = DatasetWriter(staging, options)
    files = list(iter_episode_files(episodes_dir_url))
    excluded_failed, skipped = 0, []
    for n, url in enumerate(files):
        name = url.rsplit("/", 1)[-1]
        try:
            rec = load_episode(url)
        except (OSError, ValueError, KeyError) as exc:
            skipped.append(f"{name}: unreadable ({exc})")
            continue
        if not rec.success and not keep_failed:
            excluded_failed += 1
            continue
        try:
            writer.add_episode(rec)
        except InvalidInputError as exc:
            skipped.append(f"{name}: {exc}".replace("\n", "; "))
        if progress:
            progress(n + 1, len(files), "episodes written")
    if writer.total_episodes == 0:
        raise InvalidInputError(
            f"no episodes to put in the dataset: {len(files)} episode files, {excluded_failed} failed "
            f"(set keep_failed_episodes to keep them), {len(skipped)} unusable",
            [Problem("episodes", s) for s in skipped[:MAX_LISTED_SKIPS]])
    info = writer.finish()
    summary = {
        "episodes": info["total_episodes"], "frames": info["total_frames"], "tasks": info["total_tasks"],
        "episode_files": len(files), "excluded_failed": excluded_failed, "skipped": len(skipped),
        "skipped_reasons": skipped[:MAX_LISTED_SKIPS],
        "cameras": [k for k, ft in info["features"].items() if ft["dtype"] == "video"],
        "video_codec": options.video.codec if summary_has_video(info) else None,
    }
    return info, summary


def episodes_have_images(episodes_dir_url: str) -> bool:
    """Whether the first readable episode file carries camera frames (then video is encoded)."""
    for url in iter_episode_files(episodes_dir_url):
        try:
            return bool(load_episode(url).images)
        except (OSError, ValueError, KeyError):
            continue
    return False


def summary_has_video(info: dict) -> bool:
    return any(ft["dtype"] == "video" for ft in info["features"].values())
