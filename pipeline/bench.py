"""`posemoe bench`: speed and memory of the video pipeline, measured on clips it makes itself.

What one run does:

1. Draws two clips of a single walking, turning and waving person with the project's synthetic
   figure generator (``pipeline.synthetic_clip``, drawn natively at ``--size``, 720p by
   default, 25 frames/s): a short one (``--frames``, 100) and one ``--long-factor`` (10) times
   longer. They are kept in ``--work-dir`` and reused when it is given.
2. Runs the real ``posemoe video`` job (``pipeline.video.process_video``: 2D with MediaPipe,
   tracking, 3D, rendering side by side, H.264 encoding) on each clip in its own subprocess, so
   that each run's peak memory is its own: the largest total resident memory of the job's
   processes (the job runs its 2D pass in a forked process beside the main one), sampled every
   10 ms from ``/proc`` on Linux, or the largest single process's from ``os.wait4`` if that is
   more (or elsewhere). ``--repeats`` runs each clip several times and keeps the fastest run
   (peak memory: the largest of the runs).
3. Times the lifter alone (``pipeline.lift.lift_tracks``: batched sliding windows with 50 %
   overlap and test-time flip, exactly as the job lifts) on one track as long as the long clip,
   and the renderer alone (``pipeline.render.benchmark_render``), best of 3.
4. Runs the whole job on a drawn clip of two people (the same motion twice, the second person
   1.3 m to the right and 1.5 m further away) and on each real video given with ``--clip``
   (with ``--loop K``, also on that video played K times in a row), one row per clip: these are
   the figures users see on their own footage.
5. Prints a table with every figure next to its goal, and writes ``--json`` / ``--markdown``.

Goals: end to end at least real time, 25 frames/s, on 2 CPU cores;
rendering at least 200 frames/s; peak memory that does not grow with the clip's length (long /
short ratio about 1; "met" below 1.25). The lifter has no goal of its own; it is shown against
real time. Figures are wall-clock and depend on what else the machine runs: the report records
the CPU count and the load average before and after, and CPU seconds per frame of each job.

JSON report (``format`` "posemoe-bench-v1"):

- ``created`` (ISO time), ``machine``: ``cpus``, ``platform``, ``python``, ``torch``,
  ``torch_threads``, ``load_avg_start`` / ``load_avg_end`` (1, 5, 15 min).
- ``settings``: ``size`` [w, h], ``fps``, ``frames_short``, ``frames_long``, ``long_factor``,
  ``repeats``, ``quick``, ``checkpoint``, ``backend``, ``view``.
- ``runs``: ``short`` and ``long``, each: ``frames``, ``people``, ``ms_per_frame`` {stage: ms}
  with stages ``setup`` (model load, detector start), ``decode``, ``2d``, ``track``, ``3d``,
  ``render``, ``encode`` (decode and encode run in their own threads, overlapping the others),
  ``stage_seconds``, ``wall_s`` (the job from start to end, set-up included), ``fps_end_to_end``
  (frames / wall_s), ``cpu_ms_per_frame`` (CPU time of all the job's threads per frame),
  ``process_s`` (the subprocess including Python start-up and imports), ``peak_rss_mb``,
  ``output_bytes`` (the H.264 file), ``runs`` (how many were made; figures are from the fastest).
- ``lifter``: ``frames``, ``windows``, ``runtime`` (what the job lifts with on the CPU: ``onnx``,
  the network's ONNX graph run by ONNX Runtime, or ``torch``), ``seconds``, ``fps`` (with
  ``threads`` threads, as the job lifts: ``pipeline.video.lift_threads``), ``fps_one_thread``; and
  ``torch``: the torch network's ``fps`` at its job thread count ``threads``, ``fps_one_thread``,
  and ``fps_default_threads`` with torch's default ``default_threads`` (on a busy machine torch's
  spinning OpenMP threads can make that several times slower).
- ``render``: ``frames``, ``size``, ``output_size``, ``view``, ``fps``.
- ``clips``: one entry per clip of step 4: ``clip`` (file name), ``kind``, ``size``, ``fps``, and
  the job's figures as in ``runs``.
- ``memory``: ``short_mb``, ``long_mb``, ``ratio`` (long / short).
- ``goals``: list of {``figure``, ``value``, ``unit``, ``goal``, ``op`` (">=" or "<="),
  ``ratio`` (value / goal), ``met``}.

The subprocess entry point is ``python -m pipeline.bench job SRC OUT.mp4 CHECKPOINT RESULT.json``
(internal; it writes the job's figures as JSON).
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from posemoe.errors import PoseMoEError
from pipeline.export import write_text_atomic

FORMAT = "posemoe-bench-v1"
REPO = Path(__file__).resolve().parent.parent  # the folder holding the pipeline and posemoe packages
FPS = 25.0
STAGES = ("setup", "decode", "2d", "track", "3d", "render", "encode")
GOAL_FPS = 25.0
GOAL_FPS_1080P = 15.0  # whole process, clips larger than 720p
GOAL_RENDER_FPS = 200.0
GOAL_MEMORY_RATIO = 1.25  # "about 1": the long clip may use at most 25 % more than the short one
QUICK = {"frames": 40, "long_factor": 3, "render_frames": 60, "repeats": 1}


# ------------------------------------------------------------------------------------------ clips


_POSITIONS = ("joints", "toe_r", "toe_l")  # the synthetic motion's world positions (the rest are rotations)
SECOND_PERSON_OFFSET = (1.3, 1.5, 0.0)  # metres: the second person walks 1.3 m to the right, 1.5 m further away


def make_bench_clip(path: Path, frames: int, size: tuple[int, int], fps: float = FPS,
                    progress: Callable[[int], None] | None = None, people: int = 1) -> Path:
    """Draw the synthetic person (walk, turn, wave; ``frames`` long) at ``size`` into ``path``
    (H.264); with ``people=2`` a second copy of the motion, ``SECOND_PERSON_OFFSET`` away."""
    from pipeline import synthetic_clip as gen
    from pipeline.video_io import VideoWriter

    cam = gen.make_camera(size)
    motion = gen.make_motion(frames, fps)
    motions = [motion]
    if people == 2:
        motions.insert(0, {k: v + np.asarray(SECOND_PERSON_OFFSET) if k in _POSITIONS else v for k, v in motion.items()})
    elif people != 1:
        raise PoseMoEError(f"bench clip: expected 1 or 2 people, found {people}")
    background = gen.make_background(cam)
    with VideoWriter(path, fps, size, crf=gen.CRF) as writer:
        for i in range(frames):
            img = background.copy()
            for m in motions:  # far to near
                gen.draw_figure(img, cam, m, i)
            writer.write(img)
            if progress is not None:
                progress(i + 1)
    return path


def _clip(work: Path, frames: int, size: tuple[int, int], log: Callable[[str], None], people: int = 1) -> Path:
    """The cached clip of ``frames`` frames at ``size`` in ``work`` (drawn when missing or wrong)."""
    from pipeline.video_io import probe

    path = work / f"bench_{size[0]}x{size[1]}_{frames}f{'_2p' if people == 2 else ''}.mp4"
    if path.is_file():
        try:
            info = probe(path)
            if (info.width, info.height, info.frame_count) == (size[0], size[1], frames):
                log(f"[bench] reusing {path}")
                return path
        except PoseMoEError:
            pass
    log(f"[bench] drawing a {size[0]}x{size[1]} clip of {frames} frames -> {path}")
    t = time.perf_counter()
    step = max(1, frames // 4)
    make_bench_clip(path, frames, size, people=people,
                    progress=lambda i: log(f"[bench]   {i}/{frames} frames") if i % step == 0 and i < frames else None)
    log(f"[bench]   done in {time.perf_counter() - t:.1f} s")
    return path


# ------------------------------------------------------------------------------------- job runs


def _maxrss_mb(ru_maxrss: int) -> float:
    """ru_maxrss in MB (kilobytes on Linux, bytes on macOS)."""
    return ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else ru_maxrss / 1024


def tree_rss_mb(pid: int) -> float | None:
    """Resident memory of process `pid` and all its descendants together, in MB, from Linux's
    ``/proc`` (None where it is not there)."""
    if not os.path.isdir(f"/proc/{pid}/task"):
        return None
    page = os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * page
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, ValueError, IndexError):  # ended meanwhile
            continue
    return total / (1024 * 1024)


class _PeakSampler:
    """Samples `tree_rss_mb(pid)` every `interval` seconds in a thread; `peak_mb` is the largest."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        import threading

        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(pid, interval), name="posemoe-rss", daemon=True)
        self._thread.start()

    def _run(self, pid: int, interval: float) -> None:
        while not self._stop.is_set():
            mb = tree_rss_mb(pid)
            if mb is None:
                return
            self.peak_mb = max(self.peak_mb, mb)
            self._stop.wait(interval)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_mb


