"""pipeline.render.overlay2d and .style: track and confidence colours, 2D skeletons on the frame,
the timecode text."""

from __future__ import annotations

import numpy as np
import pytest
from render_poses import H, W, pose, to_2d

from pipeline.render import confidence_colour, draw_skeleton_2d, format_timecode, track_colour
from posemoe.errors import PoseMoEError

# ----------------------------------------------------------------------------- colours


def test_track_colours_are_distinct_and_stable() -> None:
    colours = [track_colour(i) for i in range(6)]
    assert len(set(colours)) == 6
    assert track_colour(3) == colours[3] and track_colour(np.int64(3)) == colours[3]
    for c in colours:
        assert len(c) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in c)



def test_confidence_colours_run_from_red_to_green() -> None:
    red, yellow, green = confidence_colour(0.0), confidence_colour(0.5), confidence_colour(1.0)
    assert red[2] > 200 and red[1] < 100 and green[1] > 150 and green[2] < 100  # (b, g, r)
    assert yellow[1] > 150 and yellow[2] > 200
    assert confidence_colour(float("nan")) == red and confidence_colour(1.7) == green


def test_format_timecode() -> None:
    assert format_timecode(0) == "00:00.00" and format_timecode(83.456) == "01:23.46"
    assert format_timecode(3725.5) == "1:02:05.50"


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
