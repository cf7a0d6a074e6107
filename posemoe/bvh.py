"""BVH (Biovision Hierarchy) motion files: write a person's 3D poses, read any BVH file.

Reading: ``read_bvh`` reads any BVH file into a ``BvhMotion`` (any channel order per joint,
position and rotation channels on any joint, End Sites, CRLF or LF line ends, tabs or spaces).
Rotation channels apply in the order listed, each about the joint's own rotated axes, so
``Zrotation Xrotation Yrotation`` means R = Rz @ Rx @ Ry, and a child at offset ``o`` lies at
``parent_position + parent_world_rotation @ R @ o``. A position channel replaces that component
of the joint's OFFSET, as Blender does. ``forward_kinematics`` gives every joint's world
position in every frame, in the file's units.

Writing: ``motion_from_positions`` turns (F, 17, 3) Human3.6M-17 joint positions (metres, Y-up
world: x right, y up, z toward the viewer) into a ``BvhMotion``; ``write_bvh`` writes it to disk
atomically and ``bvh_text`` gives the file contents. ``h36m_positions`` gives the forward
kinematics of the 17 Human3.6M joints back, in ``H36M17`` order. The file has:

* Hierarchy: the 17 Human3.6M joints under their own names, ``pelvis`` the ROOT, plus four
  zero-length joints (``WRITTEN_JOINTS``, file order)::

      pelvis ─┬ right_pelvis ─ right_hip ─ right_knee ─ right_ankle
              ├ left_pelvis ── left_hip ── left_knee ── left_ankle
              └ spine ─ thorax ─┬ neck_nose ─ head
                                ├ left_collar ── left_shoulder ── left_elbow ── left_wrist
                                └ right_collar ─ right_shoulder ─ right_elbow ─ right_wrist

  ``right_pelvis``/``left_pelvis`` sit at the pelvis and ``left_collar``/``right_collar`` at
  the thorax (OFFSET 0 0 0); each carries one hip or shoulder. They are there because each hip
  and shoulder moves relative to the pelvis or chest (a shrug, a hip hike, and the 3D of a
  video moves them too), while a BVH joint turns all its children together: without them one
  rotation at the thorax could not place the neck and both shoulders in every frame. Ankles,
  wrists and head end in an End Site (a foot pointing forward, a hand, the top of the head).
* Bone lengths: the person's median bone lengths over the clip (or the caller's), constant
  through the motion.
* Rest pose: a T-pose facing +Z: legs straight down, spine, neck and head straight up, arms out
  sideways with the person's left arm toward +X. The short pelvis-to-hip and thorax-to-shoulder
  offsets (on the zero-length joints) keep the person's own median directions relative to the
  torso, measured in the torso frame described next.
* Channels: the ROOT has ``Xposition Yposition Zposition`` and three rotations, every other joint
  (the zero-length ones too) three rotations, all in one Euler order (``ZXY`` by default), in
  degrees. The ROOT OFFSET is zero, so the position channels are the pelvis position in world
  coordinates.
* Rotations reproduce the observed bone directions. The pelvis (thorax) turns its spine (neck)
  onto the observed direction, twisted about it so that its x axis points along the observed
  right-to-left hip (shoulder) line made perpendicular to the spine (neck). Each zero-length
  joint then turns its hip or shoulder onto the observed direction by the smallest rotation,
  and so does every other joint with one child (no twist). With constant bone lengths the input
  positions are reproduced exactly (to rounding: 1e-6 of a file unit, degrees to 1e-6).
* Units: centimetres by default (``units="cm"``, also ``"m"``, ``"mm"``); Blender's BVH importer
  needs scale 0.01 to turn a centimetre file into metres. Axes are the input's (Y up), which
  Blender's importer expects by default.
* Frame time: 1 / fps seconds. A frame with a missing (NaN) joint holds the pose of the nearest
  complete frame (the earlier one on a tie).

Numbers are written with 6 decimals, never as ``-0.000000``.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial.transform import Rotation

from posemoe.errors import PoseMoEError
from posemoe.skeleton import H36M17

UNIT_SCALE = {"m": 1.0, "cm": 100.0, "mm": 1000.0}
"""File units accepted by ``motion_from_positions`` and the file units per metre."""

_CHANNELS = {f"{a}{k}".lower(): f"{a}{k}" for a in "XYZ" for k in ("position", "rotation")}
_AXIS = {"X": 0, "Y": 1, "Z": 2}


@dataclass
class BvhMotion:
    """A BVH skeleton and its motion, as stored in the file.

    Joints are numbered in file order (depth first), so every joint comes after its parent.
    ``values`` is the MOTION section as it is: one row per frame, one column per channel, the
    channels of joint 0 first, then joint 1, ... in the order of ``channels``; positions are in
    the file's units and rotations in degrees. ``local_transforms`` turns it into per-joint
    translations and rotation matrices, ``forward_kinematics`` into world positions.
    """

    names: list[str]
    parents: np.ndarray  # (J,) int, -1 for a root
    offsets: np.ndarray  # (J, 3) in file units
    channels: list[tuple[str, ...]]  # per joint, e.g. ("Zrotation", "Xrotation", "Yrotation")
    frame_time: float  # seconds per frame
    values: np.ndarray  # (F, C) channel values, C = sum of len(channels[j])
    end_site_parents: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    end_site_offsets: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))

    def __post_init__(self) -> None:
        self.parents = np.asarray(self.parents, dtype=np.int64).reshape(-1)
        self.offsets = np.asarray(self.offsets, dtype=np.float64)
        self.values = np.asarray(self.values, dtype=np.float64)
        self.end_site_parents = np.asarray(self.end_site_parents, dtype=np.int64).reshape(-1)
        self.end_site_offsets = np.asarray(self.end_site_offsets, dtype=np.float64).reshape(-1, 3)
        self.channels = [tuple(c) for c in self.channels]
        j, c, ends = len(self.names), self.num_channels, self.end_site_parents
        problems = [
            (len(self.parents) != j or self.offsets.shape != (j, 3) or len(self.channels) != j,
             f"expected a parent, an offset (3 numbers) and a channel list for each of the {j} joints"),
            (any(not -1 <= p < i for i, p in enumerate(self.parents)), "each parent must be -1 or an earlier joint"),
            (any(ch not in _CHANNELS.values() for chans in self.channels for ch in chans),
             "unknown channel name (use e.g. 'Xposition', 'Zrotation')"),
            (self.values.ndim != 2 or self.values.shape[1] != c,
             f"expected values of shape (frames, {c}), found {self.values.shape}"),
            (not (np.isfinite(self.frame_time) and self.frame_time > 0),
             f"expected a positive frame time, found {self.frame_time}"),
            (len(ends) != len(self.end_site_offsets) or any(not 0 <= p < j for p in ends),
             "expected one offset per End Site, each on a listed joint"),
        ]
        for bad, what in problems:
            if bad:
                raise PoseMoEError(f"BVH motion: {what}; fix the arrays given to BvhMotion")

    @property
    def num_joints(self) -> int:
        """Number of joints J (End Sites not counted)."""
        return len(self.names)

    @property
    def num_frames(self) -> int:
        """Number of frames F."""
        return int(self.values.shape[0])

    @property
    def num_channels(self) -> int:
        """Number of channels C per frame."""
        return sum(len(c) for c in self.channels)

    def local_transforms(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-frame local translation (F, J, 3) and rotation matrix (F, J, 3, 3) of each joint."""
        f, j = self.num_frames, self.num_joints
        trans = np.broadcast_to(self.offsets, (f, j, 3)).copy()
        rots = np.broadcast_to(np.eye(3), (f, j, 3, 3)).copy()
        col = 0
        for k, chans in enumerate(self.channels):
            for name in chans:
                axis = _AXIS[name[0]]
                if name.endswith("position"):
                    trans[:, k, axis] = self.values[:, col]
                else:
                    rots[:, k] = rots[:, k] @ _axis_rotation(axis, np.radians(self.values[:, col]))
                col += 1
        return trans, rots


