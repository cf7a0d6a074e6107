"""Plot the learning curve of a training run (train MPJPE, train depth error, validation MPJPE):

    python examples/plot_training_log.py runs/x/log.jsonl out.png
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    recs = [json.loads(line) for line in open(sys.argv[1])]
    steps = [r for r in recs if r["type"] == "step"]
    epochs = [r for r in recs if r["type"] == "epoch"]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot([r["step"] for r in steps], [r["loss_mpjpe"] * 1000 for r in steps], lw=1, alpha=0.7,
            label="train MPJPE (batch, mm)")
    if steps and "loss_depth" in steps[0]:
        ax.plot([r["step"] for r in steps], [r["loss_depth"] * 1000 for r in steps], lw=1, alpha=0.7,
                label="train depth (z) error, L1 (mm)")
    ax.plot([r["step"] for r in epochs], [r["val_mpjpe_mm"] for r in epochs], "o-", label="val MPJPE S9/S11 clips (mm)")
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("MPJPE (mm)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("posemoe training run")
    fig.tight_layout()
    fig.savefig(sys.argv[2])
    print(f"wrote {sys.argv[2]}")


if __name__ == "__main__":
    main()
