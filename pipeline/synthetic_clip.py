"""The synthetic test clip: a cartoon person walking and waving, with its exact 3D truth.

``examples/make_synthetic_clip.py`` writes the committed ``examples/synthetic_walk.mp4`` and
``synthetic_walk_truth.npz`` with ``make_clip``; ``posemoe bench`` (``pipeline.bench``) draws its
clips of any size and length with ``make_camera``, ``make_motion``, ``make_background`` and
``draw_figure``. Everything is made here: a 3D motion by forward kinematics, a pinhole camera,
and an OpenCV drawing of a figure that real 2D pose detectors (MediaPipe BlazePose) recognise
as a person. No randomness: the output is the same on every run.

Motion (world metres, x right of the camera, y away from it, z up, floor at z = 0): a person
about 1.75 m tall (head joint at 1.73 m, top of the drawn head ~1.78 m) in the Human3.6M
17-joint layout walks about 1.8 m diagonally towards the camera and to its right for ~2.5 s,
slows to a stop, turns to face the camera and waves the right hand; 100 frames at 25 fps. Every bone is a fixed-length vector turned by smooth joint angles,
so bone lengths are constant.

Camera: pinhole, no distortion, f = 1000 px, 960 x 540 image, principal point at the centre,
centre 4.6 m in front of the walking area at 1.35 m height, looking at (0, 0, 0.95) (tilted
about 5 degrees down). ``X_cam = R @ (X_world - center)`` (``posemoe.camera`` conventions; camera
axes x right, y down, z forward) and pixels = f * X_cam[:2] / X_cam[2] + c.

Drawing: a light wall and a shaded floor; the figure's parts (torso, hips, neck, head with hair
and a face, upper/lower arms and legs as round-capped thick lines, hands, shoes) are sized in
metres, projected, and drawn from far to near by the camera depth of each part's middle, so the
far arm passes behind the torso. Features of the face are drawn only where they face the camera.

Truth file (``synthetic_walk_truth.npz``):

- ``keypoints3d_world`` (F, 17, 3) float32 metres, world axes (z up)
- ``keypoints3d_camera`` (F, 17, 3) float32 metres, camera axes (x right, y down, z forward)
- ``keypoints2d`` (F, 17, 2) float32 pixels: exact projection of ``keypoints3d_camera``
- ``time_s`` (F,) float64 seconds; ``fps`` () float64; ``image_size`` (2,) int64 (width, height)
- ``camera_R`` (3, 3), ``camera_center`` (3,), ``camera_t`` (3,) = -R @ center (so
  X_cam = R @ X + t), ``camera_f`` (2,) px, ``camera_c`` (2,) px, ``camera_k`` (3,) and
  ``camera_p`` (2,) zeros: all float64
- ``joint_names`` (17,) str, Human3.6M-17 order (``posemoe.skeleton.H36M17``)
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from pipeline.video_io import VideoWriter
from posemoe.camera import Camera, project_to_pixels, world_to_camera
from posemoe.skeleton import H36M17

VIDEO_NAME = "synthetic_walk.mp4"
TRUTH_NAME = "synthetic_walk_truth.npz"
FPS = 25.0
FRAMES = 100
SIZE = (960, 540)  # (width, height) px
FOCAL_PX = 1000.0
CAMERA_CENTER = (0.0, -4.6, 1.35)  # world metres
CAMERA_TARGET = (0.0, 0.0, 0.95)
CRF = 25  # H.264 quality: flat cartoon colours compress well; the clip stays well under 1 MB

# ------------------------------------------------------------------------------ body (metres)

HIP_HALF = 0.12  # pelvis -> hip joint, sideways
THIGH, SHIN = 0.45, 0.44
PELVIS_HEIGHT = 0.965  # standing, legs straight: ankles 0.075 m above the floor
SPINE, THORAX = 0.25, 0.25  # pelvis -> spine -> thorax, along the torso's up axis
NECK_NOSE = np.array([0.075, 0.0, 0.16])  # thorax -> neck/nose in the head frame (fwd, left, up)
NOSE_HEAD = np.array([-0.05, 0.0, 0.115])  # neck/nose -> head (top of the face)
SHOULDER = np.array([0.0, 0.185, -0.03])  # thorax -> left shoulder in the torso frame
UPPER_ARM, FOREARM = 0.28, 0.26

# part radii, metres
R_UPPER_ARM, R_FOREARM, R_HAND = 0.052, 0.040, 0.048
R_THIGH, R_SHIN, R_FOOT = 0.078, 0.058, 0.042
R_NECK = 0.05
HEAD_HALF_WIDTH, HEAD_HALF_HEIGHT = 0.092, 0.118

# colours (B, G, R)
Colour = tuple[int, int, int]
WALL: Colour = (228, 232, 236)
FLOOR_NEAR: Colour = (150, 170, 185)
FLOOR_FAR: Colour = (190, 205, 215)
SKIN: Colour = (140, 175, 225)
SHIRT: Colour = (170, 90, 40)
TROUSERS: Colour = (75, 55, 45)
SHOES: Colour = (35, 35, 40)
HAIR: Colour = (30, 45, 70)
OUTLINE: Colour = (40, 40, 45)

_SHIFT = 4  # sub-pixel bits for cv2 drawing
_ONE = 1 << _SHIFT

# --------------------------------------------------------------------------------------- motion


def _smoothstep(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """0 before t0, 1 after t1, C2-smooth in between (quintic)."""
    x = np.clip((t - t0) / (t1 - t0), 0.0, 1.0)
    return x * x * x * (x * (6 * x - 15) + 10)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _slerp(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Spherical interpolation of unit vectors (..., 3) with weights w (...,); a and b not opposite."""
    dot = np.clip(np.sum(a * b, axis=-1), -1.0, 1.0)
    ang = np.arccos(dot)[..., None]
    w = w[..., None]
    s = np.sin(ang)
    small = s < 1e-6
    s = np.where(small, 1.0, s)
    out = np.where(small, (1 - w) * a + w * b, (np.sin((1 - w) * ang) * a + np.sin(w * ang) * b) / s)
    return _unit(out)


