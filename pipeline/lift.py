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
tracks are lifted together in batches, with test-time flip, and blended back per frame. `model`
is the torch network (`posemoe.model.PoseMoE`, on its device) or its ONNX graph
(`posemoe.onnx_model.OnnxPoseMoE`, CPU; `pipeline.onnx_lifter`); this module imports torch only
for the former. Output: (P, F, 17, 3) float32 metres, root-relative, camera axes (x right, y down,
z forward), NaN where the person is absent.

Lifting early: `WindowCache` keeps the network's output for windows already lifted, keyed by the
exact bytes of their input. `prelift` fills it from tracks that are still growing (the 2D pass
sends what it has so far, `pipeline.video`): it lifts only the windows that lie wholly among
frames that can no longer change, and `lift_tracks(..., cache=)` then lifts only the windows it
does not find there. A window is taken from the cache only when its input is bit for bit the one
lifted, so the result is that of lifting everything at the end, up to float32 rounding.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from typing import TYPE_CHECKING, Union

import numpy as np

from posemoe.camera import normalize_screen
from posemoe.errors import PoseMoEError
from posemoe.onnx_model import OnnxPoseMoE
from posemoe.view_rotation import (SMOOTH_FRAMES, default_focal_px, look_at_person, screen_focal, turn_back,
                                   uses_view_rotation)
from posemoe.windowing import blend_windows, gather_windows, plan_windows, stride_for

if TYPE_CHECKING:
    import torch

    from posemoe.model import PoseMoE

    LiftingModel = Union[PoseMoE, OnnxPoseMoE]


def predict_windows(model: LiftingModel, windows: np.ndarray, *, flip: bool, batch_size: int,
                    device: str | torch.device | None = None, threads: int | None = None) -> np.ndarray:
    """(W, T, 17, C) windows -> (W, T, 17, 3) float64 metres (`posemoe.lifter.predict_windows`)
    with either kind of model. `threads`: CPU threads to lift on (None: as set; for the torch
    network, torch's thread count is set for the call and restored after)."""
    if isinstance(model, OnnxPoseMoE):
        return model.predict_windows(windows, flip=flip, batch_size=batch_size, threads=threads or 1)
    from posemoe.lifter import predict_windows as predict_torch

    with _torch_threads(threads, device):
        return predict_torch(model, windows, flip=flip, batch_size=batch_size, device=device)


@contextmanager
def _torch_threads(threads: int | None, device: str | torch.device | None):
    """torch's CPU thread count set to `threads` for a block (nothing for None or another device)."""
    if threads is None or str(device or "cpu") != "cpu":
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class WindowCache:
    """The network's output (T, 17, 3) for windows already lifted, keyed by their exact input
    bytes (see the module docstring); `hits` and `misses` count the lookups of `lift_tracks`."""

    def __init__(self) -> None:
        self._out: dict[bytes, np.ndarray] = {}
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(window: np.ndarray) -> bytes:
        """The key of one (T, 17, C) input window: a 128-bit BLAKE2b digest of its shape, dtype and bytes."""
        w = np.ascontiguousarray(window)
        h = hashlib.blake2b(digest_size=16)
        h.update(repr((w.shape, w.dtype.str)).encode())
        h.update(w.tobytes())
        return h.digest()

    def __len__(self) -> int:
        return len(self._out)

    def __contains__(self, key: bytes) -> bool:
        return key in self._out

    def get(self, key: bytes) -> np.ndarray | None:
        return self._out.get(key)

    def put(self, key: bytes, pred: np.ndarray) -> None:
        self._out[key] = np.asarray(pred, dtype=np.float32)


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


def lift_tracks(model: LiftingModel, keypoints2d: np.ndarray, scores2d: np.ndarray, present: np.ndarray,
                image_size: tuple[int, int], *, overlap: float = 0.5, flip: bool = True, batch_size: int = 256,
                device: str | torch.device | None = None, joint_threshold: float = 0.3,
                focal_px: float | None = None, cache: WindowCache | None = None,
                threads: int | None = None) -> np.ndarray:
    """3D poses of every tracked person: (P, F, 17, 3) float32 metres, NaN where absent.
    `cache`: windows lifted before (`prelift`, same model and options) are taken from it.
    `threads`: CPU threads to lift on (`predict_windows`)."""
    return _lift(model, keypoints2d, scores2d, present, image_size, overlap=overlap, flip=flip,
                 batch_size=batch_size, device=device, joint_threshold=joint_threshold, routes=False,
                 focal_px=focal_px, cache=cache, threads=threads)[0]


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


