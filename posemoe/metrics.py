"""Evaluation metrics for 3D human pose, computed in numpy.

Every function takes a prediction ``pred`` and a ground truth ``gt`` of the same shape
``(N, J, 3)``: ``N`` frames, ``J`` joints, ``(x, y, z)`` coordinates. Either may be a numpy
array, a torch tensor (any device, with or without gradient) or anything ``np.asarray``
accepts. The values are used in whatever length unit they come in; the evaluator passes
millimetres, and the default thresholds of :func:`pck` and :func:`auc` (150) assume
millimetres. Errors are returned in the same unit as the input.

The metrics do not subtract the root joint themselves: for Protocol 1 (MPJPE) the caller
passes root-relative poses. P-MPJPE removes translation, rotation and scale per frame
anyway; N-MPJPE removes scale only.

Non-finite values are not rejected; they propagate into the result as ``nan``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from posemoe.errors import PoseMoEError

__all__ = [
    "mpjpe",
    "mpjpe_per_frame",
    "procrustes_align",
    "p_mpjpe",
    "p_mpjpe_per_frame",
    "n_mpjpe",
    "n_mpjpe_per_frame",
    "mpjve",
    "accel_error",
    "bone_length_cv",
    "xy_error_per_frame",
    "depth_error_per_frame",
    "pck",
    "auc",
    "all_metrics",
]


def _to_numpy(x: Any) -> np.ndarray:
    """Return ``x`` as a float64 numpy array (torch tensors are detached and moved to CPU)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        # .double() first: numpy has no bfloat16, so convert on the torch side.
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def _check_pair(pred: Any, gt: Any) -> tuple[np.ndarray, np.ndarray]:
    """Convert ``pred`` and ``gt`` to float64 arrays and check both are ``(N, J, 3)`` alike.

    Raises:
        PoseMoEError: if either is not ``(N, J, 3)`` with ``N, J >= 1``, or the shapes differ.
    """
    p = _to_numpy(pred)
    g = _to_numpy(gt)
    if p.ndim != 3 or p.shape[-1] != 3 or p.shape[0] == 0 or p.shape[1] == 0:
        raise PoseMoEError(f"pred: expected shape (N, J, 3) with N, J >= 1, got {tuple(p.shape)}")
    if g.shape != p.shape:
        raise PoseMoEError(
            f"gt: expected shape {tuple(p.shape)} (the shape of pred), got {tuple(g.shape)}"
        )
    return p, g


