"""Jitter against lag and accuracy for the temporal smoothing filters of ``posemoe.smoothing``.

    python examples/smoothing_tradeoff.py --walk WALK.npz [CLIP.npz ...] \\
        [--truth examples/synthetic_walk_truth.npz] [--write docs/smoothing.md] [--figure PNG]

The inputs are results files of ``posemoe video`` holding the lifter's own 3D: not smoothed and
with the bone lengths as lifted (the pipeline smooths first and then fixes each person's bone
lengths), so that every filter is applied here to the poses the smoothing gets:

    posemoe video examples/synthetic_walk.mp4 --smooth none --bones free --save /tmp/smooth/walk.npz -q
    posemoe video tennis.mp4 --smooth none --bones free --save /tmp/smooth/tennis.npz -q   # one per clip

A file whose metadata says it was smoothed or had its bones fixed is refused (files written
before these options existed hold the raw output and are accepted). Each setting of a grid (no
smoothing, Gaussian, Savitzky-Golay and zero-phase Butterworth at a few widths, and a
one-directional (causal) Butterworth as a reference for what lag looks like) is applied to every
track, and:

Synthetic walk (``--walk``, with its exact 3D truth ``--truth``, from
``examples/make_synthetic_clip.py``; the track seen on the most frames is used):

- MPJPE and P-MPJPE to the true root-relative joints, mm;
- jitter: mean acceleration magnitude of the output, mm/frame^2 (second difference over three
  consecutive present frames, the 16 joints other than the pelvis, root-relative);
- acceleration error: mean distance between the output's and the truth's accelerations;
- lag against the truth (frames and ms) and against the raw output (frames): the time shift k
  that maximises the cross-correlation sum_t v(t) . v_ref(t - k) of the joint velocities
  (central differences), to a fraction of a frame by a parabola through the best shift and its
  neighbours (positive: the output is late);
- the frequency at which the filter's gain falls to one half (from its impulse response);
- the filter on the true motion (the filter applied to the truth itself, which isolates what it
  does to real movement from the lifter's errors): the error it adds, and the peak speed of
  the waving right wrist (from 1 s to 0.25 s before the clip's end) as a percentage of the
  true peak speed.

Real clips (positional files, no truth): jitter, jitter as a percentage of the raw output's,
mean deviation from the raw output (mm), lag against the raw output (frames), and the median
over tracks of the bone-length coefficient of variation (std / mean of each bone's length over
the track, averaged over the 16 bones). Only tracks seen on at least ``--min-frames`` (25)
frames count; jitter and deviation are pooled over their frames.

Prints a Markdown table per clip; ``--write`` writes the documentation page with the tables,
``--figure`` a PNG (jitter against MPJPE on the walk; jitter on the real clips against the
wrist speed kept). The recommended setting is picked by the rule in :func:`recommend` (stated
on the page too) and compared with ``posemoe.smoothing.DEFAULT_SMOOTHING``.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from scipy.signal import butter, sosfilt, sosfilt_zi

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from pipeline.export import Results, load_results  # noqa: E402
from posemoe.errors import PoseMoEError  # noqa: E402
from posemoe.metrics import bone_length_cv, mpjpe, p_mpjpe  # noqa: E402
from posemoe import smoothing as sm  # noqa: E402
from posemoe.smoothing import DEFAULT_SMOOTHING, finite_segments, parse_smoothing  # noqa: E402

GRID: tuple[str, ...] = (
    "none",
    "gaussian:0.02", "gaussian:0.04", "gaussian:0.06", "gaussian:0.08", "gaussian:0.12",
    "savgol:0.2,2", "savgol:0.3,2", "savgol:0.5,2", "savgol:0.7,2",
    "butter:8,2", "butter:6,2", "butter:4,2", "butter:3,2", "butter:2,2",
)
CAUSAL = "causal-butter:6,2"  # reference only: sosfilt, forwards in time
RIGHT_WRIST = 16
WAVE_S = (1.0, 0.25)  # the wave: from 1 s to 0.25 s before the clip's end (away from the end itself)
MAX_LAG = 8  # frames searched either way for the lag
MIN_FRAMES = 25
MPJPE_BUDGET_MM = 1.0
LAG_BUDGET_FRAMES = 0.25
WRIST_KEEP_PCT = 90.0

RAW_FLAGS = "--smooth none --bones free"  # posemoe video: the lifter's own 3D, as the smoothing gets it

Filter = Callable[[np.ndarray, float], np.ndarray]


# ------------------------------------------------------------------------------------ filters


def causal_butter(cutoff_hz: float, order: int) -> Filter:
    """A one-directional Butterworth low-pass (``scipy.signal.sosfilt``), started in steady state
    on each segment's first frame; NaN gaps split the series as in ``posemoe.smoothing``."""

    def run(x: np.ndarray, fps: float) -> np.ndarray:
        out = np.array(x, dtype=np.float64, copy=True)
        flat = out.reshape(out.shape[0], -1)
        if cutoff_hz >= fps / 2.0:
            return out
        sos = butter(order, cutoff_hz, btype="lowpass", output="sos", fs=fps)
        for s, e in finite_segments(x):
            seg = flat[s:e].copy()
            zi = sosfilt_zi(sos)[:, :, None] * seg[0][None, None, :]
            flat[s:e] = sosfilt(sos, seg, axis=0, zi=zi)[0]
        return out

    return run


