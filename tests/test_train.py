"""Training: a tiny run overfits, checkpoints describe themselves, resume continues, DDP runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from posemoe.checkpoint import read_checkpoint
from posemoe.errors import PoseMoEError
from posemoe.losses import LossWeights
from posemoe.model import PoseMoE
from posemoe.train import TrainConfig, build_datasets, train, validate

TINY = {"frames": 9, "dim": 32, "heads": 4, "encoder_layers": 1, "decoder_layers": 1, "drop_path": 0.0}


def tiny_config(data: Path, out: Path, **kw) -> TrainConfig:
    base = dict(data_3d=str(data), out=str(out), preset="small-27", model_overrides=dict(TINY),
                train_subjects=("S1",), val_subjects=("S1",), batch_size=8, stride=9, flip=False,
                lr=3e-3, warmup_steps=10, val_clips=32, epochs=2, log_every=5, seed=0)
    return TrainConfig(**{**base, **kw})


def test_tiny_run_overfits_a_few_clips(h36m_npz: Path, tmp_path: Path) -> None:
    # plain MPJPE and a high learning rate: this checks that the loop can fit, not the recipe
    tc = tiny_config(h36m_npz, tmp_path / "run", epochs=40, val_clips=64, lr=3e-3, warmup_steps=20,
                     loss=LossWeights(n_mpjpe=0.0, velocity=0.0), log_every=50)
    torch.manual_seed(tc.seed)
    untrained = PoseMoE(tc.model_config())
    _, val = build_datasets(tc, untrained.frames)
    before = validate(untrained, val, tc.val_clips, torch.device("cpu"), 16)
    summary = train(tc)
    after = summary["last_val_mpjpe_mm"]
    assert after * 3 <= before, f"MPJPE {before:.1f} -> {after:.1f} mm: did not fall 3x"  # measured 409 -> 102
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    epochs = [r for r in log if r["type"] == "epoch"]
    steps = [r for r in log if r["type"] == "step"]
    assert len(epochs) == 40 and steps and all(r["frames_per_s"] > 0 for r in steps)


def test_checkpoints_describe_themselves_and_resume(h36m_npz: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    tc = tiny_config(h36m_npz, out, epochs=2)
    first = train(tc, command=["posemoe", "train", "--test"])
    ckpt = read_checkpoint(out / "last.pt")
    assert ckpt["config"]["dim"] == 32 and ckpt["joints"] == "h36m17"
    assert ckpt["train"]["command"] == ["posemoe", "train", "--test"] and ckpt["train"]["revision"]
    assert ckpt["train"]["epoch"] == 2 and "val_mpjpe_mm" in ckpt["metrics"]
    assert "state" in ckpt and "state" not in read_checkpoint(out / "best.pt")

    resumed = train(replace(tc, epochs=3, resume=True))
    assert resumed["epochs_done"] == 3
    assert resumed["steps"] == first["steps"] * 3 // 2
    assert read_checkpoint(out / "last.pt")["train"]["epoch"] == 3
    epochs = [json.loads(line)["epoch"] for line in (out / "log.jsonl").read_text().splitlines()
              if json.loads(line)["type"] == "epoch"]
    assert epochs == [1, 2, 3]

    with pytest.raises(PoseMoEError, match="config differs"):
        train(replace(tc, epochs=4, resume=True, model_overrides={**TINY, "dim": 64}))


def test_resume_without_checkpoint_is_a_clear_error(h36m_npz: Path, tmp_path: Path) -> None:
    with pytest.raises(PoseMoEError, match="last.pt: checkpoint file not found"):
        train(tiny_config(h36m_npz, tmp_path / "empty", resume=True))


@pytest.mark.slow
def test_two_process_ddp_run_completes(h36m_npz: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    sets = [a for k, v in TINY.items() for a in ("--set", f"{k}={v}")]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "pipeline.cli", "train", "--data-3d", str(h36m_npz), "--out", str(out), *sets,
           "--epochs", "2", "--batch-size", "4", "--val-clips", "8", "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "cpu x2" in proc.stderr
    ckpt = read_checkpoint(out / "last.pt")
    assert ckpt["train"]["world_size"] == 2 and ckpt["train"]["epoch"] == 2


def test_accuracy_path_train_export_eval(h36m_npz: Path, tmp_path: Path) -> None:
    """Regression guard for the whole accuracy path on the synthetic walker: train with the
    shipped recipe's augmentation and confidence channel, export to float16, evaluate on the
    held-out subject. The half-precision file must score within 0.1 mm of the float32 one, and
    the model must beat the trivial 'every joint at the pelvis' answer by a wide margin."""
    from posemoe.checkpoint import export_checkpoint
    from posemoe.data import load_positions_3d
    from posemoe.evaluate import EvalConfig, evaluate

    tc = tiny_config(h36m_npz, tmp_path / "run", epochs=15, confidence=True, noise_px=2.0, joint_dropout=0.05,
                     flip=True, val_subjects=("S9",), log_every=100)
    summary = train(tc)
    best = tmp_path / "run" / "best.pt"
    shipped = tmp_path / "ship.pt"
    export_checkpoint(best, shipped, half=True)
    full = evaluate(EvalConfig(checkpoint=str(best), data_3d=str(h36m_npz), subjects=("S9",)), progress=False)
    half = evaluate(EvalConfig(checkpoint=str(shipped), data_3d=str(h36m_npz), subjects=("S9",)), progress=False)
    f, h = full["average_over_actions"], half["average_over_actions"]
    assert abs(f["mpjpe"] - h["mpjpe"]) < 0.1 and abs(f["p_mpjpe"] - h["p_mpjpe"]) < 0.1

    world = load_positions_3d(h36m_npz)["S9"]
    trivial = np.mean([np.linalg.norm(p - p[:, :1], axis=-1).mean() * 1000 for p in world.values()])
    assert f["mpjpe"] < 0.5 * trivial, f"{f['mpjpe']:.1f} mm vs {trivial:.1f} mm for the trivial answer"
    assert summary["best_val_mpjpe_mm"] < 0.5 * trivial


def test_resize_frame_embedding_keeps_values_and_ends() -> None:
    from posemoe.train import resize_frame_embedding

    one = torch.randn(1, 1, 1, 6)
    stretched = resize_frame_embedding(one, 9)
    assert stretched.shape == (1, 9, 1, 6) and torch.equal(stretched, one.expand(1, 9, 1, 6))
    ramp = torch.arange(3.0).reshape(1, 3, 1, 1).repeat(1, 1, 1, 4)  # frames 0, 1, 2
    five = resize_frame_embedding(ramp, 5)
    assert torch.allclose(five[0, :, 0, 0], torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0]))
    assert torch.equal(resize_frame_embedding(ramp, 3), ramp)


def test_init_from_a_shorter_window_warm_starts_training(h36m_npz: Path, tmp_path: Path) -> None:
    # a 1-frame model trained briefly, then its weights start a 9-frame model
    short = tiny_config(h36m_npz, tmp_path / "f1", model_overrides={**TINY, "frames": 1}, epochs=6,
                        batch_size=64, stride=1, val_clips=288, save_every=3)
    train(short)
    src = read_checkpoint(tmp_path / "f1" / "last.pt")
    snaps = sorted(p.name for p in (tmp_path / "f1").glob("epoch*.pt"))
    assert snaps == ["epoch003.pt", "epoch006.pt"]
    assert read_checkpoint(tmp_path / "f1" / "epoch003.pt")["train"]["epoch"] == 3

    tc = tiny_config(h36m_npz, tmp_path / "f9", epochs=1, init_from=str(tmp_path / "f1" / "last.pt"))
    warm = PoseMoE(tc.model_config())
    from posemoe.train import init_from_checkpoint

    init_from_checkpoint(warm, tmp_path / "f1" / "last.pt")
    state = warm.state_dict()
    assert torch.equal(state["embed.proj.weight"], src["model"]["embed.proj.weight"].float())
    assert torch.equal(state["embed.frame_pos"], src["model"]["embed.frame_pos"].float().expand(1, 9, 1, -1))
    # the warm start already lifts: far better than a fresh model on the same clips
    torch.manual_seed(0)
    cold = PoseMoE(tc.model_config())
    _, val = build_datasets(tc, 9)
    cold_mm = validate(cold, val, 32, torch.device("cpu"), 16)
    warm_mm = validate(warm, val, 32, torch.device("cpu"), 16)
    assert warm_mm < 0.8 * cold_mm, (warm_mm, cold_mm)
    # and training from it runs, keeping the starting point beside the run
    assert train(tc)["epochs_done"] == 1
    start = read_checkpoint(tmp_path / "f9" / "init.pt")
    assert all(torch.equal(start["model"][k], v) for k, v in state.items())

    with pytest.raises(PoseMoEError, match="config differs in dim"):
        train(replace(tc, out=str(tmp_path / "bad"), model_overrides={**TINY, "dim": 64}))
