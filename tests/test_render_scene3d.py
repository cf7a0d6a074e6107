"""pipeline.render.scene3d: the steady, upright 3D view (up direction, floor, placement, framing)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from render_poses import H, W, angle_deg, clip, coloured_mask, pose, rot_x, to_2d, walking

from pipeline.render import Renderer, SceneView3D, track_colour


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
    # the fixed mapping of the oblique view (azimuth -60, elevation 15 degrees): a metre up is
    # scale * cos(15) pixels up, a metre to the camera's right scale * sin(60) pixels right
    scale = r.scene.pixels_per_metre(size)
    origin = r.scene.project_world(np.zeros(3), size)
    up = r.scene.project_world(np.array([0.0, 0.0, 1.0]), size)
    assert abs((origin[1] - up[1]) - scale * math.cos(math.radians(15.0))) < 1e-6
    right = r.scene.project_world(np.array([1.0, 0.0, 0.0]), size)
    assert abs((right[0] - origin[0]) - scale * math.sin(math.radians(60.0))) < 1e-6
    # every frame is drawn on the one background: it differs from it only around the person, and
    # drawing the frames leaves the background as it was
    bg = r.scene.background(size)
    for f in range(frames):
        changed = (r.render(None, f) != bg).any(-1)
        p = r.scene.project(f, size)[0]
        x0, y0 = np.floor(p.min(axis=0)).astype(int) - 12
        x1, y1 = np.ceil(p.max(axis=0)).astype(int) + 12
        assert changed.any()
        changed[max(0, y0 - 30):y1, max(0, x0):x1] = False  # (the label above the head)
        assert not changed.any(), f
    np.testing.assert_array_equal(r.scene.background(size), bg)


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



def test_world_placement_draws_people_where_they_are_in_the_scene() -> None:
    """With ``world`` the panel shows each person at their scene position (depth and path), not side
    by side: a person 6 m further away is drawn further back, and a walk across the floor moves."""
    n = 20
    k3 = np.stack([np.stack([pose()] * n)] * 2)  # (2, n, 17, 3) root-relative, camera axes
    upright = np.stack([k3[..., 0], -k3[..., 1], -k3[..., 2]], axis=-1)  # posemoe world axes: y up
    world = upright + np.array([0.0, 0.9, 0.0])
    world[0, :, :, 0] += np.linspace(-1.0, 1.0, n)[:, None]  # person 0 walks 2 m to the right ...
    world[0, :, :, 2] -= 3.0  # ... 3 m from the camera
    world[1, :, :, 2] -= 9.0  # person 1 stands 9 m away
    view = SceneView3D(k3, view="front", world=world)
    size = (400, 400)
    pelvis = np.array([view.project(f, size)[:, 0] for f in (0, n - 1)])  # (2 frames, 2 people, 2)
    assert pelvis[1, 0, 0] - pelvis[0, 0, 0] > 50  # the walker moves right across the panel
    assert np.allclose(pelvis[1, 1], pelvis[0, 1])  # the one standing still does not
    expected = view.project_world(np.array([world[0, 0, 0, 0], -world[0, 0, 0, 2], world[0, 0, 0, 1]]), size)
    np.testing.assert_allclose(pelvis[0, 0], expected, atol=1e-6)  # exactly at its scene position
    with pytest.raises(Exception, match="world: expected shape"):
        SceneView3D(k3, world=world[:, :5])
