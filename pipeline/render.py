"""Drawing poses on video frames: 2D skeletons on the frame and a steady, upright 3D view.

Everything is drawn with OpenCV primitives (anti-aliased lines, circles, text) on uint8 BGR
images of shape (H, W, 3); no matplotlib. The joint layout is ``H36M17``
(``posemoe.skeleton``): bones come from its ``parents``, and limbs on the person's left are
drawn in a lighter shade of the track colour, limbs on the right in a darker one, the trunk and
head in the track colour itself.

The 3D view (``SceneView3D``) is planned once for a whole clip, so nothing in it moves unless the
person moves:

* Up direction: per frame and person, the unit vector from the ankles' midpoint to the midpoint
  of thorax and head (camera axes); averaged over the clip, then re-averaged over the vectors
  within 30 degrees of that mean (drops crouching / lying frames). A rotation takes it to the
  view's vertical, so a tilted camera still gives an upright figure.
* Floor: a low percentile (2 %) of the ankles' heights along that up direction over the clip;
  the floor grid is drawn there.
* Placement: the 3D poses are root-relative, so people are placed side by side using their 2D
  pelvis column in the image: lateral offset (metres) = (pelvis x - image centre x) pixels times
  that person's metres per pixel (its median 3D body height over its median 2D body height in
  the clip); under a pinhole camera this is the person's true lateral position. Depth is not
  recovered (everyone stands on the same line across the view).
* Scale and framing: fixed for the clip from the extent of all placed poses and the grid; a fixed
  oblique orthographic camera (azimuth -60 degrees, elevation 15 degrees) projects with numpy,
  for every frame at once, when the view is planned.

``Renderer`` combines the two into the output video's frames ("side-by-side", "overlay" or
"3d"); ``benchmark_render`` measures its frames per second on synthetic poses.
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
_PAD: Colour = (0, 0, 0)


# ----------------------------------------------------------------------------- colours


def track_colour(track_id: int) -> Colour:
    """The colour (b, g, r) of a track: a fixed 10-colour palette cycled by id (stable per id)."""
    return _PALETTE[int(track_id) % len(_PALETTE)]


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
                     joint_threshold: float = 0.3, thickness: int | None = None) -> None:
    """Draw one H36M17 skeleton on ``img`` in place.

    img: (H, W, 3) uint8 BGR, modified in place. kp: (17, 2) pixel coordinates (x, y); a joint
    with a NaN coordinate is skipped with its bones. scores: (17,) confidences in [0, 1] (NaN
    counts as 0). colour: the track colour (b, g, r); the person's left limbs are drawn lighter,
    right limbs darker. A joint scoring below ``joint_threshold`` is drawn as a hollow circle and
    a bone with such an end as a dashed line (kept visible rather than skipped, so a
    low-confidence limb still reads as a limb). thickness: line thickness in pixels; default
    scales with the image (3 px at 720p).
    """
    kp = np.asarray(kp, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if kp.shape != (_J, 2) or scores.shape != (_J,):
        raise PoseMoEError(
            f"draw_skeleton_2d: expected keypoints (17, 2) and scores (17,), found {kp.shape} and {scores.shape}"
        )
    if thickness is None:
        thickness = _thickness(img.shape[1], img.shape[0])
    radius = thickness + 1
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
        col = shades[_JS[j]]
        if confident[j]:
            cv2.circle(img, centre, radius * _ONE, col, -1, cv2.LINE_AA, _SHIFT)
        else:
            cv2.circle(img, centre, radius * _ONE, col, 1, cv2.LINE_AA, _SHIFT)


def _draw_label(img: np.ndarray, text: str, anchor: tuple[float, float], colour: Colour,
                scale: float) -> None:
    """Centred text just above ``anchor`` (x, y pixels), in ``colour`` with a white outline."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    thick = max(1, int(round(2 * scale)))
    (tw, th), _ = cv2.getTextSize(text, font, scale, thick)
    x = int(round(anchor[0] - tw / 2))
    y = int(round(anchor[1] - 0.6 * th))
    h, w = img.shape[:2]
    x = min(max(x, 0), max(0, w - tw))
    y = min(max(y, th + 1), h - 1)
    cv2.putText(img, text, (x, y), font, scale, (255, 255, 255), thick + 2, cv2.LINE_AA)
    cv2.putText(img, text, (x, y), font, scale, colour, thick, cv2.LINE_AA)


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