def make_filter(name: str) -> Filter:
    """The filter of a grid entry: a ``--smooth`` spec, or ``causal-butter:CUTOFF,ORDER``."""
    if name.startswith("causal-butter:"):
        cutoff, order = name.split(":", 1)[1].split(",")
        return causal_butter(float(cutoff), int(order))
    return parse_smoothing(name).apply


# ------------------------------------------------------------------------------------ metrics


def present_mask(x: np.ndarray) -> np.ndarray:
    """(F,) True where a (F, J, 3) pose is all finite."""
    return np.isfinite(x).all(axis=(1, 2))


def accelerations(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Second differences (F-2, J-1, 3) of the non-root joints and the mask of frames whose three
    consecutive frames are present."""
    acc = x[2:, 1:] - 2.0 * x[1:-1, 1:] + x[:-2, 1:]
    ok = np.isfinite(acc).all(axis=(1, 2))
    return acc, ok


def jitter_sum(x: np.ndarray) -> tuple[float, int]:
    """(sum of acceleration magnitudes in mm/frame^2 over joints and frames, count)."""
    acc, ok = accelerations(x)
    mag = np.linalg.norm(acc[ok], axis=-1) * 1000.0
    return float(mag.sum()), int(mag.size)


def xcorr_lag(pairs: Sequence[tuple[np.ndarray, np.ndarray]], max_lag: int = MAX_LAG) -> float:
    """Lag in frames of ``y`` behind ``ref`` (positive: ``y`` is late), pooled over ``(y, ref)``
    pairs of (F, J, 3) poses: the shift k maximising the cross-correlation
    sum_t v_y[t] . v_ref[t - k] of the joint velocities (first differences of the non-root
    joints; pairs with a missing frame skipped), normalised by the total energies
    sqrt(sum |v_y|^2 sum |v_ref|^2) (the same for every k, so the curve of a symmetric filter stays
    symmetric), refined by a parabola through the best k and its neighbours."""
    shifts = np.arange(-max_lag, max_lag + 1)
    num = np.zeros(len(shifts))
    e_y = e_r = 0.0
    for y, ref in pairs:
        vy = (y[2:, 1:] - y[:-2, 1:]).reshape(len(y) - 2, -1)
        vr = (ref[2:, 1:] - ref[:-2, 1:]).reshape(len(ref) - 2, -1)
        e_y += float(np.nansum(vy[np.isfinite(vy).all(axis=1)] ** 2))
        e_r += float(np.nansum(vr[np.isfinite(vr).all(axis=1)] ** 2))
        n = len(vy)
        for i, k in enumerate(shifts):
            a = vy[max(k, 0):n + min(k, 0)]  # y at t
            b = vr[max(-k, 0):n - max(k, 0)]  # ref at t - k
            ok = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
            num[i] += float((a[ok] * b[ok]).sum())
    c = num / math.sqrt(max(e_y * e_r, 1e-30))
    i = int(np.argmax(c))
    frac = 0.0
    if 0 < i < len(c) - 1:
        den = c[i - 1] - 2.0 * c[i] + c[i + 1]
        frac = 0.5 * (c[i - 1] - c[i + 1]) / den if den < 0 else 0.0
    return float(shifts[i] + frac)


def wrist_peak_speed(x: np.ndarray, first: int, stop: int) -> float:
    """Largest speed (mm/frame) of the right wrist, root-relative, over frames [first, stop)."""
    v = np.linalg.norm(np.diff(x[first:stop, RIGHT_WRIST], axis=0), axis=-1) * 1000.0
    return float(np.nanmax(v))


def half_gain_hz(f: Filter, fps: float, n: int = 4001) -> float:
    """The lowest frequency (Hz) at which the filter's gain falls to one half: its response to a
    unit impulse in the middle of ``n`` frames, Fourier transformed."""
    x = np.zeros((n, 1))
    x[n // 2] = 1.0
    gain = np.abs(np.fft.rfft(f(x, fps)[:, 0]))
    freq = np.fft.rfftfreq(n, d=1.0 / fps)
    below = np.flatnonzero(gain < 0.5)
    if len(below) == 0:
        return float("nan")
    i = int(below[0])
    return float(np.interp(0.5, [gain[i], gain[i - 1]], [freq[i], freq[i - 1]]))


# ------------------------------------------------------------------------------------ inputs


def load_raw(path: str | Path) -> Results:
    """Load a results file and make sure its 3D poses are the lifter's own: not smoothed, and
    with the bone lengths as lifted (the pipeline smooths before it fixes the bone lengths)."""
    res = load_results(path)
    sm = getattr(res, "smoothing", None)
    spec = sm.get("spec", sm.get("kind")) if isinstance(sm, dict) else sm
    bones = res.extra.get("bones", "free") if isinstance(res.extra, dict) else "free"
    if spec not in (None, "none") or bones != "free":
        what = f"smoothed ({spec})" if spec not in (None, "none") else f"given fixed bone lengths (--bones {bones})"
        raise PoseMoEError(f"{path}: its 3D poses were {what}; this measurement needs the lifter's raw output: "
                           f"rerun posemoe video with {RAW_FLAGS}")
    return res


def tracks(res: Results, min_frames: int) -> list[np.ndarray]:
    """The (F, 17, 3) float64 3D poses of every track seen on at least ``min_frames`` frames."""
    out = []
    for p in range(len(res.track_ids)):
        k3 = np.asarray(res.keypoints3d[p], dtype=np.float64)
        if present_mask(k3).sum() >= min_frames:
            out.append(k3)
    return out


# ------------------------------------------------------------------------------------ tables


@dataclass
class Table:
    """One clip's figures: a title, a description line, column headers and rows."""

    title: str
    note: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    values: dict[str, dict[str, float]] = field(default_factory=dict)  # setting -> metric -> value
    extra: dict[str, float] = field(default_factory=dict)  # figures of the clip itself

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", self.note, "",
                 "| " + " | ".join(self.header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(self.header) - 1)) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(lines)


