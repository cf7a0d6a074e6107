"""The video job: read -> 2D keypoints -> tracks -> 3D -> render -> write, and the export.

Two streaming passes over the input keep memory constant in the clip's length: pass 1 decodes
each frame, finds people and tracks them (only keypoints are kept: about 200 bytes per person
and frame); then every track is lifted to 3D with the whole clip known (future frames too);
pass 2 decodes the frames again, draws 2D and 3D, and encodes the output. Nothing is written
under the output names until each file is complete (`VideoWriter` and `export` write to a
temporary name and rename).
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipeline.lift import lift_tracks
from pipeline.track import Tracker, Tracks
from posemoe.errors import PoseMoEError


@dataclass
class StageTimer:
    """Wall time per stage, for the summary printed at the end of a run."""

    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, dt: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + dt

    def timed(self, stage: str, items: Iterator) -> Iterator:
        """Yield from `items`, charging the time spent producing each item to `stage`."""
        it = iter(items)
        while True:
            t = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                self.add(stage, time.perf_counter() - t)
                return
            self.add(stage, time.perf_counter() - t)
            yield item

    def summary(self, frames: int) -> str:
        total = sum(self.seconds.values())
        parts = [f"{k} {1000 * v / max(frames, 1):.1f}" for k, v in self.seconds.items()]
        fps = frames / total if total > 0 else float("inf")
        return f"ms/frame: {', '.join(parts)} | total {total:.1f} s, {fps:.1f} frames/s end to end"


def check_output_path(out: Path, inputs: list[Path], suffixes: tuple[str, ...]) -> None:
    """Fail before any work when an output could not be written: a wrong suffix, or any of
    `pipeline.video_io.check_output_path`'s reasons (folder, permissions, same file as an input)."""
    from pipeline.video_io import check_output_path as check_writable

    if out.suffix.lower() not in suffixes:
        raise PoseMoEError(f"{out}: expected an output file ending in {' or '.join(suffixes)}")
    check_writable(out, inputs)


def _bar(total: int | None, desc: str, enabled: bool) -> tqdm:
    return tqdm(total=total, desc=desc, unit="frame", file=sys.stderr, disable=not enabled, dynamic_ncols=True,
                leave=False)


def load_model(checkpoint: str | Path | None, device: str | None):
    """The lifting network: `checkpoint`, or the shipped default (`weights/posemoe-default.pt`)."""
    from posemoe.checkpoint import load_checkpoint
    from posemoe.lifter import DEFAULT_WEIGHTS

    path = Path(checkpoint) if checkpoint else DEFAULT_WEIGHTS
    if checkpoint is None and not path.is_file():
        raise PoseMoEError(f"{path}: no shipped default weights yet (see weights/README.md); pass "
                           "--checkpoint, e.g. -c weights/preview/posemoe-tiny27-cpu.pt")
    model, ckpt = load_checkpoint(path, device=device or "cpu")
    return model, ckpt, path


def detect_and_track(frames: Iterator[tuple[int, np.ndarray]], backend: Callable, tracker: Tracker,
                     timer: StageTimer, bar: tqdm) -> int:
    """Pass 1: 2D keypoints of every frame, fed to the tracker. Returns the number of frames."""
    n = 0
    for index, frame in timer.timed("decode", frames):
        t = time.perf_counter()
        detections = backend(frame, index)
        timer.add("2d", time.perf_counter() - t)
        t = time.perf_counter()
        tracker.update(index, detections)
        timer.add("track", time.perf_counter() - t)
        n += 1
        bar.update(1)
    return n


def lift_all(model, tracks: Tracks, image_size: tuple[int, int], device: str | None,
             timer: StageTimer) -> np.ndarray:
    """Every track to 3D, timed as the '3d' stage."""
    t = time.perf_counter()
    out = lift_tracks(model, tracks.keypoints, tracks.scores, tracks.present, image_size, device=device)
    timer.add("3d", time.perf_counter() - t)
    return out


@dataclass
class JobResult:
    """What a job produced, for the CLI's summary."""

    frames: int
    people: int
    backend: str
    reason: str
    outputs: list[Path]
    timing: str
    warnings: list[str]


def _finish_results(tracks: Tracks, pose3d: np.ndarray, fps: float, image_size: tuple[int, int], ckpt_path: Path,
                    backend: str, reason: str, extra: dict):
    from pipeline.export import Results, checkpoint_info

    f = tracks.keypoints.shape[1]
    return Results(frame_index=np.arange(f), time_s=np.arange(f) / fps, fps=fps, image_size=image_size,
                   track_ids=tracks.track_ids, keypoints2d=tracks.keypoints,
                   scores2d=np.where(tracks.present[..., None], tracks.scores, 0.0), keypoints3d=pose3d,
                   checkpoint=checkpoint_info(ckpt_path), backend2d={"name": backend, "reason": reason},
                   extra=extra)


def _render_pass(frames: Iterator[tuple[int, np.ndarray]], renderer, writer, timer: StageTimer, bar: tqdm) -> int:
    n = 0
    for index, frame in timer.timed("decode", frames):
        t = time.perf_counter()
        image = renderer.render(frame, index)
        timer.add("render", time.perf_counter() - t)
        t = time.perf_counter()
        writer.write(image)
        timer.add("encode", time.perf_counter() - t)
        n += 1
        bar.update(1)
    return n


