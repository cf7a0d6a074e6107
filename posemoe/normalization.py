"""How 2D keypoints are normalised before the network embeds them.

Every checkpoint names its normalisation in its config (`PoseMoEConfig.input_norm`), and the
network applies it itself as the first step of `PoseMoE.forward`. Training, evaluation,
`Lifter` and the video pipeline all feed the same thing (screen-normalised keypoints,
`posemoe.camera.normalize_screen`), so the normalisation cannot differ between them.

``screen``
    The input is used as it arrives: ``x / w * 2 - 1``, ``y / w * 2 - h / w``. What the network
    sees then depends on the image size, on where the person stands in the frame and on how large
    they appear; a model trained on Human3.6M's four cameras has seen those in only four ways.
    Checkpoints written before ``body`` existed have no ``input_norm`` field and mean this.

``body`` (camera-invariant)
    Each frame is centred on the person and each window is scaled by the person's own size:

    - centre: the mean of the pelvis and both hips among the joints the detector found (the
      pelvis alone would carry all of its own detection noise into every joint; three points
      halve it), or of every found joint when none of those three was found;
    - scale: per frame, the summed 2D length of every bone whose two joints were found, divided
      by the summed reference 3D length of the same bones (`H36M17_BONE_LENGTHS_M`); the
      window's scale is the median over its frames with at least 4 such bones. A bone pointing
      at the camera looks short in one frame, so the median over the window is steadier than
      any one frame's figure, and dividing by the reference lengths of only the bones that were
      found keeps the figure unbiased when a limb is missed.

    The result is in "metres of a frontal body": a standing person is about 1.7 units tall,
    wherever they stand, however large they appear and whatever the image size. Any uniform
    scaling and shift of the image gives the same input (pixels and screen coordinates give the
    same numbers), and mirroring commutes with it, so test-time flip is unchanged. A missed joint
    (confidence 0) stays at 0 in every channel, as training fed it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from posemoe.errors import PoseMoEError
from posemoe.skeleton import H36M17, H36M17_BONE_LENGTHS_M, is_torch_tensor

if TYPE_CHECKING:
    import torch

INPUT_NORMS: tuple[str, ...] = ("screen", "body")
DESCRIPTIONS: dict[str, str] = {
    "screen": "screen: u = x / w * 2 - 1, v = y / w * 2 - h / w (pixels x, y; image size w, h)",
    "body": ("body: screen-normalised input, then each frame centred on the mean of pelvis and hips and each "
             "window divided by the median over its frames of (2D bone lengths / reference 3D bone lengths)"),
}

_CENTRE_JOINTS = (0, 1, 4)  # pelvis, right hip, left hip
_BONES = H36M17.bones()
_CHILD = tuple(c for c, _ in _BONES)
_PARENT = tuple(p for _, p in _BONES)
MIN_BONES = 4  # a frame needs this many found bones to count towards the window's scale


def check_input_norm(name: str, where: str = "input_norm") -> str:
    """`name` if this version knows it, else a one-line PoseMoEError."""
    if name not in INPUT_NORMS:
        raise PoseMoEError(f"{where}: expected an input normalisation this version of posemoe knows "
                           f"({', '.join(INPUT_NORMS)}), found {name!r}; update posemoe or use another checkpoint")
    return name


def found_joints(x: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """(..., J) float mask of the joints a detector found: confidence > 0 when the input has a
    third channel, every joint otherwise. numpy or torch (torch is not imported for numpy)."""
    if is_torch_tensor(x):
        return (x[..., 2] > 0).to(x.dtype) if x.shape[-1] >= 3 else x.new_ones(x.shape[:-1])
    x = np.asarray(x)
    return (x[..., 2] > 0).astype(x.dtype) if x.shape[-1] >= 3 else np.ones(x.shape[:-1], dtype=x.dtype)


def body_scale(x: torch.Tensor) -> torch.Tensor:
    """(..., T, J, C) keypoints -> (...,) the window's body scale in input units per metre
    (see the module docstring); 1 where no frame has `MIN_BONES` found bones."""
    import torch

    xy = x[..., :2]
    found = found_joints(x)
    lengths = (xy[..., _CHILD, :] - xy[..., _PARENT, :]).norm(dim=-1)  # (..., T, B)
    both = found[..., _CHILD] * found[..., _PARENT]
    ref = torch.as_tensor(H36M17_BONE_LENGTHS_M, dtype=x.dtype, device=x.device)
    per_frame = (lengths * both).sum(-1) / (ref * both).sum(-1).clamp_min(1e-9)  # (..., T)
    usable = (both.sum(-1) >= MIN_BONES) & (per_frame > 1e-9)
    per_frame = torch.where(usable, per_frame, torch.full_like(per_frame, float("nan")))
    scale = lower_nanmedian(per_frame)
    return torch.where(torch.isfinite(scale), scale, torch.ones_like(scale))


def lower_nanmedian(v: torch.Tensor) -> torch.Tensor:
    """(..., N) -> (...,): the median of the finite values along the last axis, the lower of the
    two middle ones for an even count (what ``torch.nanmedian`` returns); NaN where none is finite.
    Written with a sort, which exports to ONNX (`posemoe.onnx_model`); ``nanmedian`` does not."""
    import torch

    finite = torch.isfinite(v)
    n = finite.sum(-1, keepdim=True)
    ordered = torch.sort(torch.where(finite, v, torch.full_like(v, float("inf"))), dim=-1).values
    middle = torch.gather(ordered, -1, ((n - 1) // 2).clamp_min(0)).squeeze(-1)
    return torch.where(n.squeeze(-1) > 0, middle, torch.full_like(middle, float("nan")))


def body_centre(x: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """(..., J, C) keypoints -> (..., 2): mean of the found pelvis and hips, else of every found
    joint, else 0. numpy or torch (torch is not imported for numpy)."""
    xy = x[..., :2]
    found = found_joints(x)
    centre_joints = list(_CENTRE_JOINTS)
    w_c = found[..., centre_joints]
    n_c = w_c.sum(-1)[..., None]
    n_all = found.sum(-1)[..., None]
    # counts are whole numbers >= 0: adding (n == 0) divides by at least 1
    centre = (xy[..., centre_joints, :] * w_c[..., None]).sum(-2) / (n_c + (n_c == 0))
    everyone = (xy * found[..., None]).sum(-2) / (n_all + (n_all == 0))
    if is_torch_tensor(x):
        import torch

        return torch.where(n_c > 0, centre, everyone)
    return np.where(n_c > 0, centre, everyone)


def body_normalize(x: torch.Tensor) -> torch.Tensor:
    """The ``body`` normalisation of (..., T, J, C) windows (pixels or screen units); a new tensor."""
    import torch

    if x.ndim < 3 or x.shape[-1] < 2:
        raise PoseMoEError(f"body_normalize input: expected shape (..., frames, joints, 2 or 3), found {tuple(x.shape)}")
    found = found_joints(x)
    scale = body_scale(x)[..., None, None, None]
    xy = (x[..., :2] - body_centre(x)[..., None, :]) / scale * found[..., None]
    return torch.cat([xy, x[..., 2:]], dim=-1)


def normalize_input(x: torch.Tensor, name: str) -> torch.Tensor:
    """Apply the input normalisation `name` to screen-normalised windows (B, T, J, C)."""
    if name == "screen":
        return x
    if name == "body":
        return body_normalize(x)
    raise PoseMoEError(check_input_norm(name))  # unreachable for known names
