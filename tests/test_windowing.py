"""posemoe.windowing: window starts, edge padding, blending; and the pins that the Lifter, the
Human3.6M evaluation and the video pipeline give exactly the numbers of their own windowing
code from before it was merged into this module (reference copies below)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import posemoe.evaluate as evaluate_mod
from pipeline.lift import lift_tracks, lift_tracks_routed, model_inputs
from posemoe import Lifter, PoseMoE, PoseMoEConfig
from posemoe.camera import normalize_screen
from posemoe.checkpoint import make_checkpoint, save_checkpoint
from posemoe.errors import PoseMoEError
from posemoe.evaluate import EvalConfig, evaluate, evaluate_cameras
from posemoe.lifter import lift_normalized, match_channels, predict_windows, predict_windows_routed, uses_view_rotation
from posemoe.view_rotation import default_focal_px, look_at_person, screen_focal, turn_back
from posemoe.windowing import (Window, blend_weights, blend_windows, gather_windows, plan_windows, present_segments,
                               stride_for, window_starts)

T = 9


# ----------------------------------------------------------------------------- window starts


@pytest.mark.parametrize("n", [1, 2, 8, 9, 10, 17, 18, 50, 81, 100])
@pytest.mark.parametrize("stride", [1, 3, 4, 8, 9])
def test_window_starts_cover_every_frame_and_end_flush(n: int, stride: int) -> None:
    starts = window_starts(n, T, stride)
    assert starts[0] == 0 and starts == sorted(set(starts))
    covered = np.zeros(n, int)
    for s in starts:
        covered[s:s + T] += 1
    assert (covered >= 1).all()
    if n >= T:
        assert starts[-1] + T == n  # the last window ends flush with the sequence: no padding
        steps = np.diff(starts)
        assert (steps[:-1] == stride).all() and 1 <= (steps[-1] if len(steps) else stride) <= stride
    else:
        assert starts == [0]  # one window, padded


def test_window_starts_examples() -> None:
    assert window_starts(20, 9, 4) == [0, 4, 8, 11]
    assert window_starts(18, 9, 9) == [0, 9]
    assert window_starts(19, 9, 9) == [0, 9, 10]
    assert window_starts(9, 9, 3) == [0] and window_starts(4, 9, 3) == [0]


@pytest.mark.parametrize("stride", [0, -1, T + 1])
def test_window_starts_reject_strides_that_leave_gaps(stride: int) -> None:
    with pytest.raises(PoseMoEError, match="stride must be between 1 and the window length 9"):
        window_starts(30, T, stride)
    with pytest.raises(PoseMoEError, match="stride must be between 1"):
        plan_windows(np.zeros((1, 30), bool), T, stride)  # even with nothing to cover


def test_stride_for() -> None:
    assert [stride_for(81, o) for o in (0.0, 0.5, 0.9, 0.999)] == [81, 40, 8, 1]
    assert [stride_for(9, o) for o in (0.0, 0.5, 0.9)] == [9, 4, 1]
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(PoseMoEError, match="overlap"):
            stride_for(9, bad)
    with pytest.raises(PoseMoEError, match="overlap"):
        Lifter(_tiny_model(), overlap=1.0)  # the Lifter takes its stride from stride_for


# ----------------------------------------------------------------------------- weights, segments


def test_blend_weights() -> None:
    flat = blend_weights(T, overlap=False)
    np.testing.assert_array_equal(flat, np.ones(T))
    w = blend_weights(T, overlap=True)
    assert w.shape == (T,) and w.dtype == np.float64
    assert (w > 0).all() and w.min() < 0.2 * w.max()  # positive everywhere, small at the ends
    np.testing.assert_allclose(w, w[::-1])  # symmetric
    assert np.argmax(w) == T // 2 and (np.diff(w[:T // 2 + 1]) > 0).all()  # rising to mid-window
    np.testing.assert_allclose(w, 1e-3 + np.sin(np.pi * (np.arange(T) + 0.5) / T))


def test_present_segments() -> None:
    assert present_segments(np.array([0, 1, 1, 0, 0, 1, 0, 1, 1, 1], bool)) == [(1, 3), (5, 6), (7, 10)]
    assert present_segments(np.zeros(4, bool)) == []
    assert present_segments(np.ones(3, bool)) == [(0, 3)]
    with pytest.raises(PoseMoEError, match="present"):
        present_segments(np.ones((2, 2), bool))


# ----------------------------------------------------------------------------- plan, gather, blend


def _gappy_present() -> np.ndarray:
    present = np.zeros((3, 40), bool)
    present[0, 2:31] = True  # one long segment
    present[1, [0, 1, 2, 10, 11]] = True  # two segments shorter than a window
    present[1, 20:40] = True  # and a long one to the end
    return present  # track 2 is never present


@pytest.mark.parametrize("overlap", [0.0, 0.5, 0.9])
def test_plan_covers_exactly_the_present_frames_within_segments(overlap: float) -> None:
    present = _gappy_present()
    stride = stride_for(T, overlap)
    plan = plan_windows(present, T, stride)
    assert plan.shape == (3, 40) and plan.frames == T and plan.stride == stride and plan.overlap == (stride < T)
    assert len(plan) == len(plan.windows) and list(plan) == list(plan.windows)
    covered = np.zeros(present.shape, bool)
    for w in plan:
        assert isinstance(w, Window) and 1 <= w.real <= T
        assert present[w.row, w.start:w.start + w.real].all()  # never reaches into a gap ...
        end = w.start + w.real
        assert w.real == T or end == present.shape[1] or not present[w.row, end]  # ... and is cut only by one
        covered[w.row, w.start:end] = True
    np.testing.assert_array_equal(covered, present)
    assert sorted(plan, key=lambda w: (w.row, w.start)) == list(plan)  # row, then time order
    short = [w for w in plan if w.real < T]
    assert [(w.row, w.start, w.real) for w in short] == [(1, 0, 3), (1, 10, 2)]  # only short segments pad


@pytest.mark.parametrize("overlap", [0.0, 0.5, 0.9])
def test_gather_pads_and_blend_reproduces_a_per_frame_function_exactly(overlap: float) -> None:
    rng = np.random.default_rng(1)
    present = _gappy_present()
    x = rng.normal(size=(3, 40, 17, 2))
    plan = plan_windows(present, T, stride_for(T, overlap))
    windows = gather_windows(x, plan)
    assert windows.shape == (len(plan), T, 17, 2)
    padded = 0
    for w, win in zip(plan, windows):
        np.testing.assert_array_equal(win[:w.real], x[w.row, w.start:w.start + w.real])
        np.testing.assert_array_equal(win[w.real:], np.broadcast_to(x[w.row, w.start + w.real - 1], win[w.real:].shape))
        padded += T - w.real
    assert padded == (T - 3) + (T - 2)  # the two short segments are edge-padded
    preds = np.concatenate([windows, windows[..., :1] * windows[..., 1:]], axis=-1)  # a per-frame function
    out = blend_windows(preds, plan)
    want = np.concatenate([x, x[..., :1] * x[..., 1:]], axis=-1)
    assert out.shape == (3, 40, 17, 3) and out.dtype == np.float64
    np.testing.assert_allclose(out[present], want[present], rtol=1e-9, atol=1e-12)
    assert np.isnan(out[~present]).all()  # absent frames and the never-present track 2


@pytest.mark.parametrize("overlap", [0.0, 0.5, 0.9])
def test_blending_constant_predictions_gives_the_constant_and_ignores_padding(overlap: float) -> None:
    present = _gappy_present()
    plan = plan_windows(present, T, stride_for(T, overlap))
    preds = np.full((len(plan), T, 17, 3), 2.5)
    for k, w in enumerate(plan):
        preds[k, w.real:] = 1e9  # predictions on padding frames must never reach the output
    out = blend_windows(preds, plan)
    np.testing.assert_allclose(out[present], 2.5, rtol=1e-12)
    assert np.isnan(out[~present]).all()


def test_blend_weights_window_ends_less_than_their_middles() -> None:
    # two windows [0, 9) and [4, 13) predicting 0 and 1: frame 4 is the first window's middle and
    # the second's first frame, so the first window dominates there, and the other way at frame 8
    plan = plan_windows(np.ones((1, 13), bool), T, 4)
    assert [(w.start, w.real) for w in plan] == [(0, 9), (4, 9)]
    out = blend_windows(np.stack([np.zeros((T, 1)), np.ones((T, 1))]), plan)[0, :, 0]
    np.testing.assert_array_equal(out[:4], 0.0)
    np.testing.assert_array_equal(out[9:], 1.0)
    assert out[4] < 0.2 and out[8] > 0.8 and (np.diff(out[4:9]) > 0).all()


def test_one_short_sequence_and_empty_plans() -> None:
    x = np.arange(4, dtype=np.float64).reshape(1, 4, 1)
    plan = plan_windows(np.ones((1, 4), bool), T, 3)
    assert [(w.row, w.start, w.real) for w in plan] == [(0, 0, 4)]
    np.testing.assert_array_equal(gather_windows(x, plan)[0, :, 0], [0, 1, 2, 3, 3, 3, 3, 3, 3])
    empty = plan_windows(np.zeros((2, 5), bool), T, 3)
    assert len(empty) == 0
    assert gather_windows(np.zeros((2, 5, 17, 3), np.float32), empty).shape == (0, T, 17, 3)
    out = blend_windows(np.zeros((0, T, 17, 3)), empty)
    assert out.shape == (2, 5, 17, 3) and np.isnan(out).all()


def test_gather_and_blend_check_shapes() -> None:
    plan = plan_windows(np.ones((2, 20), bool), T, 4)
    with pytest.raises(PoseMoEError, match="do not match"):
        gather_windows(np.zeros((2, 21, 17, 2)), plan)
    with pytest.raises(PoseMoEError, match="expected predictions"):
        blend_windows(np.zeros((len(plan) - 1, T, 17, 3)), plan)
    with pytest.raises(PoseMoEError, match="expected predictions"):
        blend_windows(np.zeros((len(plan), T - 1, 17, 3)), plan)
    with pytest.raises(PoseMoEError, match="present"):
        plan_windows(np.ones(20, bool), T, 4)


# ----------------------------------------------------------------------------- pins: same numbers as before
# Reference copies of the three windowing implementations this module replaced: the Lifter's own
# loop (posemoe/lifter.py, also behind posemoe.evaluate) and the pipeline's per-track
# plan/gather/blend (pipeline/window.py + pipeline/lift.py). The callers must match them exactly.


def _ref_window_starts(n: int, frames: int, stride: int) -> list[int]:
    if n <= frames:
        return [0]
    starts = list(range(0, n - frames + 1, stride))
    if starts[-1] + frames < n:
        starts.append(n - frames)
    return starts


def _ref_blend_weights(frames: int, overlap: bool) -> np.ndarray:
    if not overlap:
        return np.ones(frames, dtype=np.float64)
    return 1e-3 + np.sin(np.pi * (np.arange(frames) + 0.5) / frames)


def _ref_lift_normalized(model, x, *, stride=None, flip=True, batch_size=64, device=None, focal=None,
                         principal=(0.0, 0.0)):
    frames = model.frames
    stride = stride or frames
    n = x.shape[0]
    R = None
    if focal is not None:
        x, R = look_at_person(x, focal, principal)
    starts = _ref_window_starts(n, frames, stride)
    idx = np.minimum(np.arange(frames)[None, :] + np.asarray(starts)[:, None], n - 1)
    preds = predict_windows(model, x[idx], flip=flip, batch_size=batch_size, device=device)
    w = _ref_blend_weights(frames, overlap=stride < frames)
    acc = np.zeros((n, preds.shape[2], 3))
    wsum = np.zeros(n)
    for k, s in enumerate(starts):
        m = min(frames, n - s)
        acc[s:s + m] += preds[k, :m] * w[:m, None, None]
        wsum[s:s + m] += w[:m]
    out = acc / wsum[:, None, None]
    if R is not None:
        out = turn_back(out, R)
    return out.astype(np.float32)


def _ref_lift_tracks(model, kp, scores, present, image_size, *, overlap=0.5, flip=True, batch_size=256,
                     joint_threshold=0.3, routes=False, focal_px=None):
    frames = model.frames
    stride = max(1, int(round(frames * (1.0 - overlap))))
    x = model_inputs(kp, scores, image_size, model.cfg.in_channels, joint_threshold)
    R = None
    if uses_view_rotation(model):
        w, h = image_size
        x, R = look_at_person(x, screen_focal(focal_px if focal_px is not None else default_focal_px(w, h), w))
    plan = []  # (track, start, real)
    for p in range(present.shape[0]):
        for s, e in present_segments(present[p]):
            for w in _ref_window_starts(e - s, frames, stride):
                plan.append((p, s + w, min(frames, e - s - w)))
    offsets = np.arange(frames)
    windows = x[np.array([t for t, _, _ in plan])[:, None],
                np.stack([s + np.minimum(offsets, r - 1) for _, s, r in plan])]

    def blend(preds):
        acc = np.zeros(present.shape + preds.shape[2:])
        wsum = np.zeros(present.shape)
        weights = _ref_blend_weights(frames, overlap=stride < frames)
        tail = (1,) * (preds.ndim - 2)
        for k, (t, s, r) in enumerate(plan):
            acc[t, s:s + r] += preds[k, :r] * weights[:r].reshape((-1,) + tail)
            wsum[t, s:s + r] += weights[:r]
        out = np.full(acc.shape, np.nan)
        out[wsum > 0] = acc[wsum > 0] / wsum[wsum > 0].reshape((-1,) + tail)
        return out

    route = None
    if routes:
        preds, route_w = predict_windows_routed(model, windows, flip=flip, batch_size=batch_size)
        route = blend(route_w).astype(np.float32)
    else:
        preds = predict_windows(model, windows, flip=flip, batch_size=batch_size)
    out = blend(preds)
    if R is not None:
        out = turn_back(out, R)
    out = out - out[:, :, :1]
    return out.astype(np.float32), route


def _tiny_model(seed: int = 0, **cfg) -> PoseMoE:
    torch.manual_seed(seed)
    model = PoseMoE(PoseMoEConfig(frames=T, dim=32, heads=4, encoder_layers=1, decoder_layers=1, **cfg)).eval()
    with torch.no_grad():  # an untrained head predicts ~0 everywhere; make its output substantial
        for p in model.head.parameters():
            p.mul_(30.0)
    return model


def _same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a, b)  # bit for bit (NaN where NaN)


@pytest.mark.parametrize("cfg", [dict(in_channels=3), dict(in_channels=2, input_norm="body")])
def test_lift_normalized_and_lifter_match_the_previous_windowing(cfg: dict) -> None:
    model = _tiny_model(1, **cfg)
    c = cfg["in_channels"]
    rng = np.random.default_rng(2)
    for n in (1, 5, 9, 10, 23, 100):
        x = (0.3 * rng.normal(size=(n, 17, c))).astype(np.float32)
        for stride in (None, 1, 4, 9):
            _same(lift_normalized(model, x, stride=stride, batch_size=7),
                  _ref_lift_normalized(model, x, stride=stride, batch_size=7))
        _same(lift_normalized(model, x, stride=3, flip=False, focal=1.6, principal=(0.05, -0.02)),
              _ref_lift_normalized(model, x, stride=3, flip=False, focal=1.6, principal=(0.05, -0.02)))
        kp = rng.uniform(0, 640, size=(n, 17, 3)).astype(np.float32)
        for overlap in (0.0, 0.5, 0.9):
            lifter = Lifter(model, overlap=overlap, batch_size=4)
            assert lifter.stride == max(1, int(round(T * (1.0 - overlap))))
            got = lifter(kp, (640, 480), focal_px=900.0)
            x = match_channels(normalize_screen(kp, 640, 480), c)
            view = {"focal": screen_focal(900.0, 640)} if uses_view_rotation(model) else {}
            want = _ref_lift_normalized(model, x, stride=lifter.stride, batch_size=4, **view)
            _same(got, want - want[:, :1])


@pytest.mark.parametrize("cfg", [dict(in_channels=3), dict(in_channels=2, input_norm="body")])
def test_lift_tracks_matches_the_previous_windowing(cfg: dict) -> None:
    model = _tiny_model(2, **cfg)
    rng = np.random.default_rng(3)
    kp = rng.uniform(50, 600, size=(3, 57, 17, 2))
    scores = rng.uniform(0, 1, size=(3, 57, 17))
    present = np.ones((3, 57), bool)
    present[0, 10:14] = present[0, 50:] = False
    present[1, :3] = present[1, 7:30] = present[1, 33] = False
    present[2] = False
    kp[~present] = np.nan
    for overlap in (0.0, 0.5, 0.9):
        got = lift_tracks(model, kp, scores, present, (640, 480), overlap=overlap, batch_size=5)
        _same(got, _ref_lift_tracks(model, kp, scores, present, (640, 480), overlap=overlap, batch_size=5)[0])
        assert np.isnan(got[~present]).all() and np.isfinite(got[present]).all()
    poses, routes = lift_tracks_routed(model, kp, scores, present, (640, 480), overlap=0.5, batch_size=5,
                                       focal_px=700.0)
    want_poses, want_routes = _ref_lift_tracks(model, kp, scores, present, (640, 480), overlap=0.5, batch_size=5,
                                               routes=True, focal_px=700.0)
    _same(poses, want_poses)
    _same(routes, want_routes)


def test_evaluation_figures_match_the_previous_windowing(h36m_npz: Path, tmp_path: Path, monkeypatch) -> None:
    ckpt = save_checkpoint(make_checkpoint(_tiny_model(0)), tmp_path / "tiny.pt")
    configs = [EvalConfig(checkpoint=str(ckpt), data_3d=str(h36m_npz), subjects=("S9",), device="cpu", **kw)
               for kw in ({}, {"stride": 4}, {"stride": 2, "flip": False})]
    now = [evaluate(ec, progress=False) for ec in configs]
    cams = evaluate_cameras(configs[1], camera_names=("portrait",), progress=False)
    monkeypatch.setattr(evaluate_mod, "lift_normalized", _ref_lift_normalized)
    before = [evaluate(ec, progress=False) for ec in configs]
    cams_before = evaluate_cameras(configs[1], camera_names=("portrait",), progress=False)
    for a, b in zip(now, before):
        assert a["per_action"] == b["per_action"] and a["average_over_actions"] == b["average_over_actions"]
    assert cams["rows"] == cams_before["rows"]
    assert now[0]["average_over_actions"] != now[1]["average_over_actions"]  # the stride does reach the lifting
