"""`posemoe bench` end to end on tiny clips: every documented field present and sane. No timing
assertions (figures depend on the machine's load); the pipeline helpers it relies on are checked
for behaviour, not speed."""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.bench import FORMAT, STAGES, format_markdown, format_table, make_bench_clip, run_bench
from pipeline.cli import app
from pipeline.video import StageTimer, background_writer, prefetch
from pipeline.video_io import VideoReader, probe
from posemoe.errors import PoseMoEError

pytest.importorskip("mediapipe")

JOB_FIELDS = ("frames", "people", "ms_per_frame", "stage_seconds", "wall_s", "fps_end_to_end", "cpu_ms_per_frame",
              "process_s", "peak_rss_mb", "output_bytes", "runs")


def _positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    work = tmp_path_factory.mktemp("bench")
    runner = CliRunner()
    out_json, out_md = work / "bench.json", work / "bench.md"
    own = make_bench_clip(work / "own_clip.mp4", 4, (192, 108))  # stands for a user's real video
    result = runner.invoke(app, ["bench", "--frames", "5", "--long-factor", "2", "--size", "160x120", "--quick",
                                 "--work-dir", str(work), "--json", str(out_json), "--markdown", str(out_md), "-q",
                                 "--clip", str(own), "--loop", "2"])
    assert result.exit_code == 0, result.output
    assert "end to end frames/s" in result.output and "peak memory MB" in result.output
    return json.loads(out_json.read_text()), work


def test_report_has_every_field(report: tuple[dict, Path]) -> None:
    rep, work = report
    assert rep["format"] == FORMAT
    for key in ("created", "machine", "settings", "runs", "lifter", "render", "memory", "goals"):
        assert key in rep, key
    assert rep["machine"]["cpus"] >= 1 and rep["machine"]["torch_threads"] >= 1
    st = rep["settings"]
    assert st["size"] == [160, 120] and st["frames_short"] == 5 and st["frames_long"] == 10 and st["quick"]
    assert st["backend"] == "mediapipe" and Path(st["checkpoint"]).is_file()
    for name, frames in (("short", 5), ("long", 10)):
        run = rep["runs"][name]
        for key in JOB_FIELDS:
            assert key in run, (name, key)
        assert run["frames"] == frames and run["people"] in (0, 1) and run["runs"] == 1  # one drawn person, if found
        for stage in STAGES:
            assert _positive(run["ms_per_frame"][stage]), (name, stage)
            assert run["stage_seconds"][stage] == pytest.approx(run["ms_per_frame"][stage] * frames / 1000)
        for key in ("wall_s", "fps_end_to_end", "cpu_ms_per_frame", "process_s", "peak_rss_mb", "output_bytes"):
            assert _positive(run[key]), (name, key)
        assert run["fps_end_to_end"] == pytest.approx(frames / run["wall_s"])
        assert run["process_s"] >= run["wall_s"]
        assert 50 < run["peak_rss_mb"] < 16_000  # a Python process with torch and MediaPipe, in MB
    mem = rep["memory"]
    assert mem["short_mb"] == rep["runs"]["short"]["peak_rss_mb"] and mem["long_mb"] == rep["runs"]["long"]["peak_rss_mb"]
    assert mem["ratio"] == pytest.approx(mem["long_mb"] / mem["short_mb"])
    lift, render = rep["lifter"], rep["render"]
    assert lift["frames"] == 10 and lift["windows"] == 1 and _positive(lift["seconds"]) and _positive(lift["fps"])
    assert lift["runtime"] == "onnx" and lift["threads"] >= 1 and _positive(lift["fps_one_thread"])
    on_torch = lift["torch"]
    assert _positive(on_torch["fps"]) and _positive(on_torch["fps_one_thread"]) and _positive(on_torch["fps_default_threads"])
    assert on_torch["threads"] >= 1 and on_torch["default_threads"] >= 1
    assert render["size"] == [160, 120] and render["output_size"][1] >= 120 and _positive(render["fps"])
    goals = {g["figure"]: g for g in rep["goals"]}
    assert goals["render"]["goal"] == 200 and goals["end to end, long clip"]["goal"] == 25
    for g in rep["goals"]:
        assert _positive(g["value"]) and _positive(g["ratio"]) and isinstance(g["met"], bool) and g["op"] in (">=", "<=")
    # the outputs of the real job are proper videos, and the tables render
    out = work / "bench_160x120_10f_out.mp4"
    info = probe(out)
    assert info.frame_count == 10 and info.codec == "h264" and info.width % 2 == 0 and info.height % 2 == 0
    assert (work / "bench.md").read_text().startswith("_posemoe bench:")
    assert "| end to end frames/s |" in format_markdown(rep) and "render frames/s" in format_table(rep)
    # one row per clip: the drawn two-person clip, the given video, and that video played twice
    clips = rep["clips"]
    assert [(c["clip"], c["kind"], c["frames"], c["size"]) for c in clips] == [
        ("bench_160x120_5f_2p.mp4", "drawn, 2 people", 5, [160, 120]),
        ("own_clip.mp4", "real", 4, [192, 108]),
        ("own_clip_x2.mp4", "real, played 2 times", 8, [192, 108])]
    for c in clips:
        for key in JOB_FIELDS:
            assert key in c, (c["clip"], key)
        assert c["fps_end_to_end"] == pytest.approx(c["frames"] / c["wall_s"])
    table = format_table(rep)
    assert "whole job per clip" in table and "own_clip_x2.mp4 (real, played 2 times)" in table
    assert "| own_clip.mp4 (real) | 192x108 | 4 |" in format_markdown(rep)
    # the whole command's frames/s (start-up and exit too) is a column, next to its goal
    row = next(line for line in format_markdown(rep).splitlines() if line.startswith("| own_clip.mp4 (real)"))
    whole = clips[1]["frames"] / clips[1]["process_s"]
    assert f"| {whole:.1f} | >= 25: {whole / 25:.2f}x |" in row
    assert clips[1]["process_s"] > clips[1]["wall_s"]


