"""Tests for pipeline.track: linking per-frame 2D detections into person tracks."""

from __future__ import annotations


import numpy as np
import pytest

from pipeline.pose2d.base import Detection, box_from_keypoints
from pipeline.track import Tracker, Tracks, match, track_sequence
from posemoe.errors import PoseMoEError

# Standing stick figure in H36M17 order: (x offset, height above the feet), in units of body height.
_TEMPLATE = np.array([
    [0.00, 0.50],                                   # 0 pelvis
    [-0.08, 0.50], [-0.08, 0.27], [-0.08, 0.00],    # 1-3 right hip, knee, ankle
    [0.08, 0.50], [0.08, 0.27], [0.08, 0.00],       # 4-6 left hip, knee, ankle
    [0.00, 0.65], [0.00, 0.80], [0.00, 0.87], [0.00, 0.95],  # 7-10 spine, thorax, neck, head
    [0.12, 0.80], [0.15, 0.65], [0.17, 0.50],       # 11-13 left shoulder, elbow, wrist
    [-0.12, 0.80], [-0.15, 0.65], [-0.17, 0.50],    # 14-16 right shoulder, elbow, wrist
])


def figure(cx: float, feet_y: float, height: float) -> np.ndarray:
    """(17, 2) pixel keypoints of a stick figure centred at x = cx standing on y = feet_y."""
    kp = np.empty((17, 2))
    kp[:, 0] = cx + height * _TEMPLATE[:, 0]
    kp[:, 1] = feet_y - height * _TEMPLATE[:, 1]
    return kp


def det(kp: np.ndarray, joint_score: float = 0.9, score: float | None = None) -> Detection:
    return Detection(keypoints=kp, scores=np.full(17, joint_score), score=score)


class Walker:
    """A figure walking with constant velocity: x = x0 + vx * t."""

    def __init__(self, x0: float, vx: float, feet_y: float, height: float, noise: float = 0.0, seed: int = 0):
        self.x0, self.vx, self.feet_y, self.height = x0, vx, feet_y, height
        self.noise = noise
        self.rng = np.random.default_rng(seed)

    def at(self, t: int) -> np.ndarray:
        kp = figure(self.x0 + self.vx * t, self.feet_y, self.height)
        return kp + self.noise * self.rng.standard_normal(kp.shape)


def crossing_scene(frames: int = 40, hidden_b: range = range(0)) -> tuple[list[list[Detection]], list[list[int]]]:
    """A walks right, B walks left; they cross around frame 21 (boxes overlapping for ~10 frames).

    B is listed first in every frame so that detection order never agrees with id order by luck.
    Returns per-frame detections and per-frame ground-truth identity (0 = A, 1 = B) per detection.
    """
    a = Walker(100.0, 12.0, feet_y=450.0, height=300.0, noise=1.0, seed=1)
    b = Walker(600.0, -12.0, feet_y=420.0, height=240.0, noise=1.0, seed=2)
    dets, truth = [], []
    for t in range(frames):
        frame, ident = [], []
        kb = b.at(t)
        if t not in hidden_b:
            frame.append(det(kb))
            ident.append(1)
        frame.append(det(a.at(t)))
        ident.append(0)
        dets.append(frame)
        truth.append(ident)
    return dets, truth


def run(dets: list[list[Detection]], **kwargs) -> tuple[Tracker, list[list[int]], Tracks]:
    tracker = Tracker(**kwargs)
    ids = [tracker.update(t, frame) for t, frame in enumerate(dets)]
    return tracker, ids, tracker.finalize(len(dets))


def test_two_people_crossing_keep_their_ids() -> None:
    dets, truth = crossing_scene()
    _, ids, tracks = run(dets)
    # A appears as the second detection of frame 0, B as the first: ids by first appearance
    assert ids[0] == [0, 1]
    expected = [[1 - g for g in frame] for frame in truth]  # B -> id 0, A -> id 1
    assert ids == expected
    assert tracks.track_ids.tolist() == [0, 1]
    assert tracks.present.all() and not tracks.interpolated.any()
    # the boxes really do overlap heavily around the crossing
    a_box, b_box = dets[21][1].box, dets[21][0].box
    assert min(a_box[2], b_box[2]) - max(a_box[0], b_box[0]) > 0.8 * (b_box[2] - b_box[0])


