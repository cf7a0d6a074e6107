"""`posemoe batch`: every video under a folder through the video job; resumable, crash-isolated, sharded.

Layout. ``find_videos(DIR)`` lists every video file under DIR (recursive; suffixes in
``VIDEO_SUFFIXES``, any case; names starting with "." are ignored; symbolic links to folders and
files are followed, but each real folder and each real file is visited once, so a link cycle ends
and a clip reachable by two paths is processed once, under the first path in sorted order). A
clip ``DIR/a/b/walk.mp4`` gets the folder ``OUT/a/b/walk/`` (``walk_mp4/`` when another clip in
``a/b`` has the stem ``walk``) holding ``render.mp4`` (the rendered video, unless ``video=False``),
``results.npz`` (or ``.json``, the `posemoe video --save` export) and, written last,
``done.json``, the completion marker.

Complete. A clip is complete when its ``done.json`` exists, records the input's current size and
modification time (so touching or replacing the input makes it incomplete), the same settings
(checkpoint sha256, resolved 2D backend, view, max people, which outputs) and outputs that still
exist with the sizes it recorded. Complete clips are skipped; every other clip is (re)done. The
video and the export are written to hidden temporary names and renamed when complete
(``pipeline.video_io.VideoWriter``, ``pipeline.export.save_results``); a clip's marker is deleted
before its work starts and written (atomically) after its outputs, so an interrupted or killed run
never leaves a half-written file under a final name nor a clip that looks complete without being
so. Leftover temporary files of a killed run are deleted when the clip is redone.

Isolation. A clip that fails (unreadable file, no frames, any exception) is recorded with a
one-line error (and ``error.txt`` in its folder), and the batch goes on. With ``workers >= 1``
clips run in worker processes, so even a crash of the decoder or the detector (a dead process)
only fails the clip(s) it was processing; clips that were running next to a crashed one are
retried alone once, so the culprit is the only one recorded.

Summary. ``summary.csv`` (``summary-shard-K-of-N.csv`` for a shard) has one row per clip
(``SUMMARY_FIELDS``), status ``ok`` (done by this run), ``skipped`` (complete from an earlier run;
its figures come from the marker), ``failed``, ``pending`` (not reached) or ``interrupted``. It is
rewritten atomically after every clip, so an interrupted run still has an up-to-date one.

Sharding. ``shard_index(rel, n)`` is a stable hash (sha256) of the clip's path relative to DIR,
so shard K of N (1-based) is the same set of clips on every machine, whatever the listing order,
and adding a clip never moves another one to a different shard. ``merge_summaries(OUT)`` combines
the shards' summary files into ``summary.csv``.

Workers. ``workers`` processes (spawned), each with its own model (fine on CPU: the tiny model is
a few MB) and ``cores // workers`` lifting/OpenCV threads; each clip's 2D pass runs in a process of
its own beside the worker (`pipeline.video`; workers do not load torch to lift on the CPU).
``workers=0`` runs in this process (no crash isolation; for debugging and tests).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from posemoe.errors import PoseMoEError
from pipeline.export import write_text_atomic as _atomic_write  # the batch's summary, markers and error files

VIDEO_SUFFIXES = frozenset({
    ".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".wmv",
    ".flv", ".3gp", ".ogv",
})
RENDER_NAME = "render.mp4"
RESULTS_STEM = "results"
MARKER_NAME = "done.json"
ERROR_NAME = "error.txt"
MARKER_FORMAT = "posemoe-batch-clip-v1"
SUMMARY_NAME = "summary.csv"
SUMMARY_FIELDS = ("clip", "frames", "fps", "people", "seconds", "frames_per_s", "backend", "status", "error",
                  "warnings")
STATUSES = ("ok", "skipped", "failed", "pending", "interrupted")
_SHARD_FILE = re.compile(r"^summary-shard-(\d+)-of-(\d+)\.csv$")


# ----------------------------------------------------------------------------------------- finding


@dataclass(frozen=True)
class Clip:
    """A video found under the batch's input folder.

    rel: its path relative to that folder, "/"-separated (the clip's name in the summary and the
        key of sharding). path: the file as reached under the folder (maybe through links).
    """

    rel: str
    path: Path


def _real_id(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()  # follows links
    except OSError:
        return None
    return st.st_dev, st.st_ino


def find_videos(root: str | Path, exclude: Iterable[str | Path] = ()) -> list[Clip]:
    """Every video under ``root``, sorted by relative path (see the module docstring for the rules).

    ``exclude``: folders not to enter (e.g. the output folder when it lies inside ``root``). A
    dangling link with a video suffix is listed (and then fails with "no such file"), so that
    it is reported rather than silently missed.
    """
    root = Path(root)
    if not root.is_dir():
        raise PoseMoEError(f"{root}: not a folder; give the folder that holds the videos")
    skip = {i for i in (_real_id(Path(p)) for p in exclude) if i is not None}
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()
    clips: list[Clip] = []

    def walk(folder: Path, rel: tuple[str, ...]) -> None:
        ident = _real_id(folder)
        if ident is None or ident in seen_dirs or ident in skip:
            return
        seen_dirs.add(ident)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return  # unreadable folder: nothing to list
        subdirs = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                subdirs.append(entry)
                continue
            if path.suffix.lower() not in VIDEO_SUFFIXES:
                continue
            ident_f = _real_id(path)
            if ident_f is not None:
                if ident_f in seen_files:
                    continue
                seen_files.add(ident_f)
            elif not entry.is_symlink():
                continue  # vanished while listing
            clips.append(Clip("/".join(rel + (entry.name,)), path))
        for entry in subdirs:  # files of a folder first, then its subfolders, each in name order
            walk(Path(entry.path), rel + (entry.name,))

    walk(root, ())
    return sorted(clips, key=lambda c: c.rel)


def output_folders(clips: Iterable[Clip], out_root: str | Path) -> dict[str, Path]:
    """``rel -> OUT/<folders of rel>/<stem>``; ``<stem>_<suffix>`` for clips of one folder sharing a stem."""
    out_root = Path(out_root)
    clips = list(clips)
    stems: dict[tuple[str, str], int] = {}
    for c in clips:
        parent, _, name = c.rel.rpartition("/")
        key = (parent, Path(name).stem.lower())
        stems[key] = stems.get(key, 0) + 1
    out = {}
    for c in clips:
        parent, _, name = c.rel.rpartition("/")
        p = Path(name)
        folder = p.stem if stems[(parent, p.stem.lower())] == 1 else f"{p.stem}_{p.suffix.lstrip('.')}"
        out[c.rel] = out_root.joinpath(*parent.split("/"), folder) if parent else out_root / folder
    return out


# ---------------------------------------------------------------------------------------- sharding


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` (1 <= K <= N) -> ``(K, N)``, or a one-line error."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise PoseMoEError(f"--shard {text!r}: expected K/N with 1 <= K <= N, e.g. 3/8 (shards are numbered from 1)")
    return int(m.group(1)), int(m.group(2))


def shard_index(rel: str, n: int) -> int:
    """The shard (0-based, of ``n``) of the clip at relative path ``rel``: sha256 of the path, mod n."""
    digest = hashlib.sha256(rel.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % n


def select_shard(clips: Iterable[Clip], k: int, n: int) -> list[Clip]:
    """The clips of shard ``k`` of ``n`` (1-based ``k``)."""
    return [c for c in clips if shard_index(c.rel, n) == k - 1]


def summary_name(shard: tuple[int, int] | None) -> str:
    return SUMMARY_NAME if shard is None else f"summary-shard-{shard[0]}-of-{shard[1]}.csv"


# ------------------------------------------------------------------------------------------- rows


@dataclass
class ClipResult:
    """One row of the summary."""

    clip: str
    status: str = "pending"
    frames: int | None = None
    fps: float | None = None
    people: int | None = None
    seconds: float | None = None
    backend: str = ""
    error: str = ""
    warnings: str = ""

    @property
    def frames_per_s(self) -> float | None:
        if self.frames is None or not self.seconds:
            return None
        return self.frames / self.seconds

    def row(self) -> dict[str, str]:
        def num(v: float | None, fmt: str) -> str:
            return "" if v is None else format(v, fmt)

        return {"clip": self.clip, "frames": num(self.frames, "d"), "fps": num(self.fps, ".3f"),
                "people": num(self.people, "d"), "seconds": num(self.seconds, ".2f"),
                "frames_per_s": num(self.frames_per_s, ".2f"), "backend": self.backend, "status": self.status,
                "error": self.error, "warnings": self.warnings}

    @classmethod
    def from_row(cls, row: dict[str, str]) -> ClipResult:
        def num(key: str, kind: type) -> Any:
            v = (row.get(key) or "").strip()
            return kind(float(v)) if v else None

        return cls(clip=row["clip"], status=row.get("status", ""), frames=num("frames", int), fps=num("fps", float),
                   people=num("people", int), seconds=num("seconds", float), backend=row.get("backend", ""),
                   error=row.get("error", ""), warnings=row.get("warnings", ""))


def _one_line(text: str, limit: int = 500) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."



def write_summary(path: str | Path, results: Iterable[ClipResult]) -> Path:
    """The summary CSV (``SUMMARY_FIELDS``, one row per clip, sorted by clip), written atomically."""
    path = Path(path)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SUMMARY_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in sorted(results, key=lambda r: r.clip):
        writer.writerow(r.row())
    _atomic_write(path, buf.getvalue())
    return path


def read_summary(path: str | Path) -> list[ClipResult]:
    path = Path(path)
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or "clip" not in reader.fieldnames or "status" not in reader.fieldnames:
                raise PoseMoEError(f"{path}: expected a posemoe batch summary (columns {', '.join(SUMMARY_FIELDS)})")
            return [ClipResult.from_row(r) for r in reader]
    except OSError as exc:
        raise PoseMoEError(f"{path}: cannot read the summary ({exc.strerror or exc})") from None
    except (ValueError, KeyError) as exc:
        raise PoseMoEError(f"{path}: malformed summary row ({exc})") from None


def format_table(results: Iterable[ClipResult], width: int = 48) -> str:
    """A plain-text table of the rows and a one-line total."""
    results = sorted(results, key=lambda r: r.clip)
    header = ("clip", "frames", "fps", "people", "seconds", "frames/s", "backend", "status", "error")
    rows = []
    for r in results:
        d = r.row()
        clip = d["clip"] if len(d["clip"]) <= width else "..." + d["clip"][-(width - 3):]
        err = d["error"] if len(d["error"]) <= 70 else d["error"][:67] + "..."
        rows.append((clip, d["frames"], d["fps"], d["people"], d["seconds"], d["frames_per_s"], d["backend"],
                     d["status"], err))
    widths = [max([len(header[i])] + [len(row[i]) for row in rows]) for i in range(len(header))]
    right = {1, 2, 3, 4, 5}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [line(header), line(tuple("-" * w for w in widths))] + [line(row) for row in rows]
    counts = {s: sum(r.status == s for r in results) for s in STATUSES}
    done = [r for r in results if r.status in ("ok", "skipped") and r.frames is not None]
    frames, secs = sum(r.frames for r in done), sum(r.seconds or 0.0 for r in done)
    parts = [f"{counts[s]} {s}" for s in STATUSES if counts[s]]
    rate = f", {frames / secs:.2f} frames/s" if secs > 0 else ""
    out.append(f"{len(results)} clips: {', '.join(parts) or 'none'}; {frames} frames in {secs:.1f} s of clip time{rate}")
    return "\n".join(out)


def exit_status(results: Iterable[ClipResult]) -> int:
    """0 when every clip is ok or skipped, 1 otherwise."""
    return 0 if all(r.status in ("ok", "skipped") for r in results) else 1


# ------------------------------------------------------------------------------------- one clip


@dataclass(frozen=True)
class BatchOptions:
    """What `posemoe video` options every clip gets."""

    checkpoint: str | None = None
    pose2d: str = "auto"
    device: str | None = None
    view: str = "side-by-side"
    max_people: int | None = None
    video: bool = True
    results_format: str = "npz"
    views3d: str = "oblique"  # the rendering options of `posemoe video` (see pipeline.render.render_options)
    color_by: str = "track"
    timecode: bool = False
    smooth: str | None = None  # the temporal filter of the 3D (posemoe.smoothing); None: its default
    bones: str = "median"  # see pipeline.world
    encoder_preset: str | None = None  # x264 speed preset of render.mp4; None: pipeline.video_io.DEFAULT_PRESET

    def render_options(self) -> dict:
        from pipeline.render import render_options

        return render_options(self.color_by, self.timecode, self.views3d)

    def outputs(self) -> tuple[str, ...]:
        return ((RENDER_NAME,) if self.video else ()) + (f"{RESULTS_STEM}.{self.results_format}",)


@dataclass(frozen=True)
class _Task:
    clip: Clip
    folder: Path
    options: BatchOptions
    settings: dict[str, Any]
    alone: bool = False  # a retry after a worker crash: run with no other clip alongside


def _input_stat(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def completed_marker(clip: Clip, folder: Path, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The clip's marker when the clip is complete (module docstring), else None."""
    try:
        marker = json.loads((folder / MARKER_NAME).read_text(encoding="utf-8"))
        if marker.get("format") != MARKER_FORMAT or marker.get("settings") != settings:
            return None
        if marker.get("input", {}).get("stat") != _input_stat(clip.path):
            return None
        outputs = marker.get("outputs")
        if not isinstance(outputs, dict) or set(outputs) != set(settings["outputs"]):
            return None
        for name, size in outputs.items():
            if (folder / name).stat().st_size != size:
                return None
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return marker


