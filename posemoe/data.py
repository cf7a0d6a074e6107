"""Human3.6M data: loaders for VideoPose3D-layout files, per-camera sequences, training clips.

``load_positions_3d`` / ``load_positions_2d`` read the npz files, ``build_sequences`` turns world
poses into per-camera sequences (root-relative 3D in camera coordinates, normalised 2D) and
``ClipDataset`` cuts them into fixed-length seq2seq clips with optional augmentation.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence as SequenceABC
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from posemoe.camera import (
    H36M_CAMERA_IDS,
    Camera,
    load_h36m_cameras,
    normalize_screen,
    project_to_pixels,
    world_to_camera,
)
from posemoe.errors import PoseMoEError
from posemoe.skeleton import H36M17, flip_pose, h36m32_to_h36m17, mpii16_to_h36m17

TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS: tuple[str, ...] = ("S9", "S11")

NUM_JOINTS = H36M17.num_joints
_ACTION_SUFFIX = re.compile(r"\s+\d+$")


# ----------------------------------------------------------------------------- loaders


def _load_npz_dict(path: str | Path, key: str) -> tuple[dict[Any, Any], str]:
    """Open a VideoPose3D-layout npz and return the pickled dict under ``key``."""
    name = str(path)
    p = Path(path)
    if not p.is_file():
        raise PoseMoEError(f"{name}: expected an .npz file with key '{key}', found no such file")
    try:
        npz = np.load(p, allow_pickle=True)
    except (OSError, ValueError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as e:
        raise PoseMoEError(f"{name}: expected an .npz file with key '{key}', found an unreadable file ({type(e).__name__})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise PoseMoEError(f"{name}: expected an .npz file with key '{key}', found a single .npy array")
    with npz:
        if key not in npz.files:
            raise PoseMoEError(f"{name}: expected key '{key}', found keys {sorted(npz.files)}")
        arr = npz[key]
    value = arr.item() if arr.dtype == object and arr.shape == () else arr
    if not isinstance(value, dict):
        raise PoseMoEError(
            f"{name}: expected '{key}' to hold a dict subject -> action -> poses, "
            f"found {type(value).__name__} of shape {getattr(value, 'shape', '?')}"
        )
    for subject, actions in value.items():
        if not isinstance(actions, dict):
            raise PoseMoEError(
                f"{name}: expected '{key}'[{subject!r}] to be a dict action -> poses, found {type(actions).__name__}"
            )
    return value, name


def _check_pose_array(arr: Any, channels: tuple[int, ...], where: str, joints: tuple[int, ...] = (17, 32)
                      ) -> np.ndarray:
    """Validate (N, J, C) with J in ``joints`` and C in ``channels``; return float32 (N, 17, C)
    (32 Human3.6M joints and 16 MPII joints are converted)."""
    a = np.asarray(arr)
    chans = " or ".join(str(c) for c in channels)
    js = " or ".join(str(j) for j in joints)
    if a.ndim != 3 or a.shape[1] not in joints or a.shape[2] not in channels or not (
        np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)
    ):
        raise PoseMoEError(
            f"{where}: expected a numeric array of shape (N, {js}, {chans}), "
            f"found {a.dtype} array of shape {a.shape}"
        )
    if a.shape[1] == 32:
        a = h36m32_to_h36m17(a)
    elif a.shape[1] == 16:
        a = mpii16_to_h36m17(a)
    return np.ascontiguousarray(a, dtype=np.float32)


COMPACT_KEY = "positions_3d_compact"  # see write_compact_3d
COMPACT_UNIT_M = 1e-4  # metres per int16 step of the root-relative joints (0.1 mm)
COMPACT_2D_KEY = "positions_2d_compact"  # see write_compact_2d


def _npz_has_key(path: str | Path, key: str) -> bool:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return key in npz.files
    except Exception:  # unreadable files are reported by _load_npz_dict
        return False


def load_positions_3d(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """Load 3D world poses: subject -> action -> float32 (N, 17, 3), metres.

    Files with the 32-joint Human3.6M layout are reduced to the 17 evaluation joints. A compact
    copy made by `write_compact_3d` is decoded back to world coordinates (within 0.05 mm).
    """
    if _npz_has_key(path, COMPACT_KEY):
        raw, name = _load_npz_dict(path, COMPACT_KEY)
        raw = {subject: {action: d["root"][:, None, :].astype(np.float32)
                         + d["rel"].astype(np.float32) * np.float32(COMPACT_UNIT_M)
                         for action, d in actions.items()} for subject, actions in raw.items()}
    else:
        raw, name = _load_npz_dict(path, "positions_3d")
    out: dict[str, dict[str, np.ndarray]] = {}
    for subject, actions in raw.items():
        out[str(subject)] = {
            str(action): _check_pose_array(arr, (3,), f"{name}: positions_3d[{subject!r}][{action!r}]")
            for action, arr in actions.items()
        }
    return out


def write_compact_3d(src: str | Path, dst: str | Path, subjects: Iterable[str] | None = None) -> dict[str, Any]:
    """A smaller copy of a 3D pose file, for sending training data to another machine.

    Each sequence is stored as its root (pelvis) track in float32 metres and the other joints
    relative to it as int16 in 0.1 mm steps (error at most 0.05 mm), compressed; `subjects`
    keeps only those (e.g. the training subjects). `load_positions_3d` and every command that
    takes `--data-3d` read it like the original. Derived from third-party data: never commit it.
    Returns {"sequences", "frames", "bytes"}.
    """
    poses = load_positions_3d(src)
    keep = set(subjects) if subjects is not None else set(poses)
    missing = keep - set(poses)
    if missing:
        raise PoseMoEError(f"{src}: no subjects {sorted(missing)}; the file holds {sorted(poses)}")
    packed: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    frames = 0
    for subject in sorted(keep):
        packed[subject] = {}
        for action, p in poses[subject].items():
            root = p[:, :1, :].astype(np.float64)
            rel = np.round((p - root) / COMPACT_UNIT_M)
            if np.abs(rel).max(initial=0) > np.iinfo(np.int16).max:
                raise PoseMoEError(f"{src}: {subject}/{action} has a joint over 3.27 m from the pelvis; "
                                   "is the file in millimetres? expected metres")
            packed[subject][action] = {"root": root[:, 0].astype(np.float32), "rel": rel.astype(np.int16)}
            frames += len(p)
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp.npz")
    np.savez_compressed(tmp, **{COMPACT_KEY: np.array(packed, dtype=object)})
    os.replace(tmp, dst)
    return {"sequences": sum(len(a) for a in packed.values()), "frames": frames, "bytes": dst.stat().st_size}


def write_compact_2d(src: str | Path, dst: str | Path, subjects: Iterable[str] | None = None) -> dict[str, Any]:
    """A smaller copy of a 2D pose file (pixels, x and y only), for sending training data to
    another machine: each view is stored as its first frame and then frame-to-frame steps, int16
    in whole pixels when every value is whole (the Stacked Hourglass file: lossless) or else in
    0.1 px steps (error at most 0.05 px), compressed; the metadata (joint layout) is kept and
    `subjects` keeps only those. `load_positions_2d` and `--detected-2d` / `--data-2d` read it
    like the original. Derived from third-party data: never commit it.
    Returns {"sequences", "frames", "bytes"}."""
    raw, name = _load_npz_dict(src, "positions_2d")
    with np.load(src, allow_pickle=True) as npz:
        meta = npz["metadata"].item() if "metadata" in npz.files else None
    keep = set(subjects) if subjects is not None else set(map(str, raw))
    missing = keep - set(map(str, raw))
    if missing:
        raise PoseMoEError(f"{src}: no subjects {sorted(missing)}; the file holds {sorted(map(str, raw))}")
    packed: dict[str, dict[str, list[dict[str, Any] | None]]] = {}
    frames = sequences = 0
    for subject, actions in raw.items():
        if str(subject) not in keep:
            continue
        packed[str(subject)] = {}
        for action, views in actions.items():
            out_views: list[dict[str, Any] | None] = []
            for i, v in enumerate(list(views)):
                if v is None:
                    out_views.append(None)
                    continue
                v = np.asarray(v)
                where = f"{name}: positions_2d[{subject!r}][{action!r}][{i}]"
                if v.ndim != 3 or v.shape[-1] != 2:
                    raise PoseMoEError(f"{where}: expected (frames, joints, 2) pixels to compact, found shape "
                                       f"{v.shape}; files with a confidence channel are used as they are")
                unit = 1.0 if np.array_equal(v, np.round(v)) else 0.1
                q = np.round(v.astype(np.float64) / unit)
                steps = np.diff(q, axis=0, prepend=np.zeros_like(q[:1]))
                if np.abs(steps).max(initial=0) > np.iinfo(np.int16).max:
                    raise PoseMoEError(f"{where}: values too large for a compact copy (over 3276 px at 0.1 px steps)")
                out_views.append({"steps": steps.astype(np.int16), "unit": unit})
                frames += len(v)
                sequences += 1
            packed[str(subject)][str(action)] = out_views
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp.npz")
    arrays = {COMPACT_2D_KEY: np.array(packed, dtype=object)}
    if meta is not None:
        arrays["metadata"] = np.array(meta, dtype=object)
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, dst)
    return {"sequences": sequences, "frames": frames, "bytes": dst.stat().st_size}


def write_compact(src: str | Path, dst: str | Path, subjects: Iterable[str] | None = None) -> dict[str, Any]:
    """`write_compact_2d` for a file of 2D poses (key positions_2d), else `write_compact_3d`."""
    if _npz_has_key(src, "positions_2d"):
        return write_compact_2d(src, dst, subjects)
    return write_compact_3d(src, dst, subjects)


# joint layouts a 2D file may declare in metadata['layout_name'] -> joint counts it may hold
LAYOUTS_2D: dict[str, tuple[int, ...]] = {"h36m17": (17,), "h36m32": (32,), "mpii16": (16,)}


def _layout_2d(path: str | Path, name: str) -> tuple[int, ...]:
    """Joint counts allowed by the file's declared layout (metadata['layout_name']); a file that
    declares none may hold the Human3.6M layouts (17 or 32 joints)."""
    try:
        with np.load(path, allow_pickle=True) as npz:
            meta = npz["metadata"].item() if "metadata" in npz.files else {}
    except Exception:  # unreadable files are reported by _load_npz_dict
        return (17, 32)
    layout = meta.get("layout_name") if isinstance(meta, dict) else None
    if layout is None:
        return (17, 32)
    if layout not in LAYOUTS_2D:
        raise PoseMoEError(f"{name}: expected a 2D joint layout this version reads ({', '.join(LAYOUTS_2D)}), "
                           f"found metadata layout_name {layout!r}; convert the file to one of them")
    return LAYOUTS_2D[layout]


def load_positions_2d(path: str | Path) -> dict[str, dict[str, list[np.ndarray | None]]]:
    """Load 2D poses in pixels: subject -> action -> per-camera list of float32 (N, 17, 2 or 3).

    A third channel is a detector confidence. 32-joint arrays are reduced to 17 joints; a file
    whose metadata declares the MPII-16 layout (the Stacked Hourglass detections) is converted
    with `mpii16_to_h36m17`. A camera without a view (None) stays None.
    """
    if _npz_has_key(path, COMPACT_2D_KEY):
        raw, name = _load_npz_dict(path, COMPACT_2D_KEY)
        raw = {subject: {action: [None if v is None else
                                  (np.cumsum(v["steps"].astype(np.int32), axis=0) * np.float32(v["unit"])).astype(np.float32)
                                  for v in views]
                         for action, views in actions.items()} for subject, actions in raw.items()}
    else:
        raw, name = _load_npz_dict(path, "positions_2d")
    joints = _layout_2d(path, name)
    out: dict[str, dict[str, list[np.ndarray | None]]] = {}
    for subject, actions in raw.items():
        out[str(subject)] = {}
        for action, views in actions.items():
            where = f"{name}: positions_2d[{subject!r}][{action!r}]"
            if isinstance(views, np.ndarray) and views.dtype != object:
                views = list(views)  # (cams, N, J, C) stacked array
            if not isinstance(views, (list, tuple, np.ndarray)) or len(views) == 0:
                raise PoseMoEError(
                    f"{where}: expected a non-empty list of per-camera arrays, found {type(views).__name__}"
                )
            out[str(subject)][str(action)] = [
                None if v is None else _check_pose_array(v, (2, 3), f"{where}[{i}]", joints)
                for i, v in enumerate(views)
            ]
    return out


# ----------------------------------------------------------------------------- sequences


@dataclass
class Sequence:
    """One (subject, action, camera) view of a motion capture sequence."""

    subject: str
    action: str
    camera: str
    pose3d: np.ndarray  # (N, 17, 3) camera coordinates, root-relative, metres, float32
    pose2d: np.ndarray  # (N, 17, 2|3) normalised screen x, y (+ confidence), float32
    image_size: tuple[int, int]  # (w, h) pixels

    def __len__(self) -> int:
        return int(self.pose3d.shape[0])


def action_base_name(action: str) -> str:
    """Action name without its take number: "Directions 1" -> "Directions"."""
    return _ACTION_SUFFIX.sub("", action.strip())


def _action_selected(action: str, wanted: set[str] | None) -> bool:
    return wanted is None or action in wanted or action_base_name(action) in wanted


def _camera_slot(cam_id: str, camera_ids: SequenceABC[str]) -> int:
    """Index of a camera's view in a per-camera 2D list (Human3.6M camera order)."""
    if cam_id in H36M_CAMERA_IDS:
        return H36M_CAMERA_IDS.index(cam_id)
    return list(camera_ids).index(cam_id)