def test_velocity_prediction_keeps_id_through_occluded_crossing() -> None:
    hidden = range(17, 24)  # B hidden behind A for 7 frames while they pass
    dets, truth = crossing_scene(hidden_b=hidden)
    _, ids, tracks = run(dets)
    assert ids == [[1 - g for g in frame] for frame in truth]
    b = tracks.track_ids.tolist().index(0)
    assert tracks.interpolated[b].tolist() == [t in hidden for t in range(40)]
    # without the motion model B's stale position no longer matches: B comes back as a new id
    _, ids_static, _ = run(dets, use_velocity=False)
    assert ids_static[24][0] == 2


def test_short_gap_is_interpolated_and_keeps_id() -> None:
    walker = Walker(50.0, 5.0, feet_y=400.0, height=200.0, noise=2.0, seed=3)
    gap = range(10, 14)  # 4 missing frames
    dets = [[] if t in gap else [Detection(walker.at(t), np.linspace(0.5, 1.0, 17))] for t in range(25)]
    _, ids, tracks = run(dets, max_gap=10)
    assert all(frame == [0] for frame in ids if frame)
    assert tracks.track_ids.tolist() == [0]
    assert tracks.interpolated[0].tolist() == [t in gap for t in range(25)]
    assert tracks.present[0].all()
    kp9, kp14 = dets[9][0].keypoints, dets[14][0].keypoints
    sc9, sc14 = dets[9][0].scores, dets[14][0].scores
    for t in gap:
        w = (t - 9) / 5
        np.testing.assert_allclose(tracks.keypoints[0, t], (1 - w) * kp9 + w * kp14, rtol=1e-6)
        np.testing.assert_allclose(tracks.scores[0, t], 0.5 * ((1 - w) * sc9 + w * sc14), rtol=1e-6)
    np.testing.assert_allclose(tracks.keypoints[0, 9], kp9, rtol=1e-6)
    np.testing.assert_allclose(tracks.scores[0, 14], sc14, rtol=1e-6)


def test_long_gap_is_absent_and_return_gets_new_id() -> None:
    walker = Walker(50.0, 2.0, feet_y=400.0, height=200.0)
    gap = range(10, 40)  # 30 missing frames, more than max_gap
    dets = [[] if t in gap else [det(walker.at(t))] for t in range(50)]
    _, ids, tracks = run(dets, max_gap=10)
    # documented behaviour: the returning person is a new track (id 1), the old one ends at frame 9
    assert [frame[0] for frame in ids if frame] == [0] * 10 + [1] * 10
    assert tracks.track_ids.tolist() == [0, 1]
    assert tracks.present[0].tolist() == [t < 10 for t in range(50)]
    assert tracks.present[1].tolist() == [t >= 40 for t in range(50)]
    assert not tracks.interpolated.any()
    assert np.isnan(tracks.keypoints[0, 10:]).all() and np.isnan(tracks.keypoints[1, :40]).all()
    assert (tracks.scores[0, 10:] == 0).all() and (tracks.scores[1, :40] == 0).all()
    assert not tracks.low_confidence[0, 10:].any()


def test_spurious_single_frame_detection_is_dropped() -> None:
    walker = Walker(100.0, 3.0, feet_y=400.0, height=200.0)
    dets = [[det(walker.at(t))] for t in range(20)]
    dets[5].append(det(figure(900.0, 300.0, 150.0), joint_score=0.5))
    _, ids, tracks = run(dets, min_track_length=3)
    assert ids[5] == [0, 1]  # it got an id while tracking ...
    assert tracks.track_ids.tolist() == [0]  # ... but is gone from the result
    assert tracks.keypoints.shape == (1, 20, 17, 2) and tracks.present.all()


def test_max_people_keeps_the_stronger_track_without_renumbering() -> None:
    a = Walker(100.0, 2.0, feet_y=400.0, height=200.0)
    b = Walker(600.0, -2.0, feet_y=400.0, height=200.0)
    # B is seen for 10 frames only: A (30 frames) wins
    dets = [[det(a.at(t))] + ([det(b.at(t))] if t < 10 else []) for t in range(30)]
    tracks = track_sequence(dets, max_people=1)
    assert tracks.track_ids.tolist() == [0] and tracks.present[0].all()
    # same length, B more confident: B (id 1) wins and keeps its id
    dets = [[det(a.at(t), score=0.5), det(b.at(t), score=0.9)] for t in range(30)]
    tracks = track_sequence(dets, max_people=1)
    assert tracks.track_ids.tolist() == [1]
    np.testing.assert_allclose(tracks.keypoints[0, 7], b.at(7), rtol=1e-6)
    # ties: the earlier track is kept
    dets = [[det(a.at(t), score=0.7), det(b.at(t), score=0.7)] for t in range(30)]
    assert track_sequence(dets, max_people=1).track_ids.tolist() == [0]
    assert track_sequence(dets, max_people=5).track_ids.tolist() == [0, 1]


