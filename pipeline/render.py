"""Drawing poses on video frames: 2D skeletons on the frame and steady, upright 3D views.

Everything is drawn with OpenCV primitives (anti-aliased lines, circles, text) on uint8 BGR
images of shape (H, W, 3); no matplotlib. The joint layout is ``H36M17``
(``posemoe.skeleton``): bones come from its ``parents``, and limbs on the person's left are
drawn in a lighter shade of the track colour, limbs on the right in a darker one, the trunk and
head in the track colour itself. With ``color_by="confidence"`` the joints (2D and 3D) are
coloured by their 2D detector confidence instead (red 0, yellow 0.5, green 1; a legend is
drawn), while the bones keep the track colours.

A 3D view (``SceneView3D``) is planned once for a whole clip, so nothing in it moves unless the
person moves:

* Up direction: per frame and person, the unit vector from the ankles' midpoint to the midpoint
  of thorax and head (camera axes); averaged over the clip, then re-averaged over the vectors
  within 30 degrees of that mean (drops crouching / lying frames). A rotation takes it to the
  view's vertical, so a tilted camera still gives an upright figure.
* Floor: each person stands on the floor: per frame, the lowest joint is put at floor height
  (smoothed over 5 frames). The 3D poses are root-relative, so vertical motion of the whole
  body (a jump) is not recovered; standing on the floor is the better guess for walking,
  running, crouching. ``floor`` keeps the clip's low (2 %) percentile of ankle heights along
  the up direction, in the poses' own root-relative axes.
* Placement: people are placed side by side using their 2D pelvis column in the image: lateral
  offset (metres) = (pelvis x - image centre x) pixels times that person's metres per pixel
  (its median 3D body height over its median 2D body height in the clip); under a pinhole
  camera this is the person's true lateral position. Depth is not recovered (everyone stands
  on the same line across the view).
* Framing: a fixed orthographic camera per view ("oblique": azimuth -60, elevation 15 degrees;
  "front": from the video camera's side, elevation 10; "side": from the right, elevation 10)
  zoomed to the extent of all placed poses over the whole clip (0.1 / 99.9 percentiles, plus
  their footprint on the floor), the same for every frame: no per-frame rescaling. The floor
  grid (0.5 m squares, 1 m on large scenes) covers the people's footprint; a scale bar in
  metres, axis arrows (x: the camera's right, z: away from the camera, up) and the view's
  title are drawn into the panel's fixed background. Every frame's projection is computed
  when the view is planned, in one vectorised pass, so drawing a frame only draws.

``Renderer`` combines them into the output video's frames ("side-by-side", "overlay" or "3d",
with one or more 3D views, optional timecode); ``benchmark_render`` measures its frames per
second on synthetic poses.

Panel layout (``panel_layout``): a 3D panel has the input's height and is square for landscape
input, the frame's own size for portrait input (``min(w, h)`` wide); with two or more 3D views
each panel is 3/4 of that wide. "side-by-side" puts the panels right of the frame, "3d" shows
only the panels, "overlay" stacks smaller insets (40 %) in the frame's top-right corner.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Sequence

import cv2
import numpy as np

from posemoe.errors import PoseMoEError
from posemoe.skeleton import H36M17

Colour = tuple[int, int, int]  # (b, g, r), 0..255

VIEWS: tuple[str, ...] = ("side-by-side", "overlay", "3d")
# 3D view angles: name -> (azimuth, elevation) in degrees of the orthographic viewing direction
VIEWS3D: dict[str, tuple[float, float]] = {"oblique": (-60.0, 15.0), "front": (-90.0, 10.0), "side": (0.0, 10.0)}
COLOR_BY: tuple[str, ...] = ("track", "confidence")

# distinct, saturated BGR colours (none grey, so tracks stand out from the floor grid)
_PALETTE: tuple[Colour, ...] = (
    (225, 125, 35),   # blue
    (30, 135, 245),   # orange
    (55, 175, 45),    # green
    (50, 45, 215),    # red
    (185, 85, 150),   # purple
    (190, 185, 20),   # teal
    (175, 75, 235),   # pink
    (30, 180, 185),   # olive
    (40, 80, 150),    # brown
    (120, 30, 90),    # plum
)

_BONES: tuple[tuple[int, int], ...] = tuple(H36M17.bones())  # (child, parent), 16 bones
_BONE_CHILD = np.array([c for c, _ in _BONES], dtype=np.int64)
_BONE_PARENT = np.array([p for _, p in _BONES], dtype=np.int64)
# side of each joint / bone (a bone takes its child's side): 0 centre, 1 left, 2 right
_JOINT_SIDE = np.zeros(H36M17.num_joints, dtype=np.int64)
_JOINT_SIDE[list(H36M17.joints_left)] = 1
_JOINT_SIDE[list(H36M17.joints_right)] = 2
_BONE_SIDE = _JOINT_SIDE[_BONE_CHILD]
# plain-int copies for the per-frame drawing loops
_BC: list[int] = _BONE_CHILD.tolist()
_BP: list[int] = _BONE_PARENT.tolist()
_BS: list[int] = _BONE_SIDE.tolist()
_JS: list[int] = _JOINT_SIDE.tolist()

_J = H36M17.num_joints
_PELVIS, _THORAX, _HEAD = 0, 8, 10
_R_ANKLE, _L_ANKLE = 3, 6

_SHIFT = 2  # sub-pixel bits for cv2 drawing (coordinates scaled by 4)
_ONE = 1 << _SHIFT

_BG_3D: Colour = (250, 250, 250)
_GRID: Colour = (200, 200, 200)
_GRID_EDGE: Colour = (150, 150, 150)
_INK: Colour = (90, 90, 90)  # text, scale bar and axes in the 3D panels
_PAD: Colour = (0, 0, 0)
_FONT = cv2.FONT_HERSHEY_SIMPLEX

# confidence colour map: 0 red, 0.5 yellow, 1 green (BGR), sampled at _CONF_LEVELS steps
_CONF_LEVELS = 21
_CONF_STOPS = np.array([(40, 40, 225), (0, 210, 255), (50, 185, 40)], dtype=np.float64)


def _conf_lut() -> tuple[Colour, ...]:
    out = []
    for i in range(_CONF_LEVELS):
        t = 2.0 * i / (_CONF_LEVELS - 1)
        k = min(int(t), 1)
        c = _CONF_STOPS[k] + (t - k) * (_CONF_STOPS[k + 1] - _CONF_STOPS[k])
        out.append(tuple(int(round(v)) for v in c))
    return tuple(out)  # type: ignore[return-value]


_CONF_LUT: tuple[Colour, ...] = _conf_lut()


# ----------------------------------------------------------------------------- options


def parse_views3d(views3d: str | Sequence[str] | None) -> tuple[str, ...]:
    """3D view names from "front,side" (or a sequence); default ("oblique",). PoseMoEError if unknown."""
    if views3d is None:
        return ("oblique",)
    items = views3d.split(",") if isinstance(views3d, str) else list(views3d)
    names = tuple(str(v).strip().lower() for v in items if str(v).strip())
    bad = [v for v in names if v not in VIEWS3D]
    if bad or not names:
        raise PoseMoEError(f"--views3d {views3d!r}: expected a comma-separated list of {', '.join(VIEWS3D)}, "
                           f"e.g. front,side")
    if len(set(names)) != len(names):
        raise PoseMoEError(f"--views3d {views3d!r}: each view at most once")
    if len(names) > 3:
        raise PoseMoEError(f"--views3d {views3d!r}: at most 3 views")
    return names


def render_options(color_by: str = "track", timecode: bool = False,
                   views3d: str | Sequence[str] | None = None) -> dict:
    """Checked keyword arguments for ``Renderer`` from the command line's video options."""
    if color_by not in COLOR_BY:
        raise PoseMoEError(f"--color-by {color_by!r}: choose one of {', '.join(COLOR_BY)}")
    return {"color_by": color_by, "timecode": bool(timecode), "views3d": parse_views3d(views3d)}


