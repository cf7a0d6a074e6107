"""The pictures of `posemoe analyze` (matplotlib, Agg; each also written as a PNG next to the page).

``make_figures`` draws them all, the longest tracks in detail:

- **tracks**: when each person is present, coloured by their mean 2D confidence
- **trajectories**: a few key joints' 3D positions over time, one panel per camera axis
  (metres, root-relative: the pelvis is at 0)
- **bone lengths**: each limb's length over time, left against right, and every bone's
  coefficient of variation (std / mean). A person's bones do not change length, so any variation
  is the lifter's error; it is a known weakness of 2D-to-3D lifting, and the CV shows where
- **paths over the floor** (results with the scene fields): everyone's pelvis path seen from
  above in the world frame, the camera, and the footprints of foot contacts; per person, the
  ankles' heights above the floor over time with the contact frames
- **2D confidence**: the detector's per-joint confidence over time (heat map), absent frames grey
- **symmetry**: left / right length ratios of the paired bones (1 = symmetric)
- **router**: the PoseMoE routers' expert weights per joint over time, for every MoE layer of
  the 2D-pose and depth streams (which expert carries which joint when), and the experts'
  overall shares per layer and joint
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from pipeline.analyze.stats import (
    BONE_NAMES,
    BONES,
    PAIRS,
    J,
    RouterWeights,
    _nan_stat,
    bone_cv,
    bone_lengths,
    symmetry_ratios,
    track_order,
)
from pipeline.export import JOINT_NAMES, Results

KEY_JOINTS: tuple[str, ...] = ("head", "left_wrist", "right_wrist", "left_ankle", "right_ankle")
AXIS_LABELS = ("x (right)", "y (down)", "z (forward, away from camera)")
LEFT_COLOR, RIGHT_COLOR = "#1f77b4", "#d62728"


def _new_figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return buf.getvalue()


def _time_extent(results: Results) -> tuple[float, float]:
    t = results.time_s
    return float(t[0]), float(t[-1] + 1.0 / results.fps)


def _shade_absent(ax, results: Results, present_p: np.ndarray) -> None:
    """Grey bands where the person is absent."""
    from posemoe.windowing import present_segments

    t0, t1 = _time_extent(results)
    edges = np.append(results.time_s, t1)
    for s, e in present_segments(~present_p):
        ax.axvspan(edges[s], edges[e], color="0.88", lw=0, zorder=0)


def fig_tracks(results: Results):
    """When each person is present (bars coloured by mean 2D confidence)."""
    import matplotlib
    from matplotlib import cm, colors

    order = track_order(results)
    fig = _new_figure(11, max(2.2, 1.3 + 0.45 * len(order)))
    ax = fig.add_subplot()
    norm = colors.Normalize(0, 1)
    cmap = matplotlib.colormaps["viridis"]
    from posemoe.windowing import present_segments

    edges = np.append(results.time_s, _time_extent(results)[1])
    for row, p in enumerate(order):
        for s, e in present_segments(results.present[p]):
            conf = float(results.scores2d[p, s:e].mean())
            ax.barh(row, edges[e] - edges[s], left=edges[s], height=0.7, color=cmap(norm(conf)))
    ax.set_yticks(range(len(order)), [f"track {results.track_ids[p]}" for p in order])
    ax.invert_yaxis()
    ax.set_xlim(*_time_extent(results))
    ax.set_xlabel("time (s)")
    ax.set_title("When each person is tracked (colour: mean 2D confidence of the segment)")
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="2D confidence (0-1)", pad=0.01)
    return fig


def fig_trajectories(results: Results, p: int):
    """Key joints' 3D coordinates over time, one panel per axis."""
    fig = _new_figure(11, 7.5)
    axes = fig.subplots(3, 1, sharex=True)
    t = results.time_s
    colors = {"head": "0.2", "left_wrist": LEFT_COLOR, "right_wrist": RIGHT_COLOR,
              "left_ankle": "#17becf", "right_ankle": "#ff7f0e"}
    for a, ax in enumerate(axes):
        _shade_absent(ax, results, results.present[p])
        for name in KEY_JOINTS:
            ax.plot(t, results.keypoints3d[p, :, J[name], a], lw=1.3, color=colors[name],
                    label=name.replace("_", " "))
        ax.axhline(0, color="0.5", lw=0.6, ls=":")
        ax.set_ylabel(f"{AXIS_LABELS[a]} (m)")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=9, title="joint")
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(*_time_extent(results))
    fig.suptitle(f"Track {results.track_ids[p]}: 3D joint positions relative to the pelvis "
                 "(camera axes; grey = person absent)")
    return fig