def run_job(src: Path, out: Path, checkpoint: Path, result: Path, *, echo: bool = True) -> dict:
    """One ``posemoe video`` job on ``src`` in a subprocess; its figures, with its peak RSS and time."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    cmd = [sys.executable, "-m", "pipeline.bench", "job", str(src), str(out), str(checkpoint), str(result)]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                            stderr=None if echo else subprocess.DEVNULL)
    sampler = _PeakSampler(proc.pid)
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        tree_mb = sampler.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0 or not result.is_file():
        raise PoseMoEError(f"{src}: the benchmark job failed (exit status {proc.returncode}); run "
                           f"`posemoe video {src} -o {out} -c {checkpoint}` to see why")
    job = json.loads(result.read_text())
    job["process_s"] = elapsed
    job["peak_rss_mb"] = max(tree_mb, _maxrss_mb(usage.ru_maxrss))
    return job


def _job_main(argv: list[str]) -> int:
    """Subprocess side of ``run_job``: the job, then its figures as JSON."""
    from pipeline.video import process_video

    src, out, checkpoint, result = (Path(a) for a in argv)
    def cpu() -> float:  # this process and the ones it waited for (the 2D pass's)
        usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
        return sum(u.ru_utime + u.ru_stime for u in usage)

    cpu0 = cpu()
    job = process_video(src, out, pose2d="mediapipe", checkpoint=checkpoint, view="side-by-side",
                        progress=sys.stderr.isatty(), log=lambda m: print(m, file=sys.stderr))
    cpu_s = cpu() - cpu0
    n = max(job.frames, 1)
    figures = {
        "frames": job.frames, "people": job.people,
        "ms_per_frame": {k: 1000 * v / n for k, v in job.stage_seconds.items()},
        "stage_seconds": job.stage_seconds, "wall_s": job.wall_s,
        "fps_end_to_end": job.frames / job.wall_s if job.wall_s else None,
        "cpu_ms_per_frame": 1000 * cpu_s / n, "output_bytes": out.stat().st_size,
    }
    result.write_text(json.dumps(figures, indent=1))
    return 0


def loop_clip(src: Path, dst: Path, times: int) -> Path:
    """`src` played `times` times in a row, written to `dst` (H.264)."""
    from pipeline.video_io import VideoReader, VideoWriter, probe

    info = probe(src)
    with VideoWriter(dst, info.fps, (info.width, info.height)) as writer:
        for _ in range(times):
            with VideoReader(src) as reader:
                for _, frame in reader:
                    writer.write(frame)
    return dst


def _bench_clips(work: Path, checkpoint: Path, clips: Sequence[Path], loop: int, size: tuple[int, int],
                 frames: int, repeats: int, echo: bool, log: Callable[[str], None]) -> list[dict]:
    """The whole job on the drawn two-person clip and on each real clip (and its loop)."""
    from pipeline.video_io import probe

    todo = [(_clip(work, frames, size, log, people=2), "drawn, 2 people")]
    for clip in clips:
        todo.append((Path(clip), "real"))
        if loop > 1:
            looped = work / f"{Path(clip).stem}_x{loop}.mp4"
            log(f"[bench] writing {Path(clip).name} played {loop} times -> {looped}")
            todo.append((loop_clip(Path(clip), looped, loop), f"real, played {loop} times"))
    rows = []
    for clip, kind in todo:
        info = probe(clip)
        done = []
        for k in range(repeats):
            log(f"[bench] posemoe video on {clip.name} ({info.width}x{info.height}), run {k + 1}/{repeats}")
            done.append(run_job(clip, work / f"{clip.stem}_out.mp4", checkpoint, work / f"{clip.stem}_job.json",
                                echo=echo))
            log(f"[bench]   {done[-1]['fps_end_to_end']:.1f} frames/s end to end, {done[-1]['people']} people, "
                f"peak {done[-1]['peak_rss_mb']:.0f} MB")
        rows.append({"clip": clip.name, "kind": kind, "size": [info.width, info.height], "fps": info.fps,
                     **_best_of(done)})
    return rows


def _best_of(runs: list[dict]) -> dict:
    """The fastest run's figures; peak memory is the largest of all the runs."""
    best = dict(max(runs, key=lambda r: r["fps_end_to_end"] or 0.0))
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    best["runs"] = len(runs)
    return best