# ----------------------------------------------------------------------------- colours


def track_colour(track_id: int) -> Colour:
    """The colour (b, g, r) of a track: a fixed 10-colour palette cycled by id (stable per id)."""
    return _PALETTE[int(track_id) % len(_PALETTE)]


def confidence_colour(score: float) -> Colour:
    """The colour (b, g, r) of a 2D confidence in [0, 1]: red at 0, yellow at 0.5, green at 1 (NaN as 0)."""
    s = 0.0 if not np.isfinite(score) else min(1.0, max(0.0, float(score)))
    return _CONF_LUT[int(round(s * (_CONF_LEVELS - 1)))]


def _confidence_index(scores: np.ndarray) -> np.ndarray:
    """Index into _CONF_LUT of every score (any shape; NaN as 0)."""
    s = np.clip(np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0), 0.0, 1.0)
    return np.rint(s * (_CONF_LEVELS - 1)).astype(np.int64)


def _shade(colour: Colour, side: int) -> Colour:
    """The colour of a bone on ``side`` (0 centre, 1 left: lighter, 2 right: darker)."""
    if side == 1:
        return tuple(int(round(c + 0.45 * (255 - c))) for c in colour)  # type: ignore[return-value]
    if side == 2:
        return tuple(int(round(0.55 * c)) for c in colour)  # type: ignore[return-value]
    return tuple(int(c) for c in colour)  # type: ignore[return-value]


def _shades(colour: Colour) -> tuple[Colour, Colour, Colour]:
    return (_shade(colour, 0), _shade(colour, 1), _shade(colour, 2))


def _thickness(width: int, height: int) -> int:
    """Line thickness in pixels for an image of that size (3 at 720p, 1 below ~360 px)."""
    return max(1, int(round(min(width, height) / 240.0)))


def _font_scale(width: int, height: int) -> float:
    """Font scale of labels for an image or panel of that size (0.5 at 720p)."""
    return max(0.4, min(width, height) / 1440.0)


# ----------------------------------------------------------------------------- 2D drawing


def _fixed(x: float) -> int:
    return int(round(x * _ONE))


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
        thickness = _thickness(img.shape[1], img.shape[0])
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


