"""Drawing poses on video frames: 2D skeletons on the frame and steady, upright 3D views.

Everything is drawn with OpenCV primitives (anti-aliased lines, circles, text) on uint8 BGR
images of shape (H, W, 3); no matplotlib. The modules, by what they draw:

* ``style``: the colours (track palette, confidence colour map, left / right shades), line
  thickness and font size, and the H36M17 bone tables that every drawing uses.
* ``overlay2d``: on the video frame: 2D skeletons, the people's labels, text boxes (the
  timecode) and the confidence legend.
* ``scene3d``: ``SceneView3D``, a steady, upright 3D view of all people of a clip, planned once
  (up direction, floor, placement, framing) and then only drawn per frame; ``share_framing``.
* ``renderer``: the output video's frames: ``Renderer`` puts the frame and the 3D panels together
  ("side-by-side", "overlay" or "3d"), with ``panel_layout``, ``draw_panels`` and the checked
  command-line options ``render_options``.
* ``benchmark``: ``benchmark_render``, the renderer's frames per second on synthetic poses.

The public names are importable from ``pipeline.render`` itself.
"""

from pipeline.render.benchmark import benchmark_render
from pipeline.render.overlay2d import confidence_legend, draw_skeleton_2d, draw_text_box, format_timecode
from pipeline.render.renderer import (
    COLOR_BY,
    VIEWS,
    Renderer,
    draw_panels,
    panel_layout,
    parse_views3d,
    render_options,
)
from pipeline.render.scene3d import VIEWS3D, SceneView3D, share_framing
from pipeline.render.style import Colour, confidence_colour, track_colour
from posemoe.trajectory import estimate_up  # the 3D views' up direction (one for several clips: compare_video)

__all__ = [
    "COLOR_BY",
    "Colour",
    "Renderer",
    "SceneView3D",
    "VIEWS",
    "VIEWS3D",
    "benchmark_render",
    "confidence_colour",
    "confidence_legend",
    "draw_panels",
    "draw_skeleton_2d",
    "draw_text_box",
    "estimate_up",
    "format_timecode",
    "panel_layout",
    "parse_views3d",
    "render_options",
    "share_framing",
    "track_colour",
]
