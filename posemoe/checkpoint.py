"""Self-describing PoseMoE checkpoints: save, and rebuild the model from the file alone.

A checkpoint is a dict saved with `torch.save`:

    format   "posemoe-checkpoint-v1"
    model    the model's state_dict
    config   PoseMoEConfig as a dict (rebuilds the architecture)
    joints   "h36m17": the joint layout of inputs and outputs (posemoe.skeleton)
    input    how 2D inputs are encoded: the caller screen-normalises them; `config.input_norm`
             names what the network then does ("screen": nothing; "body": camera-invariant,
             see posemoe.normalization); a config without it means "screen"
    output   what the network returns (units and axes)
    metrics  evaluation figures recorded at save time (may be empty)
    train    the training configuration, the command line, the code revision, epoch and step
    state    optional: optimiser / scheduler / RNG state for `--resume` (dropped by `export`)
    dtype    "float32", or "float16" for a half-precision export (the model is rebuilt in float32)

Only plain Python types and tensors are stored, so it loads with `weights_only=True`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import torch

from posemoe.errors import PoseMoEError
from posemoe.model import PoseMoE, PoseMoEConfig
from posemoe.normalization import DESCRIPTIONS, check_input_norm
from posemoe.shipped import DEFAULT_NAME, SHIPPED_PACKAGE, shipped_weights  # noqa: F401 - re-exported

FORMAT = "posemoe-checkpoint-v1"
JOINTS = "h36m17"
OUTPUT_DESCRIPTION = "root-relative 3D joints in camera axes (x right, y down, z forward), metres"


def input_spec(cfg: PoseMoEConfig) -> dict[str, Any]:
    channels = ["u", "v", "confidence"][: cfg.in_channels]
    return {"normalisation": DESCRIPTIONS[cfg.input_norm], "channels": channels, "frames": cfg.frames}


def code_revision() -> str:
    """The git revision of the posemoe source tree, or 'unknown' outside a checkout."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def make_checkpoint(model: PoseMoE, *, metrics: dict | None = None, train: dict | None = None,
                    state: dict | None = None) -> dict[str, Any]:
    raw = getattr(model, "module", model)  # unwrap DistributedDataParallel
    ckpt = {
        "format": FORMAT,
        "model": {k: v.detach().cpu() for k, v in raw.state_dict().items()},
        "config": raw.cfg.to_dict(),
        "joints": JOINTS,
        "input": input_spec(raw.cfg),
        "output": OUTPUT_DESCRIPTION,
        "metrics": metrics or {},
        "train": train or {},
    }
    if state is not None:
        ckpt["state"] = state
    return ckpt


def save_checkpoint(ckpt: dict[str, Any], path: str | Path) -> Path:
    """Write atomically: a temporary file in the same folder, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(ckpt, tmp)
    os.replace(tmp, path)
    return path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load and validate a checkpoint dict (no model is built)."""
    path = Path(path)
    fix = "pass a .pt file written by `posemoe train` or `posemoe export`"
    if path.is_dir():
        raise PoseMoEError(f"{path}: is a folder, not a checkpoint file; pass the .pt file in it, e.g. best.pt")
    if not path.is_file():
        raise PoseMoEError(f"{path}: checkpoint file not found; check the path")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as e:
        raise PoseMoEError(f"{path}: cannot read the checkpoint ({e.strerror or e}); check its permissions") from None
    except Exception as e:  # torch raises several types for a corrupt, truncated or foreign file
        raise PoseMoEError(f"{path}: not a readable PyTorch checkpoint ({_short_reason(e)}); the file is damaged, "
                           f"truncated or not a checkpoint: {fix}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        found = ckpt.get("format", f"keys {sorted(ckpt)[:6]}") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise PoseMoEError(f"{path}: expected a posemoe checkpoint (format {FORMAT!r}), found {found}; {fix}")
    if ckpt.get("joints") != JOINTS:
        raise PoseMoEError(f"{path}: expected joint layout {JOINTS!r}, found {ckpt.get('joints')!r}; {fix}")
    cfg = ckpt.get("config")
    if not isinstance(cfg, dict) or not isinstance(ckpt.get("model"), dict):
        raise PoseMoEError(f"{path}: expected 'config' and 'model' entries, found keys {sorted(ckpt)[:8]}; {fix}")
    check_input_norm(cfg.get("input_norm", "screen"), f"{path}: its input normalisation (config.input_norm)")
    if cfg.get("num_joints", 17) != 17:
        raise PoseMoEError(f"{path}: expected a model of the 17 {JOINTS} joints, its config has "
                           f"num_joints={cfg.get('num_joints')!r}; {fix}")
    return ckpt


def _short_reason(exc: BaseException) -> str:
    """``Type: first sentence`` of an exception, at most about 90 characters (torch's are long)."""
    text = (str(exc).strip().splitlines() or [""])[0]
    text = text.split(". ")[0].rstrip(".")
    if len(text) > 90:
        text = text[:87] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def load_checkpoint(path: str | Path, *, device: str | torch.device = "cpu",
                    frames: int | None = None) -> tuple[PoseMoE, dict[str, Any]]:
    """Rebuild the model from a checkpoint file alone; returns (model in eval mode, checkpoint).

    `frames`, when given, is the window length the caller needs: a checkpoint made for another
    window is refused with a one-line error.
    """
    ckpt = read_checkpoint(path)
    try:
        cfg = PoseMoEConfig.from_dict(ckpt["config"])
    except (TypeError, ValueError, KeyError, PoseMoEError) as e:
        raise PoseMoEError(f"{path}: its model config does not build a PoseMoE ({_short_reason(e)}); "
                           f"use a checkpoint written by this version of posemoe") from None
    if frames is not None and cfg.frames != frames:
        raise PoseMoEError(f"{path}: expected a model with a {frames}-frame window, found {cfg.frames} frames")
    model = PoseMoE(cfg)
    try:
        missing, unexpected = model.load_state_dict(ckpt["model"], strict=False)
    except RuntimeError as e:  # a tensor of another shape than the config implies
        raise PoseMoEError(f"{path}: weights do not match the stored config ({_short_reason(e)}); "
                           f"the file is damaged or was edited: re-export it") from None
    if missing or unexpected:
        raise PoseMoEError(f"{path}: weights do not match the stored config "
                           f"(missing {list(missing)[:3]}, unexpected {list(unexpected)[:3]}); the file is damaged "
                           f"or was edited: re-export it")
    return model.to(device).eval(), ckpt


def export_checkpoint(src: str | Path, dst: str | Path, *, half: bool = True,
                      metrics: dict | None = None) -> dict[str, Any]:
    """Write a shippable copy of checkpoint `src` to `dst`: no optimiser state, floating-point
    weights in float16 when `half` (loading casts them back to float32), `metrics` merged into
    the stored metrics. Atomic like `save_checkpoint`. Returns the written dict."""
    ckpt = read_checkpoint(src)
    ckpt.pop("state", None)
    if half:
        ckpt["model"] = {k: v.half() if v.is_floating_point() else v for k, v in ckpt["model"].items()}
    ckpt["dtype"] = "float16" if half else "float32"
    ckpt["metrics"] = {**ckpt.get("metrics", {}), **(metrics or {})}
    ckpt.setdefault("train", {})["exported_from"] = Path(src).name
    save_checkpoint(ckpt, dst)
    return ckpt
