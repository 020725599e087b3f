"""Each episode's first frame is coded apart, at least as well as the episode's median frame."""

from __future__ import annotations

import logging

import av
import numpy as np
import pytest

from blueprint_pipeline.dataset.video import CameraVideoWriter, VideoSettings


def _frames(n: int = 24, size: int = 64) -> np.ndarray:
    """A busy first frame (a whole textured table), then close views of a plain surface, drifting.
    Grey, so that yuv420p's halved colour resolution loses nothing of it."""
    y, x = np.mgrid[0:size, 0:size] / size
    out = [128 + 60 * np.sin(40 * x + 13 * np.sin(9 * y)) * np.cos(31 * y)]
    out += [128 + 6 * np.sin(5 * (x + 0.01 * k)) * np.cos(4 * y) for k in range(1, n)]
    grey = np.clip(np.stack(out), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=3)


def _errors(tmp_path, settings: VideoSettings, frames: np.ndarray, writer=CameraVideoWriter) -> list[float]:
    """Each frame's mean absolute error as the MP4 decodes it, the episode put after one of 7
    frames (so that it starts on an odd frame of the file)."""
    vw = writer(tmp_path, "observation.images.top", 30, 1e9, settings)
    vw.append_episode(frames[:7][::-1].copy())
    span = vw.append_episode(frames)
    vw.close()
    with av.open(str(tmp_path / vw.files_written[0])) as c:
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]
    assert len(decoded) == 7 + len(frames)
    start = round(span.from_timestamp * 30)
    return [float(np.abs(decoded[start + k].astype(int) - frames[k]).mean()) for k in range(len(frames))]


def test_the_first_frame_is_no_worse_than_the_median_frame(tmp_path):
    frames = _frames()
    errors = _errors(tmp_path / "apart", VideoSettings(), frames)
    assert errors[0] <= np.median(errors)
    # at the file's CRF, as the other frames, the busy first frame codes far worse than the rest
    same = _errors(tmp_path / "same", VideoSettings(first_crf=30), frames)
    assert same[0] > 2 * np.median(same)
    assert np.allclose(errors[1:], same[1:], atol=0.05)  # the rest of the episode is coded alike


@pytest.mark.parametrize("size", [128, 224, 256])
def test_first_frames_carry_the_files_sequence_header(tmp_path, size, caplog):
    """Else they would be coded again at the file's CRF, with a warning."""
    frames = _frames(n=8, size=size)
    with caplog.at_level(logging.WARNING, logger="blueprint_pipeline.dataset.video"):
        errors = _errors(tmp_path, VideoSettings(), frames)
    assert not caplog.records
    assert max(errors) < 2.0  # every frame decodes as itself, the first from its own encoder


def test_a_first_frame_with_another_sequence_header_is_coded_at_the_files_crf(tmp_path, caplog):
    class OtherHeader(CameraVideoWriter):
        def _code_alone(self, frame, pts, crf):
            packets, header = super()._code_alone(frame, pts, crf)
            return packets, header + b"?" if crf != self.settings.crf else header

    frames = _frames()
    with caplog.at_level(logging.WARNING, logger="blueprint_pipeline.dataset.video"):
        errors = _errors(tmp_path / "other", VideoSettings(), frames, OtherHeader)
    assert len(caplog.records) == 2 and "another sequence header" in caplog.records[0].getMessage()
    same = _errors(tmp_path / "same", VideoSettings(first_crf=30), frames)
    assert errors == pytest.approx(same, abs=1e-9)  # as if first frames were coded at the file's CRF


def test_h264_codes_the_first_frame_with_the_rest(tmp_path):
    """x264's picture parameter set carries the quantizer: no frame of another encoder fits."""
    errors = _errors(tmp_path, VideoSettings(codec="libx264"), _frames())
    assert errors[0] > np.median(errors)
