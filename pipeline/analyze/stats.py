"""The numbers of `posemoe analyze`: bone lengths and their stability, left / right symmetry, the
routers' expert weights, and the key figures written to summary.json (``summarize``).

Bones: the 16 bones of Human3.6M-17 (``BONES``, sides are the person's own). A person's bones do
not change length, so any variation over time is the lifter's error: ``bone_cv`` gives each
bone's coefficient of variation (std / mean), ``symmetry_ratios`` the left / right length ratio
of the paired limbs (``PAIRS``; 1 = symmetric).

The router weights are not stored in the results: ``compute_router_weights`` recomputes them
from the saved 2D keypoints with the checkpoint (by default the one recorded in the results),
through the same code as the video pipeline (`pipeline.lift.lift_tracks_routed`: same windows,
flip and blending). The recomputed 3D is compared with the saved 3D, which tells whether the
weights really belong to these poses.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.export import JOINT_NAMES, Results

# ------------------------------------------------------------------------------------- skeleton

J = {name: i for i, name in enumerate(JOINT_NAMES)}

# (name, child, parent): the 16 bones of Human3.6M-17, sides are the person's own
BONES: tuple[tuple[str, int, int], ...] = (
    ("left hip", J["left_hip"], J["pelvis"]),
    ("right hip", J["right_hip"], J["pelvis"]),
    ("left thigh", J["left_knee"], J["left_hip"]),
    ("right thigh", J["right_knee"], J["right_hip"]),
    ("left shin", J["left_ankle"], J["left_knee"]),
    ("right shin", J["right_ankle"], J["right_knee"]),
    ("left shoulder", J["left_shoulder"], J["thorax"]),
    ("right shoulder", J["right_shoulder"], J["thorax"]),
    ("left upper arm", J["left_elbow"], J["left_shoulder"]),
    ("right upper arm", J["right_elbow"], J["right_shoulder"]),
    ("left forearm", J["left_wrist"], J["left_elbow"]),
    ("right forearm", J["right_wrist"], J["right_elbow"]),
    ("lower spine", J["spine"], J["pelvis"]),
    ("upper spine", J["thorax"], J["spine"]),
    ("neck", J["neck_nose"], J["thorax"]),
    ("head", J["head"], J["neck_nose"]),
)
BONE_NAMES: tuple[str, ...] = tuple(b[0] for b in BONES)
# paired limbs: (limb, index of the left bone, index of the right bone) in BONES
PAIRS: tuple[tuple[str, int, int], ...] = tuple(
    (name, BONE_NAMES.index(f"left {name}"), BONE_NAMES.index(f"right {name}"))
    for name in ("hip", "thigh", "shin", "shoulder", "upper arm", "forearm"))


def bone_lengths(keypoints3d: np.ndarray) -> np.ndarray:
    """(P, F, 17, 3) metres -> (P, F, 16) bone lengths in metres (order `BONES`), NaN where absent."""
    k = np.asarray(keypoints3d, dtype=np.float64)
    child = np.array([b[1] for b in BONES])
    parent = np.array([b[2] for b in BONES])
    return np.linalg.norm(k[..., child, :] - k[..., parent, :], axis=-1)


def _nan_stat(fn: Callable, x: np.ndarray, axis: int) -> np.ndarray:
    """`fn` (np.nanmean, np.nanstd, ...) without the warning for slices with no finite value (NaN there)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(x, axis=axis)