def _frame(yaw: np.ndarray, pitch: np.ndarray | float = 0.0) -> np.ndarray:
    """(F, 3, 3) rotations whose columns are the (forward, left, up) axes in world coordinates.

    ``yaw``: heading from the world +x axis towards +y, radians; ``pitch``: forward lean, radians.
    """
    yaw = np.asarray(yaw, dtype=np.float64)
    pitch = np.broadcast_to(np.asarray(pitch, dtype=np.float64), yaw.shape)
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    fwd = np.stack([cy * cp, sy * cp, -sp], axis=-1)
    left = np.stack([-sy, cy, np.zeros_like(yaw)], axis=-1)
    up = np.stack([cy * sp, sy * sp, cp], axis=-1)
    return np.stack([fwd, left, up], axis=-1)


def _in(frame: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Local (…, 3) vectors (forward, left, up) -> world, per frame: (F, 3)."""
    return np.einsum("fij,fj->fi", frame, np.broadcast_to(local, (frame.shape[0], 3)))


def _limb_dir(frame: np.ndarray, flex: np.ndarray, side: np.ndarray | float = 0.0) -> np.ndarray:
    """Unit direction hanging down, swung forward by ``flex`` and outward by ``side`` radians."""
    local = np.stack([np.sin(flex) * np.cos(side), np.sin(side) * np.ones_like(flex),
                      -np.cos(flex) * np.cos(side)], axis=-1)
    return np.einsum("fij,fj->fi", frame, local)


def make_motion(frames: int = FRAMES, fps: float = FPS) -> dict[str, np.ndarray]:
    """The walk-turn-wave motion: ``joints`` (F, 17, 3) world metres and drawing helpers.

    Returns a dict with ``joints`` and, for the drawing, ``torso`` (F, 3, 3) and ``head``
    (F, 3, 3) frames (columns forward, left, up), ``pelvis_frame`` (F, 3, 3), and the toe
    points ``toe_r`` / ``toe_l`` (F, 3).
    """
    t = np.arange(frames) / fps
    dt = 1.0 / fps
    # walking speed envelope (0..1): walk from the start, slow down to a stop at ~2.9 s
    gait = 1.0 - _smoothstep(t, 2.0, 2.9)
    # slow walk: 0.9 strides (1.8 steps) per second of 0.83 m strides, matching the legs' swing
    speed = 0.75 * gait  # m/s
    cadence = 0.9  # strides per second
    phase = 2 * np.pi * (0.15 + cadence * np.concatenate([[0.0], np.cumsum(gait[:-1]) * dt]))
    # heading: walk diagonally towards the camera's right, then turn to face the camera
    walk_yaw, face_yaw = np.radians(-35.0), np.radians(-78.0)
    turn = _smoothstep(t, 2.0, 3.3)
    yaw = walk_yaw + (face_yaw - walk_yaw) * turn
    wave = _smoothstep(t, 2.1, 3.1)
    # root path: integrate speed along the heading
    step = speed[:, None] * np.stack([np.cos(yaw), np.sin(yaw)], axis=-1) * dt
    xy = np.array([-0.95, 0.55]) + np.concatenate([[[0.0, 0.0]], np.cumsum(step[:-1], axis=0)])
    bob = 0.022 * gait * (0.5 + 0.5 * np.cos(2 * phase))  # lowest at mid-stride
    root = np.column_stack([xy, PELVIS_HEIGHT - bob])

    pelvis = _frame(yaw + 0.06 * gait * np.sin(phase))
    torso = _frame(yaw - 0.10 * gait * np.sin(phase), 0.06 * gait)
    head = _frame(yaw - 0.05 * gait * np.sin(phase) - np.radians(8.0) * turn, -0.05 + 0.03 * gait)

    j = np.zeros((frames, 17, 3))
    j[:, 0] = root
    # legs: hip flexion swings sinusoidally; the knee bends most while the leg swings forward
    for hip_i, sign, ph in ((1, -1.0, phase + np.pi), (4, 1.0, phase)):
        hip_flex = gait * 0.27 * np.sin(ph) + 0.02
        knee_flex = 0.06 + gait * (0.05 + 0.65 * (0.5 + 0.5 * np.cos(ph - 0.3)) ** 2)
        j[:, hip_i] = root + _in(pelvis, np.array([0.0, sign * HIP_HALF, 0.0]))
        j[:, hip_i + 1] = j[:, hip_i] + THIGH * _limb_dir(pelvis, hip_flex, 0.03 * sign)
        j[:, hip_i + 2] = j[:, hip_i + 1] + SHIN * _limb_dir(pelvis, hip_flex - knee_flex, 0.02 * sign)
    toes: dict[str, np.ndarray] = {}
    for side, ankle_i in (("r", 3), ("l", 6)):
        shin = _unit(j[:, ankle_i] - j[:, ankle_i - 1])
        fwd = pelvis[:, :, 0]
        # the foot stays roughly level, a little toe-down when the shin swings back
        foot = _unit(fwd + 0.45 * shin - 0.35 * np.sum(shin * fwd, axis=-1, keepdims=True) * pelvis[:, :, 2])
        toes[side] = j[:, ankle_i] + 0.16 * foot
    # trunk
    j[:, 7] = root + SPINE * torso[:, :, 2]
    j[:, 8] = j[:, 7] + THORAX * torso[:, :, 2]
    j[:, 9] = j[:, 8] + _in(head, NECK_NOSE)
    j[:, 10] = j[:, 9] + _in(head, NOSE_HEAD)
    # arms: swing opposite to the legs; the right arm blends into a wave
    for sh_i, sign in ((11, 1.0), (14, -1.0)):
        j[:, sh_i] = j[:, 8] + _in(torso, SHOULDER * [1.0, sign, 1.0])
    ph_l = phase + np.pi  # the left arm swings with the right leg
    up_l = _limb_dir(torso, gait * 0.38 * np.sin(ph_l) + 0.05, 0.12)
    lo_l = _limb_dir(torso, gait * 0.38 * np.sin(ph_l) + 0.35 + gait * 0.15 * (1 + np.sin(ph_l)), 0.06)
    j[:, 12] = j[:, 11] + UPPER_ARM * up_l
    j[:, 13] = j[:, 12] + FOREARM * lo_l
    up_swing = _limb_dir(torso, gait * 0.38 * np.sin(phase) + 0.05, -0.12)
    lo_swing = _limb_dir(torso, gait * 0.38 * np.sin(phase) + 0.35 + gait * 0.15 * (1 + np.sin(phase)), -0.06)
    beat = np.sin(2 * np.pi * 1.6 * (t - 2.3))
    up_wave = _unit(_in(torso, np.array([0.35, -0.80, 0.45])))
    lo_wave = _unit(np.einsum("fij,fj->fi", torso,
                              np.stack([0.30 * np.ones_like(t), -0.15 - 0.45 * beat, np.ones_like(t)], axis=-1)))
    j[:, 15] = j[:, 14] + UPPER_ARM * _slerp(up_swing, up_wave, wave)
    j[:, 16] = j[:, 15] + FOREARM * _slerp(lo_swing, lo_wave, wave)
    return {"joints": j, "torso": torso, "head": head, "pelvis_frame": pelvis,
            "toe_r": toes["r"], "toe_l": toes["l"]}


# --------------------------------------------------------------------------------------- camera


def make_camera(size: tuple[int, int] = SIZE) -> Camera:
    """The clip's pinhole camera (no distortion), looking at the walking area slightly downwards.

    ``size`` (width, height) px: another image size sees the same view (focal length scaled with
    the width), e.g. (1280, 720) for a 720p copy of the clip.
    """
    center = np.array(CAMERA_CENTER, dtype=np.float64)
    forward = _unit(np.array(CAMERA_TARGET, dtype=np.float64) - center)
    right = _unit(np.cross(forward, [0.0, 0.0, 1.0]))
    down = np.cross(forward, right)
    R = np.stack([right, down, forward])  # rows: camera x (right), y (down), z (forward) in world axes
    w, h = (int(v) for v in size)
    f = FOCAL_PX * w / SIZE[0]
    return Camera(id="synthetic", R=R, center=center, f=np.array([f, f]),
                  c=np.array([w / 2.0, h / 2.0]), k=np.zeros(3), p=np.zeros(2), res_w=w, res_h=h)


def camera_from_truth(truth: dict[str, np.ndarray] | np.lib.npyio.NpzFile) -> Camera:
    """Rebuild the ``Camera`` stored in a truth file."""
    w, h = (int(v) for v in truth["image_size"])
    return Camera(id="synthetic", R=np.asarray(truth["camera_R"]), center=np.asarray(truth["camera_center"]),
                  f=np.asarray(truth["camera_f"]), c=np.asarray(truth["camera_c"]),
                  k=np.asarray(truth["camera_k"]), p=np.asarray(truth["camera_p"]), res_w=w, res_h=h)


# -------------------------------------------------------------------------------------- drawing


def _px(p: np.ndarray) -> tuple[int, int]:
    return int(round(float(p[0]) * _ONE)), int(round(float(p[1]) * _ONE))


def _mix(a: Colour, b: Colour, w: float) -> Colour:
    return tuple(int(round((1 - w) * x + w * y)) for x, y in zip(a, b))  # type: ignore[return-value]


def _darker(c: Colour, amount: float) -> Colour:
    return _mix(c, (0, 0, 0), amount)


def make_background(cam: Camera) -> np.ndarray:
    """(H, W, 3) uint8: a plain wall, and a floor (z = 0) in front of a wall at y = 3 m, shaded with depth.

    The image has the camera's size (``cam.res_w`` x ``cam.res_h``)."""
    w, h = int(cam.res_w), int(cam.res_h)
    img = np.empty((h, w, 3), np.uint8)
    img[:] = WALL
    # the floor/wall edge: project the line y = 3, z = 0
    edge = project_to_pixels(world_to_camera(np.array([[-20.0, 3.0, 0.0], [20.0, 3.0, 0.0]]), cam), cam)
    ys = np.arange(h, dtype=np.float64)[:, None]
    xs = np.arange(w, dtype=np.float64)[None, :]
    edge_y = edge[0, 1] + (xs - edge[0, 0]) * (edge[1, 1] - edge[0, 1]) / (edge[1, 0] - edge[0, 0])
    floor = ys >= edge_y  # (H, W)
    ramp = np.clip((ys - edge_y) / max(h - edge_y.min(), 1.0), 0.0, 1.0)[..., None]
    shade = (1 - ramp) * np.array(FLOOR_FAR) + ramp * np.array(FLOOR_NEAR)
    img[floor] = shade[floor].astype(np.uint8)
    # a skirting board along the edge
    pts = np.round(edge * _ONE).astype(np.int32)
    cv2.line(img, tuple(pts[0]), tuple(pts[1]), (150, 160, 170), 5, cv2.LINE_AA, _SHIFT)
    # floor boards: lines of constant x converging to the vanishing point
    for x in np.arange(-6.0, 6.01, 0.6):
        seg = world_to_camera(np.array([[x, -4.0, 0.0], [x, 3.0, 0.0]]), cam)
        if seg[0, 2] <= 0.1:
            seg[0] = seg[1] + (seg[0] - seg[1]) * (seg[1, 2] - 0.1) / (seg[1, 2] - seg[0, 2])
        uv = project_to_pixels(seg, cam)
        cv2.line(img, _px(uv[0]), _px(uv[1]), (165, 180, 192), 1, cv2.LINE_AA, _SHIFT)
    return img


class _Painter:
    """Projects metres to pixels for one frame and draws parts into a list sorted by depth."""

    def __init__(self, cam: Camera) -> None:
        self.cam = cam
        self.f = float(cam.f[0])
        self.parts: list[tuple[float, Callable[[np.ndarray], None]]] = []

    def uvz(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pc = world_to_camera(np.asarray(p, dtype=np.float64), self.cam)
        return project_to_pixels(pc, self.cam), pc[..., 2]

    def radius_px(self, r_m: float, depth: float) -> float:
        return r_m * self.f / depth

    def add(self, depth: float, fn: Callable[[np.ndarray], None]) -> None:
        self.parts.append((float(depth), fn))

    def capsule(self, a: np.ndarray, b: np.ndarray, r_m: float, colour: Colour, ref_depth: float) -> None:
        uv, z = self.uvz(np.stack([a, b]))
        depth = float(z.mean())
        colour = _darker(colour, float(np.clip((depth - ref_depth) / 0.25, 0.0, 1.0)) * 0.22)
        thick = max(2, int(round(2 * self.radius_px(r_m, depth))))
        outline = _darker(colour, 0.55)

        def draw(img: np.ndarray) -> None:
            p0, p1 = _px(uv[0]), _px(uv[1])
            cv2.line(img, p0, p1, outline, thick + 3, cv2.LINE_AA, _SHIFT)
            cv2.line(img, p0, p1, colour, thick, cv2.LINE_AA, _SHIFT)

        self.add(depth, draw)

    def ball(self, c: np.ndarray, r_m: float, colour: Colour, ref_depth: float) -> None:
        uv, z = self.uvz(c[None])
        depth = float(z[0])
        colour = _darker(colour, float(np.clip((depth - ref_depth) / 0.25, 0.0, 1.0)) * 0.22)
        r = self.radius_px(r_m, depth)

        def draw(img: np.ndarray) -> None:
            cv2.circle(img, _px(uv[0]), int(round((r + 1.5) * _ONE)), _darker(colour, 0.55), -1, cv2.LINE_AA, _SHIFT)
            cv2.circle(img, _px(uv[0]), int(round(r * _ONE)), colour, -1, cv2.LINE_AA, _SHIFT)

        self.add(depth, draw)

    def hull(self, pts3d: np.ndarray, colour: Colour, depth: float) -> None:
        uv, _ = self.uvz(pts3d)
        hull = cv2.convexHull(np.round(uv * _ONE).astype(np.int32))

        def draw(img: np.ndarray) -> None:
            cv2.fillConvexPoly(img, hull, colour, cv2.LINE_AA, _SHIFT)
            cv2.polylines(img, [hull], True, _darker(colour, 0.55), 2, cv2.LINE_AA, _SHIFT)

        self.add(depth, draw)

    def paint(self, img: np.ndarray) -> None:
        for _, fn in sorted(self.parts, key=lambda p: -p[0]):
            fn(img)


def _ring(centre: np.ndarray, frame: np.ndarray, half_width: float, half_depth: float, n: int = 12) -> np.ndarray:
    """(n, 3) points of a horizontal ellipse (in ``frame``'s forward/left plane) around ``centre``."""
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    local = np.stack([half_depth * np.cos(a), half_width * np.sin(a), np.zeros(n)], axis=-1)
    return centre + local @ frame.T


def _draw_head(p: _Painter, centre: np.ndarray, frame: np.ndarray, img: np.ndarray) -> None:
    """Hair, face ellipse, ears, eyes, nose and mouth of a head centred at ``centre`` (world metres)."""
    cam = p.cam
    fwd, left, up = frame[:, 0], frame[:, 1], frame[:, 2]
    c_uv, c_z = p.uvz(centre[None])
    c_uv, depth = c_uv[0], float(c_z[0])
    view = _unit(centre - cam.center)  # from the camera to the head

    def uv(q: np.ndarray) -> np.ndarray:
        return p.uvz(q[None])[0][0]

    # the head outline: an ellipse whose axes follow the projected up direction
    top = uv(centre + HEAD_HALF_HEIGHT * up)
    axis_up = top - c_uv
    angle = float(np.degrees(np.arctan2(axis_up[0], -axis_up[1])))
    half_h = float(np.linalg.norm(axis_up))
    half_w = p.radius_px(HEAD_HALF_WIDTH, depth)
    facing = float(-np.dot(fwd, view))  # 1: face towards the camera, -1: back of the head
    # hair: a cap shifted up and towards the back of the head
    hair_c = uv(centre + 0.03 * up - 0.025 * fwd)

    def ell(c: np.ndarray, a: float, b: float, colour: Colour) -> None:
        cv2.ellipse(img, _px(c), (int(round(a * _ONE)), int(round(b * _ONE))), angle, 0, 360, colour, -1,
                    cv2.LINE_AA, _SHIFT)

    # ears (behind the face, drawn first)
    for s in (1.0, -1.0):
        ear = centre + s * HEAD_HALF_WIDTH * 0.95 * left - 0.01 * up
        ear_uv = uv(ear)
        cv2.circle(img, _px(ear_uv), int(round(p.radius_px(0.025, depth) * _ONE)), _darker(SKIN, 0.15), -1,
                   cv2.LINE_AA, _SHIFT)
    ell(c_uv, half_w + 1.5, half_h + 1.5, OUTLINE)
    ell(c_uv, half_w, half_h, SKIN)
    # hair cap: the part of a slightly larger ellipse above a chord; all of it when seen from behind
    extra = 12.0 if facing >= 0 else 12.0 + 168.0 * min(1.0, -2.0 * facing)  # degrees below the sides
    arc = cv2.ellipse2Poly(_px(hair_c), (int(round(half_w * 1.05 * _ONE)), int(round(half_h * 0.95 * _ONE))),
                           int(round(angle)), int(round(180 - extra)), int(round(360 + extra)), 5)
    cv2.fillPoly(img, [arc], HAIR, cv2.LINE_AA, _SHIFT)
    if facing < 0.0:
        return
    # face features in the head frame (forward, left, up) relative to the centre, metres
    feats = {
        "eye_l": np.array([0.080, 0.035, 0.012]), "eye_r": np.array([0.080, -0.035, 0.012]),
        "nose": np.array([0.100, 0.0, -0.022]), "mouth": np.array([0.082, 0.0, -0.060]),
        "brow_l": np.array([0.080, 0.036, 0.040]), "brow_r": np.array([0.080, -0.036, 0.040]),
    }
    pts = {k: uv(centre + frame @ v) for k, v in feats.items()}
    normals = {k: _unit(frame @ (v * [1.0, 1.0, 0.6])) for k, v in feats.items()}
    visible = {k: float(-np.dot(normals[k], view)) > 0.15 for k in feats}
    r_eye = p.radius_px(0.014, depth)
    for k in ("eye_l", "eye_r"):
        if visible[k]:
            cv2.circle(img, _px(pts[k]), int(round(r_eye * 1.35 * _ONE)), (250, 250, 250), -1, cv2.LINE_AA, _SHIFT)
            cv2.circle(img, _px(pts[k]), int(round(r_eye * _ONE)), (40, 30, 20), -1, cv2.LINE_AA, _SHIFT)
    for k in ("brow_l", "brow_r"):
        if visible[k]:
            d = uv(centre + frame @ (feats[k] + [0.0, 0.018, 0.004])) - uv(centre + frame @ (feats[k] - [0.0, 0.018, 0.0]))
            cv2.line(img, _px(pts[k] - d / 2), _px(pts[k] + d / 2), HAIR, max(1, int(round(r_eye * 0.6))), cv2.LINE_AA,
                     _SHIFT)
    if visible["nose"]:
        tip = pts["nose"]
        bridge = uv(centre + frame @ np.array([0.092, 0.0, 0.005]))
        cv2.line(img, _px(bridge), _px(tip), _darker(SKIN, 0.3), max(1, int(round(r_eye * 0.5))), cv2.LINE_AA, _SHIFT)
        cv2.circle(img, _px(tip), int(round(r_eye * 0.55 * _ONE)), _darker(SKIN, 0.25), -1, cv2.LINE_AA, _SHIFT)
    if visible["mouth"]:
        a = uv(centre + frame @ (feats["mouth"] + [0.0, 0.026, 0.006]))
        b = uv(centre + frame @ (feats["mouth"] - [0.0, 0.026, -0.006]))
        m = pts["mouth"]
        curve = np.array([a, (a + m) / 2 + [0, 0.4], m + [0, 1.0], (b + m) / 2 + [0, 0.4], b])
        cv2.polylines(img, [np.round(curve * _ONE).astype(np.int32)], False, (60, 60, 150),
                      max(1, int(round(r_eye * 0.6))), cv2.LINE_AA, _SHIFT)


def draw_figure(img: np.ndarray, cam: Camera, motion: dict[str, np.ndarray], i: int) -> None:
    """Draw frame ``i`` of ``motion`` onto ``img`` (in place), parts ordered far to near."""
    j = motion["joints"][i]
    torso, head, pelvis = motion["torso"][i], motion["head"][i], motion["pelvis_frame"][i]
    p = _Painter(cam)
    ref = float(p.uvz(j[0][None])[1][0])  # pelvis depth: parts behind it are shaded darker

    # shadow on the floor (drawn onto the background before any part)
    shadow = _ring(np.array([j[0][0], j[0][1], 0.0]), pelvis, 0.32, 0.22, n=24)
    s_uv, _ = p.uvz(shadow)
    overlay = img.copy()
    cv2.fillPoly(overlay, [np.round(s_uv * _ONE).astype(np.int32)], (120, 130, 140), cv2.LINE_AA, _SHIFT)
    cv2.addWeighted(overlay, 0.35, img, 0.65, 0, dst=img)

    # torso (shirt): rings at shoulder, chest and waist height
    shoulder_mid = j[8] + torso[:, 2] * -0.03
    chest = np.concatenate([
        _ring(shoulder_mid, torso, 0.205, 0.09), _ring(j[8] - 0.12 * torso[:, 2], torso, 0.175, 0.11),
        _ring(j[7] - 0.06 * torso[:, 2], torso, 0.155, 0.10),
    ])
    p.hull(chest, SHIRT, float(p.uvz(j[7][None])[1][0]))
    # hips (trousers)
    hips = np.concatenate([_ring(j[7] - 0.07 * torso[:, 2], torso, 0.155, 0.10),
                           _ring(j[0] - 0.04 * pelvis[:, 2], pelvis, 0.185, 0.11)])
    p.hull(hips, TROUSERS, float(p.uvz(j[0][None])[1][0]) + 0.02)
    # neck and head
    p.capsule(j[8], j[8] + 0.10 * head[:, 2], R_NECK, SKIN, ref)
    centre = j[9] + head @ np.array([-0.065, 0.0, 0.045])
    p.add(float(p.uvz(centre[None])[1][0]), lambda im: _draw_head(p, centre, head, im))
    # arms
    for sh, el, wr in ((11, 12, 13), (14, 15, 16)):
        p.capsule(j[sh], j[el], R_UPPER_ARM, SHIRT, ref)
        p.capsule(j[el], j[wr], R_FOREARM, SKIN, ref)
        hand = j[wr] + 0.06 * _unit(j[wr] - j[el])
        p.ball(hand, R_HAND, SKIN, ref)
    # legs
    for hip, knee, ankle, toe in ((1, 2, 3, motion["toe_r"][i]), (4, 5, 6, motion["toe_l"][i])):
        p.capsule(j[hip], j[knee], R_THIGH, TROUSERS, ref)
        p.capsule(j[knee], j[ankle], R_SHIN, TROUSERS, ref)
        p.capsule(j[ankle] - 0.03 * (toe - j[ankle]) / 0.16, toe, R_FOOT, SHOES, ref)
    p.paint(img)


# ------------------------------------------------------------------------------------------ clip


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Like ``np.savez_compressed`` but byte-for-byte reproducible (fixed zip timestamps), atomic."""
    tmp = path.with_name(f".{path.name}.part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w") as fh:
                np.lib.format.write_array(fh, np.asanyarray(value), allow_pickle=False)
    tmp.replace(path)
    return path


def make_clip(out_dir: str | Path) -> tuple[Path, Path]:
    """Write the clip and its truth into ``out_dir`` (created if missing); returns (video, truth) paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cam = make_camera()
    motion = make_motion()
    world = motion["joints"]  # (F, 17, 3)
    cam_xyz = world_to_camera(world, cam)
    kp2d = project_to_pixels(cam_xyz, cam)
    background = make_background(cam)
    video_path = out_dir / VIDEO_NAME
    with VideoWriter(video_path, FPS, SIZE, crf=CRF) as writer:
        for i in range(world.shape[0]):
            img = background.copy()
            draw_figure(img, cam, motion, i)
            writer.write(img)
    truth_path = _save_npz(
        out_dir / TRUTH_NAME,
        dict(
            keypoints3d_world=world.astype(np.float32),
            keypoints3d_camera=cam_xyz.astype(np.float32),
            keypoints2d=kp2d.astype(np.float32),
            time_s=np.arange(world.shape[0]) / FPS,
            fps=np.float64(FPS),
            image_size=np.array(SIZE, dtype=np.int64),
            camera_R=cam.R, camera_center=cam.center, camera_t=-cam.R @ cam.center,
            camera_f=cam.f, camera_c=cam.c, camera_k=cam.k, camera_p=cam.p,
            joint_names=np.array(H36M17.joint_names),
        ),
    )
    return video_path, truth_path
