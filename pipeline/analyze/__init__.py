"""`posemoe analyze`: a visual, qualitative report on a results file (schema in `pipeline.export`).

``analyze()`` writes into the output folder ``index.html`` (one self-contained file: images
embedded as base64 PNG, no external assets), one PNG per figure and ``summary.json`` (the key
figures). The parts, one module each:

* ``stats``: bone lengths and their coefficient of variation, left / right symmetry, the
  routers' expert weights recomputed with the checkpoint, and ``summarize`` (summary.json).
* ``figures``: the matplotlib figures (tracks, trajectories, bone lengths, paths over the floor,
  2D confidence, symmetry, router weights) and ``make_figures``.
* ``page``: the HTML page, rendered with Jinja2 from the template ``report.html.j2``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.analyze.figures import ReportFigure, make_figures
from pipeline.analyze.page import render_html
from pipeline.analyze.stats import (
    BONE_NAMES,
    BONES,
    PAIRS,
    RouterWeights,
    bone_cv,
    bone_lengths,
    compute_router_weights,
    default_checkpoint,
    router_summary,
    summarize,
    symmetry_ratios,
    track_order,
)
from pipeline.export import load_results
from posemoe.errors import PoseMoEError

__all__ = [
    "BONES",
    "BONE_NAMES",
    "PAIRS",
    "Report",
    "ReportFigure",
    "RouterWeights",
    "analyze",
    "bone_cv",
    "bone_lengths",
    "compute_router_weights",
    "default_checkpoint",
    "make_figures",
    "render_html",
    "router_summary",
    "summarize",
    "symmetry_ratios",
    "track_order",
]


@dataclass
class Report:
    """What `analyze` wrote."""

    out_dir: Path
    html: Path
    figures: list[ReportFigure]
    summary: dict[str, Any]
    notes: list[str]


def analyze(results_path: str | Path, out_dir: str | Path, *, checkpoint: str | Path | None = None,
            router: bool = True, device: str | None = None, max_tracks: int | None = 4,
            log: Callable[[str], None] = lambda m: None) -> Report:
    """Read a results file and write the report (index.html, PNGs, summary.json) to `out_dir`.

    Router weights are recomputed with `checkpoint`, default the one the results record (when
    that file exists); without one the router figures are left out and the page says why.
    """
    results_path = Path(results_path)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise PoseMoEError(f"{out_dir}: is a file; the report needs a folder, e.g. -o report/")
    if not out_dir.parent.is_dir():
        raise PoseMoEError(f"{out_dir}: its parent folder {out_dir.parent} does not exist; create it first")
    results = load_results(results_path)
    notes: list[str] = []
    weights = None
    if router and results.num_people and results.present.any():
        ckpt = Path(checkpoint) if checkpoint is not None else default_checkpoint(results)
        if ckpt is None:
            recorded = (results.checkpoint or {}).get("path") if isinstance(results.checkpoint, dict) else None
            notes.append("Router figures left out: no checkpoint to recompute the router weights with "
                         + (f"(the recorded {recorded} does not exist here); " if recorded else "(none recorded); ")
                         + "pass one with -c.")
        else:
            if not ckpt.is_file():
                raise PoseMoEError(f"{ckpt}: no such checkpoint file; pass the lifting checkpoint with -c")
            log(f"[analyze] recomputing router weights with {ckpt.name}")
            weights = compute_router_weights(results, ckpt, device=device)
            if weights.same_checkpoint is False:
                notes.append(f"The router weights come from {ckpt.name}, which is not the checkpoint that made "
                             "these 3D poses (its sha256 differs from the one recorded in the results).")
            if weights.pose_diff_mm > 1.0:
                notes.append(f"The 3D recomputed with {ckpt.name} differs from the saved 3D by up to "
                             f"{weights.pose_diff_mm:.1f} mm, so the router weights shown may not be the ones "
                             "behind these poses (other checkpoint or lifting settings).")
            else:
                notes.append(f"Router weights recomputed from the saved 2D keypoints with {ckpt.name}; the 3D "
                             f"recomputed alongside matches the saved 3D to {weights.pose_diff_mm:.3f} mm, so "
                             "they are the weights behind these poses.")
    elif not router:
        notes.append("Router figures left out (--no-router).")
    if results.num_people > (max_tracks or results.num_people):
        notes.append(f"{results.num_people} tracks: the {max_tracks} longest are shown in detail; the table lists "
                     "all.")
    summary = summarize(results, weights)
    log(f"[analyze] drawing figures for {results.num_people} track(s)")
    figures = make_figures(results, weights, max_tracks=max_tracks)
    out_dir.mkdir(exist_ok=True)
    for f in figures:
        (out_dir / f"{f.key}.png").write_bytes(f.png)
    summary["figures"] = [f"{f.key}.png" for f in figures]
    summary["notes"] = notes
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    page = out_dir / "index.html"
    page.write_text(render_html(results, summary, figures, notes, results_path.name), encoding="utf-8")
    return Report(out_dir, page, figures, summary, notes)
