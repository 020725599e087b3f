"""Streaming MP4 writers: one per camera, many episodes per file, a new file past a size limit.

Frames are encoded as they arrive (nothing buffered beyond the encoder's own look-ahead). Every
packet the encoder emits is also decoded, before it is muxed, and each episode's image statistics
are computed from its decoded frames (what a reader of the MP4 sees, as LeRobot expects), not from
the frames handed in: an episode's statistics are ready once the encoder has emitted all its
frames, at the latest when its file is closed (`pop_finished`). Frame n
of a file has presentation time n / fps, so an episode occupying frames [a, a + T) of a file has
from_timestamp a / fps and to_timestamp (a + T) / fps, and its frame k decodes at
from_timestamp + k / fps, which is the time LeRobot's loader asks for.

Every episode's first frame is coded as a keyframe. With a keyframe every 2 frames counted from the
file's start, an episode starting at an odd frame was coded from the last frame of the episode
before it: its first frame showed a ghost of the other scene (mean error 3.1-3.3 against the
render, the episode's median 1.7; then 1.7, measured on the office example).

An episode's first frame is coded by an encoder of its own, at `VideoSettings.first_crf` (2, the
file's CRF being 30), as a keyframe; its packet waits in `_firsts` until the file's encoder has
emitted the frames before it, and is decoded and muxed in its place. The file's encoder codes
the rest of the episode from frame 1 (a keyframe). At one CRF for every frame the wrist camera's
first frame had 1.13-1.28x its episode's median error on the examples: it sees the whole
textured table, the later frames mostly close views of plain surfaces, which code with less
error at the same CRF. At CRF 2 it is 0.73-0.88x; the 6 of 68 wrist first frames still worse
than their median are worse through their conversion to yuv420p alone, uncoded, which no
encoder setting changes (at CRF 6, 2 more were). The videos grow by 4-5% (scene camera) and
7-16% (wrist camera; docs/cameras.md). Both encoders write the same sequence header (checked: a
first frame whose header differs is coded again at the file's CRF, with a warning). x264's
picture parameter set carries the quantizer, so a frame of another encoder would not fit: with
libx264 the first frame is a keyframe of the file's encoder, at the file's CRF.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from blueprint_pipeline.dataset.layout import CHUNKS_SIZE, next_chunk_file, video_path
from blueprint_pipeline.dataset.stats import ImageStats, sampled_frame_indices

log = logging.getLogger(__name__)

# SVT-AV1 prints its banner to stderr unless told otherwise; read when the encoder starts.
os.environ.setdefault("SVT_LOG", "1")


@dataclass(frozen=True)
class VideoSettings:
    """Encoder settings. AV1 (libsvtav1) yuv420p is LeRobot's default; libx264 encodes faster."""

    codec: str = "libsvtav1"  # or "libx264"
    pix_fmt: str = "yuv420p"
    gop: int = 2  # keyframe every 2 frames, as LeRobot does, so random access decodes little
    crf: int = 30
    first_crf: int = 2  # each episode's first frame (module docstring); AV1 only
    preset: str | None = None  # codec default: 12 for libsvtav1 (LeRobot's), "veryfast" for x264

    def codec_options(self, crf: int | None = None) -> dict[str, str]:
        opts = {"g": str(self.gop), "crf": str(self.crf if crf is None else crf)}
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


