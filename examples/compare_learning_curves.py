"""Validation MPJPE of several training runs, against the training frames they saw or the
minutes they trained:

    python examples/compare_learning_curves.py out.png "PoseMoE=runs/a/log.jsonl" "entangled=runs/b/log.jsonl"
    python examples/compare_learning_curves.py --x minutes out.png "curriculum=runs/f1/log.jsonl+runs/f27/log.jsonl"

Frames seen = optimiser steps x clips per step x window length (read from each run's
train_config.json beside its log), so runs with different batch sizes or windows line up.
`--x minutes` uses each log's training minutes instead: the fair axis when runs trade frames
per step for steps per second. `A+B` draws one curve through two runs in sequence (B started
from A's weights with `posemoe train --init-from`): B's frames and minutes are counted after A's.
The x axis is logarithmic: a straight falling line means more compute keeps paying off.
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


def curve(logs: list[Path], axis: str) -> tuple[list[float], list[float]]:
    """(x, validation MPJPE) through the epochs of `logs`, run one after the other."""
    xs, ys, offset = [], [], 0.0
    for log in logs:
        per_step = frames_per_step(log)
        epochs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        epochs = [r for r in epochs if r["type"] == "epoch" and r.get("val_mpjpe_mm") is not None]
        for r in epochs:
            xs.append(offset + (r["minutes"] if axis == "minutes" else r["step"] * per_step))
            ys.append(r["val_mpjpe_mm"])
        if xs:
            offset = xs[-1]
    return xs, ys


def main(argv: list[str]) -> None:
    axis = "frames"
    if argv[:1] == ["--x"] and len(argv) > 1:
        axis, argv = argv[1], argv[2:]
    if axis not in ("frames", "minutes") or len(argv) < 2 or any("=" not in a for a in argv[1:]):
        raise SystemExit(__doc__)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for arg in argv[1:]:
        label, _, paths = arg.partition("=")
        xs, ys = curve([Path(p) for p in paths.split("+")], axis)
        ax.plot(xs, ys, "o-", ms=3, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("training minutes (one CPU thread unless noted)" if axis == "minutes"
                  else "training frames seen (steps x clips x window)")
    ax.set_ylabel("validation MPJPE, S9/S11 (mm)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title("posemoe learning curves")
    fig.tight_layout()
    fig.savefig(argv[0])
    print(f"wrote {argv[0]}")


if __name__ == "__main__":
    main(sys.argv[1:])
