"""Measure the scene placement on the synthetic walk, whose true 3D, camera and floor are known.

    python examples/scene_check.py [--clip examples/synthetic_walk.mp4]

Runs ``posemoe video`` on the clip (2D with MediaPipe, the shipped lifting model) once with the
network's raw output (``--smooth none --bones free``), then places the same poses in the scene
(``pipeline.world.place_in_world``) with each setting and prints, against the clip's truth
(``examples/synthetic_walk_truth.npz``):

- MPJPE / P-MPJPE of the root-relative 3D (mm);
- the pelvis position in the camera frame: mean and max error (m), with the true focal length
  and with the default 26 mm-equivalent guess;
- the camera height above the floor (m) and the angle between the estimated and the true up
  direction (degrees);
- foot contact: the share of (frame, foot) pairs where the estimate agrees with the same rule
  applied to the true motion;
- jitter of the root path (mean acceleration, mm/frame^2);
- a BVH written from the placed 3D and read back: its forward kinematics against the saved
  world-frame joints (mm).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.export import load_results  # noqa: E402
from pipeline.video import process_video  # noqa: E402
from pipeline.world import place_in_world  # noqa: E402
from posemoe.bvh import bvh_text, h36m_positions, motion_from_positions, read_bvh  # noqa: E402
from posemoe.metrics import mpjpe, p_mpjpe  # noqa: E402
from posemoe.smoothing import DEFAULT_SMOOTHING, parse_smoothing  # noqa: E402
from posemoe.trajectory import foot_contact  # noqa: E402
from posemoe.view_rotation import default_focal_px  # noqa: E402


def _truth_world(truth: dict) -> np.ndarray:
    """The truth's world joints (x right, y away, z up; origin on the floor) in posemoe's world axes."""
    w = truth["keypoints3d_world"].astype(np.float64)
    c = truth["camera_center"]
    return np.stack([w[..., 0] - c[0], w[..., 2], -(w[..., 1] - c[1])], axis=-1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", type=Path, default=ROOT / "examples" / "synthetic_walk.mp4")
    ap.add_argument("--truth", type=Path, default=ROOT / "examples" / "synthetic_walk_truth.npz")
    args = ap.parse_args()
    truth = dict(np.load(args.truth))
    focal = float(truth["camera_f"][0])
    gt_cam = truth["keypoints3d_camera"].astype(np.float64)
    gt_rel = gt_cam - gt_cam[:, :1]
    gt_world = _truth_world(truth)
    true_contact = foot_contact(gt_world, float(truth["fps"]))
    true_up = truth["camera_R"] @ np.array([0.0, 0.0, 1.0])
    with tempfile.TemporaryDirectory() as tmp:
        raw_path = Path(tmp) / "raw.npz"
        process_video(args.clip, None, save=raw_path, pose2d="mediapipe", progress=False, log=lambda _m: None,
                      focal_px=focal, smooth="none", bones="free")
        raw = load_results(raw_path)
        rows = []
        for smooth, bones in (("none", "free"), (DEFAULT_SMOOTHING, "free"), (DEFAULT_SMOOTHING, "median")):
            for f, lens in ((focal, "true"), (default_focal_px(*raw.image_size), "default")):
                placed = place_in_world(raw, f, parse_smoothing(smooth), bones)
                k = placed.keypoints3d[0].astype(np.float64)
                root = placed.root_camera[0].astype(np.float64)
                err = np.linalg.norm(root - gt_cam[:, 0], axis=-1)
                up = placed.world_from_camera[1, :3]
                angle = math.degrees(math.acos(np.clip(up @ true_up, -1.0, 1.0)))
                agree = float((placed.foot_contact[0].astype(bool) == true_contact).mean())
                jitter = float(np.linalg.norm(np.diff(root, 2, axis=0), axis=-1).mean() * 1000)
                bvh = Path(tmp) / "p.bvh"
                bvh.write_text(bvh_text(motion_from_positions(placed.keypoints3d_world[0], placed.fps)))
                fk = h36m_positions(read_bvh(bvh)) / 100.0
                fk_err = np.linalg.norm(fk - placed.keypoints3d_world[0], axis=-1) * 1000
                rows.append((smooth, bones, lens, placed.focal_px, mpjpe(k * 1000, gt_rel * 1000),
                             p_mpjpe(k * 1000, gt_rel * 1000), err.mean(), err.max(), placed.world_from_camera[1, 3],
                             angle, agree, jitter, fk_err.mean(), fk_err.max()))
    print(f"synthetic walk: true camera height {truth['camera_center'][2]:.2f} m, focal {focal:.0f} px; "
          f"true root jitter {np.linalg.norm(np.diff(gt_cam[:, 0], 2, axis=0), axis=-1).mean() * 1000:.1f} mm/frame^2")
    print("| smooth | bones | focal | MPJPE | P-MPJPE | root err mean / max (m) | camera height (m) | up err (deg) "
          "| contact agree | root jitter (mm/fr^2) | BVH FK vs 3D mean / max (mm) |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} ({r[3]:.0f} px) | {r[4]:.1f} | {r[5]:.1f} | {r[6]:.2f} / {r[7]:.2f} | "
              f"{r[8]:.2f} | {r[9]:.1f} | {100 * r[10]:.0f} % | {r[11]:.1f} | {r[12]:.2f} / {r[13]:.2f} |")


if __name__ == "__main__":
    main()
