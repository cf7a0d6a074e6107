"""Training clips from many cameras: targets in the filming camera's frame, sources, noise, repeatability."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from posemoe.camera import H36M_CAMERA_IDS, load_h36m_cameras, normalize_screen, project_to_pixels, world_to_camera
from posemoe.data import load_positions_2d, load_positions_3d
from posemoe.detector_noise import DetectorNoise
from posemoe.model import PoseMoE, PoseMoEConfig
from posemoe.checkpoint import make_checkpoint, save_checkpoint
from posemoe.train import init_from_checkpoint
from posemoe.training_clips import CameraMixClips, world_sequences
from posemoe.skeleton import MPII16


def _clips(h36m_npz: Path, **kw) -> CameraMixClips:
    seqs = world_sequences(load_positions_3d(h36m_npz), ["S1"], kw.pop("detections", None))
    return CameraMixClips(seqs, load_h36m_cameras(), frames=kw.pop("frames", 9), **kw)


def test_virtual_camera_targets_are_in_that_cameras_frame(h36m_npz: Path) -> None:
    clips = _clips(h36m_npz, p_virtual=1.0, noise=None, flip=False, confidence=True)
    for i in range(0, len(clips), 5):
        c = clips.sample(i)
        assert c.source == "virtual"
        # the 2D input is the projection of the target's camera-frame pose through that camera
        np.testing.assert_allclose(c.camera.project(c.pose_cam), c.pixels, atol=1e-6)
        np.testing.assert_allclose(c.x[..., :2], normalize_screen(c.pixels, *c.image_size), atol=1e-5)
        np.testing.assert_allclose(c.y, c.pose_cam - c.pose_cam[:, :1], atol=1e-5)
        # and it is not the world frame: the pose turned with the camera
        s, start = clips.clip_index[i]
        world = clips.sequences[s].world[start:start + 9]
        n = len(world)
        rel_world = world - world[:, :1]
        assert np.abs(c.y[:n] - rel_world).max() > 0.05
        # bone lengths are kept (a rotation, not a distortion)
        np.testing.assert_allclose(np.linalg.norm(c.y[:n, 3] - c.y[:n, 2], axis=-1),
                                   np.linalg.norm(rel_world[:, 3] - rel_world[:, 2], axis=-1), atol=1e-5)


def test_h36m_and_detected_sources(h36m_npz: Path, tmp_path: Path) -> None:
    world = load_positions_3d(h36m_npz)
    cams = load_h36m_cameras()
    # a detections file in the MPII-16 layout, one camera missing, as the Stacked Hourglass file is
    views = []
    for k, cid in enumerate(H36M_CAMERA_IDS):
        px17 = project_to_pixels(world_to_camera(world["S1"]["Walking"].astype(np.float64), cams["S1"][cid]), cams["S1"][cid])
        mpii = np.zeros((len(px17), 16, 2))
        for h, m in {0: 6, 1: 2, 2: 1, 3: 0, 4: 3, 5: 4, 6: 5, 8: 7, 9: 8, 10: 9,
                     11: 13, 12: 14, 13: 15, 14: 12, 15: 11, 16: 10}.items():
            mpii[:, m] = px17[:, h] + 3.0  # a detector 3 px off
        views.append(None if k == 0 else np.round(mpii).astype(np.int16))
    path = tmp_path / "sh.npz"
    np.savez_compressed(path, positions_2d=np.array({"S1": {"Walking": views}}, dtype=object),
                        metadata=np.array({"layout_name": "mpii16", "joint_names": list(MPII16.joint_names)}, dtype=object))
    det = load_positions_2d(path)
    assert det["S1"]["Walking"][0] is None and det["S1"]["Walking"][1].shape == (60, 17, 2)
    clips = _clips(h36m_npz, p_virtual=0.0, p_detected=1.0, noise=None, flip=False, detections=det)
    sources = Counter()
    for i in range(len(clips)):
        c = clips.sample(i)
        sources[c.source] += 1
        if c.source == "detected":
            s, start = clips.clip_index[i]
            k = H36M_CAMERA_IDS.index(c.camera.id)
            assert k != 0  # the missing view is never used
            n = min(9, 60 - start)
            np.testing.assert_allclose(c.pixels[:n], det["S1"]["Walking"][k][start:start + n])
        else:  # "Directions 1" has no detections: a Human3.6M camera, projected with its distortion
            assert c.source == "h36m"
            np.testing.assert_allclose(project_to_pixels(c.pose_cam, c.camera), c.pixels, atol=1e-6)
        np.testing.assert_allclose(c.y, c.pose_cam - c.pose_cam[:, :1], atol=1e-5)
    assert sources["detected"] > 0 and sources["h36m"] > 0


def test_mix_noise_flip_and_repeatability(h36m_npz: Path) -> None:
    clips = _clips(h36m_npz, frames=3, stride=1, p_virtual=0.5, noise=DetectorNoise(miss_max=0.5), flip=True,
                   confidence=True, seed=7)
    counts = Counter(clips.sample(i).source for i in range(len(clips)))
    assert 0.3 < counts["virtual"] / len(clips) < 0.7
    a, b = clips[4], clips[4]
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    clips.set_epoch(1)
    assert not torch.equal(clips[4][0], a[0])
    xs = torch.stack([clips[i][0] for i in range(len(clips))])
    missed = xs[..., 2] == 0
    assert missed.any() and torch.all(xs[missed] == 0)  # a missed joint is 0 in every channel
    assert any(clips.sample(i).flipped for i in range(20)) and not all(clips.sample(i).flipped for i in range(20))


def test_noise_is_sized_in_metres_at_the_person() -> None:
    rng = np.random.default_rng(0)
    px = np.zeros((200, 17, 2))
    near, _ = DetectorNoise(miss_max=0.0).apply(px, 1000.0, np.random.default_rng(1))
    far, _ = DetectorNoise(miss_max=0.0).apply(px, 100.0, np.random.default_rng(1))
    np.testing.assert_allclose(near, far * 10.0, atol=1e-9)
    _, found = DetectorNoise(miss_max=0.0).apply(px, 100.0, rng)
    assert found.all()


def test_bad_mix_is_refused(h36m_npz: Path) -> None:
    from posemoe.errors import PoseMoEError

    with pytest.raises(PoseMoEError, match="summing to at most 1"):
        _clips(h36m_npz, p_virtual=0.8, p_detected=0.5)


def test_warm_start_from_one_frame_starts_at_its_accuracy(tmp_path: Path) -> None:
    """A window model warm-started from a 1-frame model (temporal gates at 0) predicts every
    frame exactly as the 1-frame model does; with open gates (plain attention) it does not."""
    torch.manual_seed(0)
    common = dict(dim=32, heads=4, encoder_layers=2, decoder_layers=1, in_channels=3)
    one = PoseMoE(PoseMoEConfig(frames=1, **common)).eval()
    with torch.no_grad():
        for p in one.head.parameters():
            p.mul_(30.0)
    path = save_checkpoint(make_checkpoint(one), tmp_path / "one.pt")
    win = PoseMoE(PoseMoEConfig(frames=9, temporal_gate=True, **common))
    init_from_checkpoint(win, path)
    win.eval()
    x = torch.randn(2, 9, 17, 3)
    x[..., 2] = 1.0
    with torch.no_grad():
        per_frame = torch.cat([one(x[:, t:t + 1]).pose3d for t in range(9)], dim=1)
        together = win(x).pose3d
    torch.testing.assert_close(together, per_frame, atol=1e-5, rtol=0)
    gates = [m for n, m in win.named_parameters() if n.endswith(".gate")]
    # 2 encoder layers x (pose + depth self-attention + depth-reads-2D) + 1 decoder layer x 2 directions
    assert len(gates) == 2 * 3 + 2 and all(torch.equal(g, torch.zeros_like(g)) for g in gates)
    with torch.no_grad():
        for g in gates:
            g.fill_(1.0)
        opened = win(x).pose3d
    assert (opened - per_frame).abs().max() > 1e-3
    # a fresh window model starts with open gates (plain attention)
    fresh = PoseMoE(PoseMoEConfig(frames=9, temporal_gate=True, **common))
    assert all(torch.equal(m, torch.ones_like(m)) for n, m in fresh.named_parameters() if n.endswith(".gate"))


def test_frame_steps_take_every_sth_frame(h36m_npz: Path) -> None:
    clips = _clips(h36m_npz, frames=5, p_virtual=1.0, noise=None, flip=False, frame_steps=(2,))
    c = clips.sample(0)
    s, start = clips.clip_index[0]
    world = clips.sequences[s].world[start:start + 10:2].astype(np.float64)
    np.testing.assert_allclose(c.pose_cam, c.camera.world_to_camera(world), atol=1e-6)
    with pytest.raises(Exception, match="frame steps"):
        _clips(h36m_npz, frame_steps=(0,))
