"""Tests for pipeline.compare_video and `posemoe compare` with results files (and eval reports)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.compare_video import (
    CompareRenderer,
    is_results_file,
    match_people,
    pose_difference_mm,
)
from pipeline.export import Results, save_results
from pipeline.render.benchmark import _synthetic_clip
from pipeline.video_io import VideoWriter, probe
from posemoe.errors import PoseMoEError

runner = CliRunner()
SIZE = (320, 240)
FRAMES = 10


def make_pair(frames: int = FRAMES, fps_b: float = 25.0, frames_b: int | None = None) -> tuple[Results, Results]:
    """Two results of one synthetic clip: B's 3D differs from A's by 30 mm on every joint but the pelvis."""
    k2, s2, k3, ids = _synthetic_clip(frames, SIZE, 2)
    a = Results(frame_index=np.arange(frames), time_s=np.arange(frames) / 25.0, fps=25.0, image_size=SIZE,
                track_ids=ids, keypoints2d=k2, scores2d=s2, keypoints3d=k3,
                checkpoint={"name": "tiny.pt", "path": None, "sha256": None},
                backend2d={"name": "mediapipe", "reason": "test"})
    fb = frames if frames_b is None else frames_b
    k3b = k3[:, :fb].copy()
    k3b[..., 1:, 0] += 0.030
    # B numbers its tracks the other way round (another backend), in reverse order
    b = Results(frame_index=np.arange(fb), time_s=np.arange(fb) / fps_b, fps=fps_b, image_size=SIZE,
                track_ids=np.array([7, 5]), keypoints2d=k2[::-1, :fb] + 1.0, scores2d=s2[::-1, :fb],
                keypoints3d=k3b[::-1], checkpoint={"name": "small.pt", "path": None, "sha256": None},
                backend2d={"name": "mmpose", "reason": "test"})
    return a, b


def test_difference_matches_people_and_aligns_roots() -> None:
    a, b = make_pair()
    assert sorted(match_people(a, b)) == [(0, 1), (1, 0)]
    d = pose_difference_mm(a, b)
    assert d.shape == (FRAMES,)
    np.testing.assert_allclose(d, 30.0 * 16 / 17, rtol=1e-4)  # 16 of 17 joints off by 30 mm
    b.keypoints3d[...] += np.float32(5.0)  # a different root position changes nothing
    np.testing.assert_allclose(pose_difference_mm(a, b), 30.0 * 16 / 17, rtol=1e-3)


def test_results_files_are_recognised_by_content(tmp_path: Path) -> None:
    a, _ = make_pair()
    npz, js = save_results(tmp_path / "a.npz", a), save_results(tmp_path / "a.json", a)
    assert is_results_file(npz) and is_results_file(js)
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"average_over_actions": {"mpjpe": 50.0}, "per_action": {},
                                  "settings": {"two_d": "x"}}))
    other = tmp_path / "other.npz"
    np.savez(other, poses=np.zeros(3))
    assert not is_results_file(report) and not is_results_file(other)
    assert not is_results_file(tmp_path / "missing.npz")


def test_compare_renders_a_video_of_two_results(tmp_path: Path) -> None:
    a, b = make_pair()
    pa, pb = save_results(tmp_path / "a.npz", a), save_results(tmp_path / "b.json", b)
    src = tmp_path / "clip.mp4"
    with VideoWriter(src, 25.0, SIZE) as writer:
        for f in range(FRAMES + 2):
            writer.write(np.full((SIZE[1], SIZE[0], 3), 20 * f, np.uint8))
    expected = CompareRenderer(a, b).output_size
    for video in (None, src):
        out = tmp_path / f"cmp_{'video' if video else 'plain'}.mp4"
        args = ["compare", str(pa), str(pb), "-o", str(out), "-q"] + (["--video", str(video)] if video else [])
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "tiny.pt / mediapipe" in result.output and "small.pt / mmpose" in result.output
        assert "2 people matched" in result.output and "mean 28.2 mm" in result.output
        info = probe(out)
        assert info.frame_count == FRAMES and (info.width, info.height) == expected
        assert info.fps == pytest.approx(25.0)
    # the layout: the frame, then two 3D panels of the frame's height
    w, h = SIZE
    assert expected[1] == h and expected[0] >= w + 2 * int(0.75 * h)
    # without -o: the summary only
    result = runner.invoke(app, ["compare", str(pa), str(pb)])
    assert result.exit_code == 0 and "mean 28.2 mm" in result.output, result.output


def test_compare_frame_content() -> None:
    a, b = make_pair()
    r = CompareRenderer(a, b, ["A model", "B model"])
    img = r.render(None, 4)
    assert img.shape == (r.output_size[1], r.output_size[0], 3)
    assert r.header(4) == ["frame 4  00:00.16", "A vs B: 28.2 mm per joint"]
    (x0, _, w0, h0), (x1, _, w1, _) = r._panels
    pa, pb = img[:, x0:x0 + w0].astype(int), img[:, x1:x1 + w1].astype(int)
    blue = (pa[..., 0] - pa[..., 2] > 80).sum()  # A's panel: blue figures; B's: orange ones
    orange = (pb[..., 2] - pb[..., 0] > 80).sum()
    assert blue > 200 and orange > 200
    assert (pa[..., 2] - pa[..., 0] > 80).sum() < 20  # (the title text is grey)
    # both panels share one framing: the same pose projects to the same pixels
    np.testing.assert_allclose(r.scenes[0].project(4, (w0, h0))[0], r.scenes[1].project(4, (w1, h0))[1],
                               atol=0.03 * r.scenes[0].pixels_per_metre((w0, h0)) + 1.0)


def test_compare_errors_are_one_line(tmp_path: Path) -> None:
    a, _ = make_pair()
    pa = save_results(tmp_path / "a.npz", a)
    for name, (fps_b, frames_b), needle in (("short", (25.0, FRAMES - 2), "frames"), ("fast", (30.0, FRAMES), "fps")):
        _, b = make_pair(fps_b=fps_b, frames_b=frames_b)
        pb = save_results(tmp_path / f"{name}.npz", b)
        result = runner.invoke(app, ["compare", str(pa), str(pb), "-o", str(tmp_path / "x.mp4")])
        assert result.exit_code == 2 and needle in result.output and len(result.output.strip().splitlines()) == 1, \
            result.output
        assert not (tmp_path / "x.mp4").exists()
    with pytest.raises(PoseMoEError, match="frames"):
        CompareRenderer(a, make_pair(frames_b=FRAMES - 1)[1])
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"average_over_actions": {"mpjpe": 50.0}, "per_action": {},
                                  "settings": {"two_d": "x"}}))
    result = runner.invoke(app, ["compare", str(pa), str(report)])
    assert result.exit_code == 2 and "report.json" in result.output and "not a posemoe results file" in result.output
    result = runner.invoke(app, ["compare", str(pa)])
    assert result.exit_code == 2 and "two results files" in result.output


def test_compare_of_eval_reports_still_prints_a_table(tmp_path: Path) -> None:
    paths = []
    for name, mpjpe in (("clean", 50.0), ("noisy", 62.5)):
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps({"average_over_actions": {"mpjpe": mpjpe, "p_mpjpe": mpjpe * 0.8}, "per_action": {},
                                 "settings": {"two_d": "ground truth projected through the cameras"}}))
        paths.append(str(p))
    result = runner.invoke(app, ["compare", *paths, "--labels", "clean,noisy"])
    assert result.exit_code == 0, result.output
    rows = [ln for ln in result.output.splitlines() if ln.startswith("| clean") or ln.startswith("| noisy")]
    assert len(rows) == 2 and rows[0].endswith("+0.00 |") and rows[1].endswith("+12.50 |")
    result = runner.invoke(app, ["compare", *paths, "-o", str(tmp_path / "x.mp4")])
    assert result.exit_code == 2 and "results files" in result.output
