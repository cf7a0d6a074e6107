"""Stability of 3D poses on real video, where no ground truth exists: bone-length variation and jitter.

    python examples/video_stability.py tennis.npz two_people.npz [--min-frames 10] [--json out.json]

For every track of every results file (`posemoe video --save X.npz`) seen on at least
`--min-frames` frames:
- bone CV: for each of the 16 bones, the standard deviation of its 3D length over the frames
  divided by its mean length; the mean over the bones (a person's bones do not change length,
  so 0 is ideal);
- jitter: the mean over joints of the 3D acceleration magnitude (second difference of the
  root-relative joints over three consecutive present frames), in mm/frame^2.
Prints one line per track and the mean over tracks per file.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from pipeline.export import load_results
from posemoe.errors import PoseMoEError
from posemoe.metrics import bone_length_cv


def jitter_mm(poses: np.ndarray, present: np.ndarray) -> float:
    """Mean acceleration magnitude (mm/frame^2) over frames t whose neighbours are present."""
    acc = poses[2:] - 2.0 * poses[1:-1] + poses[:-2]  # (F-2, J, 3)
    ok = present[2:] & present[1:-1] & present[:-2]
    if not ok.any():
        return float("nan")
    return float(np.linalg.norm(acc[ok], axis=-1).mean() * 1000.0)


def track_stability(path: str, min_frames: int = 10) -> list[dict]:
    res = load_results(path)
    rows = []
    for p, tid in enumerate(res.track_ids):
        k3 = res.keypoints3d[p].astype(np.float64)
        present = np.isfinite(k3).all(axis=(1, 2))
        if present.sum() < min_frames:
            continue
        rows.append({"track": int(tid), "frames": int(present.sum()), "bone_cv": bone_length_cv(k3[present]),
                     "jitter_mm_per_frame2": jitter_mm(np.nan_to_num(k3), present)})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", nargs="+", help="posemoe results files (.npz or .json)")
    ap.add_argument("--min-frames", type=int, default=10, help="skip tracks seen on fewer frames")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args(argv)
    out = {}
    try:
        for path in args.results:
            rows = track_stability(path, args.min_frames)
            out[path] = rows
            for r in rows:
                print(f"{path}: track {r['track']:>3} ({r['frames']} frames): bone CV {r['bone_cv']:.3f}, "
                      f"jitter {r['jitter_mm_per_frame2']:.1f} mm/frame^2")
            if rows:
                print(f"{path}: mean over {len(rows)} tracks: bone CV {np.mean([r['bone_cv'] for r in rows]):.3f}, "
                      f"jitter {np.nanmean([r['jitter_mm_per_frame2'] for r in rows]):.1f} mm/frame^2")
    except PoseMoEError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
