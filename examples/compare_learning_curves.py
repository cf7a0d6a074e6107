"""Validation MPJPE of several training runs against the number of training frames they saw:

    python examples/compare_learning_curves.py out.png "PoseMoE=runs/a/log.jsonl" "entangled=runs/b/log.jsonl"

Frames seen = optimiser steps x clips per step x window length (read from each run's
train_config.json beside its log), so runs with different batch sizes or windows line up. The
x axis is logarithmic: a straight falling line means more compute keeps paying off.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from posemoe.model import preset  # noqa: E402


def frames_per_step(log: Path) -> int:
    cfg = json.loads((log.parent / "train_config.json").read_text())
    frames = cfg.get("model_overrides", {}).get("frames") or preset(cfg["preset"]).frames
    return int(cfg["batch_size"]) * int(frames)


def main() -> None:
    if len(sys.argv) < 3 or any("=" not in a for a in sys.argv[2:]):
        raise SystemExit(__doc__)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for arg in sys.argv[2:]:
        label, _, path = arg.partition("=")
        log = Path(path)
        per_step = frames_per_step(log)
        epochs = [json.loads(line) for line in log.read_text().splitlines()]
        epochs = [r for r in epochs if r["type"] == "epoch" and r.get("val_mpjpe_mm") is not None]
        ax.plot([r["step"] * per_step for r in epochs], [r["val_mpjpe_mm"] for r in epochs], "o-", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("training frames seen (steps x clips x window)")
    ax.set_ylabel("validation MPJPE, S9/S11 clips (mm)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    ax.set_title("posemoe learning curves")
    fig.tight_layout()
    fig.savefig(sys.argv[1])
    print(f"wrote {sys.argv[1]}")


if __name__ == "__main__":
    main()
