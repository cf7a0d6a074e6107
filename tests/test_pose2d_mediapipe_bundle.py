"""Tests for pipeline.pose2d.mediapipe_bundle: the MediaPipe Tasks pose bundle built offline from
the installed wheel, once, into the cache, and rebuilt when damaged."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

import pipeline.pose2d.mediapipe_bundle as bundle
from posemoe.errors import PoseMoEError


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(bundle.CACHE_ENV, str(tmp_path / "cache"))


@pytest.mark.skipif(sys.platform != "linux", reason="platformdirs' default folder differs off Linux")
def test_default_cache_folder_is_the_user_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(bundle.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert bundle.cache_dir() == tmp_path / "xdg" / "posemoe" / "mediapipe"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert bundle.cache_dir() == Path.home() / ".cache" / "posemoe" / "mediapipe"  # on Linux
    monkeypatch.setenv(bundle.CACHE_ENV, str(tmp_path / "mine"))
    assert bundle.cache_dir() == tmp_path / "mine" / "mediapipe"


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


def test_video_with_an_unwritable_cache_is_one_line(tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    import pipeline.pose2d.blazepose_follower as follower
    from pipeline.cli import app

    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    monkeypatch.setenv(bundle.CACHE_ENV, str(blocker))

    class NoLiteRT:  # without LiteRT, MediaPipe's graphs (and so the bundle) find and follow people
        def __init__(self, model):
            raise PoseMoEError("the mediapipe backend's follower needs LiteRT (test); install it with: pip install ai-edge-litert")

    monkeypatch.setattr(follower, "LandmarkModel", NoLiteRT)
    clip = Path(__file__).resolve().parents[1] / "examples" / "synthetic_walk.mp4"
    out = tmp_path / "out" / "o.mp4"
    result = CliRunner().invoke(app, ["video", str(clip), "-o", str(out), "--pose2d", "mediapipe", "-q"])
    assert result.exit_code == 2, result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and "cannot write the MediaPipe pose bundle" in errors[0] and bundle.CACHE_ENV in errors[0]
    assert "Traceback" not in result.output and not out.exists()


def test_with_litert_no_bundle_is_needed(tmp_path, monkeypatch) -> None:
    pytest.importorskip("ai_edge_litert")
    import numpy as np

    from pipeline.pose2d.mediapipe import MediaPipePeopleBackend

    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")  # the bundle could not be written here
    monkeypatch.setenv(bundle.CACHE_ENV, str(blocker))
    monkeypatch.delitem(sys.modules, "mediapipe", raising=False)
    with MediaPipePeopleBackend(threads=1) as backend:
        assert backend(np.full((240, 320, 3), 235, np.uint8), 0) == []
        assert backend._finder is None and backend._bundle is None
    assert "mediapipe" not in sys.modules  # the models are read from the wheel without importing it
