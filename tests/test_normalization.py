"""The camera-invariant input normalisation, and that training, `Lifter` and the video pipeline
feed the network the same thing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posemoe import Lifter, PoseMoE, PoseMoEConfig
from posemoe.camera import normalize_screen
from posemoe.checkpoint import load_checkpoint, make_checkpoint, save_checkpoint
from posemoe.errors import PoseMoEError
from posemoe.normalization import body_centre, body_normalize, body_scale, normalize_input
from posemoe.skeleton import H36M17, H36M17_BONE_LENGTHS_M, flip_pose
from posemoe.training_clips import CameraMixClips, world_sequences
from posemoe.camera import load_h36m_cameras

from conftest import synthetic_motion


def _pixels(frames: int = 9, seed: int = 0) -> np.ndarray:
    """(T, 17, 2) pixel keypoints of a walking figure seen from the side of a 1920x1080 frame."""
    world = synthetic_motion(frames, seed)
    x = world[..., 1] * 300 + 700.0  # y left -> image x
    y = -world[..., 2] * 300 + 800.0  # z up -> image y down
    return np.stack([x, y], axis=-1).astype(np.float32)


def test_same_input_whatever_the_image_size_position_and_person_size() -> None:
    px = _pixels()
    a = body_normalize(torch.tensor(normalize_screen(px, 1920, 1080))[None])
    # the same person twice as large, elsewhere, in a portrait frame
    px2 = px * 2.0 + np.array([-900.0, 300.0], dtype=np.float32)
    b = body_normalize(torch.tensor(normalize_screen(px2, 1080, 1920))[None])
    c = body_normalize(torch.tensor(px)[None])  # raw pixels give the same numbers
    assert torch.allclose(a, b, atol=1e-5) and torch.allclose(a, c, atol=1e-5)
    # but the screen normalisation of the same two differs a lot
    assert np.abs(normalize_screen(px, 1920, 1080) - normalize_screen(px2, 1080, 1920)).max() > 0.3


def test_centre_scale_units_and_flip() -> None:
    px = _pixels()
    x = torch.tensor(px)[None]
    out = body_normalize(x)[0]
    pelvis_hips = out[:, [0, 1, 4]].mean(dim=1)
    assert torch.allclose(pelvis_hips, torch.zeros_like(pelvis_hips), atol=1e-5)
    # a side view at 300 px per metre: the bone sum ratio is at most 1 (foreshortening) and near it
    s = float(body_scale(x)[0])
    assert 150.0 < s <= 300.0 * 1.001
    # the figure is ~1.7 m tall in "metres of a frontal body"
    height = float(out[..., 1].max() - out[..., 1].min())
    assert 1.4 < height < 2.6
    flipped = body_normalize(flip_pose(x))
    assert torch.allclose(flipped, flip_pose(out[None]), atol=1e-5)


def test_missed_joints_stay_zero_and_do_not_move_the_rest() -> None:
    px = _pixels()
    x = torch.tensor(np.concatenate([px, np.ones_like(px[..., :1])], axis=-1))[None]
    ref = body_normalize(x)
    x2 = x.clone()
    x2[0, :, 13] = 0.0  # left wrist missed: every channel 0
    x2[0, 2, 0] = 0.0  # pelvis missed on one frame
    out = body_normalize(x2)
    assert torch.equal(out[0, :, 13], torch.zeros_like(out[0, :, 13]))
    assert torch.equal(out[0, 2, 0], torch.zeros(3))
    # the centre of frame 2 falls back to the hips, whose mean is the pelvis here; the scale uses
    # only found bones divided by their own reference lengths
    keep = [j for j in range(17) if j != 13]
    assert torch.allclose(out[0, :, keep][:, :, :2], ref[0, :, keep][:, :, :2], atol=0.03)
    assert torch.allclose(body_centre(x2[0, 2:3])[0], body_centre(x[0, 2:3])[0], atol=1.0)


def test_scale_is_the_median_over_the_window_and_survives_no_bones() -> None:
    px = _pixels(frames=5)
    x = torch.tensor(px)[None].clone()
    x[0, 1] *= 3.0  # one frame blown up (a detector glitch) does not move the window's scale
    assert float(body_scale(x)[0]) == pytest.approx(float(body_scale(torch.tensor(px)[None])[0]), rel=0.05)
    empty = torch.zeros(1, 5, 17, 3)  # nothing found at all
    assert torch.equal(body_scale(empty), torch.ones(1))
    assert torch.equal(body_normalize(empty), empty)


def test_screen_is_the_identity_and_the_names_are_checked() -> None:
    x = torch.randn(2, 3, 17, 3)
    assert normalize_input(x, "screen") is x
    with pytest.raises(PoseMoEError, match="screen, body.*found 'height'"):
        PoseMoEConfig(input_norm="height")
    assert len(H36M17_BONE_LENGTHS_M) == len(H36M17.bones())


def _tiny(frames: int, **kw) -> PoseMoE:
    torch.manual_seed(0)
    model = PoseMoE(PoseMoEConfig(frames=frames, dim=32, heads=4, encoder_layers=1, decoder_layers=1,
                                  in_channels=3, input_norm="body", **kw)).eval()
    with torch.no_grad():
        for p in model.head.parameters():
            p.mul_(30.0)
    return model


def test_training_lifter_and_video_pipeline_feed_the_network_the_same(h36m_npz) -> None:
    """A training clip's 2D, given as pixels to `Lifter` and to the video pipeline's lifting
    with the clip camera's focal length, gives the network the very input training gave it (both
    turn the camera to look at the person): the predictions agree exactly, in the real camera's
    axes once the turn is undone."""
    from pipeline.lift import lift_tracks
    from posemoe.data import load_positions_3d
    from posemoe.view_rotation import turn_back

    model = _tiny(frames=9)
    seqs = world_sequences(load_positions_3d(h36m_npz), ["S1"])
    clips = CameraMixClips(seqs, load_h36m_cameras(), frames=9, p_virtual=1.0, noise=None, flip=False,
                           confidence=True, seed=3, look_at_person=True)
    sample = next(c for c in map(clips.sample, range(40)) if abs(c.rotation[0, 2, 2]) < 0.99)  # an off-axis view
    with torch.no_grad():
        trained_on = model(torch.tensor(sample.x)[None]).pose3d[0].numpy()
    trained_on = turn_back(trained_on - trained_on[:, :1], sample.rotation)
    np.testing.assert_allclose(turn_back(sample.y, sample.rotation), sample.pose_cam - sample.pose_cam[:, :1],
                               atol=1e-5)
    lifter = Lifter(model, flip=False, overlap=0.0)
    via_lifter = lifter(sample.pixels.astype(np.float32), image_size=sample.image_size, focal_px=sample.focal_px)
    np.testing.assert_allclose(via_lifter, trained_on, atol=1e-4)
    kp = sample.pixels[None].astype(np.float32)
    via_video = lift_tracks(model, kp, np.ones(kp.shape[:-1], np.float32), np.ones((1, 9), bool),
                            sample.image_size, overlap=0.0, flip=False, focal_px=sample.focal_px)[0]
    np.testing.assert_allclose(via_video, trained_on, atol=1e-4)
    # without the turn, the off-axis view is a different input: the check above can fail
    as_filmed = Lifter(model, flip=False, overlap=0.0, look_at_person=False)(
        sample.pixels.astype(np.float32), image_size=sample.image_size)
    assert np.abs(as_filmed - trained_on).max() > 1e-3
    # and it is the body normalisation that makes the image size irrelevant: a screen model differs
    screen = PoseMoE(PoseMoEConfig(**{**model.cfg.to_dict(), "input_norm": "screen"})).eval()
    screen.load_state_dict(model.state_dict())
    other_size = Lifter(screen, flip=False, overlap=0.0)(sample.pixels.astype(np.float32), image_size=(4000, 4000))
    same_size = Lifter(screen, flip=False, overlap=0.0)(sample.pixels.astype(np.float32), image_size=sample.image_size)
    assert np.abs(other_size - same_size).max() > 1e-3
    # (as filmed: with the turn, the image size also says where the optical axis is)
    body_other = Lifter(model, flip=False, overlap=0.0, look_at_person=False)(
        sample.pixels.astype(np.float32), image_size=(4000, 4000))
    np.testing.assert_allclose(body_other, as_filmed, atol=1e-4, rtol=1e-4)


def test_checkpoint_records_its_normalisation(tmp_path) -> None:
    model = _tiny(frames=3)
    path = save_checkpoint(make_checkpoint(model), tmp_path / "body.pt")
    loaded, ckpt = load_checkpoint(path)
    assert loaded.cfg.input_norm == "body" and ckpt["input"]["normalisation"].startswith("body:")
    # an older checkpoint (no input_norm field) keeps its screen normalisation
    old = make_checkpoint(PoseMoE(PoseMoEConfig(frames=3, dim=32, heads=4, encoder_layers=1, decoder_layers=1)))
    del old["config"]["input_norm"], old["config"]["temporal_gate"]
    loaded_old, _ = load_checkpoint(save_checkpoint(old, tmp_path / "old.pt"))
    assert loaded_old.cfg.input_norm == "screen"
    # one the code does not know: one line naming the file, what is known and what was found
    bad = make_checkpoint(model)
    bad["config"]["input_norm"] = "hip-width"
    with pytest.raises(PoseMoEError) as e:
        load_checkpoint(save_checkpoint(bad, tmp_path / "bad.pt"))
    msg = str(e.value)
    assert "bad.pt" in msg and "'hip-width'" in msg and "screen, body" in msg and "\n" not in msg
