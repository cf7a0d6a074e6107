"""The offline multi-person MediaPipe backend and the pose bundle it builds from the wheel."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

import pipeline.mediapipe_bundle as bundle
from pipeline.keypoints2d import MediaPipeBackend, make_backend
from pipeline.mediapipe_people import (MediaPipePeopleBackend, discovery_regions, plausible_person, same_person,
                                       tile_grid)
from pipeline.track import Detection, box_from_keypoints
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


# ----------------------------------------------------------------------------- geometry


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


# ----------------------------------------------------------------------------- the bundle


def test_bundle_is_built_once_from_the_wheel_and_rebuilt_when_damaged(tmp_path) -> None:
    path = bundle.ensure_bundle()
    assert path.parent == tmp_path / "cache" / "mediapipe" and path.suffix == ".task"
    with zipfile.ZipFile(path) as zf:
        assert set(zf.namelist()) == {bundle.DETECTOR_IN_BUNDLE, bundle.LANDMARKS_IN_BUNDLE}
        detector = zf.read(bundle.DETECTOR_IN_BUNDLE)
    assert detector == bundle.wheel_models()[0].read_bytes()
    assert not [p for p in path.parent.iterdir() if p != path]  # no temporary file left
    stamp = path.stat().st_mtime_ns
    assert bundle.ensure_bundle() == path and path.stat().st_mtime_ns == stamp  # reused, not rebuilt
    # half written (truncated) or garbage: rebuilt, never used
    data = path.read_bytes()
    for damaged in (data[: len(data) // 2], b"not a zip"):
        path.write_bytes(damaged)
        assert not bundle.is_complete(path)
        assert bundle.ensure_bundle() == path and bundle.is_complete(path)


def test_bundle_problems_are_one_line_with_the_fix(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv(bundle.CACHE_ENV, str(blocker))  # the cache folder would be inside a file
    with pytest.raises(PoseMoEError) as e:
        bundle.ensure_bundle()
    assert "cannot write the MediaPipe pose bundle" in str(e.value) and bundle.CACHE_ENV in str(e.value)
    assert "\n" not in str(e.value)
    monkeypatch.setattr(bundle, "LANDMARKS_IN_WHEEL", "modules/pose_landmark/missing.tflite")
    with pytest.raises(PoseMoEError, match=r"lacks its pose models .*pip install --force-reinstall mediapipe==0\.10\.21"):
        bundle.ensure_bundle()


def test_make_backend_picks_the_multi_person_backend() -> None:
    with make_backend("mediapipe") as backend:
        assert isinstance(backend, MediaPipePeopleBackend) and backend.multi_person and backend.max_people == 8
    with make_backend("mediapipe", max_people=3) as backend:
        assert isinstance(backend, MediaPipePeopleBackend) and backend.max_people == 3
    with make_backend("mediapipe", max_people=1) as backend:  # one person: the faster single-person solution
        assert isinstance(backend, MediaPipeBackend)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(PoseMoEError, match="max_people"):
            MediaPipePeopleBackend(max_people=bad)


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


def test_video_with_an_unwritable_cache_is_one_line(tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from pipeline.cli import app

    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    monkeypatch.setenv(bundle.CACHE_ENV, str(blocker))
    clip = Path(__file__).resolve().parents[1] / "examples" / "synthetic_walk.mp4"
    out = tmp_path / "out" / "o.mp4"
    result = CliRunner().invoke(app, ["video", str(clip), "-o", str(out), "--pose2d", "mediapipe", "-q"])
    assert result.exit_code == 2, result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and "cannot write the MediaPipe pose bundle" in errors[0] and bundle.CACHE_ENV in errors[0]
    assert "Traceback" not in result.output and not out.exists()
