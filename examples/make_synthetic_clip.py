"""Make a synthetic test clip: a cartoon person walking and waving, with its exact 3D truth.

    python examples/make_synthetic_clip.py [--out-dir DIR]

Writes ``synthetic_walk.mp4`` (H.264) and ``synthetic_walk_truth.npz`` into DIR (default: the
folder of this script). The motion, camera, drawing and truth file are made by
``pipeline.synthetic_clip`` (described there), which ``posemoe bench`` also draws its clips
with. No randomness: the output is the same on every run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from pipeline.synthetic_clip import FPS, FRAMES, SIZE, make_clip  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent,
                        help="folder for synthetic_walk.mp4 and synthetic_walk_truth.npz (default: examples/)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    video, truth = make_clip(args.out_dir)
    print(f"wrote {video} ({video.stat().st_size / 1e3:.0f} kB) and {truth} ({truth.stat().st_size / 1e3:.0f} kB): "
          f"{FRAMES} frames at {FPS:g} fps, {SIZE[0]}x{SIZE[1]}, in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