def test_clip_goal_depends_on_the_frame_size() -> None:
    from pipeline.bench import clip_goal_fps

    assert clip_goal_fps((1280, 720)) == clip_goal_fps((720, 1280)) == clip_goal_fps((812, 720)) == 25
    assert clip_goal_fps((1920, 1080)) == clip_goal_fps((1080, 1920)) == 15


def test_bench_clip_is_drawn_at_the_asked_size(tmp_path: Path) -> None:
    path = make_bench_clip(tmp_path / "c.mp4", 3, (320, 180))
    info = probe(path)
    assert (info.width, info.height, info.frame_count, info.fps) == (320, 180, 3, 25.0)
    # two people: the same frames plus a second, smaller figure to the right
    two = make_bench_clip(tmp_path / "c2.mp4", 3, (320, 180), people=2)
    with VideoReader(path) as a, VideoReader(two) as b:
        fa, fb = next(iter(a))[1].astype(int), next(iter(b))[1].astype(int)
    changed = np.abs(fa - fb).sum(axis=-1) > 30
    cols = np.nonzero(changed)[1]
    assert changed.sum() > 200 and np.median(cols) > 150  # drawn to the right of the first one
    with pytest.raises(PoseMoEError, match="1 or 2 people"):
        make_bench_clip(tmp_path / "c3.mp4", 3, (320, 180), people=3)


def test_bad_settings_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(PoseMoEError, match="size"):
        run_bench(None, size=(8, 8), work_dir=tmp_path, log=lambda m: None)
    with pytest.raises(PoseMoEError, match="checkpoint not found"):
        run_bench(tmp_path / "missing.pt", work_dir=tmp_path, log=lambda m: None)
    result = CliRunner().invoke(app, ["bench", "--size", "big"])
    assert result.exit_code == 2 and "WIDTHxHEIGHT" in result.output
    with pytest.raises(PoseMoEError, match="no such video.*--clip"):
        run_bench(None, work_dir=tmp_path, clips=[tmp_path / "nope.mp4"], log=lambda m: None)