# ---------------------------------------------------------------------------- lifter and render


def bench_lifter(checkpoint: Path, frames: int, size: tuple[int, int], repeats: int = 3) -> dict:
    """Frames per second of lifting one ``frames``-long track as the job does (windows, flip, blend,
    ``pipeline.video.LIFT_FRAMES`` frames per forward pass), with the network the job uses on the
    CPU (``runtime``: its ONNX graph, `pipeline.onnx_lifter`, or torch where that is not available)
    and, for comparison, with the torch network at the job's thread count, one thread and torch's
    default."""
    import torch

    from pipeline import synthetic_clip as gen
    from pipeline.lift import lift_tracks
    from pipeline.video import lift_batch, lift_threads, load_model
    from posemoe.camera import project_to_pixels, world_to_camera
    from posemoe.checkpoint import load_checkpoint
    from posemoe.onnx_model import OnnxPoseMoE

    job_model, _ = load_model(checkpoint, "cpu")
    torch_model = load_checkpoint(checkpoint, device="cpu")[0].eval()
    cam = gen.make_camera(size)
    kp = project_to_pixels(world_to_camera(gen.make_motion(frames, FPS)["joints"], cam), cam)[None]  # (1, F, 17, 2)
    scores = np.full(kp.shape[:3], 0.9)
    present = np.ones(kp.shape[:2], dtype=bool)

    def best_of(model, threads: int) -> float:
        head = min(frames, 2 * model.frames)
        lift_tracks(model, kp[:, :head], scores[:, :head], present[:, :head], size, threads=threads)  # warm-up
        best = math.inf
        for _ in range(max(1, repeats)):
            t = time.perf_counter()
            lift_tracks(model, kp, scores, present, size, batch_size=lift_batch(model), threads=threads)
            best = min(best, time.perf_counter() - t)
        return best

    default_threads = torch.get_num_threads()
    job_threads = lift_threads(job_model)
    job = {n: best_of(job_model, n) for n in sorted({job_threads, 1}, reverse=True)}
    torch_job_threads = lift_threads(torch_model)
    on_torch = {n: best_of(torch_model, n) for n in sorted({default_threads, torch_job_threads, 1}, reverse=True)}
    from posemoe.windowing import plan_windows, stride_for

    windows = len(plan_windows(present, job_model.frames, stride_for(job_model.frames, 0.5)))
    return {"frames": frames, "windows": windows,
            "runtime": "onnx" if isinstance(job_model, OnnxPoseMoE) else "torch",
            "seconds": job[job_threads], "fps": frames / job[job_threads], "threads": job_threads,
            "fps_one_thread": frames / job[1],
            "torch": {"fps": frames / on_torch[torch_job_threads], "threads": torch_job_threads,
                      "fps_one_thread": frames / on_torch[1], "default_threads": default_threads,
                      "fps_default_threads": frames / on_torch[default_threads]}}