def _clean_folder(folder: Path) -> None:
    """Delete the marker, the error note, the outputs and temporary files left by a killed run
    (not subfolders: they may be other clips' folders)."""
    ours = {MARKER_NAME, ERROR_NAME, RENDER_NAME, f"{RESULTS_STEM}.npz", f"{RESULTS_STEM}.json"}
    for p in folder.iterdir():
        if not p.is_file() and not p.is_symlink():
            continue
        stale_tmp = p.name.startswith(".") and ".part" in p.name
        if stale_tmp or p.name in ours:
            p.unlink(missing_ok=True)


def run_clip(task: _Task) -> ClipResult:
    """Process one clip into its folder; failures become a 'failed' row (KeyboardInterrupt propagates)."""
    from pipeline.video import process_video

    folder, opts = task.folder, task.options
    t0 = time.perf_counter()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MARKER_NAME).unlink(missing_ok=True)  # not complete from here on
        _clean_folder(folder)  # old outputs go too: none can be mistaken for this run's
        if not task.clip.path.exists():
            raise PoseMoEError(f"{task.clip.path}: no such file (a broken link?); check the path")
        stat = _input_stat(task.clip.path)
        out = folder / RENDER_NAME if opts.video else None
        save = folder / f"{RESULTS_STEM}.{opts.results_format}"
        log: list[str] = []
        job = process_video(task.clip.path, out, save=save, pose2d=opts.pose2d, checkpoint=opts.checkpoint,
                            device=opts.device, view=opts.view, max_people=opts.max_people, progress=False,
                            log=log.append, render_options=opts.render_options(), smooth=opts.smooth,
                            bones=opts.bones, encoder_preset=opts.encoder_preset)
        seconds = time.perf_counter() - t0
        info = _probe_fps(task.clip.path)
        marker = {
            "format": MARKER_FORMAT, "clip": task.clip.rel,
            "input": {"path": str(task.clip.path), "stat": stat},
            "settings": task.settings,
            "outputs": {name: (folder / name).stat().st_size for name in opts.outputs()},
            "frames": job.frames, "fps": info, "people": job.people, "seconds": round(seconds, 3),
            "backend": job.backend, "backend_reason": job.reason, "warnings": job.warnings, "timing": job.timing,
            "log": log, "finished": datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        _atomic_write(folder / MARKER_NAME, json.dumps(marker, indent=1) + "\n")
        return ClipResult(task.clip.rel, "ok", job.frames, info, job.people, seconds, job.backend,
                          warnings=_one_line("; ".join(job.warnings)))
    except Exception as exc:  # noqa: BLE001 - isolation: any failure of one clip is that clip's result
        message = str(exc) if isinstance(exc, PoseMoEError) else f"{type(exc).__name__}: {exc}"
        message = _one_line(message)
        try:
            if folder.is_dir():
                _clean_folder(folder)
                detail = "" if isinstance(exc, PoseMoEError) else "\n" + traceback.format_exc()
                _atomic_write(folder / ERROR_NAME, f"{task.clip.rel}: {message}\n{detail}")
        except OSError:
            pass
        return ClipResult(task.clip.rel, "failed", seconds=time.perf_counter() - t0, error=message)


def _probe_fps(path: Path) -> float | None:
    from pipeline.video_io import probe

    try:
        return probe(path).fps
    except PoseMoEError:
        return None


def _marker_result(rel: str, marker: dict[str, Any], status: str = "skipped") -> ClipResult:
    return ClipResult(rel, status, marker.get("frames"), marker.get("fps"), marker.get("people"),
                      marker.get("seconds"), marker.get("backend", ""),
                      warnings=_one_line("; ".join(marker.get("warnings") or [])))


# ------------------------------------------------------------------------------------- workers


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _interrupt_once(signum: int, frame: Any) -> None:
    """Worker: the first SIGINT/SIGTERM ends the clip; later ones are ignored so that the writers
    can delete their temporary files undisturbed (Ctrl-C in a terminal plus the parent's own
    SIGINT arrive together)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def _init_worker(threads: int) -> None:
    """Worker process start: split the cores, and stay out of the way of Ctrl-C between clips."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's native log lines
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import cv2

    cv2.setNumThreads(threads)  # torch, if it lifts (`pipeline.onnx_lifter`), reads OMP_NUM_THREADS
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # idle: the parent decides; see _worker_clip


def _worker_clip(task: _Task) -> ClipResult:
    """``run_clip`` in a worker: SIGINT/SIGTERM during a clip raise KeyboardInterrupt there, so the
    writers delete their temporary files before the process ends."""
    old_int = signal.signal(signal.SIGINT, _interrupt_once)
    old_term = signal.signal(signal.SIGTERM, _interrupt_once)
    try:
        return run_clip(task)
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class _Pool:
    """A ProcessPoolExecutor (spawned workers) that can also be stopped at once."""

    def __init__(self, workers: int, threads: int) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_init_worker, initargs=(threads,))

    def submit(self, task: _Task):
        return self.executor.submit(_worker_clip, task)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)

    def stop(self, grace_s: float = 15.0) -> None:
        """Interrupt the clips in progress (SIGINT: they delete their temporary files and return),
        let idle workers exit, and end whatever is still running after ``grace_s``."""
        procs = list((getattr(self.executor, "_processes", None) or {}).values())  # no public handle before 3.14
        for p in procs:
            if p.is_alive():
                try:
                    os.kill(p.pid, signal.SIGINT)
                except OSError:
                    pass
        self.executor.shutdown(wait=False, cancel_futures=True)  # idle workers get their stop sentinel
        deadline = time.monotonic() + grace_s
        for p in procs:
            p.join(max(0.0, deadline - time.monotonic()))
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(5)


