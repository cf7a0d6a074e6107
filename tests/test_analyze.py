"""`posemoe analyze`: bone-length statistics, router weights, the self-contained HTML report, CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from pipeline.analyze import BONE_NAMES, PAIRS, analyze, bone_cv, bone_lengths, summarize
from pipeline.cli import app
from pipeline.export import Results, checkpoint_info, save_results
from pipeline.lift import lift_tracks, lift_tracks_routed
from posemoe import PoseMoE, PoseMoEConfig
from posemoe.checkpoint import make_checkpoint, save_checkpoint
from posemoe.lifter import predict_windows, predict_windows_routed, router_layers
from posemoe.skeleton import H36M17, flip_pose

runner = CliRunner()

# a standing person, camera axes (x right, y down, z forward), metres, child <- parent; symmetric
_OFFSETS = {
    1: (-0.13, 0.0, 0.0), 2: (0.0, 0.44, 0.0), 3: (0.0, 0.44, 0.0),
    4: (0.13, 0.0, 0.0), 5: (0.0, 0.44, 0.0), 6: (0.0, 0.44, 0.0),
    7: (0.0, -0.23, 0.0), 8: (0.0, -0.25, 0.0), 9: (0.0, -0.11, -0.03), 10: (0.0, -0.12, 0.0),
    11: (0.17, 0.02, 0.0), 12: (0.0, 0.28, 0.0), 13: (0.0, 0.25, 0.0),
    14: (-0.17, 0.02, 0.0), 15: (0.0, 0.28, 0.0), 16: (0.0, 0.25, 0.0),
}


def skeleton_motion(frames: int, *, stretch_left_forearm: float = 0.0, phase: float = 0.0) -> np.ndarray:
    """(frames, 17, 3) root-relative poses turning about the vertical axis, arms swinging: every
    bone keeps its length, except the left forearm when `stretch_left_forearm` > 0."""
    out = np.zeros((frames, 17, 3))
    for t in range(frames):
        a = phase + 0.1 * t
        offsets = {j: np.array(o) for j, o in _OFFSETS.items()}
        swing = 0.6 * np.sin(a)  # arms swing forward/back about the x axis
        rx = np.array([[1, 0, 0], [0, np.cos(swing), -np.sin(swing)], [0, np.sin(swing), np.cos(swing)]])
        for j in (12, 13, 15, 16):
            offsets[j] = rx @ offsets[j]
        offsets[13] = offsets[13] * (1.0 + stretch_left_forearm * np.sin(0.3 * t))
        for j in range(1, 17):
            out[t, j] = out[t, H36M17.parents[j]] + offsets[j]
        yaw = 0.5 * np.sin(0.05 * t)
        ry = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
        out[t] = out[t] @ ry.T
    return out


def make_results(frames: int = 40, *, people: int = 2, checkpoint: Path | None = None) -> Results:
    """Track 0: rigid skeleton; track 1: left forearm stretching, absent for 8 frames in the middle."""
    k3 = np.stack([skeleton_motion(frames, phase=0.7 * p, stretch_left_forearm=0.3 if p == 1 else 0.0)
                   for p in range(people)]) if people else np.zeros((0, frames, 17, 3))
    k2 = 320.0 + 300.0 * k3[..., :2] + np.array([60.0, 0.0]) * np.arange(people)[:, None, None, None]
    rng = np.random.default_rng(0)
    scores = rng.uniform(0.4, 1.0, size=k3.shape[:3])
    if people > 1:
        k3[1, 15:23] = np.nan
        k2[1, 15:23] = np.nan
        scores[1, 15:23] = 0.0
    return Results(frame_index=np.arange(frames), time_s=np.arange(frames) / 25.0, fps=25.0, image_size=(640, 480),
                   track_ids=np.arange(people) + 3, keypoints2d=k2, scores2d=scores, keypoints3d=k3,
                   checkpoint=checkpoint_info(checkpoint) if checkpoint else None,
                   backend2d={"name": "synthetic", "reason": "test"})


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small random PoseMoE with 3 experts and a confidence channel (fast on CPU)."""
    torch.manual_seed(0)
    cfg = PoseMoEConfig(frames=9, in_channels=3, dim=16, heads=2, encoder_layers=1, decoder_layers=1, experts=3,
                        drop_path=0.0)
    model = PoseMoE(cfg).eval()
    with torch.no_grad():  # make the routers decisive, so their weights differ between joints and frames
        for name, p in model.named_parameters():
            if name.endswith("moe.router.weight"):
                p.normal_(0.0, 0.5)
    path = tmp_path_factory.mktemp("ckpt") / "small.pt"
    save_checkpoint(make_checkpoint(model), path)
    return path