def label(name: str) -> str:
    if name == "none":
        return "none (raw)"
    if name.startswith("causal-butter:"):
        return f"`butter:{name.split(':', 1)[1]}` one-directional (reference)"
    return f"`{name}`"


def walk_table(walk_path: str, truth_path: str, grid: Sequence[str]) -> Table:
    """Figures for the synthetic walk against its 3D truth."""
    res = load_raw(walk_path)
    truth_npz = np.load(truth_path)
    truth = truth_npz["keypoints3d_camera"].astype(np.float64)
    truth = truth - truth[:, :1]
    if len(res.track_ids) == 0:
        raise PoseMoEError(f"{walk_path}: nobody was tracked; expected the synthetic walker")
    best = int(np.argmax(res.present.sum(axis=1)))
    raw = np.asarray(res.keypoints3d[best], dtype=np.float64)
    if raw.shape != truth.shape:
        raise PoseMoEError(f"{walk_path}: 3D poses of shape {raw.shape} do not match the truth {truth.shape}; "
                           f"pass the results of examples/synthetic_walk.mp4")
    fps = float(res.fps)
    ok = present_mask(raw)
    wave = (len(truth) - int(round(WAVE_S[0] * fps)), len(truth) - int(round(WAVE_S[1] * fps)))
    true_peak = wrist_peak_speed(truth, *wave)
    t_jit, t_n = jitter_sum(truth)
    table = Table(
        title=f"Synthetic walk (`examples/synthetic_walk.mp4`, {len(raw)} frames at {fps:g} fps, with 3D truth)",
        note=(f"The true motion itself has a jitter of {t_jit / t_n:.1f} mm/frame² (its real accelerations). "
              f"Lag 1 frame = {1000.0 / fps:.0f} ms. The last two columns apply each filter to the true motion."),
        header=["setting", "MPJPE (mm)", "P-MPJPE (mm)", "jitter (mm/frame²)", "accel. error (mm/frame²)",
                "lag vs truth (frames / ms)", "lag vs raw (frames)", "halves motion at (Hz)",
                "true motion: error added (mm)", "true motion: wrist peak speed (%)"],
        extra={"truth_jitter": t_jit / t_n, "fps": fps},
    )
    for name in grid:
        f = make_filter(name)
        y = f(raw, fps)
        yt = f(truth, fps)
        acc_y, ok_y = accelerations(y)
        acc_t, _ = accelerations(truth)
        acc_err = float(np.linalg.norm(acc_y[ok_y] - acc_t[ok_y], axis=-1).mean() * 1000.0)
        j_sum, j_n = jitter_sum(y)
        lag = xcorr_lag([(y, truth)])
        lag_raw = xcorr_lag([(y, raw)])
        half = half_gain_hz(f, fps)
        v = {
            "mpjpe": mpjpe(y[ok] * 1000.0, truth[ok] * 1000.0),
            "p_mpjpe": p_mpjpe(y[ok] * 1000.0, truth[ok] * 1000.0),
            "jitter": j_sum / j_n,
            "accel_err": acc_err,
            "lag": lag,
            "lag_raw": lag_raw,
            "half_gain_hz": half,
            "truth_mpjpe": mpjpe(yt * 1000.0, truth * 1000.0),
            "wrist_pct": 100.0 * wrist_peak_speed(yt, *wave) / true_peak,
        }
        table.values[name] = v
        table.rows.append([label(name), f"{v['mpjpe']:.1f}", f"{v['p_mpjpe']:.1f}", f"{v['jitter']:.1f}",
                           f"{v['accel_err']:.1f}", f"{lag:+.2f} / {lag * 1000.0 / fps:+.0f}", f"{lag_raw:+.2f}",
                           f"> {fps / 2:g}" if not math.isfinite(half) else f"{half:.1f}", f"{v['truth_mpjpe']:.1f}",
                           f"{v['wrist_pct']:.0f}"])
    return table


