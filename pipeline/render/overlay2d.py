"""Drawing on the video frame: 2D skeletons, the people's labels, text boxes and the confidence legend.

``draw_skeleton_2d`` draws one H36M17 skeleton in the track colour's shades (``style``); a joint
below the confidence threshold is drawn hollow and its bones dashed. ``draw_label`` writes a
person's "#id" above the head (also in the 3D views), ``draw_text_box`` the timecode
(``format_timecode``) on a darkened box in a corner, ``confidence_legend`` the colour bar of
``color_by="confidence"``.
"""

from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

from pipeline.render.style import (
    _BC,
    _BP,
    _BS,
    _CONF_LEVELS,
    _CONF_LUT,
    _FONT,
    _HEAD,
    _J,
    _JS,
    _ONE,
    _SHIFT,
    Colour,
    _fixed,
    font_scale_for,
    _shades,
    line_thickness,
)
from posemoe.errors import PoseMoEError


def _dashed_line(img: np.ndarray, a: tuple[float, float], b: tuple[float, float], colour: Colour,
                 thickness: int) -> None:
    """A dashed anti-aliased line from ``a`` to ``b`` (pixels): dashes and gaps ~4*thickness+4 px."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = math.hypot(dx, dy)
    dash = 4.0 * thickness + 4.0
    n = max(1, int(math.ceil(length / dash)))
    for k in range(0, n, 2):
        t0, t1 = k / n, min(1.0, (k + 1) / n)
        p0 = (_fixed(a[0] + t0 * dx), _fixed(a[1] + t0 * dy))
        p1 = (_fixed(a[0] + t1 * dx), _fixed(a[1] + t1 * dy))
        cv2.line(img, p0, p1, colour, thickness, cv2.LINE_AA, _SHIFT)


def draw_skeleton_2d(img: np.ndarray, kp: np.ndarray, scores: np.ndarray, colour: Colour,
                     joint_threshold: float = 0.3, thickness: int | None = None,
                     joint_colours: Sequence[Colour] | None = None) -> None:
    """Draw one H36M17 skeleton on ``img`` in place.

    img: (H, W, 3) uint8 BGR, modified in place. kp: (17, 2) pixel coordinates (x, y); a joint
    with a NaN coordinate is skipped with its bones. scores: (17,) confidences in [0, 1] (NaN
    counts as 0). colour: the track colour (b, g, r); the person's left limbs are drawn lighter,
    right limbs darker. A joint scoring below ``joint_threshold`` is drawn as a hollow circle and
    a bone with such an end as a dashed line (kept visible rather than skipped, so a
    low-confidence limb still reads as a limb). thickness: line thickness in pixels; default
    scales with the image (3 px at 720p). joint_colours: 17 colours for the joints (e.g. by
    confidence, ``confidence_colour``), drawn one pixel larger; default the bones' shades.
    """
    kp = np.asarray(kp, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if kp.shape != (_J, 2) or scores.shape != (_J,):
        raise PoseMoEError(
            f"draw_skeleton_2d: expected keypoints (17, 2) and scores (17,), found {kp.shape} and {scores.shape}"
        )
    if thickness is None:
        thickness = line_thickness(img.shape[1], img.shape[0])
    radius = thickness + (2 if joint_colours is not None else 1)
    finite = np.isfinite(kp).all(axis=1)
    confident = np.nan_to_num(scores, nan=0.0) >= joint_threshold
    shades = _shades(colour)
    pts = kp.tolist()
    for c, p, side in zip(_BC, _BP, _BS):
        if not (finite[c] and finite[p]):
            continue
        if confident[c] and confident[p]:
            cv2.line(img, (_fixed(pts[c][0]), _fixed(pts[c][1])), (_fixed(pts[p][0]), _fixed(pts[p][1])),
                     shades[side], thickness, cv2.LINE_AA, _SHIFT)
        else:
            _dashed_line(img, (pts[c][0], pts[c][1]), (pts[p][0], pts[p][1]), shades[side], thickness)
    for j in range(_J):
        if not finite[j]:
            continue
        centre = (_fixed(pts[j][0]), _fixed(pts[j][1]))
        col = shades[_JS[j]] if joint_colours is None else joint_colours[j]
        if confident[j]:
            cv2.circle(img, centre, radius * _ONE, col, -1, cv2.LINE_AA, _SHIFT)
        else:
            cv2.circle(img, centre, radius * _ONE, col, max(1, thickness - 1), cv2.LINE_AA, _SHIFT)


def draw_label(img: np.ndarray, text: str, anchor: tuple[float, float], colour: Colour,
                scale: float) -> None:
    """Centred text just above ``anchor`` (x, y pixels), in ``colour`` with a white outline."""
    thick = max(1, int(round(2 * scale)))
    (tw, th), _ = cv2.getTextSize(text, _FONT, scale, thick)
    x = int(round(anchor[0] - tw / 2))
    y = int(round(anchor[1] - 0.6 * th))
    h, w = img.shape[:2]
    x = min(max(x, 0), max(0, w - tw))
    y = min(max(y, th + 1), h - 1)
    cv2.putText(img, text, (x, y), _FONT, scale, (255, 255, 255), thick + 2, cv2.LINE_AA)
    cv2.putText(img, text, (x, y), _FONT, scale, colour, thick, cv2.LINE_AA)


def label_anchor(kp: np.ndarray) -> tuple[float, float] | None:
    """Where a person's label goes: above the head, else above the topmost finite joint."""
    if np.isfinite(kp[_HEAD]).all():
        top = float(np.nanmin(kp[:, 1]))
        return float(kp[_HEAD, 0]), min(float(kp[_HEAD, 1]), top)
    finite = np.isfinite(kp).all(axis=1)
    if not finite.any():
        return None
    sel = kp[finite]
    i = int(np.argmin(sel[:, 1]))
    return float(sel[i, 0]), float(sel[i, 1])


