"""The output video's frames: the input frame and the 3D panels together (``Renderer``).

``Renderer`` draws a clip's frames in one of three views ("side-by-side", "overlay" or "3d"),
with one or more 3D views (``scene3d``), 2D skeletons and labels on the frame (``overlay2d``),
optional timecode and confidence legend. ``render_options`` checks the command line's video
options (``--views3d``, ``--color-by``, ``--timecode``) into its keyword arguments.

Panel layout (``panel_layout``): a 3D panel has the input's height and is square for landscape
input, the frame's own size for portrait input (``min(w, h)`` wide); with two or more 3D views
each panel is 3/4 of that wide. "side-by-side" puts the panels right of the frame, "3d" shows
only the panels, "overlay" stacks smaller insets (40 %) in the frame's top-right corner.
``draw_panels`` fills the panels of an output frame.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from pipeline.render.overlay2d import (
    draw_label,
    label_anchor,
    _paste,
    confidence_legend,
    draw_skeleton_2d,
    draw_text_box,
    format_timecode,
)
from pipeline.render.scene3d import _GRID_EDGE, VIEWS3D, SceneView3D
from pipeline.render.style import (
    _CONF_LUT,
    _J,
    Colour,
    _as_size,
    _confidence_index,
    font_scale_for,
    line_thickness,
    track_colour,
)
from posemoe.errors import PoseMoEError
from posemoe.trajectory import estimate_up

VIEWS: tuple[str, ...] = ("side-by-side", "overlay", "3d")
COLOR_BY: tuple[str, ...] = ("track", "confidence")
_PAD: Colour = (0, 0, 0)  # the output's padding (odd sizes made even)


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
    fs = font_scale_for(w, h)
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
    render index and index / fps). world: (P, F, 17, 3) joints in the scene's world frame
    (``pipeline.world``; results' ``keypoints3d_world``): the 3D panels show people where they are,
    each on their own path, instead of side by side on one line.
    """

    def __init__(self, keypoints2d: np.ndarray, scores2d: np.ndarray, keypoints3d: np.ndarray,
                 track_ids: Sequence[int], image_size: Sequence[int], view: str = "side-by-side",
                 joint_threshold: float = 0.3, *, views3d: str | Sequence[str] | None = None,
                 color_by: str = "track", timecode: bool = False, fps: float | None = None,
                 frame_numbers: Sequence[int] | None = None, times: Sequence[float] | None = None,
                 world: np.ndarray | None = None) -> None:
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
                                   joint_scores=s2 if by_conf else None, world=world) for v in self.views3d]
        self.scene = self.scenes[0]
        if view != "overlay":  # the same text size in every panel and on the frame
            for sc in self.scenes:
                sc.font_scale = font_scale_for(*self.image_size)

        w, h = self.image_size
        self.line_thickness = line_thickness(w, h)
        self._font = font_scale_for(w, h)
        self._output_size, self._panels = panel_layout(self.image_size, view, len(self.scenes),
                                                       [sc.content_aspect() for sc in self.scenes])
        self._panel = self._panels[0][2:]
        self._panel_bgs = []
        for i, (scene, (_, _, pw, ph)) in enumerate(zip(self.scenes, self._panels)):
            bg = scene.background((pw, ph))
            if view == "overlay":  # a thin frame around the inset
                cv2.rectangle(bg, (0, 0), (pw - 1, ph - 1), _GRID_EDGE, 1)
            elif i > 0:  # a line between neighbouring panels
                bg[:, :max(1, self.line_thickness // 2)] = _GRID_EDGE
            self._panel_bgs.append(bg)
        self._panel_bg = self._panel_bgs[0]
        self._legend = confidence_legend(font_scale_for(w, h)) if by_conf else None

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
                                 self.line_thickness, joint_colours)
                anchor = label_anchor(kp)
                if anchor is not None:
                    anchor = (anchor[0], anchor[1] - self.line_thickness - 2)
                    draw_label(view, f"#{self.track_ids[p]}", anchor, self._colours[p], self._font)
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