def test_low_confidence_joints_are_flagged_not_removed() -> None:
    walker = Walker(100.0, 3.0, feet_y=400.0, height=200.0)
    dets = []
    for t in range(12):
        scores = np.full(17, 0.9)
        if t % 2 == 0:
            scores[13] = 0.1  # left wrist unreliable on even frames
        dets.append([Detection(walker.at(t), scores)])
    tracks = track_sequence(dets, joint_threshold=0.3)
    low = tracks.low_confidence[0]
    assert low[:, 13].tolist() == [t % 2 == 0 for t in range(12)]
    assert not np.delete(low, 13, axis=1).any()
    assert np.isfinite(tracks.keypoints).all()
    np.testing.assert_allclose(tracks.keypoints[0, 4, 13], walker.at(4)[13], rtol=1e-6)
    assert tracks.scores[0, 4, 13] == pytest.approx(0.1)


def test_deterministic() -> None:
    dets, _ = crossing_scene(hidden_b=range(18, 22))
    first, second = track_sequence(dets), track_sequence(dets)
    for name in ("track_ids", "keypoints", "scores", "present", "interpolated", "low_confidence"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))


@pytest.mark.parametrize("frames", [0, 5])
def test_no_detections_gives_empty_arrays(frames: int) -> None:
    tracks = track_sequence([[] for _ in range(frames)])
    assert tracks.num_people == 0 and tracks.num_frames == frames
    assert tracks.track_ids.shape == (0,)
    assert tracks.keypoints.shape == (0, frames, 17, 2) and tracks.keypoints.dtype == np.float32
    assert tracks.scores.shape == (0, frames, 17) and tracks.scores.dtype == np.float32
    assert tracks.present.shape == tracks.interpolated.shape == (0, frames)
    assert tracks.low_confidence.shape == (0, frames, 17) and tracks.low_confidence.dtype == bool


def test_box_from_keypoints_uses_visible_joints_and_margin() -> None:
    kp = figure(200.0, 400.0, 100.0)
    scores = np.full(17, 0.9)
    kp[16] = (1000.0, 1000.0)
    scores[16] = 0.05  # an outlier joint with a low score does not stretch the box
    box = box_from_keypoints(kp, scores, thr=0.3, margin=0.1)
    x0, x1 = 200.0 - 15.0, 200.0 + 17.0  # right elbow at -0.15 h, left wrist at +0.17 h
    w, h = x1 - x0, 100.0 * 0.95
    np.testing.assert_allclose(box, [x0 - 0.1 * w, 305.0 - 0.1 * h, x1 + 0.1 * w, 400.0 + 0.1 * h])
    # a Detection without a box derives it the same way
    np.testing.assert_allclose(Detection(kp, scores).box, box)
    # nothing visible: all finite joints are used; nothing finite: error
    assert box_from_keypoints(kp, np.zeros(17), thr=0.3)[2] > 1000.0
    with pytest.raises(PoseMoEError, match="no finite keypoint"):
        box_from_keypoints(np.full((17, 2), np.nan), scores)


def test_detection_validation_and_dropped_detections() -> None:
    with pytest.raises(PoseMoEError, match="keypoints must have shape"):
        Detection(np.zeros((18, 2)), np.ones(18))
    with pytest.raises(PoseMoEError, match="box must be"):
        Detection(figure(0, 100, 50), np.ones(17), box=np.array([10.0, 10.0, 0.0, 20.0]))
    kp = figure(100.0, 400.0, 200.0)
    kp[3] = np.nan  # a joint the backend did not find: score forced to 0
    d = Detection(kp, np.full(17, 0.8))
    assert d.scores[3] == 0 and d.score == pytest.approx(0.8 * 16 / 17)
    tracker = Tracker()
    # a detection with no joint above the threshold is dropped (-1)
    assert tracker.update(0, [d, det(figure(400.0, 400.0, 200.0), joint_score=0.1)]) == [0, -1]
    with pytest.raises(PoseMoEError, match="strictly increase"):
        tracker.update(0, [d])
    with pytest.raises(PoseMoEError, match="num_frames"):
        tracker.finalize(0)
    with pytest.raises(PoseMoEError, match="max_people"):
        Tracker(max_people=0)


def test_match_rejects_weak_pairs_and_prefers_global_optimum() -> None:
    # greedy would take (0, 0) = 0.9 and leave track 1 with nothing; the optimum is 0.8 + 0.85
    sim = np.array([[0.9, 0.8], [0.85, 0.1]])
    assert match(sim, 0.2) == [(0, 1), (1, 0)]
    assert match(np.array([[0.15, 0.1]]), 0.2) == []
    assert match(np.zeros((0, 3)), 0.2) == []