@pytest.fixture(scope="module")
def report(small_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory):
    """A report on two tracks whose 3D was lifted by the small checkpoint (so the router weights
    recomputed by analyze belong to these poses)."""
    from posemoe.checkpoint import load_checkpoint

    res = make_results(checkpoint=small_checkpoint)
    model, _ = load_checkpoint(small_checkpoint)
    res.keypoints3d = lift_tracks(model, res.keypoints2d, res.scores2d, res.present, res.image_size)
    folder = tmp_path_factory.mktemp("analyze")
    path = save_results(folder / "res.npz", res)
    return analyze(path, folder / "report"), res


def test_rigid_skeleton_has_zero_cv_and_a_stretched_limb_is_the_worst() -> None:
    res = make_results(60)
    lengths = bone_lengths(res.keypoints3d)
    assert lengths.shape == (2, 60, 16)
    assert np.isnan(lengths[1, 15:23]).all() and np.isfinite(lengths[1, :15]).all()
    cv = bone_cv(lengths)
    assert np.nanmax(cv[0]) < 1e-6  # constant lengths (float32 storage)
    summary = summarize(res)
    rigid, stretched = summary["tracks"][0], summary["tracks"][1]
    assert rigid["track_id"] == 3 and rigid["mean_bone_cv"] < 1e-6
    assert rigid["bone_mean_length_m"]["left forearm"] == pytest.approx(0.25)
    assert all(v == pytest.approx(1.0) for v in rigid["median_left_right_ratio"].values())
    assert stretched["frames_present"] == 52 and stretched["worst_bone"] == "left forearm"
    assert stretched["worst_bone_cv"] > 0.1 and stretched["least_symmetric_limb"] == "forearm"
    assert len(BONE_NAMES) == 16 and len(PAIRS) == 6


def test_routed_lifting_gives_the_same_poses_and_router_weights_that_sum_to_one(small_checkpoint: Path) -> None:
    from posemoe.checkpoint import load_checkpoint

    model, _ = load_checkpoint(small_checkpoint)
    res = make_results(30)
    pose = lift_tracks(model, res.keypoints2d, res.scores2d, res.present, res.image_size)
    pose_r, probs = lift_tracks_routed(model, res.keypoints2d, res.scores2d, res.present, res.image_size)
    np.testing.assert_array_equal(pose, pose_r)
    layers = router_layers(model.cfg)
    assert probs.shape == (2, 30, len(layers), 17, 3) and probs.dtype == np.float32
    present = res.present
    np.testing.assert_allclose(probs[present].sum(-1), 1.0, atol=1e-5)
    assert np.isnan(probs[~present]).all()
    assert layers == [(1, "spatial", "pose"), (1, "spatial", "depth"), (1, "temporal", "pose"),
                      (1, "temporal", "depth")]
    assert probs[present].std(axis=(0, 2)).max() > 1e-2  # the weights vary over frames and joints


def test_flip_maps_router_weights_back_to_the_right_joints(small_checkpoint: Path) -> None:
    from posemoe.checkpoint import load_checkpoint

    model, _ = load_checkpoint(small_checkpoint)
    x = np.random.default_rng(1).normal(scale=0.3, size=(3, 9, 17, 3)).astype(np.float32)
    x[..., 2] = 1.0
    pose, probs = predict_windows_routed(model, x)
    np.testing.assert_array_equal(pose, predict_windows(model, x))
    _, probs_mirrored = predict_windows_routed(model, flip_pose(x, H36M17))
    # with flip averaging, mirroring the input only swaps the left and right joints' weights
    np.testing.assert_allclose(probs_mirrored, probs[..., H36M17.flip_permutation, :], atol=1e-5)


