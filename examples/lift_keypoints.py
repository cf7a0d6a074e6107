"""Lift a 2D keypoint sequence (pixels) to 3D with a posemoe checkpoint.

    python examples/lift_keypoints.py runs/small27/best.pt            # a synthetic walker
    python examples/lift_keypoints.py runs/small27/best.pt kp.npy 1920 1080

kp.npy: (T, 17, 2) or (T, 17, 3) pixels in Human3.6M joint order. Writes pose3d.npy (T, 17, 3),
metres, root-relative, camera axes (x right, y down, z forward).
"""

from __future__ import annotations

import sys

import numpy as np

from posemoe import Lifter


def synthetic_keypoints(frames: int = 100, w: int = 1000, h: int = 1000) -> np.ndarray:
    """A crude figure swinging its limbs, centred in a w x h image (pixels)."""
    t = np.arange(frames)[:, None]
    base = np.array([[0, 0], [-25, 0], [-25, 90], [-25, 180], [25, 0], [25, 90], [25, 180], [0, -50],
                     [0, -100], [0, -120], [0, -145], [35, -100], [45, -50], [50, 0], [-35, -100],
                     [-45, -50], [-50, 0]], dtype=np.float64)
    kp = np.repeat(base[None], frames, axis=0)
    swing = 20 * np.sin(t / 8.0)
    for j, sign in ((2, 1), (3, 1), (5, -1), (6, -1), (12, -1), (13, -1), (15, 1), (16, 1)):
        kp[:, j, 0] += sign * swing[:, 0]
    return (kp + [w / 2, h / 2]).astype(np.float32)


def main() -> None:
    if len(sys.argv) not in (2, 5):
        raise SystemExit(__doc__)
    lifter = Lifter.from_checkpoint(sys.argv[1])
    if len(sys.argv) == 5:
        kp, size = np.load(sys.argv[2]), (int(sys.argv[3]), int(sys.argv[4]))
    else:
        kp, size = synthetic_keypoints(), (1000, 1000)
    pose3d = lifter(kp, image_size=size)
    np.save("pose3d.npy", pose3d)
    reach = np.linalg.norm(pose3d, axis=-1).max()
    print(f"lifted {len(kp)} frames with a {lifter.frames}-frame model -> pose3d.npy {pose3d.shape}; "
          f"farthest joint from the pelvis {reach:.2f} m")


if __name__ == "__main__":
    main()
