"""Stage `dataset`: the episodes stage's episode files -> a LeRobot v3.0 dataset at `<out>/dataset`.

Failed episodes (success False) are left out unless the run sets keep_failed_episodes; kept ones
are labelled by `next.success` per frame and the episodes metadata's `success` column. Dataset
episode indices are contiguous from 0 (LeRobot requires it); `source_episode_index` in the
episodes metadata names the episode file each came from.

Settings read from `ctx.settings` when present: `video_codec` ("av1" default, or "h264"),
`data_files_size_in_mb`, `video_files_size_in_mb`, `dataset_stall_timeout_s` (episodes with
camera frames are written in a watched worker process, see `dataset.watchdog`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from blueprint_pipeline import storage
from blueprint_pipeline.config import Settings
from blueprint_pipeline.dataset import layout
from blueprint_pipeline.dataset.publish import (
    STAGING_NAME,
    local_path,
    publish_local,
    publish_remote,
    recover,
)
from blueprint_pipeline.dataset.video import VideoSettings
from blueprint_pipeline.dataset.watchdog import (
    WriteJob,
    progress_path,
    write_dataset_watched,
)
from blueprint_pipeline.dataset.writer import DatasetWriter, WriterOptions
from blueprint_pipeline.errors import InvalidInputError, Problem
from blueprint_pipeline.pipeline import StageContext, StageResult
from blueprint_pipeline.sim.episode_io import iter_episode_files, load_episode

MAX_LISTED_SKIPS = 20


def writer_options(ctx: StageContext) -> WriterOptions:
    s = ctx.settings
    return WriterOptions(
        data_files_size_in_mb=getattr(s, "data_files_size_in_mb", None) or layout.DEFAULT_DATA_FILES_SIZE_IN_MB,
        video_files_size_in_mb=getattr(s, "video_files_size_in_mb", None) or layout.DEFAULT_VIDEO_FILES_SIZE_IN_MB,
        video=VideoSettings.for_name(getattr(s, "video_codec", None) or "av1"),
        seed=ctx.options.seed,
    )


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


def write_staging(ctx: StageContext, episodes_dir_url: str, staging: Path, options: WriterOptions
                  ) -> tuple[dict, dict]:
    """The dataset into `staging`: in this process, or with video in a watched worker process."""
    keep_failed = ctx.options.keep_failed_episodes
    if not episodes_have_images(episodes_dir_url):
        return write_dataset(episodes_dir_url, staging, options, keep_failed, ctx.progress)
    stall_s = (getattr(ctx.settings, "dataset_stall_timeout_s", None)
               or Settings.model_fields["dataset_stall_timeout_s"].default)
    job = WriteJob(episodes_dir_url, str(staging), options, keep_failed, progress_file=str(progress_path(staging)))
    return write_dataset_watched(job, stall_s, ctx.progress)


def summary_has_video(info: dict) -> bool:
    return any(ft["dtype"] == "video" for ft in info["features"].values())


def run(ctx: StageContext) -> StageResult:
    final_url = ctx.stage_dir("dataset")
    episodes_dir = ctx.path("episodes", "data")
    if not storage.exists(episodes_dir):
        raise InvalidInputError(f"no episode files: {episodes_dir} does not exist (run the episodes stage)")
    options = writer_options(ctx)
    final = local_path(final_url)
    if final is not None:
        final.parent.mkdir(parents=True, exist_ok=True)
        recover(final)
        staging = final.parent / STAGING_NAME
        _, summary = write_staging(ctx, episodes_dir, staging, options)
        publish_local(staging, final)
        written = sorted(p.relative_to(final.parent).as_posix() for p in final.rglob("*") if p.is_file())
    else:
        with tempfile.TemporaryDirectory(prefix="bp-dataset-") as tmp:
            staging = Path(tmp) / "dataset"
            _, summary = write_staging(ctx, episodes_dir, staging, options)
            publish_remote(staging, final_url)
            written = sorted("dataset/" + p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
    return StageResult(outputs=written, summary=summary, items_ok=summary["episodes"],
                       items_failed=summary["skipped"])