def bench_render(frames: int, size: tuple[int, int], repeats: int = 3) -> dict:
    """``pipeline.render.benchmark_render`` (side by side, one person), best of ``repeats``."""
    from pipeline.render import benchmark_render

    best: dict | None = None
    for _ in range(max(1, repeats)):
        r = benchmark_render(n_frames=frames, size=size, people=1, view="side-by-side")
        if best is None or r["fps"] > best["fps"]:
            best = r
    assert best is not None
    return {"frames": frames, "size": list(size), "output_size": list(best.get("output_size", [])),
            "view": "side-by-side", "fps": best["fps"]}


# ------------------------------------------------------------------------------------------ run


def _goal(figure: str, value: float | None, unit: str, goal: float, op: str) -> dict:
    ok = value is not None and math.isfinite(value) and (value >= goal if op == ">=" else value <= goal)
    return {"figure": figure, "value": value, "unit": unit, "goal": goal, "op": op,
            "ratio": (value / goal) if value is not None else None, "met": bool(ok)}


def _load_avg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def run_bench(checkpoint: Path | None = None, *, frames: int = 100, long_factor: int = 10,
              size: tuple[int, int] = (1280, 720), repeats: int = 1, render_frames: int = 200,
              quick: bool = False, work_dir: Path | None = None, echo_jobs: bool = True,
              log: Callable[[str], None] = print, clips: Sequence[Path] = (), loop: int = 1) -> dict:
    """The whole benchmark (see the module docstring); returns the JSON report as a dict.

    quick: fewer frames (``QUICK``) for a fast check; figures are then rougher.
    work_dir: keep (and reuse) the drawn clips and rendered outputs there; default a temporary
    folder, deleted afterwards.
    clips: real videos to run the whole job on too, after the drawn two-person clip (the
    ``clips`` part of the report); loop: also run each real clip played `loop` times in a row
    (one file, re-encoded), to see whether memory grows with the length.
    """
    if quick:
        frames, long_factor = min(frames, QUICK["frames"]), min(long_factor, QUICK["long_factor"])
        render_frames, repeats = min(render_frames, QUICK["render_frames"]), min(repeats, QUICK["repeats"])
    if frames < 1 or long_factor < 1 or repeats < 1 or render_frames < 1:
        raise PoseMoEError(f"bench: expected --frames, --long-factor, --repeats >= 1, found {frames}, "
                           f"{long_factor}, {repeats}")
    w, h = (int(v) for v in size)
    if w < 16 or h < 16:
        raise PoseMoEError(f"bench: --size {w}x{h}: expected at least 16x16 pixels")
    if loop < 1:
        raise PoseMoEError(f"bench: --loop {loop}: expected a whole number >= 1")
    real_clips = [Path(c) for c in clips]
    for clip in real_clips:
        if not Path(clip).is_file():
            raise PoseMoEError(f"{clip}: no such video; pass an existing file to --clip")
    from posemoe.lifter import DEFAULT_WEIGHTS

    checkpoint = Path(checkpoint) if checkpoint else DEFAULT_WEIGHTS
    if not checkpoint.is_file():
        raise PoseMoEError(f"{checkpoint}: checkpoint not found; pass --checkpoint")
    import torch

    report: dict = {
        "format": FORMAT, "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                    "load_avg_start": _load_avg()},
        "settings": {"size": [w, h], "fps": FPS, "frames_short": frames, "frames_long": frames * long_factor,
                     "long_factor": long_factor, "repeats": repeats, "quick": quick, "checkpoint": str(checkpoint),
                     "backend": "mediapipe", "view": "side-by-side"},
    }
    tmp = None
    if work_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="posemoe-bench-")
        work = Path(tmp.name)
    else:
        work = Path(work_dir)
        work.mkdir(parents=True, exist_ok=True)
    try:
        clips = {"short": _clip(work, frames, (w, h), log), "long": _clip(work, frames * long_factor, (w, h), log)}
        runs = {}
        for name, clip in clips.items():
            done = []
            for k in range(repeats):
                n = frames if name == "short" else frames * long_factor
                log(f"[bench] posemoe video on the {name} clip ({n} frames), run {k + 1}/{repeats}")
                job = run_job(clip, work / f"{clip.stem}_out.mp4", checkpoint, work / f"{clip.stem}_job.json",
                              echo=echo_jobs)
                log(f"[bench]   {job['fps_end_to_end']:.1f} frames/s end to end, peak {job['peak_rss_mb']:.0f} MB")
                done.append(job)
            runs[name] = _best_of(done)
        report["runs"] = runs
        report["clips"] = _bench_clips(work, checkpoint, real_clips, loop, (w, h), frames, repeats, echo_jobs, log)
        log(f"[bench] lifter alone: one track of {frames * long_factor} frames")
        report["lifter"] = bench_lifter(checkpoint, frames * long_factor, (w, h), repeats=1 if quick else 3)
        log(f"[bench] renderer alone: {render_frames} frames")
        report["render"] = bench_render(render_frames, (w, h), repeats=1 if quick else 3)
    finally:
        if tmp is not None:
            tmp.cleanup()
    short_mb, long_mb = runs["short"]["peak_rss_mb"], runs["long"]["peak_rss_mb"]
    report["memory"] = {"short_mb": short_mb, "long_mb": long_mb, "ratio": long_mb / short_mb}
    report["machine"]["load_avg_end"] = _load_avg()
    report["goals"] = [
        _goal("end to end, long clip", runs["long"]["fps_end_to_end"], "frames/s", GOAL_FPS, ">="),
        _goal("end to end, short clip", runs["short"]["fps_end_to_end"], "frames/s", GOAL_FPS, ">="),
        _goal("render", report["render"]["fps"], "frames/s", GOAL_RENDER_FPS, ">="),
        _goal("peak memory long / short", report["memory"]["ratio"], "x", GOAL_MEMORY_RATIO, "<="),
    ]
    return report


