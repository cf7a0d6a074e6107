"""The network exported to ONNX and run by ONNX Runtime computes what the torch network computes,
including the input normalisation's awkward cases (missed joints, too few bones for a scale,
empty windows), for any batch size, with test-time flip and on several threads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from posemoe import PoseMoE, PoseMoEConfig
from posemoe.errors import PoseMoEError
from posemoe.lifter import predict_windows
from posemoe.normalization import body_centre, found_joints, lower_nanmedian
from posemoe.onnx_model import OnnxPoseMoE, export_onnx

CONFIGS = {
    # camera-invariant, with confidences and the temporal gate: the shipped kind of model
    "body": PoseMoEConfig(frames=9, dim=32, heads=4, encoder_layers=2, decoder_layers=1, in_channels=3,
                          input_norm="body", temporal_gate=True, experts=3),
    # screen-normalised, two channels, fused head, entangled encoder
    "screen": PoseMoEConfig(frames=5, dim=16, heads=2, encoder_layers=1, decoder_layers=1, in_channels=2,
                            fused_head=True, entangled=True),
}


def _model(name: str) -> PoseMoE:
    torch.manual_seed(3)
    model = PoseMoE(CONFIGS[name])
    with torch.no_grad():  # a trained-looking depth prior: eval must use its mean, not a sample
        model.depth_prior.mu.normal_(0, 0.5)
        if model.depth_prior.log_var is not None:
            model.depth_prior.log_var.fill_(0.0)
    return model.eval()


def _windows(cfg: PoseMoEConfig, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.8, 0.8, size=(n, cfg.frames, cfg.num_joints, cfg.in_channels)).astype(np.float32)
    if cfg.in_channels == 3:
        x[..., 2] = 1.0
        missed = rng.random(x.shape[:3]) < 0.2
        x[missed] = 0.0  # missed joints, as the pipeline feeds them
        if n > 2:
            x[1, :, 3:] = 0.0  # only 3 joints found in any frame: too few bones for a scale
            x[2] = 0.0  # nobody at all
    return x


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_onnx_graph_computes_what_torch_computes(name: str, tmp_path: Path) -> None:
    model = _model(name)
    path = export_onnx(model, tmp_path / "m.onnx")
    assert not model.training  # the exporter leaves the model as it found it
    net = OnnxPoseMoE(path)
    assert net.cfg == model.cfg and net.frames == model.frames
    for n in (1, 4, 11):
        x = _windows(model.cfg, n, seed=n)
        with torch.no_grad():
            want = model(torch.from_numpy(x)).pose3d.numpy()
        got = net(x)
        assert got.shape == want.shape == (n, model.frames, 17, 3) and got.dtype == np.float32
        np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)


def test_export_keeps_a_training_model_training(tmp_path: Path) -> None:
    model = _model("body").train()
    export_onnx(model, tmp_path / "m.onnx")
    assert model.training
    x = _windows(model.cfg, 3)
    with torch.no_grad():
        want = model.eval()(torch.from_numpy(x)).pose3d.numpy()
    np.testing.assert_allclose(OnnxPoseMoE(tmp_path / "m.onnx")(x), want, atol=2e-5, rtol=0)


@pytest.mark.parametrize("threads", [1, 2])
def test_predict_windows_matches_torch_with_flip_and_threads(threads: int, tmp_path: Path) -> None:
    model = _model("body")
    net = OnnxPoseMoE(export_onnx(model, tmp_path / "m.onnx"))
    x = _windows(model.cfg, 13, seed=5)
    for flip in (True, False):
        want = predict_windows(model, x, flip=flip, batch_size=4)
        got = net.predict_windows(x, flip=flip, batch_size=4, threads=threads)
        assert got.dtype == np.float64 and got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)
    assert net.predict_windows(x[:0]).shape == (0, model.frames, 17, 3)


def test_lower_nanmedian_is_torch_nanmedian() -> None:
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 8):
        v = torch.from_numpy(rng.normal(size=(50, n)))
        v[rng.random((50, n)) < 0.4] = float("nan")
        v[0] = float("nan")  # a row with nothing finite
        got, want = lower_nanmedian(v), torch.nanmedian(v, dim=-1).values
        torch.testing.assert_close(got, want, equal_nan=True, rtol=0, atol=0)


def test_body_centre_and_found_joints_take_numpy_as_torch() -> None:
    x = _windows(CONFIGS["body"], 4, seed=2)
    x[0, 0, :5] = 0.0  # pelvis and hips missed: the centre falls back to the other joints
    np.testing.assert_array_equal(found_joints(x), found_joints(torch.from_numpy(x)).numpy())
    np.testing.assert_allclose(body_centre(x), body_centre(torch.from_numpy(x)).numpy(), atol=1e-7)
    two = x[..., :2]
    assert (found_joints(two) == 1).all() and found_joints(two).shape == two.shape[:-1]


def test_files_that_are_not_exports_are_one_line_errors(tmp_path: Path) -> None:
    good = export_onnx(_model("screen"), tmp_path / "m.onnx")
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(PoseMoEError, match="cannot load it") as info:
        OnnxPoseMoE(cut)
    assert "\n" not in str(info.value)
    import onnx

    plain = onnx.load(good)
    del plain.metadata_props[:]  # a valid graph without posemoe's config
    onnx.save(plain, tmp_path / "plain.onnx")
    with pytest.raises(PoseMoEError, match="not a posemoe ONNX export"):
        OnnxPoseMoE(tmp_path / "plain.onnx")
    with pytest.raises(PoseMoEError, match=r"expected shape \(B, 5, 17, 2\)"):
        OnnxPoseMoE(good)(np.zeros((1, 4, 17, 2), np.float32))
