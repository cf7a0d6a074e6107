"""Tests for pipeline.render: 2D skeletons, the upright/steady 3D view, the output views."""

from __future__ import annotations

import math
import warnings

import cv2
import numpy as np
import pytest

from pipeline.render import (
    Renderer,
    SceneView3D,
    benchmark_render,
    confidence_colour,
    draw_skeleton_2d,
    format_timecode,
    panel_layout,
    parse_views3d,
    render_options,
    track_colour,
)
from posemoe.errors import PoseMoEError
from posemoe.skeleton import H36M17

W, H = 1280, 720
FOCAL = 1000.0

# bone offsets (metres) child <- parent of an upright person facing the camera, camera axes
# (x right, y down, z forward)
BONES = {
    1: (-0.12, 0.0, 0.0), 2: (0.0, 0.45, 0.0), 3: (0.0, 0.43, 0.0),
    4: (0.12, 0.0, 0.0), 5: (0.0, 0.45, 0.0), 6: (0.0, 0.43, 0.0),
    7: (0.0, -0.22, 0.0), 8: (0.0, -0.26, 0.0), 9: (0.0, -0.10, -0.04), 10: (0.0, -0.12, 0.0),
    11: (0.16, 0.03, 0.0), 12: (0.0, 0.27, 0.0), 13: (0.0, 0.24, 0.0),
    14: (-0.16, 0.03, 0.0), 15: (0.0, 0.27, 0.0), 16: (0.0, 0.24, 0.0),
}
LEG_SWING = {2: 1.0, 5: -1.0, 12: -0.6, 15: 0.6}  # sign of each limb's swing (about the x axis)


def rot_x(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])


def pose(swing: float = 0.0) -> np.ndarray:
    """(17, 3) root-relative pose; ``swing`` radians of leg/arm swing (walking phase)."""
    out = np.zeros((17, 3))
    for j in range(1, 17):
        parent = H36M17.parents[j]
        off = np.array(BONES[j])
        s = LEG_SWING.get(j, LEG_SWING.get(parent, 0.0)) * swing
        out[j] = out[parent] + rot_x(math.degrees(s)) @ off
    return out


def walking(frames: int, tilt_deg: float = 0.0) -> np.ndarray:
    """(F, 17, 3) walking-in-place poses, seen by a camera pitched by ``tilt_deg``."""
    k3 = np.stack([pose(0.45 * math.sin(2 * math.pi * f / 16)) for f in range(frames)])
    return k3 @ rot_x(tilt_deg).T


def to_2d(k3: np.ndarray, root_x_px: np.ndarray | float, depth: float = 5.0) -> np.ndarray:
    """Pinhole 2D keypoints (F, 17, 2) of root-relative poses with the pelvis at pixel column root_x_px."""
    root_x = (np.broadcast_to(root_x_px, k3.shape[:1]) - W / 2) * depth / FOCAL
    cam = k3 + np.stack([root_x, np.zeros_like(root_x), np.full_like(root_x, depth)], axis=-1)[:, None]
    return FOCAL * cam[..., :2] / cam[..., 2:] + np.array([W / 2, H / 2])