def draw_text_box(img: np.ndarray, lines: Sequence[str], corner: str = "tl", scale: float | None = None,
                  offset: int = 0, colours: Sequence[Colour] | None = None) -> tuple[int, int, int, int]:
    """Text lines on a darkened box in a corner of ``img`` (in place); returns the box (x0, y0, x1, y1).

    corner: "tl", "tr", "bl" or "br". scale: font scale (default from the image size).
    offset: extra pixels away from the corner vertically (to stack boxes). colours: one text
    colour per line (default white).
    """
    h, w = img.shape[:2]
    if scale is None:
        scale = font_scale_for(w, h)
    thick = max(1, int(round(1.6 * scale)))
    sizes = [cv2.getTextSize(t, _FONT, scale, thick) for t in lines]
    line_h = max((s[0][1] + s[1] for s in sizes), default=0) + max(2, int(round(8 * scale)))
    pad = max(3, int(round(10 * scale)))
    bw = max((s[0][0] for s in sizes), default=0) + 2 * pad
    bh = line_h * len(lines) + pad
    margin = max(2, int(round(12 * scale)))
    x0 = margin if corner[1] == "l" else w - margin - bw
    y0 = margin + offset if corner[0] == "t" else h - margin - bh - offset
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(w, x0 + bw), min(h, y0 + bh)
    if x1 <= x0 or y1 <= y0:
        return x0, y0, x0, y0
    roi = img[y0:y1, x0:x1]
    np.right_shift(roi, 2, out=roi)  # darken to a quarter: readable on any background
    for i, ((_, th), base) in enumerate(sizes):
        y = y0 + pad + i * line_h + th
        colour = (255, 255, 255) if colours is None else colours[i]
        cv2.putText(img, lines[i], (x0 + pad, y), _FONT, scale, colour, thick, cv2.LINE_AA)
    return x0, y0, x1, y1


def format_timecode(seconds: float) -> str:
    """"MM:SS.cc" (or "H:MM:SS.cc" from an hour on) of a time in seconds."""
    cs = int(round(max(0.0, float(seconds)) * 100))
    h, rest = divmod(cs, 360000)
    m, rest = divmod(rest, 6000)
    s, c = divmod(rest, 100)
    return f"{h}:{m:02d}:{s:02d}.{c:02d}" if h else f"{m:02d}:{s:02d}.{c:02d}"


def confidence_legend(scale: float) -> np.ndarray:
    """A small image (h, w, 3) uint8: the confidence colour bar from 0 to 1 with its title."""
    thick = max(1, int(round(1.6 * scale)))
    pad = max(3, int(round(10 * scale)))
    title = "2D confidence"
    (tw, th), base = cv2.getTextSize(title, _FONT, scale, thick)
    (zw, _), _ = cv2.getTextSize("0", _FONT, scale, thick)
    (ow, _), _ = cv2.getTextSize("1", _FONT, scale, thick)
    bar_w = max(tw - zw - ow - 2 * pad, int(round(120 * scale)))
    bar_h = max(6, int(round(14 * scale)))
    w = 2 * pad + zw + pad + bar_w + pad + ow
    w = max(w, tw + 2 * pad)
    h = pad + th + base + pad + bar_h + pad
    img = np.full((h, w, 3), 40, np.uint8)
    cv2.putText(img, title, (pad, pad + th), _FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
    y0 = pad + th + base + pad
    x0 = pad + zw + pad
    lut = np.asarray(_CONF_LUT, dtype=np.uint8)
    idx = np.rint(np.linspace(0, _CONF_LEVELS - 1, bar_w)).astype(np.int64)
    img[y0:y0 + bar_h, x0:x0 + bar_w] = lut[idx][None]
    ty = y0 + bar_h
    cv2.putText(img, "0", (pad, ty), _FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
    cv2.putText(img, "1", (x0 + bar_w + pad, ty), _FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return img


def _paste(img: np.ndarray, patch: np.ndarray, corner: str, offset: int = 0) -> tuple[int, int, int, int]:
    """Copy ``patch`` into a corner of ``img`` (clipped); returns its box (x0, y0, x1, y1)."""
    h, w = img.shape[:2]
    ph, pw = patch.shape[:2]
    margin = max(2, int(round(0.012 * min(w, h))))
    x0 = margin if corner[1] == "l" else w - margin - pw
    y0 = margin + offset if corner[0] == "t" else h - margin - ph - offset
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(w, x0 + pw), min(h, y0 + ph)
    if x1 > x0 and y1 > y0:
        img[y0:y1, x0:x1] = patch[:y1 - y0, :x1 - x0]
    return x0, y0, x1, y1