# ----------------------------------------------------------------------------- coming back


def _looks(colour_bin: int) -> np.ndarray:
    """An appearance description with all its colour in one bin of each part."""
    from pipeline.appearance import LENGTH, PART_LENGTH

    a = np.zeros(LENGTH, np.float32)
    a[colour_bin] = a[PART_LENGTH + colour_bin] = 1.0
    return a


def _person_at(x: float, height: float = 300.0, look: np.ndarray | None = None) -> Detection:
    kp = np.stack([np.full(17, x), np.linspace(100.0, 100.0 + height, 17)], axis=1)
    return Detection(kp, np.full(17, 0.9), appearance=look)


def test_a_person_who_comes_back_keeps_their_id() -> None:
    """Red leaves at frame 20 and comes back at 60 elsewhere in the frame (a gap the frame-to-frame
    matching cannot bridge); blue is there all along. Red gets their old id back; a green newcomer,
    someone of another height and a track without appearance do not."""
    red, blue, green = _looks(3), _looks(40), _looks(20)
    frames = []
    for f in range(100):
        dets = [_person_at(600.0, look=blue)]
        if f < 20:
            dets.append(_person_at(100.0, look=red))
        elif 60 <= f < 80:
            dets.append(_person_at(350.0, look=red))
        elif f >= 92:
            dets.append(_person_at(450.0, look=green))
        frames.append(dets)
    tracks = track_sequence(frames)
    assert tracks.num_people == 3
    red_p = [p for p in range(3) if tracks.present[p, 5] and tracks.keypoints[p, 5, 0, 0] < 200][0]
    seen = tracks.present[red_p]
    assert seen[:20].all() and not seen[20:60].any() and seen[60:80].all() and not seen[80:].any()
    assert tracks.track_ids[red_p] == 1  # red's first id (blue came first in frame 0)
    blue_p = [p for p in range(3) if tracks.keypoints[p, 5, 0, 0] == 600.0][0]
    assert tracks.present[blue_p].all()
    # off: three tracks for red (before, after) and green
    assert track_sequence(frames, reid_gap=0).num_people == 4
    # the same colours but twice the height: not the same person
    frames_tall = [[d if not (60 <= f < 80 and d.keypoints[0, 0] == 350.0) else _person_at(350.0, 600.0, red)
                    for d in dets] for f, dets in enumerate(frames)]
    assert track_sequence(frames_tall).num_people == 4
    # without appearance nobody is joined
    plain = [[Detection(d.keypoints, d.scores) for d in dets] for dets in frames]
    assert track_sequence(plain).num_people == 4


def test_appearance_describes_clothes() -> None:
    from pipeline.appearance import appearance, appearance_distance

    frame = np.zeros((400, 300, 3), np.uint8)
    frame[:, :150] = (0, 0, 200)  # left half red (BGR)
    frame[:, 150:] = (200, 0, 0)  # right half blue
    left, right = _person_at(70.0, 250.0), _person_at(220.0, 250.0)
    left.keypoints[:, 0] += np.linspace(-30, 30, 17)  # give the body some width
    right.keypoints[:, 0] += np.linspace(-30, 30, 17)
    a, b = appearance(frame, left), appearance(frame, right)
    assert a is not None and b is not None and abs(a.sum() - 2.0) < 1e-4
    assert appearance_distance(a, a) < 1e-6 and appearance_distance(a, b) > 0.9
    # RGB frames give the same description when told so
    assert np.allclose(appearance(frame[..., ::-1].copy(), left, rgb=True), a)
    hidden = _person_at(70.0, 250.0)
    hidden.scores[[1, 4]] = 0.1  # hips not seen: no description
    assert appearance(frame, hidden) is None


def test_one_track_or_one_detection_is_assigned_as_scipy_would_without_importing_it() -> None:
    import subprocess
    import sys

    from scipy.optimize import linear_sum_assignment

    from pipeline.track import _linear_assignment

    rng = np.random.default_rng(3)
    for shape in [(1, 1), (1, 5), (6, 1), (3, 4), (5, 2)]:
        cost = rng.uniform(-1, 0, size=shape)
        rows, cols = linear_sum_assignment(cost)
        assert _linear_assignment(cost) == sorted(zip(rows.tolist(), cols.tolist())), shape
    # the video job imports the tracker before its 2D pass starts: scipy.optimize (~0.2 s) is left for later
    code = "import sys, pipeline.video; print('scipy.optimize' in sys.modules)"
    from pathlib import Path

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr[-2000:]