# ----------------------------------------------------------------------------------------- batch


@dataclass
class BatchReport:
    results: list[ClipResult]
    summary: Path
    interrupted: bool = False
    found: int = 0  # clips under DIR (all shards)
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def exit_status(self) -> int:
        return 130 if self.interrupted else exit_status(self.results)


def settings_for(options: BatchOptions, backend: str) -> dict[str, Any]:
    """What a clip's outputs depend on (besides the input): recorded in, and compared with, the marker."""
    from pipeline.export import checkpoint_info
    from pipeline.video import load_model

    _, ckpt_path = load_model(options.checkpoint, "cpu")  # a bad checkpoint fails here, before any clip
    info = checkpoint_info(ckpt_path) or {}
    options.render_options()  # a bad rendering option fails here, before any clip
    from posemoe.skeleton import check_bone_choice
    from posemoe.smoothing import DEFAULT_SMOOTHING, parse_smoothing

    smoothing = str(parse_smoothing(DEFAULT_SMOOTHING if options.smooth is None else options.smooth))
    check_bone_choice(options.bones)
    settings = {"checkpoint_sha256": info.get("sha256"), "pose2d": backend, "view": options.view,
                "max_people": options.max_people, "outputs": list(options.outputs()), "smooth": smoothing,
                "bones": options.bones}
    if options.video:
        settings["render"] = {"views3d": options.views3d, "color_by": options.color_by, "timecode": options.timecode}
    return settings


