"""Streaming MP4 writers: one per camera, many episodes per file, a new file past a size limit.

Frames are encoded as they arrive (nothing buffered beyond the encoder's own look-ahead). Frame n
of a file has presentation time n / fps, so an episode occupying frames [a, a + T) of a file has
from_timestamp a / fps and to_timestamp (a + T) / fps, and its frame k decodes at
from_timestamp + k / fps, which is the time LeRobot's loader asks for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from blueprint_pipeline.dataset.layout import CHUNKS_SIZE, next_chunk_file, video_path

# SVT-AV1 prints its banner to stderr unless told otherwise; read when the encoder starts.
os.environ.setdefault("SVT_LOG", "1")


@dataclass(frozen=True)
class VideoSettings:
    """Encoder settings. AV1 (libsvtav1) yuv420p is LeRobot's default; libx264 encodes faster."""

    codec: str = "libsvtav1"  # or "libx264"
    pix_fmt: str = "yuv420p"
    gop: int = 2  # keyframe every 2 frames, as LeRobot does, so random access decodes little
    crf: int = 30
    preset: str | None = None  # codec default: 12 for libsvtav1 (LeRobot's), "veryfast" for x264

    def codec_options(self) -> dict[str, str]:
        opts = {"g": str(self.gop), "crf": str(self.crf)}
        if self.codec == "libsvtav1":
            opts["preset"] = self.preset or "12"
        elif self.codec == "libx264":
            opts["preset"] = self.preset or "veryfast"
        elif self.preset:
            opts["preset"] = self.preset
        return opts

    @staticmethod
    def for_name(name: str) -> VideoSettings:
        aliases = {"av1": "libsvtav1", "libsvtav1": "libsvtav1", "h264": "libx264", "libx264": "libx264"}
        if name not in aliases:
            raise ValueError(f"unknown video codec {name!r}; use one of av1, h264")
        return VideoSettings(codec=aliases[name])


@dataclass
class VideoSpan:
    chunk_index: int
    file_index: int
    from_timestamp: float
    to_timestamp: float


class CameraVideoWriter:
    """Appends episodes of one camera to videos/<key>/chunk-XXX/file-YYY.mp4 under `root`."""

    def __init__(self, root: Path, video_key: str, fps: int, size_limit_bytes: float,
                 settings: VideoSettings = VideoSettings(), chunks_size: int = CHUNKS_SIZE):
        self.root = root
        self.key = video_key
        self.fps = fps
        self.limit = size_limit_bytes
        self.settings = settings
        self.chunks_size = chunks_size
        self.chunk_index, self.file_index = 0, 0
        self._container: Any = None
        self._stream: Any = None
        self._fh: Any = None
        self._frames_in_file = 0
        self._bytes_in_file = 0
        self._packets_in_file = 0
        self.files_written: list[str] = []

    def _open(self, height: int, width: int) -> None:
        import av

        rel = video_path(self.key, self.chunk_index, self.file_index)
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "wb")  # noqa: SIM115 - closed in _close
        self._container = av.open(self._fh, "w", format="mp4")
        stream = self._container.add_stream(self.settings.codec, rate=self.fps,
                                            options=self.settings.codec_options())
        stream.width, stream.height, stream.pix_fmt = width, height, self.settings.pix_fmt
        stream.time_base = Fraction(1, self.fps)
        self._stream = stream
        self._frames_in_file = self._bytes_in_file = self._packets_in_file = 0
        self.files_written.append(rel)

    def _mux(self, packets: Any) -> None:
        for p in packets:
            self._bytes_in_file += p.size
            self._packets_in_file += 1
            self._container.mux(p)

    def _close(self) -> None:
        if self._container is None:
            return
        self._mux(self._stream.encode())  # flush the encoder's look-ahead
        self._container.close()
        self._fh.close()
        self._container = self._stream = self._fh = None

    def _estimated_bytes(self, extra_frames: int) -> float:
        per_frame = self._bytes_in_file / self._packets_in_file if self._packets_in_file else 0.0
        pending = self._frames_in_file - self._packets_in_file  # still inside the encoder
        return self._bytes_in_file + per_frame * (pending + extra_frames)

    def append_episode(self, frames: np.ndarray) -> VideoSpan:
        """Encode (T, H, W, 3) uint8 frames as the next episode; where it landed."""
        import av

        t, h, w = frames.shape[:3]
        if self._container is not None and self._frames_in_file and self._estimated_bytes(t) >= self.limit:
            self._close()
            self.chunk_index, self.file_index = next_chunk_file(self.chunk_index, self.file_index,
                                                                self.chunks_size)
        if self._container is None:
            self._open(h, w)
        start = self._frames_in_file
        for k in range(t):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frames[k]), format="rgb24")
            vf.pts = start + k
            vf.time_base = Fraction(1, self.fps)  # the stream's own time base changes once muxing starts
            self._mux(self._stream.encode(vf))
        self._frames_in_file += t
        return VideoSpan(self.chunk_index, self.file_index, start / self.fps, (start + t) / self.fps)

    def close(self) -> None:
        self._close()


def probe_video_info(path: Path) -> dict[str, Any]:
    """The `info` block LeRobot keeps for a video feature, read back from an encoded file."""
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return {
            "video.height": s.height,
            "video.width": s.width,
            "video.codec": s.codec.canonical_name,
            "video.pix_fmt": s.pix_fmt,
            "video.is_depth_map": False,
            "video.fps": int(s.base_rate),
            "video.channels": 3,
            "has_audio": len(c.streams.audio) > 0,
        }
