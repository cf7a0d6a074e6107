"""Lifter: any sequence length, window blending without seams, pixel normalisation, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from posemoe import Lifter, PoseMoE, PoseMoEConfig
from posemoe.checkpoint import make_checkpoint, save_checkpoint
from posemoe.errors import PoseMoEError
from posemoe.lifter import lift_normalized
from posemoe.model import PoseMoEOutput


class EchoModel(nn.Module):
    """Returns (u, v, u*v) of its input: a per-frame function, so any correct windowing and
    blending must reproduce it exactly for every frame."""

    def __init__(self, frames: int = 9) -> None:
        super().__init__()
        self.cfg = PoseMoEConfig(frames=frames)
        self.dummy = nn.Parameter(torch.zeros(()))

    @property
    def frames(self) -> int:
        return self.cfg.frames

    def forward(self, x: torch.Tensor) -> PoseMoEOutput:
        assert x.shape[1] == self.frames
        u, v = x[..., 0], x[..., 1]
        return PoseMoEOutput(torch.stack([u, v, u * v], dim=-1), torch.zeros(()), [])


@pytest.mark.parametrize("n", [1, 5, 9, 10, 23, 100])
@pytest.mark.parametrize("stride", [9, 4, 1])
def test_windowing_reproduces_per_frame_function(n: int, stride: int) -> None:
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, 17, 2)).astype(np.float32)
    out = lift_normalized(EchoModel(), x, stride=stride, flip=False)
    want = np.stack([x[..., 0], x[..., 1], x[..., 0] * x[..., 1]], axis=-1)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)


def test_flip_averaging_of_mirror_symmetric_function() -> None:
    # EchoModel is mirror-equivariant for (u, v) so flip averaging must leave u and v unchanged
    x = np.random.default_rng(0).normal(size=(12, 17, 2)).astype(np.float32)
    out = lift_normalized(EchoModel(), x, flip=True)
    np.testing.assert_allclose(out[..., :2], x, rtol=1e-5, atol=1e-6)


class RampModel(EchoModel):
    """EchoModel plus an offset that grows with the frame's position in its window: the kind of
    window-position bias a real model has, which shows as a seam wherever windows are cut."""

    def forward(self, x: torch.Tensor) -> PoseMoEOutput:
        out = super().forward(x).pose3d
        ramp = torch.linspace(0.0, 0.1, self.frames).reshape(1, -1, 1, 1)
        return PoseMoEOutput(out + ramp, torch.zeros(()), [])


def test_overlapping_windows_remove_seams() -> None:
    x = np.zeros((90, 17, 2), np.float32)  # a still pose: the ideal output is constant
    jump = lambda y: np.abs(np.diff(y[9:-9], axis=0)).max()  # noqa: E731  (interior frames)
    hard = lift_normalized(RampModel(), x, stride=9, flip=False)
    soft = lift_normalized(RampModel(), x, stride=3, flip=False)
    assert jump(hard) == pytest.approx(0.1, abs=1e-6)  # the full ramp drops back at every cut
    assert jump(soft) < 0.2 * jump(hard), (jump(soft), jump(hard))


def test_lifter_normalises_pixels_and_handles_confidence(tmp_path: Path) -> None:
    lifter = Lifter(EchoModel(), flip=False)
    kp = np.zeros((3, 17, 3), np.float32)
    kp[..., 0], kp[..., 1], kp[..., 2] = 1920.0, 1080.0, 0.9  # bottom-right corner
    kp[:, 0, :2] = 960.0, 540.0  # pelvis at the image centre, which normalises to (0, 0)
    out = lifter(kp, image_size=(1920, 1080))
    assert out.shape == (3, 17, 3)
    np.testing.assert_allclose(out[:, 0], 0.0)  # root-relative output
    np.testing.assert_allclose(out[0, 5, :2], [1.0, 1080 / 1920], rtol=1e-6)


def test_lifter_from_checkpoint_any_length(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = PoseMoE(PoseMoEConfig(frames=9, dim=32, heads=4, encoder_layers=1, decoder_layers=1, in_channels=3))
    path = save_checkpoint(make_checkpoint(model), tmp_path / "m.pt")
    lifter = Lifter.from_checkpoint(path)
    assert lifter.frames == 9
    rng = np.random.default_rng(0)
    for t in (1, 4, 9, 31):
        kp = rng.uniform(0, 640, size=(t, 17, 2)).astype(np.float32)
        out = lifter(kp, image_size=(640, 480))
        assert out.shape == (t, 17, 3) and np.isfinite(out).all()


@pytest.mark.parametrize("kp, size, message", [
    (np.zeros((10, 16, 2)), (640, 480), r"expected shape \(T, 17, 2\)"),
    (np.zeros((0, 17, 2)), (640, 480), "T >= 1"),
    (np.zeros((10, 17, 4)), (640, 480), "got"),
    (np.full((4, 17, 2), np.nan), (640, 480), "NaN"),
    (np.zeros((4, 17, 2)), (0, 480), "image_size"),
])
def test_lifter_rejects_bad_input(kp, size, message) -> None:
    with pytest.raises(PoseMoEError, match=message):
        Lifter(EchoModel())(kp, image_size=size)


def test_missing_default_weights_is_a_clear_error(monkeypatch, tmp_path: Path) -> None:
    import posemoe.lifter as lifter_mod

    monkeypatch.setattr(lifter_mod, "DEFAULT_WEIGHTS", tmp_path / "none.pt")
    with pytest.raises(PoseMoEError, match="default weights are missing; restore them with `git checkout -- weights/`"):
        Lifter.from_checkpoint(None)
    from pipeline.video import load_model  # the video pipeline's own loader says the same, naming its option
    import posemoe.shipped

    monkeypatch.setattr(posemoe.shipped, "shipped_weights", lambda: tmp_path / "none.pt")
    with pytest.raises(PoseMoEError, match=r"default weights are missing.*--checkpoint"):
        load_model(None, None)