def _axis_rotation(axis: int, angle: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations by ``angle`` (radians) about the x, y or z axis."""
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros(angle.shape + (3, 3))
    i, k = (axis + 1) % 3, (axis + 2) % 3
    out[..., axis, axis] = 1.0
    out[..., i, i], out[..., k, k] = c, c
    out[..., i, k], out[..., k, i] = -s, s
    return out


def forward_kinematics(motion: BvhMotion, *, end_sites: bool = False) -> np.ndarray:
    """World positions (F, J, 3) of every joint in the file's units.

    With ``end_sites=True`` the End Sites follow the joints, in file order: (F, J + E, 3).
    """
    trans, rots = motion.local_transforms()
    f, j = motion.num_frames, motion.num_joints
    pos = np.zeros((f, j, 3))
    world = np.zeros((f, j, 3, 3))
    for k, p in enumerate(motion.parents):
        if p < 0:
            pos[:, k], world[:, k] = trans[:, k], rots[:, k]
        else:
            pos[:, k] = pos[:, p] + np.einsum("fab,fb->fa", world[:, p], trans[:, k])
            world[:, k] = world[:, p] @ rots[:, k]
    if not end_sites:
        return pos
    ep = motion.end_site_parents
    ends = pos[:, ep] + np.einsum("feab,eb->fea", world[:, ep], motion.end_site_offsets)
    return np.concatenate([pos, ends], axis=1)


# ----------------------------------------------------------------------------------- reading


class _Tokens:
    """Whitespace-separated words of the HIERARCHY section with their line numbers."""

    def __init__(self, lines: list[str], where: str) -> None:
        self.items = [(w, n + 1) for n, line in enumerate(lines) for w in line.split()]
        self.pos = 0
        self.where = where

    def fail(self, line: int | None, message: str) -> PoseMoEError:
        at = f"line {line}: " if line is not None else ""
        return PoseMoEError(f"{self.where}: {at}{message}; the file is not a valid BVH")

    def peek(self) -> tuple[str, int] | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def next(self, expected: str) -> tuple[str, int]:
        item = self.peek()
        if item is None:
            raise self.fail(None, f"expected {expected}, found the end of the file (is it truncated?)")
        self.pos += 1
        return item

    def keyword(self, word: str) -> int:
        tok, line = self.next(repr(word))
        if tok.upper() != word.upper():
            raise self.fail(line, f"expected {word!r}, found {tok!r}")
        return line

    def channels(self) -> tuple[str, ...]:
        count, line = self.next("a channel count")
        if not count.isdigit():
            raise self.fail(line, f"expected a channel count, found {count!r}")
        names = [self.next("a channel name") for _ in range(int(count))]
        for name, line in names:
            if name.lower() not in _CHANNELS:
                raise self.fail(line, f"expected a channel name such as 'Xrotation', found {name!r}")
        return tuple(_CHANNELS[name.lower()] for name, _ in names)

    def numbers(self, count: int) -> list[float]:
        words = [self.next("a number") for _ in range(count)]
        for tok, line in words:
            if not _is_number(tok):
                raise self.fail(line, f"expected a number, found {tok!r}")
        return [float(tok) for tok, _ in words]


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def _parse_joint(toks: _Tokens, parent: int, m: dict[str, list]) -> None:
    """Parse one ROOT/JOINT block (its keyword already read) and its children into ``m``."""
    _, line = toks.items[toks.pos - 1]
    words = []
    while (item := toks.peek()) is not None and item[1] == line and item[0] != "{":
        words.append(toks.next("a joint name")[0])
    if not words:
        raise toks.fail(line, "expected a joint name, found none")
    index = len(m["names"])
    m["names"].append(" ".join(words))
    m["parents"].append(parent)
    m["offsets"].append(None)
    m["channels"].append(())
    toks.keyword("{")
    while True:
        tok, line = toks.next("'JOINT', 'End Site' or '}'")
        word = tok.upper()
        if word == "OFFSET":
            m["offsets"][index] = toks.numbers(3)
        elif word == "CHANNELS":
            m["channels"][index] = toks.channels()
        elif m["offsets"][index] is None:
            raise toks.fail(line, f"expected 'OFFSET', found {tok!r}")
        elif word == "JOINT":
            _parse_joint(toks, index, m)
        elif word == "END":
            toks.keyword("Site")
            toks.keyword("{")
            toks.keyword("OFFSET")
            m["end_parents"].append(index)
            m["end_offsets"].append(toks.numbers(3))
            toks.keyword("}")
        elif word == "}":
            return
        else:
            raise toks.fail(line, f"expected 'JOINT', 'End Site' or '}}', found {tok!r}")


def _header(toks: _Tokens, body: list[tuple[int, str]], i: int, key: str) -> str:
    """The value on MOTION line i, which must read '<key> <value>' (spacing is free)."""
    if i >= len(body):
        raise toks.fail(None, f"expected '{key}' after MOTION, found the end of the file (is it truncated?)")
    lineno, line = body[i]
    joined, want = "".join(line.split()), "".join(key.split())
    if not joined.lower().startswith(want.lower()):
        raise toks.fail(lineno, f"expected '{key} <number>', found {line.strip()[:40]!r}")
    return joined[len(want):]


def read_bvh(path: str | os.PathLike[str]) -> BvhMotion:
    """Read a BVH file; raises ``PoseMoEError`` naming the line of the first problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise PoseMoEError(f"{path}: cannot read the file ({err.strerror}); check the path") from None
    lines = text.splitlines()
    start = next((n for n, ln in enumerate(lines) if ln.split()[:1] in (["MOTION"], ["motion"])), len(lines))
    toks = _Tokens(lines[:start], str(path))
    toks.keyword("HIERARCHY")
    m: dict[str, list] = {k: [] for k in ("names", "parents", "offsets", "channels", "end_parents", "end_offsets")}
    while (item := toks.peek()) is not None:
        if item[0].upper() != "ROOT":
            raise toks.fail(item[1], f"expected 'ROOT' or 'MOTION', found {item[0]!r}")
        toks.next("'ROOT'")
        _parse_joint(toks, -1, m)
    if not m["names"]:
        raise toks.fail(None, "expected 'ROOT', found no joint")
    if start == len(lines):
        raise toks.fail(None, "expected 'MOTION', found the end of the file (is it truncated?)")

    body = [(n + 1, ln) for n, ln in enumerate(lines[start + 1:], start + 1) if ln.strip()]
    try:
        frames, frame_time = int(_header(toks, body, 0, "Frames:")), float(_header(toks, body, 1, "Frame Time:"))
    except ValueError:
        raise toks.fail(body[0][0], "expected 'Frames: <count>' and 'Frame Time: <seconds>'") from None
    rows = body[2:]
    if len(rows) != frames:
        more = "" if len(rows) > frames else " (is it truncated?)"
        raise toks.fail(None, f"the header says {frames} frames, found {len(rows)}{more}")
    width = sum(len(c) for c in m["channels"])
    split = [ln.split() for _, ln in rows]
    for (lineno, _), words in zip(rows, split):
        if len(words) != width:
            raise toks.fail(lineno, f"expected {width} values (one per channel), found {len(words)}")
    try:
        values = np.array(split, dtype=np.float64).reshape(frames, width)
    except ValueError:
        lineno, word = next((n, w) for (n, _), ws in zip(rows, split) for w in ws if not _is_number(w))
        raise toks.fail(lineno, f"expected only numbers in a frame, found {word!r}") from None
    if not (np.isfinite(frame_time) and frame_time > 0):
        raise toks.fail(None, f"frame time must be positive, found {frame_time}")
    return BvhMotion(m["names"], np.array(m["parents"]), np.array(m["offsets"]), m["channels"], frame_time,
                     values, np.array(m["end_parents"], dtype=np.int64), np.array(m["end_offsets"]).reshape(-1, 3))


# ----------------------------------------------------------------------------------- writing


def bvh_text(motion: BvhMotion) -> str:
    """The BVH file contents of ``motion`` (joints written parent first, depth first)."""
    children = [np.flatnonzero(motion.parents == k) for k in range(motion.num_joints)]
    ends = [motion.end_site_offsets[motion.end_site_parents == k] for k in range(motion.num_joints)]
    starts = np.cumsum([0] + [len(c) for c in motion.channels])
    out = ["HIERARCHY"]
    columns: list[int] = []

    def nums(v: np.ndarray) -> str:
        return " ".join(f"{x:.6f}" for x in _no_negative_zero(v))

    def joint(k: int, depth: int) -> None:
        pad = "\t" * depth
        out.append(f"{pad}{'ROOT' if motion.parents[k] < 0 else 'JOINT'} {motion.names[k]}")
        out.append(pad + "{")
        out.append(f"{pad}\tOFFSET {nums(motion.offsets[k])}")
        out.append(f"{pad}\tCHANNELS {len(motion.channels[k])} {' '.join(motion.channels[k])}".rstrip())
        columns.extend(range(starts[k], starts[k + 1]))
        for c in children[k]:
            joint(int(c), depth + 1)
        for off in ends[k]:
            out.extend([f"{pad}\tEnd Site", f"{pad}\t{{", f"{pad}\t\tOFFSET {nums(off)}", f"{pad}\t}}"])
        out.append(pad + "}")

    for k in np.flatnonzero(motion.parents < 0):
        joint(int(k), 0)
    out += ["MOTION", f"Frames: {motion.num_frames}", f"Frame Time: {motion.frame_time:.8f}"]
    fmt = " ".join(["%.6f"] * motion.num_channels)
    out += [fmt % tuple(row) for row in _no_negative_zero(motion.values[:, columns])]
    return "\n".join(out) + "\n"


def _no_negative_zero(v: np.ndarray) -> np.ndarray:
    """``v`` rounded to 6 decimals, with -0.0 made 0.0 (so "%.6f" never writes "-0.000000")."""
    return np.round(np.asarray(v, dtype=np.float64), 6) + 0.0


def write_bvh(path: str | os.PathLike[str], motion: BvhMotion) -> None:
    """Write ``motion`` to ``path`` atomically (a temporary file in the same folder, renamed)."""
    path = Path(path)
    text = bvh_text(motion)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise PoseMoEError(f"{path}: cannot write the file ({err.strerror}); check the folder") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------ positions to BVH

# the written skeleton, in file order: (joint, parent)
_WRITTEN = (
    ("pelvis", None),
    ("right_pelvis", "pelvis"), ("right_hip", "right_pelvis"), ("right_knee", "right_hip"), ("right_ankle", "right_knee"),
    ("left_pelvis", "pelvis"), ("left_hip", "left_pelvis"), ("left_knee", "left_hip"), ("left_ankle", "left_knee"),
    ("spine", "pelvis"), ("thorax", "spine"), ("neck_nose", "thorax"), ("head", "neck_nose"),
    ("left_collar", "thorax"), ("left_shoulder", "left_collar"), ("left_elbow", "left_shoulder"),
    ("left_wrist", "left_elbow"),
    ("right_collar", "thorax"), ("right_shoulder", "right_collar"), ("right_elbow", "right_shoulder"),
    ("right_wrist", "right_elbow"),
)
_HELPERS = {"right_pelvis": "pelvis", "left_pelvis": "pelvis", "left_collar": "thorax", "right_collar": "thorax"}
"""The zero-length joints and the Human3.6M joint each one sits on."""

WRITTEN_JOINTS: tuple[str, ...] = tuple(n for n, _ in _WRITTEN)
"""Joint names of a file written by ``motion_from_positions``, in file order."""
WRITTEN_PARENTS: tuple[int, ...] = tuple(WRITTEN_JOINTS.index(p) if p else -1 for _, p in _WRITTEN)
"""Parent of each of ``WRITTEN_JOINTS`` (-1 for the root)."""


def h36m_positions(motion: BvhMotion) -> np.ndarray:
    """World positions (F, 17, 3) of the 17 Human3.6M joints, in ``H36M17`` order, in file units.

    The joints are found by name, so this works for files written by ``motion_from_positions``
    (which adds the zero-length joints ``right_pelvis``, ``left_pelvis``, ``left_collar`` and
    ``right_collar``) and for any BVH that names the 17 joints the same way. Divide by 100 for
    metres from a centimetre file (the default ``units``).
    """
    missing = [n for n in H36M17.joint_names if n not in motion.names]
    if missing:
        raise PoseMoEError(f"BVH motion: no joint named {', '.join(map(repr, missing))}; h36m_positions needs "
                           "the 17 Human3.6M joint names, as written by motion_from_positions")
    return forward_kinematics(motion)[:, [motion.names.index(n) for n in H36M17.joint_names]]


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.divide(v, n, out=np.zeros_like(v), where=n > 1e-12)


def _smallest_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(F, 3, 3) smallest rotations taking the unit vector a (3,) onto unit vectors b (F, 3).

    A zero ``b`` (no observed direction) gives the identity."""
    cross = np.cross(a, b)
    sin = np.linalg.norm(cross, axis=-1)
    angle = np.arctan2(sin, b @ a)
    perp = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
    axis = np.where(sin[:, None] > 1e-12, cross / np.maximum(sin, 1e-300)[:, None], perp / np.linalg.norm(perp))
    angle = np.where(np.linalg.norm(b, axis=-1) > 0, angle, 0.0)
    return Rotation.from_rotvec(axis * angle[:, None]).as_matrix().reshape(-1, 3, 3)


def _torso_frame(up: np.ndarray, side: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F, 3, 3) torso frames, columns x, y, z in world coordinates, and (F,) whether defined.

    y along ``up``; x along ``side`` (right to left) made perpendicular to y; z = x cross y
    (forward). Undefined where ``up`` is zero or ``side`` is parallel to it."""
    y = _unit(up)
    x = _unit(side - np.sum(side * y, axis=-1, keepdims=True) * y)
    ok = (np.linalg.norm(x, axis=-1) > 0.5) & (np.linalg.norm(y, axis=-1) > 0.5)
    return np.stack([x, y, np.cross(x, y)], axis=-1), ok


def _girdle_directions(pos: np.ndarray, centre: int, up: int, left: int, right: int) -> dict[int, np.ndarray]:
    """Median directions of up/left/right from ``centre`` in the torso frame (x left, y up, z forward)."""
    frame, ok = _torso_frame(pos[:, up] - pos[:, centre], pos[:, left] - pos[:, right])
    out = {up: np.array([0.0, 1.0, 0.0]), left: np.array([1.0, 0.0, 0.0]), right: np.array([-1.0, 0.0, 0.0])}
    if ok.any():
        for j in (left, right):
            local = np.einsum("fba,fb->fa", frame[ok], _unit(pos[ok, j] - pos[ok, centre]))
            med = np.median(local, axis=0)
            if np.linalg.norm(med) > 1e-6:
                out[j] = med / np.linalg.norm(med)
    return out


def _fill_missing(pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Replace frames with any non-finite value by the nearest complete frame; (filled, valid)."""
    valid = np.isfinite(pos).all(axis=(1, 2))
    if not valid.any():
        raise PoseMoEError(f"positions: all {len(pos)} frames have a missing (NaN) joint, so there is no "
                           "pose to write; check that the person was detected in the video")
    good = np.flatnonzero(valid)
    t = np.arange(len(pos))
    after = np.clip(np.searchsorted(good, t), 0, len(good) - 1)
    before = np.clip(after - 1, 0, len(good) - 1)
    nearest = np.where(np.abs(good[before] - t) <= np.abs(good[after] - t), good[before], good[after])
    return pos[nearest], valid


def motion_from_positions(
    positions: ArrayLike,
    fps: float,
    *,
    bone_lengths: ArrayLike | None = None,
    units: str = "cm",
    euler_order: str = "ZXY",
) -> BvhMotion:
    """A BVH motion of one person from (F, 17, 3) Human3.6M-17 joint positions in metres.

    ``positions`` are in a Y-up world (x right, y up, z toward the viewer); frames with a NaN
    hold the nearest complete frame. ``bone_lengths`` (17,) in metres, entry j for the bone
    from joint j's parent to joint j (entry 0 unused), replaces the median lengths of the clip.
    ``units`` is the file's length unit ("m", "cm" or "mm"); ``euler_order`` is the order of
    the rotation channels (a permutation of "XYZ", applied about the joint's own axes).
    The motion has the joints ``WRITTEN_JOINTS`` (the 17 and four zero-length ones);
    ``h36m_positions`` gives the 17 back. The module docstring describes the skeleton, rest
    pose and channels written.
    """
    pos = np.asarray(positions, dtype=np.float64)
    skel = H36M17
    if pos.ndim != 3 or pos.shape[1:] != (skel.num_joints, 3) or len(pos) == 0:
        raise PoseMoEError(f"positions: expected shape (frames, 17, 3) in H36M-17 order, found {pos.shape}")
    if not (np.isfinite(fps) and fps > 0):
        raise PoseMoEError(f"fps: expected a positive frame rate, found {fps}; pass the video's fps")
    if units not in UNIT_SCALE:
        raise PoseMoEError(f"units: expected one of {sorted(UNIT_SCALE)}, found {units!r}")
    order = euler_order.upper()
    if sorted(order) != ["X", "Y", "Z"]:
        raise PoseMoEError(f"euler_order: expected a permutation of 'XYZ' such as 'ZXY', found {euler_order!r}")
    pos, valid = _fill_missing(pos)
    h36m_parents = np.array(skel.parents)
    bones = pos[:, 1:] - pos[:, h36m_parents[1:]]
    if bone_lengths is None:
        lengths = np.concatenate([[0.0], np.median(np.linalg.norm(bones[valid], axis=-1), axis=0)])
    else:
        lengths = np.asarray(bone_lengths, dtype=np.float64).reshape(-1)
        if lengths.shape != (skel.num_joints,) or not np.isfinite(lengths[1:]).all():
            raise PoseMoEError(f"bone_lengths: expected 17 finite lengths in metres, found shape {lengths.shape}")
    if (lengths[1:] <= 1e-9).any():
        j = 1 + int(np.argmax(lengths[1:] <= 1e-9))
        name = f"{skel.joint_names[h36m_parents[j]]}-{skel.joint_names[j]}"
        raise PoseMoEError(f"positions: bone {name} has zero length; check the input poses")

    # the written skeleton: a zero-length joint sits where its parent (pelvis or thorax) is
    names, parents = list(WRITTEN_JOINTS), np.array(WRITTEN_PARENTS)
    h36m = {n: i for i, n in enumerate(skel.joint_names)}
    at = np.array([h36m[_HELPERS.get(n, n)] for n in names])  # the H36M joint each one sits on
    idx = {n: k for k, n in enumerate(names)}
    n_joints = len(names)
    length = np.array([0.0 if n in _HELPERS else lengths[h36m[n]] for n in names])

    # rest pose: unit direction of each bone in its parent joint's frame (zero for the helpers)
    up, down, left, right = np.eye(3)[1], -np.eye(3)[1], np.eye(3)[0], -np.eye(3)[0]
    rest = np.zeros((n_joints, 3))
    for n, d in {"right_knee": down, "right_ankle": down, "left_knee": down, "left_ankle": down,
                 "thorax": up, "head": up, "left_elbow": left, "left_wrist": left,
                 "right_elbow": right, "right_wrist": right}.items():
        rest[idx[n]] = d
    girdles = {**_girdle_directions(pos[valid], 0, 7, 4, 1), **_girdle_directions(pos[valid], 8, 9, 11, 14)}
    for j, d in girdles.items():
        rest[idx[skel.joint_names[j]]] = d

    # inverse kinematics, parents first
    joint_pos = pos[:, at]
    seen = np.zeros_like(joint_pos)  # observed unit bone directions, world frame
    seen[:, 1:] = _unit(joint_pos[:, 1:] - joint_pos[:, parents[1:]])
    torso = {idx["pelvis"]: (idx["spine"], idx["left_hip"], idx["right_hip"]),
             idx["thorax"]: (idx["neck_nose"], idx["left_shoulder"], idx["right_shoulder"])}
    children = [np.flatnonzero(parents == j) for j in range(n_joints)]
    f = len(pos)
    world = np.zeros((f, n_joints, 3, 3))
    local = np.zeros_like(world)
    for j in range(n_joints):
        above = world[:, parents[j]] if parents[j] >= 0 else np.broadcast_to(np.eye(3), (f, 3, 3))
        if j in torso:
            # the rest frame is the identity: rest spine (neck) along y, rest directions of the
            # hips (shoulders) measured in this same frame by _girdle_directions
            main, lft, rgt = torso[j]
            frame, ok = _torso_frame(seen[:, main], joint_pos[:, lft] - joint_pos[:, rgt])
            target = np.einsum("fba,fb->fa", above, seen[:, main])
            fallback = above @ _smallest_rotation(rest[main], target)  # no side line: no twist
            local[:, j] = np.swapaxes(above, 1, 2) @ np.where(ok[:, None, None], frame, fallback)
        elif len(children[j]) == 1:
            kid = children[j][0]
            target = np.einsum("fba,fb->fa", above, seen[:, kid])  # observed direction, parent frame
            local[:, j] = _smallest_rotation(rest[kid], target)
        else:
            local[:, j] = np.eye(3)
        world[:, j] = above @ local[:, j]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # gimbal lock: the angles still give the matrix
        euler = Rotation.from_matrix(local.reshape(-1, 3, 3)).as_euler(order, degrees=True)
    euler = euler.reshape(f, n_joints * 3)

    scale = UNIT_SCALE[units]
    offsets = rest * length[:, None] * scale
    rot_channels = tuple(f"{a}rotation" for a in order)
    end_parents = np.array([idx[n] for n in ("right_ankle", "left_ankle", "head", "left_wrist", "right_wrist")])
    end_offsets = np.array([
        [0.0, 0.0, 0.25 * lengths[3]], [0.0, 0.0, 0.25 * lengths[6]], [0.0, 0.5 * lengths[10], 0.0],
        [0.4 * lengths[13], 0.0, 0.0], [-0.4 * lengths[16], 0.0, 0.0],
    ]) * scale
    channels = [("Xposition", "Yposition", "Zposition") + rot_channels] + [rot_channels] * (n_joints - 1)
    values = np.concatenate([pos[:, 0] * scale, euler], axis=1)
    return BvhMotion(names, parents, offsets, channels, 1.0 / float(fps), values, end_parents, end_offsets)
