"""Tests for posemoe.metrics: hand-built cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from posemoe.errors import PoseMoEError
from posemoe.metrics import (
    all_metrics,
    auc,
    mpjpe,
    mpjpe_per_frame,
    mpjve,
    n_mpjpe,
    n_mpjpe_per_frame,
    p_mpjpe,
    p_mpjpe_per_frame,
    pck,
    procrustes_align,
)

J = 17


def _poses(n: int = 4, seed: int = 0) -> np.ndarray:
    """Random non-planar poses, shape (n, 17, 3), millimetres (spread of about 300 mm)."""
    return np.random.default_rng(seed).normal(scale=300.0, size=(n, J, 3))


def _random_rotation(seed: int = 1) -> np.ndarray:
    """A random proper rotation matrix (det +1), shape (3, 3)."""
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _fit_linear(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares 3x3 matrix A with (dst - mean) ~ (src - mean) @ A for one frame (J, 3)."""
    a, *_ = np.linalg.lstsq(src - src.mean(0), dst - dst.mean(0), rcond=None)
    return a


def test_identical_poses_give_zero_errors() -> None:
    gt = _poses()
    m = all_metrics(gt.copy(), gt)
    for key in ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve"):
        assert m[key] == pytest.approx(0.0, abs=1e-9), key
    assert m["pck150"] == 1.0
    # Threshold 0 counts nothing (strict "<"), the other 30 of 31 thresholds count everything.
    assert m["auc"] == pytest.approx(30 / 31)
    assert np.allclose(procrustes_align(gt, gt), gt)


def test_constant_offset_known_mpjpe() -> None:
    gt = _poses()
    pred = gt + np.array([3.0, 4.0, 0.0])
    assert mpjpe(pred, gt) == pytest.approx(5.0)
    per_frame = mpjpe_per_frame(pred, gt)
    assert per_frame.shape == (gt.shape[0],)
    assert np.allclose(per_frame, 5.0)
    # A pure translation is removed by Procrustes alignment, and does not change velocity.
    assert p_mpjpe(pred, gt) < 1e-6
    assert mpjve(pred, gt) == pytest.approx(0.0, abs=1e-9)


def test_mpjpe_per_frame_distinguishes_frames() -> None:
    gt = np.zeros((2, J, 3))
    pred = gt.copy()
    pred[1, :, 2] = 10.0  # only frame 1 is off, by 10 along z
    pred[0, 0] = [6.0, 8.0, 0.0]  # one joint of frame 0 off by 10
    assert np.allclose(mpjpe_per_frame(pred, gt), [10.0 / J, 10.0])
    assert mpjpe(pred, gt) == pytest.approx((10.0 / J + 10.0) / 2)


def test_similarity_transform_removed_by_p_mpjpe_only() -> None:
    gt = _poses(n=3)
    rot = _random_rotation()
    assert np.allclose(rot @ rot.T, np.eye(3))
    assert np.linalg.det(rot) == pytest.approx(1.0)
    pred = 1.7 * gt @ rot + np.array([120.0, -40.0, 900.0])

    assert p_mpjpe(pred, gt) < 1e-6
    assert np.all(p_mpjpe_per_frame(pred, gt) < 1e-6)
    assert np.allclose(procrustes_align(pred, gt), gt, atol=1e-6)
    assert mpjpe(pred, gt) > 100.0


def test_procrustes_recovers_proper_rotation_and_scale() -> None:
    gt = _poses(n=1)
    rot = _random_rotation(seed=5)
    pred = 0.6 * gt @ rot.T - 15.0
    aligned = procrustes_align(pred, gt)
    a = _fit_linear(pred[0], aligned[0])  # implied transform: scale * rotation
    scale = np.cbrt(np.linalg.det(a))
    assert scale == pytest.approx(1 / 0.6)
    assert np.allclose(a / scale, rot, atol=1e-8)  # undoes rot.T