def fig_scene(results: Results, order: list[int]):
    """Top-down view of everyone's path over the floor, with the camera and foot contacts."""
    assert results.keypoints3d_world is not None and results.foot_contact is not None
    fig = _new_figure(8.5, 7.5)
    ax = fig.add_subplot()
    cmap = _track_colours(len(order))
    for row, p in enumerate(order):
        k = results.keypoints3d_world[p].astype(np.float64)
        root = k[:, J["pelvis"]]
        ok = np.isfinite(root).all(-1)
        if not ok.any():
            continue
        colour = cmap[row]
        ax.plot(root[:, 0], root[:, 2], lw=1.6, color=colour, label=f"track {results.track_ids[p]}")
        first = int(np.flatnonzero(ok)[0])
        ax.plot(root[first, 0], root[first, 2], "o", ms=6, color=colour, mec="k", mew=0.6)
        for side, (joint, marker) in enumerate((("right_ankle", "x"), ("left_ankle", "+"))):
            steps = (results.foot_contact[p, :, side] > 0) & ok
            ax.plot(k[steps, J[joint], 0], k[steps, J[joint], 2], marker, ms=4, color=colour, alpha=0.6, ls="none")
    ax.plot(0.0, 0.0, "v", ms=11, color="k")
    ax.annotate("camera", (0.0, 0.0), textcoords="offset points", xytext=(8, -4), fontsize=9)
    ax.set_aspect("equal", adjustable="datalim")
    ax.invert_yaxis()  # depth increases upwards on the page: the camera at the bottom, looking up
    ax.set_xlabel("x: right of the camera (m)")
    ax.set_ylabel("z: towards the camera (m); the scene lies up the page")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=9, title="pelvis path (dot: start)")
    height = float(results.world_from_camera[1, 3]) if results.world_from_camera is not None else float("nan")
    ax.set_title(f"Paths over the floor, seen from above (footprints: × right foot, + left foot on the floor); "
                 f"camera {height:.2f} m above the floor", fontsize=10)
    return fig


def fig_contact(results: Results, p: int):
    """Ankle heights above the floor over time, with the frames each foot is on the floor."""
    assert results.keypoints3d_world is not None and results.foot_contact is not None
    fig = _new_figure(11, 3.6)
    ax = fig.add_subplot()
    t = results.time_s
    _shade_absent(ax, results, results.present[p])
    for side, (joint, colour) in enumerate((("right_ankle", RIGHT_COLOR), ("left_ankle", LEFT_COLOR))):
        h = results.keypoints3d_world[p, :, J[joint], 1]
        ax.plot(t, h, lw=1.3, color=colour, label=joint.replace("_", " "))
        on = results.foot_contact[p, :, side] > 0
        ax.fill_between(t, -0.04 - 0.03 * side, -0.015 - 0.03 * side, where=on, color=colour, lw=0, step="mid")
    ax.axhline(0, color="0.4", lw=0.8)
    ax.set_ylabel("height above the floor (m)")
    ax.set_xlabel("time (s)")
    ax.set_xlim(*_time_extent(results))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=9)
    ax.set_title(f"Track {results.track_ids[p]}: ankle heights; bars below the floor line mark the frames each "
                 "foot is on the floor", fontsize=10)
    return fig


def _track_colours(n: int) -> list:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