def _lift(model: LiftingModel, keypoints2d: np.ndarray, scores2d: np.ndarray, present: np.ndarray,
          image_size: tuple[int, int], *, overlap: float, flip: bool, batch_size: int,
          device: str | torch.device | None, joint_threshold: float, routes: bool, focal_px: float | None = None,
          cache: WindowCache | None = None, threads: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    present = np.asarray(present, dtype=bool)
    kp = np.asarray(keypoints2d)
    if present.shape != kp.shape[:2]:
        raise PoseMoEError(f"present: expected shape {kp.shape[:2]} (people, frames), got {present.shape}")
    frames = model.frames
    stride = stride_for(frames, overlap)
    x, R = _inputs(model, kp, scores2d, image_size, joint_threshold, focal_px)
    plan = plan_windows(present, frames, stride)  # one row per track, windows within present segments
    windows = gather_windows(x, plan)  # (W, T, 17, C)
    route = None
    if routes:
        if isinstance(model, OnnxPoseMoE):
            raise PoseMoEError("the routers' expert weights come from the torch network; load the checkpoint with "
                               "posemoe.checkpoint.load_checkpoint")
        from posemoe.lifter import predict_windows_routed

        preds, route_w = predict_windows_routed(model, windows, flip=flip, batch_size=batch_size, device=device)
        route = blend_windows(route_w, plan).astype(np.float32)
    elif cache is not None:
        preds = _cached_predictions(model, windows, cache, flip=flip, batch_size=batch_size, device=device,
                                    threads=threads)
    else:
        preds = predict_windows(model, windows, flip=flip, batch_size=batch_size, device=device, threads=threads)
    out = blend_windows(preds, plan)  # (P, F, 17, 3), NaN where absent
    if R is not None:
        out = turn_back(out, R)  # NaN where absent stays NaN
    out = out - out[:, :, :1]  # root-relative: the network's pelvis is near 0; make it exactly 0
    return out.astype(np.float32), route


def _inputs(model: LiftingModel, kp: np.ndarray, scores2d: np.ndarray, image_size: tuple[int, int],
            joint_threshold: float, focal_px: float | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The network's inputs (P, F, 17, C) for (P, F, 17, 2) keypoints, and the view rotations
    (`look_at_person`) for a camera-invariant model (else None)."""
    x = model_inputs(kp, scores2d, image_size, model.cfg.in_channels, joint_threshold)
    if not uses_view_rotation(model):
        return x, None
    w, h = image_size
    return look_at_person(x, screen_focal(focal_px if focal_px is not None else default_focal_px(w, h), w))


def _cached_predictions(model: LiftingModel, windows: np.ndarray, cache: WindowCache, *, flip: bool,
                        batch_size: int, device: str | torch.device | None, threads: int | None) -> np.ndarray:
    """`predict_windows` for (W, T, 17, C) windows, lifting only those not in `cache` (and adding them)."""
    if not len(windows):
        return np.zeros(windows.shape[:-1] + (3,), dtype=np.float64)
    keys, lifted = _lift_missing(model, windows, cache, flip=flip, batch_size=batch_size, device=device,
                                 threads=threads)
    cache.hits += len(keys) - lifted
    cache.misses += lifted
    return np.stack([cache.get(key) for key in keys]).astype(np.float64)


def _lift_missing(model: LiftingModel, windows: np.ndarray, cache: WindowCache, *, flip: bool, batch_size: int,
                  device: str | torch.device | None, threads: int | None) -> tuple[list[bytes], int]:
    """Lift those of (W, T, 17, C) `windows` that are not in `cache` into it; returns every
    window's key and the number lifted."""
    keys = [cache.key(w) for w in windows]
    missing = [k for k, key in enumerate(keys) if key not in cache]
    if missing:
        preds = predict_windows(model, windows[missing], flip=flip, batch_size=batch_size, device=device,
                                threads=threads)
        for k, pred in zip(missing, preds):
            cache.put(keys[k], pred)
    return keys, len(missing)


def prelift(model: LiftingModel, keypoints2d: np.ndarray, scores2d: np.ndarray, present: np.ndarray,
            image_size: tuple[int, int], cache: WindowCache, *, first: int, final: int, overlap: float = 0.5,
            flip: bool = True, batch_size: int = 256, device: str | torch.device | None = None,
            joint_threshold: float = 0.3, focal_px: float | None = None, threads: int | None = None) -> int:
    """Lift ahead, into `cache`, the windows of tracks still growing (arrays as for `lift_tracks`,
    over the frames seen so far) that start at `first` or later and end by frame `final`, the
    first frame that may still change (see `pipeline.video.GROWING_FRAMES`). Windows cut short by
    their segment's end so far are left for later: that end may still move. Returns the number of
    windows lifted (those already in `cache` are not lifted again)."""
    present = np.asarray(present, dtype=bool)
    kp = np.asarray(keypoints2d)
    frames = model.frames
    plan = plan_windows(present, frames, stride_for(frames, overlap))
    chosen = [w for w in plan if w.real == frames and w.start >= first and w.start + frames <= final]
    if not chosen:
        return 0
    # the inputs of a frame depend on its neighbours within half of `SMOOTH_FRAMES` (the view
    # rotation's smoothed body centre), so compute them with that much context on both sides:
    # the frames kept are then bit for bit what lifting the whole track computes
    lo = max(0, min(w.start for w in chosen) - SMOOTH_FRAMES)
    hi = min(present.shape[1], max(w.start for w in chosen) + frames + SMOOTH_FRAMES)
    x, _ = _inputs(model, kp[:, lo:hi], np.asarray(scores2d)[:, lo:hi], image_size, joint_threshold, focal_px)
    windows = np.stack([x[w.row, w.start - lo:w.start - lo + frames] for w in chosen])
    return _lift_missing(model, windows, cache, flip=flip, batch_size=batch_size, device=device, threads=threads)[1]
