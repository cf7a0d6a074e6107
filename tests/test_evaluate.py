"""Evaluation: per-action pooling, averaging over actions, and figures checked independently."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import posemoe.evaluate as evaluate_mod
from posemoe import PoseMoE, PoseMoEConfig
from posemoe.checkpoint import make_checkpoint, save_checkpoint
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