def build_sequences(
    positions_3d: Mapping[str, Mapping[str, np.ndarray]],
    cameras: Mapping[str, Mapping[str, Camera]],
    subjects: Iterable[str],
    positions_2d: Mapping[str, Mapping[str, SequenceABC[np.ndarray]]] | None = None,
    actions: Iterable[str] | None = None,
    camera_ids: SequenceABC[str] = H36M_CAMERA_IDS,
) -> list[Sequence]:
    """Per-camera sequences for ``subjects`` (root-relative camera-frame 3D, normalised 2D).

    Subjects or actions missing from ``positions_3d`` (or from ``positions_2d`` when given) are
    skipped. Without ``positions_2d`` the 2D input is the projection of the 3D joints; with it,
    the camera's 2D view is used and both are cut to the shorter length.
    """
    wanted = None if actions is None else set(actions)
    out: list[Sequence] = []
    for subject in subjects:
        if subject not in positions_3d:
            continue
        if subject not in cameras:
            raise PoseMoEError(
                f"cameras: expected a calibration for subject {subject!r}, found subjects {sorted(cameras)}"
            )
        subject_cams = cameras[subject]
        for cam_id in camera_ids:
            if cam_id not in subject_cams:
                raise PoseMoEError(
                    f"cameras[{subject!r}]: expected camera id {cam_id!r}, found {sorted(subject_cams)}"
                )
        for action, world in positions_3d[subject].items():
            if not _action_selected(action, wanted):
                continue
            views_2d = None
            if positions_2d is not None:
                views_2d = positions_2d.get(subject, {}).get(action)
                if views_2d is None:
                    continue
            world = np.asarray(world, dtype=np.float64)  # (N, 17, 3)
            if world.ndim != 3 or world.shape[1:] != (NUM_JOINTS, 3):
                raise PoseMoEError(
                    f"positions_3d[{subject!r}][{action!r}]: expected shape (N, {NUM_JOINTS}, 3), found {world.shape}"
                )
            for cam_id in camera_ids:
                cam = subject_cams[cam_id]
                w, h = cam.res_w, cam.res_h
                cam_xyz = world_to_camera(world, cam)  # (N, 17, 3)
                if views_2d is None:
                    pose2d = normalize_screen(project_to_pixels(cam_xyz, cam), w, h)  # (N, 17, 2)
                else:
                    slot = _camera_slot(cam_id, camera_ids)
                    if slot >= len(views_2d):
                        raise PoseMoEError(
                            f"positions_2d[{subject!r}][{action!r}]: expected a view for camera {cam_id!r} "
                            f"at index {slot}, found {len(views_2d)} views"
                        )
                    if views_2d[slot] is None:  # the detector has no view from this camera
                        continue
                    px = np.asarray(views_2d[slot])
                    if px.ndim != 3 or px.shape[1] != NUM_JOINTS or px.shape[2] not in (2, 3):
                        raise PoseMoEError(
                            f"positions_2d[{subject!r}][{action!r}][{slot}]: expected shape "
                            f"(N, {NUM_JOINTS}, 2 or 3), found {px.shape}"
                        )
                    n = min(len(px), len(cam_xyz))
                    pose2d = normalize_screen(px[:n].astype(np.float64), w, h)
                    cam_xyz = cam_xyz[:n]
                pose3d = cam_xyz - cam_xyz[:, :1, :]  # root-relative: pelvis exactly 0
                out.append(
                    Sequence(
                        subject=subject,
                        action=action,
                        camera=cam_id,
                        pose3d=pose3d.astype(np.float32),
                        pose2d=np.asarray(pose2d, dtype=np.float32),
                        image_size=(int(w), int(h)),
                    )
                )
    return out


