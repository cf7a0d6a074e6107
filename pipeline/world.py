"""Placing a clip's people in the scene: smoothing, root trajectory, world frame, foot contact.

``place_in_world(results, focal_px=None, smoothing=None)`` returns the results with the scene
fields of schema version 2 filled (``pipeline.export``), in this order:

1. ``smoothing`` (a ``posemoe.smoothing.Smoothing``), if given, filters each person's
   root-relative 3D over time (gaps where the person is absent are left alone);
2. with ``bones="median"`` (the default), each person's bones are set to their median length
   over the clip, along the directions the network gave (``posemoe.skeleton.fix_bone_lengths``):
   a person's bones do not change length, so the variation is the lifter's error (on the
   synthetic walk this lowers MPJPE / P-MPJPE from 64.2 / 54.1 to 63.5 / 53.0 mm,
   ``examples/scene_check.py``), and a BVH
   skeleton, whose bones are fixed by construction, then reproduces the saved 3D;
3. each person's root in the camera frame from their 2D and 3D with the focal length
   (``posemoe.trajectory.root_in_camera``; ``focal_px`` defaults to a 26 mm-equivalent lens,
   ``posemoe.view_rotation.default_focal_px``), then filtered over time with ``ROOT_SMOOTHING``
   (unless the 3D is not smoothed: ``smoothing`` "none", or none given nor recorded): the depth of a root placed by its 2D size jitters more
   than the pose itself (on the synthetic walk its mean acceleration is 16 mm/frame^2 unfiltered,
   1.8 with this filter, 1.1 in the truth; the path's error does not change: 0.2 m);
4. the world frame (up, floor, camera height) from everyone together
   (``posemoe.trajectory.estimate_world``) and every joint in it;
5. foot contact per frame (``posemoe.trajectory.foot_contact``).

It works on version-1 results too (``posemoe convert`` uses it for them), which then gain the
scene fields.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from pipeline.export import Results
from posemoe.skeleton import check_bone_choice, fix_bone_lengths
from posemoe.smoothing import Smoothing, parse_smoothing
from posemoe.trajectory import estimate_world, foot_contact, root_in_camera
from posemoe.view_rotation import default_focal_px

__all__ = ["ROOT_SMOOTHING", "place_in_world"]


ROOT_SMOOTHING = "gaussian:0.12"  # the root trajectory's filter (seconds): a whole body moves smoothly


def _smooth_people(x: np.ndarray, smoothing: Smoothing | None, fps: float) -> np.ndarray:
    """(P, F, ...) -> each person's series filtered over F (NaN frames stay NaN)."""
    if smoothing is None:
        return x
    return np.stack([smoothing.apply(person, fps) for person in x]) if len(x) else x


def place_in_world(results: Results, focal_px: float | None = None,
                   smoothing: Smoothing | None = None, bones: str | None = None) -> Results:
    """A copy of ``results`` with smoothed 3D and the scene fields (see the module docstring).

    focal_px: the lens's focal length in pixels; default the one recorded in ``results`` (when
    it has scene fields), else a 26 mm-equivalent lens for its image size. bones: "median" or
    "free" (default: as recorded in ``results``, else "median").
    """
    recorded = results.extra.get("bones") if isinstance(results.extra, dict) else None
    bones = bones or recorded or "median"
    check_bone_choice(bones)
    width, height = results.image_size
    if focal_px is None:
        focal_px = results.focal_px if results.focal_px is not None else default_focal_px(width, height)
    principal = (width / 2.0, height / 2.0)
    fps = results.fps
    k3 = _smooth_people(results.keypoints3d.astype(np.float64), smoothing, fps)
    if bones == "median":
        k3 = np.stack([fix_bone_lengths(person) for person in k3]) if len(k3) else k3
    root = root_in_camera(results.keypoints2d, results.scores2d, k3, focal_px, principal)  # (P, F, 3)
    applied = smoothing.describe() if smoothing is not None else results.smoothing
    if applied is not None and applied.get("kind") != "none":
        root = _smooth_people(root, parse_smoothing(ROOT_SMOOTHING), fps)
    world = estimate_world(k3, root)
    k3_world = world.to_world(k3 + root[..., None, :])
    contact = foot_contact(k3_world, fps) if results.num_frames else np.zeros((results.num_people, 0, 2), bool)
    return dataclasses.replace(
        results,
        keypoints3d=k3.astype(np.float32),
        root_camera=root.astype(np.float32),
        keypoints3d_world=k3_world.astype(np.float32),
        foot_contact=contact.astype(np.uint8),
        world_from_camera=world.matrix(),
        focal_px=float(focal_px),
        principal_px=principal,
        smoothing=applied,
        extra={**results.extra, "bones": bones},
    )
