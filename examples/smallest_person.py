"""How small a person the MediaPipe backend still finds, at 1280x720 and 1920x1080.

    python examples/smallest_person.py [--video ../shared/data/videos/two_people.mp4] [--json out.json]

A real person (the man standing on the right in frame 10 of `two_people.mp4`, cut out with
some of the room around him) is scaled so that he is a given height in pixels (head to feet)
and pasted into an empty
part of the same room, scaled to fill a 1280x720 or 1920x1080 frame, at three places (left,
centre, right; a third of the way down). The still frame is fed to the backend as a video for
one full round of its discovery regions plus a few frames, and the person counts as found when
a detection's box centre lies inside the pasted person's box on the last frame. Printed per
frame size: for each height, found or not at each place, with tiled discovery (the default,
432-pixel tiles) and with the whole frame only (``tile=0``, what the detector alone sees).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from pipeline.pose2d.mediapipe import MediaPipePeopleBackend
from pipeline.video_io import VideoReader

HEIGHTS = (600, 480, 360, 240, 180, 140, 110, 90, 70)
SIZES = ((1280, 720), (1920, 1080))
PERSON_BOX = (880, 220, 1160, 890)  # the man on the right in frame 10, with some room around him
PERSON_HEIGHT = 615  # his height in that frame, head to feet, pixels
EMPTY_ROOM = (260, 20, 860, 330)  # bare wall (no one, nothing person-like)


def read_frame(video: Path, index: int = 10) -> np.ndarray:
    with VideoReader(video, "rgb24") as reader:
        for i, frame in reader:
            if i == index:
                return frame
    raise SystemExit(f"{video}: fewer than {index + 1} frames")


def scene(frame: np.ndarray, size: tuple[int, int], height: int, place: float) -> tuple[np.ndarray, tuple]:
    """The frame of `size` with the person `height` px tall at `place` (fraction of the width)."""
    w, h = size
    x0, y0, x1, y1 = EMPTY_ROOM
    out = cv2.resize(frame[y0:y1, x0:x1], (w, h), interpolation=cv2.INTER_LINEAR)
    px0, py0, px1, py1 = PERSON_BOX
    person = frame[py0:py1, px0:px1]
    scale = height / PERSON_HEIGHT
    pw, ph = max(1, round((px1 - px0) * scale)), max(1, round((py1 - py0) * scale))
    person = cv2.resize(person, (pw, ph), interpolation=cv2.INTER_AREA)
    cx, cy = round(place * w), round(h / 3)
    ax, ay = min(max(0, cx - pw // 2), w - pw), min(max(0, cy - ph // 2), h - ph)
    out[ay:ay + ph, ax:ax + pw] = person
    return np.ascontiguousarray(out), (ax, ay, ax + pw, ay + ph)  # the cut-out's box


def found(backend: MediaPipePeopleBackend, image: np.ndarray, box: tuple) -> bool:
    dets = []
    for i in range(len(backend._regions) + 4 if backend._regions else 16):
        dets = backend.detect_rgb(image, i)
    for d in dets:
        cx, cy = (d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2
        if box[0] <= cx <= box[2] and box[1] <= cy <= box[3]:
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--video", type=Path, default=Path("../shared/data/videos/two_people.mp4"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if not args.video.is_file():
        print(f"{args.video}: no such video; pass --video PATH to two_people.mp4", file=sys.stderr)
        return 2
    frame = read_frame(args.video)
    report = {}
    for size in SIZES:
        for mode, tiles in (("tiled", 432), ("whole frame", 0)):
            rows = {}
            for height in HEIGHTS:
                hits = []
                for place in (0.15, 0.5, 0.85):
                    with MediaPipePeopleBackend(tile=tiles) as backend:
                        image, box = scene(frame, size, height, place)
                        hits.append(found(backend, image, box))
                rows[height] = hits
            smallest = min((hgt for hgt, hits in rows.items() if all(hits)), default=None)
            report[f"{size[0]}x{size[1]} {mode}"] = {"found": {str(k): v for k, v in rows.items()},
                                                     "smallest_found_everywhere_px": smallest}
            line = " ".join(f"{hgt}:{''.join('x' if v else '.' for v in hits)}" for hgt, hits in rows.items())
            print(f"{size[0]}x{size[1]} {mode:<12} smallest found at all 3 places: "
                  f"{smallest if smallest else 'none'} px | {line}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
