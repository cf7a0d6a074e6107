"""How fast the renderer is: ``benchmark_render`` times ``Renderer.render`` on synthetic poses.

``_synthetic_clip`` makes the poses (people walking in place, seen by a pinhole camera); the
tests use it too.
"""

from __future__ import annotations

import math
import time
from typing import Sequence

import numpy as np

from pipeline.render.renderer import Renderer
from pipeline.render.style import _J, _as_size
from posemoe.errors import PoseMoEError
from posemoe.skeleton import H36M17

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
