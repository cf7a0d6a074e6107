"""Tests for posemoe.losses: values on hand cases, gradients and the weighted total."""

from __future__ import annotations

import math

import pytest
import torch

from posemoe.errors import PoseMoEError
from posemoe.losses import (
    LossWeights,
    depth_loss,
    lifting_loss,
    mpjpe_loss,
    n_mpjpe_loss,
    velocity_loss,
)

J = 17


def _poses(b: int = 2, t: int = 5, seed: int = 0) -> torch.Tensor:
    """Random poses, shape (b, t, 17, 3), metres (spread of about 0.3 m), float64."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, t, J, 3, generator=g, dtype=torch.float64) * 0.3


def test_identical_poses_give_zero_and_finite_gradients() -> None:
    gt = _poses()
    pred = gt.clone().requires_grad_(True)
    total, parts = lifting_loss(pred, gt, LossWeights(depth=1.0))
    for key in ("mpjpe", "n_mpjpe", "velocity", "depth", "aux", "total"):
        assert parts[key] == pytest.approx(0.0, abs=1e-9), key
    total.backward()
    assert torch.isfinite(pred.grad).all()


def test_mpjpe_loss_constant_offset() -> None:
    gt = _poses()
    pred = gt + torch.tensor([0.03, 0.04, 0.0], dtype=torch.float64)
    assert mpjpe_loss(pred, gt).item() == pytest.approx(0.05)
    # A constant offset has no velocity error, and no depth error when z is untouched.
    assert velocity_loss(pred, gt).item() == pytest.approx(0.0, abs=1e-12)
    assert depth_loss(pred, gt).item() == pytest.approx(0.0, abs=1e-12)


def test_n_mpjpe_loss_removes_one_scale_per_sample() -> None:
    gt = _poses(b=2)
    scales = torch.tensor([0.5, 2.0], dtype=torch.float64).view(2, 1, 1, 1)
    assert n_mpjpe_loss(scales * gt, gt).item() < 1e-9
    assert mpjpe_loss(scales * gt, gt).item() > 0.05

    # A scale that changes from frame to frame within a sample is not fully removed.
    per_frame = torch.linspace(0.5, 2.0, gt.shape[1], dtype=torch.float64).view(1, -1, 1, 1)
    assert n_mpjpe_loss(per_frame * gt, gt).item() > 0.01

    # A rotation is not removed.
    rot_z = torch.tensor([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    assert n_mpjpe_loss(gt @ rot_z, gt).item() > 0.05


def test_n_mpjpe_loss_hand_case() -> None:
    # gt one joint at (1, 0, 0), pred at (1, 1, 0): s = 1/2, error sqrt(0.5).
    gt = torch.tensor([1.0, 0.0, 0.0]).view(1, 1, 1, 3)
    pred = torch.tensor([1.0, 1.0, 0.0]).view(1, 1, 1, 3)
    assert n_mpjpe_loss(pred, gt).item() == pytest.approx(math.sqrt(0.5), rel=1e-6)


def test_velocity_loss_known_value() -> None:
    gt = torch.zeros(1, 3, J, 3)
    pred = torch.zeros(1, 3, J, 3)
    pred[:, 1] = torch.tensor([0.0, 0.3, 0.4])  # velocity error 0.5
    pred[:, 2] = torch.tensor([0.0, 0.9, 1.2])  # then 1.0
    assert velocity_loss(pred, gt).item() == pytest.approx(0.75, rel=1e-6)


def test_velocity_loss_single_frame_is_zero_and_differentiable() -> None:
    gt = _poses(t=1)
    pred = (gt + 1.0).requires_grad_(True)
    loss = velocity_loss(pred, gt)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(pred.grad, torch.zeros_like(pred))


def test_depth_loss_known_value() -> None:
    gt = torch.zeros(1, 2, J, 3)
    pred = gt.clone()
    pred[..., 2] = 0.2
    pred[:, 0, :, 2] = -0.4  # frame 0 off by 0.4, frame 1 by 0.2
    pred[..., 0] = 5.0  # x errors do not count
    assert depth_loss(pred, gt).item() == pytest.approx(0.3, rel=1e-6)


def test_gradients_flow_to_pred_and_router() -> None:
    gt = _poses()
    pred = (gt + 0.01 * _poses(seed=7)).requires_grad_(True)
    router_param = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    aux = router_param**2
    total, _ = lifting_loss(pred, gt, LossWeights(depth=0.1), aux_loss=aux)
    total.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()
    assert pred.grad.abs().sum().item() > 0
    assert router_param.grad.item() == pytest.approx(0.01 * 2 * 2.0)


def test_gradient_descent_reduces_loss() -> None:
    gt = _poses()
    pred = (gt + 0.1 * _poses(seed=7)).requires_grad_(True)
    opt = torch.optim.Adam([pred], lr=0.005)
    first, _ = lifting_loss(pred, gt, LossWeights())
    for _ in range(30):
        opt.zero_grad()
        loss, _ = lifting_loss(pred, gt, LossWeights())
        loss.backward()
        opt.step()
    last, _ = lifting_loss(pred, gt, LossWeights())
    assert last.item() < 0.5 * first.item()


def test_lifting_loss_total_is_weighted_sum_of_parts() -> None:
    gt = _poses()
    pred = gt + 0.05 * _poses(seed=7)
    weights = LossWeights(mpjpe=1.5, n_mpjpe=0.25, velocity=3.0, depth=0.7, aux=0.2)
    aux = torch.tensor(0.8, dtype=torch.float64)
    total, parts = lifting_loss(pred, gt, weights, aux_loss=aux)

    assert set(parts) == {"mpjpe", "n_mpjpe", "velocity", "depth", "aux", "total"}
    assert all(type(v) is float for v in parts.values())
    assert parts["mpjpe"] == pytest.approx(mpjpe_loss(pred, gt).item())
    assert parts["n_mpjpe"] == pytest.approx(n_mpjpe_loss(pred, gt).item())
    assert parts["velocity"] == pytest.approx(velocity_loss(pred, gt).item())
    assert parts["depth"] == pytest.approx(depth_loss(pred, gt).item())
    assert parts["aux"] == pytest.approx(0.8)
    expected = (
        1.5 * parts["mpjpe"]
        + 0.25 * parts["n_mpjpe"]
        + 3.0 * parts["velocity"]
        + 0.7 * parts["depth"]
        + 0.2 * parts["aux"]
    )
    assert total.dim() == 0
    assert total.item() == pytest.approx(expected)
    assert parts["total"] == pytest.approx(expected)


def test_default_weights_and_no_aux() -> None:
    w = LossWeights()
    assert (w.mpjpe, w.n_mpjpe, w.velocity, w.depth, w.aux) == (1.0, 0.5, 20.0, 0.0, 0.01)
    gt = _poses()
    pred = gt.clone()
    pred[..., 2] += 0.1  # depth error, ignored by the default (0) depth weight
    total, parts = lifting_loss(pred, gt, w)
    assert parts["aux"] == 0.0
    assert parts["depth"] == pytest.approx(0.1)
    assert total.item() == pytest.approx(parts["mpjpe"] + 0.5 * parts["n_mpjpe"] + 20 * parts["velocity"])


def test_shape_errors() -> None:
    gt = _poses()
    with pytest.raises(PoseMoEError, match=r"\(2, 5, 17, 3\).*\(2, 5, 16, 3\)"):
        mpjpe_loss(gt, gt[:, :, :16])
    with pytest.raises(PoseMoEError, match=r"\(B, T, J, 3\).*\(5, 17, 3\)"):
        velocity_loss(gt[0], gt[0])
    with pytest.raises(PoseMoEError, match="aux_loss"):
        lifting_loss(gt, gt, LossWeights(), aux_loss=torch.zeros(3))


def test_negative_weight_rejected() -> None:
    with pytest.raises(PoseMoEError, match="velocity"):
        LossWeights(velocity=-1.0)
