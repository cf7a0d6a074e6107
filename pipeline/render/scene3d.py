"""The steady, upright 3D view of a clip (``SceneView3D``): planned once, then only drawn.

A 3D view is planned once for a whole clip, so nothing in it moves unless the person moves:

* Up direction: per frame and person, the unit vector from the ankles' midpoint to the midpoint
  of thorax and head (camera axes); averaged over the clip, then re-averaged over the vectors
  within 30 degrees of that mean (drops crouching / lying frames): ``estimate_up`` of
  ``posemoe.trajectory``. A rotation takes it to the view's vertical, so a tilted camera still
  gives an upright figure.
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
* Framing: a fixed orthographic camera per view (``VIEWS3D``: "oblique": azimuth -60, elevation
  15 degrees; "front": from the video camera's side, elevation 10; "side": from the right,
  elevation 10) zoomed to the extent of all placed poses over the whole clip (0.1 / 99.9
  percentiles, plus their footprint on the floor), the same for every frame: no per-frame
  rescaling. The floor grid (0.5 m squares, 1 m on large scenes) covers the people's footprint;
  a scale bar in metres, axis arrows (x: the camera's right, z: away from the camera, up) and
  the view's title are drawn into the panel's fixed background. Every frame's projection is
  computed when the view is planned, in one vectorised pass, so drawing a frame only draws.

``share_framing`` gives several views of one angle the same framing (side-by-side comparisons).
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import cv2
import numpy as np

from pipeline.render.overlay2d import draw_label
from pipeline.render.style import (
    _BC,
    _BONE_CHILD,
    _BONE_PARENT,
    _BP,
    _BS,
    _CONF_LUT,
    _FONT,
    _J,
    _JS,
    _L_ANKLE,
    _ONE,
    _PELVIS,
    _R_ANKLE,
    _SHIFT,
    Colour,
    _as_size,
    _confidence_index,
    _fixed,
    font_scale_for,
    _shades,
    line_thickness,
    track_colour,
)
from posemoe.errors import PoseMoEError
from posemoe.trajectory import rotation_from_up, estimate_up

# 3D view angles: name -> (azimuth, elevation) in degrees of the orthographic viewing direction
VIEWS3D: dict[str, tuple[float, float]] = {"oblique": (-60.0, 15.0), "front": (-90.0, 10.0), "side": (0.0, 10.0)}

_BG_3D: Colour = (250, 250, 250)
_GRID: Colour = (200, 200, 200)
_GRID_EDGE: Colour = (150, 150, 150)
_INK: Colour = (90, 90, 90)  # text, scale bar and axes in the 3D panels


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _world_rotation(up: np.ndarray) -> np.ndarray:
    """(3, 3) rotation, rows X (right), Y (away from camera), Z (up) in camera axes.

    Z is ``up``; Y is the camera's forward axis (0, 0, 1) made horizontal (the camera's x axis
    when the camera looks almost straight up or down); X = Y x Z completes a right-handed frame.
    This is ``posemoe.trajectory``'s world frame (x right, y up, z towards the camera) with its
    axes reordered: X = x, Y = -z, Z = y.
    """
    x, y, z = rotation_from_up(up)
    return np.stack([x, -z, y])


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
    world: (P, F, 17, 3) the same people in the scene's world frame (``pipeline.world``: x right,
    y up, z towards the camera, floor at y = 0): they are drawn where they are, moving along
    their paths and in depth, instead of side by side (``keypoints2d`` and ``ground`` unused).

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
                 title: str | None = None, ground: bool = True, world: np.ndarray | None = None) -> None:
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
        if world is not None:
            self._plan_in_scene(world, view, azimuth_deg, elevation_deg)
            return
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

        self._finish(world, view, azimuth_deg, elevation_deg)

    def _plan_in_scene(self, world: np.ndarray, view: str, azimuth_deg: float | None,
                       elevation_deg: float | None) -> None:
        """People where they are in the scene: ``world`` (P, F, 17, 3) in posemoe's world frame
        (x right, y up, z towards the camera, floor at y = 0; ``pipeline.world``)."""
        w = np.asarray(world, dtype=np.float64)
        if w.shape != (self.num_people, self.num_frames, _J, 3):
            raise PoseMoEError(f"world: expected shape ({self.num_people}, {self.num_frames}, 17, 3) to match "
                               f"keypoints3d, found {w.shape}")
        placed = np.stack([w[..., 0], -w[..., 2], w[..., 1]], axis=-1)  # X right, Y away, Z up
        self.floor = 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices of absent frames
            self.heights = np.nan_to_num(np.nanmean(placed[..., 0, 2:3], axis=-1)) if self.num_frames \
                else np.zeros((self.num_people, 0))
        self.offsets = np.zeros((self.num_people, self.num_frames))
        self._finish(placed, view, azimuth_deg, elevation_deg)

    def _finish(self, world: np.ndarray, view: str, azimuth_deg: float | None, elevation_deg: float | None) -> None:
        """The fixed camera, the painter's order, the extent and grid, from the placed joints."""
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
        return self.font_scale if self.font_scale else font_scale_for(*size)

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
        thick = line_thickness(w, h)
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
                draw_label(canvas, f"#{self.track_ids[p]}", anchor, shades[0], prm["font"])

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
