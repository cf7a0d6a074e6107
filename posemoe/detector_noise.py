"""Detector-like errors for projected 2D keypoints, the way real 2D detectors err.

A 2D detector's joints are not the motion-capture joints: each detector puts a hip, a neck or a
head at its own place (on Human3.6M the Stacked Hourglass joints sit 6-8 px from the mocap limb
joints, 9-13 px from hips and thorax and 17-23 px from neck and head). On top of that it jitters
from frame to frame and misses joints. `DetectorNoise` adds the three to exact projections,
sized in metres at the person (converted with the pixels per metre at their depth) so that the
same noise is drawn for a person 2 m or 15 m away:

- per clip and joint, a constant offset: normal, standard deviation `offset_m` (`head_offset_m`
  for neck/nose and head), times a strength drawn per clip uniformly in [0, 1];
- per frame and joint, normal jitter whose standard deviation is drawn per clip uniformly in
  [0, `jitter_m`];
- misses: each joint of each frame is missed with a probability drawn per clip uniformly in
  [0, `miss_max`]. A missed joint is fed as the video pipeline feeds it: every channel 0.

The strengths are drawn per clip, so clean and noisy 2D are both seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HEAD_JOINTS = (9, 10)  # neck/nose and head of H36M17: where detectors' definitions differ most


@dataclass(frozen=True)
class DetectorNoise:
    offset_m: float = 0.03
    head_offset_m: float = 0.06
    jitter_m: float = 0.02
    miss_max: float = 0.08

    def apply(self, px: np.ndarray, px_per_m: np.ndarray | float, rng: np.random.Generator,
              offsets: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Perturb pixel keypoints (T, J, 2); returns (new keypoints, found (T, J) bool).
        `px_per_m` is a scalar or (T,) pixels per metre at the person; `offsets=False` leaves out
        the per-joint offsets (for detections, which have their own)."""
        t, j = px.shape[:2]
        scale = np.broadcast_to(np.asarray(px_per_m, dtype=np.float64), (t,))[:, None, None]
        out = np.array(px, dtype=np.float64)
        if offsets and (self.offset_m > 0 or self.head_offset_m > 0):
            sigma = np.full((j, 1), self.offset_m)
            sigma[list(HEAD_JOINTS)] = self.head_offset_m
            out += rng.uniform() * rng.normal(size=(1, j, 2)) * sigma[None] * scale
        if offsets and self.jitter_m > 0:
            out += rng.normal(size=out.shape) * rng.uniform(0.0, self.jitter_m) * scale
        found = rng.random((t, j)) >= rng.uniform(0.0, self.miss_max) if self.miss_max > 0 else np.ones((t, j), bool)
        return out, found
