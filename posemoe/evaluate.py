"""Human3.6M evaluation: protocol 1 (MPJPE) and protocol 2 (P-MPJPE), per action.

Conventions (the field's, see the project's architecture note): test subjects S9 and S11, all
four cameras, every frame of every sequence through sliding windows, test-time flip on by
default. Errors are in millimetres on root-relative poses (pelvis subtracted from prediction and
ground truth). An action's figure pools all its frames over subjects, cameras and numbered
repeats ("Directions", "Directions 1"); the headline figure is the mean over the actions.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from posemoe.checkpoint import load_checkpoint
from posemoe.errors import PoseMoEError
from posemoe.camera import H36M_CAMERA_IDS, load_h36m_cameras, normalize_screen, project_to_pixels, world_to_camera
from posemoe.data import TEST_SUBJECTS, action_base_name, load_h36m, load_positions_3d, perturb_keypoints
from posemoe.lifter import lift_normalized, match_channels, uses_view_rotation
from posemoe.skeleton import check_bone_choice, fix_bone_lengths
from posemoe.smoothing import parse_smoothing
from posemoe.view_rotation import screen_focal
from posemoe.virtual_camera import EVAL_CAMERAS, eval_camera
from posemoe.metrics import (accel_error, auc, bone_length_cv, depth_error_per_frame, mpjpe_per_frame, mpjve,
                             n_mpjpe_per_frame, p_mpjpe_per_frame, pck, xy_error_per_frame)

METRICS = ("mpjpe", "p_mpjpe", "n_mpjpe", "xy", "z", "mpjve", "accel", "bone_cv", "pck150", "auc")
LABELS = {"mpjpe": "MPJPE (P1)", "p_mpjpe": "P-MPJPE (P2)", "n_mpjpe": "N-MPJPE", "xy": "x,y error",
          "z": "z error", "mpjve": "MPJVE", "accel": "Accel err", "bone_cv": "Bone CV", "pck150": "PCK@150",
          "auc": "AUC"}
UNITS = {"mpjpe": "mm", "p_mpjpe": "mm", "n_mpjpe": "mm", "xy": "mm (mean over joints of the x,y distance)",
         "z": "mm (mean over joints of |z error|, depth)", "mpjve": "mm/frame",
         "accel": "mm/frame^2 (mean over joints of the acceleration error)",
         "bone_cv": "% (predicted bone lengths: standard deviation / mean over each sequence, mean over bones)",
         "pck150": "%", "auc": "%"}


H36M_FPS = 50.0  # Human3.6M's motion capture and videos: 50 frames per second


@dataclass
class EvalConfig:
    checkpoint: str
    data_3d: str
    data_2d: str | None = None  # detector 2D (pixels) instead of projected ground truth
    cameras: str | None = None  # None = packaged Human3.6M calibration
    subjects: tuple[str, ...] = TEST_SUBJECTS
    flip: bool = True  # test-time flip augmentation
    stride: int | None = None  # window stride; None = the model's window (each frame predicted once)
    batch_size: int = 64
    device: str | None = None
    max_sequences: int | None = None  # evaluate only the first N sequences (quick checks)
    sequence_step: int = 1  # evaluate every K-th sequence (quick checks that still span every action)
    noise_px: float = 0.0  # perturb the 2D input: Gaussian noise, pixels (see data.perturb_keypoints)
    joint_dropout: float = 0.0  # perturb the 2D input: probability of dropping a joint
    noise_seed: int = 0  # the perturbation of sequence i is drawn from default_rng([noise_seed, i])
    look_at_person: bool = True  # camera-invariant models: lift in a camera turned to the person (known intrinsics)
    smooth: str = "none"  # score the 3D after this temporal filter (posemoe.smoothing); "none": the network's output
    bones: str = "free"  # "median": score with each sequence's bones held at their median length

    def __post_init__(self) -> None:
        parse_smoothing(self.smooth)  # a bad spec fails before any work
        check_bone_choice(self.bones)

    def postprocess(self, pred: np.ndarray, fps: float) -> np.ndarray:
        """(T, J, 3) lifted poses after the smoothing and bone lengths asked for (as `posemoe video`)."""
        pred = parse_smoothing(self.smooth).apply(pred, fps)
        return fix_bone_lengths(pred) if self.bones == "median" else pred


def _view(model, ec: "EvalConfig", f_px: float, c_px, size: tuple[int, int]) -> dict:
    """`lift_normalized`'s focal and principal point (screen units) for a camera with focal length
    `f_px` and principal point `c_px` (pixels), or nothing when the view is not turned."""
    if not (ec.look_at_person and uses_view_rotation(model)):
        return {}
    w, h = size
    principal = normalize_screen(np.asarray(c_px, dtype=np.float64), w, h)
    return {"focal": screen_focal(float(f_px), w), "principal": (float(principal[0]), float(principal[1]))}


class _Pool:
    """Accumulates per-frame errors of one action (or of everything)."""

    def __init__(self) -> None:
        self.sums = dict.fromkeys(METRICS, 0.0)
        self.frames = 0
        self.vel_frames = 0
        self.acc_frames = 0

    def add(self, pred_mm: np.ndarray, gt_mm: np.ndarray) -> None:
        n = len(pred_mm)
        self.sums["mpjpe"] += float(mpjpe_per_frame(pred_mm, gt_mm).sum())
        self.sums["p_mpjpe"] += float(p_mpjpe_per_frame(pred_mm, gt_mm).sum())
        self.sums["n_mpjpe"] += float(n_mpjpe_per_frame(pred_mm, gt_mm).sum())
        self.sums["xy"] += float(xy_error_per_frame(pred_mm, gt_mm).sum())
        self.sums["z"] += float(depth_error_per_frame(pred_mm, gt_mm).sum())
        self.sums["pck150"] += pck(pred_mm, gt_mm, 150.0) * n
        self.sums["auc"] += auc(pred_mm, gt_mm, 150.0) * n
        if n >= 2:
            self.sums["mpjve"] += mpjve(pred_mm, gt_mm) * (n - 1)
            self.vel_frames += n - 1
            self.sums["bone_cv"] += bone_length_cv(pred_mm) * n
        if n >= 3:
            self.sums["accel"] += accel_error(pred_mm, gt_mm) * (n - 2)
            self.acc_frames += n - 2
        self.frames += n

    def result(self) -> dict[str, float]:
        out = {k: self.sums[k] / max(self.frames, 1) for k in METRICS if k not in ("mpjve", "accel")}
        out["mpjve"] = self.sums["mpjve"] / max(self.vel_frames, 1)
        out["accel"] = self.sums["accel"] / max(self.acc_frames, 1)
        out["bone_cv"] *= 100.0
        out["pck150"] *= 100.0
        out["auc"] *= 100.0
        return {**{k: round(out[k], 2) for k in METRICS}, "frames": self.frames}


def evaluate(ec: EvalConfig, progress: bool = True) -> dict:
    """Run the evaluation and return the report (per action, average over actions, settings)."""
    device = torch.device(ec.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model, ckpt = load_checkpoint(ec.checkpoint, device=device)
    h36m = load_h36m(ec.data_3d, ec.data_2d, ec.cameras)
    sequences = h36m.sequences(ec.subjects)
    if ec.sequence_step < 1:
        raise PoseMoEError(f"sequence_step: expected an integer >= 1, found {ec.sequence_step}")
    sequences = sequences[:: ec.sequence_step]
    if ec.max_sequences:
        sequences = sequences[: ec.max_sequences]
    want_c = model.cfg.in_channels
    pools: dict[str, _Pool] = {}
    t0 = time.time()
    total_frames = sum(len(s.pose2d) for s in sequences)
    bar = tqdm(total=total_frames, unit="frame", desc="eval", disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    perturbed = ec.noise_px > 0 or ec.joint_dropout > 0
    for i, seq in enumerate(sequences):
        if perturbed:
            # a copy, with the confidence channel riding along so that a dropped joint shows as 0
            x = np.array(match_channels(seq.pose2d, 3), dtype=np.float32)
            perturb_keypoints(x, np.random.default_rng([ec.noise_seed, i]), ec.noise_px, seq.image_size[0],
                              ec.joint_dropout)
            x = match_channels(x, want_c)
        else:
            x = match_channels(seq.pose2d, want_c)
        cam = h36m.cameras[seq.subject][seq.camera]
        pred = lift_normalized(model, x, stride=ec.stride, flip=ec.flip, batch_size=ec.batch_size, device=device,
                               **_view(model, ec, float(np.mean(cam.f)), cam.c, seq.image_size))
        pred = ec.postprocess(pred, H36M_FPS)
        pred_mm = (pred - pred[:, :1]).astype(np.float64) * 1000.0
        gt_mm = (seq.pose3d - seq.pose3d[:, :1]).astype(np.float64) * 1000.0
        pools.setdefault(action_base_name(seq.action), _Pool()).add(pred_mm, gt_mm)
        bar.update(len(x))
    bar.close()
    seconds = time.time() - t0
    per_action = {a: pools[a].result() for a in sorted(pools)}
    average = {k: round(float(np.mean([r[k] for r in per_action.values()])), 2) for k in METRICS}
    return {
        "checkpoint": ec.checkpoint,
        "model": {"config": ckpt["config"], "revision": ckpt.get("train", {}).get("revision")},
        "settings": {**asdict(ec), "subjects": list(ec.subjects), "cameras_used": sorted({s.camera for s in sequences}),
                     "two_d": _describe_2d(ec),
                     "stride": ec.stride or model.frames, "window": model.frames},
        "units": UNITS,
        "per_action": per_action,
        "average_over_actions": average,
        "sequences": len(sequences),
        "frames": total_frames,
        "seconds": round(seconds, 1),
        "frames_per_s": round(total_frames / max(seconds, 1e-9), 1),
    }


def _test_motion(data_3d: str, subjects: tuple[str, ...], step: int) -> list[tuple[str, str, np.ndarray]]:
    """(subject, action, world poses) of every `step`-th test sequence, in a fixed order."""
    if step < 1:
        raise PoseMoEError(f"sequence_step: expected an integer >= 1, found {step}")
    poses = load_positions_3d(data_3d)
    seqs = [(s, a, poses[s][a]) for s in subjects if s in poses for a in sorted(poses[s])]
    if not seqs:
        raise PoseMoEError(f"{data_3d}: no sequences for subjects {list(subjects)}; the file holds {sorted(poses)}")
    return seqs[::step]


def evaluate_cameras(ec: EvalConfig, camera_names: tuple[str, ...] | None = None, progress: bool = True) -> dict:
    """The camera-invariance table: the same test motion (every `ec.sequence_step`-th sequence of
    `ec.subjects`) filmed by one of Human3.6M's cameras (the reference row "h36m", camera
    i mod 4 for the i-th sequence) and by each camera of `posemoe.virtual_camera.EVAL_CAMERAS`
    (all, or those named), with exact 2D. Errors pool every frame of a camera's row; `ratio` is
    a row's MPJPE over the reference row's."""
    device = torch.device(ec.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model, ckpt = load_checkpoint(ec.checkpoint, device=device)
    cams = load_h36m_cameras(ec.cameras)
    specs = list(EVAL_CAMERAS)
    if camera_names:
        unknown = sorted(set(camera_names) - {s.name for s in specs})
        if unknown:
            raise PoseMoEError(f"cameras {unknown}: expected names from {[s.name for s in specs]}")
        specs = [s for s in specs if s.name in camera_names]
    seqs = _test_motion(ec.data_3d, ec.subjects, ec.sequence_step)
    want_c = model.cfg.in_channels
    rows: dict[str, dict] = {}
    total = sum(len(w) for _, _, w in seqs) * (1 + len(specs))
    bar = tqdm(total=total, unit="frame", desc="cameras", disable=not progress, file=sys.stderr, dynamic_ncols=True)
    t0 = time.time()
    for name in ["h36m", *[s.name for s in specs]]:
        pool = _Pool()
        outside = []
        for i, (subject, _action, world) in enumerate(seqs):
            world = np.asarray(world, dtype=np.float64)
            if name == "h36m":
                cam = cams[subject][H36M_CAMERA_IDS[i % len(H36M_CAMERA_IDS)]]
                pose_cam = world_to_camera(world, cam)
                px = project_to_pixels(pose_cam, cam)
                size = (cam.res_w, cam.res_h)
                view = _view(model, ec, float(np.mean(cam.f)), cam.c, size)
            else:
                vc = eval_camera(next(s for s in specs if s.name == name), world[:, 0].mean(axis=0), i)
                pose_cam = vc.world_to_camera(world)
                px = vc.project(pose_cam)
                size = (vc.res_w, vc.res_h)
                view = _view(model, ec, vc.f, vc.c, size)
            outside.append(float(np.mean((px[..., 0] < 0) | (px[..., 0] >= size[0]) | (px[..., 1] < 0)
                                         | (px[..., 1] >= size[1]))))
            x = match_channels(normalize_screen(px, *size).astype(np.float32), want_c)
            pred = lift_normalized(model, x, stride=ec.stride, flip=ec.flip, batch_size=ec.batch_size, device=device,
                                   **view)
            pred = ec.postprocess(pred, H36M_FPS)
            pred_mm = (pred - pred[:, :1]).astype(np.float64) * 1000.0
            gt_mm = (pose_cam - pose_cam[:, :1]) * 1000.0
            pool.add(pred_mm, gt_mm)
            bar.update(len(world))
        rows[name] = {**pool.result(), "joints_outside_frame_pct": round(100.0 * float(np.mean(outside)), 2)}
    bar.close()
    ref = rows["h36m"]["mpjpe"]
    for r in rows.values():
        r["ratio"] = round(r["mpjpe"] / max(ref, 1e-9), 3)
    virtual = [rows[s.name] for s in specs]
    return {
        "checkpoint": ec.checkpoint,
        "settings": {"subjects": list(ec.subjects), "sequence_step": ec.sequence_step, "sequences": len(seqs),
                     "flip": ec.flip, "stride": ec.stride or model.frames, "window": model.frames,
                     "look_at_person": bool(ec.look_at_person and uses_view_rotation(model)),
                     "two_d": "exact projection through each camera"},
        "cameras": {"h36m": "Human3.6M's own cameras (camera i mod 4 for the i-th sequence)",
                    **{s.name: s.description for s in specs}},
        "units": UNITS,
        "rows": rows,
        "worst_virtual_ratio": round(max(r["ratio"] for r in virtual), 3) if virtual else None,
        "seconds": round(time.time() - t0, 1),
    }


def format_camera_table(report: dict, markdown: bool = False) -> str:
    """The camera-invariance report as a table, one row per camera."""
    keys = ("mpjpe", "p_mpjpe", "mpjve", "accel", "bone_cv")
    rows = report["rows"]
    if markdown:
        lines = ["| camera | " + " | ".join(LABELS[k] for k in keys) + " | / h36m | joints outside frame % |",
                 "|---|" + "---:|" * (len(keys) + 2)]
        for name, r in rows.items():
            lines.append(f"| {name} | " + " | ".join(f"{r[k]:.2f}" for k in keys)
                         + f" | {r['ratio']:.2f}x | {r['joints_outside_frame_pct']:.1f} |")
    else:
        head = f"{'camera':<15}" + "".join(f"{LABELS[k]:>14}" for k in keys) + f"{'/ h36m':>9}"
        lines = [head, "-" * len(head)]
        for name, r in rows.items():
            lines.append(f"{name:<15}" + "".join(f"{r[k]:>14.2f}" for k in keys) + f"{r['ratio']:>8.2f}x")
    s = report["settings"]
    lines.append(f"worst virtual camera / Human3.6M camera: {report['worst_virtual_ratio']:.2f}x; every "
                 f"{s['sequence_step']}th sequence of {','.join(s['subjects'])} ({s['sequences']} sequences), "
                 f"window {s['window']}, flip {'on' if s['flip'] else 'off'}; {report['seconds']} s")
    if not markdown:
        lines += [f"  {name}: {desc}" for name, desc in report["cameras"].items()]
    return "\n".join(lines)


def _describe_2d(ec: EvalConfig) -> str:
    two_d = "detections" if ec.data_2d else "ground truth projected through the cameras"
    if ec.smooth != "none" or ec.bones != "free":
        two_d += f"; 3D smoothed with {ec.smooth}, bones {ec.bones}"
    if ec.noise_px > 0 or ec.joint_dropout > 0:
        two_d += (f", perturbed: Gaussian noise {ec.noise_px:g} px per coordinate, joint dropout "
                  f"{ec.joint_dropout:g}, seed {ec.noise_seed}")
    return two_d


def format_table(report: dict) -> str:
    """The report as a fixed-width table, actions as rows."""
    # reports written before the x,y / z split lack those columns
    avail = [k for k in METRICS if k in report["average_over_actions"]]
    head = f"{'action':<14}" + "".join(f"{LABELS[k]:>14}" for k in avail) + f"{'frames':>9}"
    lines = [head, "-" * len(head)]
    for action, r in report["per_action"].items():
        lines.append(f"{action:<14}" + "".join(f"{r[k]:>14.2f}" for k in avail) + f"{r['frames']:>9}")
    lines.append("-" * len(head))
    avg = report["average_over_actions"]
    lines.append(f"{'average':<14}" + "".join(f"{avg[k]:>14.2f}" for k in avail) + f"{report['frames']:>9}")
    s = report["settings"]
    lines.append(f"mm (PCK, AUC in %); subjects {','.join(s['subjects'])}; cameras {len(s['cameras_used'])}; "
                 f"window {s['window']}, stride {s['stride']}; flip {'on' if s['flip'] else 'off'}; "
                 f"2D: {s['two_d']}; {report['frames']} frames in {report['seconds']} s")
    return "\n".join(lines)


def format_markdown(report: dict) -> str:
    """The per-action table of a report as Markdown (the model card's format)."""
    avail = [k for k in METRICS if k in report["average_over_actions"]]
    lines = ["| action | " + " | ".join(LABELS[k] for k in avail) + " |",
             "|---|" + "---:|" * len(avail)]
    for action, r in report["per_action"].items():
        lines.append(f"| {action} | " + " | ".join(f"{r[k]:.2f}" for k in avail) + " |")
    avg = report["average_over_actions"]
    lines.append("| **average** | " + " | ".join(f"**{avg[k]:.2f}**" for k in avail) + " |")
    return "\n".join(lines)


def read_report(path: str | Path) -> dict:
    """Load a report written by `write_json` (`posemoe eval --json`), checked."""
    path = Path(path)
    if not path.is_file():
        raise PoseMoEError(f"{path}: eval report not found; write one with `posemoe eval CKPT --json {path}`")
    try:
        report = json.loads(path.read_text())
        report["average_over_actions"]["mpjpe"], report["per_action"], report["settings"]["two_d"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise PoseMoEError(f"{path}: expected a `posemoe eval --json` report, found {type(e).__name__}: {e}") from None
    return report


def compare_markdown(reports: list[dict], labels: list[str]) -> str:
    """Average-over-actions figures of several reports side by side, one row per report, with
    each row's MPJPE difference to the first row."""
    avail = [k for k in METRICS if all(k in r["average_over_actions"] for r in reports)]
    lines = ["| model | 2D input | " + " | ".join(LABELS[k] for k in avail) + " | Δ MPJPE |",
             "|---|---|" + "---:|" * (len(avail) + 1)]
    ref = reports[0]["average_over_actions"]["mpjpe"]
    for label, r in zip(labels, reports):
        avg = r["average_over_actions"]
        two_d = r["settings"]["two_d"].replace("ground truth projected through the cameras", "GT projected")
        lines.append(f"| {label} | {two_d} | " + " | ".join(f"{avg[k]:.2f}" for k in avail)
                     + f" | {avg['mpjpe'] - ref:+.2f} |")
    return "\n".join(lines)


def write_json(report: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2))
    os.replace(tmp, path)
    return path
