"""Joint layouts (skeletons) and conversions between them.

Four layouts are used: ``H36M17`` (the 17 Human3.6M evaluation joints, the layout the lifting
network works in), ``COCO17`` (the layout of common 2D keypoint detectors such as mmpose),
``BLAZEPOSE33`` (the 33 landmarks of MediaPipe Pose) and ``MPII16`` (the Stacked Hourglass
detections of Human3.6M, ``mpii16_to_h36m17``). Helpers convert the 32-joint Human3.6M
layout, COCO keypoints and BlazePose landmarks to ``H36M17`` and mirror poses left/right.

Both detector layouts are mapped to ``H36M17`` with the same definitions (see
``coco17_to_h36m17``), so the same physical points give the same ``H36M17`` pose whichever
2D backend produced them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from posemoe.errors import PoseMoEError

if TYPE_CHECKING:
    import torch

# numpy or torch; torch is not imported here (the 2D side of the application never needs it)
ArrayT = TypeVar("ArrayT", np.ndarray, "torch.Tensor")


def is_torch_tensor(x) -> bool:
    """Whether `x` is a torch tensor (False without importing torch when nothing has loaded it)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


@dataclass(frozen=True)
class Skeleton:
    """A named joint layout: joint names, parent of each joint, left and right joint sets."""

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]  # -1 for the root
    joints_left: tuple[int, ...]
    joints_right: tuple[int, ...]

    def __post_init__(self) -> None:
        j = len(self.joint_names)
        if len(self.parents) != j:
            raise PoseMoEError(
                f"skeleton {self.name!r}: expected {j} parents (one per joint), found {len(self.parents)}"
            )
        if len(self.joints_left) != len(self.joints_right):
            raise PoseMoEError(
                f"skeleton {self.name!r}: expected as many left as right joints, "
                f"found {len(self.joints_left)} left and {len(self.joints_right)} right"
            )
        paired = set(self.joints_left) | set(self.joints_right)
        if len(paired) != 2 * len(self.joints_left) or not all(0 <= i < j for i in paired):
            raise PoseMoEError(
                f"skeleton {self.name!r}: expected distinct left/right joint indices in [0, {j}), "
                f"found left {self.joints_left} right {self.joints_right}"
            )

    @property
    def num_joints(self) -> int:
        """Number of joints J."""
        return len(self.joint_names)

    @property
    def flip_permutation(self) -> np.ndarray:
        """(J,) int array: index i -> its left/right partner (itself for centre joints)."""
        perm = np.arange(self.num_joints, dtype=np.int64)
        for left, right in zip(self.joints_left, self.joints_right):
            perm[left] = right
            perm[right] = left
        return perm

    def bones(self) -> list[tuple[int, int]]:
        """(child, parent) pairs, one per non-root joint."""
        return [(i, p) for i, p in enumerate(self.parents) if p >= 0]


