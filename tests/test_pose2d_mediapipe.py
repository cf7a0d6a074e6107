"""Tests for pipeline.pose2d.mediapipe: the single-person backend on a drawn figure, the
multi-person backend's geometry, and both people of real clips found and followed."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import pipeline.pose2d.mediapipe_bundle as bundle
from pipeline.pose2d.base import PoseBackend
from pipeline.pose2d.mediapipe import (MediaPipeBackend, MediaPipePeopleBackend, discovery_regions, motion_per_frame,
                                       plausible_person,
                                       same_person, tile_grid)
from pipeline.pose2d.base import Detection, box_from_keypoints
from posemoe.errors import PoseMoEError

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"

# a standing person facing the camera, Human3.6M-17 order, pixels (about 300 px tall)
STANDING = np.array([
    [200, 300], [185, 300], [185, 370], [185, 440], [215, 300], [215, 370], [215, 440],
    [200, 260], [200, 220], [200, 205], [200, 185], [225, 225], [235, 265], [240, 300],
    [175, 225], [165, 265], [160, 300]], dtype=np.float64)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(bundle.CACHE_ENV, str(tmp_path / "cache"))


def _det(kp: np.ndarray, score: float = 0.9) -> Detection:
    sc = np.full(17, score)
    return Detection(kp, sc, box=box_from_keypoints(kp, sc))


# ----------------------------------------------------------------------------- single person (solution API)

W, H = 640, 480


def draw_person(w: int = W, h: int = H) -> np.ndarray:
    """A cartoon person facing the camera, ~400 px tall, on a light background; (h, w, 3) BGR.

    The figure's left side is drawn at image x > w / 2 (as for a real person facing the camera).
    """
    img = np.full((h, w, 3), 235, np.uint8)
    skin, shirt, trousers, dark = (150, 180, 225), (60, 60, 200), (110, 60, 40), (30, 30, 30)

    def at(x: float, y: float) -> tuple[int, int]:
        return int(w // 2 + x), int(y)

    for side in (1, -1):  # +1: the figure's left (image right)
        hip, knee, ankle = at(32 * side, 270), at(40 * side, 355), at(45 * side, 440)
        cv2.line(img, hip, knee, trousers, 30, cv2.LINE_AA)
        cv2.line(img, knee, ankle, trousers, 30, cv2.LINE_AA)
    cv2.fillConvexPoly(img, np.array([at(-60, 130), at(60, 130), at(42, 285), at(-42, 285)]), shirt, cv2.LINE_AA)
    for side in (1, -1):
        shoulder, elbow, wrist = at(55 * side, 140), at(85 * side, 215), at(100 * side, 285)
        cv2.line(img, shoulder, elbow, shirt, 26, cv2.LINE_AA)
        cv2.line(img, elbow, wrist, skin, 20, cv2.LINE_AA)
        cv2.circle(img, wrist, 13, skin, -1, cv2.LINE_AA)
    cv2.line(img, at(0, 105), at(0, 135), skin, 24, cv2.LINE_AA)  # neck
    cv2.ellipse(img, at(0, 80), (30, 38), 0, 0, 360, skin, -1, cv2.LINE_AA)  # face
    for side in (1, -1):
        cv2.circle(img, at(12 * side, 75), 4, dark, -1, cv2.LINE_AA)  # eyes
    cv2.ellipse(img, at(0, 52), (31, 16), 0, 180, 360, dark, -1, cv2.LINE_AA)  # hair
    cv2.line(img, at(0, 80), at(0, 90), (110, 140, 190), 3, cv2.LINE_AA)  # nose
    cv2.ellipse(img, at(0, 100), (10, 4), 0, 0, 180, (60, 60, 160), 2, cv2.LINE_AA)  # mouth
    return img


def test_mediapipe_finds_the_drawn_person_with_left_and_right_right() -> None:
    frame = draw_person()
    with MediaPipeBackend() as backend:
        assert isinstance(backend, PoseBackend)
        assert backend.name == "mediapipe" and backend.multi_person is False
        for i in range(5):
            dets = backend(frame, i)
            assert len(dets) == 1
            d = dets[0]
            assert isinstance(d, Detection)
            kp, sc = d.keypoints, d.scores
            assert kp.shape == (17, 2) and sc.shape == (17,)
            assert np.isfinite(kp).all()
            assert (kp[:, 0] >= 0).all() and (kp[:, 0] < W).all() and (kp[:, 1] >= 0).all() and (kp[:, 1] < H).all()
            assert sc[[0, 8, 10, 11, 14]].min() > 0.5  # pelvis, thorax, head, shoulders seen
            assert kp[10, 1] < kp[8, 1] < kp[0, 1]  # head above thorax above pelvis
            assert kp[13, 0] > W / 2 > kp[16, 0]  # figure's left hand is on the image's right
            assert kp[4, 0] > kp[1, 0] and kp[11, 0] > kp[14, 0]  # left hip/shoulder right of the right ones
            assert abs(kp[10, 0] - W / 2) < 15 and 40 < kp[10, 1] < 110  # head between the drawn eyes
            x0, y0, x1, y1 = d.box
            assert x0 < kp[:, 0].min() and x1 > kp[:, 0].max() and y0 < kp[:, 1].min()
        # a jump back in time restarts tracking: an empty frame there has nobody
        assert backend(np.full_like(frame, 235), 0) == []
        with pytest.raises(PoseMoEError, match="uint8 \\(H, W, 3\\)"):
            backend(frame[..., 0], 1)
    with pytest.raises(PoseMoEError, match="after close"):
        backend(frame, 2)
    backend.close()  # twice is fine


def test_mediapipe_missing_names_the_fix(monkeypatch) -> None:
    for name in ("mediapipe", "mediapipe.python", "mediapipe.python.solutions", "mediapipe.python.solutions.pose"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(PoseMoEError, match=r"pip install mediapipe==0\.10\.21"):
        MediaPipeBackend()
    with pytest.raises(PoseMoEError, match="min_detection_confidence"):
        MediaPipeBackend(min_detection_confidence=1.5)


# ----------------------------------------------------------------------------- several people (Tasks API)


def test_people_backend_checks_frames_and_closes_as_a_context_manager() -> None:
    backend = MediaPipePeopleBackend(threads=1)
    with backend:
        assert isinstance(backend, PoseBackend) and backend.multi_person and backend.input_format == "rgb24"
        with pytest.raises(PoseMoEError, match=r"MediaPipePeopleBackend: expected a frame as a uint8 \(H, W, 3\)"):
            backend(np.zeros((4, 4), np.uint8), 0)
        assert backend(np.full((240, 320, 3), 235, np.uint8), 0) == []  # nobody in a blank frame
    with pytest.raises(PoseMoEError, match="after close"):  # leaving the block closed it
        backend.detect_rgb(np.zeros((8, 8, 3), np.uint8), 1)
    backend.close()  # twice is fine


def test_tiles_cover_the_frame_with_overlap() -> None:
    for w, h in ((1280, 720), (1920, 1080), (1080, 1920)):
        tiles = tile_grid(w, h, 432)
        covered = np.zeros((h, w), bool)
        for x0, y0, x1, y1 in tiles:
            assert x1 - x0 == 432 and y1 - y0 == 432 and 0 <= x0 and x1 <= w and 0 <= y0 and y1 <= h
            covered[y0:y1, x0:x1] = True
        assert covered.all()
        xs = sorted({t[0] for t in tiles})
        assert all(b - a <= 432 * 0.8 + 1 for a, b in zip(xs, xs[1:]))  # neighbours share >= 20 %
    assert tile_grid(400, 300, 432) == []  # a frame no larger than one tile has no tiles
    regions = discovery_regions(1920, 1080, 432)
    assert regions[0] == (0, 0, 1920, 1080) and {r[2] - r[0] for r in regions[1:]} == {432, 864}
    assert discovery_regions(1920, 1080, 0) == [(0, 0, 1920, 1080)]


def test_plausible_person_keeps_people_and_turns_away_ghosts() -> None:
    sc = np.full(17, 0.9)
    assert plausible_person(STANDING, sc)
    assert plausible_person(STANDING * 0.3, sc)  # small but whole: about 90 px tall
    # a collapsed skeleton (everything within a few pixels) is not a person
    assert not plausible_person(200 + (STANDING - 200) * 0.04, sc)
    # legs much shorter than the torso: the loudspeaker the detector sees as a body
    stubby = STANDING.copy()
    stubby[[2, 3, 5, 6], 1] = [320, 330, 320, 330]
    assert not plausible_person(stubby, sc)
    # a small body lying flat (a table edge), but a large lying person is kept
    lying = np.stack([STANDING[:, 1], STANDING[:, 0]], axis=1)
    assert not plausible_person(200 + (lying - 200) * 0.3, sc)
    assert plausible_person(200 + (lying - 200) * 2.0, sc)  # torso 150 px
    low = sc.copy()
    low[[1, 4]] = 0.2  # hips not seen
    assert not plausible_person(STANDING, low)


def test_same_person() -> None:
    a = _det(STANDING)
    assert same_person(a, _det(STANDING + 3.0), 0.5)
    assert not same_person(a, _det(STANDING + [200.0, 0.0]), 0.5)
    # the upper half of a person seen on its own is a part of them
    upper = STANDING.copy()
    upper[[1, 2, 3, 4, 5, 6, 0], 1] = [250, 255, 260, 250, 255, 260, 250]
    assert same_person(_det(upper), a, 0.5)


# ----------------------------------------------------------------------------- real video


def _frames(name: str, n: int) -> list[np.ndarray]:
    from pipeline.video_io import VideoReader

    path = VIDEOS / name
    if not path.is_file():
        pytest.skip(f"{path} not present")
    out = []
    with VideoReader(path, "rgb24") as reader:
        for i, frame in reader:
            if i >= n:
                break
            out.append(frame)
    return out


@pytest.mark.slow
def test_finds_and_follows_both_people_in_two_people_mp4() -> None:
    frames = _frames("two_people.mp4", 8)
    with MediaPipePeopleBackend() as backend:
        found = [backend.detect_rgb(f, i) for i, f in enumerate(frames)]
    # the two men stand side by side (x about 660-870 and 920-1120): nobody else, both in
    # frame 0 and in most frames (MediaPipe loses one of them for a frame or two now and then)
    assert len(found[0]) == 2
    assert sum(len(dets) == 2 for dets in found) >= 6
    for dets in found:
        assert all(700 < (d.box[0] + d.box[2]) / 2 < 850 or 950 < (d.box[0] + d.box[2]) / 2 < 1100 for d in dets)
        for d in dets:
            assert d.box[3] - d.box[1] > 500 and (d.scores > 0.5).sum() >= 12
    # tiles off and one person at most: the same frame 0, fewer people
    with MediaPipePeopleBackend(max_people=1, tile=0) as backend:
        assert len(backend.detect_rgb(frames[0], 0)) == 1


@pytest.mark.slow
def test_finds_the_small_man_behind_the_tennis_player() -> None:
    """The man in the striped shirt at the far end of the court is about 105 px tall in a
    720-px frame: the whole-frame detector misses him; a tile finds him and he is followed."""
    frames = _frames("tennis.mp4", 40)
    with MediaPipePeopleBackend() as backend:
        found = [backend.detect_rgb(f, i) for i, f in enumerate(frames)]

    def small_man(dets):
        return [d for d in dets if 590 < (d.box[0] + d.box[2]) / 2 < 660 and (d.box[3] - d.box[1]) < 160]

    first = next(i for i, dets in enumerate(found) if small_man(dets))
    assert first < 20
    assert all(small_man(dets) for dets in found[first:])  # followed from then on
    assert all(any(d.box[3] - d.box[1] > 350 for d in dets) for dets in found)  # and the player throughout
    with MediaPipePeopleBackend(tile=0) as backend:
        assert not any(small_man(backend.detect_rgb(f, i)) for i, f in enumerate(frames[:12]))


def test_masked_greys_only_other_people_outside_the_persons_own_box() -> None:
    """The crop a follower's landmarker sees: pixels inside another followed person's box are
    grey (128) unless they also lie in this person's own box; nothing else changes, and the
    frame itself is never written to."""
    from pipeline.pose2d.mediapipe import _Follower

    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    original = rgb.copy()
    me = _Follower(landmarker=None, detection=Detection(np.zeros((17, 2)), np.ones(17),
                                                           box=np.array([100.0, 50.0, 200.0, 250.0])))
    others = [np.array([180.0, 40.0, 260.5, 200.0]), np.array([0.0, 0.0, 30.0, 30.0]), np.array([90.0, 260.0, 120.0, 299.0])]
    crop = (60, 20, 280, 280)
    out = MediaPipePeopleBackend._masked(rgb, crop, me, others)
    assert np.array_equal(rgb, original)
    ys, xs = np.mgrid[20:280, 60:280]
    inside = np.zeros(ys.shape, bool)
    for b in others:
        inside |= (xs >= int(b[0])) & (xs < int(np.ceil(b[2]))) & (ys >= int(b[1])) & (ys < int(np.ceil(b[3])))
    mine = (xs >= 100) & (xs < 200) & (ys >= 50) & (ys < 250)
    grey = inside & ~mine
    assert grey.sum() > 1000 and (inside & mine).sum() > 1000  # both cases occur
    assert (out[grey] == 128).all()
    assert np.array_equal(out[~grey], original[20:280, 60:280][~grey])
    # nobody else in the crop: the crop is the frame's own pixels
    assert np.array_equal(MediaPipePeopleBackend._masked(rgb, crop, me, []), original[20:280, 60:280])


@pytest.mark.slow
def test_who_is_found_does_not_depend_on_timing() -> None:
    """Discovery runs beside the next frame's followers and is collected at a fixed point, so
    the people found, and their keypoints, are the same with one worker thread or two."""
    frames = _frames("tennis.mp4", 30)
    runs = []
    for threads in (1, 2):
        with MediaPipePeopleBackend(threads=threads) as backend:
            runs.append([backend.detect_rgb(f, i) for i, f in enumerate(frames)])
    assert sum(len(d) for d in runs[0]) >= 1.5 * len(frames)  # the player and, soon, others
    for a, b in zip(*runs):
        assert len(a) == len(b)
        for da, db in zip(a, b):
            np.testing.assert_allclose(da.keypoints, db.keypoints, atol=1e-3)


def test_motion_per_frame_is_median_joint_motion_over_height() -> None:
    a = _det(STANDING)
    moved = STANDING.copy()
    moved[:, 0] += 3.0  # everyone 3 px right
    moved[0] += 50.0  # one joint far off: the median ignores it
    b = _det(moved)
    height = b.box[3] - b.box[1]
    assert motion_per_frame(a, b) == pytest.approx(3.0 / height)
    assert motion_per_frame(a, b, frames=2) == pytest.approx(1.5 / height)
    unsure = Detection(STANDING.copy(), np.where(np.arange(17) < 5, 0.9, 0.1), box=a.box)
    assert motion_per_frame(unsure, b) == float("inf")  # too few confident joints to tell


@pytest.mark.parametrize("hold", [0.5, 0.005, 0.0])
def test_a_skipped_frame_becomes_the_midpoint_of_its_neighbours(monkeypatch, hold: float) -> None:
    """A person moving less than `hold_motion` of their height per frame gets no landmark run on
    the next frame: that frame's detection (a new object, handed out at once) is set to the
    midpoint of the runs on either side once the frame after it has run; never two frames in a
    row. 0.5 counts everyone on `two_people.mp4` as nearly still (every other frame skipped),
    0 nobody; the default sits between."""
    import pipeline.pose2d.mediapipe as mp_mod

    calls = []
    real = mp_mod.between
    monkeypatch.setattr(mp_mod, "between", lambda b, a, into: (calls.append((b, a, into.keypoints.copy(), into)),
                                                               real(b, a, into)))
    frames = _frames("two_people.mp4", 16)
    with MediaPipePeopleBackend(hold_motion=hold) as backend:
        out = [backend.detect_rgb(f, i) for i, f in enumerate(frames)]
    assert all(len(dets) == 2 for dets in out[1:])
    where = {id(d): i for i, dets in enumerate(out) for d in dets}
    for before, after, copied, into in calls:
        t = where[id(into)]
        assert where[id(before)] == t - 1 and where[id(after)] == t + 1  # runs on both sides: never two in a row
        np.testing.assert_array_equal(copied, before.keypoints)  # handed out as a copy of the frame before
        np.testing.assert_allclose(into.keypoints, (before.keypoints + after.keypoints) / 2)
        np.testing.assert_allclose(into.scores, (before.scores + after.scores) / 2)
        np.testing.assert_allclose(into.box, (np.asarray(before.box) + np.asarray(after.box)) / 2)
    if hold == 0.5:
        assert len(calls) >= 12  # two people, about every other frame of 16
    elif hold == 0.0:
        assert not calls


def test_hold_motion_is_checked() -> None:
    with pytest.raises(PoseMoEError, match="hold_motion"):
        MediaPipePeopleBackend(hold_motion=1.5)


def test_the_tracks_get_the_midpoint_not_the_copy(monkeypatch) -> None:
    """The tracker keeps the skipped frame's detection as handed out; the midpoint set one frame
    later must be what the finished tracks hold."""
    import pipeline.pose2d.mediapipe as mp_mod
    from pipeline.track import Tracker

    calls = []
    real = mp_mod.between
    monkeypatch.setattr(mp_mod, "between", lambda b, a, into: (calls.append(into), real(b, a, into)))
    frames = _frames("two_people.mp4", 12)
    tracker = Tracker(min_track_length=3)
    with MediaPipePeopleBackend(hold_motion=0.5) as backend:
        out = []
        for i, f in enumerate(frames):
            out.append(backend.detect_rgb(f, i))
            tracker.update(i, out[-1])
    tracks = tracker.finalize(len(frames))
    where = {id(d): i for i, dets in enumerate(out) for d in dets}
    assert len(calls) >= 8
    for into in calls:
        t = where[id(into)]
        gaps = [np.abs(tracks.keypoints[k, t] - into.keypoints).max() for k in range(tracks.num_people)]
        assert min(gaps) < 1e-3  # float32 in the tracks


@pytest.mark.slow
def test_regions_are_searched_on_every_frame_for_the_first_rounds_then_every_other(monkeypatch) -> None:
    frames = _frames("two_people.mp4", 40)
    searched = {}
    real = MediaPipePeopleBackend._submit_finder
    for rounds in (1, 2):
        calls: list[int] = []

        def counted(self, rgb, region, *rest, calls=calls):
            calls.append(self._last_index)
            return real(self, rgb, region, *rest)

        monkeypatch.setattr(MediaPipePeopleBackend, "_submit_finder", counted)
        with MediaPipePeopleBackend(first_rounds=rounds) as backend:
            found = [backend.detect_rgb(f, i) for i, f in enumerate(frames)]
        searched[rounds] = calls
        assert sum(len(d) == 2 for d in found) >= 36  # both men, whatever the schedule
    regions = 25  # 1920x1080: the whole frame, 18 tiles of 432 px and 6 of 864 px
    assert searched[1] == list(range(regions)) + [i for i in range(regions, 40) if i % 2 == 0]
    assert searched[2] == list(range(40))  # two rounds take 50 frames


def test_first_rounds_is_checked() -> None:
    with pytest.raises(PoseMoEError, match="first_rounds"):
        MediaPipePeopleBackend(first_rounds=-1)