class SceneView3D:
    """A steady, upright 3D view of all people of one clip, planned once from all its poses.

    keypoints3d: (P, F, 17, 3) root-relative poses (metres, camera axes x right, y down,
    z forward), NaN where a person is absent. keypoints2d: optional (P, F, 17, 2) pixel
    keypoints, used only to place people side by side (their pelvis column); with
    ``image_size`` (w, h). track_ids: (P,) ints for the colours (default 0..P-1).

    The up direction, floor height, per-frame placement offsets, scale and framing are fixed at
    construction (see the module docstring); every frame's projection is computed then too, in
    one vectorised pass, so ``render`` only draws.
    """

    def __init__(self, keypoints3d: np.ndarray, keypoints2d: np.ndarray | None = None,
                 image_size: Sequence[int] | None = None, track_ids: Sequence[int] | None = None,
                 azimuth_deg: float = -60.0, elevation_deg: float = 15.0, grid_spacing: float = 0.5,
                 floor_percentile: float = 2.0) -> None:
        k3 = np.asarray(keypoints3d, dtype=np.float64)
        if k3.ndim != 4 or k3.shape[2:] != (_J, 3):
            raise PoseMoEError(f"keypoints3d: expected shape (P, F, 17, 3), found {k3.shape}")
        n_people, n_frames = k3.shape[:2]
        if track_ids is None:
            track_ids = list(range(n_people))
        ids = np.asarray(track_ids).reshape(-1)
        if len(ids) != n_people:
            raise PoseMoEError(f"track_ids: expected {n_people} ids (one per person), found {len(ids)}")
        self.num_people, self.num_frames = n_people, n_frames
        self.track_ids = [int(t) for t in ids]
        self._shades = [_shades(track_colour(t)) for t in self.track_ids]
        self._spacing = float(grid_spacing)

        # up direction and world frame (X right, Y away, Z up; origin at each person's pelvis)
        self.up = estimate_up(k3)
        self.rotation = _world_rotation(self.up)
        world = k3 @ self.rotation.T  # (P, F, 17, 3)

        # floor: a low percentile of ankle heights
        ankles = world[:, :, [_R_ANKLE, _L_ANKLE], 2]
        ankles = ankles[np.isfinite(ankles)]
        self.floor = float(np.percentile(ankles, floor_percentile)) if ankles.size else -0.9

        # side-by-side placement from the 2D pelvis column
        self.offsets = self._placement(world, keypoints2d, image_size)  # (P, F) metres along X
        world[..., 0] += self.offsets[:, :, None]

        # fixed oblique orthographic camera
        az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
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

        self._plan_grid_and_extent(world)
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

    def _plan_grid_and_extent(self, world: np.ndarray) -> None:
        """Floor grid lines (world) and the fixed view-space bounding box (metres)."""
        s = self._spacing
        pts = world[self._present_joint]  # (N, 3)
        if len(pts):
            lo = np.percentile(pts[:, :2], 1.0, axis=0)
            hi = np.percentile(pts[:, :2], 99.0, axis=0)
        else:
            lo, hi = np.zeros(2), np.zeros(2)
        lo = np.minimum(lo - s, -0.75)
        hi = np.maximum(hi + s, 0.75)
        lo = np.floor(lo / s) * s
        hi = np.ceil(hi / s) * s
        xs = np.arange(lo[0], hi[0] + 0.5 * s, s)
        ys = np.arange(lo[1], hi[1] + 0.5 * s, s)
        z = self.floor
        segs = [((x, lo[1], z), (x, hi[1], z)) for x in xs] + [((lo[0], y, z), (hi[0], y, z)) for y in ys]
        self._grid = np.asarray(segs, dtype=np.float64)  # (L, 2, 3)
        self._grid_edge = np.array([xs[0], xs[-1], ys[0], ys[-1]])

        corners = self._grid.reshape(-1, 3) @ self._view.T
        uv = [corners]
        if len(pts):
            puv = pts @ self._view.T
            uv.append(np.percentile(puv, [0.5, 99.5], axis=0))
            # head room: the tallest pose stays inside even if above the percentile
            uv.append(np.array([[0.0, np.percentile(puv[:, 1], 99.9) + 0.1]]))
        uv = np.concatenate(uv)
        self._uv_lo = uv.min(axis=0)
        self._uv_hi = uv.max(axis=0)

    # -- per output size ---------------------------------------------------------------------

    def _mapping(self, size: tuple[int, int]) -> tuple[float, np.ndarray]:
        """Pixels per metre and the view-space point at the panel's centre for ``size``."""
        w, h = size
        margin = 0.06 * min(w, h)
        span = np.maximum(self._uv_hi - self._uv_lo, 1e-3)
        scale = min((w - 2 * margin) / span[0], (h - 2 * margin) / span[1])
        centre = 0.5 * (self._uv_lo + self._uv_hi)
        return float(scale), centre

    def _to_pixels(self, uv: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        scale, centre = self._mapping(size)
        w, h = size
        px = np.empty(uv.shape, dtype=np.float64)
        px[..., 0] = 0.5 * w + scale * (uv[..., 0] - centre[0])
        px[..., 1] = 0.5 * h - scale * (uv[..., 1] - centre[1])
        return px

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
        x0, x1, y0, y1 = self._grid_edge
        for (a, b), (wa, wb) in zip(grid_px, self._grid):
            edge = (np.isclose(wa[0], wb[0]) and (np.isclose(wa[0], x0) or np.isclose(wa[0], x1))) or \
                   (np.isclose(wa[1], wb[1]) and (np.isclose(wa[1], y0) or np.isclose(wa[1], y1)))
            cv2.line(bg, (_fixed(a[0]), _fixed(a[1])), (_fixed(b[0]), _fixed(b[1])),
                     _GRID_EDGE if edge else _GRID, 1, cv2.LINE_AA, _SHIFT)
        pix = np.rint(self._to_pixels(self._uv, size) * _ONE)
        pix = np.clip(pix, -(2**28), 2**28).astype(np.int32)
        params = {"thickness": thick, "radius": thick + 1, "font": max(0.35, min(w, h) / 1440.0)}
        if len(self._cache) > 8:
            self._cache.clear()
        self._cache[size] = (bg, pix, params)
        return bg, pix, params

    # -- public ------------------------------------------------------------------------------

    def background(self, size: Sequence[int]) -> np.ndarray:
        """A new (h, w, 3) uint8 image of the empty view (light background and floor grid)."""
        return self._prepared(_as_size(size, "3D view size"))[0].copy()

    def project(self, frame_index: int, size: Sequence[int]) -> np.ndarray:
        """(P, 17, 2) pixel coordinates (x, y) of every joint in a view of ``size`` (w, h); NaN if absent."""
        size = _as_size(size, "3D view size")
        f = self._check_frame(frame_index)
        px = self._to_pixels(self._uv[:, f], size)
        return np.where(self._present_joint[:, f, :, None], px, np.nan)

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
            for j, here in enumerate(present.tolist()):
                if here:
                    circle(canvas, pts[j], radius, shades[_JS[j]], -1, aa, _SHIFT)
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


# ----------------------------------------------------------------------------- renderer


def _even(n: int) -> int:
    return n + (n % 2)


class Renderer:
    """Output-video frames for one clip: 2D skeletons on the frame and/or the 3D view.

    keypoints2d: (P, F, 17, 2) pixels; scores2d: (P, F, 17); keypoints3d: (P, F, 17, 3) metres,
    root-relative, camera axes; NaN where a person is absent. track_ids: (P,) ints.
    image_size: (w, h) of the input frames. view: "side-by-side" (the frame, then a 3D panel of
    the frame's height, square), "overlay" (the frame with a 3D inset in the top-right corner)
    or "3d" (only the 3D panel, square, of the frame's height). Output width and height are
    rounded up to even numbers (H.264) by padding with black.
    """

    def __init__(self, keypoints2d: np.ndarray, scores2d: np.ndarray, keypoints3d: np.ndarray,
                 track_ids: Sequence[int], image_size: Sequence[int], view: str = "side-by-side",
                 joint_threshold: float = 0.3) -> None:
        if view not in VIEWS:
            raise PoseMoEError(f"view: expected one of {', '.join(VIEWS)}, found {view!r}")
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
        self.joint_threshold = float(joint_threshold)
        self.track_ids = ids
        self.num_frames = k2.shape[1]
        self._k2 = k2
        self._s2 = s2
        self._present2d = np.isfinite(k2).all(-1).any(-1)  # (P, F)
        self._colours = [track_colour(t) for t in ids]
        self.scene = SceneView3D(k3, k2, self.image_size, ids)

        w, h = self.image_size
        self._thickness = _thickness(w, h)
        self._font = max(0.4, min(w, h) / 1440.0)
        if view == "side-by-side":
            self._panel = (_even(h), _even(h))
            self._panel_at = (w, 0)
            self._output_size = (_even(w + self._panel[0]), _even(h))
        elif view == "overlay":
            side = _even(max(16, int(round(0.35 * min(w, h)))))
            margin = max(2, int(round(0.015 * min(w, h))))
            self._panel = (side, side)
            self._panel_at = (max(0, w - side - margin), margin)
            self._output_size = (_even(w), _even(h))
        else:
            self._panel = (_even(h), _even(h))
            self._panel_at = (0, 0)
            self._output_size = self._panel
        self._panel_bg = self.scene.background(self._panel)
        if view == "overlay":  # a thin frame around the inset
            cv2.rectangle(self._panel_bg, (0, 0), (self._panel[0] - 1, self._panel[1] - 1), _GRID_EDGE, 1)

    @property
    def output_size(self) -> tuple[int, int]:
        """(width, height) of every rendered frame; both even."""
        return self._output_size

    def render(self, frame_bgr: np.ndarray | None, frame_index: int) -> np.ndarray:
        """The output frame (H, W, 3) uint8 of ``output_size`` for input frame ``frame_index``.

        frame_bgr: the input frame (h, w, 3) uint8 BGR of ``image_size``; not modified; may be
        None for the "3d" view.
        """
        f = self.scene._check_frame(frame_index)
        out_w, out_h = self._output_size
        out = np.empty((out_h, out_w, 3), dtype=np.uint8)
        if self.view != "3d":
            w, h = self.image_size
            frame = np.asarray(frame_bgr) if frame_bgr is not None else None
            if frame is None or frame.shape != (h, w, 3) or frame.dtype != np.uint8:
                found = "None" if frame is None else f"{frame.shape} {frame.dtype}"
                raise PoseMoEError(f"frame {f}: expected a ({h}, {w}, 3) uint8 BGR image, found {found}")
            out[:h, :w] = frame
            if out_w > w and self.view != "side-by-side":
                out[:, w:] = _PAD
            if out_h > h:
                out[h:] = _PAD
            view = out[:h, :w]
            for p in range(len(self.track_ids)):
                if not self._present2d[p, f]:
                    continue
                kp = self._k2[p, f]
                draw_skeleton_2d(view, kp, self._s2[p, f], self._colours[p], self.joint_threshold,
                                 self._thickness)
                anchor = _label_anchor(kp)
                if anchor is not None:
                    anchor = (anchor[0], anchor[1] - self._thickness - 2)
                    _draw_label(view, f"#{self.track_ids[p]}", anchor, self._colours[p], self._font)
        x, y = self._panel_at
        pw, ph = self._panel
        if self.view == "side-by-side" and out_w > x + pw:
            out[:, x + pw:] = _PAD
        panel = out[y:y + ph, x:x + pw]
        panel[:] = self._panel_bg
        self.scene.draw(panel, f)
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
                     view: str = "side-by-side") -> dict:
    """Frames per second of ``Renderer.render`` on synthetic walking poses.

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
    renderer = Renderer(k2, s2, k3, ids, size, view=view)
    t1 = time.perf_counter()
    for f in range(n_frames):
        renderer.render(frame, f)
    t2 = time.perf_counter()
    return {"view": view, "size": [w, h], "output_size": list(renderer.output_size), "people": people,
            "frames": n_frames, "setup_s": t1 - t0, "render_s": t2 - t1, "fps": n_frames / (t2 - t1)}