def clip_table(path: str, grid: Sequence[str], min_frames: int) -> Table:
    """Figures for a real clip against its own raw output."""
    res = load_raw(path)
    fps = float(res.fps)
    raws = tracks(res, min_frames)
    name = Path(path).stem
    src = res.extra.get("input") if isinstance(res.extra, dict) else None
    src_name = Path(str(src)).name if src else f"{name}"
    n_frames = sum(int(present_mask(r).sum()) for r in raws)
    table = Table(
        title=f"{src_name} ({len(res.frame_index)} frames at {fps:.2f} fps; "
              f"{len(raws)} track{'s' if len(raws) != 1 else ''} of ≥ {min_frames} frames, {n_frames} poses)",
        note=f"No truth: the filters are compared with the raw output. Lag 1 frame = {1000.0 / fps:.0f} ms.",
        header=["setting", "jitter (mm/frame²)", "jitter vs raw (%)", "deviation from raw (mm)",
                "lag vs raw (frames)", "bone-length CV (median over tracks)"],
    )
    if not raws:
        table.note = f"No track was seen on {min_frames} frames or more; nothing to measure."
        return table
    raw_jit = None
    for setting in grid:
        f = make_filter(setting)
        ys = [f(r, fps) for r in raws]
        j = [jitter_sum(y) for y in ys]
        jit = sum(s for s, _ in j) / max(sum(n for _, n in j), 1)
        raw_jit = jit if raw_jit is None else raw_jit
        dev = np.concatenate([np.linalg.norm(y[present_mask(r)][:, 1:] - r[present_mask(r)][:, 1:], axis=-1).ravel()
                              for y, r in zip(ys, raws)]).mean() * 1000.0
        lag = xcorr_lag(list(zip(ys, raws)))
        cv = float(np.median([bone_length_cv(y) for y in ys]))
        table.values[setting] = {"jitter": jit, "jitter_pct": 100.0 * jit / raw_jit, "dev": float(dev),
                                 "lag": lag, "bone_cv": cv}
        table.rows.append([label(setting), f"{jit:.1f}", f"{100.0 * jit / raw_jit:.0f}", f"{dev:.1f}",
                           f"{lag:+.2f}", f"{cv:.3f}"])
    idle = [label(n) for n, v in table.values.items() if n != "none" and v["dev"] < 0.05]
    if idle:
        table.note += (f" At {fps:g} fps {', '.join(idle)} change nothing: a kernel narrower than one frame, or a "
                       f"cutoff at or above half the frame rate ({fps / 2:g} Hz).")
    return table


