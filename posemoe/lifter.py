"""`Lifter`: 2D keypoint sequences of any length in pixels -> 3D poses in metres.

The network sees fixed windows of `model.frames` frames. A sequence is cut into windows that
start every `stride` frames, the last one flush with the sequence's end; a sequence shorter than
one window is padded by repeating its last frame. Where windows overlap, each frame's predictions
are blended with weights that fall to a small value at the window's ends, so that no seam shows
between windows (all of this is `posemoe.windowing`). Test-time flip (mirror the input, predict,
mirror back, average) is on by default.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from posemoe.camera import normalize_screen
from posemoe.checkpoint import load_checkpoint, shipped_weights
from posemoe.errors import PoseMoEError
from posemoe.model import PoseMoE
from posemoe.skeleton import H36M17, flip_pose
from posemoe.view_rotation import (default_focal_px, look_at_person, screen_focal, turn_back,  # noqa: F401
                                   uses_view_rotation)  # re-exported
from posemoe.windowing import blend_windows, gather_windows, plan_windows, stride_for

# the shipped default lifting model (model card: weights/README.md), installed as package data
DEFAULT_WEIGHTS = shipped_weights()


def match_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """Fit (N, J, 2|3) inputs to a model taking `channels`: a missing confidence channel is
    filled with 1 (trust every joint); an unused one is dropped."""
    if channels == 3 and x.shape[-1] == 2:
        return np.concatenate([x, np.ones_like(x[..., :1])], axis=-1)
    if channels == 2 and x.shape[-1] == 3:
        return x[..., :2]
    return x


@torch.no_grad()
def _run_windows(model: PoseMoE, windows: np.ndarray | torch.Tensor, *, flip: bool, batch_size: int,
                 device: str | torch.device | None, routes: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """`predict_windows`, and with `routes` also the routers' probabilities (W, T, L, J, E)."""
    device = device or next(model.parameters()).device
    windows = torch.as_tensor(np.ascontiguousarray(windows, dtype=np.float32))
    perm = torch.as_tensor(H36M17.flip_permutation)
    outs, probs = [], []
    for i in range(0, len(windows), batch_size):
        batch = windows[i:i + batch_size].to(device)
        res = model(batch)
        pred = res.pose3d
        route = torch.stack(res.router_probs, dim=2) if routes else None  # (B, T, L, J, E)
        if flip:
            res_f = model(flip_pose(batch, H36M17))
            pred = 0.5 * (pred + flip_pose(res_f.pose3d, H36M17))
            if routes:  # token j of the mirrored input is joint perm[j]; perm is its own inverse
                route_f = torch.stack(res_f.router_probs, dim=2).index_select(3, perm.to(route.device))
                route = 0.5 * (route + route_f)
        outs.append(pred.float().cpu())
        if routes:
            probs.append(route.float().cpu())
    if not outs:
        cfg = model.cfg
        empty_routes = np.zeros((0, model.frames, num_router_layers(cfg), cfg.num_joints, cfg.experts), np.float32)
        return np.zeros((0, model.frames, cfg.num_joints, 3)), (empty_routes if routes else None)
    poses = torch.cat(outs).numpy().astype(np.float64)
    return poses, (torch.cat(probs).numpy() if routes else None)


def predict_windows(model: PoseMoE, windows: np.ndarray | torch.Tensor, *, flip: bool = True,
                    batch_size: int = 64, device: str | torch.device | None = None) -> np.ndarray:
    """Run `model` on (W, T, J, C) screen-normalised windows in batches; returns (W, T, J, 3)
    float64 metres. With `flip`, each window is also mirrored, predicted, mirrored back and
    averaged (test-time flip)."""
    return _run_windows(model, windows, flip=flip, batch_size=batch_size, device=device, routes=False)[0]


