"""Tests for posemoe.bvh: writing H36M-17 poses as BVH, reading BVH files, forward kinematics.

Files written here are checked with an independent reader (bvhio), and the reader is checked
on real motion-capture files when the Bandai Namco set is present in shared/. Test figures have
constant bone lengths; with ``girdles`` their hips, shoulders and neck also move relative to the
pelvis and chest (as in lifted 3D), which the zero-length pelvis/collar joints must follow.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from posemoe.bvh import (
    WRITTEN_JOINTS,
    BvhMotion,
    bvh_text,
    forward_kinematics,
    h36m_positions,
    motion_from_positions,
    read_bvh,
    write_bvh,
)
from posemoe.errors import PoseMoEError
from posemoe.skeleton import H36M17

PARENTS = np.array(H36M17.parents)
# the zero-length joints and the joint each one sits on
HELPER_PARENT = {"right_pelvis": "pelvis", "left_pelvis": "pelvis", "left_collar": "thorax", "right_collar": "thorax"}
HELPERS = tuple(HELPER_PARENT)
GIRDLE = (1, 4, 9, 11, 14)  # bones from the pelvis (hips) and from the thorax (neck, shoulders)
BANDAI = Path("/work/shared/data/bvh-bandai-namco-1/data")

# a person's bones (metres) in their parent's frame, Y up, facing +Z, arms hanging down; the
# hip and shoulder girdles are deliberately not straight sideways
_BONES = {
    1: (-0.12, -0.03, 0.02), 2: (0.0, -0.44, 0.0), 3: (0.0, -0.43, 0.0),
    4: (0.12, -0.03, 0.02), 5: (0.0, -0.44, 0.0), 6: (0.0, -0.43, 0.0),
    7: (0.0, 0.22, -0.01), 8: (0.0, 0.25, 0.02), 9: (0.0, 0.10, 0.04), 10: (0.0, 0.12, 0.0),
    11: (0.15, 0.02, -0.02), 12: (0.0, -0.28, 0.0), 13: (0.0, -0.25, 0.0),
    14: (-0.15, 0.02, -0.02), 15: (0.0, -0.28, 0.0), 16: (0.0, -0.25, 0.0),
}


def walking_figure(frames: int, seed: int, girdles: float = 0.0) -> np.ndarray:
    """(frames, 17, 3) positions in metres: constant bone lengths, smooth random joint angles.

    ``girdles`` (radians): each hip, the neck and each shoulder also turns about the pelvis or
    thorax on its own, up to this angle about each axis (shrugs, hip hikes), so the directions
    of the pelvis's (thorax's) bones relative to each other change from frame to frame.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / 30.0
    amp, freq = rng.uniform(0.1, 0.5, (17, 3, 2)), rng.uniform(0.3, 2.0, (17, 3, 2))
    phase = rng.uniform(0, 2 * np.pi, (17, 3, 2))
    angles = np.sum(amp * np.sin(freq * 2 * np.pi * t[:, None, None, None] + phase), axis=-1)  # (F, 17, 3)
    angles[:, 0, 1] += 0.8 * t  # turning while walking
    rots = Rotation.from_rotvec(angles.reshape(-1, 3)).as_matrix().reshape(frames, 17, 3, 3)
    shrug = girdles * np.sin(rng.uniform(1.0, 3.0, (17, 3)) * 2 * np.pi * t[:, None, None]
                             + rng.uniform(0, 2 * np.pi, (17, 3)))
    shrugs = Rotation.from_rotvec(shrug.reshape(-1, 3)).as_matrix().reshape(frames, 17, 3, 3)
    pos = np.zeros((frames, 17, 3))
    world = np.zeros((frames, 17, 3, 3))
    pos[:, 0] = np.stack([0.5 * np.sin(0.4 * t), 0.95 + 0.02 * np.sin(6 * t), 1.2 * t], axis=1)
    world[:, 0] = rots[:, 0]
    for j in range(1, 17):
        p = PARENTS[j]
        frame = world[:, p] @ shrugs[:, j] if j in GIRDLE else world[:, p]
        pos[:, j] = pos[:, p] + frame @ np.array(_BONES[j])
        world[:, j] = frame @ rots[:, j]
    return pos