# ------------------------------------------------------------------------------------ formatting


def _fmt(v: float | None, digits: int = 1) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


def _rows(report: dict) -> list[tuple[str, str, str, str]]:
    """(figure, short, long, goal) rows of the report's table."""
    runs = report["runs"]
    s, lg = runs["short"], runs["long"]
    rows = [("setup s (model load, detector start)", _fmt(s["stage_seconds"].get("setup"), 2),
             _fmt(lg["stage_seconds"].get("setup"), 2), "")]
    for stage in STAGES[1:] + tuple(k for k in s["ms_per_frame"] if k not in STAGES):
        rows.append((f"{stage} ms/frame", _fmt(s["ms_per_frame"].get(stage), 2), _fmt(lg["ms_per_frame"].get(stage), 2),
                     ""))
    rows.append(("CPU ms/frame (all threads)", _fmt(s["cpu_ms_per_frame"]), _fmt(lg["cpu_ms_per_frame"]), ""))
    rows.append(("wall s (job)", _fmt(s["wall_s"], 2), _fmt(lg["wall_s"], 2), ""))

    def vs(value: float | None, goal: float, op: str = ">=") -> str:
        if value is None:
            return f"{op} {goal:g}"
        ok = value >= goal if op == ">=" else value <= goal
        return f"{op} {goal:g}: {value / goal:.2f}x, {'met' if ok else 'NOT met'}"

    rows.append(("end to end frames/s", _fmt(s["fps_end_to_end"]), _fmt(lg["fps_end_to_end"]),
                 f"{vs(s['fps_end_to_end'], GOAL_FPS)} / {vs(lg['fps_end_to_end'], GOAL_FPS)}"))
    mem = report["memory"]
    rows.append(("peak memory MB", _fmt(mem["short_mb"], 0), _fmt(mem["long_mb"], 0),
                 f"long/short {mem['ratio']:.2f}; {vs(mem['ratio'], GOAL_MEMORY_RATIO, '<=')}"))
    rows.append(("output MB", _fmt(s["output_bytes"] / 1e6, 2), _fmt(lg["output_bytes"] / 1e6, 2), ""))
    lift = report["lifter"]
    on_torch = lift["torch"]
    rows.append((f"lifter frames/s ({lift['frames']} frames, {lift['windows']} windows x2 flip, "
                 f"{lift['runtime']}, {lift['threads']} threads)", "", _fmt(lift["fps"]),
                 f"no goal; real time 25: {lift['fps'] / GOAL_FPS:.1f}x"))
    rows.append((f"lifter frames/s, torch {on_torch['threads']} threads / torch default {on_torch['default_threads']}",
                 "", f"{_fmt(on_torch['fps'])} / {_fmt(on_torch['fps_default_threads'])}",
                 f"{lift['runtime']} / torch: {lift['fps'] / on_torch['fps']:.2f}x"))
    r = report["render"]
    rows.append((f"render frames/s ({r['frames']} frames)", "", _fmt(r["fps"]), vs(r["fps"], GOAL_RENDER_FPS)))
    return rows


