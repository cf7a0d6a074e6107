"""Per-track lifting: input rules, and each present segment lifted as if alone (the windowing
itself is tested in test_windowing.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.lift import lift_tracks, model_inputs
from posemoe import PoseMoE, PoseMoEConfig
from posemoe.camera import normalize_screen
from posemoe.errors import PoseMoEError
from posemoe.lifter import lift_normalized
from posemoe.windowing import stride_for


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