def recommend(walk: Table, clips: Sequence[Table]) -> tuple[str, list[str]]:
    """The recommended setting and the settings that passed the walk's budgets.

    Passing: zero-phase, MPJPE on the walk at most ``MPJPE_BUDGET_MM`` above the raw output's,
    lag against the raw output within ``LAG_BUDGET_FRAMES``, and at least ``WRIST_KEEP_PCT`` of
    the waving wrist's true peak speed kept. Of those, the one with the least jitter on the real
    clips (the mean over the clips of the jitter as a share of the raw output's; the walk's
    jitter when no clip is given), ties to the one adding less error to the true motion. Falls
    back to ``none`` when nothing passes."""
    raw = walk.values["none"]
    passed = []
    for name, v in walk.values.items():
        if name == "none" or name.startswith("causal"):
            continue
        if (v["mpjpe"] <= raw["mpjpe"] + MPJPE_BUDGET_MM and abs(v["lag_raw"]) <= LAG_BUDGET_FRAMES
                and v["wrist_pct"] >= WRIST_KEEP_PCT):
            passed.append(name)
    if not passed:
        return "none", []

    def jitter(name: str) -> float:
        pct = [t.values[name]["jitter_pct"] for t in clips if name in t.values]
        return float(np.mean(pct)) if pct else 100.0 * walk.values[name]["jitter"] / raw["jitter"]

    return min(passed, key=lambda n: (round(jitter(n), 6), walk.values[n]["truth_mpjpe"])), passed


def mean_clip_jitter_pct(clips: Sequence[Table], name: str) -> float:
    """The mean over the real clips of a setting's jitter as a share of the raw output's (%)."""
    pct = [t.values[name]["jitter_pct"] for t in clips if name in t.values]
    return float(np.mean(pct)) if pct else float("nan")


# ------------------------------------------------------------------------------------ output