def _draw_label(img: np.ndarray, text: str, anchor: tuple[float, float], colour: Colour,
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


def _label_anchor(kp: np.ndarray) -> tuple[float, float] | None:
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
        scale = _font_scale(w, h)
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


# ----------------------------------------------------------------------------- 3D view


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def estimate_up(keypoints3d: np.ndarray, max_angle_deg: float = 30.0) -> np.ndarray:
    """The up direction (3,) unit vector in the poses' axes, estimated from the poses.

    keypoints3d: (..., 17, 3) H36M17 poses (metres), NaN where absent. Per pose: the unit vector
    from the ankles' midpoint to the midpoint of thorax and head; their mean, then the mean of
    those within ``max_angle_deg`` of it (robust to crouching or lying poses). With no usable
    pose the camera convention's up, (0, -1, 0), is returned.
    """
    k = np.asarray(keypoints3d, dtype=np.float64).reshape(-1, _J, 3)
    v = 0.5 * (k[:, _THORAX] + k[:, _HEAD]) - 0.5 * (k[:, _R_ANKLE] + k[:, _L_ANKLE])
    norm = np.linalg.norm(v, axis=1)
    ok = np.isfinite(norm) & (norm > 1e-6)
    fallback = np.array([0.0, -1.0, 0.0])
    if not ok.any():
        return fallback
    u = v[ok] / norm[ok, None]
    mean = u.mean(axis=0)
    if np.linalg.norm(mean) < 1e-6:
        return fallback
    mean = _unit(mean)
    keep = u @ mean >= math.cos(math.radians(max_angle_deg))
    if keep.sum() >= max(1, 0.2 * len(u)):
        refined = u[keep].mean(axis=0)
        if np.linalg.norm(refined) > 1e-6:
            mean = _unit(refined)
    return mean


def _world_rotation(up: np.ndarray) -> np.ndarray:
    """(3, 3) rotation, rows X (right), Y (away from camera), Z (up) in camera axes.

    Z is ``up``; Y is the camera's forward axis (0, 0, 1) made horizontal (the camera's x axis
    when the camera looks almost straight up or down); X = Y x Z completes a right-handed frame.
    """
    z = _unit(np.asarray(up, dtype=np.float64))
    fwd = np.array([0.0, 0.0, 1.0])
    if abs(fwd @ z) < 0.95:
        y = _unit(fwd - (fwd @ z) * z)
        x = np.cross(y, z)
    else:
        right = np.array([1.0, 0.0, 0.0])
        x = _unit(right - (right @ z) * z)
        y = np.cross(z, x)
    return np.stack([x, y, z])


def _nan_moving_average(x: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average along the last axis ignoring NaNs; NaN stays NaN. x: (P, F)."""
    if window <= 1 or x.shape[-1] == 0:
        return x.copy()
    finite = np.isfinite(x)
    vals = np.where(finite, x, 0.0)
    half = window // 2
    pad = [(0, 0)] * (x.ndim - 1) + [(half + 1, half)]
    cs = np.cumsum(np.pad(vals, pad), axis=-1)
    cn = np.cumsum(np.pad(finite.astype(np.float64), pad), axis=-1)
    s = cs[..., window:] - cs[..., :-window]
    n = cn[..., window:] - cn[..., :-window]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = s / n
    return np.where(finite, out, np.nan)


def _as_size(size: Sequence[int], what: str) -> tuple[int, int]:
    try:
        w, h = (int(size[0]), int(size[1]))
        if len(size) != 2:
            raise ValueError
    except (TypeError, ValueError, IndexError):
        raise PoseMoEError(f"{what}: expected (width, height), found {size!r}") from None
    if w < 8 or h < 8:
        raise PoseMoEError(f"{what}: expected width and height of at least 8 pixels, found {w}x{h}")
    return w, h


def _nice_length(limit: float) -> float:
    """The largest of 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 20, 50 m not above ``limit`` (at least 0.1)."""
    best = 0.1
    for v in (0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0):
        if v <= limit:
            best = v
    return best


def _metres(v: float) -> str:
    return f"{v:g} m" if v >= 1 else f"{int(round(v * 100))} cm"


class SceneView3D:
    """A steady, upright 3D view of all people of one clip, planned once from all its poses.

    keypoints3d: (P, F, 17, 3) root-relative poses (metres, camera axes x right, y down,
    z forward), NaN where a person is absent. keypoints2d: optional (P, F, 17, 2) pixel
    keypoints, used only to place people side by side (their pelvis column); with
    ``image_size`` (w, h). track_ids: (P,) ints for the colours (default 0..P-1).
    azimuth_deg / elevation_deg: the viewing direction; default from ``view`` ("oblique",
    "front" or "side", see ``VIEWS3D``). grid_spacing: floor grid squares in metres (default
    0.5, 1 when the people's footprint spans more than 8 m).

    Keyword-only: up: the up direction (3,) in camera axes (default estimated from the poses;
    pass one to give several views the same). colours: one colour per person instead of the
    track colours. joint_scores: (P, F, 17) 2D confidences: colour the joints by them.
    title: the text in the panel's top-left corner (default "3D <view>"); ``font_scale`` (an
    attribute, default from the panel's size) sets its size and the labels'. ground: stand each
    person on the floor every frame (default) rather than keeping the pelvis at a fixed height.

    The up direction, floor, per-frame placement, scale and framing are fixed at construction
    (see the module docstring); every frame's projection is computed then too, in one
    vectorised pass, so ``render`` / ``draw`` only draw. ``share_framing`` gives several views
    one scale, framing and grid.
    """

    def __init__(self, keypoints3d: np.ndarray, keypoints2d: np.ndarray | None = None,
                 image_size: Sequence[int] | None = None, track_ids: Sequence[int] | None = None,
                 azimuth_deg: float | None = None, elevation_deg: float | None = None,
                 grid_spacing: float | None = None, floor_percentile: float = 2.0, *,
                 view: str = "oblique", up: np.ndarray | None = None,
                 colours: Sequence[Colour] | None = None, joint_scores: np.ndarray | None = None,
                 title: str | None = None, ground: bool = True) -> None:
        k3 = np.asarray(keypoints3d, dtype=np.float64)
        if k3.ndim != 4 or k3.shape[2:] != (_J, 3):
            raise PoseMoEError(f"keypoints3d: expected shape (P, F, 17, 3), found {k3.shape}")
        if view not in VIEWS3D:
            raise PoseMoEError(f"3D view: expected one of {', '.join(VIEWS3D)}, found {view!r}")
        n_people, n_frames = k3.shape[:2]
        if track_ids is None:
            track_ids = list(range(n_people))
        ids = np.asarray(track_ids).reshape(-1)
        if len(ids) != n_people:
            raise PoseMoEError(f"track_ids: expected {n_people} ids (one per person), found {len(ids)}")
        self.num_people, self.num_frames = n_people, n_frames
        self.track_ids = [int(t) for t in ids]
        self.view_name = view
        self.title = f"3D {view}" if title is None else str(title)
        if colours is not None:
            colours = [tuple(int(c) for c in col) for col in colours]
            if len(colours) != n_people:
                raise PoseMoEError(f"colours: expected {n_people} colours (one per person), found {len(colours)}")
        base = colours if colours is not None else [track_colour(t) for t in self.track_ids]
        self._shades = [_shades(c) for c in base]
        self._joint_lut: np.ndarray | None = None
        if joint_scores is not None:
            js = np.asarray(joint_scores, dtype=np.float64)
            if js.shape != (n_people, n_frames, _J):
                raise PoseMoEError(f"joint_scores: expected shape {(n_people, n_frames, _J)}, found {js.shape}")
            self._joint_lut = _confidence_index(js)
        self._fixed_spacing = None if grid_spacing is None else float(grid_spacing)
        self.font_scale: float | None = None  # text size in the panel; default from the panel's size

        # up direction and world frame (X right, Y away, Z up; origin at each person's pelvis)
        self.up = estimate_up(k3) if up is None else _unit(np.asarray(up, dtype=np.float64))
        self.rotation = _world_rotation(self.up)
        world = k3 @ self.rotation.T  # (P, F, 17, 3)

        # floor: a low percentile of ankle heights (root-relative); people stand on it
        ankles = world[:, :, [_R_ANKLE, _L_ANKLE], 2]
        ankles = ankles[np.isfinite(ankles)]
        self.floor = float(np.percentile(ankles, floor_percentile)) if ankles.size else -0.9
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices of absent frames
            lowest = np.nanmin(world[..., 2], axis=-1) if n_frames else np.zeros((n_people, 0))
        if ground:
            lowest = np.round(_nan_moving_average(lowest, 5), 6)  # (rounded: no float noise between frames)
            self.heights = -np.where(np.isfinite(lowest), lowest, self.floor)  # (P, F) pelvis height
        else:
            self.heights = np.full((n_people, n_frames), -self.floor)
        world[..., 2] += self.heights[:, :, None]  # floor at Z = 0

        # side-by-side placement from the 2D pelvis column
        self.offsets = self._placement(world, keypoints2d, image_size)  # (P, F) metres along X
        world[..., 0] += self.offsets[:, :, None]

        # fixed orthographic camera
        az0, el0 = VIEWS3D[view]
        az = math.radians(az0 if azimuth_deg is None else azimuth_deg)
        el = math.radians(el0 if elevation_deg is None else elevation_deg)
        eye = np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
        right = np.array([-math.sin(az), math.cos(az), 0.0])
        screen_up = np.cross(eye, right)
        self._view = np.stack([right, screen_up])  # (2, 3) world -> view (metres)
        self._eye = eye

        self._present_joint = np.isfinite(world).all(axis=-1)  # (P, F, 17)
        world = np.where(self._present_joint[..., None], world, 0.0)
        self._uv = world @ self._view.T  # (P, F, 17, 2) metres, v up
        depth = -(world @ eye)  # larger = further from the viewer
        self._present = self._present_joint.any(axis=-1)  # (P, F)

        # painter's order: bones far to near per (person, frame); people far to near per frame
        bone_ok = self._present_joint[..., _BONE_CHILD] & self._present_joint[..., _BONE_PARENT]
        bone_depth = 0.5 * (depth[..., _BONE_CHILD] + depth[..., _BONE_PARENT])
        self._bone_order = np.argsort(-np.where(bone_ok, bone_depth, -np.inf), axis=-1, kind="stable")
        self._bone_ok = bone_ok
        jcount = np.maximum(self._present_joint.sum(-1), 1)
        person_depth = np.where(self._present, (depth * self._present_joint).sum(-1) / jcount, -np.inf)
        self._person_order = np.argsort(-person_depth.T, axis=-1, kind="stable")  # (F, P)

        self._plan_extent(world)
        self._cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, dict]] = {}

    # -- planning ----------------------------------------------------------------------------

    def _placement(self, world: np.ndarray, keypoints2d: np.ndarray | None,
                   image_size: Sequence[int] | None) -> np.ndarray:
        """(P, F) lateral offsets (metres along X) from the 2D pelvis columns; 0 without 2D."""
        n_people, n_frames = world.shape[:2]
        offsets = np.zeros((n_people, n_frames))
        if keypoints2d is None or image_size is None or n_people == 0:
            return offsets
        k2 = np.asarray(keypoints2d, dtype=np.float64)
        if k2.shape != (n_people, n_frames, _J, 2):
            raise PoseMoEError(
                f"keypoints2d: expected shape ({n_people}, {n_frames}, 17, 2) to match keypoints3d, found {k2.shape}"
            )
        width, _ = _as_size(image_size, "image_size")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices of absent frames
            root_x = k2[:, :, _PELVIS, 0]
            root_x = np.where(np.isfinite(root_x), root_x, np.nanmean(k2[..., 0], axis=-1))
            root_x = _nan_moving_average(root_x, 5)
            px_height = np.nanmax(k2[..., 1], axis=-1) - np.nanmin(k2[..., 1], axis=-1)  # (P, F)
            m_height = np.nanmax(world[..., 2], axis=-1) - np.nanmin(world[..., 2], axis=-1)
            for p in range(n_people):
                hp = px_height[p][np.isfinite(px_height[p]) & (px_height[p] > 1.0)]
                hm = m_height[p][np.isfinite(m_height[p]) & (m_height[p] > 0.05)]
                if hp.size == 0:
                    continue
                metres_per_px = (float(np.median(hm)) if hm.size else 1.7) / float(np.median(hp))
                off = (root_x[p] - 0.5 * width) * metres_per_px
                finite = np.isfinite(off)
                if finite.any():
                    offsets[p] = np.where(finite, off, float(np.median(off[finite])))
        return offsets

    def _plan_extent(self, world: np.ndarray) -> None:
        """The people's floor footprint (world X, Y) and view-space bounding box (metres) over the clip."""
        pts = world[self._present_joint]  # (N, 3)
        if len(pts):
            foot_lo = np.percentile(pts[:, :2], 1.0, axis=0)
            foot_hi = np.percentile(pts[:, :2], 99.0, axis=0)
            puv = pts @ self._view.T
            shadow = pts.copy()
            shadow[:, 2] = 0.0  # the footprint on the floor: the feet never sit at the very edge
            suv = shadow @ self._view.T
            lo = np.minimum(np.percentile(puv, 0.1, axis=0), np.percentile(suv, 0.5, axis=0))
            hi = np.maximum(np.percentile(puv, 99.9, axis=0), np.percentile(suv, 99.5, axis=0))
            lo, hi = lo - 0.08, hi + 0.08
        else:  # nobody: a 2 m x 2 m floor and a person's height above it
            foot_lo, foot_hi = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
            box = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (0.0, 1.8)]) @ self._view.T
            lo, hi = box.min(axis=0), box.max(axis=0)
        self._foot = (foot_lo, foot_hi)
        self._uv_lo, self._uv_hi = lo, hi
        self._plan_grid(foot_lo, foot_hi, self._fixed_spacing)

    def _plan_grid(self, foot_lo: np.ndarray, foot_hi: np.ndarray, spacing: float | None) -> None:
        """Floor grid lines (world, Z = 0) over the footprint plus a margin, at least 2 m x 2 m."""
        span = float(np.max(foot_hi - foot_lo))
        s = spacing if spacing is not None else (0.5 if span <= 8.0 else 1.0 if span <= 16.0 else 2.0)
        centre = 0.5 * (foot_lo + foot_hi)
        lo = np.minimum(foot_lo - 0.6, centre - 1.0)
        hi = np.maximum(foot_hi + 0.6, centre + 1.0)
        lo = np.floor(lo / s) * s
        hi = np.ceil(hi / s) * s
        xs = np.arange(lo[0], hi[0] + 0.5 * s, s)
        ys = np.arange(lo[1], hi[1] + 0.5 * s, s)
        segs = [((x, lo[1], 0.0), (x, hi[1], 0.0)) for x in xs] + [((lo[0], y, 0.0), (hi[0], y, 0.0)) for y in ys]
        self._grid = np.asarray(segs, dtype=np.float64)  # (L, 2, 3)
        self._grid_edge = [True] + [False] * (len(xs) - 2) + [True] + [True] + [False] * (len(ys) - 2) + [True]
        self.grid_spacing = s

    # -- per output size ---------------------------------------------------------------------

    def _font(self, size: tuple[int, int]) -> float:
        return self.font_scale if self.font_scale else _font_scale(*size)

    def _mapping(self, size: tuple[int, int]) -> tuple[float, np.ndarray]:
        """Pixels per metre and the view-space point at the panel's centre for ``size``."""
        w, h = size
        margin = 0.05 * min(w, h)
        top = margin + 18.0 * self._font(size)  # room for the labels above the heads
        span = np.maximum(self._uv_hi - self._uv_lo, 1e-3)
        scale = min((w - 2 * margin) / span[0], (h - margin - top) / span[1])
        centre = 0.5 * (self._uv_lo + self._uv_hi)
        centre = centre + np.array([0.0, 0.5 * (top - margin) / scale])
        return float(scale), centre

    def _to_pixels(self, uv: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        scale, centre = self._mapping(size)
        w, h = size
        px = np.empty(uv.shape, dtype=np.float64)
        px[..., 0] = 0.5 * w + scale * (uv[..., 0] - centre[0])
        px[..., 1] = 0.5 * h - scale * (uv[..., 1] - centre[1])
        return px

    def _draw_decorations(self, bg: np.ndarray, size: tuple[int, int]) -> None:
        """Title (top left), scale bar (bottom left) and axis arrows (bottom right)."""
        w, h = size
        scale, _ = self._mapping(size)
        fs = self._font(size)
        thick = max(1, int(round(1.6 * fs)))
        m = max(4, int(round(0.03 * min(w, h))))
        (_, th), base = cv2.getTextSize("Ag", _FONT, fs, thick)
        if self.title:
            title = self.title
            while len(title) > 4 and cv2.getTextSize(title, _FONT, fs, thick)[0][0] > w - 2 * m:
                title = title[:-4] + "..."
            cv2.putText(bg, title, (m, m + th), _FONT, fs, _INK, thick, cv2.LINE_AA)
        # scale bar: one grid square if that fits in 40 % of the width, else a round length below 30 %
        length = self.grid_spacing if self.grid_spacing * scale <= 0.4 * w else _nice_length(0.3 * w / scale)
        bar = length * scale
        y = h - m - base
        x0, x1 = m, m + bar
        lw = max(1, thick)
        tick = max(3, int(round(6 * fs)))
        cv2.line(bg, (_fixed(x0), _fixed(y)), (_fixed(x1), _fixed(y)), _INK, lw, cv2.LINE_AA, _SHIFT)
        for x in (x0, x1):
            cv2.line(bg, (_fixed(x), _fixed(y - tick)), (_fixed(x), _fixed(y)), _INK, lw, cv2.LINE_AA, _SHIFT)
        label = _metres(length) if length == self.grid_spacing else \
            f"{_metres(length)}  (grid {_metres(self.grid_spacing)})"
        cv2.putText(bg, label, (m, int(round(y - tick - 4))), _FONT, fs, _INK, thick, cv2.LINE_AA)
        # axis arrows: the camera's x (right), z (away) and up, as this view sees them
        arm = max(12.0, 0.07 * min(w, h))
        origin = np.array([w - m - arm - 2.5 * th, h - m - base - 0.3 * arm])
        for axis, name in ((np.array([1.0, 0.0, 0.0]), "x"), (np.array([0.0, 1.0, 0.0]), "z"),
                           (np.array([0.0, 0.0, 1.0]), "up")):
            d = self._view @ axis
            if np.hypot(*d) < 0.25:
                continue  # seen end-on: skip
            tip = origin + arm * np.array([d[0], -d[1]])
            cv2.arrowedLine(bg, (_fixed(origin[0]), _fixed(origin[1])), (_fixed(tip[0]), _fixed(tip[1])), _INK,
                            lw, cv2.LINE_AA, _SHIFT, 0.2)
            (tw, _), _ = cv2.getTextSize(name, _FONT, 0.85 * fs, thick)
            tx = tip[0] + (4 if d[0] >= 0 else -tw - 4)
            ty = tip[1] + (th if d[1] < -0.3 else 0 if d[1] > 0.3 else th // 2)
            cv2.putText(bg, name, (int(round(tx)), int(round(ty))), _FONT, 0.85 * fs, _INK, thick, cv2.LINE_AA)

    def _prepared(self, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, dict]:
        """(background image, fixed-point pixel coords (P, F, 17, 2) int32, drawing params)."""
        hit = self._cache.get(size)
        if hit is not None:
            return hit
        w, h = size
        bg = np.empty((h, w, 3), dtype=np.uint8)
        bg[:] = _BG_3D
        thick = _thickness(w, h)
        grid_px = self._to_pixels(self._grid @ self._view.T, size)
        for (a, b), edge in zip(grid_px, self._grid_edge):
            cv2.line(bg, (_fixed(a[0]), _fixed(a[1])), (_fixed(b[0]), _fixed(b[1])),
                     _GRID_EDGE if edge else _GRID, 1, cv2.LINE_AA, _SHIFT)
        self._draw_decorations(bg, size)
        pix = np.rint(self._to_pixels(self._uv, size) * _ONE)
        pix = np.clip(pix, -(2**28), 2**28).astype(np.int32)
        radius = thick + (2 if self._joint_lut is not None else 1)
        params = {"thickness": thick, "radius": radius, "font": self._font(size)}
        if len(self._cache) > 8:
            self._cache.clear()
        self._cache[size] = (bg, pix, params)
        return bg, pix, params

    # -- public ------------------------------------------------------------------------------

    def content_aspect(self) -> float:
        """Width over height of what the view shows (the people over the clip, with margins)."""
        span = np.maximum(self._uv_hi - self._uv_lo, 1e-3)
        return float(span[0] / span[1])

    def pixels_per_metre(self, size: Sequence[int]) -> float:
        """The fixed scale of a view of ``size`` (w, h): pixels per metre, the same on every frame."""
        return self._mapping(_as_size(size, "3D view size"))[0]

    def background(self, size: Sequence[int]) -> np.ndarray:
        """A new (h, w, 3) uint8 image of the empty view (floor grid, title, scale bar, axes)."""
        return self._prepared(_as_size(size, "3D view size"))[0].copy()

    def project(self, frame_index: int, size: Sequence[int]) -> np.ndarray:
        """(P, 17, 2) pixel coordinates (x, y) of every joint in a view of ``size`` (w, h); NaN if absent."""
        size = _as_size(size, "3D view size")
        f = self._check_frame(frame_index)
        px = self._to_pixels(self._uv[:, f], size)
        return np.where(self._present_joint[:, f, :, None], px, np.nan)

    def project_world(self, points: np.ndarray, size: Sequence[int]) -> np.ndarray:
        """(..., 2) pixel coordinates of world points (..., 3) (metres; X right, Y away, Z up, floor Z = 0)."""
        size = _as_size(size, "3D view size")
        return self._to_pixels(np.asarray(points, dtype=np.float64) @ self._view.T, size)

    def render(self, frame_index: int, size: Sequence[int] = (720, 720), labels: bool = True) -> np.ndarray:
        """A new (h, w, 3) uint8 BGR image of the view at ``frame_index``: every present person."""
        size = _as_size(size, "3D view size")
        canvas = self._prepared(size)[0].copy()
        self.draw(canvas, frame_index, labels=labels)
        return canvas

    def draw(self, canvas: np.ndarray, frame_index: int, labels: bool = True) -> None:
        """Draw the people of ``frame_index`` onto ``canvas`` (h, w, 3), which holds the background."""
        size = (canvas.shape[1], canvas.shape[0])
        f = self._check_frame(frame_index)
        _, pix, prm = self._prepared(size)
        thick, radius = prm["thickness"], prm["radius"] * _ONE
        line, circle, aa = cv2.line, cv2.circle, cv2.LINE_AA
        lut = self._joint_lut
        for p in self._person_order[f].tolist():
            if not self._present[p, f]:
                continue
            pts = [tuple(q) for q in pix[p, f].tolist()]
            shades = self._shades[p]
            ok = self._bone_ok[p, f].tolist()
            for b in self._bone_order[p, f].tolist():
                if ok[b]:
                    line(canvas, pts[_BC[b]], pts[_BP[b]], shades[_BS[b]], thick, aa, _SHIFT)
            present = self._present_joint[p, f]
            if lut is None:
                for j, here in enumerate(present.tolist()):
                    if here:
                        circle(canvas, pts[j], radius, shades[_JS[j]], -1, aa, _SHIFT)
            else:
                for j, (here, k) in enumerate(zip(present.tolist(), lut[p, f].tolist())):
                    if here:
                        circle(canvas, pts[j], radius, _CONF_LUT[k], -1, aa, _SHIFT)
            if labels:
                top = pix[p, f][present]
                i = int(np.argmin(top[:, 1]))
                anchor = (top[i, 0] / _ONE, top[i, 1] / _ONE - radius / _ONE)
                _draw_label(canvas, f"#{self.track_ids[p]}", anchor, shades[0], prm["font"])

    def _check_frame(self, frame_index: int) -> int:
        f = int(frame_index)
        if not 0 <= f < self.num_frames:
            raise PoseMoEError(f"frame index: expected 0..{self.num_frames - 1}, found {frame_index}")
        return f


def share_framing(views: Sequence[SceneView3D]) -> None:
    """Give views of the same angle one framing: the union of their extents and one floor grid.

    For side-by-side comparisons (two results of one clip), so equal poses look equal. Build the
    views with the same ``up`` (e.g. ``estimate_up`` of both clips' poses) for the same axes.
    """
    views = list(views)
    if len(views) < 2:
        return
    lo = np.min([v._uv_lo for v in views], axis=0)
    hi = np.max([v._uv_hi for v in views], axis=0)
    foot_lo = np.min([v._foot[0] for v in views], axis=0)
    foot_hi = np.max([v._foot[1] for v in views], axis=0)
    spacing = max(v.grid_spacing for v in views)
    for v in views:
        v._uv_lo, v._uv_hi = lo.copy(), hi.copy()
        v._foot = (foot_lo.copy(), foot_hi.copy())
        v._plan_grid(foot_lo, foot_hi, spacing)
        v._cache.clear()


# ----------------------------------------------------------------------------- renderer


def _even(n: int) -> int:
    return n + (n % 2)


def panel_layout(image_size: Sequence[int], view: str = "side-by-side", n_views: int = 1,
                 aspects: Sequence[float] | None = None
                 ) -> tuple[tuple[int, int], list[tuple[int, int, int, int]]]:
    """Where the 3D panels go: ((out_w, out_h), [(x, y, w, h) per panel]); both output sides even.

    A panel has the input's height h. Its width is ``min(w, h)`` (square for landscape input,
    the frame's own shape for portrait), 3/4 of that with two or more views; given the views'
    content ``aspects`` (width / height of what they show, ``SceneView3D.content_aspect``), a
    panel widens up to h (square) to fit content wider than that. "side-by-side": the frame at
    (0, 0), then the panels to its right; "3d": only the panels, left to right; "overlay": the
    frame, with the panels shrunk to at most 40 % of it and stacked in its top-right corner.
    """
    w, h = _as_size(image_size, "image_size")
    if view not in VIEWS:
        raise PoseMoEError(f"view: expected one of {', '.join(VIEWS)}, found {view!r}")
    n = max(1, int(n_views))
    lo = min(w, h) if n == 1 else 0.75 * min(w, h)
    fs = _font_scale(w, h)
    widths = []
    for i in range(n):
        a = None if aspects is None or i >= len(aspects) else aspects[i]
        want = lo if a is None or not np.isfinite(a) else a * (h - 18 * fs) / (0.9 + 0.1 * a)
        widths.append(_even(max(16, int(round(min(max(want, lo), h))))))
    ph = _even(h)
    xs = np.concatenate([[0], np.cumsum(widths)]).astype(int).tolist()
    if view == "side-by-side":
        return (_even(w + xs[-1]), ph), [(w + xs[i], 0, widths[i], ph) for i in range(n)]
    if view == "3d":
        return (xs[-1], ph), [(xs[i], 0, widths[i], ph) for i in range(n)]
    margin = max(2, int(round(0.015 * min(w, h))))
    s = min(0.4, 0.4 * w / max(widths), (h - (n + 1) * margin) / (n * ph))
    out = []
    y = margin
    for pw in widths:
        iw, ih = _even(max(16, int(pw * s))), _even(max(16, int(ph * s)))
        out.append((max(0, w - iw - margin), y, iw, ih))
        y += ih + margin
    return (_even(w), _even(h)), out



def draw_panels(out: np.ndarray, scenes: Sequence, backgrounds: Sequence, panels: Sequence, frame: int) -> int:
    """Fill each 3D panel (x, y, w, h) of `out` with its background and draw its scene at `frame`;
    returns the right edge of the rightmost panel."""
    x_end = 0
    for scene, bg, (x, y, pw, ph) in zip(scenes, backgrounds, panels):
        panel = out[y:y + ph, x:x + pw]
        panel[:] = bg
        scene.draw(panel, frame)
        x_end = max(x_end, x + pw)
    return x_end

class Renderer:
    """Output-video frames for one clip: 2D skeletons on the frame and/or 3D views.

    keypoints2d: (P, F, 17, 2) pixels; scores2d: (P, F, 17); keypoints3d: (P, F, 17, 3) metres,
    root-relative, camera axes; NaN where a person is absent. track_ids: (P,) ints.
    image_size: (w, h) of the input frames. view: "side-by-side" (the frame, then the 3D panels),
    "overlay" (the frame with 3D insets in the top-right corner) or "3d" (only the 3D panels);
    see ``panel_layout``. Output width and height are even (H.264), padded with black.

    Keyword-only options: views3d: the 3D view angles, one panel each (``VIEWS3D``: "oblique",
    "front", "side"; default ("oblique",)). color_by: "track" (default) or "confidence" (joints
    coloured by their 2D confidence, with a legend). timecode: draw "frame N  MM:SS.cc" in the
    top-left corner (with ``fps``; the top-right of the last panel in the "3d" view).
    frame_numbers / times: (F,) frame numbers and seconds shown by the timecode (default the
    render index and index / fps).
    """

    def __init__(self, keypoints2d: np.ndarray, scores2d: np.ndarray, keypoints3d: np.ndarray,
                 track_ids: Sequence[int], image_size: Sequence[int], view: str = "side-by-side",
                 joint_threshold: float = 0.3, *, views3d: str | Sequence[str] | None = None,
                 color_by: str = "track", timecode: bool = False, fps: float | None = None,
                 frame_numbers: Sequence[int] | None = None, times: Sequence[float] | None = None) -> None:
        if view not in VIEWS:
            raise PoseMoEError(f"view: expected one of {', '.join(VIEWS)}, found {view!r}")
        opts = render_options(color_by, timecode, views3d)
        k2 = np.asarray(keypoints2d, dtype=np.float64)
        s2 = np.asarray(scores2d, dtype=np.float64)
        k3 = np.asarray(keypoints3d, dtype=np.float64)
        if k2.ndim != 4 or k2.shape[2:] != (_J, 2):
            raise PoseMoEError(f"keypoints2d: expected shape (P, F, 17, 2), found {k2.shape}")
        if s2.shape != k2.shape[:3]:
            raise PoseMoEError(f"scores2d: expected shape {k2.shape[:3]} to match keypoints2d, found {s2.shape}")
        if k3.shape != k2.shape[:3] + (3,):
            raise PoseMoEError(
                f"keypoints3d: expected shape {k2.shape[:3] + (3,)} to match keypoints2d, found {k3.shape}"
            )
        ids = [int(t) for t in np.asarray(track_ids).reshape(-1)]
        if len(ids) != k2.shape[0]:
            raise PoseMoEError(f"track_ids: expected {k2.shape[0]} ids (one per person), found {len(ids)}")
        self.image_size = _as_size(image_size, "image_size")
        self.view = view
        self.views3d: tuple[str, ...] = opts["views3d"]
        self.color_by: str = opts["color_by"]
        self.timecode: bool = opts["timecode"]
        self.fps = float(fps) if fps else None
        self.joint_threshold = float(joint_threshold)
        self.track_ids = ids
        self.num_frames = k2.shape[1]
        n = self.num_frames
        self._frame_numbers = (np.arange(n) if frame_numbers is None
                               else np.asarray(frame_numbers, dtype=np.int64).reshape(-1))
        self._times = None if times is None else np.asarray(times, dtype=np.float64).reshape(-1)
        if len(self._frame_numbers) != n or (self._times is not None and len(self._times) != n):
            raise PoseMoEError(f"frame_numbers / times: expected {n} values (one per frame)")
        self._k2 = k2
        self._s2 = s2
        self._present2d = np.isfinite(k2).all(-1).any(-1)  # (P, F)
        self._colours = [track_colour(t) for t in ids]
        by_conf = self.color_by == "confidence"
        self._conf_idx = _confidence_index(s2) if by_conf else None
        up = estimate_up(k3)
        self.scenes = [SceneView3D(k3, k2, self.image_size, ids, view=v, up=up,
                                   joint_scores=s2 if by_conf else None) for v in self.views3d]
        self.scene = self.scenes[0]
        if view != "overlay":  # the same text size in every panel and on the frame
            for sc in self.scenes:
                sc.font_scale = _font_scale(*self.image_size)

        w, h = self.image_size
        self._thickness = _thickness(w, h)
        self._font = max(0.4, min(w, h) / 1440.0)
        self._output_size, self._panels = panel_layout(self.image_size, view, len(self.scenes),
                                                       [sc.content_aspect() for sc in self.scenes])
        self._panel = self._panels[0][2:]
        self._panel_bgs = []
        for i, (scene, (_, _, pw, ph)) in enumerate(zip(self.scenes, self._panels)):
            bg = scene.background((pw, ph))
            if view == "overlay":  # a thin frame around the inset
                cv2.rectangle(bg, (0, 0), (pw - 1, ph - 1), _GRID_EDGE, 1)
            elif i > 0:  # a line between neighbouring panels
                bg[:, :max(1, self._thickness // 2)] = _GRID_EDGE
            self._panel_bgs.append(bg)
        self._panel_bg = self._panel_bgs[0]
        self._legend = confidence_legend(_font_scale(w, h)) if by_conf else None

    @property
    def output_size(self) -> tuple[int, int]:
        """(width, height) of every rendered frame; both even."""
        return self._output_size

    def timecode_text(self, frame_index: int) -> str:
        """The timecode of render index ``frame_index``: "frame N" plus "MM:SS.cc" when the time is known."""
        f = int(frame_index)
        text = f"frame {int(self._frame_numbers[f])}"
        t = self._times[f] if self._times is not None else (f / self.fps if self.fps else None)
        return f"{text}  {format_timecode(t)}" if t is not None else text

    def render(self, frame_bgr: np.ndarray | None, frame_index: int) -> np.ndarray:
        """The output frame (H, W, 3) uint8 of ``output_size`` for input frame ``frame_index``.

        frame_bgr: the input frame (h, w, 3) uint8 BGR of ``image_size``; not modified; may be
        None for the "3d" view.
        """
        f = self.scene._check_frame(frame_index)
        out_w, out_h = self._output_size
        out = np.empty((out_h, out_w, 3), dtype=np.uint8)
        w, h = self.image_size
        if self.view != "3d":
            frame = np.asarray(frame_bgr) if frame_bgr is not None else None
            if frame is None or frame.shape != (h, w, 3) or frame.dtype != np.uint8:
                found = "None" if frame is None else f"{frame.shape} {frame.dtype}"
                raise PoseMoEError(f"frame {f}: expected a ({h}, {w}, 3) uint8 BGR image, found {found}")
            out[:h, :w] = frame
            if out_h > h:
                out[h:] = _PAD
            view = out[:h, :w]
            lut = self._conf_idx
            for p in range(len(self.track_ids)):
                if not self._present2d[p, f]:
                    continue
                kp = self._k2[p, f]
                joint_colours = None if lut is None else [_CONF_LUT[k] for k in lut[p, f].tolist()]
                draw_skeleton_2d(view, kp, self._s2[p, f], self._colours[p], self.joint_threshold,
                                 self._thickness, joint_colours)
                anchor = _label_anchor(kp)
                if anchor is not None:
                    anchor = (anchor[0], anchor[1] - self._thickness - 2)
                    _draw_label(view, f"#{self.track_ids[p]}", anchor, self._colours[p], self._font)
            if self.timecode:
                draw_text_box(view, [self.timecode_text(f)], "tl")
            if self._legend is not None:
                _paste(view, self._legend, "bl")
        x_end = draw_panels(out, self.scenes, self._panel_bgs, self._panels, f)
        if self.view == "side-by-side" and out_w > x_end:
            out[:, x_end:] = _PAD
        if self.view == "3d":
            x, y, pw, ph = self._panels[-1]
            last = out[y:y + ph, x:x + pw]
            offset = 0
            if self.timecode:
                offset = draw_text_box(last, [self.timecode_text(f)], "tr")[3] + 2
            if self._legend is not None:
                _paste(last, self._legend, "tr", offset)
        return out


# ----------------------------------------------------------------------------- benchmark

# bone offsets (metres) of a person facing the camera, camera axes (x right, y down, z forward)
_STAND = {
    1: (-0.13, 0.0, 0.0), 2: (0.0, 0.44, 0.0), 3: (0.0, 0.44, 0.0),
    4: (0.13, 0.0, 0.0), 5: (0.0, 0.44, 0.0), 6: (0.0, 0.44, 0.0),
    7: (0.0, -0.23, 0.0), 8: (0.0, -0.25, 0.0), 9: (0.0, -0.11, -0.03), 10: (0.0, -0.12, 0.0),
    11: (0.17, 0.02, 0.0), 12: (0.0, 0.28, 0.0), 13: (0.0, 0.25, 0.0),
    14: (-0.17, 0.02, 0.0), 15: (0.0, 0.28, 0.0), 16: (0.0, 0.25, 0.0),
}
_SWING = {2: 1.0, 5: -1.0, 12: -0.7, 15: 0.7}


def _synthetic_clip(n_frames: int, size: tuple[int, int], people: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Walking-in-place people: (P, F, 17, 2) pixels, (P, F, 17) scores, (P, F, 17, 3) metres, (P,) ids."""
    w, h = size
    k3 = np.zeros((people, n_frames, _J, 3))
    for f in range(n_frames):
        a = 0.5 * np.sin(2 * np.pi * f / 30.0)
        for j in range(1, _J):
            off = np.array(_STAND[j])
            s = _SWING.get(j, _SWING.get(H36M17.parents[j], 0.0)) * a
            if s:
                c, si = math.cos(s), math.sin(s)
                off = np.array([[1, 0, 0], [0, c, -si], [0, si, c]]) @ off
            k3[:, f, j] = k3[:, f, H36M17.parents[j]] + off
    focal = 1.2 * w
    k2 = np.empty((people, n_frames, _J, 2))
    for p in range(people):
        root = np.array([(p - (people - 1) / 2) * 1.2, 0.0, 5.0])
        cam = k3[p] + root
        k2[p] = focal * cam[..., :2] / cam[..., 2:] + np.array([w / 2, h / 2])
    scores = np.full((people, n_frames, _J), 0.9)
    return k2, scores, k3, np.arange(people)


def benchmark_render(n_frames: int = 200, size: Sequence[int] = (1280, 720), people: int = 1,
                     view: str = "side-by-side", **options) -> dict:
    """Frames per second of ``Renderer.render`` on synthetic walking poses.

    options: ``Renderer``'s keyword options (views3d, color_by, timecode, fps).
    Returns {"view", "size" [w, h], "output_size", "people", "frames", "setup_s" (constructing
    the renderer: planning and projecting the clip), "render_s", "fps" (frames / render_s)}.
    """
    size = _as_size(size, "benchmark size")
    if n_frames < 1 or people < 0:
        raise PoseMoEError(f"benchmark: expected n_frames >= 1 and people >= 0, found {n_frames} and {people}")
    k2, s2, k3, ids = _synthetic_clip(n_frames, size, people)
    w, h = size
    frame = np.empty((h, w, 3), dtype=np.uint8)
    frame[:] = np.linspace(40, 200, w, dtype=np.uint8)[None, :, None]
    t0 = time.perf_counter()
    renderer = Renderer(k2, s2, k3, ids, size, view=view, **options)
    t1 = time.perf_counter()
    for f in range(n_frames):
        renderer.render(frame, f)
    t2 = time.perf_counter()
    return {"view": view, "size": [w, h], "output_size": list(renderer.output_size), "people": people,
            "frames": n_frames, "setup_s": t1 - t0, "render_s": t2 - t1, "fps": n_frames / (t2 - t1)}
