"""Lift tracked 2D people to 3D with PoseMoE: every track, every present frame, in batches.

Inputs are the tracker's arrays (pixels, Human3.6M-17 order, NaN where a person is absent).
Keypoints are screen-normalised as in training (`posemoe.camera.normalize_screen`). For a model
with a confidence channel, a joint scoring below `joint_threshold` is fed exactly as training's
joint dropout fed a missed joint: all channels 0; every other joint gets confidence 1 (the
network was trained on those two states only). A two-channel model has no way to be told, so it
gets the detector's coordinates as they are.

For a camera-invariant model, each person in each frame is lifted in a virtual camera turned to
look at them and the 3D is turned back (`posemoe.view_rotation`), with the lens's focal length
when given (`focal_px`) and a 26 mm-equivalent phone lens otherwise.

Each track is cut into segments of present frames and each segment into windows of the model's
length (`posemoe.windowing`, the same windowing as `posemoe.lifter.Lifter`); the windows of all
tracks are lifted together in batches, with test-time flip, on the chosen device, and blended
back per frame. Output: (P, F, 17, 3) float32 metres, root-relative, camera axes (x right, y down,
z forward), NaN where the person is absent.
"""

from __future__ import annotations

import numpy as np
import torch

from posemoe.camera import normalize_screen
from posemoe.errors import PoseMoEError
from posemoe.lifter import predict_windows, predict_windows_routed, uses_view_rotation
from posemoe.model import PoseMoE
from posemoe.view_rotation import default_focal_px, look_at_person, screen_focal, turn_back
from posemoe.windowing import blend_windows, gather_windows, plan_windows, stride_for


def model_inputs(keypoints2d: np.ndarray, scores2d: np.ndarray, image_size: tuple[int, int], channels: int,
                 joint_threshold: float = 0.3) -> np.ndarray:
    """(P, F, 17, 2) pixels and (P, F, 17) scores -> (P, F, 17, channels) network inputs.

    Absent frames and unusable joints become 0; see the module docstring for the rules."""
    kp = np.asarray(keypoints2d, dtype=np.float32)
    sc = np.asarray(scores2d, dtype=np.float32)
    if kp.ndim != 4 or kp.shape[-1] != 2 or sc.shape != kp.shape[:-1]:
        raise PoseMoEError(f"2D keypoints: expected (people, frames, 17, 2) with scores (people, frames, 17), "
                           f"got {kp.shape} and {sc.shape}")
    w, h = image_size
    x = normalize_screen(np.nan_to_num(kp, nan=0.0), w, h).astype(np.float32)
    usable = (sc >= joint_threshold) & np.isfinite(kp).all(axis=-1)
    if channels == 3:
        x = np.concatenate([x, np.ones_like(x[..., :1])], axis=-1)
        x[~usable] = 0.0
    elif channels == 2:
        x[~np.isfinite(kp).all(axis=-1)] = 0.0
    else:
        raise PoseMoEError(f"model input: expected 2 or 3 channels, found {channels}")
    return x


def lift_tracks(model: PoseMoE, keypoints2d: np.ndarray, scores2d: np.ndarray, present: np.ndarray,
                image_size: tuple[int, int], *, overlap: float = 0.5, flip: bool = True, batch_size: int = 256,
                device: str | torch.device | None = None, joint_threshold: float = 0.3,
                focal_px: float | None = None) -> np.ndarray:
    """3D poses of every tracked person: (P, F, 17, 3) float32 metres, NaN where absent."""
    return _lift(model, keypoints2d, scores2d, present, image_size, overlap=overlap, flip=flip,
                 batch_size=batch_size, device=device, joint_threshold=joint_threshold, routes=False,
                 focal_px=focal_px)[0]


def lift_tracks_routed(model: PoseMoE, keypoints2d: np.ndarray, scores2d: np.ndarray, present: np.ndarray,
                       image_size: tuple[int, int], *, overlap: float = 0.5, flip: bool = True,
                       batch_size: int = 256, device: str | torch.device | None = None,
                       joint_threshold: float = 0.3, focal_px: float | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """`lift_tracks` (same windows, flip and blending, same defaults) plus the routers' expert
    probabilities per frame: returns (P, F, 17, 3) float32 metres and (P, F, L, 17, E) float32,
    L MoE layers in encoder order (`posemoe.lifter.router_layers`), blended over overlapping
    windows like the poses (so they still sum to 1 over the E experts); NaN where absent."""
    return _lift(model, keypoints2d, scores2d, present, image_size, overlap=overlap, flip=flip,
                 batch_size=batch_size, device=device, joint_threshold=joint_threshold, routes=True,
                 focal_px=focal_px)


def _lift(model: PoseMoE, keypoints2d: np.ndarray, scores2d: np.ndarray, present: np.ndarray,
          image_size: tuple[int, int], *, overlap: float, flip: bool, batch_size: int,
          device: str | torch.device | None, joint_threshold: float, routes: bool, focal_px: float | None = None
          ) -> tuple[np.ndarray, np.ndarray | None]:
    present = np.asarray(present, dtype=bool)
    kp = np.asarray(keypoints2d)
    if present.shape != kp.shape[:2]:
        raise PoseMoEError(f"present: expected shape {kp.shape[:2]} (people, frames), got {present.shape}")
    frames = model.frames
    stride = stride_for(frames, overlap)
    x = model_inputs(kp, scores2d, image_size, model.cfg.in_channels, joint_threshold)
    R = None
    if uses_view_rotation(model):
        w, h = image_size
        x, R = look_at_person(x, screen_focal(focal_px if focal_px is not None else default_focal_px(w, h), w))
    plan = plan_windows(present, frames, stride)  # one row per track, windows within present segments
    windows = gather_windows(x, plan)  # (W, T, 17, C)
    route = None
    if routes:
        preds, route_w = predict_windows_routed(model, windows, flip=flip, batch_size=batch_size, device=device)
        route = blend_windows(route_w, plan).astype(np.float32)
    else:
        preds = predict_windows(model, windows, flip=flip, batch_size=batch_size, device=device)
    out = blend_windows(preds, plan)  # (P, F, 17, 3), NaN where absent
    if R is not None:
        out = turn_back(out, R)  # NaN where absent stays NaN
    out = out - out[:, :, :1]  # root-relative: the network's pelvis is near 0; make it exactly 0
    return out.astype(np.float32), route
