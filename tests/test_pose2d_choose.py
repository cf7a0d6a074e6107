"""Tests for pipeline.pose2d.choose (re-exported by pipeline.pose2d): which backend a name or
"auto" gives, and how the package is laid out (no backend module imports another)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import pipeline.pose2d as pose2d
from pipeline.pose2d import (
    BACKENDS,
    KeypointFileBackend,
    MediaPipeBackend,
    MediaPipePeopleBackend,
    PoseBackend,
    make_backend,
    resolve_auto,
)
from pipeline.pose2d import choose
from pipeline.pose2d.mediapipe_bundle import CACHE_ENV as BUNDLE_CACHE_ENV
from posemoe.errors import PoseMoEError

PACKAGE = Path(pose2d.__file__).parent
BACKEND_MODULES = ("mediapipe", "mediapipe_bundle", "blazepose_follower", "mmpose", "_torchvision_compat", "keypoint_files")


def _hand_written(path: Path) -> Path:
    """A keypoints file in our layout, written by hand: one person, two frames, fps and size unknown."""
    doc = {"joints": "h36m17", "frame_index": [0, 1], "time_s": [0.0, 0.04], "fps": None, "image_size": None,
           "track_ids": [1], "keypoints2d": [[[[100.0, 200.0]] * 17] * 2], "scores2d": [[[0.9] * 17] * 2]}
    path.write_text(json.dumps(doc))
    return path


def test_resolve_auto_and_make_backend_here(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(BUNDLE_CACHE_ENV, str(tmp_path / "cache"))
    name, reason = resolve_auto()  # OpenMMLab weights are never here in the tests (downloads off)
    assert name == "mediapipe" and "OpenMMLab" in reason and "\n" not in reason
    assert choose._mmpose_weights_cached() is False
    with pytest.raises(PoseMoEError) as e:
        make_backend("openpose")
    assert all(b in str(e.value) for b in BACKENDS) and "openpose" in str(e.value)
    with pytest.raises(PoseMoEError, match="OpenMMLab.*--pose2d mediapipe"):
        make_backend("mmpose")
    with pytest.raises(PoseMoEError, match="keypoints file"):
        make_backend("keypoints")
    with make_backend("keypoints", path=_hand_written(tmp_path / "k.json")) as backend:
        assert isinstance(backend, KeypointFileBackend) and backend.fps is None and backend.image_size is None
        assert backend.num_frames == 2 and len(backend(None, 1)) == 1
    with make_backend("auto", min_detection_confidence=0.6) as backend:
        assert isinstance(backend, MediaPipePeopleBackend) and backend.min_detection_confidence == 0.6
    with make_backend("auto", min_detection_confidence=0.6, max_people=1) as backend:
        assert isinstance(backend, MediaPipePeopleBackend) and backend.min_detection_confidence == 0.6
        assert backend.max_people == 1


def test_resolve_auto_with_the_stack_present(monkeypatch) -> None:
    monkeypatch.setattr(choose, "_openmmlab_installed", lambda: True)
    monkeypatch.setattr(choose, "_openmmlab_importable", lambda: True)
    monkeypatch.setattr(choose, "_mmpose_weights_cached", lambda: False)
    name, reason = resolve_auto()
    assert name == "mediapipe" and "not cached" in reason
    monkeypatch.setattr(choose, "_mmpose_weights_cached", lambda: True)
    name, reason = resolve_auto()
    assert name == "mmpose" and "cached in" in reason
    with pytest.raises(PoseMoEError, match="--pose2d mediapipe"):
        make_backend("mmpose")


def test_make_backend_picks_the_multi_person_backend(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(BUNDLE_CACHE_ENV, str(tmp_path / "cache"))
    with make_backend("mediapipe") as backend:
        assert isinstance(backend, MediaPipePeopleBackend) and backend.multi_person and backend.max_people == 8
    with make_backend("mediapipe", max_people=3) as backend:
        assert isinstance(backend, MediaPipePeopleBackend) and backend.max_people == 3
    with make_backend("mediapipe", max_people=1) as backend:  # LiteRT: faster than the single-person solution
        assert isinstance(backend, MediaPipePeopleBackend) and backend.max_people == 1 and backend._lite is not None
    with make_backend("mediapipe", max_people=1, smooth_landmarks=False) as backend:  # an option only it takes
        assert isinstance(backend, MediaPipeBackend) and not backend.multi_person
    real = choose.importlib.util.find_spec
    monkeypatch.setattr(choose.importlib.util, "find_spec", lambda n, *a: None if n == "ai_edge_litert" else real(n, *a))
    with make_backend("mediapipe", max_people=1) as backend:  # no LiteRT: the single-person solution
        assert isinstance(backend, MediaPipeBackend) and not backend.multi_person
    for bad in (0, -1, 1.5, True):
        with pytest.raises(PoseMoEError, match="max_people"):
            MediaPipePeopleBackend(max_people=bad)


def test_every_backend_is_a_pose_backend_with_a_name_in_backends() -> None:
    for cls in (MediaPipeBackend, MediaPipePeopleBackend, KeypointFileBackend, pose2d.MMPoseBackend):
        assert issubclass(cls, PoseBackend) and cls.name in BACKENDS and cls.name != "auto"
    assert MediaPipePeopleBackend.input_format == MediaPipeBackend.input_format == "rgb24"
    assert KeypointFileBackend.input_format == pose2d.MMPoseBackend.input_format == "bgr24"


def _pipeline_imports(path: Path) -> set[str]:
    """The ``pipeline.*`` modules a file imports, at any depth in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pipeline"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("pipeline"))
    return found


def test_no_backend_module_imports_another() -> None:
    """Backends share pipeline.pose2d.base only; choose.py is the one module that knows them all."""
    modules = {f"pipeline.pose2d.{m}" for m in (*BACKEND_MODULES, "choose")} | {"pipeline.pose2d"}
    allowed = {"pipeline.pose2d.mediapipe": {"pipeline.pose2d.mediapipe_bundle", "pipeline.pose2d.blazepose_follower"},
               "pipeline.pose2d.mmpose": {"pipeline.pose2d._torchvision_compat"}}
    for name in BACKEND_MODULES:
        module = f"pipeline.pose2d.{name}"
        imported = _pipeline_imports(PACKAGE / f"{name}.py") & modules
        assert imported <= allowed.get(module, set()), (module, imported)
    assert not _pipeline_imports(PACKAGE / "base.py") & modules  # base imports no backend