def figure(walk: Table, clips: list[Table], path: str, choice: str) -> None:
    """Two panels: walk MPJPE against jitter; jitter kept on the real clips against the wrist
    peak speed the filter keeps on the true motion. ``choice`` is ringed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"none": "black", "gaussian": "tab:blue", "savgol": "tab:orange", "butter": "tab:green",
              "causal-butter": "tab:red"}
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.6), dpi=90)
    for name, v in walk.values.items():
        fam = name.split(":")[0]
        c = colors.get(fam, "gray")
        axes[0].scatter(v["jitter"], v["mpjpe"], color=c, s=22)
        axes[0].annotate(name.split(":")[-1] if fam != "none" else "raw", (v["jitter"], v["mpjpe"]),
                         fontsize=6, xytext=(3, 2), textcoords="offset points")
        pct = [t.values[name]["jitter_pct"] for t in clips if name in t.values]
        if pct:
            axes[1].scatter(np.mean(pct), v["wrist_pct"], color=c, s=22)
            axes[1].annotate(name.split(":")[-1] if fam != "none" else "raw", (np.mean(pct), v["wrist_pct"]),
                             fontsize=6, xytext=(3, 2), textcoords="offset points")
        if name == choice:
            axes[0].scatter(v["jitter"], v["mpjpe"], s=110, facecolors="none", edgecolors="black", linewidths=1.0)
            if pct:
                axes[1].scatter(np.mean(pct), v["wrist_pct"], s=110, facecolors="none", edgecolors="black",
                                linewidths=1.0, label=f"default ({choice})")
    for fam, c in colors.items():
        axes[0].scatter([], [], color=c, label=fam if fam != "causal-butter" else "butter, one-directional")
    axes[0].legend(fontsize=7, frameon=False)
    if clips:
        axes[1].legend(fontsize=7, frameon=False, loc="lower right")
    axes[0].set_title("synthetic walk (labels: the parameters)", fontsize=8)
    axes[1].set_title("jitter on real clips against blur of the true walk", fontsize=8)
    axes[0].set_xlabel("jitter on the synthetic walk (mm/frame²)")
    axes[0].set_ylabel("MPJPE to the truth (mm)")
    axes[1].set_xlabel("jitter kept on the real clips (% of raw, mean)")
    axes[1].set_ylabel("true wrist peak speed kept (%)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
        ax.xaxis.label.set_size(8)
        ax.yaxis.label.set_size(8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def page(walk: Table, clips: list[Table], choice: str, passed: list[str], args: argparse.Namespace) -> str:
    """The documentation page (Markdown)."""
    w = walk.values
    raw, ch = w["none"], w.get(choice, w["none"])
    clip_lines = []
    for t in clips:
        if choice in t.values:
            v = t.values[choice]
            clip_lines.append(f"  - {t.title.split(' (')[0]}: jitter {t.values['none']['jitter']:.1f} → "
                              f"{v['jitter']:.1f} mm/frame² ({v['jitter_pct']:.0f} % of raw), {v['dev']:.1f} mm from "
                              f"the raw poses on average, lag {v['lag']:+.2f} frames")
    causal = next((n for n in w if n.startswith("causal")), None)
    twin = causal.replace("causal-", "") if causal else None
    causal_note = (f"The one-directional `{twin}` is late by {w[causal]['lag_raw']:.2f} frames against the raw "
                   f"output ({w[causal]['lag_raw'] * 1000.0 / walk.extra['fps']:.0f} ms) and adds "
                   f"{w[causal]['truth_mpjpe']:.1f} mm of error to the true motion, where the zero-phase `{twin}` adds "
                   f"{w[twin]['truth_mpjpe']:.1f} mm." if causal and twin in w else "")
    noisy = [f"`{n}` on {t.title.split(' (')[0]} ({t.values[n]['lag']:+.2f})" for t in clips for n in t.values
             if not n.startswith("causal") and abs(t.values[n]["lag"]) > LAG_BUDGET_FRAMES]
    noisy_note = (f"The lag read against the raw output of a real clip is noisy on short tracks with little "
                  f"movement: {', '.join(noisy)} frames. These filters are symmetric in time (on the synthetic "
                  f"walk every one of them reads within {max(abs(v['lag_raw']) for n, v in w.items() if not n.startswith('causal')):.2f} "
                  f"frames of the raw output), so this is the estimate's scatter, not a delay.\n" if noisy else "")
    fig_line = (f"\n![Jitter against accuracy and blur]({Path(args.figure).name})\n" if args.figure else "")
    same = str(parse_smoothing(DEFAULT_SMOOTHING)) == str(parse_smoothing(choice))
    default_note = (f"The shipped default, `posemoe.smoothing.DEFAULT_SMOOTHING = \"{DEFAULT_SMOOTHING}\"`, is this "
                    f"setting." if same else
                    f"Note: the shipped default `posemoe.smoothing.DEFAULT_SMOOTHING = \"{DEFAULT_SMOOTHING}\"` "
                    f"differs from the setting measured best here, `{choice}`.")
    clip_args = " ".join(f"/tmp/smooth/{Path(p).stem}.npz" for p in args.clips)
    return f"""# Temporal smoothing of the 3D poses

