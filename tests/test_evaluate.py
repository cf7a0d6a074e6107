"""Evaluation: per-action pooling, averaging over actions, and figures checked independently."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import posemoe.evaluate as evaluate_mod
from posemoe import PoseMoE, PoseMoEConfig
from posemoe.checkpoint import make_checkpoint, save_checkpoint
from posemoe.errors import PoseMoEError
from posemoe.data import load_positions_3d
from posemoe.evaluate import EvalConfig, evaluate, format_table, write_json


@pytest.fixture
def tiny_ckpt(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    model = PoseMoE(PoseMoEConfig(frames=9, dim=32, heads=4, encoder_layers=1, decoder_layers=1))
    with torch.no_grad():  # an untrained head predicts ~0 everywhere; make its output substantial
        for p in model.head.parameters():
            p.mul_(30.0)
    return save_checkpoint(make_checkpoint(model), tmp_path / "tiny.pt")


def test_report_structure_and_average(h36m_npz: Path, tiny_ckpt: Path, tmp_path: Path) -> None:
    report = evaluate(EvalConfig(checkpoint=str(tiny_ckpt), data_3d=str(h36m_npz), subjects=("S9",)), progress=False)
    assert set(report["per_action"]) == {"Directions", "Walking"}  # "Directions 1" pooled by base name
    assert report["frames"] == 2 * 4 * 60 and report["settings"]["cameras_used"].__len__() == 4
    for k in ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "pck150", "auc"):
        vals = [r[k] for r in report["per_action"].values()]
        assert report["average_over_actions"][k] == pytest.approx(np.mean(vals), abs=0.01)
    avg = report["average_over_actions"]
    assert 0 < avg["p_mpjpe"] <= avg["mpjpe"]
    table = format_table(report)
    assert "Walking" in table and "average" in table and "flip on" in table
    path = write_json(report, tmp_path / "r" / "report.json")
    assert path.read_text().startswith("{")


def test_zero_prediction_scores_mean_bone_reach(h36m_npz: Path, tiny_ckpt: Path, monkeypatch) -> None:
    """A model that predicts every joint at the root has MPJPE = mean distance of the joints from
    the pelvis, which is independent of the camera and can be computed from the world poses."""
    monkeypatch.setattr(evaluate_mod, "lift_normalized", lambda model, x, **kw: np.zeros((len(x), 17, 3), np.float32))
    report = evaluate(EvalConfig(checkpoint=str(tiny_ckpt), data_3d=str(h36m_npz), subjects=("S9",)), progress=False)
    world = load_positions_3d(h36m_npz)["S9"]
    for action, key in (("Walking", "Walking"), ("Directions 1", "Directions")):
        p = world[action].astype(np.float64)
        want = np.linalg.norm(p - p[:, :1], axis=-1).mean() * 1000
        assert report["per_action"][key]["mpjpe"] == pytest.approx(want, abs=0.02)
        assert report["per_action"][key]["mpjve"] == pytest.approx(
            np.linalg.norm(np.diff(p - p[:, :1], axis=0), axis=-1).mean() * 1000, abs=0.02)


def test_flip_changes_the_prediction(h36m_npz: Path, tiny_ckpt: Path) -> None:
    on = evaluate(EvalConfig(checkpoint=str(tiny_ckpt), data_3d=str(h36m_npz), subjects=("S9",)), progress=False)
    off = evaluate(EvalConfig(checkpoint=str(tiny_ckpt), data_3d=str(h36m_npz), subjects=("S9",), flip=False),
                   progress=False)
    assert on["average_over_actions"]["mpjpe"] != off["average_over_actions"]["mpjpe"]


def test_report_splits_error_into_image_plane_and_depth(h36m_npz: Path, tiny_ckpt: Path) -> None:
    report = evaluate(EvalConfig(checkpoint=str(tiny_ckpt), data_3d=str(h36m_npz), subjects=("S9",)), progress=False)
    for r in [*report["per_action"].values(), report["average_over_actions"]]:
        assert 0 < r["xy"] <= r["mpjpe"] and 0 < r["z"] <= r["mpjpe"]
        # per joint, |e| <= |e_xy| + |e_z|, so the parts cannot sum to less than the whole
        assert r["xy"] + r["z"] >= r["mpjpe"] - 0.02
    assert "x,y error" in format_table(report) and "z error" in format_table(report)


def test_perturbed_input_follows_the_documented_noise_model(h36m_npz: Path, tiny_ckpt: Path, monkeypatch) -> None:
    """--noise-px / --joint-dropout: the network sees Gaussian pixel noise of the stated size and
    joints zeroed at the stated rate, drawn from a fixed seed."""
    seen: list[np.ndarray] = []
    real = evaluate_mod.lift_normalized

    def spy(model, x, **kw):
        seen.append(np.array(x))
        return real(model, x, **kw)

    monkeypatch.setattr(evaluate_mod, "lift_normalized", spy)
    ec = EvalConfig(checkpoint=str(tiny_ckpt), data_3d=str(h36m_npz), subjects=("S9",))
    clean = evaluate(ec, progress=False)
    clean_x, seen[:] = list(seen), []
    noisy_cfg = EvalConfig(**{**ec.__dict__, "noise_px": 8.0, "joint_dropout": 0.1, "noise_seed": 3})
    noisy = evaluate(noisy_cfg, progress=False)
    noisy_x, seen[:] = list(seen), []
    again = evaluate(noisy_cfg, progress=False)
    assert again["average_over_actions"] == noisy["average_over_actions"]  # same seed, same figures
    assert noisy["average_over_actions"]["mpjpe"] != clean["average_over_actions"]["mpjpe"]
    assert "perturbed" in noisy["settings"]["two_d"] and "8 px" in noisy["settings"]["two_d"]

    clean_all, noisy_all = np.concatenate(clean_x), np.concatenate(noisy_x)
    dropped = np.all(noisy_all[..., :2] == 0.0, axis=-1)
    assert 0.07 < dropped.mean() < 0.13
    kept = ~dropped
    diff_px = (noisy_all[kept][:, :2] - clean_all[kept][:, :2]) * 1000 / 2.0  # image width 1000 in the fixture
    assert diff_px.std() == pytest.approx(8.0, rel=0.1) and abs(diff_px.mean()) < 0.5


def test_every_kth_sequence_spans_actions_and_cameras(h36m_npz: Path, tiny_ckpt: Path) -> None:
    # S9 fixture: 2 actions x 4 cameras = 8 sequences of 60 frames; every 3rd -> sequences 0, 3, 6
    report = evaluate(EvalConfig(checkpoint=str(tiny_ckpt), data_3d=str(h36m_npz), subjects=("S9",),
                                 sequence_step=3), progress=False)
    assert report["sequences"] == 3 and report["frames"] == 3 * 60
    assert set(report["per_action"]) == {"Directions", "Walking"}
    assert len(report["settings"]["cameras_used"]) == 3
    with pytest.raises(PoseMoEError, match="sequence_step"):
        evaluate(EvalConfig(checkpoint=str(tiny_ckpt), data_3d=str(h36m_npz), sequence_step=0), progress=False)


def test_camera_invariance_table(h36m_npz: Path, tmp_path: Path) -> None:
    from posemoe.evaluate import evaluate_cameras, format_camera_table
    from posemoe.virtual_camera import EVAL_CAMERAS

    torch.manual_seed(0)
    model = PoseMoE(PoseMoEConfig(frames=9, dim=32, heads=4, encoder_layers=1, decoder_layers=1, input_norm="body"))
    with torch.no_grad():
        for p in model.head.parameters():
            p.mul_(30.0)
    ckpt = save_checkpoint(make_checkpoint(model), tmp_path / "body.pt")
    ec = EvalConfig(checkpoint=str(ckpt), data_3d=str(h36m_npz), subjects=("S9",))
    report = evaluate_cameras(ec, progress=False)
    rows = report["rows"]
    assert list(rows) == ["h36m", *[s.name for s in EVAL_CAMERAS]]
    assert rows["h36m"]["ratio"] == 1.0 and rows["h36m"]["frames"] == 2 * 60
    for r in rows.values():
        assert r["mpjpe"] > 0 and r["accel"] > 0 and r["bone_cv"] > 0  # a random model: never exact
    assert report["worst_virtual_ratio"] == max(rows[s.name]["ratio"] for s in EVAL_CAMERAS)
    # the figures are those of the plain evaluation of the same 2D: the h36m row recomputed by hand,
    # lifted in a camera turned to the person with the camera's own focal length and principal point
    from posemoe.camera import H36M_CAMERA_IDS, load_h36m_cameras, normalize_screen, project_to_pixels, world_to_camera
    from posemoe.lifter import lift_normalized
    from posemoe.metrics import mpjpe
    from posemoe.view_rotation import screen_focal

    world = load_positions_3d(h36m_npz)["S9"]
    errs, errs_as_filmed = [], []
    for i, action in enumerate(sorted(world)):
        cam = load_h36m_cameras()["S9"][H36M_CAMERA_IDS[i]]
        pc = world_to_camera(world[action].astype(np.float64), cam)
        x = normalize_screen(project_to_pixels(pc, cam), cam.res_w, cam.res_h).astype(np.float32)
        principal = normalize_screen(np.asarray(cam.c, dtype=np.float64), cam.res_w, cam.res_h)
        pred = lift_normalized(model.eval(), x, focal=screen_focal(float(np.mean(cam.f)), cam.res_w),
                               principal=tuple(principal))
        errs.append(mpjpe((pred - pred[:, :1]) * 1000.0, (pc - pc[:, :1]) * 1000.0))
        pred = lift_normalized(model.eval(), x)
        errs_as_filmed.append(mpjpe((pred - pred[:, :1]) * 1000.0, (pc - pc[:, :1]) * 1000.0))
    assert rows["h36m"]["mpjpe"] == pytest.approx(np.mean(errs), abs=0.02)
    assert report["settings"]["look_at_person"] is True
    as_filmed = evaluate_cameras(EvalConfig(**{**ec.__dict__, "look_at_person": False}), camera_names=("portrait",),
                                 progress=False)
    assert as_filmed["rows"]["h36m"]["mpjpe"] == pytest.approx(np.mean(errs_as_filmed), abs=0.02)
    assert abs(np.mean(errs) - np.mean(errs_as_filmed)) > 0.05  # the turn changes what the network sees
    table = format_camera_table(report)
    assert "left-edge" in table and "worst virtual camera" in table
    only = evaluate_cameras(ec, camera_names=("portrait",), progress=False)
    assert list(only["rows"]) == ["h36m", "portrait"]
    with pytest.raises(PoseMoEError, match="expected names from"):
        evaluate_cameras(ec, camera_names=("drone",), progress=False)


def test_scoring_the_3d_as_the_video_pipeline_gives_it(h36m_npz: Path, tiny_ckpt: Path) -> None:
    """--smooth and --bones score the network's output after the video pipeline's smoothing and
    median bone lengths: smoother (lower velocity and acceleration error), constant bones."""
    base = dict(checkpoint=str(tiny_ckpt), data_3d=str(h36m_npz), subjects=("S9",))
    raw = evaluate(EvalConfig(**base), progress=False)["average_over_actions"]
    smooth = evaluate(EvalConfig(**base, smooth="butter:4,2"), progress=False)["average_over_actions"]
    fixed = evaluate(EvalConfig(**base, smooth="butter:4,2", bones="median"), progress=False)
    assert smooth["mpjve"] < raw["mpjve"] and smooth["accel"] < raw["accel"]
    assert fixed["average_over_actions"]["bone_cv"] < 0.01 < raw["bone_cv"]
    assert "smoothed with butter:4,2, bones median" in fixed["settings"]["two_d"]
    with pytest.raises(PoseMoEError, match="--smooth"):
        EvalConfig(**base, smooth="wobble")
    with pytest.raises(PoseMoEError, match="--bones 'rigid'"):
        EvalConfig(**base, bones="rigid")
