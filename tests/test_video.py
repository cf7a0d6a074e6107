"""`posemoe video` and `posemoe lift` end to end on the project's own synthetic clip (real
MediaPipe 2D, a small random-weight lifter made here), and their one-line errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.export import load_results
from pipeline.video_io import VideoWriter, probe
from posemoe import PoseMoE, PoseMoEConfig
from posemoe.checkpoint import make_checkpoint, save_checkpoint

pytest.importorskip("mediapipe")
runner = CliRunner()
CLIP = Path(__file__).resolve().parent.parent / "examples" / "synthetic_walk.mp4"


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = PoseMoE(PoseMoEConfig(frames=9, dim=32, heads=4, encoder_layers=1, decoder_layers=1, in_channels=3))
    return save_checkpoint(make_checkpoint(model), tmp_path_factory.mktemp("w") / "tiny.pt")


def _error(result, *fragments: str) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    line = [ln for ln in result.output.splitlines() if ln.startswith("error: ")]
    assert len(line) == 1, result.output
    for f in fragments:
        assert f in line[0], (f, line[0])
    return line[0]


def test_video_renders_and_exports_the_synthetic_walk(ckpt: Path, tmp_path: Path) -> None:
    out, data = tmp_path / "out.mp4", tmp_path / "poses.npz"
    result = runner.invoke(app, ["video", str(CLIP), "-o", str(out), "--save", str(data), "-c", str(ckpt), "-q"])
    assert result.exit_code == 0, result.output
    assert "1 people tracked" in result.output and "frames/s end to end" in result.output
    src, rendered = probe(CLIP), probe(out)
    assert rendered.frame_count == src.frame_count == 100 and rendered.fps == pytest.approx(src.fps)
    assert (rendered.width, rendered.height) == (src.width + src.height, src.height)  # frame + square 3D panel
    res = load_results(data)
    assert res.keypoints2d.shape == (1, 100, 17, 2) and res.keypoints3d.shape == (1, 100, 17, 3)
    present = res.present[0]
    assert present.mean() > 0.9  # MediaPipe finds the figure on (nearly) every frame
    assert np.isfinite(res.keypoints3d[0, present]).all()
    np.testing.assert_allclose(res.keypoints3d[0, present, 0], 0.0, atol=1e-5)  # root-relative
    assert res.backend2d["name"] == "mediapipe" and res.checkpoint["sha256"]

    # lift the exported 2D again, without a detector: same 3D, as JSON and as a 3D-only video
    again = tmp_path / "again.json"
    result = runner.invoke(app, ["lift", str(data), "-o", str(again), "-c", str(ckpt), "-q"])
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(load_results(again).keypoints3d, res.keypoints3d, atol=2e-4, equal_nan=True)
    movie = tmp_path / "lifted.mp4"
    result = runner.invoke(app, ["lift", str(data), "-o", str(movie), "-c", str(ckpt), "-q"])
    assert result.exit_code == 0, result.output
    assert probe(movie).frame_count == 100


def test_video_without_people_still_writes_the_video(ckpt: Path, tmp_path: Path) -> None:
    blank = tmp_path / "blank.mp4"
    with VideoWriter(blank, 10, (160, 120)) as w:
        for _ in range(6):
            w.write(np.full((120, 160, 3), 200, np.uint8))
    out = tmp_path / "out.mp4"
    result = runner.invoke(app, ["video", str(blank), "-o", str(out), "-c", str(ckpt), "-q"])
    assert result.exit_code == 0, result.output
    assert "no person found" in result.output and probe(out).frame_count == 6


def test_bad_inputs_give_one_line_errors_and_leave_no_file(ckpt: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    out = tmp_path / "o.mp4"
    _error(runner.invoke(app, ["video", str(tmp_path / "missing.mp4"), "-o", str(out), "-c", str(ckpt)]), "missing.mp4")
    _error(runner.invoke(app, ["video", str(empty), "-o", str(out), "-c", str(ckpt)]), "empty.mp4")
    _error(runner.invoke(app, ["video", str(text), "-o", str(out), "-c", str(ckpt)]), "notes.mp4")
    _error(runner.invoke(app, ["video", str(CLIP), "-o", str(CLIP), "-c", str(ckpt)]), "overwrite the input")
    _error(runner.invoke(app, ["video", str(CLIP), "-o", str(text / "dir" / "o.mp4"), "-c", str(ckpt)]),
           "is not a folder")  # a missing folder is created; one under a regular file cannot be
    _error(runner.invoke(app, ["video", str(CLIP), "-c", str(ckpt)]), "nothing to write")
    _error(runner.invoke(app, ["video", str(CLIP), "-o", str(out), "--view", "top", "-c", str(ckpt)]), "--view")
    _error(runner.invoke(app, ["video", str(CLIP), "-o", str(tmp_path / "o.avi"), "-c", str(ckpt)]), ".mp4")
    _error(runner.invoke(app, ["video", str(CLIP), "-o", str(out), "-c", str(text)]), "notes.mp4")
    _error(runner.invoke(app, ["lift", str(text), "-o", str(tmp_path / "x.npz"), "-c", str(ckpt)]), "notes.mp4")
    _error(runner.invoke(app, ["lift", str(CLIP), "-o", str(tmp_path / "x.npz"), "--image-size", "big"]), "--image-size")
    assert not out.exists() and not (tmp_path / "x.npz").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.mp4", "notes.mp4"]  # no partial files


def test_lifting_uses_two_threads_only_when_openmp_waits_are_passive(monkeypatch) -> None:
    import subprocess

    from pipeline.video import LIFT_THREADS, lift_threads

    monkeypatch.setenv("OMP_WAIT_POLICY", "passive")
    assert lift_threads() == LIFT_THREADS == 2
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert lift_threads() == 1
    monkeypatch.delenv("OMP_WAIT_POLICY")
    assert lift_threads() == 1
    # importing pipeline before torch makes the waits passive, unless the user chose otherwise
    code = "import os, pipeline, torch; print(os.environ.get('OMP_WAIT_POLICY'))"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "PASSIVE"
    out = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "ACTIVE"},
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ACTIVE"
    code = "import os, torch, pipeline; print(os.environ.get('OMP_WAIT_POLICY'))"  # too late to matter: left alone
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "None"