# ------------------------------------------------------------------ the threads the job overlaps with


def test_prefetch_yields_everything_in_order_and_times_it() -> None:
    timer = StageTimer()
    with prefetch(iter(range(50)), timer, "decode", depth=2) as items:
        assert list(items) == list(range(50))
    assert timer.seconds["decode"] > 0


def test_prefetch_reraises_and_stops_early() -> None:
    def broken():
        yield 1
        raise PoseMoEError("bad frame")

    with pytest.raises(PoseMoEError, match="bad frame"):
        with prefetch(broken()) as items:
            list(items)
    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    with prefetch(endless(), depth=3) as items:
        assert next(items) == 0
    assert closed.is_set()  # leaving early closed the generator in its thread


def test_prefetch_passes_reader_warnings(tmp_path: Path) -> None:
    from pipeline.video_io import DamagedVideoWarning, VideoWriter

    path = tmp_path / "clip.mp4"
    rng = np.random.default_rng(0)
    with VideoWriter(path, 25, (64, 48)) as w:
        for _ in range(30):
            w.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))  # noise: every frame is big
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.6)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with VideoReader(cut, "rgb24") as reader, prefetch(iter(reader)) as items:
            frames = list(items)
    assert frames and frames[0][1].shape == (48, 64, 3)
    assert any(issubclass(w.category, DamagedVideoWarning) for w in caught)


def test_background_writer_writes_in_order_and_reraises() -> None:
    class Sink:
        def __init__(self, fail_at: int | None = None) -> None:
            self.got: list[int] = []
            self.fail_at = fail_at

        def write(self, image) -> None:
            if len(self.got) == self.fail_at:
                raise PoseMoEError("disk full")
            self.got.append(int(image[0, 0, 0]))

    sink = Sink()
    timer = StageTimer()
    with background_writer(sink, timer, depth=2) as write:
        for i in range(20):
            write(np.full((2, 2, 3), i, np.uint8))
    assert sink.got == list(range(20)) and "encode" in timer.seconds
    bad = Sink(fail_at=3)
    with pytest.raises(PoseMoEError, match="disk full"):
        with background_writer(bad) as write:
            for i in range(20):
                write(np.full((2, 2, 3), i, np.uint8))
    assert bad.got == [0, 1, 2]


def test_reader_rgb_is_bgr_reversed(tmp_path: Path) -> None:
    from pipeline.video_io import VideoWriter

    path = tmp_path / "c.mp4"
    img = np.zeros((48, 64, 3), np.uint8)
    img[:, :32] = (200, 30, 60)
    with VideoWriter(path, 25, (64, 48)) as w:
        w.write(img)
    (_, bgr), = list(VideoReader(path))
    (_, rgb), = list(VideoReader(path, "rgb24"))
    assert np.abs(bgr[..., ::-1].astype(int) - rgb).max() <= 1
    with pytest.raises(PoseMoEError, match="pixel_format"):
        VideoReader(path, "gray")


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads Linux's /proc")
def test_tree_rss_counts_a_process_and_its_forked_children_together() -> None:
    import subprocess
    import time

    from pipeline.bench import tree_rss_mb

    # a process holding ~120 MB whose forked child holds another ~150 MB of its own
    code = ("import os, sys, time, numpy as np\n"
            "a = np.ones(120 * 2**20 // 8)\n"
            "if os.fork() == 0:\n"
            "    b = np.ones(150 * 2**20 // 8); print(os.getpid(), flush=True); time.sleep(30); os._exit(0)\n"
            "sys.stdin.readline()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        child = int(proc.stdout.readline())
        time.sleep(0.2)
        whole = tree_rss_mb(proc.pid)
        with open(f"/proc/{proc.pid}/status") as f:
            own = next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024
        assert own > 120 and whole > own + 140, (own, whole)
    finally:
        proc.kill()
        proc.wait()
        try:
            os.kill(child, 9)
        except (NameError, ProcessLookupError):
            pass
    assert tree_rss_mb(proc.pid) is None  # gone
