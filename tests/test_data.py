"""Tests for posemoe.data: npz loaders, per-camera sequences and the clip dataset.

All data is synthetic, built in tmp_path: 2 subjects x 2 actions x 20 frames, one subject stored
with the 32-joint layout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from posemoe.camera import (
    H36M_CAMERA_IDS,
    Camera,
    denormalize_screen,
    normalize_screen,
    project_to_pixels,
    world_to_camera,
)
from posemoe.data import (
    TEST_SUBJECTS,
    TRAIN_SUBJECTS,
    ClipDataset,
    Sequence,
    action_base_name,
    build_sequences,
    load_positions_2d,
    load_positions_3d,
    pad_edge,
    sliding_windows,
)
from posemoe.errors import PoseMoEError
from posemoe.skeleton import H36M32_TO_17, flip_pose

FRAMES = 20
ACTIONS = ("Directions 1", "WalkDog")


# ----------------------------------------------------------------------------- fixtures


def _look_at(center: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rotation whose rows are camera axes (x right, y down, z forward) in world coordinates."""
    z = target - center
    z = z / np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z])


def make_cameras(subjects=("S1", "S9")) -> dict[str, dict[str, Camera]]:
    out: dict[str, dict[str, Camera]] = {}
    for si, subject in enumerate(subjects):
        out[subject] = {}
        for ci, cid in enumerate(H36M_CAMERA_IDS):
            ang = np.pi / 4 + ci * np.pi / 2 + 0.1 * si
            center = np.array([5.0 * np.cos(ang), 5.0 * np.sin(ang), 1.6])
            out[subject][cid] = Camera(
                id=cid,
                R=_look_at(center, np.array([0.0, 0.0, 1.0])),
                center=center,
                f=np.array([1140.0 + ci, 1141.0]),
                c=np.array([505.0, 500.0 + ci]),
                k=np.array([-0.2, 0.24, -0.003]),
                p=np.array([-0.001, 0.0005]),
                res_w=1000,
                res_h=1002 if ci == 0 else 1000,
            )
    return out


def _motion(rng: np.random.Generator, n: int, joints: int) -> np.ndarray:
    """(n, joints, 3) world poses around (0, 0, 1) m with a moving root."""
    root = np.array([0.0, 0.0, 1.0]) + np.cumsum(rng.normal(scale=0.01, size=(n, 1, 3)), axis=0)
    return (root + rng.normal(scale=0.3, size=(1, joints, 3)) + rng.normal(scale=0.01, size=(n, joints, 3))).astype(np.float32)


@pytest.fixture()
def world() -> dict[str, dict[str, np.ndarray]]:
    """S1 with 17 joints, S9 with the 32-joint layout."""
    rng = np.random.default_rng(0)
    return {
        "S1": {a: _motion(rng, FRAMES, 17) for a in ACTIONS},
        "S9": {a: _motion(rng, FRAMES, 32) for a in ACTIONS},
    }


@pytest.fixture()
def npz_3d(tmp_path: Path, world) -> Path:
    path = tmp_path / "data_3d_test.npz"
    np.savez_compressed(path, positions_3d=world)
    return path


@pytest.fixture()
def sequences(npz_3d: Path) -> list[Sequence]:
    return build_sequences(load_positions_3d(npz_3d), make_cameras(), ("S1", "S9"))


# ----------------------------------------------------------------------------- loaders


def test_subject_splits() -> None:
    assert TRAIN_SUBJECTS == ("S1", "S5", "S6", "S7", "S8") and TEST_SUBJECTS == ("S9", "S11")


def test_load_3d_converts_32_joints(npz_3d: Path, world) -> None:
    pos = load_positions_3d(npz_3d)
    assert set(pos) == {"S1", "S9"} and set(pos["S1"]) == set(ACTIONS)
    for subject in pos:
        for action, arr in pos[subject].items():
            assert arr.shape == (FRAMES, 17, 3) and arr.dtype == np.float32
    np.testing.assert_array_equal(pos["S1"]["WalkDog"], world["S1"]["WalkDog"])
    np.testing.assert_array_equal(pos["S9"]["WalkDog"], world["S9"]["WalkDog"][:, list(H36M32_TO_17)])


