"""The video job: read -> 2D keypoints -> tracks -> 3D -> render -> write, and the export.

Two streaming passes over the input keep memory constant in the clip's length: pass 1 decodes
each frame, finds people and tracks them (only keypoints are kept: about 200 bytes per person
and frame); then every track is lifted to 3D with the whole clip known (future frames too);
pass 2 decodes the frames again, draws 2D and 3D, and encodes the output. Where pass 1 runs in a
process of its own (`find_people_beside`), it sends the tracks found so far as it goes, and the
windows of them that can no longer change are lifted meanwhile (`EarlyLifter`; the 3D is the same
as lifting everything afterwards, `pipeline.lift.WindowCache`). Nothing is written
under the output names until each file is complete (`VideoWriter` and `export` write to a
temporary name and rename).

Stages overlap on several cores: decoding runs in its own thread a few frames ahead of the 2D
detector and of the renderer (`prefetch`), and encoding runs in its own thread a few frames
behind the renderer (`background_writer`); PyAV, MediaPipe, OpenCV and x264 release the GIL while
they work. The queues between them hold at most `QUEUE_FRAMES` frames, so memory stays constant.
A backend that takes RGB (MediaPipe, `input_format = "rgb24"`) gets frames decoded straight to RGB.
"""

from __future__ import annotations

import gc
import importlib
import math
import os
import queue
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipeline.track import Tracker, Tracks
from posemoe.skeleton import check_bone_choice
from posemoe.errors import PoseMoEError


# frames a decoding thread may run ahead of its consumer, or an encoding thread behind its producer
QUEUE_FRAMES = 4
# frames lifted per forward pass (16 windows of 27 frames): the network's activations take ~7 MB
# per 27-frame window (tiny), so this bounds the lifting's memory whatever the clip's length (256
# such windows took ~1.7 GB); small batches are about as fast on a CPU. Shorter windows get more
# windows per pass (a 1-frame model: 432), so that per-call overhead does not dominate.
LIFT_FRAMES = 16 * 27


# Lifting early (`pipeline.lift.prelift`): while the 2D pass runs in its own process, it sends the
# tracks found so far every `PART_FRAMES` frames (or every eighth of the frames so far, if that is
# more: the tracker's arrays are rebuilt for each part), and this process lifts their settled
# windows on one thread meanwhile. The last `GROWING_FRAMES` frames of a part may still
# change: a gap of up to the tracker's `max_gap` (10) frames is filled in once the person is seen
# again, and the view rotation averages the body centre over 9 frames (4 on either side).
PART_FRAMES = 32
GROWING_FRAMES = 16
# windows per forward pass when lifting early: the 2D pass's process is alive meanwhile, and a
# pass over 16 windows left ~185 MB more in this process's heap against ~60 MB for 4, which
# lift 7 % slower on one thread
EARLY_BATCH = 4


def lift_batch(model) -> int:
    """Windows per forward pass for `model`: `LIFT_FRAMES` frames' worth, at least one window."""
    return max(1, LIFT_FRAMES // model.frames)


# torch threads while lifting on the CPU. torch's OpenMP threads spin-wait at every barrier by
# default, so as soon as anything else wants the CPU two threads collapse (`posemoe bench`: 48
# frames/s with 2 threads against 352 with 1 at load average ~4 on 2 cores). With
# OMP_WAIT_POLICY=PASSIVE (which importing `pipeline` sets before torch loads) they sleep instead:
# 2 threads then ran the shipped model at 1,553 frames/s against 916 with 1 on an idle machine,
# and at 1,085 against 1,088 beside a training run. So 2 threads when waits are passive, else 1.
LIFT_THREADS = 2


def lift_threads(model=None) -> int:
    """CPU threads for lifting with `model`: for the ONNX graph `LIFT_THREADS` (each thread runs its
    own batches), or fewer if ``OMP_NUM_THREADS`` says so (`posemoe batch` sets it per worker); for
    the torch network, `LIFT_THREADS` when OpenMP's waits are passive, else 1, and never more than
    torch's own setting."""
    from posemoe.onnx_model import OnnxPoseMoE

    if isinstance(model, OnnxPoseMoE):
        limit = os.environ.get("OMP_NUM_THREADS", "").strip()
        return max(1, min(LIFT_THREADS, int(limit))) if limit.isdigit() else LIFT_THREADS
    passive = os.environ.get("OMP_WAIT_POLICY", "").strip().upper() == "PASSIVE"
    if model is None:
        return LIFT_THREADS if passive else 1
    import torch

    return min(torch.get_num_threads(), LIFT_THREADS if passive else 1)


@dataclass
class StageTimer:
    """Wall time per stage, for the summary printed at the end of a run (thread-safe).

    Stages that run in their own threads (decode, encode) or beside the 2D pass's process (load:
    torch and the lifting network) overlap the others, so a stage's seconds are the time its own
    thread spent on it, and their sum can exceed the job's elapsed time. The job sets `wall_s`
    (seconds from start to finish, set-up included); frames/s end to end is frames / `wall_s`
    (frames / the sum of the stages while it is not set).
    """

    seconds: dict[str, float] = field(default_factory=dict)
    wall_s: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, stage: str, dt: float) -> None:
        with self._lock:
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
        total = self.wall_s if self.wall_s is not None else sum(self.seconds.values())
        parts = [f"{k} {1000 * v / max(frames, 1):.1f}" for k, v in self.seconds.items()]
        fps = frames / total if total > 0 else float("inf")
        overlap = ""
        if self.wall_s is not None:
            names = ["decode", "encode"] + [k for k in ("load", "3d early") if k in self.seconds]
            overlap = f" ({', '.join(names[:-1])} and {names[-1]} overlap the other stages)"
        return f"ms/frame: {', '.join(parts)} | total {total:.1f} s{overlap}, {fps:.1f} frames/s end to end"

    def as_dict(self, frames: int) -> dict:
        """The figures as plain data: frames, seconds and ms/frame per stage, wall seconds, frames/s."""
        with self._lock:
            seconds = dict(self.seconds)
        total = self.wall_s if self.wall_s is not None else sum(seconds.values())
        return {"frames": frames, "stage_seconds": seconds,
                "ms_per_frame": {k: 1000 * v / max(frames, 1) for k, v in seconds.items()},
                "wall_s": total, "fps_end_to_end": frames / total if total > 0 else None}


