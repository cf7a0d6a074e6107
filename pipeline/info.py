"""What `posemoe info` reports: model sizes and costs, and what a checkpoint holds."""

from __future__ import annotations

from pathlib import Path

from posemoe.checkpoint import read_checkpoint
from posemoe.model import PRESETS, PoseMoE, flops_per_frame, preset


def preset_table(name: str | None = None) -> list[dict]:
    """One row per preset and variant (PoseMoE, entangled ablation): parameters, FLOPs per frame."""
    names = [name] if name else list(PRESETS)
    rows = []
    for n in names:
        for variant, entangled in (("posemoe", False), ("entangled", True)):
            model = PoseMoE(preset(n, entangled=entangled))
            rows.append({"preset": n, "variant": variant, "frames": model.frames,
                         "params": model.num_parameters(), "flops_per_frame": flops_per_frame(model)})
    return rows


def checkpoint_summary(path: str | Path) -> dict:
    """The self-description of a checkpoint, without the weights."""
    ckpt = read_checkpoint(path)
    n_params = sum(v.numel() for v in ckpt["model"].values())
    train = ckpt.get("train", {})
    return {"file": str(path), "format": ckpt["format"], "joints": ckpt["joints"], "params": n_params,
            "config": ckpt["config"], "input": ckpt["input"], "output": ckpt["output"],
            "metrics": ckpt.get("metrics", {}), "epoch": train.get("epoch"), "revision": train.get("revision"),
            "command": " ".join(train.get("command", [])), "resumable": "state" in ckpt}
