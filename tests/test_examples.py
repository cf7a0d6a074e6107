"""The runnable examples keep working."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from posemoe import PoseMoE, PoseMoEConfig
from posemoe.checkpoint import make_checkpoint, save_checkpoint

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_lift_keypoints_example(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = PoseMoE(PoseMoEConfig(frames=9, dim=32, heads=4, encoder_layers=1, decoder_layers=1))
    ckpt = save_checkpoint(make_checkpoint(model), tmp_path / "m.pt")
    proc = subprocess.run([sys.executable, str(EXAMPLES / "lift_keypoints.py"), str(ckpt)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    pose3d = np.load(tmp_path / "pose3d.npy")
    assert pose3d.shape == (100, 17, 3) and np.isfinite(pose3d).all()
    assert "lifted 100 frames with a 9-frame model" in proc.stdout


def test_plot_training_log_example(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    recs = [{"type": "step", "step": s, "loss_mpjpe": 0.4 / s} for s in range(1, 20)]
    recs += [{"type": "epoch", "step": 10, "val_mpjpe_mm": 90.0}, {"type": "epoch", "step": 19, "val_mpjpe_mm": 60.0}]
    log.write_text("\n".join(json.dumps(r) for r in recs))
    proc = subprocess.run([sys.executable, str(EXAMPLES / "plot_training_log.py"), str(log), str(tmp_path / "c.png")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_learning_curves_example(tmp_path: Path) -> None:
    runs = []
    for name, batch in (("a", 8), ("b", 16)):
        d = tmp_path / name
        d.mkdir()
        (d / "train_config.json").write_text(json.dumps({"preset": "tiny-27", "batch_size": batch,
                                                         "model_overrides": {}}))
        recs = [{"type": "epoch", "step": s, "val_mpjpe_mm": 200.0 / s, "minutes": s / 10} for s in (10, 20, 40)]
        (d / "log.jsonl").write_text("\n".join(json.dumps(r) for r in recs))
        runs.append(f"{name}={d / 'log.jsonl'}")
    proc = subprocess.run([sys.executable, str(EXAMPLES / "compare_learning_curves.py"), str(tmp_path / "c.png"), *runs],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    from examples.compare_learning_curves import frames_per_step

    assert frames_per_step(tmp_path / "b" / "log.jsonl") == 16 * 27
    proc = subprocess.run([sys.executable, str(EXAMPLES / "compare_learning_curves.py"), "--x", "minutes",
                           str(tmp_path / "m.png"), f"chain={runs[0].split('=')[1]}+{runs[1].split('=')[1]}"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    from examples.compare_learning_curves import curve

    xs, ys = curve([tmp_path / "a" / "log.jsonl", tmp_path / "b" / "log.jsonl"], "minutes")
    assert xs == [1.0, 2.0, 4.0, 5.0, 6.0, 8.0] and ys[3] == 20.0  # b's minutes counted after a's
    xs, _ = curve([tmp_path / "a" / "log.jsonl", tmp_path / "b" / "log.jsonl"], "frames")
    assert xs[3] == 40 * 8 * 27 + 10 * 16 * 27