def fig_bones(results: Results, p: int, lengths: np.ndarray, cv: np.ndarray):
    """Each paired limb's length over time (left vs right) and every bone's CV."""
    fig = _new_figure(13, 9.5)
    grid = fig.add_gridspec(3, 3, height_ratios=[1, 1, 1.15])
    t = results.time_s
    for k, (limb, li, ri) in enumerate(PAIRS):
        ax = fig.add_subplot(grid[k // 3, k % 3])
        _shade_absent(ax, results, results.present[p])
        ax.plot(t, 100 * lengths[:, li], color=LEFT_COLOR, lw=1.2, label=f"left (CV {100 * cv[li]:.1f} %)")
        ax.plot(t, 100 * lengths[:, ri], color=RIGHT_COLOR, lw=1.2, ls="--", label=f"right (CV {100 * cv[ri]:.1f} %)")
        ax.set_title(limb)
        ax.set_ylabel("length (cm)")
        ax.set_xlabel("time (s)")
        ax.set_xlim(*_time_extent(results))
        vals = 100 * lengths[:, [li, ri]]
        if np.isfinite(vals).any():
            lo, hi = np.nanmin(vals), np.nanmax(vals)
            pad = max(0.15 * (hi - lo), 0.05 * max(hi, 1e-3), 0.5)
            ax.set_ylim(max(0.0, lo - pad), hi + pad)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    ax = fig.add_subplot(grid[2, :])
    pair_cv = np.array([[cv[li], cv[ri]] for _, li, ri in PAIRS]) * 100
    x = np.arange(len(PAIRS))
    ax.bar(x - 0.2, pair_cv[:, 0], width=0.4, color=LEFT_COLOR, label="left")
    ax.bar(x + 0.2, pair_cv[:, 1], width=0.4, color=RIGHT_COLOR, label="right")
    central = [b for b in range(len(BONES)) if not BONE_NAMES[b].startswith(("left ", "right "))]
    xc = np.arange(len(PAIRS), len(PAIRS) + len(central))
    ax.bar(xc, 100 * cv[central], width=0.5, color="0.45", label="centre")
    ax.set_xticks(np.concatenate([x, xc]), [n for n, _, _ in PAIRS] + [BONE_NAMES[b] for b in central])
    if np.isfinite(cv).any():
        worst = int(np.nanargmax(cv))
        ax.set_title(f"Bone-length variation over time (0 = rigid; least stable: {BONE_NAMES[worst]}, "
                     f"CV {100 * cv[worst]:.1f} %)")
    else:
        ax.set_title("Bone-length variation over time (0 = rigid)")
    ax.set_ylabel("coefficient of variation (%)")
    ax.set_xlabel("bone")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=9)
    fig.suptitle(f"Track {results.track_ids[p]}: bone lengths of the 3D poses (a real person's are constant)")
    return fig


def fig_confidence(results: Results, p: int):
    """Per-joint 2D confidence over time (heat map) and its mean over joints."""
    import matplotlib

    fig = _new_figure(11, 6.5)
    grid = fig.add_gridspec(2, 1, height_ratios=[3, 1])
    ax = fig.add_subplot(grid[0])
    present_p = results.present[p]
    scores = np.where(present_p[:, None], results.scores2d[p], np.nan).T  # (J, F)
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.85")
    t0, t1 = _time_extent(results)
    im = ax.imshow(np.ma.masked_invalid(scores), aspect="auto", cmap=cmap, vmin=0, vmax=1,
                   extent=(t0, t1, len(JOINT_NAMES) - 0.5, -0.5), interpolation="nearest")
    ax.set_yticks(range(len(JOINT_NAMES)), [n.replace("_", " ") for n in JOINT_NAMES], fontsize=8)
    ax.set_ylabel("joint")
    ax.set_title("2D detector confidence per joint (grey: person absent)")
    fig.colorbar(im, ax=ax, label="confidence (0-1)", pad=0.01)
    ax2 = fig.add_subplot(grid[1], sharex=ax)
    _shade_absent(ax2, results, present_p)
    ax2.plot(results.time_s, _nan_stat(np.nanmean, scores, axis=0), color="k", lw=1.2, label="mean over joints")
    ax2.plot(results.time_s, _nan_stat(np.nanmin, scores, axis=0), color="#d62728", lw=0.8, alpha=0.7,
             label="lowest joint")
    ax2.axhline(0.3, color="0.4", ls=":", lw=0.8, label="lifter's joint threshold (0.3)")
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_xlim(t0, t1)
    ax2.set_ylabel("confidence (0-1)")
    ax2.set_xlabel("time (s)")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8, loc="lower left", ncols=3)
    fig.suptitle(f"Track {results.track_ids[p]}: 2D keypoint confidence")
    return fig