def _header(report: dict) -> str:
    st, m = report["settings"], report["machine"]
    return (f"posemoe bench: {st['size'][0]}x{st['size'][1]} synthetic clip, 1 person, {st['backend']}, "
            f"{Path(st['checkpoint']).name}, {st['frames_short']} / {st['frames_long']} frames, best of "
            f"{st['repeats']}; {m['cpus']} CPUs, torch {m['torch_threads']} threads, load average "
            f"{m.get('load_avg_start')} -> {m.get('load_avg_end')}")


def clip_goal_fps(size: tuple[int, int] | list[int]) -> float:
    """The whole-process goal for a clip: `GOAL_FPS` up to 720p (shorter side <= 720 px), else
    `GOAL_FPS_1080P`."""
    return GOAL_FPS if min(size) <= 720 else GOAL_FPS_1080P


def _clip_rows(report: dict) -> list[tuple[str, ...]]:
    """One row per clip of the report's ``clips`` part: the whole job on drawn and real video.
    "job f/s": frames / the job's wall time (set-up included); "whole f/s": frames / the whole
    command's time (Python start-up, imports and exit too: what a user waits), against its goal."""
    head = ("clip", "size", "frames", "people", "2d", "3d early", "3d", "render", "encode", "decode", "setup s",
            "job f/s", "whole s", "whole f/s", "goal", "peak MB")
    rows = [head]
    for c in report.get("clips", []):
        ms = c["ms_per_frame"]
        fps = c["fps_end_to_end"] or 0.0
        whole = c["frames"] / c["process_s"] if c.get("process_s") else 0.0
        goal = clip_goal_fps(c["size"])
        rows.append((f"{c['clip']} ({c['kind']})", f"{c['size'][0]}x{c['size'][1]}", str(c["frames"]), str(c["people"]),
                     *(_fmt(ms.get(k)) for k in ("2d", "3d early", "3d", "render", "encode", "decode")),
                     _fmt(c["stage_seconds"].get("setup"), 2), _fmt(fps), _fmt(c.get("process_s"), 2), _fmt(whole),
                     f">= {goal:g}: {whole / goal:.2f}x", _fmt(c["peak_rss_mb"], 0)))
    return rows