def run_batch(src: str | Path, out: str | Path, options: BatchOptions = BatchOptions(), *, workers: int = 1,
              threads: int | None = None, shard: tuple[int, int] | None = None, force: bool = False,
              progress: bool = True, echo: Callable[[str], None] = print) -> BatchReport:
    """Every video under ``src`` (or shard ``(K, N)`` of them) through the video job into ``out``.

    ``threads``: torch/OpenCV threads per worker, default ``usable cores // workers`` (ignored with
    ``workers=0``). On a machine shared with other jobs, 1 is much faster than more (idle
    threads spin while waiting for a busy core).

    Returns the report (the rows also written to the summary CSV in ``out``). User errors (no
    such folder, no videos, bad checkpoint, bad option) raise PoseMoEError before any clip runs.
    Ctrl-C or SIGTERM stops the clips in progress cleanly and returns with ``interrupted`` set.
    """
    from tqdm import tqdm

    from pipeline.pose2d import BACKENDS, resolve_auto
    from pipeline.render import VIEWS

    t_start = time.perf_counter()
    src, out = Path(src), Path(out)
    if threads is not None and threads < 1:
        raise PoseMoEError(f"--threads {threads}: expected 1 or more")
    if workers < 0:
        raise PoseMoEError(f"--workers {workers}: expected 0 (in this process) or more worker processes")
    if options.view not in VIEWS:
        raise PoseMoEError(f"--view {options.view!r}: choose one of {', '.join(VIEWS)}")
    if options.pose2d not in BACKENDS or options.pose2d == "keypoints":
        raise PoseMoEError(f"--pose2d {options.pose2d!r}: choose one of auto, mediapipe, mmpose")
    if options.results_format not in ("npz", "json"):
        raise PoseMoEError(f"--format {options.results_format!r}: choose npz or json")
    if not src.is_dir():
        raise PoseMoEError(f"{src}: not a folder; give the folder that holds the videos")
    if out.exists() and not out.is_dir():
        raise PoseMoEError(f"{out}: exists and is not a folder; choose an output folder")
    all_clips = find_videos(src, exclude=[out])
    clips, found = all_clips, len(all_clips)
    if not clips:
        raise PoseMoEError(f"{src}: no videos found (looked for {', '.join(sorted(VIDEO_SUFFIXES))}, any case)")
    if shard is not None:
        clips = select_shard(clips, *shard)
    backend, why = resolve_auto() if options.pose2d == "auto" else (options.pose2d, "chosen with --pose2d")
    options = replace(options, pose2d=backend)
    settings = settings_for(options, backend)
    out.mkdir(parents=True, exist_ok=True)
    folders = output_folders(all_clips, out)  # from all clips: the same folders whatever the shard
    summary = out / summary_name(shard)

    results: dict[str, ClipResult] = {}
    todo: deque[_Task] = deque()
    for clip in clips:
        marker = None if force else completed_marker(clip, folders[clip.rel], settings)
        if marker is not None:
            results[clip.rel] = _marker_result(clip.rel, marker)
        else:
            results[clip.rel] = ClipResult(clip.rel, "pending")
            todo.append(_Task(clip, folders[clip.rel], options, settings))
    write_summary(summary, results.values())
    cores = usable_cores()
    threads = threads or max(1, cores // max(workers, 1))
    notes = []
    where = f"shard {shard[0]}/{shard[1]}: {len(clips)} of {found} clips" if shard else f"{found} clips"
    mode = ("in this process" if workers == 0 else
            f"{workers} worker process{'es' if workers > 1 else ''} x {threads} thread{'s' if threads > 1 else ''} "
            f"({cores} cores; each worker loads its own model)")
    echo(f"[batch] {src} -> {out}: {where}, {len(clips) - len(todo)} already complete, {len(todo)} to do; "
         f"2D: {backend} ({why}); {mode}")
    if workers * threads > cores:
        notes.append(f"{workers} workers x {threads} threads is more than the {cores} usable cores; "
                     "they will compete for them")
    if workers > 1 and (options.device or "").startswith("cuda"):
        notes.append("several workers on a GPU each hold a model there; 1 worker is usually enough")
    for n in notes:
        echo(f"[batch] note: {n}")

    bar = tqdm(total=len(clips), initial=len(clips) - len(todo), unit="clip", desc="clips", file=sys.stderr,
               disable=not progress, dynamic_ncols=True)

    def record(res: ClipResult) -> None:
        results[res.clip] = res
        write_summary(summary, results.values())
        bar.update(1)
        if res.status == "ok":
            rate = f"{res.frames_per_s:.1f} frames/s" if res.frames_per_s else ""
            warn = " (damaged input: see warnings)" if res.warnings else ""
            line = f"ok      {res.clip}: {res.frames} frames, {res.people} people, {res.seconds:.1f} s, {rate}{warn}"
        else:
            line = f"FAILED  {res.clip}: {res.error}"
        tqdm.write(line, file=sys.stdout)  # above the bar

    interrupted = False
    old_term = None
    import threading

    if threading.current_thread() is threading.main_thread():
        old_term = signal.signal(signal.SIGTERM, _raise_interrupt)  # e.g. a cluster job's time limit
    running: list[_Task] = []
    try:
        if workers == 0:
            while todo:
                task = todo.popleft()
                running = [task]
                res = run_clip(task)
                running = []
                record(res)
        else:
            _run_pool(todo, workers, threads, record, running)
    except KeyboardInterrupt:
        interrupted = True
        for task in running:
            # a clip whose marker is written finished in this run; only its result had not reached us
            marker = completed_marker(task.clip, task.folder, task.settings)
            results[task.clip.rel] = (_marker_result(task.clip.rel, marker, "ok") if marker else
                                      ClipResult(task.clip.rel, "interrupted",
                                                 error="stopped by Ctrl-C / SIGTERM; rerun to do it"))
        write_summary(summary, results.values())
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
        bar.close()
    return BatchReport(sorted(results.values(), key=lambda r: r.clip), summary, interrupted, found,
                       time.perf_counter() - t_start, notes)


def _run_pool(todo: deque[_Task], workers: int, threads: int, record: Callable[[ClipResult], None],
              running: list[_Task]) -> None:
    """Feed ``todo`` to a worker pool, at most ``workers`` clips in flight; a dead worker fails its
    clip (clips that ran next to it are retried alone). ``running`` mirrors the clips in flight."""
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    alone: deque[_Task] = deque()
    pool: _Pool | None = None
    inflight: dict[Any, _Task] = {}

    def sync() -> None:
        running[:] = list(inflight.values())

    try:
        while todo or alone or inflight:
            if pool is None:
                pool = _Pool(workers, threads)
            if alone:
                if not inflight:
                    task = alone.popleft()
                    inflight[pool.submit(task)] = task
            else:
                while todo and len(inflight) < workers:
                    task = todo.popleft()
                    inflight[pool.submit(task)] = task
            sync()
            done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
            broken: list[_Task] = []
            for fut in done:
                task = inflight.pop(fut)
                try:
                    res = fut.result()
                except BrokenProcessPool:
                    broken.append(task)
                    continue
                except KeyboardInterrupt:  # the worker was interrupted: so are we (Ctrl-C reaches both)
                    inflight[fut] = task
                    sync()
                    raise
                except Exception as exc:  # noqa: BLE001 - e.g. a result that could not be sent back
                    res = ClipResult(task.clip.rel, "failed", error=_one_line(f"{type(exc).__name__}: {exc}"))
                record(res)
            if broken:
                if inflight:  # the rest of this pool's clips fail the same way: collect them
                    wait(list(inflight))
                    broken += list(inflight.values())
                    inflight.clear()
                for task in broken:
                    if len(broken) > 1 and not task.alone:
                        alone.append(replace(task, alone=True))
                    else:
                        why = ("the worker process died while processing this clip (a crash in the decoder or the "
                               "2D detector, or out of memory)")
                        try:
                            _atomic_write(task.folder / ERROR_NAME, f"{task.clip.rel}: {why}\n")
                        except OSError:
                            pass
                        record(ClipResult(task.clip.rel, "failed", error=why))
                pool.close()
                pool = None
            sync()
    except BaseException:
        if pool is not None:
            pool.stop()
            pool = None
        raise
    finally:
        if pool is not None:
            pool.close()


# ----------------------------------------------------------------------------------------- merge


@dataclass
class MergeReport:
    results: list[ClipResult]
    summary: Path
    shards: list[int]
    count: int
    missing: list[int]

    @property
    def exit_status(self) -> int:
        return 1 if self.missing else exit_status(self.results)


def merge_summaries(out: str | Path) -> MergeReport:
    """Combine ``OUT/summary-shard-K-of-N.csv`` (all of one N) into ``OUT/summary.csv``.

    Missing shards are reported (``missing``), not fatal: the merged file holds what exists. Files
    for different N, or none at all, are a one-line error.
    """
    out = Path(out)
    if not out.is_dir():
        raise PoseMoEError(f"{out}: not a folder; give the batch output folder (the one holding summary-shard-*.csv)")
    found: dict[int, dict[int, Path]] = {}
    for p in out.iterdir():
        m = _SHARD_FILE.match(p.name)
        if m and p.is_file():
            found.setdefault(int(m.group(2)), {})[int(m.group(1))] = p
    if not found:
        raise PoseMoEError(f"{out}: no summary-shard-K-of-N.csv files; run `posemoe batch --shard K/N` first")
    if len(found) > 1:
        raise PoseMoEError(f"{out}: shard summaries for different shard counts ({', '.join(f'of-{n}' for n in sorted(found))}); "
                           "delete the stale ones and merge again")
    (n, files), = found.items()
    rows: dict[str, ClipResult] = {}
    for k in sorted(files):
        for r in read_summary(files[k]):
            rows[r.clip] = r
    merged = sorted(rows.values(), key=lambda r: r.clip)
    path = write_summary(out / SUMMARY_NAME, merged)
    return MergeReport(merged, path, sorted(files), n, [k for k in range(1, n + 1) if k not in files])


