"""Two results of one clip side by side: ``posemoe compare A.npz B.npz -o OUT.mp4``.

For comparing two checkpoints, or two 2D backends, on the same video. Both files are
posemoe results files (``pipeline.export``; .npz or .json, recognised by their content). The
output video shows the source frame (``video``; a plain dark background without it) with both
2D skeletons (A blue, B orange), then one 3D panel per result, labelled with its checkpoint and
2D backend (or ``labels``). The two panels share one up direction, scale, framing and floor
grid, so equal poses look equal. A text box gives the frame number, the time and the per-frame
difference: the mean per-joint distance between A's and B's 3D poses after root alignment
(both are root-relative; the pelvis is subtracted again to be sure), in millimetres, averaged
over the people matched between the two files (by their 2D keypoints: two backends number
their tracks differently).

Frames are aligned by ``frame_index``: the two files must hold the same frames of a clip at the
same frame rate and image size, else a one-line PoseMoEError says what differs.
"""

from __future__ import annotations

import re
import sys
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from posemoe.errors import PoseMoEError

COLOURS = ((225, 125, 35), (30, 135, 245))  # (b, g, r): A blue, B orange
_BACKGROUND = 48  # grey level of the frame area without a source video
_FORMAT_RE = re.compile(rb'"format"\s*:\s*"posemoe-results-v[12]"')


