"""The shipped default checkpoint, weights/posemoe-default.pt: it loads, lifts to finite metres of
the documented shape, and carries the figures the model card reports."""

from __future__ import annotations


import numpy as np

from posemoe import Lifter
from posemoe.camera import load_h36m_cameras, project_to_pixels, world_to_camera
from posemoe.checkpoint import read_checkpoint
from posemoe.lifter import DEFAULT_WEIGHTS
from conftest import synthetic_motion

MODEL_CARD = DEFAULT_WEIGHTS.parent / "README.md"
SHIPPED = DEFAULT_WEIGHTS


def test_shipped_file_is_small_half_precision_and_self_describing() -> None:
    assert SHIPPED.is_file(), f"{SHIPPED} is part of the repository"
    assert SHIPPED.stat().st_size <= 50e6
    ckpt = read_checkpoint(SHIPPED)
    assert ckpt["dtype"] == "float16" and "state" not in ckpt
    assert ckpt["input"]["channels"] == ["u", "v", "confidence"]  # trained for detector input
    assert list(ckpt["train"]["config"]["train_subjects"]) == ["S1", "S5", "S6", "S7", "S8"]


def test_shipped_weights_lift_a_projected_walk_to_plausible_3d() -> None:
    lifter = Lifter.from_checkpoint(SHIPPED)
    cam = load_h36m_cameras()["S9"]["54138969"]
    world = synthetic_motion(50, seed=0)  # (50, 17, 3) metres, a synthetic walk near the centre of the room
    cam_xyz = world_to_camera(world, cam)
    kp = project_to_pixels(cam_xyz, cam)
    conf = np.ones(kp.shape[:2] + (1,))
    out = lifter(np.concatenate([kp, conf], axis=-1), image_size=(cam.res_w, cam.res_h))
    assert out.shape == (50, 17, 3) and out.dtype == np.float32 and np.isfinite(out).all()
    assert np.allclose(out[:, 0], 0.0, atol=1e-4)  # root-relative
    # a person-sized skeleton, not a collapsed or exploded one: pelvis to head 0.4-0.9 m
    reach = np.linalg.norm(out[:, 10] - out[:, 0], axis=-1)
    assert 0.4 < np.median(reach) < 0.9


def test_model_card_reports_the_figures_stored_in_the_file() -> None:
    ckpt = read_checkpoint(SHIPPED)
    avg = ckpt["metrics"]["h36m_s9s11"]["average_over_actions"]
    card = MODEL_CARD.read_text()
    for key in ("mpjpe", "p_mpjpe"):
        assert f"{avg[key]:.2f}" in card, f"model card does not show the stored {key} {avg[key]:.2f} mm"
    assert "non-commercial" in card and "S1, S5, S6, S7, S8" in card
    # the exact training command stored in the file is the one the card shows
    command = ckpt["train"]["command"]
    assert command[:2] == ["posemoe", "train"] and "--confidence" in command
    card_words = card.replace("\\\n", " ").split()
    assert all(word in card_words for word in command[2:]), [w for w in command[2:] if w not in card_words]