class _Raised:
    """An exception carried from a worker thread to the thread that consumes its results."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    """Put `item` unless `stop` is set first; whether it was put."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


@contextmanager
def prefetch(items: Iterable, timer: StageTimer | None = None, stage: str = "decode",
             depth: int = QUEUE_FRAMES) -> Iterator[Iterator]:
    """``with prefetch(items) as it:`` iterate `items`, produced by a background thread up to
    `depth` items ahead (for decoding while the caller works on the previous frames).

    The time spent producing each item is charged to `stage` of `timer`. An exception raised
    while producing is raised by the consumer's next step, with its traceback. Leaving the block
    (also early, or by an exception) stops the thread and closes `items`' iterator in it. Warnings
    the producer emits go through the process-wide `warnings` state (`catch_warnings` sees them).
    """
    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def produce() -> None:
        end: object = _END
        it = iter(items)
        try:
            while not stop.is_set():
                t = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    break
                finally:
                    if timer is not None:
                        timer.add(stage, time.perf_counter() - t)
                if not _put(q, item, stop):
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            end = _Raised(exc)
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                try:
                    close()
                except BaseException as exc:  # noqa: BLE001
                    end = end if isinstance(end, _Raised) else _Raised(exc)
        _put(q, end, stop)

    def consume() -> Iterator:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item

    thread = threading.Thread(target=produce, name=f"posemoe-{stage}", daemon=True)
    thread.start()
    gen = consume()
    try:
        yield gen
    finally:
        stop.set()
        gen.close()
        thread.join()


@contextmanager
def background_writer(writer, timer: StageTimer | None = None, stage: str = "encode",
                      depth: int = QUEUE_FRAMES) -> Iterator[Callable[[np.ndarray], None]]:
    """``with background_writer(video_writer) as write:`` call ``write(image)`` to have
    `video_writer.write(image)` run in a background thread, up to `depth` frames behind.

    The image must not be changed after it is handed over. A failed write is raised by the next
    ``write`` or when the block ends; leaving the block normally waits until every frame is
    written, leaving it by an exception drops the frames not yet written.
    """
    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    error: list[BaseException] = []

    def run() -> None:
        while True:
            image = q.get()
            if image is _END:
                return
            if error or stop.is_set():
                continue  # drain without writing
            t = time.perf_counter()
            try:
                writer.write(image)
            except BaseException as exc:  # noqa: BLE001 - handed to the producer
                error.append(exc)
            if timer is not None:
                timer.add(stage, time.perf_counter() - t)

    def write(image: np.ndarray) -> None:
        if error:
            raise error[0]
        q.put(image)

    thread = threading.Thread(target=run, name=f"posemoe-{stage}", daemon=True)
    thread.start()
    ok = False
    try:
        yield write
        ok = True
    finally:
        if not ok:
            stop.set()
        q.put(_END)
        thread.join()
    if error:
        raise error[0]


def check_output_path(out: Path, inputs: list[Path], suffixes: tuple[str, ...]) -> None:
    """Fail before any work when an output could not be written: a wrong suffix, or any of
    `pipeline.video_io.check_output_path`'s reasons (folder, permissions, same file as an input).

    A missing output folder is fine when it can be created (its nearest existing ancestor is a
    writable folder): `make_output_folder` creates it once the job has something to write."""
    import os

    from pipeline.video_io import check_output_path as check_writable

    if out.suffix.lower() not in suffixes:
        raise PoseMoEError(f"{out}: expected an output file ending in {' or '.join(suffixes)}; "
                           f"rename the output, e.g. {out.with_suffix(suffixes[0]).name}")
    folder = out.parent
    if folder.exists() or folder.is_symlink():
        check_writable(out, inputs)
        return
    ancestor = folder
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise PoseMoEError(f"{out}: {ancestor} is not a folder; choose an output path inside a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise PoseMoEError(f"{out}: cannot create the output folder {folder} ({ancestor} is not writable); "
                           f"choose another output path or fix the permissions")