def bone_cv(lengths: np.ndarray) -> np.ndarray:
    """Coefficient of variation (std / mean, population std) of each bone over time:
    (..., F, B) -> (..., B); NaN for a bone with no finite length."""
    mean = _nan_stat(np.nanmean, lengths, axis=-2)
    std = _nan_stat(np.nanstd, lengths, axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return std / mean


def symmetry_ratios(lengths: np.ndarray) -> np.ndarray:
    """(..., B) bone lengths -> (..., len(PAIRS)) left / right length ratios (1 = symmetric)."""
    left = lengths[..., [p[1] for p in PAIRS]]
    right = lengths[..., [p[2] for p in PAIRS]]
    with np.errstate(invalid="ignore", divide="ignore"):
        return left / right


# --------------------------------------------------------------------------------------- router


@dataclass
class RouterWeights:
    """The routers' expert probabilities recomputed for a results file."""

    probs: np.ndarray  # (P, F, L, 17, E) float32, NaN where absent; sums to 1 over E
    layers: list[tuple[int, str, str]]  # (encoder layer, axis, stream) per L, see posemoe.lifter.router_layers
    checkpoint: Path
    same_checkpoint: bool | None  # sha256 equals the results' recorded one (None: nothing recorded)
    pose_diff_mm: float  # max |recomputed 3D - saved 3D| over present joints, millimetres

    @property
    def experts(self) -> int:
        return int(self.probs.shape[-1])

    def layer_label(self, i: int) -> str:
        layer, axis, stream = self.layers[i]
        return f"L{layer} {axis}"

    def stream_layers(self, stream: str) -> list[int]:
        return [i for i, (_, _, s) in enumerate(self.layers) if s == stream]


def default_checkpoint(results: Results) -> Path | None:
    """The checkpoint recorded in the results' metadata, when that file exists."""
    info = results.checkpoint or {}
    path = info.get("path") if isinstance(info, dict) else None
    return Path(path) if path and Path(path).is_file() else None


def compute_router_weights(results: Results, checkpoint: str | Path, *, device: str | None = None,
                           batch_size: int = 256) -> RouterWeights:
    """Recompute the routers' expert probabilities of every track from the saved 2D keypoints,
    with the video pipeline's own lifting code (same windows, flip and blending)."""
    from pipeline.export import checkpoint_info
    from pipeline.lift import lift_tracks_routed
    from posemoe.checkpoint import load_checkpoint
    from posemoe.lifter import router_layers

    path = Path(checkpoint)
    model, _ = load_checkpoint(path, device=device or "cpu")
    model.eval()
    present = results.present
    pose3d, probs = lift_tracks_routed(model, results.keypoints2d, results.scores2d, present, results.image_size,
                                       batch_size=batch_size, device=device, focal_px=results.focal_px)
    spec = (results.smoothing or {}).get("spec")
    if spec:  # the saved 3D was filtered after lifting: filter the recomputed one the same way
        from posemoe.smoothing import parse_smoothing

        smoothing = parse_smoothing(spec)
        pose3d = np.stack([smoothing.apply(person, results.fps) for person in pose3d]) if len(pose3d) else pose3d
    recorded = (results.checkpoint or {}).get("sha256") if isinstance(results.checkpoint, dict) else None
    same = None if not recorded else (checkpoint_info(path) or {}).get("sha256") == recorded
    diff = np.abs(pose3d - results.keypoints3d)[present]
    diff_mm = float(np.nanmax(diff) * 1000.0) if diff.size and np.isfinite(diff).any() else 0.0
    return RouterWeights(probs=probs, layers=router_layers(model.cfg), checkpoint=path, same_checkpoint=same,
                         pose_diff_mm=diff_mm)


# ------------------------------------------------------------------------------------- summary


def _f(x: Any, digits: int = 4) -> float | None:
    """A JSON-friendly float (None for NaN)."""
    x = float(x)
    return round(x, digits) if np.isfinite(x) else None


def track_order(results: Results) -> list[int]:
    """Track rows, most frames present first (ties: lower id first)."""
    counts = results.present.sum(axis=1)
    return sorted(range(results.num_people), key=lambda p: (-int(counts[p]), int(results.track_ids[p])))


def summarize(results: Results, router: RouterWeights | None = None) -> dict[str, Any]:
    """The key figures (plain JSON types): clip, per-track bone stability, symmetry, confidence,
    and the experts' usage shares."""
    present = results.present
    lengths = bone_lengths(results.keypoints3d)  # (P, F, B)
    cv = bone_cv(lengths)  # (P, B)
    ratios = symmetry_ratios(lengths)  # (P, F, pairs)
    out: dict[str, Any] = {
        "frames": results.num_frames,
        "people": results.num_people,
        "fps": _f(results.fps, 3),
        "duration_s": _f(results.num_frames / results.fps, 3),
        "image_size": list(results.image_size),
        "checkpoint": (results.checkpoint or {}).get("name") if isinstance(results.checkpoint, dict) else None,
        "backend2d": results.backend2d.get("name"),
        "tracks": [],
    }
    for p in track_order(results):
        n = int(present[p].sum())
        scores = results.scores2d[p][present[p]]
        cv_p = cv[p]
        worst = int(np.nanargmax(cv_p)) if np.isfinite(cv_p).any() else None
        with np.errstate(all="ignore"):
            r = ratios[p][present[p]]
            dev = np.array([np.nanmedian(np.abs(np.log(r[:, k]))) if np.isfinite(r[:, k]).any() else np.nan
                            for k in range(len(PAIRS))])
        least_sym = int(np.nanargmax(dev)) if np.isfinite(dev).any() else None
        mean_len = _nan_stat(np.nanmean, lengths[p], axis=0)
        out["tracks"].append({
            "track_id": int(results.track_ids[p]),
            "frames_present": n,
            "first_s": _f(results.time_s[present[p]][0], 3) if n else None,
            "last_s": _f(results.time_s[present[p]][-1], 3) if n else None,
            "mean_confidence2d": _f(scores.mean()) if n else None,
            "mean_bone_cv": _f(np.nanmean(cv_p)) if np.isfinite(cv_p).any() else None,
            "worst_bone": BONE_NAMES[worst] if worst is not None else None,
            "worst_bone_cv": _f(cv_p[worst]) if worst is not None else None,
            "bone_cv": {BONE_NAMES[b]: _f(cv_p[b]) for b in range(len(BONES))},
            "bone_mean_length_m": {BONE_NAMES[b]: _f(mean_len[b]) for b in range(len(BONES))},
            "median_left_right_ratio": {PAIRS[k][0]: _f(np.exp(np.nanmedian(np.log(ratios[p][present[p], k]))))
                                        if np.isfinite(ratios[p][present[p], k]).any() else None
                                        for k in range(len(PAIRS))},
            "least_symmetric_limb": PAIRS[least_sym][0] if least_sym is not None else None,
        })
    if router is not None:
        out["router"] = router_summary(router, present)
    return out


def router_summary(router: RouterWeights, present: np.ndarray) -> dict[str, Any]:
    """Experts' mean shares per stream and per layer, and how decisive the routers are."""
    probs = router.probs[present]  # (N, L, J, E)
    res: dict[str, Any] = {"checkpoint": str(router.checkpoint), "experts": router.experts,
                           "same_checkpoint_as_results": router.same_checkpoint,
                           "max_pose_difference_mm": _f(router.pose_diff_mm, 3), "streams": {}}
    if not len(probs):
        return res
    for stream in ("pose", "depth"):
        idx = router.stream_layers(stream)
        sp = probs[:, idx]  # (N, Ls, J, E)
        share = sp.reshape(-1, router.experts).mean(axis=0)
        per_layer = sp.mean(axis=(0, 2))  # (Ls, E)
        res["streams"][stream] = {
            "expert_share": [_f(s) for s in share],
            "mean_top_probability": _f(sp.max(axis=-1).mean()),
            "per_layer_expert_share": {router.layer_label(i): [_f(s) for s in per_layer[k]]
                                       for k, i in enumerate(idx)},
        }
    return res
