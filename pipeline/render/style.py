"""What every drawing shares: colours, line thickness, font size and the skeleton's bone tables.

The joint layout is ``H36M17`` (``posemoe.skeleton``): bones come from its ``parents``, and limbs
on the person's left are drawn in a lighter shade of the track colour, limbs on the right in a
darker one, the trunk and head in the track colour itself (``track_colour``, ``_shades``). With
``color_by="confidence"`` the joints (2D and 3D) are coloured by their 2D detector confidence
instead (``confidence_colour``: red 0, yellow 0.5, green 1; a legend is drawn), while the bones
keep the track colours.

Line thickness and font size scale with the image or panel (``line_thickness``, ``font_scale_for``).
Coordinates go to OpenCV in fixed point with ``_SHIFT`` sub-pixel bits (``_fixed``).
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from posemoe.errors import PoseMoEError
from posemoe.skeleton import H36M17

Colour = tuple[int, int, int]  # (b, g, r), 0..255

# distinct, saturated BGR colours (none grey, so tracks stand out from the floor grid)
_PALETTE: tuple[Colour, ...] = (
    (225, 125, 35),   # blue
    (30, 135, 245),   # orange
    (55, 175, 45),    # green
    (50, 45, 215),    # red
    (185, 85, 150),   # purple
    (190, 185, 20),   # teal
    (175, 75, 235),   # pink
    (30, 180, 185),   # olive
    (40, 80, 150),    # brown
    (120, 30, 90),    # plum
)

_BONES: tuple[tuple[int, int], ...] = tuple(H36M17.bones())  # (child, parent), 16 bones
_BONE_CHILD = np.array([c for c, _ in _BONES], dtype=np.int64)
_BONE_PARENT = np.array([p for _, p in _BONES], dtype=np.int64)
# side of each joint / bone (a bone takes its child's side): 0 centre, 1 left, 2 right
_JOINT_SIDE = np.zeros(H36M17.num_joints, dtype=np.int64)
_JOINT_SIDE[list(H36M17.joints_left)] = 1
_JOINT_SIDE[list(H36M17.joints_right)] = 2
_BONE_SIDE = _JOINT_SIDE[_BONE_CHILD]
# plain-int copies for the per-frame drawing loops
_BC: list[int] = _BONE_CHILD.tolist()
_BP: list[int] = _BONE_PARENT.tolist()
_BS: list[int] = _BONE_SIDE.tolist()
_JS: list[int] = _JOINT_SIDE.tolist()

_J = H36M17.num_joints
_PELVIS, _HEAD = 0, 10
_R_ANKLE, _L_ANKLE = 3, 6

_SHIFT = 2  # sub-pixel bits for cv2 drawing (coordinates scaled by 4)
_ONE = 1 << _SHIFT

_FONT = cv2.FONT_HERSHEY_SIMPLEX

# confidence colour map: 0 red, 0.5 yellow, 1 green (BGR), sampled at _CONF_LEVELS steps
_CONF_LEVELS = 21
_CONF_STOPS = np.array([(40, 40, 225), (0, 210, 255), (50, 185, 40)], dtype=np.float64)


def _conf_lut() -> tuple[Colour, ...]:
    out = []
    for i in range(_CONF_LEVELS):
        t = 2.0 * i / (_CONF_LEVELS - 1)
        k = min(int(t), 1)
        c = _CONF_STOPS[k] + (t - k) * (_CONF_STOPS[k + 1] - _CONF_STOPS[k])
        out.append(tuple(int(round(v)) for v in c))
    return tuple(out)  # type: ignore[return-value]


_CONF_LUT: tuple[Colour, ...] = _conf_lut()


def track_colour(track_id: int) -> Colour:
    """The colour (b, g, r) of a track: a fixed 10-colour palette cycled by id (stable per id)."""
    return _PALETTE[int(track_id) % len(_PALETTE)]


def confidence_colour(score: float) -> Colour:
    """The colour (b, g, r) of a 2D confidence in [0, 1]: red at 0, yellow at 0.5, green at 1 (NaN as 0)."""
    s = 0.0 if not np.isfinite(score) else min(1.0, max(0.0, float(score)))
    return _CONF_LUT[int(round(s * (_CONF_LEVELS - 1)))]


def _confidence_index(scores: np.ndarray) -> np.ndarray:
    """Index into _CONF_LUT of every score (any shape; NaN as 0)."""
    s = np.clip(np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0), 0.0, 1.0)
    return np.rint(s * (_CONF_LEVELS - 1)).astype(np.int64)


def shade(colour: Colour, side: int) -> Colour:
    """The colour of a bone on ``side`` (0 centre, 1 left: lighter, 2 right: darker)."""
    if side == 1:
        return tuple(int(round(c + 0.45 * (255 - c))) for c in colour)  # type: ignore[return-value]
    if side == 2:
        return tuple(int(round(0.55 * c)) for c in colour)  # type: ignore[return-value]
    return tuple(int(c) for c in colour)  # type: ignore[return-value]


def _shades(colour: Colour) -> tuple[Colour, Colour, Colour]:
    return (shade(colour, 0), shade(colour, 1), shade(colour, 2))


def line_thickness(width: int, height: int) -> int:
    """Line thickness in pixels for an image of that size (3 at 720p, 1 below ~360 px)."""
    return max(1, int(round(min(width, height) / 240.0)))


def font_scale_for(width: int, height: int) -> float:
    """Font scale of labels for an image or panel of that size (0.5 at 720p)."""
    return max(0.4, min(width, height) / 1440.0)


def _fixed(x: float) -> int:
    return int(round(x * _ONE))


def _as_size(size: Sequence[int], what: str) -> tuple[int, int]:
    try:
        w, h = (int(size[0]), int(size[1]))
        if len(size) != 2:
            raise ValueError
    except (TypeError, ValueError, IndexError):
        raise PoseMoEError(f"{what}: expected (width, height), found {size!r}") from None
    if w < 8 or h < 8:
        raise PoseMoEError(f"{what}: expected width and height of at least 8 pixels, found {w}x{h}")
    return w, h