def process_video(src: Path, out: Path | None, *, save: Path | None = None, pose2d: str = "auto",
                  checkpoint: Path | None = None, device: str | None = None, view: str = "side-by-side",
                  max_people: int | None = None, progress: bool = True,
                  log: Callable[[str], None] = print) -> JobResult:
    """`posemoe video`: the whole job for one clip. `out` (.mp4) and/or `save` (.npz|.json)."""
    from pipeline.keypoints2d import make_backend, resolve_auto
    from pipeline.render import VIEWS, Renderer
    from pipeline.video_io import VideoReader, VideoWriter, probe

    if out is None and save is None:
        raise PoseMoEError("nothing to write: give an output video (-o OUT.mp4) and/or --save RESULTS.npz|.json")
    if view not in VIEWS:
        raise PoseMoEError(f"--view {view!r}: choose one of {', '.join(VIEWS)}")
    if out is not None:
        check_output_path(out, [src], (".mp4",))
    if save is not None:
        check_output_path(save, [src] + ([out] if out else []), (".npz", ".json"))
    info = probe(src)
    model, _, ckpt_path = load_model(checkpoint, device)  # fail early on a bad checkpoint
    if pose2d == "auto":
        name, reason = resolve_auto()
    else:
        name, reason = pose2d, "chosen with --pose2d"
    log(f"[video] {src.name}: {info.width}x{info.height}, {info.fps:.2f} fps, ~{info.frame_count} frames; "
        f"2D: {name} ({reason}); 3D: {ckpt_path.name}")
    timer = StageTimer()
    warned: list[str] = []
    tracker = Tracker(max_people=max_people)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with make_backend(name) as backend, VideoReader(src) as reader, \
                _bar(info.frame_count, "2D + tracking", progress) as bar:
            n = detect_and_track(iter(reader), backend, tracker, timer, bar)
    warned += [str(w.message) for w in caught]
    for msg in warned:
        log(f"[video] warning: {msg}")
    tracks = tracker.finalize(n)
    if tracks.num_people == 0:
        log(f"[video] no person found in any of the {n} frames; the output shows the video unchanged")
    pose3d = lift_all(model, tracks, (info.width, info.height), device, timer)
    outputs = []
    if out is not None:
        renderer = Renderer(tracks.keypoints, tracks.scores, pose3d, tracks.track_ids, (info.width, info.height),
                            view=view)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the first pass already reported damage
            with VideoReader(src) as reader, VideoWriter(out, info.fps, renderer.output_size, forbid_same_as=src) as writer, \
                    _bar(n, "render", progress) as bar:
                _render_pass(iter(reader), renderer, writer, timer, bar)
        outputs.append(out)
    if save is not None:
        from pipeline.export import save_results

        t = time.perf_counter()
        save_results(save, _finish_results(tracks, pose3d, info.fps, (info.width, info.height), ckpt_path, name,
                                           reason, {"input": str(src)}))
        timer.add("export", time.perf_counter() - t)
        outputs.append(save)
    return JobResult(n, tracks.num_people, name, reason, outputs, timer.summary(n), warned)


def lift_keypoint_file(src: Path, out: Path, *, checkpoint: Path | None = None, device: str | None = None,
                       view: str = "3d", video: Path | None = None, fps: float | None = None,
                       image_size: tuple[int, int] | None = None, progress: bool = True,
                       log: Callable[[str], None] = print) -> JobResult:
    """`posemoe lift`: precomputed 2D keypoints (our export or mmpose JSON) -> .npz/.json or .mp4."""
    from pipeline.keypoints2d import KeypointFileBackend

    suffixes = (".npz", ".json", ".mp4")
    check_output_path(out, [src] + ([video] if video else []), suffixes)
    kp_file = KeypointFileBackend(src)
    size = image_size or kp_file.image_size
    if video is not None:
        from pipeline.video_io import probe

        vinfo = probe(video)
        size = size or (vinfo.width, vinfo.height)
        fps = fps or vinfo.fps
    if size is None:
        raise PoseMoEError(f"{src}: the file does not give the image size; pass --image-size WxH (pixels)")
    fps = fps or kp_file.fps or 25.0
    model, _, ckpt_path = load_model(checkpoint, device)
    timer = StageTimer()
    tracker = Tracker()
    t = time.perf_counter()
    n = 0
    for index, detections in kp_file.detections():
        tracker.update(index, detections)
        n = index + 1
    tracks = tracker.finalize(n)
    timer.add("track", time.perf_counter() - t)
    log(f"[lift] {src.name}: {n} frames, {tracks.num_people} people ({kp_file.format} keypoints); 3D: {ckpt_path.name}")
    pose3d = lift_all(model, tracks, size, device, timer)
    if out.suffix.lower() == ".mp4":
        from pipeline.render import Renderer
        from pipeline.video_io import VideoReader, VideoWriter

        renderer = Renderer(tracks.keypoints, tracks.scores, pose3d, tracks.track_ids, size,
                            view=view if video is not None else "3d")
        with VideoWriter(out, fps, renderer.output_size, forbid_same_as=src) as writer, _bar(n, "render", progress) as bar:
            if video is not None:
                with VideoReader(video) as reader:
                    frames = ((i, f) for i, f in reader if i < n)
                    _render_pass(frames, renderer, writer, timer, bar)
            else:
                _render_pass(((i, None) for i in range(n)), renderer, writer, timer, bar)
    else:
        from pipeline.export import save_results

        save_results(out, _finish_results(tracks, pose3d, fps, size, ckpt_path, "keypoints",
                                          f"read from {src.name}", {"input": str(src)}))
    return JobResult(n, tracks.num_people, "keypoints", kp_file.format, [out], timer.summary(n), [])