def test_mirrored_pose_is_not_aligned_by_a_reflection() -> None:
    gt = _poses(n=2, seed=3)
    pred = gt * np.array([-1.0, 1.0, 1.0])  # mirror image in x
    aligned = procrustes_align(pred, gt)

    # A reflection would map pred exactly onto gt; a proper rotation cannot.
    assert p_mpjpe(pred, gt) > 1.0
    assert np.all(p_mpjpe_per_frame(pred, gt) > 1.0)
    for n in range(gt.shape[0]):
        a = _fit_linear(pred[n], aligned[n])
        assert np.linalg.det(a) > 0
        rot = a / np.cbrt(np.linalg.det(a))
        assert np.allclose(rot @ rot.T, np.eye(3), atol=1e-8)


def test_procrustes_degenerate_prediction_is_finite() -> None:
    gt = _poses(n=2)
    pred = np.ones_like(gt)  # every joint at the same point: no scale or rotation defined
    aligned = procrustes_align(pred, gt)
    assert np.all(np.isfinite(aligned))
    assert np.allclose(aligned, gt.mean(axis=1, keepdims=True))


def test_n_mpjpe_removes_scale_but_not_rotation() -> None:
    gt = _poses()
    assert n_mpjpe(2.5 * gt, gt) < 1e-6
    assert mpjpe(2.5 * gt, gt) > 100.0

    # Different scales per frame are each removed.
    scales = np.array([0.5, 1.0, 2.0, 3.0])[:, None, None]
    assert np.all(n_mpjpe_per_frame(scales * gt, gt) < 1e-6)

    rot_z = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # 90 deg about z
    rotated = gt @ rot_z
    assert n_mpjpe(rotated, gt) > 50.0
    assert p_mpjpe(rotated, gt) < 1e-6


def test_n_mpjpe_hand_case() -> None:
    # gt one joint at (1, 0, 0), pred at (1, 1, 0): s = 1/2, scaled pred (0.5, 0.5, 0),
    # error sqrt(0.5).
    gt = np.array([[[1.0, 0.0, 0.0]]])
    pred = np.array([[[1.0, 1.0, 0.0]]])
    assert n_mpjpe(pred, gt) == pytest.approx(math.sqrt(0.5))


def test_mpjve_known_values() -> None:
    gt = np.zeros((3, J, 3))
    pred = np.zeros((3, J, 3))
    pred[1] = [0.0, 3.0, 4.0]  # velocity error 5 from frame 0 to 1
    pred[2] = [0.0, 9.0, 12.0]  # then 10 from frame 1 to 2
    assert mpjve(pred, gt) == pytest.approx(7.5)

    moving = _poses(n=5) + np.arange(5)[:, None, None] * 10.0
    assert mpjve(moving + np.array([7.0, -2.0, 30.0]), moving) == pytest.approx(0.0, abs=1e-9)


def test_mpjve_needs_two_frames() -> None:
    gt = _poses(n=1)
    with pytest.raises(PoseMoEError, match="2 frames"):
        mpjve(gt, gt)
    assert math.isnan(all_metrics(gt, gt)["mpjve"])


def test_pck_and_auc_hand_built() -> None:
    gt = np.zeros((2, 10, 3))
    pred = gt.copy()
    pred[:, :5, 0] = 100.0  # half of the joints 100 mm off
    pred[:, 5:, 1] = 200.0  # the other half 200 mm off
    assert pck(pred, gt) == pytest.approx(0.5)
    assert pck(pred, gt, threshold=250.0) == pytest.approx(1.0)
    assert pck(pred, gt, threshold=50.0) == pytest.approx(0.0)
    # Strictly below: an error equal to the threshold does not count.
    assert pck(pred, gt, threshold=100.0) == pytest.approx(0.0)
    # Thresholds 0, 5, ..., 150: the 100 mm joints count from 105 on (10 thresholds).
    assert auc(pred, gt) == pytest.approx(10 * 0.5 / 31)
    # Thresholds 0, 100, 200, 300: strict "<" counts 0, 0, 0.5, 1.
    assert auc(pred, gt, max_threshold=300.0, steps=4) == pytest.approx((0 + 0 + 0.5 + 1) / 4)
    m = all_metrics(pred, gt)
    assert m["pck150"] == pytest.approx(0.5)
    assert m["mpjpe"] == pytest.approx(150.0)