# ----------------------------------------------------------------------------- clips


def sliding_windows(n: int, frames: int, stride: int) -> list[int]:
    """Start indices of windows of ``frames`` every ``stride`` frames that together cover [0, n).

    The last window may run past ``n`` (to be edge-padded). ``n == 0`` gives no window.
    """
    if frames < 1 or stride < 1 or stride > frames:
        raise PoseMoEError(
            f"sliding windows: expected 1 <= stride <= frames, found frames={frames}, stride={stride}"
        )
    if n <= 0:
        return []
    starts = [0]
    while starts[-1] + frames < n:
        starts.append(starts[-1] + stride)
    return starts


def pad_edge(x: np.ndarray, frames: int, start: int) -> np.ndarray:
    """``x[start:start + frames]`` along axis 0, repeating the last frame of ``x`` past its end."""
    n = len(x)
    if not 0 <= start < n:
        raise PoseMoEError(f"pad_edge: expected 0 <= start < {n} (sequence length), found start={start}")
    window = x[start:start + frames]
    missing = frames - len(window)
    if missing <= 0:
        return window
    tail = np.repeat(x[-1:], missing, axis=0)
    return np.concatenate([window, tail], axis=0)


def perturb_keypoints(x: np.ndarray, rng: np.random.Generator, noise_px: float, image_width: float,
                      joint_dropout: float) -> np.ndarray:
    """Simulate a 2D detector on screen-normalised keypoints ``x`` (T, J, 2|3), in place.

    The noise model used both for training augmentation and for the robustness evaluation:
    i.i.d. Gaussian noise of ``noise_px`` pixels (standard deviation, per coordinate, per frame)
    on x and y, then each joint of each frame dropped with probability ``joint_dropout``. A
    dropped joint is what the video pipeline feeds for a missed keypoint: all channels 0 (the
    image centre, confidence 0). Returns ``x``.
    """
    if noise_px > 0:
        sigma = noise_px * 2.0 / image_width  # pixels -> normalised units
        x[..., :2] += rng.normal(0.0, sigma, size=x[..., :2].shape).astype(x.dtype)
    if joint_dropout > 0:
        drop = rng.random(size=x.shape[:2]) < joint_dropout  # (T, J)
        x[drop] = 0.0
    return x


