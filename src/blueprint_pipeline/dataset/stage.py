"""Stage `dataset`: the episodes stage's episode files -> a LeRobot v3.0 dataset at `<out>/dataset`.

Failed episodes (success False) are left out unless the run sets keep_failed_episodes; kept ones
are labelled by `next.success` per frame and the episodes metadata's `success` column. Dataset
episode indices are contiguous from 0 (LeRobot requires it); `source_episode_index` in the
episodes metadata names the episode file each came from.

Settings (`DatasetConfig`): BP_VIDEO_CODEC (av1, the default, or h264), BP_DATA_FILES_SIZE_IN_MB,
BP_VIDEO_FILES_SIZE_IN_MB, BP_DATASET_STALL_TIMEOUT_S (episodes with camera frames are written
in a watched worker process, see `dataset.watchdog`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from blueprint_pipeline import storage
from blueprint_pipeline.config import Settings
from blueprint_pipeline.contract import EPISODES_DATA, StageContext, StageResult
from blueprint_pipeline.dataset.from_episodes import episodes_have_images, write_dataset
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
from blueprint_pipeline.dataset.writer import WriterOptions
from blueprint_pipeline.errors import InvalidInputError


@dataclass(frozen=True)
class DatasetConfig:
    """What the dataset stage takes from the settings and the run options."""

    writer: WriterOptions
    stall_timeout_s: float  # BP_DATASET_STALL_TIMEOUT_S

    @classmethod
    def from_settings(cls, settings: Settings, seed: int = 0) -> DatasetConfig:
        return cls(writer=WriterOptions(data_files_size_in_mb=settings.data_files_size_in_mb,
                                        video_files_size_in_mb=settings.video_files_size_in_mb,
                                        video=VideoSettings.for_name(settings.video_codec), seed=seed),
                   stall_timeout_s=settings.dataset_stall_timeout_s)


def write_staging(ctx: StageContext, episodes_dir_url: str, staging: Path, cfg: DatasetConfig
                  ) -> tuple[dict, dict]:
    """The dataset into `staging`: in this process, or with video in a watched worker process."""
    keep_failed = ctx.options.keep_failed_episodes
    if not episodes_have_images(episodes_dir_url):
        return write_dataset(episodes_dir_url, staging, cfg.writer, keep_failed, ctx.progress)
    job = WriteJob(episodes_dir_url, str(staging), cfg.writer, keep_failed, progress_file=str(progress_path(staging)))
    return write_dataset_watched(job, cfg.stall_timeout_s, ctx.progress)


def run(ctx: StageContext) -> StageResult:
    final_url = ctx.stage_dir("dataset")
    episodes_dir = ctx.url(EPISODES_DATA)
    if not storage.exists(episodes_dir):
        raise InvalidInputError(f"no episode files: {episodes_dir} does not exist (run the episodes stage)")
    cfg = DatasetConfig.from_settings(ctx.settings, seed=ctx.options.seed)
    final = local_path(final_url)
    if final is not None:
        final.parent.mkdir(parents=True, exist_ok=True)
        recover(final)
        staging = final.parent / STAGING_NAME
        _, summary = write_staging(ctx, episodes_dir, staging, cfg)
        publish_local(staging, final)
        written = sorted(p.relative_to(final.parent).as_posix() for p in final.rglob("*") if p.is_file())
    else:
        with tempfile.TemporaryDirectory(prefix="bp-dataset-") as tmp:
            staging = Path(tmp) / "dataset"
            _, summary = write_staging(ctx, episodes_dir, staging, cfg)
            publish_remote(staging, final_url)
            written = sorted("dataset/" + p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
    return StageResult(outputs=written, summary=summary, items_ok=summary["episodes"],
                       items_failed=summary["skipped"])
