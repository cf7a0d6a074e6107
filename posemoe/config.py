"""`PoseMoEConfig`: every architectural choice of a PoseMoE network, and the named presets.

Kept apart from the network (`posemoe.model`) so that what reads a model's shape and input
normalisation without running it in torch (`posemoe.onnx_model`, the video pipeline) does not
have to import torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from posemoe.errors import PoseMoEError
from posemoe.normalization import check_input_norm


@dataclass
class PoseMoEConfig:
    """Every architectural choice of PoseMoE. Defaults are the `small` preset at 81 frames."""

    frames: int = 81  # window length T the model is trained for; inputs must have exactly T frames
    num_joints: int = 17  # Human3.6M 17-joint layout (posemoe.skeleton.H36M17)
    in_channels: int = 2  # 2 = screen-normalised (x, y); 3 adds the detector's confidence
    input_norm: str = "screen"  # what the network does to its input first (posemoe.normalization):
    #   "screen" uses it as it is; "body" centres each frame on the person and scales by their size
    temporal_gate: bool = False  # temporal attention blends each frame's own value with the window's
    #   through a learned per-head gate (1 = plain attention; 0 = each frame alone, a 1-frame model)
    dim: int = 96  # feature channels C of both streams
    heads: int = 8  # attention heads (dim must divide by it)
    encoder_layers: int = 4  # L_e; each layer = a spatial then a temporal block per stream
    decoder_layers: int = 2  # L_d; each layer = spatial then temporal bidirectional cross-attention
    mlp_ratio: float = 2.0  # hidden width of every feed-forward expert / layer, as a multiple of dim
    experts: int = 2  # E feed-forward experts per MoE layer (in each stream); the router mixes them
    depth_prior: bool = True  # depth stream starts from a learned Gaussian N(mu_j, sigma_j^2) per joint
    depth_prior_init_std: float = 0.02  # initial sigma of that prior, the scale of the other token
    #   initialisations; a large start (0.37) swamped the depth stream with noise and slowed training ~2x
    depth_reads_2d: bool = True  # depth expert blocks cross-attend to the 2D stream (never the reverse)
    fused_head: bool = False  # False: x, y from the 2D stream and z from the depth stream;
    #                           True: one linear head on both streams concatenated (ablation)
    entangled: bool = False  # ablation: one stream carries 2D and depth from the start (see EntangledEncoder)
    drop_path: float = 0.1  # stochastic depth, linearly increasing to this value over the blocks
    attn_drop: float = 0.0  # dropout on attention weights
    aux_loss_weight: float = 0.01  # weight of the routers' load-balancing loss in the training loss

    @property
    def hidden(self) -> int:
        return int(self.dim * self.mlp_ratio)

    def __post_init__(self) -> None:
        check_input_norm(self.input_norm)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PoseMoEConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise PoseMoEError(f"PoseMoEConfig: unknown fields {unknown}; known fields are {sorted(known)}")
        return cls(**d)


# name -> fields; frames is added by `preset()` (27, 81 or 243)
SIZES: dict[str, dict] = {
    # tiny: the size a 2-core CPU can train in hours (no stochastic depth: too little training to overfit)
    "tiny": dict(dim=64, heads=8, encoder_layers=3, decoder_layers=1, mlp_ratio=2.0, experts=2, drop_path=0.0),
    "small": dict(dim=96, heads=8, encoder_layers=4, decoder_layers=2, mlp_ratio=2.0, experts=2),
    "base": dict(dim=160, heads=8, encoder_layers=6, decoder_layers=3, mlp_ratio=2.0, experts=2),
}
WINDOWS: tuple[int, ...] = (27, 81, 243)


def preset(name: str, **overrides) -> PoseMoEConfig:
    """A named preset, e.g. `preset("small-81")`, `preset("base-243", entangled=True)`."""
    size, _, frames = name.partition("-")
    if size not in SIZES or not frames.isdigit() or int(frames) not in WINDOWS:
        names = [f"{s}-{t}" for s in SIZES for t in WINDOWS]
        raise PoseMoEError(f"unknown preset {name!r}; choose one of {', '.join(names)}")
    return PoseMoEConfig(**{**SIZES[size], "frames": int(frames), **overrides})


PRESETS: tuple[str, ...] = tuple(f"{s}-{t}" for s in SIZES for t in WINDOWS)