H36M17 = Skeleton(
    name="h36m17",
    joint_names=(
        "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
        "spine", "thorax", "neck_nose", "head", "left_shoulder", "left_elbow", "left_wrist",
        "right_shoulder", "right_elbow", "right_wrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    joints_left=(4, 5, 6, 11, 12, 13),
    joints_right=(1, 2, 3, 14, 15, 16),
)

COCO17 = Skeleton(
    name="coco17",
    joint_names=(
        "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
        "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    # rooted at the nose: face joints hang off the nose, shoulders off the nose, hips off the
    # shoulder on the same side, limbs down the chain
    parents=(-1, 0, 0, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14),
    joints_left=(1, 3, 5, 7, 9, 11, 13, 15),
    joints_right=(2, 4, 6, 8, 10, 12, 14, 16),
)

BLAZEPOSE33 = Skeleton(
    name="blazepose33",
    joint_names=(
        "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
        "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
        "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
        "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
        "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
        "right_heel", "left_foot_index", "right_foot_index",
    ),
    # MediaPipe Pose order. Rooted at the nose like COCO17: each eye is a chain inner -> centre
    # -> outer -> ear, mouth corners and shoulders hang off the nose, hips off the shoulder on
    # the same side, limbs down the chain; fingers hang off the wrist, heel and toe off the ankle
    parents=(
        -1, 0, 1, 2, 0, 4, 5, 3, 6, 0, 0, 0, 0, 11, 12, 13, 14, 15, 16, 15, 16, 15, 16,
        11, 12, 23, 24, 25, 26, 27, 28, 27, 28,
    ),
    joints_left=(1, 2, 3, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31),
    joints_right=(4, 5, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32),
)

MPII16 = Skeleton(
    name="mpii16",
    joint_names=(
        "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax", "upper_neck",
        "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
    ),
    # MPII order (the Stacked Hourglass detections of Human3.6M use it), rooted at the pelvis
    parents=(1, 2, 6, 6, 3, 4, -1, 6, 7, 8, 11, 12, 7, 7, 13, 14),
    joints_left=(3, 4, 5, 13, 14, 15),
    joints_right=(2, 1, 0, 12, 11, 10),
)

_SKELETONS: dict[str, Skeleton] = {s.name: s for s in (H36M17, COCO17, BLAZEPOSE33, MPII16)}

# median 3D bone lengths of the Human3.6M training subjects (S1 S5 S6 S7 S8), metres, in the
# order of `H36M17.bones()`: the body-size reference of the camera-invariant input normalisation
H36M17_BONE_LENGTHS_M: tuple[float, ...] = (
    0.136, 0.449, 0.442, 0.136, 0.449, 0.442, 0.233, 0.255, 0.119, 0.115, 0.149, 0.279, 0.249,
    0.149, 0.279, 0.249,
)

# indices of the 17 evaluation joints inside the 32-joint Human3.6M layout
H36M32_TO_17: tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)


def get_skeleton(name: str) -> Skeleton:
    """The skeleton called ``name`` ("h36m17", "coco17" or "blazepose33")."""
    try:
        return _SKELETONS[name]
    except KeyError:
        raise PoseMoEError(
            f"skeleton name: expected one of {sorted(_SKELETONS)}, found {name!r}"
        ) from None


def _check_joints(x: np.ndarray | torch.Tensor, joints: int, what: str, min_channels: int = 1) -> None:
    shape = tuple(x.shape)
    if len(shape) < 2 or shape[-2] != joints or shape[-1] < min_channels:
        chans = "C" if min_channels <= 1 else f"C>={min_channels}"
        raise PoseMoEError(f"{what}: expected shape (..., {joints}, {chans}), found {shape}")


def h36m32_to_h36m17(x: ArrayT) -> ArrayT:
    """Select the 17 evaluation joints: (..., 32, C) -> (..., 17, C); numpy or torch."""
    _check_joints(x, 32, "h36m32_to_h36m17 input")
    if is_torch_tensor(x):
        import torch

        idx = torch.as_tensor(H36M32_TO_17, dtype=torch.long, device=x.device)
        return x.index_select(-2, idx)
    return np.asarray(x)[..., list(H36M32_TO_17), :]


# H36M17 joints copied from the detector joint of the same name (both detector layouts use these names)
_DIRECT_TO_H36M17: dict[int, str] = {
    1: "right_hip", 2: "right_knee", 3: "right_ankle", 4: "left_hip", 5: "left_knee",
    6: "left_ankle", 9: "nose", 11: "left_shoulder", 12: "left_elbow", 13: "left_wrist",
    14: "right_shoulder", 15: "right_elbow", 16: "right_wrist",
}


def _detector_to_h36m17(x: np.ndarray, source: Skeleton, what: str) -> np.ndarray:
    """Shared body of ``coco17_to_h36m17`` and ``blazepose33_to_h36m17``.

    x: (..., J, 2|3) in ``source``'s layout (J = source.num_joints); returns (..., 17, 2|3).
    Only the joints named in ``_DIRECT_TO_H36M17``, the eyes, shoulders and hips are read.
    """
    x = np.asarray(x)
    shape = tuple(x.shape)
    j = source.num_joints
    if len(shape) < 2 or shape[-2] != j or shape[-1] not in (2, 3):
        raise PoseMoEError(f"{what} input: expected shape (..., {j}, 2 or 3), found {shape}")
    dtype = np.result_type(x.dtype, np.float32)
    x = x.astype(dtype, copy=False)
    c = source.joint_names.index
    xy = x[..., :2]

    def mid(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return 0.5 * (a + b)

    pelvis = mid(xy[..., c("left_hip"), :], xy[..., c("right_hip"), :])
    thorax = mid(xy[..., c("left_shoulder"), :], xy[..., c("right_shoulder"), :])
    out = np.empty(shape[:-2] + (17, shape[-1]), dtype=dtype)
    out[..., 0, :2] = pelvis
    out[..., 7, :2] = mid(pelvis, thorax)
    out[..., 8, :2] = thorax
    out[..., 10, :2] = mid(xy[..., c("left_eye"), :], xy[..., c("right_eye"), :])

    for h, name in _DIRECT_TO_H36M17.items():
        out[..., h, :] = x[..., c(name), :]

    if shape[-1] == 3:
        conf = x[..., 2]

        def cmin(*names: str) -> np.ndarray:
            return np.min(np.stack([conf[..., c(n)] for n in names], axis=-1), axis=-1)

        hips = ("left_hip", "right_hip")
        shoulders = ("left_shoulder", "right_shoulder")
        out[..., 0, 2] = cmin(*hips)
        out[..., 7, 2] = cmin(*hips, *shoulders)
        out[..., 8, 2] = cmin(*shoulders)
        out[..., 10, 2] = cmin("left_eye", "right_eye")
    return out


def coco17_to_h36m17(x: np.ndarray) -> np.ndarray:
    """COCO keypoints (..., 17, C) -> H36M17 (..., 17, C), C = 2 or 3 (3rd = confidence).

    Derived joints are midpoints: pelvis of the hips, thorax of the shoulders, spine of pelvis
    and thorax, head of the eyes; neck/nose is the nose. With C = 3 a derived joint's confidence
    is the minimum confidence of the keypoints it was built from.
    """
    return _detector_to_h36m17(x, COCO17, "coco17_to_h36m17")


def blazepose33_to_h36m17(x: np.ndarray) -> np.ndarray:
    """MediaPipe BlazePose landmarks (..., 33, C) -> H36M17 (..., 17, C), C = 2 or 3.

    The 3rd channel is a confidence (MediaPipe's landmark visibility) and is carried along.
    The definitions are those of ``coco17_to_h36m17`` applied to the BlazePose landmarks of the
    same name, so both detector layouts give the same H36M17 pose for the same physical points:
    pelvis = midpoint of the hips, thorax = midpoint of the shoulders, spine = midpoint of pelvis
    and thorax, head = midpoint of the eye centres (``left_eye``/``right_eye``; the inner and
    outer eye corners, ears, mouth, fingers, heels and toes are not used), neck/nose = nose;
    hips, knees, ankles, shoulders, elbows and wrists are copied. With C = 3 a derived joint's
    confidence is the minimum confidence of the landmarks it was built from.
    """
    return _detector_to_h36m17(x, BLAZEPOSE33, "blazepose33_to_h36m17")


# H36M17 joint <- MPII16 joint of the same physical point (spine is derived, see mpii16_to_h36m17)
_MPII16_TO_H36M17: dict[int, int] = {
    0: 6, 1: 2, 2: 1, 3: 0, 4: 3, 5: 4, 6: 5, 8: 7, 9: 8, 10: 9,
    11: 13, 12: 14, 13: 15, 14: 12, 15: 11, 16: 10,
}


def mpii16_to_h36m17(x: np.ndarray) -> np.ndarray:
    """MPII-16 joints (..., 16, C) -> H36M17 (..., 17, C), C = 2 or 3 (3rd = confidence).

    Pelvis, hips, knees, ankles, thorax, shoulders, elbows and wrists are copied; neck/nose is
    MPII's upper neck and head is MPII's head top (other points than Human3.6M's own neck/nose and
    head: on Human3.6M the Stacked Hourglass detections sit 17 and 23 px from them); spine is the
    midpoint of pelvis and thorax, with the lower of their two confidences.
    """
    x = np.asarray(x)
    shape = tuple(x.shape)
    if len(shape) < 2 or shape[-2] != 16 or shape[-1] not in (2, 3):
        raise PoseMoEError(f"mpii16_to_h36m17 input: expected shape (..., 16, 2 or 3), found {shape}")
    dtype = np.result_type(x.dtype, np.float32)
    x = x.astype(dtype, copy=False)
    out = np.empty(shape[:-2] + (17, shape[-1]), dtype=dtype)
    for h, m in _MPII16_TO_H36M17.items():
        out[..., h, :] = x[..., m, :]
    out[..., 7, :2] = 0.5 * (x[..., 6, :2] + x[..., 7, :2])
    if shape[-1] == 3:
        out[..., 7, 2] = np.minimum(x[..., 6, 2], x[..., 7, 2])
    return out


def flip_pose(x: ArrayT, skeleton: Skeleton = H36M17) -> ArrayT:
    """Mirror poses (..., J, C>=2): negate channel 0 and swap left/right joints; new array/tensor.

    Channels after the first (y, z, confidence) are only permuted.
    """
    _check_joints(x, skeleton.num_joints, f"flip_pose input ({skeleton.name})", min_channels=2)
    perm = skeleton.flip_permutation
    if is_torch_tensor(x):
        import torch

        out = x.index_select(-2, torch.as_tensor(perm, device=x.device))  # a copy
        out[..., 0] = -out[..., 0]
        return out
    out = np.asarray(x)[..., perm, :]  # fancy indexing copies
    out[..., 0] = -out[..., 0]
    return out


BONE_CHOICES = ("median", "free")  # bone lengths: each person's medians, or as the network gave them


def check_bone_choice(bones: str) -> str:
    """``bones`` if it is one of ``BONE_CHOICES``, else the one-line error of ``--bones``."""
    if bones not in BONE_CHOICES:
        raise PoseMoEError(f"--bones {bones!r}: unknown choice; use median (each person's median bone lengths) or free")
    return bones


def fix_bone_lengths(poses: np.ndarray, parents: tuple[int, ...] = H36M17.parents,
                     lengths: np.ndarray | None = None) -> np.ndarray:
    """One person's poses (F, J, 3) with every bone set to a fixed length along its own direction.

    A person's bones do not change length, so a lifter's frame-to-frame length changes are error.
    ``lengths`` (J,): entry j is the length of the bone from joint j's parent to j (the root's
    entry is ignored); default each bone's median length over the frames. The root stays where it
    is and each joint moves with its parent, from the root outwards, so only lengths change, not
    directions. NaN frames stay NaN; a zero-length bone keeps its joint on its parent.
    """
    p = np.asarray(poses, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (len(parents), 3):
        raise PoseMoEError(f"fix_bone_lengths: expected poses of shape (F, {len(parents)}, 3), found {p.shape}")
    children = [j for j, q in enumerate(parents) if q >= 0]
    vec = p[:, children] - p[:, [parents[j] for j in children]]  # (F, B, 3)
    norm = np.linalg.norm(vec, axis=-1, keepdims=True)
    if lengths is None:
        with np.errstate(all="ignore"):
            target = np.nanmedian(norm[..., 0], axis=0) if len(p) and np.isfinite(norm).any() else np.zeros(len(children))
    else:
        target = np.asarray(lengths, dtype=np.float64)[children]
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = np.where(norm > 1e-9, vec / norm, np.where(np.isfinite(norm), 0.0, np.nan))
    out = p.copy()
    for b, j in enumerate(children):  # parents come before their children in the layouts used here
        out[:, j] = out[:, parents[j]] + unit[:, b] * target[b]
    return out
