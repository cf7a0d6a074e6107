"""The synthetic walking clip (`pipeline.synthetic_clip`, written by examples/make_synthetic_clip.py):
its exact truth, the committed copy, and a real 2D detector on it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline import synthetic_clip as msc
from pipeline.video_io import VideoReader, probe
from posemoe.camera import project_to_pixels, world_to_camera
from posemoe.skeleton import H36M17

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# BlazePose landmark -> H36M17 joint at the same body point (hips, knees, ankles, shoulders,
# elbows, wrists; "left"/"right" are the person's own in both layouts)
BLAZEPOSE_TO_H36M = {23: 4, 24: 1, 25: 5, 26: 2, 27: 6, 28: 3, 11: 11, 12: 14, 13: 12, 14: 15, 15: 13, 16: 16}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The clip as users make it: the example script run from another folder."""
    out = tmp_path_factory.mktemp("clip")
    subprocess.run([sys.executable, str(EXAMPLES / "make_synthetic_clip.py"), "--out-dir", str(out)],
                   cwd=tmp_path_factory.getbasetemp(), check=True, capture_output=True)
    return out / msc.VIDEO_NAME, out / msc.TRUTH_NAME


def test_example_script_writes_what_the_package_makes(clip: tuple[Path, Path], tmp_path: Path) -> None:
    """examples/make_synthetic_clip.py is only a command line around `pipeline.synthetic_clip.make_clip`:
    the same bytes (the clip is deterministic)."""
    video, truth = msc.make_clip(tmp_path)
    assert video.read_bytes() == clip[0].read_bytes()
    assert truth.read_bytes() == clip[1].read_bytes()


def test_clip_and_truth_agree(clip: tuple[Path, Path]) -> None:
    video, truth_path = clip
    info = probe(video)
    truth = dict(np.load(truth_path))
    n = msc.FRAMES
    assert (info.width, info.height) == msc.SIZE == tuple(truth["image_size"])
    assert info.fps == pytest.approx(msc.FPS) and float(truth["fps"]) == msc.FPS
    assert info.frame_count == n and info.codec == "h264"
    with VideoReader(video) as reader:
        shapes = {frame.shape for _, frame in reader}
        assert reader.frames_read == n and shapes == {(msc.SIZE[1], msc.SIZE[0], 3)}
    assert video.stat().st_size < 1_000_000

    world, cam_xyz, kp2d = truth["keypoints3d_world"], truth["keypoints3d_camera"], truth["keypoints2d"]
    assert world.shape == cam_xyz.shape == (n, 17, 3) and kp2d.shape == (n, 17, 2)
    assert list(truth["joint_names"]) == list(H36M17.joint_names)
    cam = msc.camera_from_truth(truth)
    np.testing.assert_allclose(truth["camera_t"], -cam.R @ cam.center, atol=1e-12)
    np.testing.assert_allclose(cam.R @ cam.R.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(cam_xyz, world_to_camera(world.astype(np.float64), cam), atol=1e-5)
    np.testing.assert_allclose(kp2d, project_to_pixels(cam_xyz.astype(np.float64), cam), atol=1e-3)
    # the whole figure is in view, in front of the camera
    assert (cam_xyz[..., 2] > 3.0).all()
    assert (kp2d >= 0).all() and (kp2d[..., 0] < msc.SIZE[0]).all() and (kp2d[..., 1] < msc.SIZE[1]).all()
    # rigid bones: constant lengths within 1 mm, in world and camera axes
    for xyz in (world, cam_xyz):
        lengths = np.stack([np.linalg.norm(xyz[:, c] - xyz[:, p], axis=-1) for c, p in H36M17.bones()], axis=1)
        assert np.ptp(lengths, axis=0).max() < 1e-3
    # ~1.75 m tall: the head joint 1.70-1.76 m above the floor, ankles near it
    assert 1.70 < world[:, 10, 2].min() and world[:, 10, 2].max() < 1.76
    assert world[:, [3, 6], 2].min() > 0.03
    # smooth: no joint faster than 2.5 m/s (10 cm per frame; a swinging foot peaks at ~2.3 m/s here)
    assert np.linalg.norm(np.diff(world, axis=0), axis=-1).max() < 0.10


def test_committed_clip_is_current(clip: tuple[Path, Path]) -> None:
    """examples/ holds the output of the current script (rerun it after changing the motion or camera)."""
    committed_video, committed_truth = EXAMPLES / msc.VIDEO_NAME, EXAMPLES / msc.TRUTH_NAME
    assert committed_video.is_file() and committed_truth.is_file(), "run python examples/make_synthetic_clip.py"
    fresh = np.load(clip[1])
    with np.load(committed_truth) as old:
        assert sorted(old.files) == sorted(fresh.files)
        for key in fresh.files:  # float tolerance: other numpy/BLAS builds may differ in the last bit
            if fresh[key].dtype.kind == "f":
                np.testing.assert_allclose(old[key], fresh[key], rtol=0, atol=1e-4, err_msg=key)
            else:
                np.testing.assert_array_equal(old[key], fresh[key], err_msg=key)
    info = probe(committed_video)
    assert (info.width, info.height, info.frame_count) == (*msc.SIZE, msc.FRAMES)
    assert committed_video.stat().st_size < 1_000_000


def test_mediapipe_finds_the_figure(clip: tuple[Path, Path]) -> None:
    """The real BlazePose model (bundled with mediapipe, offline) sees a person where the truth is.

    Bound: the median 2D error over hips, knees, ankles, shoulders, elbows and wrists must stay
    below 8 % of the figure's pixel height (head joint to lowest ankle, ~310-430 px here, so
    ~30 px): enough for BlazePose's own joint definitions (its hip points sit higher and wider
    than Human3.6M's hip joint centres) and cartoon drawing, but far below a limb length, so
    a figure detected in the wrong place or with left and right swapped fails. Measured when
    written: 50/50 frames found, median error ~6 px.
    """
    mp = pytest.importorskip("mediapipe")
    import cv2

    video, truth_path = clip
    kp2d = np.load(truth_path)["keypoints2d"]
    w, h = msc.SIZE
    blaze = list(BLAZEPOSE_TO_H36M)
    h36m = list(BLAZEPOSE_TO_H36M.values())
    errors, checked, found = [], 0, 0
    with mp.solutions.pose.Pose(model_complexity=1, static_image_mode=False) as pose:
        with VideoReader(video) as reader:
            for i, frame in reader:
                if i % 2:
                    continue
                checked += 1
                result = pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
                if result.pose_landmarks is None:
                    continue
                found += 1
                lm = result.pose_landmarks.landmark
                xy = np.array([[lm[b].x * w, lm[b].y * h] for b in blaze])
                errors.append(np.linalg.norm(xy - kp2d[i, h36m], axis=-1))
    rate = found / checked
    height_px = float(np.median(kp2d[..., 1].max(-1) - kp2d[..., 1].min(-1)))
    median_err = float(np.median(errors)) if errors else float("inf")
    print(f"mediapipe: found {found}/{checked} frames ({rate:.0%}); median 2D error {median_err:.1f} px "
          f"(bound {0.08 * height_px:.1f} px = 8% of the figure's median height {height_px:.0f} px)")
    assert rate >= 0.9
    assert median_err < 0.08 * height_px