def _assert_one_line_error(exc: pytest.ExceptionInfo, *parts: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg
    for part in parts:
        assert part in msg, (part, msg)


def test_load_3d_wrong_key(tmp_path: Path) -> None:
    path = tmp_path / "wrongkey.npz"
    np.savez(path, foo=np.zeros(3))
    with pytest.raises(PoseMoEError) as e:
        load_positions_3d(path)
    _assert_one_line_error(e, "wrongkey.npz", "positions_3d", "foo")


def test_load_3d_wrong_shape(tmp_path: Path) -> None:
    path = tmp_path / "wrongshape.npz"
    np.savez(path, positions_3d={"S1": {"Walking": np.zeros((5, 17, 2), np.float32)}})
    with pytest.raises(PoseMoEError) as e:
        load_positions_3d(path)
    _assert_one_line_error(e, "wrongshape.npz", "Walking", "(N, 17 or 32, 3)", "(5, 17, 2)")
    path2 = tmp_path / "wrongjoints.npz"
    np.savez(path2, positions_3d={"S1": {"Walking": np.zeros((5, 16, 3), np.float32)}})
    with pytest.raises(PoseMoEError) as e:
        load_positions_3d(path2)
    _assert_one_line_error(e, "wrongjoints.npz", "(5, 16, 3)")


def test_load_3d_not_a_dict_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "notdict.npz"
    np.savez(path, positions_3d=np.zeros((4, 17, 3)))
    with pytest.raises(PoseMoEError) as e:
        load_positions_3d(path)
    _assert_one_line_error(e, "notdict.npz", "dict")
    with pytest.raises(PoseMoEError) as e:
        load_positions_3d(tmp_path / "absent.npz")
    _assert_one_line_error(e, "absent.npz", "no such file")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not numpy")
    with pytest.raises(PoseMoEError) as e:
        load_positions_3d(garbage)
    _assert_one_line_error(e, "garbage.npz")


def test_load_2d_validates(tmp_path: Path) -> None:
    good = tmp_path / "d2.npz"
    views = [np.zeros((7, 17, 3), np.float64) for _ in range(4)]
    np.savez(good, positions_2d={"S1": {"Walking": views}}, metadata={"x": 1})
    pos = load_positions_2d(good)
    assert len(pos["S1"]["Walking"]) == 4
    assert pos["S1"]["Walking"][0].shape == (7, 17, 3) and pos["S1"]["Walking"][0].dtype == np.float32
    bad = tmp_path / "d2bad.npz"
    np.savez(bad, positions_2d={"S1": {"Walking": [np.zeros((7, 17, 4))]}})
    with pytest.raises(PoseMoEError) as e:
        load_positions_2d(bad)
    _assert_one_line_error(e, "d2bad.npz", "Walking", "(7, 17, 4)")
    with pytest.raises(PoseMoEError) as e:
        load_positions_2d(tmp_path / "none.npz")
    _assert_one_line_error(e, "none.npz")
    with pytest.raises(PoseMoEError) as e:
        load_positions_2d(_npz_with(tmp_path, "k.npz", positions_3d={}))
    _assert_one_line_error(e, "k.npz", "positions_2d", "positions_3d")


def _npz_with(tmp_path: Path, name: str, **arrays) -> Path:
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_action_base_name() -> None:
    assert action_base_name("Directions 1") == "Directions"
    assert action_base_name("WalkDog") == "WalkDog"
    assert action_base_name("SittingDown 2") == "SittingDown"
    assert action_base_name("WalkTogether") == "WalkTogether"


# ----------------------------------------------------------------------------- sequences


def test_build_sequences_root_relative_and_projected(sequences, world) -> None:
    cams = make_cameras()
    assert len(sequences) == 2 * len(ACTIONS) * 4
    assert {(s.subject, s.camera) for s in sequences} == {(s, c) for s in ("S1", "S9") for c in H36M_CAMERA_IDS}
    for seq in sequences:
        cam = cams[seq.subject][seq.camera]
        assert seq.pose3d.shape == (FRAMES, 17, 3) and seq.pose3d.dtype == np.float32
        assert seq.pose2d.shape == (FRAMES, 17, 2) and seq.pose2d.dtype == np.float32
        assert seq.image_size == (cam.res_w, cam.res_h)
        assert np.all(seq.pose3d[:, 0] == 0.0)  # pelvis exactly zero
        w = world[seq.subject][seq.action].astype(np.float64)
        if w.shape[1] == 32:
            w = w[:, list(H36M32_TO_17)]
        xyz = world_to_camera(w, cam)
        np.testing.assert_allclose(seq.pose3d, xyz - xyz[:, :1], atol=1e-6)
        np.testing.assert_allclose(
            seq.pose2d, normalize_screen(project_to_pixels(xyz, cam), cam.res_w, cam.res_h), atol=1e-6
        )
        # the joints are in front of the camera and inside the image
        px = denormalize_screen(seq.pose2d.astype(np.float64), cam.res_w, cam.res_h)
        assert np.all((px > 0) & (px < 1000))


def test_build_sequences_tolerates_missing_and_filters_actions(npz_3d: Path) -> None:
    pos = load_positions_3d(npz_3d)
    cams = make_cameras()
    seqs = build_sequences(pos, cams, ("S1", "S5", "S11"), camera_ids=H36M_CAMERA_IDS[:2])
    assert {s.subject for s in seqs} == {"S1"} and len(seqs) == len(ACTIONS) * 2
    only = build_sequences(pos, cams, ("S1", "S9"), actions=["Directions"])
    assert {s.action for s in only} == {"Directions 1"} and len(only) == 8
    exact = build_sequences(pos, cams, ("S9",), actions=["WalkDog"])
    assert {s.action for s in exact} == {"WalkDog"} and len(exact) == 4
    with pytest.raises(PoseMoEError, match="S9"):
        build_sequences(pos, make_cameras(("S1",)), ("S1", "S9"))


def test_build_sequences_with_2d_file(tmp_path: Path, npz_3d: Path) -> None:
    pos = load_positions_3d(npz_3d)
    cams = make_cameras()
    rng = np.random.default_rng(3)
    views = [
        np.concatenate([rng.uniform(0, 1000, (FRAMES - 3, 17, 2)), rng.uniform(0, 1, (FRAMES - 3, 17, 1))], -1)
        for _ in H36M_CAMERA_IDS
    ]
    path = tmp_path / "d2.npz"
    np.savez(path, positions_2d={"S1": {"WalkDog": views}})
    seqs = build_sequences(pos, cams, ("S1", "S9"), positions_2d=load_positions_2d(path))
    # only sequences present in both files
    assert {(s.subject, s.action) for s in seqs} == {("S1", "WalkDog")} and len(seqs) == 4
    for ci, seq in enumerate(seqs):
        assert seq.camera == H36M_CAMERA_IDS[ci]
        assert seq.pose3d.shape == (FRAMES - 3, 17, 3) and seq.pose2d.shape == (FRAMES - 3, 17, 3)
        w, h = seq.image_size
        np.testing.assert_allclose(seq.pose2d, normalize_screen(views[ci], w, h), atol=1e-6)
        np.testing.assert_allclose(seq.pose2d[..., 2], views[ci][..., 2], atol=1e-6)  # confidence kept


# ----------------------------------------------------------------------------- windows and clips


def test_sliding_windows_and_pad_edge() -> None:
    assert sliding_windows(20, 8, 8) == [0, 8, 16]
    assert sliding_windows(16, 8, 8) == [0, 8]
    assert sliding_windows(5, 8, 8) == [0]
    assert sliding_windows(10, 4, 3) == [0, 3, 6]
    assert sliding_windows(0, 4, 4) == []
    for n, f, s in [(20, 8, 8), (10, 4, 3), (7, 7, 1), (3, 5, 2)]:
        covered = np.zeros(n, bool)
        for start in sliding_windows(n, f, s):
            covered[start:start + f] = True
        assert covered.all()
    with pytest.raises(PoseMoEError):
        sliding_windows(10, 4, 5)  # would leave gaps
    x = np.arange(5)[:, None] * np.ones((5, 2))
    np.testing.assert_array_equal(pad_edge(x, 3, 1)[:, 0], [1, 2, 3])
    np.testing.assert_array_equal(pad_edge(x, 4, 3)[:, 0], [3, 4, 4, 4])
    np.testing.assert_array_equal(pad_edge(x, 8, 0)[:, 0], [0, 1, 2, 3, 4, 4, 4, 4])


@pytest.mark.parametrize("frames,stride", [(8, None), (8, 3), (27, None)])
def test_clip_dataset_covers_every_frame(sequences, frames, stride) -> None:
    ds = ClipDataset(sequences, frames=frames, stride=stride)
    step = frames if stride is None else stride
    expected_clips = sum(len(range(0, max(FRAMES - frames, 0) + step, step)) for _ in sequences)
    assert len(ds) == len(ds.clip_index) == expected_clips
    covered = [np.zeros(len(s.pose3d), bool) for s in sequences]
    for i in range(len(ds)):
        x, y = ds[i]
        assert x.shape == (frames, 17, 2) and y.shape == (frames, 17, 3)
        assert x.dtype == torch.float32 and y.dtype == torch.float32
        s, start = ds.clip_index[i]
        mask = ds.valid_mask(i)
        assert mask.shape == (frames,) and mask.dtype == bool
        n_valid = int(mask.sum())
        assert mask[:n_valid].all() and not mask[n_valid:].any()
        seq = sequences[s]
        np.testing.assert_array_equal(y.numpy()[:n_valid], seq.pose3d[start:start + n_valid])
        np.testing.assert_array_equal(x.numpy()[:n_valid], seq.pose2d[start:start + n_valid])
        # edge padding repeats the last frame of the sequence
        np.testing.assert_array_equal(y.numpy()[n_valid:], np.broadcast_to(seq.pose3d[-1], (frames - n_valid, 17, 3)))
        np.testing.assert_array_equal(x.numpy()[n_valid:], np.broadcast_to(seq.pose2d[-1], (frames - n_valid, 17, 2)))
        covered[s][start:start + n_valid] = True
    assert all(c.all() for c in covered)


def test_clip_dataset_deterministic_without_augmentation(sequences) -> None:
    ds = ClipDataset(sequences, frames=8)
    for i in (0, 5):
        a, b = ds[i], ds[i]
        torch.testing.assert_close(a[0], b[0])
        torch.testing.assert_close(a[1], b[1])


def test_flip_augmentation_is_flip_of_plain_item(sequences) -> None:
    plain = ClipDataset(sequences, frames=8)
    flipped = ClipDataset(sequences, frames=8, flip=True, seed=7)
    n_flip = n_same = 0
    for i in range(len(plain)):
        x, y = plain[i]
        xf, yf = flipped[i]
        if torch.equal(xf, x) and torch.equal(yf, y):
            n_same += 1
        else:
            # both input and target flipped together
            torch.testing.assert_close(xf, flip_pose(x))
            torch.testing.assert_close(yf, flip_pose(y))
            n_flip += 1
    assert n_flip > 0 and n_same > 0
    # same seed -> same draws
    torch.testing.assert_close(flipped[3][0], ClipDataset(sequences, frames=8, flip=True, seed=7)[3][0])


def test_noise_and_dropout_change_x_only(sequences) -> None:
    plain = ClipDataset(sequences, frames=8, confidence=True)
    noisy = ClipDataset(sequences, frames=8, noise_px=5.0, confidence=True, seed=1)
    dropped = ClipDataset(sequences, frames=8, joint_dropout=0.3, confidence=True, seed=1)
    diffs = []
    n_dropped = 0
    for i in range(len(plain)):
        x, y = plain[i]
        xn, yn = noisy[i]
        xd, yd = dropped[i]
        torch.testing.assert_close(yn, y)
        torch.testing.assert_close(yd, y)
        assert not torch.equal(xn, x)
        torch.testing.assert_close(xn[..., 2], x[..., 2])  # confidence untouched by noise
        diffs.append((xn - x)[..., :2].flatten())
        drop = xd[..., 2] == 0  # (T, 17)
        n_dropped += int(drop.sum())
        assert torch.all(xd[drop] == 0)
        torch.testing.assert_close(xd[~drop], x[~drop])
    # 5 px std on a 1000 px wide image = 0.01 normalised units
    std = torch.cat(diffs).std().item()
    assert 0.008 < std < 0.012
    total = len(plain) * 8 * 17
    assert 0.2 < n_dropped / total < 0.4


def test_noise_mix_draws_a_noise_level_per_clip(sequences) -> None:
    """--noise-mix: each clip's noise std is uniform in [0, noise_px], so some clips are nearly
    clean and none is noisier than noise_px; without it every clip has the full noise_px."""
    plain = ClipDataset(sequences, frames=8, confidence=True)
    fixed = ClipDataset(sequences, frames=8, noise_px=5.0, confidence=True, seed=2)
    mixed = ClipDataset(sequences, frames=8, noise_px=5.0, confidence=True, seed=2, noise_mix=True)
    unit = 2.0 / sequences[0].image_size[0]  # one pixel in normalised units
    fixed_px, mixed_px = [], []
    for i in range(len(plain)):
        x, y = plain[i]
        xm, ym = mixed[i]
        torch.testing.assert_close(ym, y)
        fixed_px.append(((fixed[i][0] - x)[..., :2].std() / unit).item())
        mixed_px.append(((xm - x)[..., :2].std() / unit).item())
    fixed_px, mixed_px = np.array(fixed_px), np.array(mixed_px)
    assert np.all(np.abs(fixed_px - 5.0) < 1.0)  # 8 x 17 x 2 draws per clip: the std is close to 5
    assert np.all(mixed_px < 6.0)
    assert mixed_px.min() < 2.0 and mixed_px.max() > 3.5
    assert 1.5 < mixed_px.mean() < 3.5  # uniform in [0, 5]: mean 2.5
    # the level is drawn from the clip's own generator: the same seed gives the same clip
    torch.testing.assert_close(mixed[1][0], ClipDataset(sequences, frames=8, noise_px=5.0, confidence=True,
                                                        seed=2, noise_mix=True)[1][0])


def test_confidence_channel(sequences, tmp_path: Path) -> None:
    x, _ = ClipDataset(sequences, frames=8, confidence=True)[0]
    assert x.shape == (8, 17, 3)
    assert torch.all(x[..., 2] == 1.0)
    seq = sequences[0]
    conf = np.linspace(0.1, 0.9, len(seq.pose2d) * 17, dtype=np.float32).reshape(-1, 17, 1)
    with_conf = Sequence(seq.subject, seq.action, seq.camera, seq.pose3d, np.concatenate([seq.pose2d, conf], -1), seq.image_size)
    x3, _ = ClipDataset([with_conf], frames=8, confidence=True)[0]
    np.testing.assert_allclose(x3[..., 2].numpy(), conf[:8, :, 0])
    x2, _ = ClipDataset([with_conf], frames=8, confidence=False)[0]
    assert x2.shape == (8, 17, 2)
    np.testing.assert_array_equal(x2.numpy(), seq.pose2d[:8])


def test_load_h36m_sequences_and_missing_subjects(h36m_npz: Path) -> None:
    from posemoe.data import load_h36m

    data = load_h36m(h36m_npz)  # packaged calibration
    seqs = data.sequences(("S1",))
    assert {s.subject for s in seqs} == {"S1"} and len(seqs) == 2 * 4
    assert data.sequences(("S7",), required=False) == []
    with pytest.raises(PoseMoEError, match=r"no sequences for subjects \['S7'\]; the file holds \['S1', 'S9'\]"):
        data.sequences(("S7",))


def test_compact_copy_round_trips_within_a_twentieth_of_a_millimetre(h36m_npz: Path, tmp_path: Path) -> None:
    from posemoe.data import load_positions_3d, write_compact_3d

    stats = write_compact_3d(h36m_npz, tmp_path / "c" / "compact.npz")
    assert stats["sequences"] == 4 and stats["frames"] == 4 * 60
    full, small = load_positions_3d(h36m_npz), load_positions_3d(tmp_path / "c" / "compact.npz")
    assert {s: sorted(a) for s, a in full.items()} == {s: sorted(a) for s, a in small.items()}
    for s in full:
        for a in full[s]:
            assert small[s][a].dtype == np.float32 and small[s][a].shape == full[s][a].shape
            assert np.abs(small[s][a] - full[s][a]).max() <= 0.05e-3 + 1e-6
    only = write_compact_3d(h36m_npz, tmp_path / "s1.npz", subjects=["S1"])
    assert sorted(load_positions_3d(tmp_path / "s1.npz")) == ["S1"] and only["frames"] == 2 * 60
    with pytest.raises(PoseMoEError, match="S7"):
        write_compact_3d(h36m_npz, tmp_path / "x.npz", subjects=["S7"])
    assert not (tmp_path / "x.npz").exists()