def test_report_is_self_contained_and_holds_every_figure(report) -> None:
    rep, res = report
    page = rep.html.read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page
    sources = re.findall(r"src=['\"]([^'\"]*)['\"]", page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<link" not in page and "<script" not in page
    keys = [f.key for f in rep.figures]
    assert len(sources) == len(keys) == len(set(keys))
    for tid in (3, 4):
        for kind in ("trajectories", "bones", "confidence", "symmetry", "router"):
            assert f"{kind}_track{tid}" in keys
    assert "tracks" in keys and "router_usage" in keys
    for f in rep.figures:
        assert f"id='{f.key}'" in page
        assert (rep.out_dir / f"{f.key}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((rep.out_dir / "summary.json").read_text())
    assert summary["people"] == 2 and summary["frames"] == 40
    assert summary["tracks"][1]["worst_bone"] is not None
    router = summary["router"]
    assert router["max_pose_difference_mm"] < 0.01 and router["same_checkpoint_as_results"] is True
    for stream in ("pose", "depth"):
        assert sum(router["streams"][stream]["expert_share"]) == pytest.approx(1.0, abs=1e-3)
    assert "expert usage, 2D-pose stream" in page and "mean bone-length CV" in page


def test_page_shows_html_in_names_and_notes_as_text() -> None:
    """The page is autoescaped: a file name or note holding markup is shown, not interpreted."""
    from pipeline.analyze import render_html

    res = make_results(12, people=1)
    page = render_html(res, summarize(res), [], ["<b>bold</b> & more"], "<script>x</script>'.npz")
    assert "<script>" not in page and "<b>" not in page
    assert "<title>posemoe analysis: &lt;script&gt;x&lt;/script&gt;&#39;.npz</title>" in page
    assert "<p class='note'>&lt;b&gt;bold&lt;/b&gt; &amp; more</p>" in page
    assert page.startswith("<!DOCTYPE html>\n<html lang='en'>") and page.endswith("</body></html>\n")


def test_nobody_found(tmp_path: Path) -> None:
    path = save_results(tmp_path / "empty.npz", make_results(12, people=0))
    rep = analyze(path, tmp_path / "report")
    assert rep.figures == [] and rep.summary["people"] == 0
    page = rep.html.read_text()
    assert "Nobody was found" in page and "<img" not in page


def test_cli_writes_the_report_and_fails_cleanly(small_checkpoint: Path, tmp_path: Path) -> None:
    path = save_results(tmp_path / "res.json", make_results(20, people=1))
    out = tmp_path / "rep"
    result = runner.invoke(app, ["analyze", str(path), "-o", str(out), "-c", str(small_checkpoint)])
    assert result.exit_code == 0, result.output
    assert (out / "index.html").is_file() and (out / "router_track3.png").is_file()
    assert "differs from the saved 3D" in result.output  # these poses were not lifted by that model
    result = runner.invoke(app, ["analyze", str(tmp_path / "missing.npz"), "-o", str(out)])
    assert result.exit_code == 2 and result.output.startswith("error: ") and "Traceback" not in result.output
    result = runner.invoke(app, ["analyze", str(path), "-o", str(out / "index.html")])
    assert result.exit_code == 2 and "is a file" in result.output


def test_router_figures_left_out_without_a_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pipeline.analyze as mod

    monkeypatch.setattr(mod, "make_figures", lambda results, router, max_tracks=4: [])  # figures drawn above
    path = save_results(tmp_path / "res.npz", make_results(12, people=1, checkpoint=tmp_path / "gone.pt"))
    rep = analyze(path, tmp_path / "a")  # the recorded checkpoint does not exist
    assert "router" not in rep.summary and any("pass one with -c" in n for n in rep.notes)
    rep = analyze(path, tmp_path / "b", router=False)
    assert any("--no-router" in n for n in rep.notes)
