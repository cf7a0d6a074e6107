"""The report page of `posemoe analyze`: index.html, rendered with Jinja2 from ``report.html.j2``.

One self-contained file: the styles are inline and every figure is embedded as a base64 PNG, so
the page needs no other file and no network. ``key_figures`` and ``track_rows`` turn the summary
(``stats.summarize``) into the table cells; the template lays them out. Autoescaping is on: every
value (file names, notes, captions) is HTML-escaped.
"""

from __future__ import annotations

import base64
import functools
from importlib import resources
from typing import Any

import jinja2
import numpy as np

from pipeline.analyze.figures import ReportFigure
from pipeline.export import Results

TEMPLATE = "report.html.j2"  # package data of pipeline.analyze


@functools.lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    text = resources.files("pipeline.analyze").joinpath(TEMPLATE).read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    return env.from_string(text)


def _pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f} %"


def key_figures(results: Results, summary: dict[str, Any], source: str) -> list[tuple[str, str]]:
    """The "Key figures" table: (label, value) rows."""
    rows = [
        ("results", source),
        ("frames", f"{summary['frames']} ({summary['duration_s']:.2f} s at {summary['fps']:g} fps)"),
        ("image size", f"{results.image_size[0]} x {results.image_size[1]} px"),
        ("people tracked", str(summary["people"])),
        ("2D backend", str(summary.get("backend2d"))), ("lifting checkpoint", str(summary.get("checkpoint"))),
    ]
    tracks = summary["tracks"]
    if tracks:
        cvs = [t["mean_bone_cv"] for t in tracks if t["mean_bone_cv"] is not None]
        confs = [t["mean_confidence2d"] for t in tracks if t["mean_confidence2d"] is not None]
        rows.append(("mean bone-length CV (all tracks)", _pct(float(np.mean(cvs)) if cvs else None)))
        rows.append(("mean 2D confidence (all tracks)", f"{np.mean(confs):.3f}" if confs else "n/a"))
        longest = tracks[0]
        if longest["worst_bone"]:
            rows.append((f"least stable bone (track {longest['track_id']}, the longest)",
                         f"{longest['worst_bone']}, CV {_pct(longest['worst_bone_cv'])}"))
        if longest["least_symmetric_limb"]:
            limb = longest["least_symmetric_limb"]
            rows.append((f"least symmetric limb (track {longest['track_id']})",
                         f"{limb}, median left/right length ratio {longest['median_left_right_ratio'][limb]:.3f}"))
    router = summary.get("router")
    if router and router.get("streams"):
        for stream, name in (("pose", "2D-pose stream"), ("depth", "depth stream")):
            st = router["streams"][stream]
            shares = ", ".join(f"expert {k + 1} {_pct(s)}" for k, s in enumerate(st["expert_share"]))
            rows.append((f"expert usage, {name}", f"{shares} (mean top weight {_pct(st['mean_top_probability'])})"))
    return rows


def track_rows(summary: dict[str, Any]) -> list[list[Any]]:
    """The "Tracks" table: per track, its cells in the order of the template's header."""
    rows = []
    for t in summary["tracks"]:
        span = f"{t['first_s']:.2f} - {t['last_s']:.2f}" if t["frames_present"] else "-"
        conf = f"{t['mean_confidence2d']:.3f}" if t["mean_confidence2d"] is not None else "n/a"
        worst = f"{t['worst_bone']} ({_pct(t['worst_bone_cv'])})" if t["worst_bone"] else "n/a"
        limb = t["least_symmetric_limb"]
        sym = f"{limb} ({t['median_left_right_ratio'][limb]:.3f})" if limb else "n/a"
        rows.append([t["track_id"], t["frames_present"], span, conf, _pct(t["mean_bone_cv"]), worst, sym])
    return rows


def render_html(results: Results, summary: dict[str, Any], figures: list[ReportFigure], notes: list[str],
                source: str) -> str:
    """The report page: key figures, notes, the tracks table and every figure embedded as a base64 PNG."""
    return _template().render(
        source=source,
        key_figures=key_figures(results, summary, source),
        notes=notes,
        tracks=track_rows(summary),
        figures=[{"key": f.key, "title": f.title, "caption": f.caption,
                  "png_base64": base64.b64encode(f.png).decode("ascii")} for f in figures],
    )
