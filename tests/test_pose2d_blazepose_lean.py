"""The landmark model without its unused heads (`pipeline.pose2d.blazepose_lean`): the same landmarks,
presence and heatmaps bit for bit, fewer operators, cached once, rebuilt when damaged, and built
in memory where the cache cannot be written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mediapipe")
pytest.importorskip("ai_edge_litert")

from pipeline.pose2d import blazepose_lean as lean  # noqa: E402
from pipeline.pose2d.blazepose_follower import LandmarkModel  # noqa: E402
from pipeline.pose2d.mediapipe_bundle import CACHE_ENV, wheel_models  # noqa: E402
from posemoe.errors import PoseMoEError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _outputs(model) -> tuple[dict[str, np.ndarray], int]:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model) if isinstance(model, bytes) else Interpreter(model_path=str(model))
    it.allocate_tensors()
    rng = np.random.default_rng(0)
    it.set_tensor(it.get_input_details()[0]["index"], rng.random((1, 256, 256, 3), dtype=np.float32))
    it.invoke()
    return {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}, len(it._get_ops_details())


def test_the_lean_model_computes_the_kept_outputs_bit_for_bit() -> None:
    source = wheel_models()[1]
    full, full_ops = _outputs(source)
    slim, slim_ops = _outputs(lean.lean_model_bytes(source.read_bytes()))
    assert sorted(full) == ["Identity", "Identity_1", "Identity_2", "Identity_3", "Identity_4"]
    assert sorted(slim) == sorted(lean.KEEP)
    for name in lean.KEEP:
        np.testing.assert_array_equal(slim[name], full[name])
    assert slim_ops < full_ops


def test_the_follower_sees_the_same_landmarks_with_the_lean_model() -> None:
    from pipeline.video_io import VideoReader

    with VideoReader(ROOT / "examples" / "synthetic_walk.mp4", pixel_format="rgb24") as reader:
        frame = next(f for i, f in reader if i == 10)
    view = np.ascontiguousarray(frame[:256, 300:556])
    a = LandmarkModel(wheel_models()[1])(view)
    b = LandmarkModel(lean.lean_model_bytes(wheel_models()[1].read_bytes()))(view)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[2], b[2])


def test_cached_once_and_rebuilt_when_damaged(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    source = wheel_models()[1]
    first = lean.lean_landmark_model(source)
    assert isinstance(first, Path) and first.parent == tmp_path / "mediapipe" and lean.loads(first)
    stamp = first.stat().st_mtime_ns
    assert lean.lean_landmark_model(source) == first and first.stat().st_mtime_ns == stamp  # not rebuilt
    assert not list(first.parent.glob("*.part"))  # no temporary file left
    whole = first.read_bytes()
    first.write_bytes(whole[: len(whole) // 2])  # cut short
    assert not lean.loads(first)
    assert lean.lean_landmark_model(source) == first and first.read_bytes() == whole


def test_an_unwritable_cache_builds_it_in_memory(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    monkeypatch.setenv(CACHE_ENV, str(blocker))
    model = lean.lean_landmark_model(wheel_models()[1])
    assert isinstance(model, bytes) and lean.loads(model)
    presence, landmarks, heatmaps = LandmarkModel(model)(np.zeros((256, 256, 3), np.uint8))
    assert landmarks.shape == (39, 5) and heatmaps.shape == (64, 64, 39)


def test_a_damaged_model_is_one_line() -> None:
    with pytest.raises(PoseMoEError, match="not a LiteRT model.*reinstall mediapipe") as e:
        lean.lean_model_bytes(b"\x00" * 64)
    assert "\n" not in str(e.value)
    source = wheel_models()[0].read_bytes()  # the detector has none of the outputs to drop
    assert lean.lean_model_bytes(source) == source
