"""Finding people with BlazePose's detector and landmark model in LiteRT (`pipeline.pose2d.blazepose_detector`):
the anchors, the weighted non-maximum suppression, the landmark region, and the people found on
real frames against MediaPipe's own ``PoseLandmarker``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mediapipe")
pytest.importorskip("ai_edge_litert")

from pipeline.pose2d import blazepose_detector as bd  # noqa: E402
from pipeline.pose2d.blazepose_follower import LandmarkModel  # noqa: E402
from pipeline.pose2d.mediapipe_bundle import wheel_models  # noqa: E402
from posemoe.errors import PoseMoEError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT.parent / "shared" / "data" / "videos"


@pytest.fixture(scope="module")
def models():
    detector, landmarks = wheel_models()
    return bd.PoseDetector(detector), LandmarkModel(landmarks)


def test_anchor_centres_follow_the_detector_layout() -> None:
    a = bd.anchor_centres()
    assert a.shape == (2254, 2) and len(bd.ANCHORS) == 2254
    # stride 8: 28x28 cells, 2 anchors each, row by row
    np.testing.assert_allclose(a[0], a[1])
    np.testing.assert_allclose(a[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(a[2], [1.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(a[2 * 28], [0.5 / 28, 1.5 / 28])
    # stride 16 starts after 1568 anchors; the three stride-32 layers share 7x7 cells, 6 anchors each
    np.testing.assert_allclose(a[1568], [0.5 / 14, 0.5 / 14])
    np.testing.assert_allclose(a[1568 + 392:1568 + 392 + 6], np.tile([0.5 / 7, 0.5 / 7], (6, 1)))
    np.testing.assert_allclose(a[-1], [6.5 / 7, 6.5 / 7])


def test_weighted_nms_merges_overlapping_detections_into_their_weighted_mean() -> None:
    scores = np.array([0.5, 0.9, 0.3, 0.8])
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [0, 0, 10, 10]], dtype=float)
    kps = np.stack([np.full((4, 2), v, dtype=float) for v in (1.0, 2.0, 7.0, 3.0)])
    out = bd.weighted_nms(scores, boxes, kps, iou=0.5)
    assert [round(s, 3) for s, _, _ in out] == [0.9, 0.3]  # the top score; the far one on its own
    w = np.array([0.9, 0.5, 0.8]) / 2.2
    np.testing.assert_allclose(out[0][1], w @ boxes[[1, 0, 3]])
    np.testing.assert_allclose(out[0][2], np.full((4, 2), w @ [2.0, 1.0, 3.0]))
    np.testing.assert_allclose(out[1][1], boxes[2])
    assert len(bd.weighted_nms(scores, boxes, kps, iou=0.5, limit=1)) == 1
    # overlapping by exactly the threshold: kept apart (more than the threshold merges)
    two = np.array([[0, 0, 10, 10], [0, 0, 10, 5]], dtype=float)  # IoU 0.5
    assert len(bd.weighted_nms(np.array([0.9, 0.8]), two, kps[:2], iou=0.5)) == 2
    assert bd.weighted_nms(np.zeros(0), np.zeros((0, 4)), np.zeros((0, 4, 2))) == []


@pytest.mark.parametrize("direction, turn", [((0, -1), 0.0), ((1, 0), math.pi / 2), ((-1, 0), -math.pi / 2),
                                             ((0, 1), math.pi)])
def test_region_is_centred_on_the_hips_and_turned_by_the_size_point(direction, turn) -> None:
    hips = np.array([100.0, 200.0])
    kps = np.stack([hips, hips + 40.0 * np.array(direction), hips, hips])
    cx, cy, side, t = bd.PersonDetection(0.9, np.zeros(4), kps).region()
    assert (cx, cy) == (100.0, 200.0) and side == pytest.approx(100.0)  # 2.5 x 40 px
    assert abs((t - turn + math.pi) % (2 * math.pi) - math.pi) < 1e-9


def test_nobody_in_a_blank_image_and_a_foreign_model_is_one_line(models) -> None:
    detector, landmarks = models
    blank = np.full((360, 640, 3), 235, np.uint8)
    assert detector(blank) == [] and bd.find_people(detector, landmarks, blank) == []
    with pytest.raises(PoseMoEError, match="not BlazePose's person detector.*reinstall mediapipe") as e:
        bd.PoseDetector(wheel_models()[1])
    assert "\n" not in str(e.value)


def _frames():
    """A few frames of the committed walk and, where present, of the real clips (RGB)."""
    from pipeline.video_io import VideoReader

    clips = [ROOT / "examples" / "synthetic_walk.mp4"]
    clips += [VIDEOS / f"{c}.mp4" for c in ("tennis", "two_people", "dribble_portrait") if (VIDEOS / f"{c}.mp4").exists()]
    out = []
    for clip in clips:
        with VideoReader(clip, pixel_format="rgb24") as reader:
            out += [(clip.name, i, f) for i, f in reader if i in (0, 30)]
    return out


def test_people_found_agree_with_mediapipes_pose_landmarker(models) -> None:
    from mediapipe.tasks.python import BaseOptions, vision

    import mediapipe as mp
    from pipeline.pose2d.mediapipe_bundle import ensure_bundle

    detector, landmarks = models
    options = vision.PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(ensure_bundle())),
                                           running_mode=vision.RunningMode.IMAGE, num_poses=8,
                                           min_pose_detection_confidence=0.3, min_pose_presence_confidence=0.5)
    people = 0
    with vision.PoseLandmarker.create_from_options(options) as landmarker:
        for name, i, frame in _frames():
            h, w = frame.shape[:2]
            theirs = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame)))
            theirs = [np.array([(p.x * w, p.y * h) for p in lm]) for lm in theirs.pose_landmarks]
            ours = [body[:, :2] for body, _ in bd.find_people(detector, landmarks, frame, limit=8)]
            assert len(ours) == len(theirs), (name, i)
            for a in theirs:
                height = np.ptp(a[:, 1])
                gap = min(np.median(np.linalg.norm(a - b, axis=1)) for b in ours)
                assert gap < 0.005 * height, (name, i, gap / height)
            people += len(theirs)
    assert people >= 2


def test_a_person_found_comes_with_a_follower_that_follows_them(models) -> None:
    from pipeline.video_io import VideoReader

    detector, landmarks = models
    truth = np.load(ROOT / "examples" / "synthetic_walk_truth.npz")["keypoints2d"]
    with VideoReader(ROOT / "examples" / "synthetic_walk.mp4", pixel_format="rgb24") as reader:
        frames = [f for i, f in reader if i < 10]
    found = bd.find_people(detector, landmarks, frames[0], limit=8)
    assert len(found) == 1
    body, follower = found[0]
    assert follower.active and follower.presence >= 0.5
    height = float(np.ptp(truth[0, :, 1]))
    h, w = frames[0].shape[:2]
    for i, frame in enumerate(frames[1:], start=1):
        x0, y0, x1, y1 = follower.region(w, h)
        body = follower.track(landmarks, frame[y0:y1, x0:x1], (x0, y0), i / 25.0)
        assert body is not None
        # hips (BlazePose 23, 24) against the truth's pelvis
        assert np.linalg.norm(body[[23, 24], :2].mean(axis=0) - truth[i, 0]) < 0.05 * height


def test_a_person_found_upside_down_starts_upright_from_their_keypoints() -> None:
    from pipeline.pose2d.base import Detection, box_from_keypoints
    from pipeline.pose2d.blazepose_follower import START_MAX_TURN, BlazePoseFollower
    from pipeline.pose2d.mediapipe import MediaPipePeopleBackend

    truth = np.load(ROOT / "examples" / "synthetic_walk_truth.npz")["keypoints2d"][0]
    scores = np.ones(17)
    with MediaPipePeopleBackend(threads=1) as backend:
        for turn, handed_over in ((0.2, True), (math.radians(174.0), False), (-math.radians(100.0), False)):
            d = Detection(truth.copy(), scores, box=box_from_keypoints(truth, scores))
            finder = BlazePoseFollower()
            finder.start_region((truth[0, 0], truth[0, 1], 300.0, turn))
            backend._handoff[id(d)] = finder
            lite = backend._new_follower(d).lite
            assert (lite is finder) == handed_over
            assert abs(lite.roi[3]) <= START_MAX_TURN  # the walker stands upright
            backend._handoff.clear()