def _ratio_ticks(axis, limits: tuple[float, float], gap: float = 0.07) -> None:
    """Readable ticks for a log-scale ratio axis: 1 and r, 1/r for round r, not crowded."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    lo, hi = limits
    min_gap = gap * (np.log(hi) - np.log(lo))  # as a fraction of the axis
    ticks = [1.0]
    for r in (1.02, 1.05, 1.1, 1.25, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0):
        for v in (r, 1.0 / r):
            if lo <= v <= hi and all(abs(np.log(v) - np.log(t)) >= min_gap for t in ticks):
                ticks.append(v)
    axis.set_major_locator(FixedLocator(sorted(ticks)))
    axis.set_minor_locator(NullLocator())
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2f}"))


def fig_symmetry(results: Results, p: int, ratios: np.ndarray):
    """Left / right length ratios of the paired bones over time, and their spread."""
    import matplotlib

    fig = _new_figure(13, 5)
    grid = fig.add_gridspec(1, 2, width_ratios=[2.2, 1])
    ax = fig.add_subplot(grid[0])
    _shade_absent(ax, results, results.present[p])
    colors = matplotlib.colormaps["tab10"].colors
    for k, (limb, _, _) in enumerate(PAIRS):
        ax.plot(results.time_s, ratios[:, k], lw=1.1, color=colors[k], label=limb)
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set_yscale("log")
    finite = ratios[np.isfinite(ratios)]
    span = max(float(np.max(np.abs(np.log(finite)))), np.log(1.1)) if finite.size else np.log(1.1)
    limits = (np.exp(-1.1 * span), np.exp(1.1 * span))
    ax.set_ylim(*limits)
    _ratio_ticks(ax.yaxis, limits)
    ax.set_xlim(*_time_extent(results))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("left / right length ratio (log scale)")
    ax.set_title("Left / right bone-length ratio over time (1 = symmetric)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, ncols=3, loc="upper left")
    ax2 = fig.add_subplot(grid[1])
    data = [ratios[results.present[p], k] for k in range(len(PAIRS))]
    data = [d[np.isfinite(d)] for d in data]
    if any(len(d) for d in data):
        # `orientation` is new in matplotlib 3.10, `vert` deprecated since 3.11
        horizontal = ({"orientation": "horizontal"} if tuple(map(int, matplotlib.__version__.split(".")[:2])) >= (3, 10)
                      else {"vert": False})
        bp = ax2.boxplot([d if len(d) else [np.nan] for d in data], showfliers=False, patch_artist=True, widths=0.6,
                         medianprops={"color": "k", "lw": 1.5}, **horizontal)
        for patch, c in zip(bp["boxes"], colors):
            patch.set_facecolor(c)
            patch.set_alpha(0.6)
    ax2.set_yticks(range(1, len(PAIRS) + 1), [n for n, _, _ in PAIRS])
    ax2.axvline(1.0, color="k", lw=0.8, ls="--")
    ax2.set_xscale("log")
    ax2.set_xlim(*limits)
    _ratio_ticks(ax2.xaxis, limits, gap=0.16)
    ax2.set_xlabel("left / right length ratio (log scale)")
    ax2.set_title("Spread (box: quartiles, whiskers: 1.5 IQR)")
    ax2.invert_yaxis()
    ax2.grid(alpha=0.3, axis="x")
    fig.suptitle(f"Track {results.track_ids[p]}: left / right symmetry of the 3D skeleton")
    return fig


def fig_router_track(results: Results, p: int, router: RouterWeights):
    """Expert weights per joint over time for every MoE layer, 2D-pose and depth streams."""
    import matplotlib

    e = router.experts
    pose_l, depth_l = router.stream_layers("pose"), router.stream_layers("depth")
    rows = max(len(pose_l), len(depth_l))
    # two experts: one map says all (expert 1's weight is 1 minus expert 2's); more: one column per expert
    cols_per_stream = 1 if e == 2 else e
    ncols = 2 * cols_per_stream
    fig = _new_figure(6.2 * ncols if e == 2 else min(20.0, 3.2 * ncols), 1.75 * rows + 1.4)
    axes = np.atleast_2d(fig.subplots(rows, ncols, sharex=True, sharey=True, squeeze=False))
    t0, t1 = _time_extent(results)
    present_p = results.present[p]
    cmap = matplotlib.colormaps["RdBu_r" if e == 2 else "viridis"].with_extremes(bad="0.45")
    im = None
    short = [n.replace("_", " ").replace("left ", "L ").replace("right ", "R ") for n in JOINT_NAMES]
    for s, (stream, idx) in enumerate((("2D-pose stream", pose_l), ("depth stream", depth_l))):
        for r, li in enumerate(idx):
            for c in range(cols_per_stream):
                expert = 1 if e == 2 else c
                ax = axes[r, s * cols_per_stream + c]
                w = np.where(present_p[:, None], router.probs[p, :, li, :, expert], np.nan).T  # (J, F)
                im = ax.imshow(np.ma.masked_invalid(w), aspect="auto", cmap=cmap, vmin=0, vmax=1,
                               extent=(t0, t1, len(JOINT_NAMES) - 0.5, -0.5), interpolation="nearest")
                if r == 0:
                    ax.set_title(f"{stream}" + (f", expert {expert + 1}" if e > 2 else ""), fontsize=11)
                if s == 0 and c == 0:
                    ax.set_ylabel(f"{router.layer_label(li)}\njoint", fontsize=9)
                if r == rows - 1:
                    ax.set_xlabel("time (s)")
                ax.set_yticks(range(len(JOINT_NAMES)), short, fontsize=6)
    for ax in axes.flat[2 * rows * cols_per_stream:]:
        ax.set_visible(False)
    label = ("weight of expert 2 (0 = all expert 1, 1 = all expert 2)" if e == 2
             else "router weight of the expert (0-1)")
    fig.colorbar(im, ax=axes, label=label, pad=0.01, shrink=0.6)
    fig.suptitle(f"Track {results.track_ids[p]}: which expert carries which joint when "
                 f"(router weights of every MoE layer, encoder order top to bottom; dark grey = absent)")
    return fig


def fig_router_usage(results: Results, router: RouterWeights):
    """Experts' mean share per layer (bars) and per joint and layer (heat map), all tracks."""
    import matplotlib

    e = router.experts
    present = results.present
    probs = router.probs[present]  # (N, L, J, E)
    fig = _new_figure(13, 9)
    grid = fig.add_gridspec(2, 2, height_ratios=[1, 1.6])
    colors = matplotlib.colormaps["tab10"].colors
    cmap = matplotlib.colormaps["RdBu_r" if e == 2 else "tab10"]
    im = None
    for s, (stream, title) in enumerate((("pose", "2D-pose stream"), ("depth", "depth stream"))):
        idx = router.stream_layers(stream)
        share = probs[:, idx].mean(axis=(0, 2))  # (Ls, E)
        ax = fig.add_subplot(grid[0, s])
        bottom = np.zeros(len(idx))
        for k in range(e):
            ax.bar(range(len(idx)), 100 * share[:, k], bottom=bottom, color=colors[k % 10], label=f"expert {k + 1}")
            for x, (b, v) in enumerate(zip(bottom, 100 * share[:, k])):
                if v >= 8:
                    ax.text(x, b + v / 2, f"{v:.0f}", ha="center", va="center", fontsize=8, color="white")
            bottom += 100 * share[:, k]
        ax.set_xticks(range(len(idx)), [router.layer_label(i) for i in idx], rotation=30, fontsize=8)
        ax.set_ylim(0, 100)
        ax.set_ylabel("share of the router's weight (%)")
        ax.set_xlabel("MoE layer (encoder order)")
        ax.set_title(f"{title}: expert shares per layer")
        ax.legend(fontsize=8, loc="lower right")
        ax2 = fig.add_subplot(grid[1, s])
        per_joint = probs[:, idx].mean(axis=0)  # (Ls, J, E)
        if e == 2:
            im = ax2.imshow(per_joint[..., 1].T, aspect="auto", cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
            for (j, x), v in np.ndenumerate(per_joint[..., 1].T):
                ax2.text(x, j, f"{100 * v:.0f}", ha="center", va="center", fontsize=6,
                         color="white" if abs(v - 0.5) > 0.3 else "black")
            ax2.set_title(f"{title}: mean weight of expert 2 per joint (%)")
        else:
            top = per_joint.argmax(axis=-1).T  # (J, Ls)
            im = ax2.imshow(top, aspect="auto", cmap=cmap, vmin=-0.5, vmax=9.5, interpolation="nearest")
            for (j, x), v in np.ndenumerate(per_joint.max(axis=-1).T):
                ax2.text(x, j, f"{100 * v:.0f}", ha="center", va="center", fontsize=6, color="white")
            ax2.set_title(f"{title}: top expert (colour as above), its weight (%)")
        ax2.set_xticks(range(len(idx)), [router.layer_label(i) for i in idx], rotation=30, fontsize=8)
        ax2.set_yticks(range(len(JOINT_NAMES)), [n.replace("_", " ") for n in JOINT_NAMES], fontsize=8)
        ax2.set_xlabel("MoE layer (encoder order)")
        ax2.set_ylabel("joint")
    if e == 2:
        fig.colorbar(im, ax=fig.axes[1::2], label="mean weight of expert 2 (0-1)", pad=0.01, shrink=0.8)
    fig.suptitle(f"Router usage over all tracks and frames ({len(probs)} person-frames, {e} experts per layer)")
    return fig


@dataclass
class ReportFigure:
    """One picture of the report."""

    key: str  # file stem, e.g. "bones_track1"
    title: str
    caption: str
    png: bytes = field(repr=False)


def _render(fig) -> bytes:
    png = _png(fig)
    fig.clear()
    return png


def make_figures(results: Results, router: RouterWeights | None, max_tracks: int | None = 4) -> list[ReportFigure]:
    """All figures of the report, the `max_tracks` longest tracks in detail."""
    figs: list[ReportFigure] = []

    def add(key: str, title: str, caption: str, fig) -> None:
        figs.append(ReportFigure(key, title, caption, _render(fig)))

    if results.num_people == 0:
        return figs
    lengths = bone_lengths(results.keypoints3d)
    cv = bone_cv(lengths)
    ratios = symmetry_ratios(lengths)
    add("tracks", "Tracks", "Each bar is a run of frames in which the person is tracked; its colour is the mean 2D "
        "confidence over that run.", fig_tracks(results))
    order = track_order(results)
    if results.has_scene:
        add("scene", "Paths over the floor",
            "Each person's pelvis seen from above in the world frame (metres; the floor estimated from the feet, the "
            "camera at the origin), with the frames in which each foot is on the floor. Depth comes from the "
            "person's size in the image and the lens's focal length (results' focal_px).",
            fig_scene(results, order))
    for p in order[:max_tracks] if max_tracks else order:
        tid = int(results.track_ids[p])
        if not results.present[p].any():
            continue
        if results.has_scene:
            add(f"contact_track{tid}", f"Track {tid}: foot contact",
                "Height of each ankle joint above the estimated floor (an ankle on the floor is about 6 cm above it); "
                "the bars mark the frames the foot is found on the floor (low and slow).", fig_contact(results, p))
        add(f"trajectories_track{tid}", f"Track {tid}: 3D trajectories",
            "Position of the head, wrists and ankles relative to the pelvis along each camera axis (x right, y down, "
            "z away from the camera), metres.", fig_trajectories(results, p))
        add(f"bones_track{tid}", f"Track {tid}: bone-length stability",
            "A real person's bones keep their length: any change over time is the lifter's error. Top: left (solid) "
            "and right (dashed) length of each paired limb; bottom: coefficient of variation (standard deviation / "
            "mean over the frames) of every bone.", fig_bones(results, p, lengths[p], cv[p]))
        add(f"confidence_track{tid}", f"Track {tid}: 2D confidence",
            "The 2D detector's confidence per joint and frame. Joints below the threshold are fed to a "
            "confidence-aware lifter as missing.", fig_confidence(results, p))
        add(f"symmetry_track{tid}", f"Track {tid}: left / right symmetry",
            "Ratio of the left bone's length to the right one's (the person's own sides); 1 is symmetric. "
            "Persistent offsets hint at a depth error on one side.", fig_symmetry(results, p, ratios[p]))
        if router is not None:
            how = ("Colour is expert 2's weight: blue tokens go to expert 1, red ones to expert 2, white is an even "
                   "mix." if router.experts == 2 else "One column per expert; colour is the router's weight for it.")
            add(f"router_track{tid}", f"Track {tid}: router weights per joint over time",
                "Each panel is one MoE layer (rows in encoder order: spatial then temporal blocks of each encoder "
                "layer) of the 2D-pose stream (left) or the depth stream (right); joints down, time across. " + how,
                fig_router_track(results, p, router))
    if router is not None and results.present.any():
        add("router_usage", "Router usage", "Top: each layer's mean weight per expert over all person-frames. "
            "Bottom: the same per joint, so a joint handled by one expert stands out.",
            fig_router_usage(results, router))
    return figs
