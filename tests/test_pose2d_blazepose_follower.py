"""Following a person with BlazePose's landmark model run directly in LiteRT: the geometry of the
region of interest, the heatmap refinement, the smoothing, a real walk followed to within a few
percent of the truth, and the backend falling back to MediaPipe's landmarker."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mediapipe")
pytest.importorskip("ai_edge_litert")

from pipeline.pose2d import blazepose_follower as bf  # noqa: E402
from pipeline.pose2d.mediapipe import MediaPipePeopleBackend  # noqa: E402
from pipeline.pose2d.mediapipe_bundle import wheel_models  # noqa: E402
from pipeline.video_io import read_all_frames  # noqa: E402
from posemoe.errors import PoseMoEError  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
LIMBS = [1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16]  # hips, knees, ankles, shoulders, elbows, wrists


def _follower() -> bf.BlazePoseFollower:
    return bf.BlazePoseFollower()


@pytest.fixture(scope="module")
def model() -> bf.LandmarkModel:
    return bf.LandmarkModel(wheel_models()[1])


@pytest.fixture(scope="module")
def walk() -> tuple[list[np.ndarray], np.ndarray]:
    """The committed synthetic walk (RGB frames) and its true 2D keypoints (F, 17, 2)."""
    _, frames = read_all_frames(EXAMPLES / "synthetic_walk.mp4")
    truth = np.load(EXAMPLES / "synthetic_walk_truth.npz")["keypoints2d"]
    return [np.ascontiguousarray(f[..., ::-1]) for f in frames], truth


@pytest.mark.parametrize("up", [(0.0, -1.0), (1.0, 0.0), (-0.6, -0.8), (0.3, 0.9)])
def test_the_region_is_turned_so_that_up_is_up(up: tuple[float, float]) -> None:
    """The model's input maps onto the frame with its top edge's middle `side / 2` from the
    centre in the direction `up`, and the region's box holds all four corners."""
    f = _follower()
    u = np.array(up) / np.hypot(*up)
    f.roi = (300.0, 200.0, 120.0, bf._turn(np.array(up)))
    m = f._affine((0, 0))
    top = m @ np.array([bf.INPUT / 2, 0.0, 1.0])
    np.testing.assert_allclose(top, np.array([300.0, 200.0]) + 60.0 * u, atol=1e-6)
    centre = m @ np.array([bf.INPUT / 2, bf.INPUT / 2, 1.0])
    np.testing.assert_allclose(centre, [300.0, 200.0], atol=1e-6)
    x0, y0, x1, y1 = f.region(1000, 1000)
    for corner in ((0, 0), (bf.INPUT, 0), (0, bf.INPUT), (bf.INPUT, bf.INPUT)):
        px, py = m @ np.array([*corner, 1.0])
        assert x0 - 1e-6 <= px <= x1 and y0 - 1e-6 <= py <= y1
    assert bf._turn(np.array([0.0, -5.0])) == pytest.approx(0.0)


def test_a_start_from_upside_down_keypoints_starts_upright() -> None:
    f = _follower()
    kp = np.zeros((17, 2))
    kp[:, 0] = 100.0
    kp[:, 1] = np.linspace(300, 100, 17)
    kp[8] = (100.0, 350.0)  # thorax below the pelvis: keypoints too poor to set the turn
    f.start(kp, np.ones(17))
    assert f.active and f.roi[3] == 0.0 and f.roi[2] == pytest.approx(bf.REGION_SCALE * 200.0)
    kp[8] = (130.0, 150.0)  # a lean of 31 degrees is kept
    f.start(kp, np.ones(17))
    assert f.roi[3] == pytest.approx(bf._turn(kp[8] - kp[0]))
    f.start(np.full((17, 2), np.nan), np.ones(17))
    assert not f.active


def test_refinement_moves_a_landmark_to_its_heatmap_peak() -> None:
    hm = np.full((bf.HEATMAP, bf.HEATMAP, 2), -10.0, dtype=np.float32)
    rows, cols = np.mgrid[0:bf.HEATMAP, 0:bf.HEATMAP]
    hm[..., 0] = 8.0 - ((cols - 20) ** 2 + (rows - 30) ** 2)  # a sharp peak at column 20, row 30
    xy = np.array([[20.7 * 4, 30.4 * 4], [100.0, 100.0]])  # its 7x7 window centred on the peak
    out = bf._refine(xy, hm)
    np.testing.assert_allclose(out[0], [20 * 4, 30 * 4], atol=0.05)
    np.testing.assert_array_equal(out[1], xy[1])  # no confident peak: left as predicted