def router_layers(cfg) -> list[tuple[int, str, str]]:
    """The MoE layers of a model with config `cfg`, in the order of `PoseMoEOutput.router_probs`:
    (encoder layer from 1, attention axis "spatial" | "temporal", stream "pose" | "depth")."""
    return [(1 + b // 2, ("spatial", "temporal")[b % 2], stream)
            for b in range(2 * cfg.encoder_layers) for stream in ("pose", "depth")]


def num_router_layers(cfg) -> int:
    """Number of MoE layers (routers): one per encoder block and stream."""
    return len(router_layers(cfg))


def predict_windows_routed(model: PoseMoE, windows: np.ndarray | torch.Tensor, *, flip: bool = True,
                           batch_size: int = 64, device: str | torch.device | None = None
                           ) -> tuple[np.ndarray, np.ndarray]:
    """`predict_windows` plus the routers' expert probabilities: returns poses (W, T, J, 3)
    float64 metres and routes (W, T, L, J, E) float32, L MoE layers in the model's encoder order
    (`PoseMoEOutput.router_probs`), each summing to 1 over the E experts. With `flip`, the
    mirrored pass's probabilities are mapped back to the original joints (left <-> right) and
    averaged with the direct pass's, like the poses."""
    poses, routes = _run_windows(model, windows, flip=flip, batch_size=batch_size, device=device, routes=True)
    return poses, routes


def lift_normalized(model: PoseMoE, x: np.ndarray, *, stride: int | None = None, flip: bool = True,
                    batch_size: int = 64, device: str | torch.device | None = None,
                    focal: float | None = None, principal: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Run `model` over a whole sequence of screen-normalised inputs.

    x: (N, J, C) with C = model.cfg.in_channels. Returns (N, J, 3) float32 metres, camera axes.
    stride: window step; default `model.frames` (no overlap, each frame predicted once). Smaller
    strides overlap windows and blend them.
    focal, principal: the camera's focal length and principal point in screen units
    (`posemoe.view_rotation.screen_focal`); with a focal length, each frame is lifted in a
    virtual camera turned to look at the person and the 3D turned back (`look_at_person`).
    """
    # one row, every frame present (posemoe.windowing); checks the stride
    plan = plan_windows(np.ones((1, x.shape[0]), dtype=bool), model.frames, stride or model.frames)
    R = None
    if focal is not None:
        x, R = look_at_person(x, focal, principal)
    windows = gather_windows(x[None], plan)  # (W, T, J, C), edge-padded
    preds = predict_windows(model, windows, flip=flip, batch_size=batch_size, device=device)  # (W, T, J, 3)
    out = blend_windows(preds, plan)[0]  # (N, J, 3)
    if R is not None:
        out = turn_back(out, R)
    return out.astype(np.float32)


class Lifter:
    """Lift 2D keypoints (pixels, Human3.6M joint order) to root-relative 3D poses (metres).

    >>> lifter = Lifter.from_checkpoint("weights/posemoe-default.pt")
    >>> pose3d = lifter(keypoints, image_size=(1920, 1080))  # (T, 17, 2|3) -> (T, 17, 3)

    For a camera-invariant model, each frame is lifted as if the camera looked straight at the
    person and the 3D is turned back into the real camera's axes (`posemoe.view_rotation`);
    pass the lens's focal length in pixels as ``focal_px`` when it is known (default: a
    26 mm-equivalent phone lens). ``look_at_person=False`` lifts the keypoints as they are.
    """

    def __init__(self, model: PoseMoE, checkpoint: dict | None = None, *, flip: bool = True,
                 overlap: float = 0.5, batch_size: int = 64, look_at_person: bool = True) -> None:
        self.model = model.eval()
        self.look_at_person = look_at_person
        self.checkpoint = checkpoint or {}
        self.flip = flip
        self.stride = stride_for(model.frames, overlap)
        self.batch_size = batch_size

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, *, device: str = "cpu", **kwargs) -> "Lifter":
        """Load a checkpoint; `None` means the shipped default weights in `weights/`."""
        if path is None:
            path = DEFAULT_WEIGHTS
            if not path.is_file():
                raise PoseMoEError(f"{path}: the shipped default weights are missing; restore them with "
                                   "`git checkout -- weights/` or pass a checkpoint path")
        model, ckpt = load_checkpoint(path, device=device)
        return cls(model, ckpt, **kwargs)

    @property
    def frames(self) -> int:
        return self.model.frames

    def __call__(self, keypoints: np.ndarray, image_size: tuple[int, int], focal_px: float | None = None
                 ) -> np.ndarray:
        kp = np.asarray(keypoints, dtype=np.float32)
        j = self.model.cfg.num_joints
        if kp.ndim != 3 or kp.shape[1] != j or kp.shape[2] not in (2, 3) or kp.shape[0] < 1:
            raise PoseMoEError(f"keypoints: expected shape (T, {j}, 2) or (T, {j}, 3) with T >= 1 "
                               f"(pixels, Human3.6M order), got {kp.shape}")
        w, h = image_size
        if w <= 0 or h <= 0:
            raise PoseMoEError(f"image_size: expected positive (width, height) in pixels, got {image_size}")
        if not np.isfinite(kp).all():
            raise PoseMoEError("keypoints: found NaN or infinite values; fill or drop missing frames first")
        x = match_channels(normalize_screen(kp, w, h), self.model.cfg.in_channels)
        focal = None
        if self.look_at_person and uses_view_rotation(self.model):
            focal = screen_focal(focal_px if focal_px is not None else default_focal_px(w, h), w)
        out = lift_normalized(self.model, x, stride=self.stride, flip=self.flip, batch_size=self.batch_size,
                              focal=focal)
        return out - out[:, :1]  # the network's pelvis is near 0; make it exactly 0
