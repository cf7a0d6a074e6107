"""PoseMoE: a mixture-of-experts network that lifts 2D human poses to 3D.

Reconstruction of Liu et al., "PoseMoE: Mixture-of-Experts Network for Monocular 3D Human Pose
Estimation" (arXiv 2512.16494). The paper publishes no code; what it states and which choices
are ours is written down in the project's architecture note and in `posemoe.config.PoseMoEConfig`.

What the paper states, and where it lives here:
- 2D keypoints (T, J, 2) are embedded to (T, J, C) features             -> `PoseEmbedding`
- the encoder keeps two feature streams: experts that refine the detected 2D pose and experts
  that learn the unknown depth; depth features never flow into the 2D stream  -> `PoseMoEEncoder`
- depth features start from a Gaussian depth prior                        -> `GaussianDepthPrior`
- a router weights the experts' outputs                                   -> `MoEFeedForward`
- the decoder aggregates the streams by bidirectional cross-attention over space and time
                                                                          -> `CrossExpertDecoder`
- the ablation it argues against (2D and depth entangled from the start)  -> `EntangledEncoder`

Axes: B batch, T frames, J joints, C channels, E experts, H hidden channels.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from posemoe.config import PRESETS, SIZES, WINDOWS, PoseMoEConfig, preset  # noqa: F401 - re-exported
from posemoe.errors import PoseMoEError
from posemoe.normalization import normalize_input

# ----------------------------------------------------------------------------------------------
# Small layers


class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention on token sequences (N, L, C); cross-attention when a
    separate `context` supplies keys and values."""

    def __init__(self, *, dim: int, heads: int, qkv_bias: bool = True, attn_drop: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise PoseMoEError(f"attention: dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.attn_drop = attn_drop

    def forward(self, x: torch.Tensor, context: torch.Tensor, gate: torch.Tensor | None = None) -> torch.Tensor:
        """`gate` (heads, 1, 1), for aligned sequences (Lq == Lk, token i of `x` and of `context`
        at the same position): each head's output is ``v_i + gate * (attention_i - v_i)``, so a
        gate of 0 makes every token read only its own position (see `TemporalAttention`)."""
        n, lq, c = x.shape
        lk = context.shape[1]
        q = self.q(x).reshape(n, lq, self.heads, c // self.heads).transpose(1, 2)  # (N, h, Lq, c/h)
        k, v = self.kv(context).reshape(n, lk, 2, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        drop = self.attn_drop if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=drop)  # (N, h, Lq, c/h)
        if gate is not None:
            out = v + gate * (out - v)
        return self.proj(out.transpose(1, 2).reshape(n, lq, c))


class SpatialAttention(nn.Module):
    """Attention across the J joints of each frame: (B, T, J, C) -> (B, T, J, C). `gate` is
    accepted for a uniform signature and must be False: joints are not aligned positions."""

    def __init__(self, *, dim: int, heads: int, attn_drop: float = 0.0, gate: bool = False) -> None:
        super().__init__()
        if gate:
            raise PoseMoEError("spatial attention has no self gate; only temporal attention does")
        self.attn = MultiHeadAttention(dim=dim, heads=heads, attn_drop=attn_drop)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        b, t, j, c = x.shape
        ctx = x if context is None else context
        out = self.attn(x.reshape(b * t, j, c), ctx.reshape(b * t, j, c))  # (B*T, J, C)
        return out.reshape(b, t, j, c)


class TemporalAttention(nn.Module):
    """Attention across the T frames of each joint: (B, T, J, C) -> (B, T, J, C). Not causal.

    With `gate`, a learned per-head gate g blends each frame's own value with the attention over
    the window: ``v_t + g * (attention_t - v_t)``. g = 1 (a new model) is plain attention; g = 0
    makes the block read only its own frame, which is exactly what the block of a 1-frame model
    computes (attention over one frame returns that frame's value). A window model warm-started
    from a 1-frame model begins with g = 0 (`posemoe.train.init_from_checkpoint`), so it starts
    at the 1-frame model's accuracy and learns how much of the window to use.
    """

    def __init__(self, *, dim: int, heads: int, attn_drop: float = 0.0, gate: bool = False) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(dim=dim, heads=heads, attn_drop=attn_drop)
        self.gate = nn.Parameter(torch.ones(heads, 1, 1)) if gate else None

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        b, t, j, c = x.shape
        ctx = x if context is None else context
        xs = x.permute(0, 2, 1, 3).reshape(b * j, t, c)  # (B*J, T, C)
        cs = ctx.permute(0, 2, 1, 3).reshape(b * j, t, c)
        out = self.attn(xs, cs, self.gate).reshape(b, j, t, c)
        return out.permute(0, 2, 1, 3)  # (B, T, J, C)


class FeedForward(nn.Module):
    """Position-wise MLP: Linear -> GELU -> Linear."""

    def __init__(self, *, dim: int, hidden: int, drop: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(drop), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class RouterOutput(NamedTuple):
    out: torch.Tensor  # (B, T, J, C)
    probs: torch.Tensor  # (B, T, J, E)
    aux_loss: torch.Tensor  # scalar


class MoEFeedForward(nn.Module):
    """A soft mixture of E feed-forward experts, weighted per token by a learned router.

    Every expert runs on every token and the router's softmax probabilities weight their outputs
    (dense soft routing: deterministic, differentiable, and cheap at E = 2..4). The auxiliary
    load-balancing loss, E * sum_e(f_e * P_e) with f_e the fraction of tokens whose top expert
    is e and P_e the mean probability of e, is 1 when the load is even and grows as the router
    collapses onto one expert.
    """

    def __init__(self, *, dim: int, hidden: int, experts: int, drop: float = 0.0) -> None:
        super().__init__()
        self.experts = experts
        self.router = nn.Linear(dim, experts)
        # expert weights stacked so all experts run as one batched matmul
        self.w1 = nn.Parameter(torch.empty(experts, dim, hidden))
        self.b1 = nn.Parameter(torch.zeros(experts, hidden))
        self.w2 = nn.Parameter(torch.empty(experts, hidden, dim))
        self.b2 = nn.Parameter(torch.zeros(experts, dim))
        self.drop = nn.Dropout(drop)
        nn.init.trunc_normal_(self.w1, std=0.02)
        nn.init.trunc_normal_(self.w2, std=0.02)

    def forward(self, x: torch.Tensor) -> RouterOutput:
        b, t, j, c = x.shape
        probs = self.router(x).softmax(dim=-1)  # (B, T, J, E)
        tokens = x.reshape(1, b * t * j, c)  # (1, N, C)
        h = F.gelu(torch.matmul(tokens, self.w1) + self.b1[:, None])  # (E, N, H)
        y = torch.matmul(self.drop(h), self.w2) + self.b2[:, None]  # (E, N, C)
        p = probs.reshape(b * t * j, self.experts)  # (N, E)
        out = torch.einsum("enc,ne->nc", y, p).reshape(b, t, j, c)
        top = F.one_hot(p.argmax(dim=-1), self.experts).to(p.dtype).mean(dim=0)  # (E,)
        aux = self.experts * (top * p.mean(dim=0)).sum()
        return RouterOutput(out, probs, aux)


class DropPath(nn.Module):
    """Stochastic depth: drop a whole residual branch per sample while training."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape[0], *([1] * (x.dim() - 1)), device=x.device) >= self.p
        return x * keep.to(x.dtype) / (1.0 - self.p)


# ----------------------------------------------------------------------------------------------
# Blocks

ATTENTION = {"spatial": SpatialAttention, "temporal": TemporalAttention}


class PoseExpertBlock(nn.Module):
    """Refines the 2D-pose stream: self-attention (spatial or temporal) then the 2D experts.
    It has no input for depth features, so nothing from the depth stream can reach it."""

    def __init__(self, *, axis: type[nn.Module], dim: int, heads: int, hidden: int, experts: int,
                 drop_path: float, attn_drop: float, temporal_gate: bool = False) -> None:
        super().__init__()
        gate = temporal_gate and axis is TemporalAttention
        self.norm1 = nn.LayerNorm(dim)
        self.attn = axis(dim=dim, heads=heads, attn_drop=attn_drop, gate=gate)
        self.norm2 = nn.LayerNorm(dim)
        self.moe = MoEFeedForward(dim=dim, hidden=hidden, experts=experts)
        self.drop_path = DropPath(drop_path)

    def forward(self, pose: torch.Tensor) -> RouterOutput:
        pose = pose + self.drop_path(self.attn(self.norm1(pose)))
        r = self.moe(self.norm2(pose))
        return RouterOutput(pose + self.drop_path(r.out), r.probs, r.aux_loss)


class DepthExpertBlock(nn.Module):
    """Learns the depth stream: self-attention, one-way cross-attention that reads the 2D stream
    (depth <- 2D; switch off with `depth_reads_2d=False`), then the depth experts."""

    def __init__(self, *, axis: type[nn.Module], dim: int, heads: int, hidden: int, experts: int,
                 drop_path: float, attn_drop: float, reads_2d: bool, temporal_gate: bool = False) -> None:
        super().__init__()
        gate = temporal_gate and axis is TemporalAttention
        self.norm1 = nn.LayerNorm(dim)
        self.attn = axis(dim=dim, heads=heads, attn_drop=attn_drop, gate=gate)
        self.reads_2d = reads_2d
        self.norm_q = nn.LayerNorm(dim) if reads_2d else nn.Identity()
        self.norm_kv = nn.LayerNorm(dim) if reads_2d else nn.Identity()
        self.cross = axis(dim=dim, heads=heads, attn_drop=attn_drop, gate=gate) if reads_2d else None
        self.norm2 = nn.LayerNorm(dim)
        self.moe = MoEFeedForward(dim=dim, hidden=hidden, experts=experts)
        self.drop_path = DropPath(drop_path)

    def forward(self, depth: torch.Tensor, pose: torch.Tensor) -> RouterOutput:
        depth = depth + self.drop_path(self.attn(self.norm1(depth)))
        if self.cross is not None:
            depth = depth + self.drop_path(self.cross(self.norm_q(depth), self.norm_kv(pose)))
        r = self.moe(self.norm2(depth))
        return RouterOutput(depth + self.drop_path(r.out), r.probs, r.aux_loss)


class CrossExpertBlock(nn.Module):
    """One decoder step along one axis: depth reads 2D and 2D reads depth (both from the same
    input state, so the exchange is symmetric), then a feed-forward layer per stream."""

    def __init__(self, *, axis: type[nn.Module], dim: int, heads: int, hidden: int,
                 drop_path: float, attn_drop: float, temporal_gate: bool = False) -> None:
        super().__init__()
        gate = temporal_gate and axis is TemporalAttention
        self.norm_pose = nn.LayerNorm(dim)
        self.norm_depth = nn.LayerNorm(dim)
        self.depth_from_pose = axis(dim=dim, heads=heads, attn_drop=attn_drop, gate=gate)
        self.pose_from_depth = axis(dim=dim, heads=heads, attn_drop=attn_drop, gate=gate)
        self.norm_ff_pose = nn.LayerNorm(dim)
        self.norm_ff_depth = nn.LayerNorm(dim)
        self.ff_pose = FeedForward(dim=dim, hidden=hidden)
        self.ff_depth = FeedForward(dim=dim, hidden=hidden)
        self.drop_path = DropPath(drop_path)

    def forward(self, pose: torch.Tensor, depth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p, d = self.norm_pose(pose), self.norm_depth(depth)
        depth = depth + self.drop_path(self.depth_from_pose(d, p))
        pose = pose + self.drop_path(self.pose_from_depth(p, d))
        pose = pose + self.drop_path(self.ff_pose(self.norm_ff_pose(pose)))
        depth = depth + self.drop_path(self.ff_depth(self.norm_ff_depth(depth)))
        return pose, depth


# ----------------------------------------------------------------------------------------------
# Model parts


class PoseEmbedding(nn.Module):
    """(B, T, J, in_channels) keypoints -> (B, T, J, C) 2D-pose tokens, with learned joint and
    frame position embeddings."""

    def __init__(self, cfg: PoseMoEConfig) -> None:
        super().__init__()
        self.proj = nn.Linear(cfg.in_channels, cfg.dim)
        self.joint_pos = nn.Parameter(torch.zeros(1, 1, cfg.num_joints, cfg.dim))
        self.frame_pos = nn.Parameter(torch.zeros(1, cfg.frames, 1, cfg.dim))
        nn.init.trunc_normal_(self.joint_pos, std=0.02)
        nn.init.trunc_normal_(self.frame_pos, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x) + self.joint_pos + self.frame_pos


class GaussianDepthPrior(nn.Module):
    """Initial depth tokens (B, T, J, C) drawn from a learned per-joint Gaussian.

    Training draws mu + sigma * eps (reparameterised, so mu and sigma learn); evaluation uses mu,
    which keeps inference deterministic. With `enabled=False` the depth stream starts from a plain
    learned embedding (mu only), which is the 'no depth prior' ablation.
    """

    def __init__(self, cfg: PoseMoEConfig) -> None:
        super().__init__()
        self.enabled = cfg.depth_prior
        self.mu = nn.Parameter(torch.zeros(1, 1, cfg.num_joints, cfg.dim))
        log_var0 = 2.0 * math.log(cfg.depth_prior_init_std)
        self.log_var = nn.Parameter(torch.full((1, 1, cfg.num_joints, cfg.dim), log_var0)) if cfg.depth_prior else None
        self.frame_pos = nn.Parameter(torch.zeros(1, cfg.frames, 1, cfg.dim))
        nn.init.trunc_normal_(self.mu, std=0.02)
        nn.init.trunc_normal_(self.frame_pos, std=0.02)

    def forward(self, batch: int, frames: int) -> torch.Tensor:
        mu = self.mu + self.frame_pos[:, :frames]  # (1, T, J, C)
        mu = mu.expand(batch, -1, -1, -1)
        if self.log_var is None or not self.training:
            return mu
        sigma = torch.exp(0.5 * self.log_var)
        return mu + sigma * torch.randn_like(mu)


def _drop_path_rates(cfg: PoseMoEConfig) -> list[float]:
    n = 2 * (cfg.encoder_layers + cfg.decoder_layers)
    return [cfg.drop_path * i / max(n - 1, 1) for i in range(n)]


class PoseMoEEncoder(nn.Module):
    """Decoupled encoder: the 2D stream and the depth stream each pass through their own expert
    blocks. Depth blocks may read the 2D stream; 2D blocks never read depth, so depth uncertainty
    cannot erode the 2D-pose features."""

    def __init__(self, cfg: PoseMoEConfig) -> None:
        super().__init__()
        rates = _drop_path_rates(cfg)
        common = dict(dim=cfg.dim, heads=cfg.heads, hidden=cfg.hidden, experts=cfg.experts, attn_drop=cfg.attn_drop,
                      temporal_gate=cfg.temporal_gate)
        axes = [SpatialAttention, TemporalAttention] * cfg.encoder_layers
        self.pose_blocks = nn.ModuleList(
            PoseExpertBlock(axis=a, drop_path=rates[i], **common) for i, a in enumerate(axes))
        self.depth_blocks = nn.ModuleList(
            DepthExpertBlock(axis=a, drop_path=rates[i], reads_2d=cfg.depth_reads_2d, **common)
            for i, a in enumerate(axes))

    def forward(self, pose: torch.Tensor, depth: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, list[RouterOutput]]:
        routes = []
        for pose_block, depth_block in zip(self.pose_blocks, self.depth_blocks):
            r_pose = pose_block(pose)
            r_depth = depth_block(depth, pose)  # reads the 2D stream before this block updated it
            pose, depth = r_pose.out, r_depth.out
            routes += [r_pose, r_depth]
        return pose, depth, routes


class EntangledEncoder(PoseMoEEncoder):
    """The ablation the paper argues against: 2D features and the unknown depth are encoded
    together from the start. Both streams begin as one token set (2D embedding + depth prior)
    and pass through the same blocks in sequence, so depth uncertainty flows into the 2D
    features. Same modules as `PoseMoEEncoder`, hence the same parameter count."""

    def forward(self, pose: torch.Tensor, depth: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, list[RouterOutput]]:
        z = pose + depth  # (B, T, J, C): one entangled feature space
        routes = []
        for pose_block, depth_block in zip(self.pose_blocks, self.depth_blocks):
            r_pose = pose_block(z)
            r_depth = depth_block(r_pose.out, r_pose.out)
            z = r_depth.out
            routes += [r_pose, r_depth]
        return z, z, routes


class CrossExpertDecoder(nn.Module):
    """Cross-expert knowledge aggregation: L_d layers of bidirectional cross-attention between the
    2D and depth streams, over joints (spatial) then over frames (temporal)."""

    def __init__(self, cfg: PoseMoEConfig) -> None:
        super().__init__()
        rates = _drop_path_rates(cfg)[2 * cfg.encoder_layers:]
        axes = [SpatialAttention, TemporalAttention] * cfg.decoder_layers
        self.blocks = nn.ModuleList(
            CrossExpertBlock(axis=a, dim=cfg.dim, heads=cfg.heads, hidden=cfg.hidden,
                             drop_path=rates[i], attn_drop=cfg.attn_drop, temporal_gate=cfg.temporal_gate)
            for i, a in enumerate(axes))

    def forward(self, pose: torch.Tensor, depth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for block in self.blocks:
            pose, depth = block(pose, depth)
        return pose, depth


class SplitHead(nn.Module):
    """x, y (metres) from the 2D stream and z from the depth stream."""

    def __init__(self, cfg: PoseMoEConfig) -> None:
        super().__init__()
        self.norm_pose = nn.LayerNorm(cfg.dim)
        self.norm_depth = nn.LayerNorm(cfg.dim)
        self.xy = nn.Sequential(nn.Linear(cfg.dim, cfg.dim), nn.Tanh(), nn.Linear(cfg.dim, 2))
        self.z = nn.Sequential(nn.Linear(cfg.dim, cfg.dim), nn.Tanh(), nn.Linear(cfg.dim, 1))

    def forward(self, pose: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.xy(self.norm_pose(pose)), self.z(self.norm_depth(depth))], dim=-1)


class FusedHead(nn.Module):
    """One head reading both streams concatenated (ablation of `SplitHead`)."""

    def __init__(self, cfg: PoseMoEConfig) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(2 * cfg.dim)
        self.mlp = nn.Sequential(nn.Linear(2 * cfg.dim, cfg.dim), nn.Tanh(), nn.Linear(cfg.dim, 3))

    def forward(self, pose: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.norm(torch.cat([pose, depth], dim=-1)))


class PoseMoEOutput(NamedTuple):
    pose3d: torch.Tensor  # (B, T, J, 3) root-relative camera coordinates, metres
    aux_loss: torch.Tensor  # scalar: mean load-balancing loss of all routers
    router_probs: list[torch.Tensor]  # one (B, T, J, E) tensor per MoE layer, encoder order


class PoseMoE(nn.Module):
    """2D keypoints (B, T, J, in_channels) in screen-normalised coordinates -> 3D poses
    (B, T, J, 3), root-relative, camera axes (x right, y down, z forward), metres.

    Sequence to sequence over a fixed window of `frames` frames; not causal (every output frame
    sees the whole window).
    """

    causal = False

    def __init__(self, cfg: PoseMoEConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or PoseMoEConfig()
        self.embed = PoseEmbedding(cfg)
        self.depth_prior = GaussianDepthPrior(cfg)
        self.encoder = EntangledEncoder(cfg) if cfg.entangled else PoseMoEEncoder(cfg)
        self.decoder = CrossExpertDecoder(cfg)
        self.head = FusedHead(cfg) if cfg.fused_head else SplitHead(cfg)
        self.apply(_init_weights)
        # the input has only 2-3 channels: a std-0.02 projection would leave the keypoints far
        # weaker than the position embeddings, so it keeps PyTorch's fan-in scaled default
        self.embed.proj.reset_parameters()

    @property
    def frames(self) -> int:
        """The window length T this model takes and returns."""
        return self.cfg.frames

    def _check_input(self, x: torch.Tensor) -> None:
        cfg = self.cfg
        want = (cfg.frames, cfg.num_joints, cfg.in_channels)
        if x.dim() != 4 or tuple(x.shape[1:]) != want:
            raise PoseMoEError(
                f"PoseMoE input: expected shape (B, {want[0]}, {want[1]}, {want[2]}) "
                f"(batch, frames, joints, channels), got {tuple(x.shape)}")

    def forward_features(self, x: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor, list[RouterOutput]]:
        """Encoder and decoder: returns the 2D and depth streams (B, T, J, C) and the routes."""
        self._check_input(x)
        b, t = x.shape[:2]
        pose = self.embed(normalize_input(x, self.cfg.input_norm))  # (B, T, J, C)
        depth = self.depth_prior(b, t)  # (B, T, J, C)
        pose, depth, routes = self.encoder(pose, depth)
        pose, depth = self.decoder(pose, depth)
        return pose, depth, routes

    def forward_head(self, pose: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        return self.head(pose, depth)  # (B, T, J, 3)

    def forward(self, x: torch.Tensor) -> PoseMoEOutput:
        pose, depth, routes = self.forward_features(x)
        out = self.forward_head(pose, depth)
        aux = torch.stack([r.aux_loss for r in routes]).mean()
        return PoseMoEOutput(out, aux, [r.probs.detach() for r in routes])

    def expert_parameter_names(self) -> list[str]:
        """Names of the parameters that belong to a routed expert."""
        return [n for n, _ in self.named_parameters() if ".moe." in n and n.split(".")[-1] in {"w1", "b1", "w2", "b2"}]

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def flops_per_frame(model: PoseMoE) -> float:
    """Floating-point operations (multiply and add counted separately) of one forward pass,
    divided by the window length, measured by torch's FLOP counter on a batch of one."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    cfg = model.cfg
    x = torch.zeros(1, cfg.frames, cfg.num_joints, cfg.in_channels)
    was_training = model.training
    model.eval()
    # the math backend runs attention as plain matmuls, which the counter sees on every device
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model(x)
    model.train(was_training)
    return counter.get_total_flops() / cfg.frames
