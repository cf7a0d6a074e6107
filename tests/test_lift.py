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


# ------------------------------------------------------------------ lifting early (a window cache)

def _walking_tracks(people: int = 3, frames: int = 120, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smoothly moving 2D people with gaps, one of them appearing late."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[None, :, None, None]
    base = rng.uniform(150, 450, size=(people, 1, 17, 2))
    kp = base + 25 * np.sin(t / 9 + rng.uniform(0, 6, size=(people, 1, 17, 1)))
    scores = rng.uniform(0.2, 1.0, size=(people, frames, 17))
    present = np.ones((people, frames), bool)
    present[0, 50:56] = False
    present[1, :33] = False
    present[2, 100:] = False
    kp[~present] = np.nan
    scores[~present] = 0.0
    return kp.astype(np.float32), scores.astype(np.float32), present


@pytest.mark.parametrize("input_norm", ["screen", "body"])
def test_lifting_early_from_growing_tracks_gives_what_lifting_at_the_end_gives(input_norm: str) -> None:
    from pipeline.lift import WindowCache, prelift

    torch.manual_seed(0)
    model = PoseMoE(PoseMoEConfig(frames=9, dim=32, heads=4, encoder_layers=1, decoder_layers=1, in_channels=3,
                                  input_norm=input_norm)).eval()
    kp, scores, present = _walking_tracks()
    at_the_end = lift_tracks(model, kp, scores, present, (640, 480), batch_size=8)
    cache, lifted_early = WindowCache(), 0
    for n in range(20, 120, 12):  # the tracks as the 2D pass goes; the last 16 frames may still change
        lifted_early += prelift(model, kp[:, :n], scores[:, :n], present[:, :n], (640, 480), cache,
                                first=0, final=n - 16, batch_size=8)
    assert lifted_early == len(cache) > 0
    out = lift_tracks(model, kp, scores, present, (640, 480), batch_size=8, cache=cache)
    assert cache.hits == lifted_early  # every window lifted early was used, none of them twice
    assert cache.misses > 0  # the windows near the end were lifted at the end
    assert (np.isnan(out) == np.isnan(at_the_end)).all()
    np.testing.assert_allclose(out, at_the_end, atol=1e-5)


def test_a_window_whose_input_changed_after_it_was_lifted_early_is_lifted_again() -> None:
    from pipeline.lift import WindowCache, prelift

    torch.manual_seed(0)
    model = PoseMoE(PoseMoEConfig(frames=9, dim=32, heads=4, encoder_layers=1, decoder_layers=1, in_channels=3,
                                  input_norm="body")).eval()
    kp, scores, present = _walking_tracks()
    cache = WindowCache()
    early_kp = kp.copy()
    early_kp[0, 30:40] += 40.0  # what the tracks said then (say, before a gap was filled in)
    prelift(model, early_kp, scores, present, (640, 480), cache, first=0, final=120, batch_size=8)
    out = lift_tracks(model, kp, scores, present, (640, 480), batch_size=8, cache=cache)
    np.testing.assert_allclose(out, lift_tracks(model, kp, scores, present, (640, 480), batch_size=8), atol=1e-5)
    assert cache.misses > 0 and cache.hits > 0  # the changed windows were lifted again, the others reused