def clip(k3s: list[np.ndarray], roots: list) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(P, F, 17, 2), (P, F, 17), (P, F, 17, 3), (P,) for people with 3D poses k3s and 2D roots."""
    k3 = np.stack(k3s)
    k2 = np.stack([to_2d(k, r) for k, r in zip(k3s, roots)])
    scores = np.full(k3.shape[:3], 0.9)
    return k2, scores, k3, np.arange(len(k3s))


def coloured_mask(img: np.ndarray, min_sat: int = 60) -> np.ndarray:
    """(H, W) bool: pixels clearly coloured (not white, grey or black)."""
    i = img.astype(np.int16)
    return (i.max(axis=-1) - i.min(axis=-1)) > min_sat


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    c = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


# ----------------------------------------------------------------------------- colours


def test_track_colours_are_distinct_and_stable() -> None:
    colours = [track_colour(i) for i in range(6)]
    assert len(set(colours)) == 6
    assert track_colour(3) == colours[3] and track_colour(np.int64(3)) == colours[3]
    for c in colours:
        assert len(c) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in c)


# ----------------------------------------------------------------------------- 2D drawing


def test_draw_skeleton_2d_hollow_low_confidence_joint_and_sides() -> None:
    kp = np.full((17, 2), np.nan)
    kp[10] = (50, 50)  # the head alone: no bones, only its circle
    img = np.zeros((100, 100, 3), np.uint8)
    draw_skeleton_2d(img, kp, np.full(17, 0.9), (0, 0, 255), thickness=3)
    assert img[50, 50].any()  # filled
    img = np.zeros((100, 100, 3), np.uint8)
    draw_skeleton_2d(img, kp, np.full(17, 0.1), (0, 0, 255), thickness=3)
    assert not img[50, 50].any() and img.any()  # hollow ring

    # a full skeleton: left and right wrists in different shades of the same colour
    k = to_2d(pose()[None], W / 2)[0]
    img = np.zeros((H, W, 3), np.uint8)
    draw_skeleton_2d(img, k, np.full(17, 0.9), (0, 0, 255))
    left = img[int(round(k[13, 1])), int(round(k[13, 0]))]
    right = img[int(round(k[16, 1])), int(round(k[16, 0]))]
    assert left.any() and right.any() and not np.array_equal(left, right)


def test_draw_skeleton_2d_dashes_low_confidence_bones() -> None:
    k = to_2d(pose()[None], W / 2)[0]
    scores = np.full(17, 0.9)
    solid = np.zeros((H, W, 3), np.uint8)
    draw_skeleton_2d(solid, k, scores, (0, 255, 0))
    scores[13] = 0.05  # left wrist: forearm becomes dashed
    dashed = np.zeros((H, W, 3), np.uint8)
    draw_skeleton_2d(dashed, k, scores, (0, 255, 0))
    assert 0 < np.count_nonzero(dashed.any(-1)) < np.count_nonzero(solid.any(-1))


def test_draw_skeleton_2d_rejects_bad_shape() -> None:
    with pytest.raises(PoseMoEError):
        draw_skeleton_2d(np.zeros((10, 10, 3), np.uint8), np.zeros((16, 2)), np.zeros(16), (0, 0, 0))


# ----------------------------------------------------------------------------- 3D view


@pytest.mark.parametrize("tilt", [0.0, 25.0, -20.0])
def test_up_direction_recovers_camera_tilt_and_figure_is_upright(tilt: float) -> None:
    k3 = walking(32, tilt)[None]
    scene = SceneView3D(k3)
    true_up = rot_x(tilt) @ np.array([0.0, -1.0, 0.0])
    assert angle_deg(scene.up, true_up) < 3.0

    size = (400, 400)
    for f in range(0, 32, 5):
        p = scene.project(f, size)[0]
        feet = 0.5 * (p[3] + p[6])
        height = feet[1] - p[10, 1]
        assert p[10, 1] < min(p[3, 1], p[6, 1])  # head drawn above the feet
        assert height > 100  # a sizeable figure
        assert abs(p[10, 0] - feet[0]) < 0.1 * height  # upright, not leaning
        img = scene.render(f, size)
        hx, hy = int(round(p[10, 0])), int(round(p[10, 1]))
        assert coloured_mask(img)[hy, hx]  # the head really is drawn there


def test_floor_is_at_the_feet() -> None:
    scene = SceneView3D(walking(32, 25.0)[None])
    ankle_heights = walking(32, 25.0)[:, [3, 6]] @ scene.up
    assert abs(scene.floor - ankle_heights.min()) < 0.05


def test_static_pose_projects_identically_every_frame() -> None:
    k3 = np.repeat(pose(0.2)[None, None], 12, axis=1)
    k2 = to_2d(k3[0], 400.0)[None]
    r = Renderer(k2, np.full(k3.shape[:3], 0.9), k3, [7], (W, H), view="3d")
    scene = r.scene
    first = scene.project(0, (500, 500))
    frame0 = r.render(None, 0)
    for f in range(1, 12):
        np.testing.assert_array_equal(scene.project(f, (500, 500)), first)
        np.testing.assert_array_equal(r.render(None, f), frame0)


def test_floor_grid_does_not_move_while_walking() -> None:
    frames = 40
    roots = np.linspace(300, 900, frames)  # walks across the image
    k2, s2, k3, ids = clip([walking(frames)], [roots])
    scene = Renderer(k2, s2, k3, ids, (W, H), view="3d").scene
    size = (480, 480)

    def grid_and_person(f: int) -> tuple[np.ndarray, np.ndarray]:
        img = scene.render(f, size).astype(np.int16)
        sat = img.max(-1) - img.min(-1)
        grey = (sat < 20) & (img.max(-1) < 235)
        person = cv2.dilate(coloured_mask(img.astype(np.uint8), 25).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        return grey, person

    g0, p0 = grid_and_person(0)
    for f in (10, 25, 39):
        g, p = grid_and_person(f)
        free = ~p0 & ~p
        assert np.count_nonzero(g & free) > 200  # the grid is visible
        np.testing.assert_array_equal(g[free], g0[free])
    # the person did move across the view
    assert scene.project(39, size)[0, 0, 0] > scene.project(0, size)[0, 0, 0] + 50


def test_two_people_far_apart_in_2d_do_not_overlap_in_3d() -> None:
    frames = 16
    k2, s2, k3, ids = clip([walking(frames), walking(frames)], [250.0, 1030.0])
    assert np.argmax(track_colour(0)) != np.argmax(track_colour(1))  # distinguishable by channel
    r = Renderer(k2, s2, k3, ids, (W, H), view="3d")
    assert np.all(r.scene.offsets[0] < r.scene.offsets[1])
    for f in (0, 5, 11):
        img = r.render(None, f)
        mask = coloured_mask(img)
        dominant = np.argmax(img, axis=-1)
        cols = {}
        for pid in (0, 1):
            sel = mask & (dominant == int(np.argmax(track_colour(pid))))
            cols[pid] = np.nonzero(sel.any(axis=0))[0]
            assert cols[pid].size > 5
        assert cols[0].max() < cols[1].min()


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
    result = benchmark_render(n_frames=10, size=(320, 240), people=2)
    assert result["frames"] == 10 and result["fps"] > 0
    assert result["output_size"] == [560, 240]


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


@pytest.mark.parametrize("size", [(1280, 720), (720, 1280)])
def test_3d_figure_fills_its_panel(size) -> None:
    w, h = size
    frames = 24
    k3 = walking(frames)[None]
    k2 = to_2d(k3[0], w / 2)[None]
    r = Renderer(k2, np.full(k3.shape[:3], 0.9), k3, [0], size, view="side-by-side")
    x0, y0, pw, ph = r._panels[0]
    assert (x0, y0, ph) == (w, 0, h) and pw == min(w, h)
    assert r.output_size == (w + pw, h)
    for f in range(0, frames, 4):
        p = r.scene.project(f, (pw, ph))[0]
        assert (p >= 0).all() and (p[:, 0] < pw).all() and (p[:, 1] < ph).all()  # all inside
        assert np.ptp(p[:, 1]) > 0.6 * ph  # head to feet: most of the panel's height
    out = r.render(np.zeros((h, w, 3), np.uint8), 3)
    rows = np.nonzero(coloured_mask(out[:, w:]).any(axis=1))[0]
    assert rows.max() - rows.min() > 0.6 * h  # and really drawn so


def test_axes_are_steady_over_the_clip() -> None:
    """Frames with the same pose project identically, whatever other frames do (no rescaling)."""
    frames = 20
    k3 = np.repeat(pose(0.2)[None], frames, axis=0)
    k3[10:] = walking(10) * 1.1  # another pose in the second half: a bigger, moving figure
    k2 = to_2d(k3, 640.0)
    r = Renderer(k2[None], np.full((1, frames, 17), 0.9), k3[None], [0], (W, H), view="3d")
    size = r._panel
    first = r.scene.project(0, size)
    for f in range(1, 8):  # (8 and 9 stand on the floor smoothed with frames 10 and 11)
        np.testing.assert_array_equal(r.scene.project(f, size), first)
    scale = r.scene.pixels_per_metre(size)
    origin = r.scene.project_world(np.zeros(3), size)
    assert r.scene.pixels_per_metre(size) == scale
    np.testing.assert_array_equal(r.scene.background(size), r.scene.background(size))
    # the fixed mapping: a metre up is `scale` pixels up on every frame
    up = r.scene.project_world(np.array([0.0, 0.0, 1.0]), size)
    assert abs((origin[1] - up[1]) - scale * math.cos(math.radians(15.0))) < 1e-6


def test_person_stands_on_the_floor_every_frame() -> None:
    frames = 32
    k3 = walking(frames, 20.0)[None]
    scene = SceneView3D(k3, view="front", elevation_deg=0.0)  # screen y = height exactly
    size = (600, 600)
    floor_y = scene.project_world(np.zeros(3), size)[1]
    scale = scene.pixels_per_metre(size)
    lowest = np.array([scene.project(f, size)[0, :, 1].max() for f in range(frames)])
    assert np.abs(lowest - floor_y).max() < 0.04 * scale  # within 4 cm of the floor (smoothed), every frame
    assert np.abs(lowest - floor_y).mean() < 0.02 * scale


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
    assert format_timecode(0) == "00:00.00" and format_timecode(83.456) == "01:23.46"
    assert format_timecode(3725.5) == "1:02:05.50"


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
    from pipeline.render import _synthetic_clip
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