Generated by `python examples/smoothing_tradeoff.py` (the commands are below); do not edit by hand.

`posemoe video` lifts every frame's 2D keypoints to 3D, and the lifted joints shake a little from
frame to frame. `--smooth SPEC` smooths each person's 3D track over time before it is drawn and
saved (`posemoe.smoothing`; default `{DEFAULT_SMOOTHING}`, `--smooth none` turns it off; the filter
used is recorded in the results file). The filters are SciPy's:

| spec | filter | parameters |
|---|---|---|
| `none` | no smoothing | |
| `gaussian[:SIGMA_S]` | Gaussian-weighted moving average (`scipy.ndimage.gaussian_filter1d`) | SIGMA_S: standard deviation in seconds (default {sm.DEFAULT_SIGMA_S:g}) |
| `savgol[:WINDOW_S[,ORDER]]` | Savitzky-Golay polynomial fit (`scipy.signal.savgol_filter`) | WINDOW_S: window in seconds, first to last frame (default {sm.DEFAULT_WINDOW_S:g}); ORDER: polynomial degree (default {sm.DEFAULT_SAVGOL_ORDER}) |
| `butter[:CUTOFF_HZ[,ORDER]]` | Butterworth low-pass run forwards and backwards (`scipy.signal.sosfiltfilt`) | CUTOFF_HZ: cutoff in Hz (default {sm.DEFAULT_CUTOFF_HZ:g}); ORDER: filter order (default {sm.DEFAULT_BUTTER_ORDER}) |

All of them are symmetric in time (zero-phase), so they do not delay the motion, and their
parameters are in seconds or Hz, so a spec means the same on a 25 fps and a 60 fps video. A gap
where a person is not seen splits the track; each part is smoothed on its own and the missing
frames stay missing. Parts shorter than the filter get a shorter filter, and very short parts are
left as they are; see the docstring of `posemoe/smoothing.py`.

## What is measured