# decoder for each encoder's output (FFmpeg's native "av1" decoder needs a hardware accelerator)
_DECODERS = {"libsvtav1": "libdav1d", "libaom-av1": "libdav1d", "libx264": "h264"}
_FIRST_APART = frozenset({"libsvtav1"})  # codecs whose first frames are coded apart


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
        self._decoder: Any = None
        self._decoded_in_file = 0
        # episodes of the open file whose frames are not all decoded yet:
        # [token, first frame in the file, length, sampled offsets, accumulator]
        self._decoding: list[list[Any]] = []
        self._finished: list[tuple[Any, ImageStats]] = []
        self._header = b""  # the file's sequence header (the stream encoder's extradata)
        self._firsts: list[Any] = []  # first frames' packets waiting for the frames before them

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
        stream.codec_context.open()
        self._header = bytes(stream.codec_context.extradata or b"")
        self._stream = stream
        self._decoder = av.CodecContext.create(_DECODERS.get(self.settings.codec, self.settings.codec), "r")
        self._frames_in_file = self._bytes_in_file = self._packets_in_file = self._decoded_in_file = 0
        self.files_written.append(rel)

    def _first_frame(self, frame: np.ndarray, pts: int) -> list[Any]:
        """An episode's first frame coded alone, at `first_crf` (module docstring)."""
        packets, header = self._code_alone(frame, pts, self.settings.first_crf)
        if header != self._header:  # the file's encoder's options but the CRF: its header
            log.warning("%s: a first frame at CRF %d has another sequence header than the file's; "
                        "coded at the file's CRF %d", self.key, self.settings.first_crf, self.settings.crf)
            packets, _ = self._code_alone(frame, pts, self.settings.crf)
        for p in packets:
            p.stream = self._stream
        return packets

    def _code_alone(self, frame: np.ndarray, pts: int, crf: int) -> tuple[list[Any], bytes]:
        """One frame coded by an encoder of its own, as the file's encoder is set but for `crf`:
        its packets and its sequence header."""
        import av

        ctx = av.CodecContext.create(self.settings.codec, "w")
        ctx.width, ctx.height, ctx.pix_fmt = self._stream.width, self._stream.height, self.settings.pix_fmt
        ctx.time_base, ctx.framerate = Fraction(1, self.fps), self.fps
        ctx.flags = self._stream.codec_context.flags  # the muxer's global header, as the stream's
        ctx.options = self.settings.codec_options(crf)
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        vf.pts, vf.time_base = pts, ctx.time_base
        packets = [*ctx.encode(vf), *ctx.encode(None)]
        return packets, bytes(ctx.extradata or b"")

    def _mux(self, packets: Any) -> None:
        """Mux the file encoder's packets, each after the first frames that come before it."""
        for p in packets:
            while self._firsts and self._firsts[0].pts * self._firsts[0].time_base < p.pts * p.time_base:
                self._mux_one(self._firsts.pop(0))
            self._mux_one(p)

    def _mux_one(self, p: Any) -> None:
        self._bytes_in_file += p.size
        self._packets_in_file += 1
        if self._decoder.extradata is None and self._header:
            self._decoder.extradata = self._header
        self._take_decoded(self._decoder.decode(p))  # before muxing, which takes the packet's data
        self._container.mux(p)

    def _take_decoded(self, frames: Any) -> None:
        """Feed decoded frames, in presentation order, to the statistics of their episodes."""
        for frame in frames:
            n = self._decoded_in_file
            self._decoded_in_file += 1
            if not self._decoding or n >= self._decoding[0][1] + self._decoding[0][2]:
                raise RuntimeError(f"{self.key}: decoded frame {n} of the file belongs to no episode")
            token, first, length, sampled, acc = self._decoding[0]
            if n - first in sampled:
                acc.update(frame.to_ndarray(format="rgb24")[None])
            if n + 1 == first + length:
                self._finished.append((token, acc))
                self._decoding.pop(0)

    def pop_finished(self) -> list[tuple[Any, ImageStats]]:
        """(token, statistics of the decoded sampled frames) of every episode completed since the
        last call, in the order the episodes were appended."""
        done, self._finished = self._finished, []
        return done

    def _close(self) -> None:
        if self._container is None:
            return
        self._mux(self._stream.encode())  # flush the encoder's look-ahead
        while self._firsts:
            self._mux_one(self._firsts.pop(0))
        self._take_decoded(self._decoder.decode(None))  # and the decoder's
        self._container.close()
        self._fh.close()
        self._container = self._stream = self._fh = self._decoder = None
        if self._decoding:
            raise RuntimeError(f"{self.key}: {self._decoded_in_file} frames decoded, "
                               f"{self._frames_in_file} encoded")

    def _estimated_bytes(self, extra_frames: int) -> float:
        per_frame = self._bytes_in_file / self._packets_in_file if self._packets_in_file else 0.0
        pending = self._frames_in_file - self._packets_in_file  # still inside the encoder
        return self._bytes_in_file + per_frame * (pending + extra_frames)

    def append_episode(self, frames: np.ndarray, token: Any = None) -> VideoSpan:
        """Encode (T, H, W, 3) uint8 frames as the next episode; where it landed. `token` names the
        episode in `pop_finished`."""
        import av

        t, h, w = frames.shape[:3]
        if self._container is not None and self._frames_in_file and self._estimated_bytes(t) >= self.limit:
            self._close()
            self.chunk_index, self.file_index = next_chunk_file(self.chunk_index, self.file_index,
                                                                self.chunks_size)
        if self._container is None:
            self._open(h, w)
        start = self._frames_in_file
        c = frames.shape[3]
        self._decoding.append([token, start, t, set(sampled_frame_indices(t).tolist()),
                               ImageStats(channels=c, hist=np.zeros((c, 256), np.int64))])
        apart = self.settings.codec in _FIRST_APART
        if apart:
            self._firsts += self._first_frame(frames[0], start)
        for k in range(1 if apart else 0, t):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frames[k]), format="rgb24")
            vf.pts = start + k
            if k == (1 if apart else 0):  # never predicted from the episode before (module docstring)
                vf.pict_type = av.video.frame.PictureType.I
            vf.time_base = Fraction(1, self.fps)  # the stream's own time base changes once muxing starts
            self._mux(self._stream.encode(vf))
        self._frames_in_file += t
        return VideoSpan(self.chunk_index, self.file_index, start / self.fps, (start + t) / self.fps)

    def close(self) -> None:
        self._close()


def rational(value: Any) -> Fraction:
    """A PyAV rate or time base as a Fraction: PyAV up to 18 returns `fractions.Fraction`, PyAV 19
    its own rational type (numerator / denominator, no `__int__`)."""
    if isinstance(value, Fraction):
        return value
    return Fraction(int(value.numerator), int(value.denominator))


def probe_video_info(path: Path, settings: VideoSettings | None = None) -> dict[str, Any]:
    """The `info` block LeRobot keeps for a video feature, read back from an encoded file.

    The keys are the ones current LeRobot (0.5 / 0.6) writes: the stream's properties, then the
    encoder settings (`video.g`, `video.crf`, `video.preset`, `video.fast_decode`,
    `video.video_backend`, `video.extra_options`: what its re-encode tool reads), and
    `is_depth_map`. LeRobot 0.4 reads them as well (it ignores the keys it does not know);
    `lerobot_compat.convert(root, "0.4")` rewrites them the way 0.4 writes them, for a merge there.
    """
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        info: dict[str, Any] = {
            "video.height": s.height,
            "video.width": s.width,
            "video.codec": s.codec.canonical_name,
            "video.pix_fmt": s.pix_fmt,
            "video.fps": int(rational(s.base_rate)),
            "video.channels": 3,
            "has_audio": len(c.streams.audio) > 0,
        }
    if settings is not None:
        opts = settings.codec_options()
        preset = opts.get("preset")
        info.update({
            "video.g": settings.gop,
            "video.crf": settings.crf,
            "video.preset": int(preset) if preset is not None and preset.isdigit() else preset,
            "video.fast_decode": 0,
            "video.video_backend": "pyav",
            "video.extra_options": {},
        })
    info["is_depth_map"] = False
    return info