def offset_lengths(motion: BvhMotion) -> np.ndarray:
    """(16,) lengths of the OFFSETs of the H36M-17 joints 1..16 (the bone to each joint)."""
    return np.array([np.linalg.norm(motion.offsets[motion.names.index(n)]) for n in H36M17.joint_names[1:]])


def bone_vectors(pos: np.ndarray) -> np.ndarray:
    return pos[:, 1:] - pos[:, PARENTS[1:]]


def angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cos = np.sum(a * b, -1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def bvhio_world_positions(path: Path, frames: list[int]) -> tuple[list[str], np.ndarray]:
    """Joint names and (len(frames), J, 3) world positions computed by bvhio (skip without it)."""
    bvhio = pytest.importorskip("bvhio")
    root = bvhio.readAsHierarchy(str(path))
    joints = [j for j, _, _ in root.layout()]
    out = []
    for f in frames:
        root.loadPose(f)
        out.append([list(j.PositionWorld) for j in joints])
    return [j.Name for j in joints], np.array(out)


@pytest.mark.parametrize("girdles", [0.0, 0.3])
def test_constant_bone_lengths_are_reproduced(girdles: float) -> None:
    pos = walking_figure(120, seed=1, girdles=girdles)
    motion = motion_from_positions(pos, fps=30)
    fk = h36m_positions(motion) / 100.0
    assert np.linalg.norm(fk - pos, axis=-1).max() < 1e-5  # 0.01 mm, at every joint
    true_lengths = np.linalg.norm(np.array([_BONES[j] for j in range(1, 17)]), axis=-1)
    np.testing.assert_allclose(offset_lengths(motion) / 100.0, true_lengths, atol=1e-9)
    assert motion.frame_time == pytest.approx(1 / 30)
    assert motion.num_frames == 120 and motion.values.shape == (120, 6 + 20 * 3)


def test_hierarchy_has_zero_length_pelvis_and_collar_joints() -> None:
    motion = motion_from_positions(walking_figure(10, seed=1, girdles=0.3), fps=30)
    assert motion.names == list(WRITTEN_JOINTS) and len(WRITTEN_JOINTS) == 21
    parent = {n: motion.names[p] if p >= 0 else None for n, p in zip(motion.names, motion.parents)}
    assert {n: parent[n] for n in HELPERS} == HELPER_PARENT
    carried = {"right_hip": "right_pelvis", "left_hip": "left_pelvis",
               "left_shoulder": "left_collar", "right_shoulder": "right_collar"}
    assert {n: parent[n] for n in carried} == carried
    assert sorted(n for n, p in parent.items() if p == "thorax") == ["left_collar", "neck_nose", "right_collar"]
    for name in HELPERS:
        k = motion.names.index(name)
        assert np.all(motion.offsets[k] == 0.0)
        assert motion.channels[k] == ("Zrotation", "Xrotation", "Yrotation")
    # every other H36M joint keeps its H36M parent
    for j, p in enumerate(PARENTS[1:], 1):
        name = H36M17.joint_names[j]
        if name not in carried:
            assert parent[name] == H36M17.joint_names[p]
    # each zero-length joint sits on its parent in every frame
    fk = forward_kinematics(motion)
    for name in HELPERS:
        k = motion.names.index(name)
        np.testing.assert_allclose(fk[:, k], fk[:, motion.parents[k]], atol=1e-9)


def test_deforming_girdles_are_followed_by_the_zero_length_joints() -> None:
    """Each shoulder, the neck and each hip moves relative to the chest/pelvis on its own: with
    only one rotation at the thorax and pelvis (no collar/pelvis joints) this is off by centimetres."""
    pos = walking_figure(200, seed=8, girdles=0.3)
    rigid = angles_deg(bone_vectors(pos)[:, [10, 13]], bone_vectors(pos)[:, [8, 8]])  # shoulder vs neck
    assert np.ptp(rigid, axis=0).min() > 10.0  # the girdles do deform by many degrees
    motion = motion_from_positions(pos, fps=30, units="m")
    err = np.linalg.norm(h36m_positions(motion) - pos, axis=-1)
    assert err.max() < 1e-8
    assert angles_deg(bone_vectors(h36m_positions(motion)), bone_vectors(pos)).max() < 1e-5


def test_noisy_lengths_give_median_lengths_and_keep_directions() -> None:
    rng = np.random.default_rng(2)
    clean = walking_figure(100, seed=2)
    # stretch every bone by its own random factor per frame, keeping every direction
    bones = bone_vectors(clean) * rng.uniform(0.85, 1.15, (100, 16, 1))
    noisy = clean.copy()
    for j in range(1, 17):
        noisy[:, j] = noisy[:, PARENTS[j]] + bones[:, j - 1]
    motion = motion_from_positions(noisy, fps=25, units="m")
    np.testing.assert_allclose(offset_lengths(motion), np.median(np.linalg.norm(bones, axis=-1), axis=0), atol=1e-12)
    fk = h36m_positions(motion)
    np.testing.assert_allclose(fk[:, 0], noisy[:, 0], atol=1e-9)
    assert angles_deg(bone_vectors(fk), bones).max() < 1e-4
    lengths = np.linalg.norm(bone_vectors(fk), axis=-1)
    assert np.ptp(lengths, axis=0).max() < 1e-9  # constant by construction


def test_joint_noise_keeps_every_bone_direction() -> None:
    rng = np.random.default_rng(3)
    clean = walking_figure(100, seed=3)
    noisy = clean + rng.normal(0, 0.01, (100, 17, 3))
    fk = h36m_positions(motion_from_positions(noisy, fps=30)) / 100.0
    np.testing.assert_allclose(fk[:, 0], noisy[:, 0], atol=1e-9)
    # every bone, the ones from the pelvis and the thorax too, points where the noisy 3D points
    assert angles_deg(bone_vectors(fk), bone_vectors(noisy)).max() < 1e-4


def test_t_pose_facing_viewer_has_zero_rotations() -> None:
    pos = np.zeros((1, 17, 3))
    pos[0, 0] = (0.0, 1.0, 0.0)
    sideways = {1: (-0.1, 0.0, 0.0), 4: (0.1, 0.0, 0.0), 11: (0.15, 0.0, 0.0), 14: (-0.15, 0.0, 0.0)}
    for j in range(1, 17):
        d = sideways.get(j, (0.0, -0.4, 0.0) if j in (2, 3, 5, 6) else (0.0, 0.2, 0.0))
        if j in (12, 13, 15, 16):
            d = (0.25 if j < 14 else -0.25, 0.0, 0.0)
        pos[0, j] = pos[0, PARENTS[j]] + d
    motion = motion_from_positions(pos, fps=30)
    assert np.abs(motion.values[0, 3:]).max() < 1e-6  # every rotation is zero
    np.testing.assert_allclose(motion.values[0, :3], [0.0, 100.0, 0.0])
    offset = dict(zip(motion.names, motion.offsets))
    np.testing.assert_allclose(offset["left_elbow"], [25.0, 0.0, 0.0], atol=1e-9)  # left arm toward +x
    np.testing.assert_allclose(offset["right_knee"], [0.0, -40.0, 0.0], atol=1e-9)  # legs straight down
    np.testing.assert_allclose(offset["left_shoulder"], [15.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(offset["right_hip"], [-10.0, 0.0, 0.0], atol=1e-9)
    text = bvh_text(motion)
    assert "-0.000000" not in text and "OFFSET 0.000000 0.000000 0.000000" in text
    assert motion.channels[0] == ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")


@pytest.mark.parametrize("order", ["ZXY", "XYZ", "YZX"])
def test_written_file_read_by_bvhio_gives_the_positions(tmp_path: Path, order: str) -> None:
    pos = walking_figure(24, seed=4, girdles=0.3)
    path = tmp_path / "walk.bvh"
    write_bvh(path, motion_from_positions(pos, fps=24, euler_order=order))
    assert [p.name for p in tmp_path.iterdir()] == ["walk.bvh"]  # no temporary file left
    names, world = bvhio_world_positions(path, list(range(24)))
    assert names == list(WRITTEN_JOINTS)
    picked = world[:, [names.index(n) for n in H36M17.joint_names]]
    assert np.abs(picked / 100.0 - pos).max() < 1e-3  # 1 mm
    np.testing.assert_allclose(h36m_positions(read_bvh(path)), picked, atol=1e-3)  # our reader agrees
    container = pytest.importorskip("bvhio").readAsBvh(str(path))
    assert container.FrameCount == 24 and container.FrameTime == pytest.approx(1 / 24)
    # the zero-length joints survive bvhio's reading: zero OFFSET, three rotations, one child each
    joints = {j.Name: j for j, _, _ in container.Root.layout()}
    for name, child in zip(HELPERS, ["right_hip", "left_hip", "left_shoulder", "right_shoulder"]):
        assert list(joints[name].Offset) == [0.0, 0.0, 0.0]
        assert len(joints[name].Channels) == 3 and [c.Name for c in joints[name].Children] == [child]
        np.testing.assert_allclose(world[:, names.index(name)], world[:, names.index(HELPER_PARENT[name])],
                                   atol=1e-4)


def test_missing_frames_hold_the_nearest_complete_frame() -> None:
    pos = walking_figure(6, seed=5)
    gappy = pos.copy()
    gappy[0] = np.nan
    gappy[2, 5, 1] = np.nan
    gappy[4:] = np.nan
    fk = h36m_positions(motion_from_positions(gappy, fps=30)) / 100.0
    np.testing.assert_allclose(fk, pos[[1, 1, 1, 3, 3, 3]], atol=1e-6)


def test_reader_handles_crlf_tabs_and_any_channel_order(tmp_path: Path) -> None:
    text = (
        "HIERARCHY\nROOT Hips\n{\n\tOFFSET 1 2 3\n"
        "\tCHANNELS 6 Zposition Xposition Yposition Xrotation Zrotation Yrotation\n"
        "\tJOINT Chest\n\t{\n\t\tOFFSET 0 10 1\n\t\tCHANNELS 3 Yrotation Xrotation Zrotation\n"
        "\t\tJOINT Arm\n\t\t{\n\t\t\tOFFSET 8 0 0\n"
        "\t\t\tCHANNELS 6 Xposition Yposition Zposition Xrotation Yrotation Zrotation\n"
        "\t\t\tEnd Site\n\t\t\t{\n\t\t\t\tOFFSET 5 0 0\n\t\t\t}\n\t\t}\n\t}\n}\n"
        "MOTION\nFrames:\t2\nFrame Time:\t0.04\n"
        "1 2 3 10 20 30 5 -40 60 8 1 -2 15 25 35\n"
        "-1 0 4 -80 5 170 30 20 10 7 0 1 -60 45 90\n"
    ).replace("\n", "\r\n")
    path = tmp_path / "odd.bvh"
    path.write_bytes(text.encode())
    motion = read_bvh(path)
    assert motion.names == ["Hips", "Chest", "Arm"] and motion.parents.tolist() == [-1, 0, 1]
    assert motion.channels[1] == ("Yrotation", "Xrotation", "Zrotation")
    assert motion.num_frames == 2 and motion.frame_time == pytest.approx(0.04)
    np.testing.assert_allclose(forward_kinematics(motion)[:, 0], [[2, 3, 1], [0, 4, -1]])
    _, world = bvhio_world_positions(path, [0, 1])
    np.testing.assert_allclose(forward_kinematics(motion), world, atol=1e-4)
    assert forward_kinematics(motion, end_sites=True).shape == (2, 4, 3)
    inline = tmp_path / "inline.bvh"  # an opening brace on the joint's line is accepted too
    inline.write_bytes(text.replace("JOINT Chest\r\n\t{", "JOINT Chest {").encode())
    np.testing.assert_array_equal(forward_kinematics(read_bvh(inline)), forward_kinematics(motion))
    again = tmp_path / "again.bvh"
    write_bvh(again, motion)
    np.testing.assert_allclose(forward_kinematics(read_bvh(again), end_sites=True),
                               forward_kinematics(motion, end_sites=True), atol=1e-5)


def _bandai_files() -> list[Path]:
    return sorted(BANDAI.glob("*.bvh"), key=lambda p: p.stat().st_size)


@pytest.mark.skipif(not BANDAI.is_dir(), reason="Bandai Namco BVH set not in shared/")
def test_real_motion_capture_files_match_bvhio() -> None:
    files = _bandai_files()
    for path in files[:2] + files[len(files) // 2: len(files) // 2 + 2]:
        header = path.read_text()
        frames = int(re.search(r"Frames:\s*(\d+)", header).group(1))
        frame_time = float(re.search(r"Frame Time:\s*([0-9.eE+-]+)", header).group(1))
        motion = read_bvh(path)
        assert motion.num_frames == frames and motion.frame_time == pytest.approx(frame_time)
        picked = list(range(0, frames, max(1, frames // 8)))
        names, world = bvhio_world_positions(path, picked)
        assert names == motion.names
        assert np.abs(forward_kinematics(motion)[picked] - world).max() < 1e-3


def _good_text() -> str:
    return bvh_text(motion_from_positions(walking_figure(3, seed=6), fps=30))


def _cut_in_motion(text: str) -> str:
    return text[: text.rindex("\n", 0, len(text) - 1) + 20]


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (_cut_in_motion, "expected 66 values"),
        (lambda t: t[: t.index("MOTION") - 40], "end of the file"),
        (lambda t: t[: t.index("MOTION")], "expected 'MOTION'"),
        (lambda t: t.replace("OFFSET", "OFSET", 3), "expected 'OFFSET', found 'OFSET'"),
        (lambda t: t.replace("Frames: 3", "Frames: 4"), "header says 4 frames, found 3"),
        (lambda t: t.replace("Frames: 3", "Frames: 2"), "header says 2 frames, found 3"),
        (lambda t: t.rsplit(" ", 1)[0] + "\n", "expected 66 values (one per channel), found 65"),
        (lambda t: t.rsplit(" ", 1)[0] + " abc\n", "expected only numbers"),
        (lambda t: t.replace("CHANNELS 3 Zrotation", "CHANNELS 3 Zrotaton", 1), "'Zrotaton'"),
    ],
)
def test_broken_files_raise_one_line(tmp_path: Path, damage, expected: str) -> None:
    path = tmp_path / "broken.bvh"
    path.write_text(damage(_good_text()))
    with pytest.raises(PoseMoEError) as info:
        read_bvh(path)
    message = str(info.value)
    assert expected in message and str(path) in message and "\n" not in message


def test_missing_file_and_bad_positions_raise_one_line(tmp_path: Path) -> None:
    cases = [
        lambda: read_bvh(tmp_path / "nope.bvh"),
        lambda: motion_from_positions(np.full((5, 17, 3), np.nan), fps=30),
        lambda: motion_from_positions(np.zeros((5, 16, 3)), fps=30),
        lambda: motion_from_positions(walking_figure(2, seed=7), fps=0),
        lambda: motion_from_positions(walking_figure(2, seed=7), fps=30, units="inch"),
        lambda: motion_from_positions(walking_figure(2, seed=7), fps=30, euler_order="ZZY"),
        lambda: BvhMotion(["a"], [-1], [[0, 0, 0]], [("Xrotation",)], 0.1, np.zeros((2, 2))),
        lambda: h36m_positions(BvhMotion(["pelvis"], [-1], [[0, 0, 0]], [()], 0.1, np.zeros((2, 0)))),
    ]
    for case in cases:
        with pytest.raises(PoseMoEError) as info:
            case()
        assert "\n" not in str(info.value)
