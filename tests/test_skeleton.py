"""Tests for posemoe.skeleton: layouts, flipping and joint-layout conversions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posemoe.errors import PoseMoEError
from posemoe.skeleton import (
    BLAZEPOSE33,
    COCO17,
    H36M17,
    H36M32_TO_17,
    blazepose33_to_h36m17,
    coco17_to_h36m17,
    flip_pose,
    get_skeleton,
    h36m32_to_h36m17,
)


@pytest.mark.parametrize("skel", [H36M17, COCO17])
def test_skeleton_is_a_tree_with_one_root(skel) -> None:
    assert skel.num_joints == 17 == len(skel.joint_names) == len(skel.parents)
    assert list(skel.parents).count(-1) == 1
    assert len(skel.bones()) == 16
    # walking up from any joint reaches the root without cycles
    for j in range(skel.num_joints):
        seen = set()
        while skel.parents[j] != -1:
            assert j not in seen
            seen.add(j)
            j = skel.parents[j]


@pytest.mark.parametrize("skel", [H36M17, COCO17])
def test_flip_permutation_is_involution_and_swaps_sides(skel) -> None:
    perm = skel.flip_permutation
    np.testing.assert_array_equal(perm[perm], np.arange(skel.num_joints))
    for left, right in zip(skel.joints_left, skel.joints_right):
        assert perm[left] == right and perm[right] == left
        assert skel.joint_names[left].replace("left", "right") == skel.joint_names[right]
    centre = set(range(skel.num_joints)) - set(skel.joints_left) - set(skel.joints_right)
    for j in centre:
        assert perm[j] == j


def test_h36m_flip_permutation_pairs() -> None:
    perm = H36M17.flip_permutation
    assert perm[1] == 4 and perm[4] == 1  # hips
    assert perm[3] == 6  # ankles
    assert perm[11] == 14 and perm[16] == 13  # shoulders, wrists
    assert perm[0] == 0 and perm[10] == 10  # pelvis, head


def test_get_skeleton_known_and_unknown() -> None:
    assert get_skeleton("h36m17") is H36M17
    assert get_skeleton("coco17") is COCO17
    with pytest.raises(PoseMoEError) as e:
        get_skeleton("smpl24")
    msg = str(e.value)
    assert "smpl24" in msg and "h36m17" in msg and "coco17" in msg and "\n" not in msg


def test_flip_pose_numpy_twice_is_identity_and_keeps_other_channels() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 17, 3)).astype(np.float32)
    before = x.copy()
    f = flip_pose(x)
    assert f is not x and f.shape == x.shape
    perm = H36M17.flip_permutation
    np.testing.assert_array_equal(f[..., 0], -x[:, perm, 0])
    np.testing.assert_array_equal(f[..., 1:], x[:, perm, 1:])
    np.testing.assert_array_equal(flip_pose(f), x)
    np.testing.assert_array_equal(x, before)  # the input is untouched


def test_flip_pose_torch_matches_numpy_and_copies() -> None:
    x = torch.randn(2, 4, 17, 2)
    before = x.clone()
    f = flip_pose(x)
    assert isinstance(f, torch.Tensor)
    torch.testing.assert_close(x, before)  # not modified in place
    np.testing.assert_allclose(f.numpy(), flip_pose(x.numpy()))
    torch.testing.assert_close(flip_pose(f), x)


def test_flip_pose_coco_and_bad_shapes() -> None:
    x = np.zeros((17, 3))
    x[COCO17.joint_names.index("left_wrist")] = [1.0, 2.0, 0.5]
    f = flip_pose(x, COCO17)
    np.testing.assert_array_equal(f[COCO17.joint_names.index("right_wrist")], [-1.0, 2.0, 0.5])
    with pytest.raises(PoseMoEError, match=r"\(\.\.\., 17, C>=2\).*\(4, 16, 3\)"):
        flip_pose(np.zeros((4, 16, 3)))
    with pytest.raises(PoseMoEError):
        flip_pose(np.zeros((4, 17, 1)))


def test_h36m32_to_h36m17_picks_indices() -> None:
    x = np.arange(32, dtype=np.float64)[None, :, None] * np.ones((3, 32, 2))
    y = h36m32_to_h36m17(x)
    assert y.shape == (3, 17, 2)
    np.testing.assert_array_equal(y[0, :, 0], H36M32_TO_17)
    assert H36M32_TO_17[4] == 6 and H36M32_TO_17[-1] == 27
    t = h36m32_to_h36m17(torch.from_numpy(x))
    assert isinstance(t, torch.Tensor)
    np.testing.assert_array_equal(t.numpy(), y)
    with pytest.raises(PoseMoEError, match=r"32.*\(3, 17, 2\)"):
        h36m32_to_h36m17(np.zeros((3, 17, 2)))


def _coco_pose() -> np.ndarray:
    """A hand-built COCO pose (17, 3) with distinct coordinates and confidences."""
    pts = {
        "nose": (0.0, -10.0), "left_eye": (1.0, -11.0), "right_eye": (-1.0, -12.0),
        "left_ear": (2.0, -10.0), "right_ear": (-2.0, -10.0),
        "left_shoulder": (4.0, -6.0), "right_shoulder": (-4.0, -8.0),
        "left_elbow": (5.0, -3.0), "right_elbow": (-5.0, -3.0),
        "left_wrist": (6.0, 0.0), "right_wrist": (-6.0, 0.0),
        "left_hip": (2.0, 2.0), "right_hip": (-2.0, 4.0),
        "left_knee": (2.0, 7.0), "right_knee": (-2.0, 7.0),
        "left_ankle": (2.0, 12.0), "right_ankle": (-2.0, 12.0),
    }
    x = np.zeros((17, 3))
    for j, name in enumerate(COCO17.joint_names):
        x[j, :2] = pts[name]
        x[j, 2] = 0.9 - 0.01 * j
    return x


def test_coco17_to_h36m17_derived_joints() -> None:
    coco = _coco_pose()
    h = coco17_to_h36m17(coco)
    assert h.shape == (17, 3)
    c = COCO17.joint_names.index
    np.testing.assert_allclose(h[0, :2], [0.0, 3.0])  # pelvis = mid hips
    np.testing.assert_allclose(h[8, :2], [0.0, -7.0])  # thorax = mid shoulders
    np.testing.assert_allclose(h[7, :2], [0.0, -2.0])  # spine = mid(pelvis, thorax)
    np.testing.assert_allclose(h[10, :2], [0.0, -11.5])  # head = mid eyes
    np.testing.assert_allclose(h[9], coco[c("nose")])  # neck/nose = nose
    np.testing.assert_allclose(h[1], coco[c("right_hip")])
    np.testing.assert_allclose(h[6], coco[c("left_ankle")])
    np.testing.assert_allclose(h[13], coco[c("left_wrist")])
    np.testing.assert_allclose(h[14], coco[c("right_shoulder")])
    # derived confidences: min of the sources
    assert h[0, 2] == pytest.approx(min(coco[c("left_hip"), 2], coco[c("right_hip"), 2]))
    assert h[10, 2] == pytest.approx(min(coco[c("left_eye"), 2], coco[c("right_eye"), 2]))
    assert h[7, 2] == pytest.approx(coco[[c("left_hip"), c("right_hip"), c("left_shoulder"), c("right_shoulder")], 2].min())


def test_coco17_to_h36m17_batched_two_channels_and_bad_shape() -> None:
    coco = np.stack([_coco_pose()[:, :2], _coco_pose()[:, :2] + 1.0])  # (2, 17, 2)
    h = coco17_to_h36m17(coco)
    assert h.shape == (2, 17, 2)
    np.testing.assert_allclose(h[1, 0], [1.0, 4.0])
    with pytest.raises(PoseMoEError, match=r"\(5, 17, 4\)"):
        coco17_to_h36m17(np.zeros((5, 17, 4)))


# ----------------------------------------------------------------------------- BlazePose 33


def test_blazepose33_layout_is_mediapipe_order_and_a_tree() -> None:
    b = BLAZEPOSE33
    assert b.num_joints == 33 == len(b.parents)
    assert get_skeleton("blazepose33") is b
    # spot checks against MediaPipe's PoseLandmark numbering
    for idx, name in ((0, "nose"), (2, "left_eye"), (5, "right_eye"), (7, "left_ear"), (11, "left_shoulder"),
                      (15, "left_wrist"), (16, "right_wrist"), (23, "left_hip"), (24, "right_hip"),
                      (27, "left_ankle"), (32, "right_foot_index")):
        assert b.joint_names[idx] == name
    assert list(b.parents).count(-1) == 1 and len(b.bones()) == 32
    for j in range(b.num_joints):
        seen = set()
        while b.parents[j] != -1:
            assert j not in seen
            seen.add(j)
            j = b.parents[j]
    perm = b.flip_permutation
    np.testing.assert_array_equal(perm[perm], np.arange(33))
    for left, right in zip(b.joints_left, b.joints_right):
        assert b.joint_names[left].replace("left", "right") == b.joint_names[right]
    assert set(range(33)) - set(b.joints_left) - set(b.joints_right) == {0}  # only the nose is central


def _blazepose_from_coco(coco: np.ndarray) -> np.ndarray:
    """A (33, C) BlazePose pose with COCO's points at the joints of the same name.

    The landmarks COCO lacks (eye corners, mouth, fingers, feet) get far-off junk positions and
    confidence 0.01, which the conversion must ignore.
    """
    out = np.full((33, coco.shape[-1]), 999.0)
    if coco.shape[-1] == 3:
        out[:, 2] = 0.01
    for j, name in enumerate(COCO17.joint_names):
        out[BLAZEPOSE33.joint_names.index(name)] = coco[j]
    return out


def test_blazepose33_to_h36m17_matches_coco_for_the_same_points() -> None:
    coco = _coco_pose()
    bp = _blazepose_from_coco(coco)
    np.testing.assert_allclose(blazepose33_to_h36m17(bp), coco17_to_h36m17(coco))
    # batched, two channels
    coco2 = np.stack([coco[:, :2], coco[:, :2] * 2.0 + 1.0])
    bp2 = np.stack([_blazepose_from_coco(c) for c in coco2])
    out = blazepose33_to_h36m17(bp2)
    assert out.shape == (2, 17, 2)
    np.testing.assert_allclose(out, coco17_to_h36m17(coco2))


def test_blazepose33_to_h36m17_derived_joints_and_confidence() -> None:
    bp = _blazepose_from_coco(_coco_pose())
    b = BLAZEPOSE33.joint_names.index
    h = blazepose33_to_h36m17(bp)
    assert h.shape == (17, 3) and h.dtype == np.float64
    np.testing.assert_allclose(h[0, :2], [0.0, 3.0])  # pelvis = mid hips
    np.testing.assert_allclose(h[8, :2], [0.0, -7.0])  # thorax = mid shoulders
    np.testing.assert_allclose(h[7, :2], [0.0, -2.0])  # spine = mid(pelvis, thorax)
    np.testing.assert_allclose(h[10, :2], [0.0, -11.5])  # head = mid eye centres
    np.testing.assert_allclose(h[9], bp[b("nose")])
    np.testing.assert_allclose(h[3], bp[b("right_ankle")])
    np.testing.assert_allclose(h[12], bp[b("left_elbow")])
    assert h[0, 2] == pytest.approx(min(bp[b("left_hip"), 2], bp[b("right_hip"), 2]))
    assert h[8, 2] == pytest.approx(min(bp[b("left_shoulder"), 2], bp[b("right_shoulder"), 2]))
    assert h[10, 2] == pytest.approx(min(bp[b("left_eye"), 2], bp[b("right_eye"), 2]))
    trunk = [b("left_hip"), b("right_hip"), b("left_shoulder"), b("right_shoulder")]
    assert h[7, 2] == pytest.approx(bp[trunk, 2].min())
    # float32 in, float32 out
    assert blazepose33_to_h36m17(bp.astype(np.float32)).dtype == np.float32


def test_blazepose33_to_h36m17_left_is_left() -> None:
    # a pose whose left side is at x > 0 and right side at x < 0
    bp = np.zeros((33, 2))
    for j in BLAZEPOSE33.joints_left:
        bp[j] = [1.0 + j, 0.5 * j]
    for j in BLAZEPOSE33.joints_right:
        bp[j] = [-1.0 - j, 0.5 * j]
    h = blazepose33_to_h36m17(bp)
    assert (h[list(H36M17.joints_left), 0] > 0).all()
    assert (h[list(H36M17.joints_right), 0] < 0).all()
    b = BLAZEPOSE33.joint_names.index
    np.testing.assert_array_equal(h[13], bp[b("left_wrist")])
    np.testing.assert_array_equal(h[16], bp[b("right_wrist")])
    np.testing.assert_array_equal(h[4], bp[b("left_hip")])


@pytest.mark.parametrize("shape", [(33,), (17, 2), (33, 4), (2, 33, 1), (5, 32, 3)])
def test_blazepose33_to_h36m17_bad_shapes(shape) -> None:
    with pytest.raises(PoseMoEError) as e:
        blazepose33_to_h36m17(np.zeros(shape))
    msg = str(e.value)
    assert "blazepose33_to_h36m17" in msg and "(..., 33, 2 or 3)" in msg and str(shape) in msg and "\n" not in msg