def _refine_one_by_one(xy: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """The refinement written plainly, landmark by landmark, window clipped to the heatmap."""
    out = xy.copy()
    for k in range(len(xy)):
        col, row = int(xy[k, 0] / 4), int(xy[k, 1] / 4)
        r0, r1, c0, c1 = max(0, row - 3), min(64, row + 4), max(0, col - 3), min(64, col + 4)
        if r0 >= r1 or c0 >= c1:
            continue
        w = 1 / (1 + np.exp(-heatmaps[r0:r1, c0:c1, k].astype(np.float64)))
        if w.max() >= 0.5:
            rr, cc = np.mgrid[r0:r1, c0:c1]
            out[k] = ((w * cc).sum() / w.sum() * 4, (w * rr).sum() / w.sum() * 4)
    return out


def test_refinement_equals_the_plain_one_landmark_at_a_time() -> None:
    rng = np.random.default_rng(0)
    hm = rng.normal(-1.0, 2.0, size=(bf.HEATMAP, bf.HEATMAP, 39)).astype(np.float32)
    xy = rng.uniform(-40, 300, size=(39, 2))  # some near the edges, some outside the input
    xy[:3] = [[-500.0, 10.0], [1.0, 1.0], [255.9, 255.9]]
    np.testing.assert_allclose(bf._refine(xy, hm), _refine_one_by_one(xy, hm), atol=1e-9)


def test_one_euro_filter_passes_still_values_and_lags_less_when_faster() -> None:
    still = bf.OneEuroFilter(1.0, 0.0, 1.0)
    x = np.array([5.0, -2.0])
    for _ in range(5):
        np.testing.assert_allclose(still(x, 0.04), x)
    slow, fast = bf.OneEuroFilter(0.05, 0.0, 1.0), bf.OneEuroFilter(0.05, 80.0, 1.0)
    slow(np.zeros(1), 0.04), fast(np.zeros(1), 0.04)
    s, f = slow(np.ones(1), 0.04)[0], fast(np.ones(1), 0.04)[0]
    assert 0.0 < s < f < 1.0  # beta raises the cutoff with speed: less lag on a jump
    alpha = 1.0 / (1.0 + 1.0 / (2 * math.pi * 0.05) / 0.04)
    assert s == pytest.approx(alpha)


def test_the_follower_keeps_the_walker_close_to_the_truth(walk, model) -> None:
    frames, truth = walk
    f = _follower()
    f.start(truth[0], np.ones(17))
    h, w = frames[0].shape[:2]
    height = float(np.median(np.ptp(truth[..., 1], axis=1)))
    errors = []
    from posemoe.skeleton import blazepose33_to_h36m17

    for i, frame in enumerate(frames):
        x0, y0, x1, y1 = f.region(w, h)
        landmarks = f.track(model, frame[y0:y1, x0:x1], (x0, y0), i / 25.0)
        assert landmarks is not None, f"lost at frame {i}"
        assert landmarks.shape == (33, 3) and ((landmarks[:, 2] >= 0) & (landmarks[:, 2] <= 1)).all()
        kp = blazepose33_to_h36m17(landmarks)[:, :2]
        errors.append(np.median(np.linalg.norm(kp[LIMBS] - truth[i, LIMBS], axis=-1)) / height)
    assert np.median(errors) < 0.04 and max(errors) < 0.10


def test_the_backend_follows_with_litert_and_agrees_with_mediapipe(walk) -> None:
    frames, truth = walk
    frames = frames[:40]
    with MediaPipePeopleBackend() as lite, MediaPipePeopleBackend(lite_follow=False) as plain:
        a = [lite.detect_rgb(fr, i) for i, fr in enumerate(frames)]
        b = [plain.detect_rgb(fr, i) for i, fr in enumerate(frames)]
        assert lite._lite is not None and plain._lite is None
        assert all(f.lite is not None and f.lite.active for f in lite._followers)
    assert all(len(d) == 1 for d in a) and all(len(d) == 1 for d in b)
    height = float(np.median(np.ptp(truth[:40, :, 1], axis=1)))
    diff = [np.median(np.linalg.norm(x[0].keypoints[LIMBS] - y[0].keypoints[LIMBS], axis=-1)) / height
            for x, y in zip(a, b)]
    assert np.median(diff) < 0.03


def test_the_person_is_looked_for_again_where_the_follower_loses_them(walk, monkeypatch) -> None:
    frames, _ = walk
    lost = []
    real = bf.BlazePoseFollower.track

    def first_run_only(self, model, crop, origin, t):
        if self.presence is not None:  # following on from an earlier run: lose them
            lost.append(t)
            self.stop()
            return None
        return real(self, model, crop, origin, t)  # a finder's first run on a detection

    monkeypatch.setattr(bf.BlazePoseFollower, "track", first_run_only)
    with MediaPipePeopleBackend() as backend:
        found = [len(backend.detect_rgb(fr, i)) for i, fr in enumerate(frames[:20])]
        assert backend._finder is None  # found and followed without MediaPipe's graphs
    # found again in their crop on the frame the follower lost them, every time
    assert found[1:] == [1] * 19 and len(lost) >= 15


def test_without_litert_mediapipe_follows_everyone(walk, monkeypatch) -> None:
    frames, _ = walk

    class Missing:
        def __init__(self, model):
            raise PoseMoEError("the mediapipe backend's follower needs LiteRT (No module named 'ai_edge_litert'); "
                               "install it with: pip install ai-edge-litert")

    monkeypatch.setattr(bf, "LandmarkModel", Missing)
    said = r"needs LiteRT .*pip install ai-edge-litert; until then MediaPipe.s own landmarker finds and follows people"
    with pytest.warns(UserWarning, match=said), MediaPipePeopleBackend() as backend:
        found = [len(backend.detect_rgb(fr, i)) for i, fr in enumerate(frames[:10])]
        assert backend._lite is None and all(f.lite is None for f in backend._followers)
    assert found == [1] * 10