def test_all_metrics_keys_and_types() -> None:
    gt = _poses()
    m = all_metrics(gt + 1.0, gt)
    assert set(m) == {"mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "pck150", "auc"}
    assert all(type(v) is float for v in m.values())


def test_accepts_torch_tensors() -> None:
    gt = _poses()
    pred = gt + np.array([3.0, 4.0, 0.0])
    pred_t = torch.tensor(pred, dtype=torch.float32, requires_grad=True)
    gt_t = torch.tensor(gt, dtype=torch.float32)
    assert mpjpe(pred_t, gt_t) == pytest.approx(5.0, rel=1e-5)
    assert procrustes_align(pred_t, gt_t).shape == gt.shape
    assert all_metrics(pred_t, gt_t)["pck150"] == 1.0


@pytest.mark.parametrize(
    "fn", [mpjpe, mpjpe_per_frame, procrustes_align, p_mpjpe, n_mpjpe, mpjve, pck, auc, all_metrics]
)
def test_shape_mismatch_raises(fn) -> None:
    gt = _poses(n=3)
    with pytest.raises(PoseMoEError, match=r"\(3, 17, 3\).*\(3, 16, 3\)"):
        fn(gt, gt[:, :16])


def test_wrong_rank_raises() -> None:
    with pytest.raises(PoseMoEError, match=r"\(N, J, 3\).*\(17, 3\)"):
        mpjpe(np.zeros((J, 3)), np.zeros((J, 3)))
    with pytest.raises(PoseMoEError, match=r"\(2, 17, 2\)"):
        p_mpjpe(np.zeros((2, J, 2)), np.zeros((2, J, 2)))


def test_xy_and_depth_split_of_a_known_offset() -> None:
    from posemoe.metrics import depth_error_per_frame, xy_error_per_frame

    rng = np.random.default_rng(0)
    gt = rng.normal(size=(5, 17, 3))
    pred = gt + np.array([3.0, 4.0, -12.0])  # 5 in the image plane, 12 in depth, 13 in all
    assert np.allclose(xy_error_per_frame(pred, gt), 5.0)
    assert np.allclose(depth_error_per_frame(pred, gt), 12.0)
    assert np.allclose(mpjpe_per_frame(pred, gt), 13.0)
    # a pure depth error leaves the image-plane part at zero
    assert np.allclose(xy_error_per_frame(gt + [0, 0, 7.0], gt), 0.0)


def test_accel_error_sees_jitter_not_smooth_offsets() -> None:
    from posemoe.metrics import accel_error

    t = np.arange(20, dtype=np.float64)
    gt = np.zeros((20, 17, 3))
    gt[..., 0] = 0.5 * t[:, None] ** 2  # constant acceleration 1 per frame^2
    assert accel_error(gt + 5.0 + 2.0 * t[:, None, None], gt) == pytest.approx(0.0, abs=1e-9)
    jitter = gt.copy()
    jitter[::2, :, 1] += 1.0  # +1, 0, +1, 0 ...: second difference +-2 every frame
    assert accel_error(jitter, gt) == pytest.approx(2.0)
    with pytest.raises(PoseMoEError, match="at least 3 frames"):
        accel_error(gt[:2], gt[:2])


def test_bone_length_cv() -> None:
    from posemoe.metrics import bone_length_cv

    rng = np.random.default_rng(0)
    pose = rng.normal(size=(17, 3))
    rigid = np.stack([pose @ np.linalg.qr(rng.normal(size=(3, 3)))[0] + rng.normal(size=3) for _ in range(10)])
    assert bone_length_cv(rigid) == pytest.approx(0.0, abs=1e-9)
    scaled = np.stack([pose * s for s in (0.9, 1.1)])  # every bone 0.9x then 1.1x: std/mean = 0.1
    assert bone_length_cv(scaled) == pytest.approx(0.1)
    scaled[1, 3] = np.nan  # a frame with a missing joint is skipped
    assert np.isnan(bone_length_cv(scaled))
