"""Temporal smoothing of pose tracks (posemoe.smoothing) and its measurement example."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import butter, sosfilt

from posemoe.errors import PoseMoEError
from posemoe.smoothing import DEFAULT_SMOOTHING, Smoothing, finite_segments, parse_smoothing

ROOT = Path(__file__).resolve().parent.parent
ZERO_PHASE = ("gaussian:0.04", "gaussian:0.1", "savgol:0.3,2", "savgol:0.4,3", "butter:4,2", "butter:2,2",
              "butter:6,4", DEFAULT_SMOOTHING)
FAMILY_DEFAULTS = ("gaussian", "savgol", "butter")


def _motion(n: int, fps: float, joints: int = 4) -> np.ndarray:
    """(n, joints, 3) smooth motion in metres: slow sines of different phases per joint."""
    t = np.arange(n)[:, None, None] / fps
    j = np.arange(joints)[None, :, None]
    c = np.arange(3)[None, None, :]
    return 0.2 * np.sin(2 * np.pi * (0.3 + 0.1 * c) * t + j + c) + 0.05 * np.cos(2 * np.pi * 0.8 * t + 2 * j)


def _accel(x: np.ndarray) -> float:
    return float(np.linalg.norm(x[2:] - 2 * x[1:-1] + x[:-2], axis=-1).mean())


@pytest.mark.parametrize("spec", ZERO_PHASE + FAMILY_DEFAULTS)
def test_noise_on_a_smooth_motion_is_reduced(spec: str) -> None:
    fps = 30.0
    clean = _motion(150, fps)
    noisy = clean + np.random.default_rng(0).normal(0.0, 0.01, clean.shape)  # 1 cm detector noise
    out = parse_smoothing(spec).apply(noisy, fps)
    assert out.shape == noisy.shape
    assert _accel(out) < 0.3 * _accel(noisy)  # most of the jitter goes
    err_in = np.linalg.norm(noisy - clean, axis=-1).mean()
    err_out = np.linalg.norm(out - clean, axis=-1).mean()
    assert err_out < 0.85 * err_in  # and the result is closer to the clean motion


@pytest.mark.parametrize("spec", ZERO_PHASE)
def test_constant_and_linear_motion_pass_unchanged(spec: str) -> None:
    s = parse_smoothing(spec)
    const = np.broadcast_to(np.array([0.1, -0.3, 2.0]), (40, 17, 3)).copy()
    assert np.allclose(s.apply(const, 25.0), const, atol=1e-12)
    ramp = np.arange(80)[:, None, None] * np.array([0.01, -0.02, 0.005]) + np.linspace(0, 1, 17)[None, :, None]
    assert np.abs(s.apply(ramp, 30.0) - ramp).max() < 1e-5  # 0.01 mm, up to the first and last frame


@pytest.mark.parametrize("spec", ZERO_PHASE)
def test_zero_phase_filters_leave_a_peak_where_it_is(spec: str) -> None:
    """A bump stays centred on its frame (its centroid moves by far less than a frame), where a
    one-directional filter of the same cutoff moves it later."""
    fps = 25.0
    t = np.arange(101) / fps
    bump = np.exp(-0.5 * ((t - t[50]) / 0.15) ** 2)[:, None]
    out = parse_smoothing(spec).apply(bump, fps)[:, 0]
    assert int(np.argmax(out)) == 50
    assert abs(float((out * np.arange(101)).sum() / out.sum()) - 50.0) < 1e-6
    late = sosfilt(butter(2, 4.0, output="sos", fs=fps), bump[:, 0])
    assert float((late * np.arange(101)).sum() / late.sum()) - 50.0 > 0.5  # the test can tell lag apart


@pytest.mark.parametrize("spec", ZERO_PHASE)
def test_nan_gaps_stay_nan_and_do_not_bleed(spec: str) -> None:
    fps = 25.0
    x = _motion(90, fps) + np.random.default_rng(1).normal(0.0, 0.01, (90, 4, 3))
    x[40:45] = np.nan
    x[45:] += 5.0  # far away after the gap: must not pull the frames before it
    x[70, 2, 1] = np.nan  # one joint missing: the frame counts as absent
    s = parse_smoothing(spec)
    out = s.apply(x, fps)
    assert np.isnan(out[40:45]).all()
    assert np.isnan(out[70, 2, 1]) and np.array_equal(out[70, [0, 1, 3]], x[70, [0, 1, 3]])  # kept as given
    assert np.isfinite(np.delete(out, [40, 41, 42, 43, 44, 70], axis=0)).all()
    # each segment is smoothed as if the others did not exist
    assert np.allclose(out[:40], s.apply(x[:40], fps), atol=1e-12)
    assert np.allclose(out[45:70], s.apply(x[45:70], fps), atol=1e-12)
    assert np.allclose(out[71:], s.apply(x[71:], fps), atol=1e-12)
    assert np.abs(out[:40] - x[:40]).max() < 0.05  # nothing of the +5 m after the gap leaked in


@pytest.mark.parametrize("spec", ("gaussian:0.2", "savgol:0.5,2", "savgol:0.5,4", "butter:2,2"))
def test_short_segments(spec: str) -> None:
    """Segments of 1-2 frames are kept as they are; longer ones shorter than the filter are
    smoothed with a shorter filter, stay finite and keep a straight line."""
    s = parse_smoothing(spec)
    ramp = np.arange(30, dtype=np.float64)[:, None] * np.array([0.01, 0.02])
    x = ramp.copy()
    x[1] = x[4] = x[10] = np.nan  # segments: [0], [2, 3], [5..9] (5 frames), [11..29]
    out = s.apply(x, 30.0)
    assert np.isnan(out[[1, 4, 10]]).all()
    assert np.array_equal(out[[0, 2, 3]], x[[0, 2, 3]])
    assert np.allclose(out[5:10], ramp[5:10], atol=1e-9)
    noisy = ramp[:5] + np.array([[0, 0], [0.01, 0], [-0.01, 0.01], [0.01, 0], [0, -0.01]])
    assert np.isfinite(s.apply(noisy, 30.0)).all()
    zigzag = ramp[:12] + 0.01 * (-1.0) ** np.arange(12)[:, None]  # 12 frames, shorter than the filter
    out12 = s.apply(zigzag, 30.0)
    assert np.abs(out12 - ramp[:12])[2:-2].max() < 0.6 * 0.01  # still smoothed
    assert np.allclose(s.apply(ramp[:12], 30.0), ramp[:12], atol=1e-6)
    assert finite_segments(x) == [(0, 1), (2, 4), (5, 10), (11, 30)]


@pytest.mark.parametrize("spec", ("gaussian:0.04", "gaussian:0.1", "savgol:0.3,2", "butter:4,2", "butter:6,4"))
def test_the_same_spec_gives_the_same_curve_at_25_and_50_fps(spec: str) -> None:
    """Parameters are in seconds / Hz: one signal sampled at 25 and at 50 fps comes out the same
    (a filter set in frames would differ here by about a fifth of the amplitude)."""
    def sig(t: np.ndarray) -> np.ndarray:
        return np.stack([np.sin(2 * np.pi * 3.0 * t), 0.5 * np.cos(2 * np.pi * 1.1 * t + 0.3)], axis=1)

    s = parse_smoothing(spec)
    t25, t50 = np.arange(100) / 25.0, np.arange(199) / 50.0  # the same span of time
    a = s.apply(sig(t25), 25.0)
    b = s.apply(sig(t50), 50.0)[::2]
    assert np.abs(a - sig(t25)).max() > 0.04  # it did smooth
    inner = slice(10, -10)  # 0.4 s from the ends
    assert np.abs(a[inner] - b[inner]).max() < 0.04
    if not spec.startswith("savgol"):  # a discrete polynomial fit depends on the frame count at the ends
        assert np.abs(a - b).max() < 0.06


def test_butterworth_above_nyquist_and_none_pass_unchanged() -> None:
    x = _motion(40, 12.0) + np.random.default_rng(2).normal(0, 0.01, (40, 4, 3))
    assert np.array_equal(parse_smoothing("butter:6").apply(x, 12.0), x)  # nothing above 6 Hz at 12 fps
    assert not np.allclose(parse_smoothing("butter:6").apply(x, 30.0), x)
    y = parse_smoothing("none").apply(x, 30.0)
    assert np.array_equal(y, x) and y is not x


def test_apply_keeps_shape_and_dtype_and_does_not_touch_its_input() -> None:
    x = (_motion(30, 25.0, joints=17) + np.random.default_rng(3).normal(0, 0.01, (30, 17, 3))).astype(np.float32)
    before = x.copy()
    out = parse_smoothing(DEFAULT_SMOOTHING).apply(x, 25.0)
    assert out.shape == x.shape and out.dtype == np.float32
    assert np.array_equal(x, before)
    assert parse_smoothing("gaussian").apply(np.arange(10), 25.0).dtype == np.float64
    one_d = parse_smoothing("gaussian").apply(np.arange(10.0), 25.0)  # (F,) works too
    assert np.allclose(one_d, np.arange(10.0))
    for bad_fps in (0.0, -25.0, float("nan"), float("inf")):
        with pytest.raises(PoseMoEError, match="fps"):
            parse_smoothing("gaussian").apply(x, bad_fps)
    with pytest.raises(PoseMoEError, match="time on axis 0"):
        parse_smoothing("gaussian").apply(np.float64(1.0), 25.0)


@pytest.mark.parametrize("spec,words", [
    ("wobble", ("unknown filter 'wobble'", "none, gaussian[:SIGMA_S], savgol[:WINDOW_S[,ORDER]]", "butter[:CUTOFF_HZ")),
    ("", ("unknown filter",)),
    ("gaussian:abc", ("SIGMA_S", "number of seconds", "'abc'", "e.g. --smooth gaussian:")),
    ("gaussian:-1", ("SIGMA_S", "> 0", "e.g.")),
    ("gaussian:0", ("> 0",)),
    ("gaussian:nan", ("> 0",)),
    ("gaussian:0.04,2", ("does not match gaussian[:SIGMA_S]", "e.g.")),
    ("gaussian:", ("does not match",)),
    ("savgol:0.3,x", ("ORDER", "whole number", "e.g. --smooth savgol:0.3,2")),
    ("savgol:0.3,9", ("ORDER", "0 to 6")),
    ("butter:abc", ("CUTOFF_HZ", "Hz")),
    ("butter:4,0", ("ORDER", "1 to 8")),
    ("butter:1,2,3", ("does not match butter[:CUTOFF_HZ[,ORDER]]",)),
    ("none:3", ("takes no parameters", "none")),
])
def test_bad_specs_say_what_is_wrong_and_how_to_fix_it(spec: str, words: tuple[str, ...]) -> None:
    with pytest.raises(PoseMoEError) as err:
        parse_smoothing(spec)
    msg = str(err.value)
    assert msg.startswith("--smooth") and "\n" not in msg
    for w in words:
        assert w in msg, (w, msg)


def test_bad_fields_of_the_dataclass_are_refused() -> None:
    with pytest.raises(PoseMoEError, match="takes no"):
        Smoothing("gaussian", cutoff_hz=4.0)
    with pytest.raises(PoseMoEError, match="unknown filter"):
        Smoothing("median")
    with pytest.raises(PoseMoEError, match="ORDER"):
        Smoothing("savgol", window_s=0.3, order=True)  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", ["none", " NONE ", "gaussian", "gaussian:0.04", "gaussian:1e-05", "Savgol:0.3",
                                  "savgol:0.25,3", "butter", "butter:4", "butter:2.5,4", DEFAULT_SMOOTHING])
def test_the_spec_string_round_trips(spec: str) -> None:
    s = parse_smoothing(spec)
    again = parse_smoothing(str(s))
    assert again == s and str(again) == str(s)
    d = s.describe()
    assert json.loads(json.dumps(d)) == d and d["spec"] == str(s) and d["kind"] == s.kind


def test_defaults() -> None:
    assert str(parse_smoothing(DEFAULT_SMOOTHING)) == DEFAULT_SMOOTHING  # written out in full
    assert parse_smoothing(DEFAULT_SMOOTHING).kind != "none"
    assert parse_smoothing("gaussian") == Smoothing("gaussian", sigma_s=0.04)
    assert parse_smoothing("savgol:0.3") == Smoothing("savgol", window_s=0.3, order=2)
    assert parse_smoothing("butter") == parse_smoothing("butter:4,2")


def test_tradeoff_example_measures_lag_and_jitter(tmp_path: Path) -> None:
    """The measurement script on a small made-up walk: zero-phase filters read no lag, the
    one-directional reference does, smoothing lowers the jitter, and the page is written."""
    from conftest import synthetic_motion

    from pipeline.export import Results, save_results

    f, fps = 90, 25.0
    truth = synthetic_motion(f, seed=4).astype(np.float64)
    truth[:, :, 0] += 0.1 * np.sin(2 * np.pi * 1.5 * np.arange(f) / fps)[:, None]  # some brisk movement
    np.savez(tmp_path / "truth.npz", keypoints3d_camera=truth.astype(np.float32))
    rel = truth - truth[:, :1]
    raw = rel + np.random.default_rng(5).normal(0.0, 0.008, rel.shape)
    raw[:, 0] = 0.0
    k3 = np.stack([raw, raw[::-1]]).astype(np.float32)  # a second track for the clip table
    k3[1, :10] = np.nan

    def results(k: np.ndarray) -> Results:
        p = len(k)
        return Results(frame_index=np.arange(f), time_s=np.arange(f) / fps, fps=fps, image_size=(640, 480),
                       track_ids=np.arange(p), keypoints2d=np.full((p, f, 17, 2), 100.0),
                       scores2d=np.ones((p, f, 17)), keypoints3d=k, extra={"input": "clip.mp4"})

    save_results(tmp_path / "walk.npz", results(k3[:1]))
    save_results(tmp_path / "clip.npz", results(k3))
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "smoothing_tradeoff.py"), "--walk", "walk.npz",
                           "--truth", "truth.npz", "clip.npz", "--write", "page.md"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "tests"), "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import smoothing_tradeoff as st
    finally:
        sys.path.remove(str(ROOT / "examples"))
    walk = st.walk_table(str(tmp_path / "walk.npz"), str(tmp_path / "truth.npz"), (*st.GRID, st.CAUSAL))
    v = walk.values
    for name in st.GRID[1:]:
        assert abs(v[name]["lag_raw"]) < 0.15, name
        assert v[name]["jitter"] < v["none"]["jitter"], name
    assert v[st.CAUSAL]["lag_raw"] > 0.5
    page = (tmp_path / "page.md").read_text()
    assert "| none (raw) |" in page and "## The default" in page and "--smooth none" in page
    assert "clip.mp4" in page and "recommended:" in proc.stdout
    smoothed = tmp_path / "smoothed.npz"
    res = results(k3[:1])
    res.smoothing = parse_smoothing("gaussian").describe()
    save_results(smoothed, res)
    refused = subprocess.run([sys.executable, str(ROOT / "examples" / "smoothing_tradeoff.py"), "--walk",
                              str(smoothed), "--truth", "truth.npz"], cwd=tmp_path, capture_output=True, text=True,
                             timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert refused.returncode == 1 and "--smooth none" in refused.stderr