def is_results_file(path: str | Path) -> bool:
    """True if ``path`` is a posemoe results file (version 1 or 2) (.npz or .json), judged by its content.

    Reads only the start of a JSON file (results files write their metadata first) and only the
    ``meta`` entry of a zip (.npz) archive. A missing or unreadable file is not one.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except OSError:
        return False
    if head[:2] == b"PK":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with np.load(path, allow_pickle=False) as npz:
                    if "meta" not in npz.files:
                        return False
                    return _FORMAT_RE.search(str(npz["meta"]).encode("utf-8")) is not None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, AttributeError):
            return False
    return _FORMAT_RE.search(head) is not None


def describe(results, path: str | Path | None = None) -> str:
    """A short label of a result: "<checkpoint name> / <2D backend>" from its metadata."""
    ckpt = results.checkpoint.get("name") if isinstance(results.checkpoint, dict) else None
    backend = results.backend2d.get("name") if isinstance(results.backend2d, dict) else None
    parts = [str(p) for p in (ckpt, backend) if p and p != "unknown"]
    if not parts and path is not None:
        parts = [Path(path).name]
    return " / ".join(parts) or "?"


def check_pair(a, b, name_a: str = "A", name_b: str = "B") -> None:
    """PoseMoEError (one line) unless the two results hold the same frames of one clip."""
    if a.num_frames != b.num_frames:
        raise PoseMoEError(f"{name_a} has {a.num_frames} frames, {name_b} has {b.num_frames}; compare needs "
                           f"two results of the same clip (same frames)")
    if abs(a.fps - b.fps) > 1e-3 * max(a.fps, b.fps):
        raise PoseMoEError(f"{name_a} is at {a.fps:.3f} fps, {name_b} at {b.fps:.3f} fps; compare needs two "
                           f"results of the same clip (same frame rate)")
    if tuple(a.image_size) != tuple(b.image_size):
        raise PoseMoEError(f"{name_a} has image size {a.image_size[0]}x{a.image_size[1]}, {name_b} "
                           f"{b.image_size[0]}x{b.image_size[1]}; compare needs two results of the same clip")
    if not np.array_equal(a.frame_index, b.frame_index):
        bad = int(np.argmax(a.frame_index != b.frame_index))
        raise PoseMoEError(f"{name_a} and {name_b} hold different frames (entry {bad}: frame "
                           f"{int(a.frame_index[bad])} against {int(b.frame_index[bad])}); compare aligns "
                           f"frames by frame_index")


def match_people(a, b) -> list[tuple[int, int]]:
    """Pairs (person of A, person of B) that are the same person, by their 2D keypoints.

    Cost of a pair: the mean 2D joint distance (pixels) over the frames where both are present;
    pairs are taken cheapest first, each person at most once, and only while the cost is under
    half that person's median 2D height (two detections of one person agree far better).
    """
    k2a, k2b = np.asarray(a.keypoints2d, np.float64), np.asarray(b.keypoints2d, np.float64)
    candidates = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for i in range(k2a.shape[0]):
            height = np.nanmedian(np.nanmax(k2a[i, ..., 1], -1) - np.nanmin(k2a[i, ..., 1], -1))
            for j in range(k2b.shape[0]):
                d = np.linalg.norm(k2a[i] - k2b[j], axis=-1)  # (F, 17)
                cost = np.nanmean(d)
                if np.isfinite(cost) and np.isfinite(height) and cost < 0.5 * max(height, 1.0):
                    candidates.append((float(cost), i, j))
    pairs, used_a, used_b = [], set(), set()
    for _, i, j in sorted(candidates):
        if i not in used_a and j not in used_b:
            pairs.append((i, j))
            used_a.add(i)
            used_b.add(j)
    return pairs


def pose_difference_mm(a, b, pairs: Sequence[tuple[int, int]] | None = None) -> np.ndarray:
    """(F,) mean per-joint distance (mm) between A's and B's 3D poses after root alignment.

    Averaged over the matched people present in both in that frame; NaN where there is none.
    """
    if pairs is None:
        pairs = match_people(a, b)
    n = a.num_frames
    total, count = np.zeros(n), np.zeros(n)
    for i, j in pairs:
        pa = np.asarray(a.keypoints3d[i], np.float64)
        pb = np.asarray(b.keypoints3d[j], np.float64)
        pa = pa - pa[:, :1]
        pb = pb - pb[:, :1]
        err = 1000.0 * np.linalg.norm(pa - pb, axis=-1).mean(-1)  # (F,)
        ok = np.isfinite(err)
        total[ok] += err[ok]
        count[ok] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


class CompareRenderer:
    """Frames of the comparison video: the frame with both 2D skeletons, then 3D panels A and B.

    a, b: ``pipeline.export.Results`` of one clip (``check_pair``); labels: the two panels'
    names (default ``describe``). ``render(frame_bgr | None, f)`` gives frame ``f`` (0..F-1),
    of ``output_size`` (both even).
    """

    def __init__(self, a, b, labels: Sequence[str] | None = None, views3d: str = "oblique",
                 joint_threshold: float = 0.3) -> None:
        from pipeline.render import SceneView3D, estimate_up, panel_layout, share_framing
        from pipeline.render.style import font_scale_for, line_thickness

        check_pair(a, b)
        self.a, self.b = a, b
        self.labels = list(labels) if labels is not None else [describe(a), describe(b)]
        if len(self.labels) != 2:
            raise PoseMoEError(f"labels: expected 2 (A and B), found {len(self.labels)}")
        self.image_size = tuple(a.image_size)
        self.num_frames = a.num_frames
        self.fps = a.fps
        self.joint_threshold = float(joint_threshold)
        self.pairs = match_people(a, b)
        self.difference_mm = pose_difference_mm(a, b, self.pairs)
        w, h = self.image_size
        k3 = [np.asarray(r.keypoints3d, np.float64) for r in (a, b)]
        up = estimate_up(np.concatenate([k.reshape(-1, 17, 3) for k in k3]))
        self.scenes = []
        for name, r, k, colour in zip("AB", (a, b), k3, COLOURS):
            scene = SceneView3D(k, r.keypoints2d, self.image_size, r.track_ids, view=views3d, up=up,
                                colours=[colour] * r.num_people, title=f"{name}: {self.labels['AB'.index(name)]}")
            scene.font_scale = font_scale_for(w, h)
            self.scenes.append(scene)
        share_framing(self.scenes)
        aspect = self.scenes[0].content_aspect()
        self.output_size, self._panels = panel_layout(self.image_size, "side-by-side", 2, [aspect, aspect])
        self._panel_bgs = [s.background(p[2:]) for s, p in zip(self.scenes, self._panels)]
        self._panel_bgs[1][:, :max(1, line_thickness(w, h) // 2)] = (150, 150, 150)  # a line between A and B
        self.line_thickness = line_thickness(w, h)
        self._font = font_scale_for(w, h)
        self._blank = np.full((h, w, 3), _BACKGROUND, np.uint8)
        self._k2 = [np.asarray(r.keypoints2d, np.float64) for r in (a, b)]
        self._s2 = [np.asarray(r.scores2d, np.float64) for r in (a, b)]
        self._present = [np.isfinite(k).all(-1).any(-1) for k in self._k2]

    def header(self, f: int) -> list[str]:
        """The text box lines of frame ``f``: frame number and time, then the A-B difference."""
        from pipeline.render import format_timecode

        d = self.difference_mm[f]
        diff = f"A vs B: {d:.1f} mm per joint" if np.isfinite(d) else "A vs B: -"
        return [f"frame {int(self.a.frame_index[f])}  {format_timecode(float(self.a.time_s[f]))}", diff]

    def render(self, frame_bgr: np.ndarray | None, f: int) -> np.ndarray:
        from pipeline.render import draw_panels, draw_skeleton_2d, draw_text_box
        from pipeline.render.overlay2d import draw_label, label_anchor
        from pipeline.render.style import shade

        f = self.scenes[0]._check_frame(f)
        w, h = self.image_size
        out_w, out_h = self.output_size
        out = np.empty((out_h, out_w, 3), np.uint8)
        if frame_bgr is None:
            out[:h, :w] = self._blank
        else:
            frame = np.asarray(frame_bgr)
            if frame.shape != (h, w, 3) or frame.dtype != np.uint8:
                raise PoseMoEError(f"frame {f}: expected a ({h}, {w}, 3) uint8 BGR image, found {frame.shape} "
                                   f"{frame.dtype}")
            out[:h, :w] = frame
        if out_h > h:
            out[h:] = 0
        view = out[:h, :w]
        for k, (name, colour) in enumerate(zip("AB", COLOURS)):
            for p in range(self._k2[k].shape[0]):
                if not self._present[k][p, f]:
                    continue
                kp = self._k2[k][p, f]
                # A wider underneath, B thinner on top: both stay visible where the 2D is the same
                thick = self.line_thickness + 1 if k == 0 else max(1, self.line_thickness - 1)
                draw_skeleton_2d(view, kp, self._s2[k][p, f], colour, self.joint_threshold, thick)
                anchor = label_anchor(kp)
                if anchor is not None:
                    dx = (-1 if k == 0 else 1) * 56.0 * self._font  # A left of the head, B right
                    draw_label(view, f"{name}#{int([self.a, self.b][k].track_ids[p])}",
                                (anchor[0] + dx, anchor[1] - self.line_thickness - 2), colour, self._font)
        draw_text_box(view, self.header(f), "tl")
        draw_text_box(view, [f"A: {self.labels[0]}", f"B: {self.labels[1]}"], "bl",
                      colours=[shade(c, 1) for c in COLOURS])
        x_end = draw_panels(out, self.scenes, self._panel_bgs, self._panels, f)
        if out_w > x_end:
            out[:, x_end:] = 0
        return out


@dataclass
class CompareResult:
    """What ``compare_results`` found (and wrote)."""

    frames: int
    pairs: list[tuple[int, int]]
    labels: list[str]
    difference_mm: np.ndarray  # (F,)
    output: Path | None

    def summary(self) -> str:
        d = self.difference_mm
        ok = np.isfinite(d)
        who = f"{len(self.pairs)} {'person' if len(self.pairs) == 1 else 'people'} matched"
        text = f"A = {self.labels[0]}, B = {self.labels[1]}: {self.frames} frames, {who}"
        if ok.any():
            worst = int(np.nanargmax(d))
            text += (f"; A vs B per joint (root-aligned): mean {np.nanmean(d):.1f} mm, median "
                     f"{np.nanmedian(d):.1f} mm, max {d[worst]:.1f} mm at frame {worst}")
        else:
            text += "; no frame with a matched person in both"
        return text


def load_pair(path_a: str | Path, path_b: str | Path):
    """Both results files, loaded and checked to be of the same clip."""
    from pipeline.export import load_results

    a, b = load_results(path_a), load_results(path_b)
    check_pair(a, b, str(path_a), str(path_b))
    return a, b


def compare_results(path_a: str | Path, path_b: str | Path, out: str | Path | None = None, *,
                    video: str | Path | None = None, labels: Sequence[str] | None = None,
                    views3d: str = "oblique", progress: bool = True,
                    log: Callable[[str], None] = print) -> CompareResult:
    """Compare two results files of one clip; with ``out`` (.mp4) render the comparison video."""
    from pipeline.video import check_output_path

    path_a, path_b = Path(path_a), Path(path_b)
    if out is not None:
        out = Path(out)
        check_output_path(out, [path_a, path_b] + ([Path(video)] if video else []), (".mp4",))
    a, b = load_pair(path_a, path_b)
    names = list(labels) if labels else [describe(a, path_a), describe(b, path_b)]
    if len(names) != 2:
        raise PoseMoEError(f"--labels: expected 2 labels (A and B), found {len(names)}")
    if names[0] == names[1]:  # e.g. the same checkpoint name: the file names tell them apart
        names = [f"{names[0]} ({path_a.name})", f"{names[1]} ({path_b.name})"]
    renderer = CompareRenderer(a, b, names, views3d=views3d)
    result = CompareResult(a.num_frames, renderer.pairs, names, renderer.difference_mm, out)
    if out is None:
        return result
    from tqdm import tqdm

    from pipeline.video_io import VideoReader, VideoWriter, probe

    position = {int(v): i for i, v in enumerate(a.frame_index.tolist())}
    if video is not None:
        info = probe(video)
        if (info.width, info.height) != tuple(a.image_size):
            raise PoseMoEError(f"{video}: is {info.width}x{info.height}, the results are of a "
                               f"{a.image_size[0]}x{a.image_size[1]} video; pass the video they were made from")
    log(f"[compare] {a.num_frames} frames, {renderer.output_size[0]}x{renderer.output_size[1]} -> {out}")
    bar = tqdm(total=a.num_frames, desc="render", unit="frame", file=sys.stderr, disable=not progress,
               dynamic_ncols=True, leave=False)
    with bar, VideoWriter(out, a.fps, renderer.output_size,
                          forbid_same_as=video if video is not None else path_a) as writer:
        if video is None:
            for f in range(a.num_frames):
                writer.write(renderer.render(None, f))
                bar.update(1)
        else:
            done = 0
            last = max(position) if position else -1
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with VideoReader(video) as reader:
                    for index, frame in reader:
                        f = position.get(index)
                        if f is not None:
                            writer.write(renderer.render(frame, f))
                            done += 1
                            bar.update(1)
                        if index >= last:
                            break
            if done != a.num_frames:
                raise PoseMoEError(f"{video}: only {done} of the results' {a.num_frames} frames are in the video "
                                   f"(frame_index up to {last}); pass the video the results were made from")
    return result
