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


def test_video_stability_example(tmp_path: Path) -> None:
    """A rigid skeleton has bone CV 0; a skeleton whose joints alternate by 1 cm has 2 cm/frame^2
    of jitter; a track seen on too few frames is skipped."""
    from pipeline.export import Results, save_results
    from conftest import synthetic_motion

    f = 30
    rigid = synthetic_motion(1, seed=0)[0] - synthetic_motion(1, seed=0)[0][:1]
    k3 = np.repeat(rigid[None, None], 2, axis=0).repeat(f, axis=1).astype(np.float32)  # (2, F, 17, 3)
    k3[0, ::2, :, 0] += 0.01  # track 0 shakes sideways by 1 cm every other frame (bones unchanged)
    k3[1, 5:] = np.nan  # track 1 is seen on 5 frames only
    res = Results(frame_index=np.arange(f), time_s=np.arange(f) / 25, fps=25.0, image_size=(640, 480),
                  track_ids=np.array([3, 7]), keypoints2d=np.full((2, f, 17, 2), 100.0),
                  scores2d=np.ones((2, f, 17)), keypoints3d=k3)
    save_results(tmp_path / "r.npz", res)
    proc = subprocess.run([sys.executable, str(EXAMPLES / "video_stability.py"), "r.npz", "--json", "s.json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "PYTHONPATH": str(EXAMPLES.parent)})
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((tmp_path / "s.json").read_text())["r.npz"]
    assert [r["track"] for r in rows] == [3]
    assert rows[0]["bone_cv"] < 1e-6 and abs(rows[0]["jitter_mm_per_frame2"] - 20.0) < 1e-3
    assert "track   3 (30 frames)" in proc.stdout


def test_smallest_person_example_pastes_a_findable_person(tmp_path: Path) -> None:
    """The example's scene: the pasted person is where it says, and the backend finds someone
    there at 240 px in a 1280x720 frame (the table's figures come from the full run)."""
    import importlib.util

    import pytest

    video = EXAMPLES.parent.parent / "shared" / "data" / "videos" / "two_people.mp4"
    if not video.is_file():
        pytest.skip(f"{video} not present")
    spec = importlib.util.spec_from_file_location("smallest_person", EXAMPLES / "smallest_person.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    frame = mod.read_frame(video)
    image, box = mod.scene(frame, (1280, 720), 240, 0.5)
    assert image.shape == (720, 1280, 3) and box[3] - box[1] == round(670 * 240 / 615)
    assert abs((box[0] + box[2]) / 2 - 640) <= 1
    from pipeline.pose2d.mediapipe import MediaPipePeopleBackend

    with MediaPipePeopleBackend() as backend:
        assert mod.found(backend, image, box)
    blank, _ = mod.scene(frame, (1280, 720), 240, 0.5)
    blank[box[1]:box[3], box[0]:box[2]] = blank[0:box[3] - box[1], 0:box[2] - box[0]]  # the person painted over
    with MediaPipePeopleBackend() as backend:
        assert not mod.found(backend, blank, box)