def _joint_errors(p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Euclidean distance per joint, shape ``(N, J)``, for checked arrays ``(N, J, 3)``."""
    return np.linalg.norm(p - g, axis=-1)


def mpjpe_per_frame(pred: Any, gt: Any) -> np.ndarray:
    """Mean per-joint position error of each frame.

    Args:
        pred: predicted joints, shape ``(N, J, 3)``, any length unit.
        gt: ground-truth joints, shape ``(N, J, 3)``, same unit.

    Returns:
        Array of shape ``(N,)``: mean over joints of the Euclidean distance, input unit.
    """
    p, g = _check_pair(pred, gt)
    return _joint_errors(p, g).mean(axis=1)


def mpjpe(pred: Any, gt: Any) -> float:
    """Mean per-joint position error (MPJPE) over all frames and joints, in the input unit.

    Args:
        pred: predicted joints, shape ``(N, J, 3)``.
        gt: ground-truth joints, shape ``(N, J, 3)``.
    """
    return float(mpjpe_per_frame(pred, gt).mean())


def _procrustes(p: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame similarity alignment of ``p`` onto ``g`` (both checked ``(N, J, 3)``).

    Finds, for each frame, the scale ``s >= 0``, proper rotation ``R`` (``det R = +1``) and
    translation ``t`` minimising ``sum_j |s * p_j @ R + t - g_j|^2`` (row vectors).

    Returns:
        ``(aligned, s, R, t)`` with shapes ``(N, J, 3)``, ``(N,)``, ``(N, 3, 3)``, ``(N, 3)``.
    """
    mu_p = p.mean(axis=1, keepdims=True)  # (N, 1, 3)
    mu_g = g.mean(axis=1, keepdims=True)
    x = p - mu_p
    y = g - mu_g

    # Cross-covariance M = X^T Y; with M = U S V^T the best orthogonal R (for X @ R) is U V^T.
    m = np.einsum("nji,njk->nik", x, y)  # (N, 3, 3)
    u, sing, vt = np.linalg.svd(m)
    # Reflection fix: when U V^T would be a mirror, flip the last singular vector and value.
    sign = np.sign(np.linalg.det(u @ vt))
    sign[sign == 0] = 1.0
    d = np.ones_like(sing)
    d[:, -1] = sign
    rot = (u * d[:, None, :]) @ vt  # U diag(d) V^T, (N, 3, 3)

    var_x = np.einsum("nji,nji->n", x, x)  # sum of squared centred coordinates, (N,)
    trace = (sing * d).sum(axis=1)
    # A frame whose predicted joints all coincide has no defined scale: collapse it onto the
    # centroid of gt (scale 0) rather than dividing by zero.
    safe = var_x > 0
    scale = np.where(safe, trace / np.where(safe, var_x, 1.0), 0.0)

    t = mu_g[:, 0, :] - scale[:, None] * np.einsum("ni,nik->nk", mu_p[:, 0, :], rot)
    aligned = scale[:, None, None] * (p @ rot) + t[:, None, :]
    return aligned, scale, rot, t


def procrustes_align(pred: Any, gt: Any) -> np.ndarray:
    """Align each predicted frame onto its ground truth with the best similarity transform.

    Per frame, solves for scale, a proper rotation (the SVD solution with the reflection fix,
    so the result is never a mirror image of ``pred``) and translation in the least-squares
    sense, and applies them to ``pred``.

    Args:
        pred: predicted joints, shape ``(N, J, 3)``, any length unit.
        gt: ground-truth joints, shape ``(N, J, 3)``, same unit.

    Returns:
        Aligned prediction, shape ``(N, J, 3)``, float64, in the input unit.
    """
    p, g = _check_pair(pred, gt)
    return _procrustes(p, g)[0]


def p_mpjpe_per_frame(pred: Any, gt: Any) -> np.ndarray:
    """MPJPE of each frame after Procrustes alignment (Protocol 2), shape ``(N,)``, input unit."""
    p, g = _check_pair(pred, gt)
    return _joint_errors(_procrustes(p, g)[0], g).mean(axis=1)


def p_mpjpe(pred: Any, gt: Any) -> float:
    """Procrustes-aligned MPJPE (P-MPJPE, Protocol 2) over all frames, in the input unit.

    Args:
        pred: predicted joints, shape ``(N, J, 3)``.
        gt: ground-truth joints, shape ``(N, J, 3)``.
    """
    return float(p_mpjpe_per_frame(pred, gt).mean())


def n_mpjpe_per_frame(pred: Any, gt: Any) -> np.ndarray:
    """MPJPE of each frame after scaling ``pred`` by its least-squares optimal scale.

    The scale of frame ``n`` is ``s = <pred_n, gt_n> / <pred_n, pred_n>`` (sums over joints and
    coordinates); no rotation or translation is removed. A frame with an all-zero prediction
    gets ``s = 0``.

    Returns:
        Array of shape ``(N,)`` in the input unit.
    """
    p, g = _check_pair(pred, gt)
    pp = np.einsum("nji,nji->n", p, p)
    pg = np.einsum("nji,nji->n", p, g)
    safe = pp > 0
    scale = np.where(safe, pg / np.where(safe, pp, 1.0), 0.0)
    return _joint_errors(scale[:, None, None] * p, g).mean(axis=1)


def n_mpjpe(pred: Any, gt: Any) -> float:
    """Scale-normalised MPJPE (N-MPJPE) over all frames, in the input unit.

    Args:
        pred: predicted joints, shape ``(N, J, 3)``.
        gt: ground-truth joints, shape ``(N, J, 3)``.
    """
    return float(n_mpjpe_per_frame(pred, gt).mean())


def mpjve(pred: Any, gt: Any) -> float:
    """Mean per-joint velocity error (MPJVE).

    The velocity is the first difference along the frame axis (axis 0); the result is the mean
    Euclidean distance between predicted and true velocities, in input unit per frame.

    Args:
        pred: predicted joints, shape ``(N, J, 3)`` with ``N >= 2`` consecutive frames.
        gt: ground-truth joints, shape ``(N, J, 3)``.

    Raises:
        PoseMoEError: if ``N < 2`` or the shapes are wrong.
    """
    p, g = _check_pair(pred, gt)
    if p.shape[0] < 2:
        raise PoseMoEError(
            f"mpjve: expected at least 2 frames (shape (N>=2, J, 3)), got {tuple(p.shape)}"
        )
    return float(_joint_errors(np.diff(p, axis=0), np.diff(g, axis=0)).mean())


def accel_error(pred: Any, gt: Any) -> float:
    """Mean per-joint acceleration error: the mean Euclidean distance between predicted and true
    accelerations (second differences along the frame axis), in input unit per frame squared.
    It measures jitter: a prediction that shakes from frame to frame has a large one even where
    its positions are close. Needs ``N >= 3`` frames."""
    p, g = _check_pair(pred, gt)
    if p.shape[0] < 3:
        raise PoseMoEError(f"accel_error: expected at least 3 frames (shape (N>=3, J, 3)), got {tuple(p.shape)}")
    return float(_joint_errors(np.diff(p, n=2, axis=0), np.diff(g, n=2, axis=0)).mean())


def bone_length_cv(poses: Any, parents: tuple[int, ...] | None = None) -> float:
    """Bone-length variation of one person's 3D poses ``(N, J, 3)``: for each bone (joint and
    its parent in ``parents``, default Human3.6M-17), the standard deviation of its length over
    the frames divided by its mean length; the mean over the bones. 0 for a rigid skeleton; a
    fraction, not a percentage. Frames with non-finite joints are skipped; ``nan`` when fewer
    than 2 frames remain."""
    from posemoe.skeleton import H36M17

    x = np.asarray(poses, dtype=np.float64)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise PoseMoEError(f"bone_length_cv: expected shape (N, J, 3), got {tuple(x.shape)}")
    parents = H36M17.parents if parents is None else parents
    x = x[np.isfinite(x).all(axis=(1, 2))]
    if len(x) < 2:
        return float("nan")
    bones = [(j, p) for j, p in enumerate(parents) if p >= 0]
    lengths = np.stack([np.linalg.norm(x[:, j] - x[:, p], axis=-1) for j, p in bones], axis=1)  # (N, B)
    return float(np.mean(lengths.std(axis=0) / np.maximum(lengths.mean(axis=0), 1e-12)))


def xy_error_per_frame(pred: Any, gt: Any) -> np.ndarray:
    """Image-plane part of the error: mean over joints of the (x, y) distance, per frame.

    With camera axes (x right, y down, z forward) this is the part of the error the 2D input
    already pins down. Together with :func:`depth_error_per_frame` it splits MPJPE into what is
    seen and what must be inferred; each is at most the MPJPE of the same frames.

    Args:
        pred: predicted joints, shape ``(N, J, 3)``, camera axes.
        gt: ground-truth joints, shape ``(N, J, 3)``.

    Returns:
        Array of shape ``(N,)``, input unit.
    """
    p, g = _check_pair(pred, gt)
    return np.linalg.norm(p[..., :2] - g[..., :2], axis=-1).mean(axis=1)


def depth_error_per_frame(pred: Any, gt: Any) -> np.ndarray:
    """Depth part of the error: mean over joints of ``|z_pred - z_gt|``, per frame.

    Args:
        pred: predicted joints, shape ``(N, J, 3)``, camera axes (z along the optical axis).
        gt: ground-truth joints, shape ``(N, J, 3)``.

    Returns:
        Array of shape ``(N,)``, input unit.
    """
    p, g = _check_pair(pred, gt)
    return np.abs(p[..., 2] - g[..., 2]).mean(axis=1)


def _pck_from_errors(errors: np.ndarray, threshold: float) -> float:
    """Fraction of entries of ``errors`` strictly below ``threshold``."""
    return float((errors < threshold).mean())


def pck(pred: Any, gt: Any, threshold: float = 150.0) -> float:
    """Percentage of correct keypoints, as a fraction in ``[0, 1]``.

    A joint counts as correct when its Euclidean error is strictly below ``threshold``.

    Args:
        pred: predicted joints, shape ``(N, J, 3)``.
        gt: ground-truth joints, shape ``(N, J, 3)``.
        threshold: distance in the input unit (default 150, meant as millimetres).
    """
    p, g = _check_pair(pred, gt)
    return _pck_from_errors(_joint_errors(p, g), threshold)


def auc(pred: Any, gt: Any, max_threshold: float = 150.0, steps: int = 31) -> float:
    """Area under the PCK curve: mean PCK over ``np.linspace(0, max_threshold, steps)``.

    Args:
        pred: predicted joints, shape ``(N, J, 3)``.
        gt: ground-truth joints, shape ``(N, J, 3)``.
        max_threshold: largest threshold, input unit (default 150, meant as millimetres).
        steps: number of thresholds, ``>= 1``.

    Returns:
        A fraction in ``[0, 1]``.

    Raises:
        PoseMoEError: if ``steps < 1`` or the shapes are wrong.
    """
    if steps < 1:
        raise PoseMoEError(f"auc: expected steps >= 1, got {steps}")
    p, g = _check_pair(pred, gt)
    errors = _joint_errors(p, g)
    thresholds = np.linspace(0.0, max_threshold, steps)
    return float(np.mean([_pck_from_errors(errors, th) for th in thresholds]))


def all_metrics(pred: Any, gt: Any) -> dict[str, float]:
    """Every metric of this module with its default settings.

    Args:
        pred: predicted joints, shape ``(N, J, 3)``, millimetres for the PCK/AUC thresholds
            to mean 150 mm.
        gt: ground-truth joints, shape ``(N, J, 3)``.

    Returns:
        ``{"mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "pck150", "auc"}`` as Python floats.
        ``"mpjve"`` is ``nan`` when there is a single frame (no velocity to compare).
    """
    p, g = _check_pair(pred, gt)
    return {
        "mpjpe": mpjpe(p, g),
        "p_mpjpe": p_mpjpe(p, g),
        "n_mpjpe": n_mpjpe(p, g),
        "mpjve": mpjve(p, g) if p.shape[0] >= 2 else float("nan"),
        "pck150": pck(p, g, 150.0),
        "auc": auc(p, g),
    }