Each setting below is applied to the same raw output of `posemoe video`: the lifter's own 3D,
unsmoothed and with the bone lengths as lifted (`{RAW_FLAGS}`; by default the pipeline
smooths this and then sets each person's bones to their median length over the clip):

- **Synthetic walk**: `examples/synthetic_walk.mp4`, a drawn figure walking, stopping and waving,
  with its exact 3D joints (`examples/synthetic_walk_truth.npz`). MPJPE and P-MPJPE: mean joint
  error to the truth (root-relative; P-MPJPE after aligning each pose by rotation, scale and
  translation). **Jitter**: mean acceleration of the 16 joints other than the pelvis
  (root-relative; second difference over three consecutive frames), mm/frame². Acceleration
  error: distance between the output's and the truth's accelerations. **Lag**: the time shift
  that best lines up the output's joint velocities (x(t+1) − x(t−1)) with those of the truth, or
  of the raw output (peak of their cross-correlation, refined between frames by a parabola;
  positive = late). "Halves motion at": the frequency at which the filter's gain falls to one
  half (at the clip's frame rate). The last two columns apply the filter to the true motion
  itself, which shows what it does to real movement regardless of the lifter's errors: the
  error this adds, and how much of the peak speed of the waving wrist (from 1 s to 0.25 s before
  the clip's end, the fastest movement in it) survives.
- **Real clips** (no truth): jitter, jitter as a share of the raw output's, the mean distance of
  the smoothed joints from the raw ones, the lag against the raw output, and the bone-length
  coefficient of variation (std / mean of each bone's length over a track, mean over the bones,
  median over the tracks; a person's bones do not change length, so lower is better). Tracks
  seen on at least {args.min_frames} frames.
- A one-directional Butterworth filter (`scipy.signal.sosfilt`, what a live system would have
  to use; not offered by `--smooth`) is included as a reference for what lag looks like.

## Results

{walk.markdown()}

{chr(10).join(t.markdown() + chr(10) for t in clips)}{fig_line}
## The default: `{choice}`

Rule: a setting passes if, on the synthetic walk, its MPJPE is at most {MPJPE_BUDGET_MM:g} mm above the raw
output's, it is not late against the raw output (at most {LAG_BUDGET_FRAMES:g} frames), and it keeps at least
{WRIST_KEEP_PCT:g} % of the waving wrist's true peak speed (the walk's MPJPE hardly moves even for wide
filters, because the lifter's own error dominates it, so the wrist column guards against
blurring fast movements). Of the passing settings the one with the least jitter on the real
clips wins (the mean of the "jitter vs raw" column over the clips): on the walk the raw output
is barely above the true motion's own acceleration, so the real clips are where jitter shows.
Passed: {", ".join(f"`{p}` ({mean_clip_jitter_pct(clips, p):.0f} %)" for p in passed) or "none"}.

`{choice}`:

- on the synthetic walk: jitter {raw['jitter']:.1f} → {ch['jitter']:.1f} mm/frame² (the true motion has
  {walk.extra['truth_jitter']:.1f}), acceleration error {raw['accel_err']:.1f} → {ch['accel_err']:.1f} mm/frame², MPJPE {raw['mpjpe']:.1f} → {ch['mpjpe']:.1f} mm,
  lag against the raw output {ch['lag_raw']:+.2f} frames;
- applied to the true motion it adds {ch['truth_mpjpe']:.1f} mm of error and keeps {ch['wrist_pct']:.0f} % of the waving
  wrist's peak speed; it halves motion at {ch['half_gain_hz']:.1f} Hz;
- on the real clips:
{chr(10).join(clip_lines)}

Wider settings remove more jitter but flatten fast movements (the wrist column) and start to
cost accuracy. {causal_note}
{noisy_note}{default_note}

## Rerun

```
mkdir -p /tmp/smooth
posemoe video examples/synthetic_walk.mp4 {RAW_FLAGS} --save /tmp/smooth/walk.npz -q
{chr(10).join(f"posemoe video {p} {RAW_FLAGS} --save /tmp/smooth/{Path(p).stem}.npz -q" for p in args.sources)}
python examples/smoothing_tradeoff.py --walk /tmp/smooth/walk.npz {clip_args} \\
    --write docs/smoothing.md{" --figure " + args.figure if args.figure else ""}
```

The real clips are not part of the repository (`{'`, `'.join(Path(p).name for p in args.sources)}`);
any video works. Without `--write` the tables are only printed.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clips", nargs="*", help=f"raw results files of real clips (posemoe video {RAW_FLAGS} --save)")
    ap.add_argument("--walk", required=True, help="raw results file of examples/synthetic_walk.mp4")
    ap.add_argument("--truth", default=str(ROOT / "examples" / "synthetic_walk_truth.npz"),
                    help="the walk's 3D truth (default: examples/synthetic_walk_truth.npz)")
    ap.add_argument("--min-frames", type=int, default=MIN_FRAMES, help="real clips: skip shorter tracks")
    ap.add_argument("--write", help="write the documentation page (Markdown) here")
    ap.add_argument("--figure", help="write a PNG figure here (linked from the page by its file name)")
    ap.add_argument("--sources", nargs="*", default=None,
                    help="the videos the clip files came from, for the rerun commands on the page "
                         "(default: the input recorded in each file)")
    args = ap.parse_args(argv)
    grid = (*GRID, CAUSAL)
    try:
        walk = walk_table(args.walk, args.truth, grid)
        clips = [clip_table(p, grid, args.min_frames) for p in args.clips]
        if args.sources is None:
            args.sources = []
            for p in args.clips:
                extra = load_results(p).extra
                args.sources.append(str(extra.get("input", p)) if isinstance(extra, dict) else p)
    except PoseMoEError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    choice, passed = recommend(walk, clips)
    for t in (walk, *clips):
        print(t.markdown(), end="\n\n")
    print(f"recommended: {choice} (passed: {', '.join(passed) or 'none'}); "
          f"posemoe.smoothing.DEFAULT_SMOOTHING = {DEFAULT_SMOOTHING}")
    if args.figure:
        figure(walk, clips, args.figure, choice)
        print(f"wrote {args.figure} ({Path(args.figure).stat().st_size // 1024} KB)")
    if args.write:
        Path(args.write).write_text(page(walk, clips, choice, passed, args))
        print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