def format_clips(report: dict) -> str:
    """The ``clips`` part as a plain-text table (ms/frame per stage; end to end with set-up)."""
    rows = _clip_rows(report)
    if len(rows) == 1:
        return ""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["whole job per clip (ms/frame per stage; decode, encode and 3d early (lifting during the 2D "
             "pass) overlap the others):"]
    for k, r in enumerate(rows):
        lines.append("  ".join(f"{v:<{widths[0]}}" if i == 0 else f"{v:>{widths[i]}}" for i, v in enumerate(r)))
        if k == 0:
            lines.append("-" * (sum(widths) + 2 * (len(widths) - 1)))
    return "\n".join(lines)


def format_table(report: dict) -> str:
    """The report as a plain-text table."""
    rows = [("figure", f"short ({report['settings']['frames_short']} f)",
             f"long ({report['settings']['frames_long']} f)", "goal")] + _rows(report)
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [_header(report)]
    for k, r in enumerate(rows):
        lines.append(f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}".rstrip())
        if k == 0:
            lines.append("-" * (sum(widths) + 6))
    lines.append("decode and encode run in their own threads, overlapping the other stages; "
                 "end to end = frames / job wall time (set-up included).")
    clips = format_clips(report)
    return "\n".join(lines) + ("\n\n" + clips if clips else "")


def format_markdown(report: dict) -> str:
    """The report as a Markdown table."""
    st = report["settings"]
    lines = [f"_{_header(report)}_", "",
             f"| figure | short ({st['frames_short']} frames) | long ({st['frames_long']} frames) | goal |",
             "|---|---:|---:|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in _rows(report)]
    clip_rows = _clip_rows(report)
    if len(clip_rows) > 1:
        lines += ["", "| " + " | ".join(clip_rows[0]) + " |", "|---|" + "---:|" * (len(clip_rows[0]) - 1)]
        lines += ["| " + " | ".join(r) + " |" for r in clip_rows[1:]]
    return "\n".join(lines) + "\n"


def write_outputs(report: dict, json_path: Path | None, markdown_path: Path | None) -> None:
    """Write the JSON report and/or the Markdown table (atomically)."""
    for path, text in ((json_path, lambda: json.dumps(report, indent=1) + "\n"),
                       (markdown_path, lambda: format_markdown(report))):
        if path is None:
            continue
        path = Path(path)
        try:
            write_text_atomic(path, text())
        except OSError as exc:
            raise PoseMoEError(f"{path}: cannot write ({exc.strerror or exc}); check the folder") from None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 5 and argv[0] == "job":
        return _job_main(argv[1:])
    print("usage: python -m pipeline.bench job SRC OUT.mp4 CHECKPOINT RESULT.json (internal; use `posemoe bench`)",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    from pipeline.cli import exit_now

    exit_now(main())  # ends like the `posemoe` command does, so process_s is what users wait
