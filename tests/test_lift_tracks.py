"""Per-track lifting: segments, windows batched across tracks, seamless blending, input rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.lift import lift_tracks, model_inputs
from pipeline.window import blend, gather, plan_windows, present_segments, stride_for
from posemoe import PoseMoE, PoseMoEConfig
from posemoe.camera import normalize_screen
from posemoe.errors import PoseMoEError
from posemoe.lifter import lift_normalized


def test_present_segments() -> None:
    assert present_segments(np.array([0, 1, 1, 0, 0, 1, 0, 1, 1, 1], bool)) == [(1, 3), (5, 6), (7, 10)]
    assert present_segments(np.zeros(4, bool)) == [] and present_segments(np.ones(3, bool)) == [(0, 3)]
    with pytest.raises(PoseMoEError, match="present"):
        present_segments(np.ones((2, 2), bool))


@pytest.mark.parametrize("overlap", [0.0, 0.5, 0.9])
def test_windows_cover_every_present_frame_and_blend_a_per_frame_function_exactly(overlap: float) -> None:
    rng = np.random.default_rng(1)
    present = np.zeros((3, 40), bool)
    present[0, 2:31] = True  # one long segment
    present[1, [0, 1, 2, 10, 11]] = True  # two short segments (shorter than a window)
    present[1, 20:40] = True
    x = rng.normal(size=(3, 40, 17, 2))
    frames = 9
    stride = stride_for(frames, overlap)
    plan = plan_windows(present, frames, stride)
    windows = gather(x, plan, frames)
    assert windows.shape == (len(plan), frames, 17, 2)
    for w, win in zip(plan, windows):  # each window stays inside its segment; padding repeats its last frame
        assert present[w.track, w.start:w.start + w.real].all()
        np.testing.assert_array_equal(win[w.real:], np.broadcast_to(x[w.track, w.start + w.real - 1], win[w.real:].shape))
    preds = np.concatenate([windows, windows[..., :1] * windows[..., 1:]], axis=-1)  # a per-frame function
    out = blend(preds, plan, present.shape, stride)
    want = np.concatenate([x, x[..., :1] * x[..., 1:]], axis=-1)
    np.testing.assert_allclose(out[present], want[present], rtol=1e-9, atol=1e-12)
    assert np.isnan(out[~present]).all()  # absent frames and the never-present track 2


def test_model_inputs_follow_the_training_conventions() -> None:
    kp = np.array([[[[100.0, 50.0]] * 17, [[np.nan, np.nan]] * 17]])  # (1, 2, 17, 2): frame 1 absent
    scores = np.full((1, 2, 17), 0.9)
    scores[0, 0, 5] = 0.1  # one unreliable joint
    x3 = model_inputs(kp, scores, (200, 100), channels=3)
    want = normalize_screen(np.array([100.0, 50.0]), 200, 100)
    np.testing.assert_allclose(x3[0, 0, 0], [*want, 1.0])
    np.testing.assert_array_equal(x3[0, 0, 5], [0.0, 0.0, 0.0])  # as training's joint dropout
    assert np.isfinite(x3).all() and (x3[0, 1] == 0).all()
    x2 = model_inputs(kp, scores, (200, 100), channels=2)
    np.testing.assert_allclose(x2[0, 0, 5], want)  # no channel to say it is unreliable
    with pytest.raises(PoseMoEError, match="channels"):
        model_inputs(kp, scores, (200, 100), channels=4)


def test_lift_tracks_equals_lifting_each_segment_alone() -> None:
    torch.manual_seed(0)
    model = PoseMoE(PoseMoEConfig(frames=9, dim=32, heads=4, encoder_layers=1, decoder_layers=1, in_channels=3)).eval()
    rng = np.random.default_rng(0)
    kp = rng.uniform(100, 500, size=(2, 30, 17, 2))
    scores = np.ones((2, 30, 17))
    present = np.ones((2, 30), bool)
    present[0, 12:15] = False
    kp[~present] = np.nan
    out = lift_tracks(model, kp, scores, present, (640, 480), overlap=0.5, batch_size=4)
    assert out.shape == (2, 30, 17, 3) and out.dtype == np.float32
    assert np.isnan(out[0, 12:15]).all() and np.isfinite(out[present]).all()
    x = model_inputs(kp, scores, (640, 480), 3)
    for p, (s, e) in [(0, (0, 12)), (0, (15, 30)), (1, (0, 30))]:
        alone = lift_normalized(model, x[p, s:e], stride=stride_for(9, 0.5), flip=True)
        np.testing.assert_allclose(out[p, s:e], alone - alone[:, :1], atol=1e-5)  # lift_tracks re-roots