def make_output_folder(out: Path) -> None:
    """Create the folder of output file `out` (and its parents) if missing, or a one-line error."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PoseMoEError(f"{out}: cannot create the output folder {out.parent} ({exc.strerror or exc}); "
                           f"choose another output path or fix the permissions") from None


def _bar(total: int | None, desc: str, enabled: bool, initial: int = 0) -> tqdm:
    return tqdm(total=total, desc=desc, unit="frame", file=sys.stderr, disable=not enabled, dynamic_ncols=True,
                leave=False, initial=initial)


def check_device(device: str | None) -> None:
    """Raise PoseMoEError unless `device` (None = cpu) names a torch device this machine has."""
    if device is None or device == "cpu":
        return  # without importing torch
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise PoseMoEError(f"--device {device!r}: not a device name; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise PoseMoEError(f"--device {device}: CUDA is not available here (torch {torch.__version__}, "
                               f"{'no GPU found' if torch.version.cuda else 'a CPU-only build'}); use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise PoseMoEError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s); "
                               f"use cuda:0 .. cuda:{torch.cuda.device_count() - 1}")
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise PoseMoEError(f"--device {device}: Apple MPS is not available here; use --device cpu")
    elif dev.type != "cpu":
        raise PoseMoEError(f"--device {device}: unsupported device type {dev.type!r}; use cpu or cuda")


def model_path(checkpoint: str | Path | None) -> Path:
    """The lifting network's file: `checkpoint`, or the shipped default (`weights/posemoe-default.pt`),
    which must exist (torch-free: found before the network loads)."""
    from posemoe import shipped

    path = Path(checkpoint) if checkpoint else shipped.shipped_weights()
    if checkpoint is None and not path.is_file():
        raise PoseMoEError(f"{path}: the shipped default weights are missing; restore them with "
                           "`git checkout -- weights/` or pass --checkpoint CKPT.pt")
    return path


def load_model(checkpoint: str | Path | None, device: str | None, log: Callable[[str], None] | None = None):
    """The lifting network of `checkpoint`, or of the shipped default (`weights/posemoe-default.pt`):
    returns (model, its path). On the CPU the model is its ONNX graph (`pipeline.onnx_lifter`;
    `pipeline.lift` takes either), elsewhere the torch network; `log` gets a note if the ONNX graph
    cannot be built."""
    path = model_path(checkpoint)
    check_device(device)
    from pipeline.onnx_lifter import lift_runtime, load_onnx_lifter

    with gc_paused():  # the imports and the network's load (see `gc_paused`)
        if lift_runtime(device) == "onnx":
            return load_onnx_lifter(path, log), path
        from posemoe.checkpoint import load_checkpoint

        model, _ = load_checkpoint(path, device=device or "cpu")
    return model, path


@contextmanager
def gc_paused():
    """Python's cyclic garbage collector paused while a block runs (restored after it).

    Importing torch, SciPy's filters or MediaPipe creates hundreds of thousands of objects that
    live as long as the process, and the collector keeps walking all of them while they are
    created: about a tenth of the start-up's CPU time. Loading creates no garbage cycles worth
    collecting, so the collector waits until it is done."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _load_for_lifting(checkpoint: str | Path | None, device: str | None, log: Callable[[str], None] | None = None):
    """`load_model`, and what the steps after the 2D pass import (placing in the scene, SciPy's filters)."""
    with gc_paused():
        loaded = load_model(checkpoint, device, log)
        for module in ("pipeline.lift", "pipeline.world", "scipy.signal"):
            importlib.import_module(module)
    return loaded


def detect_and_track(frames: Iterator[tuple[int, np.ndarray]], backend: Callable, tracker: Tracker,
                     timer: StageTimer, bar: tqdm, rgb: bool = False, preload: bool = True,
                     on_frame: Callable[[int], None] | None = None) -> int:
    """Pass 1: 2D keypoints of every frame, fed to the tracker with what each person looks like
    (`pipeline.appearance`; frames are RGB with `rgb`, else BGR). Returns the number of frames.
    `on_frame(n)` is called after each frame, with the number of frames done.

    `frames` is iterated in a background thread (decoding overlaps the detector). `preload`:
    import what the steps after this pass need (SciPy's signal filters) in another thread meanwhile."""
    from pipeline.appearance import appearance

    if preload:
        threading.Thread(target=importlib.import_module, args=("scipy.signal",), name="posemoe-preload",
                         daemon=True).start()
    n = 0
    with prefetch(frames, timer, "decode") as items:
        for index, frame in items:
            t = time.perf_counter()
            detections = backend(frame, index)
            timer.add("2d", time.perf_counter() - t)
            t = time.perf_counter()
            for d in detections:
                if d.appearance is None:
                    d.appearance = appearance(frame, d, rgb=rgb)
            tracker.update(index, detections)
            timer.add("track", time.perf_counter() - t)
            n += 1
            bar.update(1)
            if on_frame is not None:
                on_frame(n)
    return n


