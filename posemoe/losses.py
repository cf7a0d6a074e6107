"""Differentiable training losses for 2D-to-3D lifting, in torch.

All losses take a prediction ``pred`` and a target ``gt`` of shape ``(B, T, J, 3)``: ``B``
sequences in the batch, ``T`` frames, ``J`` joints, ``(x, y, z)`` in metres. They return a
0-dimensional tensor in metres (the velocity term in metres per frame) that can be
back-propagated through ``pred``.

The training objective (see ``docs/posemoe-architecture.md``) is
``MPJPE + 0.5 N-MPJPE + 20 velocity + aux * router load-balancing loss``, with an optional L1
term on the depth (z) coordinate; :func:`lifting_loss` combines them with :class:`LossWeights`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
from torch import Tensor

from posemoe.errors import PoseMoEError

__all__ = [
    "mpjpe_loss",
    "n_mpjpe_loss",
    "velocity_loss",
    "depth_loss",
    "LossWeights",
    "lifting_loss",
]

# Guards the N-MPJPE scale against an all-zero prediction (sum of squares, metres^2).
_EPS = 1e-12


def _check_pair(pred: Tensor, gt: Tensor) -> None:
    """Check ``pred`` and ``gt`` are tensors of the same ``(B, T, J, 3)`` shape.

    Raises:
        PoseMoEError: on a wrong number of dimensions, a last dimension other than 3, or
            differing shapes.
    """
    if not isinstance(pred, Tensor) or not isinstance(gt, Tensor):
        raise PoseMoEError(
            f"losses: expected torch tensors, got {type(pred).__name__} and {type(gt).__name__}"
        )
    if pred.dim() != 4 or pred.shape[-1] != 3:
        raise PoseMoEError(f"pred: expected shape (B, T, J, 3), got {tuple(pred.shape)}")
    if gt.shape != pred.shape:
        raise PoseMoEError(
            f"gt: expected shape {tuple(pred.shape)} (the shape of pred), got {tuple(gt.shape)}"
        )


def _mean_joint_error(pred: Tensor, gt: Tensor) -> Tensor:
    """Mean Euclidean distance over every joint of every frame (no shape checks)."""
    return torch.linalg.vector_norm(pred - gt, dim=-1).mean()


def mpjpe_loss(pred: Tensor, gt: Tensor) -> Tensor:
    """Mean per-joint position error.

    Args:
        pred: predicted joints, shape ``(B, T, J, 3)``, metres.
        gt: target joints, shape ``(B, T, J, 3)``, metres.

    Returns:
        Scalar tensor, metres: mean over ``B, T, J`` of the Euclidean distance.
    """
    _check_pair(pred, gt)
    return _mean_joint_error(pred, gt)


def n_mpjpe_loss(pred: Tensor, gt: Tensor) -> Tensor:
    """MPJPE after scaling each sample of ``pred`` by its least-squares optimal scale.

    For sample ``b`` the scale is ``s_b = <pred_b, gt_b> / <pred_b, pred_b>`` with the inner
    products summed over all frames, joints and coordinates, so one scale is fitted per
    sequence (not per frame). The scale stays in the graph, as in the usual N-MPJPE loss.

    Args:
        pred: predicted joints, shape ``(B, T, J, 3)``, metres.
        gt: target joints, shape ``(B, T, J, 3)``, metres.

    Returns:
        Scalar tensor, metres.
    """
    _check_pair(pred, gt)
    pp = (pred * pred).sum(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    pg = (pred * gt).sum(dim=(1, 2, 3), keepdim=True)
    scale = pg / pp.clamp_min(_EPS)
    return _mean_joint_error(scale * pred, gt)


def velocity_loss(pred: Tensor, gt: Tensor) -> Tensor:
    """Mean joint error of the first differences along the frame axis ``T``.

    Args:
        pred: predicted joints, shape ``(B, T, J, 3)``, metres.
        gt: target joints, shape ``(B, T, J, 3)``, metres.

    Returns:
        Scalar tensor, metres per frame; exactly 0 (still attached to ``pred``'s graph) when
        ``T == 1``.
    """
    _check_pair(pred, gt)
    if pred.shape[1] < 2:
        return (pred * 0.0).sum()
    return _mean_joint_error(torch.diff(pred, dim=1), torch.diff(gt, dim=1))


def depth_loss(pred: Tensor, gt: Tensor) -> Tensor:
    """Mean absolute error (L1) of the z (depth) coordinate.

    Args:
        pred: predicted joints, shape ``(B, T, J, 3)``, metres.
        gt: target joints, shape ``(B, T, J, 3)``, metres.

    Returns:
        Scalar tensor, metres.
    """
    _check_pair(pred, gt)
    return (pred[..., 2] - gt[..., 2]).abs().mean()


@dataclass
class LossWeights:
    """Weights of the terms of :func:`lifting_loss` (dimensionless, each ``>= 0``).

    Attributes:
        mpjpe: weight of the MPJPE term.
        n_mpjpe: weight of the per-sample scale-aligned MPJPE term.
        velocity: weight of the velocity (first-difference) term.
        depth: weight of an extra L1 term on the z coordinate; 0 (off) by default.
        aux: weight of the router's load-balancing loss.
    """

    mpjpe: float = 1.0
    n_mpjpe: float = 0.5
    velocity: float = 20.0
    depth: float = 0.0
    aux: float = 0.01

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise PoseMoEError(
                    f"LossWeights.{f.name}: expected a finite number >= 0, got {value!r}"
                )


def lifting_loss(
    pred: Tensor,
    gt: Tensor,
    weights: LossWeights,
    aux_loss: Tensor | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """The training objective: a weighted sum of the lifting losses and the router's loss.

    ``total = w.mpjpe * mpjpe + w.n_mpjpe * n_mpjpe + w.velocity * velocity
    + w.depth * depth + w.aux * aux``.

    Args:
        pred: predicted joints, shape ``(B, T, J, 3)``, metres.
        gt: target joints, shape ``(B, T, J, 3)``, metres.
        weights: the term weights.
        aux_loss: the router's load-balancing loss, a tensor with one element
            (dimensionless), or ``None`` for none (counted as 0).

    Returns:
        ``(total, parts)``: ``total`` is the scalar tensor to back-propagate; ``parts`` holds
        the unweighted terms and the weighted total as Python floats, keys ``"mpjpe"``,
        ``"n_mpjpe"``, ``"velocity"``, ``"depth"``, ``"aux"``, ``"total"``.

    Raises:
        PoseMoEError: on wrong shapes, or an ``aux_loss`` with more than one element.
    """
    _check_pair(pred, gt)
    terms: dict[str, Tensor] = {
        "mpjpe": mpjpe_loss(pred, gt),
        "n_mpjpe": n_mpjpe_loss(pred, gt),
        "velocity": velocity_loss(pred, gt),
        "depth": depth_loss(pred, gt),
    }
    if aux_loss is None:
        terms["aux"] = pred.new_zeros(())
    else:
        if not isinstance(aux_loss, Tensor) or aux_loss.numel() != 1:
            shape = tuple(aux_loss.shape) if isinstance(aux_loss, Tensor) else type(aux_loss).__name__
            raise PoseMoEError(f"aux_loss: expected a tensor with one element, got {shape}")
        terms["aux"] = aux_loss.reshape(()).to(dtype=pred.dtype)

    total = pred.new_zeros(())
    for name, value in terms.items():
        total = total + getattr(weights, name) * value
    parts = {name: float(value.detach()) for name, value in terms.items()}
    parts["total"] = float(total.detach())
    return total, parts
