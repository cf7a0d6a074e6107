"""PoseMoE network: shapes, parameter budgets, gradients, and the stream-separation property."""

from __future__ import annotations

import pytest
import torch

from posemoe.errors import PoseMoEError
from posemoe.model import PRESETS, PoseMoE, PoseMoEConfig, flops_per_frame, preset

TINY = dict(dim=32, heads=4, encoder_layers=2, decoder_layers=1, experts=2, drop_path=0.0)


def tiny(**kw) -> PoseMoE:
    torch.manual_seed(0)
    return PoseMoE(PoseMoEConfig(frames=9, **{**TINY, **kw}))


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("entangled", [False, True])
def test_preset_shapes_and_finite(name: str, entangled: bool) -> None:
    torch.manual_seed(0)
    model = PoseMoE(preset(name, entangled=entangled)).eval()
    t = model.frames
    assert t == int(name.split("-")[1])
    with torch.no_grad():
        out = model(torch.randn(1, t, 17, 2) * 0.5)
    assert out.pose3d.shape == (1, t, 17, 3)
    assert torch.isfinite(out.pose3d).all()
    assert out.aux_loss.dim() == 0 and torch.isfinite(out.aux_loss)
    assert len(out.router_probs) == 4 * model.cfg.encoder_layers  # 2 streams x (spatial + temporal)
    for p in out.router_probs:
        assert p.shape == (1, t, 17, model.cfg.experts)
        torch.testing.assert_close(p.sum(-1), torch.ones(1, t, 17))


@pytest.mark.parametrize("name", PRESETS)
def test_parameter_budgets_and_entangled_parity(name: str) -> None:
    n = PoseMoE(preset(name)).num_parameters()
    limit = 3e6 if name.startswith("small") else 12e6
    assert n <= limit, f"{name}: {n} parameters over {limit}"
    n_ent = PoseMoE(preset(name, entangled=True)).num_parameters()
    assert abs(n_ent - n) / n <= 0.10


def test_every_non_expert_parameter_gets_gradient() -> None:
    model = tiny().train()
    x = torch.randn(4, 9, 17, 2)
    out = model(x)
    loss = (out.pose3d - torch.randn_like(out.pose3d)).norm(dim=-1).mean() + out.aux_loss
    loss.backward()
    experts = set(model.expert_parameter_names())
    assert experts, "the model should have routed expert parameters"
    missing = [n for n, p in model.named_parameters()
               if n not in experts and (p.grad is None or p.grad.abs().sum() == 0)]
    assert not missing, f"no gradient reached: {missing}"


def _encoder_streams(model: PoseMoE, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pose = model.embed(x)
    depth = model.depth_prior(x.shape[0], x.shape[1])
    pose, depth, _ = model.encoder(pose, depth)
    return pose, depth


def _perturb_depth_prior(model: PoseMoE) -> None:
    with torch.no_grad():
        for p in model.depth_prior.parameters():
            p.add_(torch.randn_like(p))


@pytest.mark.parametrize("entangled", [False, True])
def test_2d_stream_ignores_depth_prior_inside_encoder(entangled: bool) -> None:
    model = tiny(entangled=entangled).eval()
    x = torch.randn(2, 9, 17, 2)
    with torch.no_grad():
        pose_a, depth_a = _encoder_streams(model, x)
        _perturb_depth_prior(model)
        pose_b, depth_b = _encoder_streams(model, x)
    assert not torch.allclose(depth_a, depth_b), "perturbing the depth prior must change the depth stream"
    if entangled:
        assert not torch.allclose(pose_a, pose_b), "entangled: depth must flow into the 2D stream"
    else:
        torch.testing.assert_close(pose_a, pose_b, rtol=0, atol=0)


def test_2d_stream_ignores_depth_expert_weights() -> None:
    model = tiny().eval()
    x = torch.randn(2, 9, 17, 2)
    with torch.no_grad():
        pose_a, _ = _encoder_streams(model, x)
        for p in model.encoder.depth_blocks.parameters():
            p.add_(torch.randn_like(p))
        pose_b, _ = _encoder_streams(model, x)
    torch.testing.assert_close(pose_a, pose_b, rtol=0, atol=0)


def test_depth_reads_2d_and_decoder_is_bidirectional() -> None:
    model = tiny().eval()
    x1, x2 = torch.randn(1, 9, 17, 2), torch.randn(1, 9, 17, 2)
    with torch.no_grad():
        _, d1 = _encoder_streams(model, x1)
        _, d2 = _encoder_streams(model, x2)
        assert not torch.allclose(d1, d2), "depth experts should read the 2D stream"
        p_before, _, _ = model.forward_features(x1)
        _perturb_depth_prior(model)
        p_after, _, _ = model.forward_features(x1)
    assert not torch.allclose(p_before, p_after), "after the decoder the 2D stream should have read depth"

    blind = tiny(depth_reads_2d=False).eval()
    with torch.no_grad():
        _, d1 = _encoder_streams(blind, x1)
        _, d2 = _encoder_streams(blind, x2)
    torch.testing.assert_close(d1, d2, rtol=0, atol=0)


def test_depth_prior_sampled_in_training_deterministic_in_eval() -> None:
    model = tiny()
    model.train()
    a, b = model.depth_prior(1, 9), model.depth_prior(1, 9)
    assert not torch.allclose(a, b)
    model.eval()
    x = torch.randn(1, 9, 17, 2)
    with torch.no_grad():
        torch.testing.assert_close(model(x).pose3d, model(x).pose3d, rtol=0, atol=0)


def test_confidence_channel_and_fused_head() -> None:
    model = tiny(in_channels=3, fused_head=True).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 9, 17, 3))
    assert out.pose3d.shape == (2, 9, 17, 3)


@pytest.mark.parametrize("shape", [(1, 8, 17, 2), (1, 9, 16, 2), (1, 9, 17, 3), (9, 17, 2)])
def test_wrong_input_shape_names_expected_and_actual(shape) -> None:
    model = tiny().eval()
    with pytest.raises(PoseMoEError, match=r"expected shape \(B, 9, 17, 2\).*got"):
        model(torch.zeros(shape))


def test_config_round_trip_and_errors() -> None:
    cfg = preset("base-81", experts=3)
    assert PoseMoEConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(PoseMoEError, match="unknown fields"):
        PoseMoEConfig.from_dict({**cfg.to_dict(), "bogus": 1})
    with pytest.raises(PoseMoEError, match="unknown preset"):
        preset("huge-81")
    with pytest.raises(PoseMoEError, match="unknown preset"):
        preset("small-50")


def test_flops_count_attention_and_grow_with_size() -> None:
    small27, small81 = PoseMoE(preset("small-27")), PoseMoE(preset("small-81"))
    f27, f81 = flops_per_frame(small27), flops_per_frame(small81)
    assert f81 > f27 > 1e7  # temporal attention costs more per frame in a longer window
    assert flops_per_frame(PoseMoE(preset("base-27"))) > 3 * f27
    assert small27.frames == 27 and small27.causal is False
