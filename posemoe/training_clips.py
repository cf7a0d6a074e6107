"""Training clips for lifting in the wild: motion capture filmed by many cameras, with real and
detector-like 2D.

`CameraMixClips` cuts the world-coordinate motion of the training subjects into windows and, for
each clip, draws where its 2D comes from:

- ``virtual`` (probability `p_virtual`): a random pinhole camera (`posemoe.virtual_camera`);
  the 2D is the exact projection plus detector-like errors (`posemoe.detector_noise`);
- ``detected`` (probability `p_detected`, where detections exist): real detector 2D of one of
  Human3.6M's cameras (e.g. the Stacked Hourglass file), with extra missed joints only;
- ``h36m`` (the rest): one of Human3.6M's four calibrated cameras, projected with its lens
  distortion, plus detector-like errors.

The target is always the root-relative 3D pose in the axes of the camera that made the 2D
(x right, y down, z forward, metres). With `look_at_person`, that camera is first turned to look
at the person in each frame (`posemoe.view_rotation`, with the camera's own focal length and
principal point), as `Lifter` and the video pipeline turn it for camera-invariant models: the 2D
and the target are both in the turned camera. Inputs are screen-normalised with that camera's frame size
(`posemoe.camera.normalize_screen`), exactly what `Lifter` and the video pipeline feed; the
network's own input normalisation (`PoseMoEConfig.input_norm`) does the rest. With several
`frame_steps`, each clip takes every s-th frame for an s drawn from them (Human3.6M is filmed at
50 frames/s; a step of 2 shows the motion as a 25 frames/s video does). Draws depend on the seed,
the epoch (`set_epoch`) and the item index only, so runs repeat.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence as SequenceABC
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from posemoe.camera import H36M_CAMERA_IDS, Camera, normalize_screen, project_to_pixels, world_to_camera
from posemoe.data import sliding_windows
from posemoe.detector_noise import DetectorNoise
from posemoe.errors import PoseMoEError
from posemoe.skeleton import flip_pose
from posemoe.view_rotation import look_at_person as turn_to_person, screen_focal
from posemoe.virtual_camera import CameraRanges, sample_camera

SOURCES = ("virtual", "h36m", "detected")


@dataclass
class WorldSequence:
    """One motion-capture sequence in world coordinates, with its optional detections."""

    subject: str
    action: str
    world: np.ndarray  # (N, 17, 3) metres
    detections: list[np.ndarray | None] | None = None  # per Human3.6M camera (N', 17, 2) pixels


@dataclass
class ClipSample:
    """Everything one clip was made from (what `__getitem__` returns, plus how it was made)."""

    x: np.ndarray  # (T, 17, C) network input
    y: np.ndarray  # (T, 17, 3) target: root-relative, camera axes, metres
    source: str
    camera: object  # PinholeCamera or Camera
    pose_cam: np.ndarray  # (T, 17, 3) the clip in that camera's axes, not root-relative (before any flip)
    pixels: np.ndarray  # (T, 17, 2) 2D before normalisation, after noise
    image_size: tuple[int, int]
    flipped: bool
    focal_px: float  # the camera's focal length, pixels
    rotation: np.ndarray  # (T, 3, 3) real camera axes -> the axes of `y` (identity unless turned to the person)


class CameraMixClips(Dataset):
    def __init__(self, sequences: SequenceABC[WorldSequence], cameras: Mapping[str, Mapping[str, Camera]], *,
                 frames: int, stride: int | None = None, p_virtual: float = 0.5, p_detected: float = 0.0,
                 noise: DetectorNoise | None = DetectorNoise(), flip: bool = True, confidence: bool = True,
                 seed: int = 0, ranges: CameraRanges = CameraRanges(), frame_steps: tuple[int, ...] = (1,),
                 look_at_person: bool = False) -> None:
        if not (0.0 <= p_virtual <= 1.0 and 0.0 <= p_detected <= 1.0 and p_virtual + p_detected <= 1.0):
            raise PoseMoEError(f"camera mix: expected probabilities in [0, 1] summing to at most 1, found "
                               f"virtual {p_virtual} and detected {p_detected}")
        self.sequences = list(sequences)
        self.cameras = cameras
        self.frames = int(frames)
        self.stride = int(stride or max(1, frames // 3))
        self.p_virtual, self.p_detected = float(p_virtual), float(p_detected)
        self.noise = noise
        self.flip = flip
        self.confidence = confidence
        self.seed = int(seed)
        self.ranges = ranges
        if not frame_steps or any(int(k) < 1 for k in frame_steps):
            raise PoseMoEError(f"frame steps: expected integers >= 1, found {frame_steps}")
        self.frame_steps = tuple(int(k) for k in frame_steps)
        self.look_at_person = bool(look_at_person)
        self.epoch = 0
        self.clip_index: list[tuple[int, int]] = []
        for s, seq in enumerate(self.sequences):
            if seq.subject not in cameras:
                raise PoseMoEError(f"cameras: expected a calibration for subject {seq.subject!r}, found {sorted(cameras)}")
            self.clip_index.extend((s, start) for start in sliding_windows(len(seq.world), self.frames, self.stride))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.clip_index)

    def valid_mask(self, i: int) -> np.ndarray:
        s, start = self.clip_index[i]
        return np.arange(start, start + self.frames) < len(self.sequences[s].world)

    def _detection_views(self, seq: WorldSequence) -> list[int]:
        if not seq.detections:
            return []
        return [k for k, v in enumerate(seq.detections) if v is not None]

    def sample(self, i: int) -> ClipSample:
        s, start = self.clip_index[i]
        seq = self.sequences[s]
        rng = np.random.default_rng([self.seed, self.epoch, i])
        steps = self.frame_steps
        step = steps[int(rng.integers(len(steps)))] if len(steps) > 1 else steps[0]
        frame_ids = np.minimum(start + step * np.arange(self.frames), len(seq.world) - 1)  # edge-padded
        world = seq.world[frame_ids].astype(np.float64)  # (T, 17, 3)
        r = rng.random()
        views = self._detection_views(seq)
        if r < self.p_virtual:
            source = "virtual"
        elif r < self.p_virtual + self.p_detected and views:
            source = "detected"
        else:
            source = "h36m"
        found = np.ones(world.shape[:2], dtype=bool)
        if source == "virtual":
            cam = sample_camera(rng, world[:, 0].mean(axis=0), self.ranges)
            pose_cam = cam.world_to_camera(world)
            px = cam.project(pose_cam)
            size = (cam.res_w, cam.res_h)
            focal_px, principal = float(cam.f), np.asarray(cam.c, dtype=np.float64)
            px_per_m = cam.f / pose_cam[:, 0, 2]
        else:
            k = int(rng.choice(views)) if source == "detected" else int(rng.integers(len(H36M_CAMERA_IDS)))
            cam = self.cameras[seq.subject][H36M_CAMERA_IDS[k]]
            pose_cam = world_to_camera(world, cam)
            size = (cam.res_w, cam.res_h)
            focal_px, principal = float(np.mean(cam.f)), np.asarray(cam.c, dtype=np.float64)
            px_per_m = float(np.mean(cam.f)) / pose_cam[:, 0, 2]
            if source == "detected":
                det = seq.detections[k]
                px = det[np.minimum(frame_ids, len(det) - 1), :, :2].astype(np.float64)
            else:
                px = project_to_pixels(pose_cam, cam)
        if self.noise is not None:
            px, found = self.noise.apply(px, px_per_m, rng, offsets=source != "detected")
        x = normalize_screen(px, *size).astype(np.float32)
        if self.confidence:
            x = np.concatenate([x, np.ones_like(x[..., :1])], axis=-1)
        x[~found] = 0.0
        y = (pose_cam - pose_cam[:, :1]).astype(np.float32)
        rotation = np.broadcast_to(np.eye(3, dtype=np.float32), (len(x), 3, 3))
        if self.look_at_person:
            w, h = size
            x, rotation = turn_to_person(x, screen_focal(focal_px, w),
                                         tuple(normalize_screen(principal, w, h)))
            y = np.einsum("tab,tjb->tja", rotation, y).astype(np.float32)
        flipped = bool(self.flip and rng.random() < 0.5)
        if flipped:
            x, y = flip_pose(x), flip_pose(y)
        return ClipSample(x=np.ascontiguousarray(x), y=np.ascontiguousarray(y), source=source, camera=cam,
                          pose_cam=pose_cam, pixels=px, image_size=size, flipped=flipped, focal_px=focal_px,
                          rotation=np.asarray(rotation))

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.sample(i)
        return torch.from_numpy(c.x), torch.from_numpy(c.y)


def world_sequences(positions_3d: Mapping[str, Mapping[str, np.ndarray]], subjects: SequenceABC[str],
                    detections: Mapping[str, Mapping[str, list[np.ndarray | None]]] | None = None
                    ) -> list[WorldSequence]:
    """The sequences of `subjects` with their detections (matched by subject and action)."""
    out = []
    for subject in subjects:
        for action, world in positions_3d.get(subject, {}).items():
            det = None if detections is None else detections.get(subject, {}).get(action)
            out.append(WorldSequence(subject, action, np.asarray(world, dtype=np.float32), det))
    return out
