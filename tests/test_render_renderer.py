"""pipeline.render.renderer: the output views (side-by-side, overlay, 3d), panel layout, options,
timecode, confidence colours, several 3D views, the benchmark and the command line's video options."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from render_poses import H, W, clip, coloured_mask, to_2d, walking

from pipeline.render import (
    Renderer,
    benchmark_render,
    confidence_colour,
    panel_layout,
    parse_views3d,
    render_options,
    track_colour,
)
from posemoe.errors import PoseMoEError


# ----------------------------------------------------------------------------- views


@pytest.mark.parametrize(
    "size, view, expected",
    [
        ((1280, 720), "side-by-side", (2000, 720)),
        ((1280, 720), "overlay", (1280, 720)),
        ((1280, 720), "3d", (720, 720)),
        ((641, 361), "side-by-side", None),
        ((641, 361), "overlay", None),
        ((641, 361), "3d", None),
    ],
)
def test_view_output_sizes_are_even(size, view, expected) -> None:
    w, h = size
    k3 = walking(4)[None]
    k2 = to_2d(k3[0], w / 2)[None]
    r = Renderer(k2, np.full(k3.shape[:3], 0.9), k3, [0], size, view=view)
    ow, oh = r.output_size
    if expected is not None:
        assert (ow, oh) == expected
    assert ow % 2 == 0 and oh % 2 == 0 and ow >= (h if view == "3d" else w) and oh >= h
    frame = np.full((h, w, 3), 77, np.uint8)
    out = r.render(frame, 2)
    assert out.shape == (oh, ow, 3) and out.dtype == np.uint8
    assert (frame == 77).all()  # the input frame is not modified
    if view != "3d":
        assert (out[:5, :5] == 77).all()  # the frame is in the output, top-left


def test_unknown_view_and_bad_frame_raise() -> None:
    k3 = walking(4)[None]
    k2 = to_2d(k3[0], W / 2)[None]
    s2 = np.full(k3.shape[:3], 0.9)
    with pytest.raises(PoseMoEError, match="side-by-side"):
        Renderer(k2, s2, k3, [0], (W, H), view="sideways")
    r = Renderer(k2, s2, k3, [0], (W, H))
    with pytest.raises(PoseMoEError):
        r.render(np.zeros((H // 2, W // 2, 3), np.uint8), 0)
    with pytest.raises(PoseMoEError):
        r.render(np.zeros((H, W, 3), np.uint8), 4)


@pytest.mark.parametrize("view", ["side-by-side", "overlay", "3d"])
def test_absent_person_is_not_drawn(view: str) -> None:
    frames = 8
    k2, s2, k3, ids = clip([walking(frames), walking(frames)], [250.0, 1030.0])
    k2[1, 5] = np.nan
    s2[1, 5] = np.nan
    k3[1, 5] = np.nan
    r = Renderer(k2, s2, k3, ids, (W, H), view=view)
    frame = np.full((H, W, 3), 255, np.uint8)
    orange = int(np.argmax(track_colour(1)))
    for f, expect_orange in ((4, True), (5, False)):
        out = r.render(frame, f)
        orange_px = coloured_mask(out) & (np.argmax(out, axis=-1) == orange)
        assert orange_px.any() == expect_orange


def test_all_nan_clip_renders_background_only() -> None:
    k2 = np.full((2, 5, 17, 2), np.nan)
    s2 = np.full((2, 5, 17), np.nan)
    k3 = np.full((2, 5, 17, 3), np.nan)
    frame = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = Renderer(k2, s2, k3, [3, 4], (W, H), view="side-by-side")
        out = r.render(frame, 2)
    np.testing.assert_array_equal(out[:, :W], frame)
    np.testing.assert_array_equal(out[:, W:], r.scene.background((H, H)))
    assert (r.scene.background((H, H)) < 250).any()  # the floor grid is there


def test_no_people_at_all() -> None:
    empty = np.zeros((0, 3, 17, 2))
    r = Renderer(empty, np.zeros((0, 3, 17)), np.zeros((0, 3, 17, 3)), [], (W, H), view="overlay")
    assert r.render(np.zeros((H, W, 3), np.uint8), 1).shape == (H, W, 3)


def test_benchmark_render_reports_frames_per_second() -> None:
    result = benchmark_render(n_frames=10, size=(320, 240), people=2, timecode=True)
    assert {k: result[k] for k in ("view", "size", "people", "frames")} == {
        "view": "side-by-side", "size": [320, 240], "people": 2, "frames": 10}
    assert result["output_size"] == [560, 240]
    assert result["fps"] == pytest.approx(10 / result["render_s"])
    with pytest.raises(PoseMoEError):
        benchmark_render(n_frames=0)


# ----------------------------------------------------------------------------- layout and framing


def test_panel_layout_landscape_and_portrait() -> None:
    assert panel_layout((1280, 720)) == ((2000, 720), [(1280, 0, 720, 720)])  # square panel
    assert panel_layout((1280, 720), "3d") == ((720, 720), [(0, 0, 720, 720)])
    # portrait: the frame's own shape, widened (up to square) for wide content
    assert panel_layout((720, 1280)) == ((1440, 1280), [(720, 0, 720, 1280)])
    (ow, oh), [(x, y, pw, ph)] = panel_layout((720, 1280), aspects=[0.9])
    assert 720 < pw <= 1280 and ph == 1280 and ow == 720 + pw and x == 720
    assert panel_layout((720, 1280), aspects=[3.0])[1][0][2] == 1280  # never wider than square
    # two views: two panels of 3/4 width, next to each other
    (ow, oh), panels = panel_layout((1280, 720), "side-by-side", 2)
    assert panels == [(1280, 0, 540, 720), (1820, 0, 540, 720)] and (ow, oh) == (2360, 720)
    # overlay: insets inside the frame's top-right quarter, stacked
    (ow, oh), panels = panel_layout((720, 1280), "overlay", 2)
    assert (ow, oh) == (720, 1280)
    for x, y, pw, ph in panels:
        assert x + pw <= 720 and y + ph <= 1280 and pw <= 0.41 * 720
    assert panels[1][1] >= panels[0][1] + panels[0][3]


# ----------------------------------------------------------------------------- options


def test_render_options_are_checked() -> None:
    assert parse_views3d(None) == ("oblique",)
    assert parse_views3d("front, side") == ("front", "side")
    assert render_options("confidence", True, "side") == {"color_by": "confidence", "timecode": True,
                                                          "views3d": ("side",)}
    with pytest.raises(PoseMoEError, match="front"):
        parse_views3d("top")
    with pytest.raises(PoseMoEError, match="once"):
        parse_views3d("front,front")
    with pytest.raises(PoseMoEError, match="confidence"):
        render_options("rainbow")


def test_colour_by_confidence_colours_the_joints() -> None:
    k3 = walking(4)[None]
    k2 = to_2d(k3[0], W / 2)[None]
    scores = np.full(k3.shape[:3], 0.95)
    scores[0, :, 13] = 0.35  # left wrist: middling confidence (still drawn filled)
    frame = np.zeros((H, W, 3), np.uint8)
    by_track = Renderer(k2, scores, k3, [0], (W, H), color_by="track").render(frame, 1)
    by_conf = Renderer(k2, scores, k3, [0], (W, H), color_by="confidence").render(frame, 1)
    for j, score in ((13, 0.35), (10, 0.95), (3, 0.95)):
        x, y = (int(round(v)) for v in k2[0, 1, j])
        assert not np.array_equal(by_conf[y, x], by_track[y, x])
        np.testing.assert_allclose(by_conf[y, x], confidence_colour(score), atol=12)
    assert confidence_colour(0.0)[2] > 200 and confidence_colour(1.0)[1] > 150  # red .. green
    # the 3D panel's joints too
    r = Renderer(k2, scores, k3, [0], (W, H), color_by="confidence", view="3d")
    img = r.render(None, 1)
    x, y = (int(round(v)) for v in r.scene.project(1, r._panel)[0, 13])
    np.testing.assert_allclose(img[y, x], confidence_colour(0.35), atol=12)


@pytest.mark.parametrize("view", ["side-by-side", "3d"])
def test_timecode_is_drawn(view: str) -> None:
    k3 = walking(40)[None]
    k2 = to_2d(k3[0], W / 2)[None]
    s2 = np.full(k3.shape[:3], 0.9)
    frame = np.full((H, W, 3), 200, np.uint8)
    plain = Renderer(k2, s2, k3, [0], (W, H), view=view)
    timed = Renderer(k2, s2, k3, [0], (W, H), view=view, timecode=True, fps=25.0)
    assert timed.timecode_text(37) == "frame 37  00:01.48"
    a, b, c = plain.render(frame, 37), timed.render(frame, 37), timed.render(frame, 2)
    ow = a.shape[1]
    region = (slice(0, 60), slice(0, 300)) if view != "3d" else (slice(0, 60), slice(ow - 300, ow))
    assert (a[region] != b[region]).any(-1).sum() > 500  # the text box is there
    assert (b[region] != c[region]).any()  # and says something else on another frame
    mask = np.ones(a.shape[:2], bool)
    mask[region] = False
    np.testing.assert_array_equal(a[mask], b[mask])  # nothing else changed


def test_two_3d_views_give_two_panels() -> None:
    k3 = walking(8)[None]
    k2 = to_2d(k3[0], W / 2)[None]
    s2 = np.full(k3.shape[:3], 0.9)
    r = Renderer(k2, s2, k3, [0], (W, H), views3d="front,side")
    assert [s.view_name for s in r.scenes] == ["front", "side"] and len(r._panels) == 2
    assert r.output_size[0] == W + sum(p[2] for p in r._panels) and r.output_size[1] == H
    out = r.render(np.zeros((H, W, 3), np.uint8), 3)
    (x0, _, w0, _), (x1, _, w1, _) = r._panels
    front, side = out[:, x0:x0 + w0], out[:, x1:x1 + w1]
    assert coloured_mask(front).sum() > 300 and coloured_mask(side).sum() > 100  # a figure in each
    # front: the shoulders are far apart; side: seen edge-on, close together
    pf = r.scenes[0].project(3, (w0, H))[0]
    ps = r.scenes[1].project(3, (w1, H))[0]
    assert abs(pf[11, 0] - pf[14, 0]) > 3 * abs(ps[11, 0] - ps[14, 0])
    # the same upright scale in both (height-limited here)
    assert abs(np.ptp(pf[:, 1]) - np.ptp(ps[:, 1])) < 0.1 * np.ptp(pf[:, 1])


# ----------------------------------------------------------------------------- command line


def test_lift_renders_with_the_video_options(tmp_path) -> None:
    """`posemoe lift ... -o OUT.mp4 --views3d front,side --color-by confidence --timecode` (and bad values)."""
    import torch
    from typer.testing import CliRunner

    from pipeline.cli import app
    from pipeline.export import Results, save_results
    from pipeline.render.benchmark import _synthetic_clip
    from pipeline.video_io import probe
    from posemoe import PoseMoE, PoseMoEConfig
    from posemoe.checkpoint import make_checkpoint, save_checkpoint

    torch.manual_seed(0)
    model = PoseMoE(PoseMoEConfig(frames=9, dim=32, heads=4, encoder_layers=1, decoder_layers=1))
    ckpt = save_checkpoint(make_checkpoint(model), tmp_path / "tiny.pt")
    size, frames = (320, 240), 6
    k2, s2, k3, ids = _synthetic_clip(frames, size, 1)
    src = save_results(tmp_path / "kp.npz", Results(frame_index=np.arange(frames), time_s=np.arange(frames) / 25.0,
                                                    fps=25.0, image_size=size, track_ids=ids, keypoints2d=k2,
                                                    scores2d=s2, keypoints3d=k3))
    runner = CliRunner()
    out = tmp_path / "out.mp4"
    result = runner.invoke(app, ["lift", str(src), "-o", str(out), "-c", str(ckpt), "-q", "--views3d", "front,side",
                                 "--color-by", "confidence", "--timecode"])
    assert result.exit_code == 0, result.output
    info = probe(out)
    assert info.frame_count == frames and info.height == 240
    assert 2 * 180 <= info.width <= 2 * 240  # no --video: the "3d" view, two panels
    for args, needle in ((["--views3d", "top"], "--views3d"), (["--color-by", "rainbow"], "--color-by")):
        result = runner.invoke(app, ["lift", str(src), "-o", str(tmp_path / "bad.mp4"), "-c", str(ckpt), *args])
        assert result.exit_code == 2 and needle in result.output and "Traceback" not in result.output
        assert not (tmp_path / "bad.mp4").exists()
        result = runner.invoke(app, ["video", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "bad.mp4"), *args])
        assert result.exit_code == 2 and needle in result.output