class PartSender:
    """The 2D pass's side of lifting early: after every `PART_FRAMES` frames (or an eighth of the
    frames so far, if more), `send` gets the tracks so far (`Tracker.finalize`) from the first
    frame that may have changed since the last part on: a dict with `frames` (seen so far),
    `start`, and `track_ids`, `keypoints`, `scores`, `present` over frames [start, frames)."""

    def __init__(self, tracker: Tracker, send: Callable[[dict], None], timer: StageTimer) -> None:
        self.tracker, self.send, self.timer = tracker, send, timer
        self.sent = 0  # frames covered by the last part

    def __call__(self, n: int) -> None:
        if n - self.sent < max(PART_FRAMES, n // 8):
            return
        t = time.perf_counter()
        tracks = self.tracker.finalize(n)
        start = max(0, self.sent - GROWING_FRAMES)
        self.send({"frames": n, "start": start, "track_ids": tracks.track_ids,
                   "keypoints": tracks.keypoints[:, start:], "scores": tracks.scores[:, start:],
                   "present": tracks.present[:, start:]})
        self.sent = n
        self.timer.add("track", time.perf_counter() - t)


class EarlyLifter:
    """This process's side of lifting early: `add` merges each part of the tracks (`PartSender`)
    into the tracks as known so far, and lifts the windows that can no longer change into
    `cache` (`pipeline.lift.prelift`, on one thread: the 2D pass has the other core)."""

    def __init__(self, model, image_size: tuple[int, int], device: str | None, focal_px: float | None,
                 timer: StageTimer) -> None:
        from pipeline.lift import WindowCache

        self.model, self.image_size, self.device, self.focal_px, self.timer = model, image_size, device, focal_px, timer
        self.cache = WindowCache()
        self.rows: dict[int, int] = {}  # track id -> row
        self.keypoints = np.full((0, 0, 17, 2), np.nan, dtype=np.float32)
        self.scores = np.zeros((0, 0, 17), dtype=np.float32)
        self.present = np.zeros((0, 0), dtype=bool)
        self.frames = 0
        self.lifted_to = 0  # windows ending by this frame were lifted
        self.failed: str | None = None  # why lifting early stopped, if it did

    def _grow(self, people: int, frames: int) -> None:
        p, f = self.present.shape
        if people <= p and frames <= f:
            return
        P, F = max(people, p), max(frames, 2 * f)
        kp = np.full((P, F, 17, 2), np.nan, dtype=np.float32)
        sc = np.zeros((P, F, 17), dtype=np.float32)
        pr = np.zeros((P, F), dtype=bool)
        kp[:p, :f], sc[:p, :f], pr[:p, :f] = self.keypoints, self.scores, self.present
        self.keypoints, self.scores, self.present = kp, sc, pr

    def merge(self, part: dict) -> None:
        """Take in one part (frames [start, frames) of every track the pass keeps so far)."""
        n, start = int(part["frames"]), int(part["start"])
        for tid in part["track_ids"]:
            self.rows.setdefault(int(tid), len(self.rows))
        self._grow(len(self.rows), n)
        self.keypoints[:, start:n], self.scores[:, start:n], self.present[:, start:n] = np.nan, 0.0, False
        for k, tid in enumerate(part["track_ids"]):
            r = self.rows[int(tid)]
            self.keypoints[r, start:n] = part["keypoints"][k]
            self.scores[r, start:n] = part["scores"][k]
            self.present[r, start:n] = part["present"][k]
        self.frames = max(self.frames, n)

    def lift(self) -> None:
        """Lift the windows that settled since the last call."""
        from pipeline.lift import prelift

        final = self.frames - GROWING_FRAMES
        if final <= self.lifted_to:
            return
        t = time.perf_counter()
        n = self.frames
        prelift(self.model, self.keypoints[:, :n], self.scores[:, :n], self.present[:, :n], self.image_size,
                self.cache, first=max(0, self.lifted_to - self.model.frames), final=final,
                batch_size=EARLY_BATCH, device=self.device, focal_px=self.focal_px, threads=1)
        self.lifted_to = final
        self.timer.add("3d early", time.perf_counter() - t)

    def add(self, parts: list[dict]) -> None:
        """Take in `parts` and lift what settled. Lifting early only saves time: if it fails (say,
        out of memory beside the 2D pass), it stops, and the windows are all lifted after the pass."""
        if self.failed is not None:
            return
        try:
            for part in parts:
                self.merge(part)
            self.lift()
        except Exception as exc:  # noqa: BLE001 - the job goes on without it
            self.failed = f"{type(exc).__name__}: {exc}"


@dataclass
class PeoplePass:
    """What pass 1 found: the frame count, the people's tracks, the warnings it raised, and the
    seconds of its stages (`StageTimer.seconds`)."""

    frames: int
    tracks: Tracks
    warnings: list[str]
    stage_seconds: dict[str, float]
    pid: int = field(default_factory=os.getpid)  # the process that ran the pass


class _BarWhenReady:
    """A progress bar that shows from the moment `ready` (an Event) is set, counting the frames
    done before; with `ready` None, at once. (The forked 2D pass draws its bar only once the main
    process has loaded the lifting network: a bad checkpoint's error then stands alone.)"""

    def __init__(self, total: int | None, desc: str, enabled: bool, ready=None) -> None:
        self.total, self.desc, self.enabled, self.ready = total, desc, enabled, ready
        self.done = 0
        self.started = time.time()  # tqdm's clock: the bar's rate counts from here
        self.bar: tqdm | None = None

    def update(self, k: int = 1) -> None:
        self.done += k
        if self.bar is not None:
            self.bar.update(k)
        elif self.enabled and (self.ready is None or self.ready.is_set()):
            self.bar = _bar(self.total, self.desc, True, initial=self.done)  # its rate: from the next frames on
            self.bar.start_t = self.started  # its elapsed time: from the pass's start

    def __enter__(self) -> _BarWhenReady:
        self.update(0)
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()


def find_people(src: Path, backend_name: str, backend_options: dict, tracker_options: dict,
                frame_count: int | None, progress: bool, preload: bool = True, ready=None,
                send_part: Callable[[dict], None] | None = None) -> PeoplePass:
    """Pass 1 on the clip `src`: the 2D backend on every frame, and the tracker over them.
    `ready`: an Event; the progress bar shows once it is set (`_BarWhenReady`). `send_part`: gets
    the tracks so far as the pass goes (`PartSender`), for lifting early."""
    from pipeline.pose2d import make_backend
    from pipeline.video_io import VideoReader

    timer = StageTimer()
    tracker = Tracker(**tracker_options)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = time.perf_counter()
        with ExitStack() as stack:
            with gc_paused():  # MediaPipe's import and the detector's start-up
                backend = stack.enter_context(make_backend(backend_name, **backend_options))
            reader = stack.enter_context(VideoReader(src, _reader_format(backend)))
            bar = stack.enter_context(_BarWhenReady(frame_count, "2D + tracking", progress, ready))
            timer.add("setup", time.perf_counter() - t)
            detect = backend.detect_rgb if reader.pixel_format == "rgb24" else backend
            n = detect_and_track(iter(reader), detect, tracker, timer, bar, rgb=reader.pixel_format == "rgb24",
                                 preload=preload,
                                 on_frame=None if send_part is None else PartSender(tracker, send_part, timer))
    t = time.perf_counter()
    tracks = tracker.finalize(n)
    timer.add("track", time.perf_counter() - t)
    return PeoplePass(n, tracks, [str(w.message) for w in caught], dict(timer.seconds))


def can_fork() -> bool:
    """Whether pass 1 can run in a forked process here: on Linux, and only while this process has
    not loaded MediaPipe (its native threads do not survive a fork: the forked process aborts).
    Elsewhere forking a process that loaded native libraries is unsafe or unavailable."""
    import multiprocessing

    return (sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
            and "mediapipe" not in sys.modules)


class PassProcessDied(PoseMoEError):
    """The 2D pass's process ended without a result (killed, or crashed in native code)."""

    def __init__(self, message: str, exitcode: int | None) -> None:
        super().__init__(message)
        self.exitcode = exitcode


def _end_with_parent(parent: int) -> None:
    """Have Linux stop this process when its parent ends (killed, out of memory) instead of leaving it
    to finish a pass nobody will read (``prctl(PR_SET_PDEATHSIG)``; nothing elsewhere)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent ended before the request took effect
        os._exit(1)


def _find_people_child(conn, args: tuple, ready, parent: int) -> None:
    """The forked process's side of `find_people_beside`: the pass, then its result or its exception."""
    _end_with_parent(parent)
    if "matplotlib.pyplot" not in sys.modules:
        # importing mediapipe imports pyplot for drawing helpers this process never calls (0.2 s of
        # its 0.5 s); this process only runs the 2D pass and then ends, so a stand-in will do
        import types

        sys.modules["matplotlib.pyplot"] = types.ModuleType("matplotlib.pyplot")
    try:
        conn.send(("ok", find_people(*args, preload=False, ready=ready, send_part=lambda part: conn.send(("part", part)))))
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, which raises it
        import pickle
        import traceback

        add_note = getattr(exc, "add_note", None)  # Python 3.11+
        if add_note is not None and not isinstance(exc, (PoseMoEError, KeyboardInterrupt)):
            add_note("in the 2D pass's process:\n" + "".join(traceback.format_exception(exc)).rstrip())
        try:
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001 - an exception that does not pickle travels as text
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        conn.send(("error", exc))
    finally:
        conn.close()


@contextmanager
def find_people_beside(*args) -> Iterator[Callable[..., PeoplePass]]:
    """``with find_people_beside(...) as result:`` run `find_people(...)` in a forked process
    while the block does other work (loading the lifting network); ``result()`` waits for it.
    Its progress bar shows once ``result()`` is called (the other work went well).
    ``result(on_parts)``: while waiting, ``on_parts(parts)`` gets the tracks so far as the pass
    sends them (`PartSender`; a list of the parts that arrived since the last call).

    Two processes rather than two threads: the other work is Python imports (torch, SciPy) that hold
    the interpreter's lock, and beside the 2D pass in one process both slowed down about as much
    as they overlapped. Leaving the block (also by an exception) ends the process. Where no process
    can be started (a process limit, no POSIX semaphores), ``result()`` runs the pass in this one.
    A thread here reads whatever the process sends as soon as it comes, so the pass never waits
    on a full pipe while this process is busy."""
    import multiprocessing

    opened: list = []
    try:
        ctx = multiprocessing.get_context("fork")
        receive, send = ctx.Pipe(duplex=False)
        opened += [receive, send]
        ready = ctx.Event()
        proc = ctx.Process(target=_find_people_child, args=(send, args, ready, os.getpid()), name="posemoe-2d",
                           daemon=True)
        proc.start()
    except (OSError, ImportError, ValueError):
        for end in opened:
            end.close()
        yield lambda on_parts=None: find_people(*args)
        return
    send.close()
    inbox: queue.Queue = queue.Queue()

    def read() -> None:
        while True:
            try:
                message = receive.recv()
            except (EOFError, OSError):
                inbox.put(("eof", None))
                return
            except BaseException as exc:  # noqa: BLE001 - an unreadable message: the caller raises it
                inbox.put(("error", exc))
                return
            inbox.put(message)
            if message[0] != "part":
                return

    reader = threading.Thread(target=read, name="posemoe-2d-reader", daemon=True)
    reader.start()
    got: list[PeoplePass] = []

    def result(on_parts: Callable[[list[dict]], None] | None = None) -> PeoplePass:
        ready.set()
        while not got:
            kind, payload = inbox.get()
            parts = []
            while kind == "part":  # take every part waiting, then the work on them at once
                parts.append(payload)
                try:
                    kind, payload = inbox.get_nowait()
                except queue.Empty:
                    kind = None
            if parts and on_parts is not None:
                on_parts(parts)
            if kind is None:
                continue
            if kind == "eof":
                proc.join()
                raise PassProcessDied(f"{args[0]}: the 2D pass's process ended without a result (exit status "
                                      f"{proc.exitcode}); run again, or report it with the clip",
                                      proc.exitcode) from None
            if kind == "error":
                raise payload
            got.append(payload)
        return got[0]

    try:
        yield result
    finally:
        if proc.is_alive() and not got:
            proc.terminate()
        proc.join()
        reader.join(timeout=5.0)  # the process's end of the pipe is closed now: the reader sees its end
        receive.close()


def _reader_format(backend) -> str:
    """The pixel format to decode for `backend`: "rgb24" when it takes RGB frames (`detect_rgb`)."""
    rgb = getattr(backend, "input_format", "bgr24") == "rgb24" and callable(getattr(backend, "detect_rgb", None))
    return "rgb24" if rgb else "bgr24"


def lift_all(model, tracks: Tracks, image_size: tuple[int, int], device: str | None,
             timer: StageTimer, focal_px: float | None = None, cache=None) -> np.ndarray:
    """Every track to 3D, timed as the '3d' stage (in batches of `LIFT_FRAMES` frames, on
    `lift_threads(model)` threads at most on the CPU; torch's own setting is restored afterwards).
    `cache`: a `pipeline.lift.WindowCache` of windows lifted early (`EarlyLifter`)."""
    from pipeline.lift import lift_tracks

    t = time.perf_counter()
    cpu = device is None or str(device).startswith("cpu")
    out = lift_tracks(model, tracks.keypoints, tracks.scores, tracks.present, image_size, device=device,
                      batch_size=lift_batch(model), focal_px=focal_px, cache=cache,
                      threads=lift_threads(model) if cpu else None)
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
    stage_seconds: dict[str, float] = field(default_factory=dict)  # StageTimer.seconds
    wall_s: float | None = None  # the job's elapsed seconds, set-up included
    separate_2d: bool = False  # the 2D pass ran in a process of its own (`find_people_beside`)


PLACES = ("image", "world")  # where the 3D panel puts people: side by side from the image, or in the scene


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
    """Pass 2: decode (background thread) -> render (this thread) -> encode (background thread)."""
    n = 0
    with prefetch(frames, timer, "decode") as items, background_writer(writer, timer, "encode") as write:
        for index, frame in items:
            t = time.perf_counter()
            image = renderer.render(frame, index)
            timer.add("render", time.perf_counter() - t)
            write(image)
            n += 1
            bar.update(1)
    return n


def check_encoder_preset(preset: str | None) -> str:
    """The x264 preset to use (`DEFAULT_PRESET` for None); an unknown name is a one-line error."""
    from pipeline.video_io import DEFAULT_PRESET, X264_PRESETS

    if preset is None:
        return DEFAULT_PRESET
    if preset not in X264_PRESETS:
        raise PoseMoEError(f"--x264-preset {preset!r}: unknown preset; choose one of {', '.join(X264_PRESETS)}")
    return preset


def process_video(src: Path, out: Path | None, *, save: Path | Sequence[Path] | None = None, pose2d: str = "auto",
                  checkpoint: Path | None = None, device: str | None = None, view: str = "side-by-side",
                  max_people: int | None = None, progress: bool = True,
                  log: Callable[[str], None] = print, render_options: dict | None = None,
                  det_weights: Path | None = None, pose_weights: Path | None = None,
                  focal_px: float | None = None, fov_deg: float | None = None,
                  smooth: str | None = None, bones: str = "median", place: str = "image",
                  encoder_preset: str | None = None, separate_2d: bool | None = None) -> JobResult:
    """`posemoe video`: the whole job for one clip. `out` (.mp4) and/or `save`: one or several of
    RESULTS.npz|.json, MOTION.bvh|.trc|.csv (`pipeline.motion_export`).

    smooth: the temporal filter of the 3D (`posemoe.smoothing`; default `DEFAULT_SMOOTHING`,
    "none" keeps the network's output as it is). bones: "median" (each person's bones fixed to
    their median length) or "free" (`pipeline.world`). place: the 3D panel shows people side by
    side from their place in the image ("image") or where they are in the scene ("world").

    focal_px, fov_deg: the lens's focal length in pixels or horizontal field of view in degrees,
    if known (`posemoe.view_rotation`; default a 26 mm-equivalent phone lens).

    det_weights, pose_weights: local checkpoints for the mmpose 2D backend (else its cache).

    render_options: keyword options of `pipeline.render.Renderer` (views3d, color_by, timecode),
    e.g. from `pipeline.render.render_options`.

    encoder_preset: the x264 speed preset of the output video (default
    `pipeline.video_io.DEFAULT_PRESET`, "ultrafast"; slower presets give smaller files)."""
    from pipeline.pose2d import resolve_auto
    from pipeline.render import VIEWS, Renderer
    from pipeline.video_io import VideoReader, VideoWriter, probe

    from pipeline.motion_export import check_outputs
    from posemoe.smoothing import DEFAULT_SMOOTHING, parse_smoothing

    saves = [] if save is None else [Path(save)] if isinstance(save, (str, Path)) else [Path(p) for p in save]
    if out is None and not saves:
        raise PoseMoEError("nothing to write: no output given; give an output video (-o OUT.mp4) and/or "
                           "--save RESULTS.npz|.json|.bvh|.trc|.csv")
    smoothing = parse_smoothing(DEFAULT_SMOOTHING if smooth is None else smooth)
    check_bone_choice(bones)
    if place not in PLACES:
        raise PoseMoEError(f"--place {place!r}: unknown choice; use {' or '.join(PLACES)}")
    if view not in VIEWS:
        raise PoseMoEError(f"--view {view!r}: unknown view; choose one of {', '.join(VIEWS)}")
    encoder_preset = check_encoder_preset(encoder_preset)
    from pipeline.pose2d import BACKENDS

    choices = [b for b in BACKENDS if b != "keypoints"]  # keypoint files go through `posemoe lift`
    if pose2d not in choices:
        raise PoseMoEError(f"--pose2d {pose2d!r}: unknown 2D backend; choose one of {', '.join(choices)}")
    if max_people is not None and (isinstance(max_people, bool) or int(max_people) != max_people or max_people < 1):
        raise PoseMoEError(f"--max-people {max_people}: expected a whole number >= 1; omit it to keep everyone")
    if out is not None:
        check_output_path(out, [src], (".mp4",))
    check_outputs(saves, [src] + ([out] if out else []))
    if focal_px is not None and fov_deg is not None:
        raise PoseMoEError("--focal and --fov both given: they say the same thing; pass one of them")
    if focal_px is not None and not (focal_px > 0 and math.isfinite(focal_px)):
        raise PoseMoEError(f"--focal {focal_px:g}: expected the focal length in pixels, a positive number; "
                           "pass e.g. --focal 1400, or --fov DEGREES")
    t_job = time.perf_counter()
    timer = StageTimer()
    info = probe(src)
    if fov_deg is not None:
        from posemoe.view_rotation import focal_from_fov

        try:
            focal_px = focal_from_fov(fov_deg, info.width)
        except PoseMoEError:
            raise PoseMoEError(f"--fov {fov_deg:g}: expected the horizontal field of view in degrees, between 1 and 179; "
                               "pass e.g. --fov 65") from None
    ckpt_path = model_path(checkpoint)
    from pipeline.onnx_lifter import lift_runtime

    lift_runtime(device)  # a bad POSEMOE_LIFT_RUNTIME fails before any work
    if pose2d == "auto":
        name, reason = resolve_auto(det_weights, pose_weights)
    else:
        name, reason = pose2d, "chosen with --pose2d"
    if name != "mmpose" and pose2d != "auto" and (det_weights or pose_weights):
        raise PoseMoEError(f"--det-weights/--pose-weights are for --pose2d mmpose (or auto), not {pose2d}")
    backend_options = (dict(det_weights=det_weights, pose_weights=pose_weights, device=device) if name == "mmpose"
                       else {"max_people": max_people})
    # a person seen for under a quarter of a second is a detector's flicker, not someone to lift
    tracker_options = dict(max_people=max_people, min_track_length=max(3, round(info.fps / 4)))
    timer.add("setup", time.perf_counter() - t_job)
    log(f"[video] {src.name}: {info.width}x{info.height}, {info.fps:.2f} fps, ~{info.frame_count} frames; "
        f"2D: {name} ({reason}); 3D: {ckpt_path.name}")
    if device not in (None, "cpu"):
        check_device(device)  # before the 2D pass starts (it loads torch: the pass then runs in this process)
    pass_args = (src, name, backend_options, tracker_options, info.frame_count, progress)
    if separate_2d is None:
        # MediaPipe needs no torch: its pass runs in its own process while this one loads torch
        separate_2d = name == "mediapipe" and "torch" not in sys.modules and can_fork()
    if separate_2d:
        with find_people_beside(*pass_args) as found:
            t = time.perf_counter()
            model, _ = _load_for_lifting(checkpoint, device, log)
            timer.add("load", time.perf_counter() - t)  # beside the 2D pass's process
            early = EarlyLifter(model, (info.width, info.height), device, focal_px, timer)
            try:
                people = found(early.add)
            except PassProcessDied as exc:
                if exc.exitcode is None or exc.exitcode >= 0:
                    raise
                # killed by a signal (a native crash after the fork): the pass can still run here
                log(f"[video] the 2D pass's process stopped (signal {-exc.exitcode}); running it in this one")
                people = find_people(*pass_args)
    else:
        t = time.perf_counter()
        model, _ = load_model(checkpoint, device, log)  # a bad checkpoint fails before any work
        timer.add("setup", time.perf_counter() - t)
        people = find_people(*pass_args)
    for stage, seconds in people.stage_seconds.items():
        timer.add(stage, seconds)
    n, tracks, warned = people.frames, people.tracks, people.warnings
    for msg in warned:
        log(f"[video] warning: {msg}")
    if tracks.num_people == 0:
        log(f"[video] no person found in any of the {n} frames; the output shows the video unchanged")
    pose3d = lift_all(model, tracks, (info.width, info.height), device, timer, focal_px,
                      cache=early.cache if separate_2d else None)
    from pipeline.world import place_in_world

    t = time.perf_counter()
    results = place_in_world(_finish_results(tracks, pose3d, info.fps, (info.width, info.height), ckpt_path, name,
                                             reason, {"input": str(src)}), focal_px, smoothing, bones)
    pose3d = results.keypoints3d
    timer.add("3d", time.perf_counter() - t)  # smoothing and placing in the scene
    outputs = []
    if out is not None:
        renderer = Renderer(tracks.keypoints, tracks.scores, pose3d, tracks.track_ids, (info.width, info.height),
                            view=view, **{"fps": info.fps, **(render_options or {})},
                            world=results.keypoints3d_world if place == "world" else None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the first pass already reported damage
            make_output_folder(out)
            with VideoReader(src) as reader, VideoWriter(out, info.fps, renderer.output_size, forbid_same_as=src,
                                                           preset=encoder_preset) as writer, \
                    _bar(n, "render", progress) as bar:
                _render_pass(iter(reader), renderer, writer, timer, bar)
        outputs.append(out)
    if saves:
        from pipeline.motion_export import save_outputs

        t = time.perf_counter()
        outputs += save_outputs(saves, results)
        timer.add("export", time.perf_counter() - t)
    timer.wall_s = time.perf_counter() - t_job
    return JobResult(n, tracks.num_people, name, reason, outputs, timer.summary(n), warned, dict(timer.seconds),
                     timer.wall_s, separate_2d=people.pid != os.getpid())


def lift_keypoint_file(src: Path, out: Path, *, checkpoint: Path | None = None, device: str | None = None,
                       view: str = "3d", video: Path | None = None, fps: float | None = None,
                       image_size: tuple[int, int] | None = None, progress: bool = True,
                       log: Callable[[str], None] = print, render_options: dict | None = None,
                       smooth: str | None = None, bones: str = "median") -> JobResult:
    """`posemoe lift`: precomputed 2D keypoints (our export or mmpose JSON) -> .npz/.json or .mp4.

    smooth: the temporal filter of the 3D (`posemoe.smoothing`; default its `DEFAULT_SMOOTHING`).

    render_options: keyword options of `pipeline.render.Renderer` for .mp4 output."""
    from pipeline.pose2d import KeypointFileBackend
    from posemoe.smoothing import DEFAULT_SMOOTHING, parse_smoothing

    parse_smoothing(DEFAULT_SMOOTHING if smooth is None else smooth)  # a bad spec fails before any work
    check_bone_choice(bones)

    suffixes = (".npz", ".json", ".mp4")
    if fps is not None and not (fps > 0 and math.isfinite(fps)):
        raise PoseMoEError(f"--fps {fps:g}: expected a positive frame rate; pass e.g. --fps 25")
    check_output_path(out, [src] + ([video] if video else []), suffixes)
    kp_file = KeypointFileBackend(src)
    size = image_size or kp_file.image_size
    if video is not None:
        from pipeline.video_io import probe

        vinfo = probe(video)
        if size is not None and size != (vinfo.width, vinfo.height):
            raise PoseMoEError(f"{video}: its frames are {vinfo.width}x{vinfo.height}, the keypoints are for "
                               f"{size[0]}x{size[1]} frames; pass the video the keypoints were made from")
        size = size or (vinfo.width, vinfo.height)
        fps = fps or vinfo.fps
    if size is None:
        raise PoseMoEError(f"{src}: the file does not give the image size; pass --image-size WxH (pixels)")
    fps = fps or kp_file.fps or 25.0
    model, ckpt_path = load_model(checkpoint, device, log)
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
    if tracks.num_people == 0:
        log(f"[lift] no person in any of the {n} frames (no finite keypoints); the output holds 0 people")
    pose3d = lift_all(model, tracks, size, device, timer)
    from pipeline.world import place_in_world

    results = place_in_world(_finish_results(tracks, pose3d, fps, size, ckpt_path, "keypoints", f"read from {src.name}",
                                             {"input": str(src)}), None, parse_smoothing(DEFAULT_SMOOTHING if smooth is None else smooth),
                             bones)
    pose3d = results.keypoints3d
    if out.suffix.lower() == ".mp4":
        from pipeline.render import Renderer
        from pipeline.video_io import VideoReader, VideoWriter

        renderer = Renderer(tracks.keypoints, tracks.scores, pose3d, tracks.track_ids, size,
                            view=view if video is not None else "3d", **{"fps": fps, **(render_options or {})})
        make_output_folder(out)
        with VideoWriter(out, fps, renderer.output_size, forbid_same_as=src) as writer, _bar(n, "render", progress) as bar:
            if video is not None:
                with VideoReader(video) as reader:
                    frames = ((i, f) for i, f in reader if i < n)
                    _render_pass(frames, renderer, writer, timer, bar)
            else:
                _render_pass(((i, None) for i in range(n)), renderer, writer, timer, bar)
    else:
        from pipeline.export import save_results

        make_output_folder(out)
        save_results(out, results)
    return JobResult(n, tracks.num_people, "keypoints", kp_file.format, [out], timer.summary(n), [])