class ClipDataset(Dataset):
    """Fixed-length seq2seq clips over sequences: item -> (x (T, 17, C_in), y (T, 17, 3)).

    Clips start every ``stride`` frames and cover every frame; the last clip of a sequence is
    edge-padded (see ``valid_mask``). Augmentation (random flip, pixel noise, joint dropout) is
    drawn from a generator seeded by ``seed``, the epoch (``set_epoch``) and the item index. With
    ``noise_mix`` the noise standard deviation of each clip is drawn uniformly from [0, noise_px]
    instead of being noise_px for every clip.
    """

    def __init__(
        self,
        sequences: SequenceABC[Sequence],
        frames: int,
        stride: int | None = None,
        flip: bool = False,
        noise_px: float = 0.0,
        joint_dropout: float = 0.0,
        confidence: bool = False,
        seed: int = 0,
        noise_mix: bool = False,
    ) -> None:
        stride = frames if stride is None else stride
        if noise_px < 0:
            raise PoseMoEError(f"noise_px: expected a value >= 0, found {noise_px}")
        if not 0.0 <= joint_dropout < 1.0:
            raise PoseMoEError(f"joint_dropout: expected a probability in [0, 1), found {joint_dropout}")
        self.sequences = list(sequences)
        self.frames = int(frames)
        self.stride = int(stride)
        self.flip = bool(flip)
        self.noise_px = float(noise_px)
        self.joint_dropout = float(joint_dropout)
        self.confidence = bool(confidence)
        self.noise_mix = bool(noise_mix)
        self.seed = int(seed)
        self.epoch = 0
        self.clip_index: list[tuple[int, int]] = []
        for s, seq in enumerate(self.sequences):
            if seq.pose2d.shape[0] != seq.pose3d.shape[0]:
                raise PoseMoEError(
                    f"sequence {seq.subject}/{seq.action}/{seq.camera}: expected equal 2D and 3D lengths, "
                    f"found {seq.pose2d.shape[0]} and {seq.pose3d.shape[0]}"
                )
            self.clip_index.extend((s, start) for start in sliding_windows(len(seq.pose3d), self.frames, self.stride))

    def set_epoch(self, epoch: int) -> None:
        """Change the augmentation draws (they depend on seed, epoch and item index)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.clip_index)

    def valid_mask(self, i: int) -> np.ndarray:
        """(T,) bool: True for real frames of clip ``i``, False for edge padding."""
        s, start = self.clip_index[i]
        return np.arange(start, start + self.frames) < len(self.sequences[s].pose3d)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        s, start = self.clip_index[i]
        seq = self.sequences[s]
        x = pad_edge(seq.pose2d, self.frames, start).astype(np.float32)  # (T, 17, 2|3), a copy
        y = pad_edge(seq.pose3d, self.frames, start).astype(np.float32)  # (T, 17, 3)
        if self.confidence:
            if x.shape[-1] == 2:
                x = np.concatenate([x, np.ones_like(x[..., :1])], axis=-1)
        else:
            x = np.ascontiguousarray(x[..., :2])

        if self.flip or self.noise_px > 0 or self.joint_dropout > 0:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            if self.flip and rng.random() < 0.5:
                x = flip_pose(x)
                y = flip_pose(y)
            # with noise_mix, each clip gets its own noise level, uniform in [0, noise_px], so that
            # clean and noisy 2D are both seen and clean input is not paid for with precision
            noise_px = self.noise_px * rng.random() if self.noise_mix else self.noise_px
            perturb_keypoints(x, rng, noise_px, seq.image_size[0], self.joint_dropout)
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))


@dataclass
class H36MData:
    """Human3.6M poses, optional 2D detections and camera calibration, loaded once."""

    source: str  # the 3D file, for error messages
    positions_3d: dict[str, dict[str, np.ndarray]]
    positions_2d: dict[str, dict[str, list[np.ndarray]]] | None
    cameras: dict[str, dict[str, Camera]]

    def sequences(self, subjects: SequenceABC[str], required: bool = True) -> list[Sequence]:
        """Per-camera sequences of `subjects`; with `required`, none found is a PoseMoEError."""
        seqs = build_sequences(self.positions_3d, self.cameras, subjects, positions_2d=self.positions_2d)
        if required and not seqs:
            raise PoseMoEError(f"{self.source}: no sequences for subjects {list(subjects)}; "
                               f"the file holds {sorted(self.positions_3d)}")
        return seqs


def load_h36m(data_3d: str | Path, data_2d: str | Path | None = None,
              cameras: str | Path | None = None) -> H36MData:
    """Load the 3D file, the optional 2D file and the calibration (None = packaged)."""
    return H36MData(str(data_3d), load_positions_3d(data_3d),
                    load_positions_2d(data_2d) if data_2d else None, load_h36m_cameras(cameras))
