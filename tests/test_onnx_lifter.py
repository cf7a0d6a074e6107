"""The video pipeline's lifting network on the CPU: the checkpoint's ONNX graph, built into the
cache once, rebuilt when damaged, torch where it cannot be built; and lifting with it needs no
torch at all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import pipeline.onnx_lifter as onnx_lifter
from pipeline.lift import WindowCache, lift_tracks, prelift
from pipeline.video import load_model
from posemoe import PoseMoE, PoseMoEConfig
from posemoe.checkpoint import load_checkpoint, make_checkpoint, save_checkpoint
from posemoe.errors import PoseMoEError
from posemoe.onnx_model import OnnxPoseMoE

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def ckpt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("POSEMOE_LIFT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("POSEMOE_LIFT_RUNTIME", raising=False)
    torch.manual_seed(1)
    cfg = PoseMoEConfig(frames=9, dim=32, heads=4, encoder_layers=1, decoder_layers=1, in_channels=3,
                        input_norm="body", temporal_gate=True)
    return save_checkpoint(make_checkpoint(PoseMoE(cfg).eval()), tmp_path / "tiny.pt")


def _tracks(frames: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    t = np.arange(frames)[None, :, None, None]
    kp = rng.uniform(150, 450, size=(2, 1, 17, 2)) + 20 * np.sin(t / 7)
    scores = rng.uniform(0.2, 1.0, size=(2, frames, 17))
    present = np.ones((2, frames), bool)
    present[1, 20:26] = False
    kp[~present] = np.nan
    return kp, scores, present


def test_the_graph_is_built_once_and_then_loaded_from_the_cache(ckpt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notes: list[str] = []
    model, path = load_model(ckpt, None, notes.append)
    assert len(notes) == 1 and "exporting tiny.pt to an ONNX graph, once" in notes[0]
    assert isinstance(model, OnnxPoseMoE) and path == ckpt
    graph = onnx_lifter.graph_path(ckpt)
    assert model.path == graph and graph.parent == Path(os.environ["POSEMOE_LIFT_CACHE"])
    assert [p.name for p in graph.parent.iterdir()] == [graph.name]  # no temporary file left

    def no_export(*a, **k):
        raise AssertionError("exported again")

    monkeypatch.setattr("posemoe.onnx_model.export_onnx", no_export)
    again, _ = load_model(ckpt, "cpu", notes.append)
    assert isinstance(again, OnnxPoseMoE) and again.path == graph and len(notes) == 1  # nothing said the second time


def test_another_checkpoint_gets_its_own_graph(ckpt: Path) -> None:
    first = onnx_lifter.graph_path(ckpt)
    torch.manual_seed(2)
    other = save_checkpoint(make_checkpoint(PoseMoE(PoseMoEConfig(frames=9, dim=32, heads=4, encoder_layers=1,
                                                                   decoder_layers=1)).eval()), ckpt.parent / "tiny.pt")
    assert onnx_lifter.graph_path(other) != first  # same file name, other bytes


def test_a_damaged_graph_is_rebuilt_not_used(ckpt: Path) -> None:
    graph = load_model(ckpt, None)[0].path
    whole = graph.read_bytes()
    graph.write_bytes(whole[: len(whole) // 3])
    model, _ = load_model(ckpt, None)
    assert isinstance(model, OnnxPoseMoE) and graph.read_bytes() == whole


def test_an_unwritable_cache_falls_back_to_torch_with_a_note(ckpt: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("POSEMOE_LIFT_CACHE", str(blocker / "cache"))
    notes: list[str] = []
    model, _ = load_model(ckpt, None, notes.append)
    assert isinstance(model, PoseMoE) and not model.training
    assert len(notes) == 2 and notes[0].startswith("[lift] exporting tiny.pt to an ONNX graph")
    assert "lifting with torch: cannot write" in notes[1] and "POSEMOE_LIFT_CACHE" in notes[1]


def test_a_graph_that_cannot_be_built_falls_back_to_torch(ckpt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*a, **k):
        raise PoseMoEError("exporting the lifting network to ONNX needs the onnx package (No module named 'onnx')")

    monkeypatch.setattr("posemoe.onnx_model.export_onnx", refuse)
    notes: list[str] = []
    model, _ = load_model(ckpt, None, notes.append)
    assert isinstance(model, PoseMoE)
    assert notes[1:] == ["[lift] lifting with torch: the ONNX graph of tiny.pt could not be built (exporting the "
                         "lifting network to ONNX needs the onnx package (No module named 'onnx'))"]
    assert not onnx_lifter.graph_path(ckpt).exists()


def test_a_bad_checkpoint_is_still_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSEMOE_LIFT_CACHE", str(tmp_path / "cache"))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(PoseMoEError, match="not a readable PyTorch checkpoint"):
        load_model(bad, None)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_the_runtime_choice(ckpt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert onnx_lifter.lift_runtime(None) == onnx_lifter.lift_runtime("cpu") == "onnx"
    assert onnx_lifter.lift_runtime("cuda") == "torch"
    monkeypatch.setenv("POSEMOE_LIFT_RUNTIME", "torch")
    assert onnx_lifter.lift_runtime(None) == "torch"
    assert isinstance(load_model(ckpt, None)[0], PoseMoE)
    monkeypatch.setenv("POSEMOE_LIFT_RUNTIME", "tensorflow")
    with pytest.raises(PoseMoEError, match="POSEMOE_LIFT_RUNTIME='tensorflow': expected one of onnx, torch"):
        onnx_lifter.lift_runtime(None)


def test_lifting_tracks_with_the_graph_equals_lifting_with_torch(ckpt: Path) -> None:
    net = load_model(ckpt, None)[0]
    model = load_checkpoint(ckpt)[0].eval()
    kp, scores, present = _tracks()
    want = lift_tracks(model, kp, scores, present, (640, 480), batch_size=4)
    for threads in (1, 2):
        got = lift_tracks(net, kp, scores, present, (640, 480), batch_size=4, threads=threads)
        np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)
        assert np.isnan(got[1, 20:26]).all()
    # lifting early with the graph, then the rest: the same as lifting everything at the end
    cache = WindowCache()
    assert prelift(net, kp[:, :40], scores[:, :40], present[:, :40], (640, 480), cache, first=0, final=30) > 0
    early = lift_tracks(net, kp, scores, present, (640, 480), cache=cache, threads=2)
    assert cache.hits > 0
    np.testing.assert_allclose(early, want, atol=2e-5, rtol=0)


def test_router_weights_ask_for_the_torch_network(ckpt: Path) -> None:
    from pipeline.lift import lift_tracks_routed

    kp, scores, present = _tracks(20)
    with pytest.raises(PoseMoEError, match="torch network"):
        lift_tracks_routed(load_model(ckpt, None)[0], kp, scores, present, (640, 480))


def test_loading_and_lifting_with_a_cached_graph_never_imports_torch(ckpt: Path) -> None:
    load_model(ckpt, None)  # builds the graph (this process has torch)
    code = ("import sys, numpy as np\n"
            "from pipeline.video import StageTimer, lift_all, load_model\n"
            "from pipeline.track import Tracks\n"
            f"model, _ = load_model({str(ckpt)!r}, None)\n"
            "rng = np.random.default_rng(0)\n"
            "kp = rng.uniform(100, 400, size=(1, 30, 17, 2)).astype(np.float32)\n"
            "ones = np.ones((1, 30), bool)\n"
            "tracks = Tracks(np.array([1]), kp, np.ones((1, 30, 17), np.float32), ones, ~ones, np.zeros((1, 30, 17), bool))\n"
            "out = lift_all(model, tracks, (640, 480), None, StageTimer())\n"
            "assert out.shape == (1, 30, 17, 3) and np.isfinite(out).all()\n"
            "print(type(model).__name__, 'torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["OnnxPoseMoE", "False"]
