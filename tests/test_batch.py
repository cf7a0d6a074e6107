"""`posemoe batch`: discovery, mirrored outputs, resume, failure isolation, interruption, sharding
and merging. Most tests run the real job (decode, track, lift, render, export) in this process on
tiny generated clips with a stand-in 2D detector; one runs the command end to end (MediaPipe,
worker process, SIGINT midway, rerun)."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import pipeline.pose2d as pose2d
from pipeline import batch as B
from pipeline.cli import app
from pipeline.export import load_results
from pipeline.pose2d.base import Detection
from pipeline.video_io import VideoWriter, probe, read_all_frames
from posemoe import PoseMoE, PoseMoEConfig
from posemoe.checkpoint import make_checkpoint, save_checkpoint
from posemoe.errors import PoseMoEError

ROOT = Path(__file__).resolve().parent.parent
WALK = ROOT / "examples" / "synthetic_walk.mp4"
runner = CliRunner()

# a standing figure, H36M17 order, as fractions of the frame (x, y)
_FIGURE = np.array([
    (0.50, 0.55), (0.45, 0.55), (0.45, 0.70), (0.45, 0.85), (0.55, 0.55), (0.55, 0.70), (0.55, 0.85),
    (0.50, 0.45), (0.50, 0.35), (0.50, 0.30), (0.50, 0.25), (0.57, 0.36), (0.60, 0.45), (0.62, 0.53),
    (0.43, 0.36), (0.40, 0.45), (0.38, 0.53)])


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The tiny lifter is 20x slower with 2 threads than 1 when the cores are busy (spinning threads)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = PoseMoE(PoseMoEConfig(frames=9, dim=32, heads=4, encoder_layers=1, decoder_layers=1, in_channels=3))
    return save_checkpoint(make_checkpoint(model), tmp_path_factory.mktemp("w") / "tiny.pt")


def make_clip(path: Path, frames: int = 8, size: tuple[int, int] = (64, 48), fps: float = 10.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    with VideoWriter(path, fps, size) as writer:
        for i in range(frames):
            writer.write(np.full((h, w, 3), 40 + 10 * i, np.uint8))
    return path


class FakeBackend(pose2d.PoseBackend):
    """One person per frame at a fixed pose; counts its calls."""

    name = "mediapipe"
    made = 0
    frames = 0

    def __init__(self, **kwargs) -> None:
        FakeBackend.made += 1

    def __call__(self, frame_bgr, frame_index):
        FakeBackend.frames += 1
        h, w = frame_bgr.shape[:2]
        return [Detection(_FIGURE * (w, h), np.full(17, 0.9))]


@pytest.fixture
def fake2d(monkeypatch) -> type[FakeBackend]:
    FakeBackend.made = FakeBackend.frames = 0
    monkeypatch.setattr(pose2d, "make_backend", lambda name, **kw: FakeBackend(**kw))
    return FakeBackend


def opts(ckpt: Path, **kw) -> B.BatchOptions:
    return B.BatchOptions(checkpoint=str(ckpt), pose2d="mediapipe", **kw)


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as fh:
        return {r["clip"]: r for r in csv.DictReader(fh)}


def final_files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


# --------------------------------------------------------------------------------------- discovery


def test_find_videos_recurses_matches_suffixes_any_case_and_survives_link_cycles(tmp_path: Path) -> None:
    root, outside = tmp_path / "in", tmp_path / "outside"
    for rel in ("a.mp4", "B.MOV", "notes.txt", ".hidden.mp4", "x/y/deep.mkv", "x/y/upper.WebM", "x/y/clip.avi.txt",
                "out/render.mp4"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    outside.mkdir()
    (outside / "ext.avi").write_bytes(b"x")
    (root / "x" / "loop").symlink_to(root)  # cycle back to the top
    (root / "x" / "y" / "self").symlink_to(".")  # cycle onto itself
    (root / "linked").symlink_to(outside)  # a linked folder is entered
    (root / "dup.mp4").symlink_to(root / "a.mp4")  # the same file twice: listed once
    (root / "dangling.mp4").symlink_to(tmp_path / "missing.mp4")  # listed, so it gets reported

    clips = B.find_videos(root, exclude=[root / "out"])
    assert [c.rel for c in clips] == ["B.MOV", "a.mp4", "dangling.mp4", "linked/ext.avi", "x/y/deep.mkv",
                                      "x/y/upper.WebM"]
    assert clips[3].path == root / "linked" / "ext.avi"
    assert "out/render.mp4" in [c.rel for c in B.find_videos(root)]  # only excluded when asked


def test_output_folders_mirror_the_input_tree() -> None:
    clips = [B.Clip(rel, Path(rel)) for rel in ("walk.mp4", "a/b/run.MOV", "a/b/run.mkv", "a/jump.avi")]
    got = B.output_folders(clips, "/o")
    assert got == {"walk.mp4": Path("/o/walk"), "a/b/run.MOV": Path("/o/a/b/run_MOV"),
                   "a/b/run.mkv": Path("/o/a/b/run_mkv"), "a/jump.avi": Path("/o/a/jump")}


# ---------------------------------------------------------------------------------------- sharding


def test_shards_partition_the_clips_stably() -> None:
    rels = [f"cam{i % 7}/day{i % 3}/clip_{i:04d}.mp4" for i in range(300)]
    clips = [B.Clip(r, Path(r)) for r in rels]
    for n in (1, 2, 5):
        parts = [{c.rel for c in B.select_shard(clips, k, n)} for k in range(1, n + 1)]
        assert set().union(*parts) == set(rels)  # every clip in some shard
        assert sum(len(p) for p in parts) == len(rels)  # ... and in one only
        assert min(len(p) for p in parts) > 0.6 * len(rels) / n  # roughly even
        shuffled = clips[:]
        random.Random(n).shuffle(shuffled)  # listing order does not matter
        assert [{c.rel for c in B.select_shard(shuffled, k, n)} for k in range(1, n + 1)] == parts
        grown = clips + [B.Clip("cam9/new.mp4", Path("x"))]  # adding a clip moves no other clip
        new_parts = [{c.rel for c in B.select_shard(grown, k, n)} - {"cam9/new.mp4"} for k in range(1, n + 1)]
        assert new_parts == parts
    # a fixed value guards against an accidental change of the hash (it would reshuffle running clusters)
    assert [B.shard_index(r, 8) for r in ("a.mp4", "x/y/z.mov", "cam1/day2/clip_0042.mp4")] == [0, 3, 5]
    assert B.parse_shard("3/8") == (3, 8)
    for bad in ("0/4", "5/4", "1", "a/b", "-1/4"):
        with pytest.raises(B.PoseMoEError, match="K/N"):
            B.parse_shard(bad)


# ----------------------------------------------------------------------------- resume and isolation


def test_batch_mirrors_outputs_isolates_failures_and_resumes(ckpt: Path, fake2d, tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    make_clip(src / "a.mp4", frames=8)
    make_clip(src / "day1" / "b.mov", frames=6, size=(80, 60))
    make_clip(src / "day1" / "cam" / "c.MP4", frames=5)
    (src / "day1" / "broken.mp4").write_bytes(b"not a video at all")

    report = B.run_batch(src, out, opts(ckpt), workers=0, progress=False, echo=lambda m: None)
    status = {r.clip: r.status for r in report.results}
    assert status == {"a.mp4": "ok", "day1/b.mov": "ok", "day1/cam/c.MP4": "ok", "day1/broken.mp4": "failed"}
    assert report.exit_status == 1 and not report.interrupted
    rows = read_csv(out / "summary.csv")
    assert list(next(iter(rows.values()))) == list(B.SUMMARY_FIELDS)
    assert "not a readable video" in rows["day1/broken.mp4"]["error"] and rows["day1/broken.mp4"]["status"] == "failed"
    assert rows["day1/b.mov"]["frames"] == "6" and rows["day1/b.mov"]["people"] == "1"
    assert float(rows["day1/b.mov"]["fps"]) == pytest.approx(10.0) and rows["day1/b.mov"]["backend"] == "mediapipe"
    assert float(rows["a.mp4"]["frames_per_s"]) > 0
    # one folder per clip, mirroring the input tree
    for rel, folder, frames in (("a.mp4", out / "a", 8), ("day1/b.mov", out / "day1" / "b", 6),
                                ("day1/cam/c.MP4", out / "day1" / "cam" / "c", 5)):
        assert final_files(folder) == {"render.mp4", "results.npz", "done.json"}, rel
        assert probe(folder / "render.mp4").frame_count == frames
        assert load_results(folder / "results.npz").keypoints3d.shape == (1, frames, 17, 3)
    assert final_files(out / "day1" / "broken") == {"error.txt"}
    assert FakeBackend.made == 3

    # rerun: complete clips are skipped (nothing opened), the failed one is tried again
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != "summary.csv"}
    report = B.run_batch(src, out, opts(ckpt), workers=0, progress=False, echo=lambda m: None)
    assert {r.clip: r.status for r in report.results} == {**status, "a.mp4": "skipped", "day1/b.mov": "skipped",
                                                          "day1/cam/c.MP4": "skipped"}
    assert FakeBackend.made == 3  # no detector was started
    rows = read_csv(out / "summary.csv")
    assert rows["day1/b.mov"]["status"] == "skipped" and rows["day1/b.mov"]["frames"] == "6"  # figures from the marker
    assert all(p.stat().st_mtime_ns == t for p, t in before.items() if p.parent.name != "broken")

    # a newer input, a missing output and changed settings each make a clip incomplete
    a_in = src / "a.mp4"
    os.utime(a_in, ns=(a_in.stat().st_atime_ns, a_in.stat().st_mtime_ns + 10**9))  # touched
    (out / "day1" / "b" / "render.mp4").unlink()
    report = B.run_batch(src, out, opts(ckpt), workers=0, progress=False, echo=lambda m: None)
    assert {r.clip: r.status for r in report.results} == {**status, "day1/cam/c.MP4": "skipped"}
    assert FakeBackend.made == 5
    assert final_files(out / "day1" / "b") == {"render.mp4", "results.npz", "done.json"}
    report = B.run_batch(src, out, opts(ckpt, video=False), workers=0, progress=False, echo=lambda m: None)
    assert {r.clip: r.status for r in report.results} == status  # all redone: outputs differ
    assert final_files(out / "a") == {"results.npz", "done.json"}  # the old video is gone with its settings

    # the video's drawing options are settings too: asking for a timecode redraws every video
    report = B.run_batch(src, out, opts(ckpt), workers=0, progress=False, echo=lambda m: None)
    assert {r.clip: r.status for r in report.results} == status
    report = B.run_batch(src, out, opts(ckpt, timecode=True), workers=0, progress=False, echo=lambda m: None)
    assert {r.clip: r.status for r in report.results} == status
    assert json.loads((out / "a" / "done.json").read_text())["settings"]["render"]["timecode"] is True
    report = B.run_batch(src, out, opts(ckpt, timecode=True), workers=0, progress=False, echo=lambda m: None)
    assert {r.clip: r.status for r in report.results} == {c: ("failed" if c == "day1/broken.mp4" else "skipped")
                                                          for c in status}
    with pytest.raises(PoseMoEError, match="--color-by"):
        B.run_batch(src, out, opts(ckpt, color_by="rainbow"), workers=0, progress=False, echo=lambda m: None)


def test_interrupted_batch_leaves_no_partial_output_and_the_rerun_finishes(ckpt: Path, fake2d, tmp_path: Path,
                                                                            monkeypatch) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    for name in ("a", "b", "c"):
        make_clip(src / f"{name}.mp4", frames=8)
    real_write = VideoWriter.write

    def write_then_interrupt(self, frame):  # Ctrl-C while b's video is half encoded
        if self.path.parent.name == "b" and self.frames_written == 4:
            assert not self.path.exists()  # frames go to a temporary name
            raise KeyboardInterrupt
        return real_write(self, frame)

    monkeypatch.setattr(VideoWriter, "write", write_then_interrupt)
    report = B.run_batch(src, out, opts(ckpt), workers=0, progress=False, echo=lambda m: None)
    assert report.interrupted and report.exit_status == 130
    assert {r.clip: r.status for r in report.results} == {"a.mp4": "ok", "b.mp4": "interrupted", "c.mp4": "pending"}
    assert read_csv(out / "summary.csv")["b.mp4"]["status"] == "interrupted"  # the summary is up to date
    assert final_files(out / "b") == set()  # no partial video, no results, no marker, no temporary file
    assert not (out / "c").exists()

    monkeypatch.setattr(VideoWriter, "write", real_write)
    (out / "c").mkdir()
    (out / "c" / ".render.mp4.part.mp4").write_bytes(b"left by a killed run")
    report = B.run_batch(src, out, opts(ckpt), workers=0, progress=False, echo=lambda m: None)
    assert {r.clip: r.status for r in report.results} == {"a.mp4": "skipped", "b.mp4": "ok", "c.mp4": "ok"}
    assert report.exit_status == 0
    for name in "bc":
        assert final_files(out / name) == {"render.mp4", "results.npz", "done.json"}
        assert probe(out / name / "render.mp4").frame_count == 8


def test_interrupt_after_a_clip_finished_counts_it_as_done(ckpt: Path, fake2d, tmp_path: Path, monkeypatch) -> None:
    """Ctrl-C between a clip's marker being written and its result reaching the batch (the race a
    worker process opens): the summary says ok, not interrupted, since the clip is complete."""
    src, out = tmp_path / "in", tmp_path / "out"
    for name in ("a", "b"):
        make_clip(src / f"{name}.mp4", frames=8)
    real_run_clip = B.run_clip

    def finish_then_interrupt(task):
        real_run_clip(task)
        raise KeyboardInterrupt

    monkeypatch.setattr(B, "run_clip", finish_then_interrupt)
    report = B.run_batch(src, out, opts(ckpt), workers=0, progress=False, echo=lambda m: None)
    assert report.interrupted and report.exit_status == 130
    assert {r.clip: r.status for r in report.results} == {"a.mp4": "ok", "b.mp4": "pending"}
    row = read_csv(out / "summary.csv")["a.mp4"]
    assert row["status"] == "ok" and row["frames"] == "8"


def test_marker_is_written_last(ckpt: Path, fake2d, tmp_path: Path, monkeypatch) -> None:
    """A failure after the outputs (here: writing the marker) leaves the clip incomplete and retried."""
    src, out = tmp_path / "in", tmp_path / "out"
    make_clip(src / "a.mp4")
    real = B._atomic_write

    def no_marker(path, data):
        if path.name == B.MARKER_NAME:
            raise OSError(28, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(B, "_atomic_write", no_marker)
    report = B.run_batch(src, out, opts(ckpt), workers=0, progress=False, echo=lambda m: None)
    assert report.results[0].status == "failed" and "No space left" in report.results[0].error
    assert B.MARKER_NAME not in final_files(out / "a")
    monkeypatch.setattr(B, "_atomic_write", real)
    report = B.run_batch(src, out, opts(ckpt), workers=0, progress=False, echo=lambda m: None)
    assert report.results[0].status == "ok"


# ------------------------------------------------------------------------------------------ merge


def test_shards_then_merge(ckpt: Path, fake2d, tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    names = [f"g{i % 2}/clip{i}.mp4" for i in range(6)]
    for n in names:
        make_clip(src / n, frames=4)
    done: list[set[str]] = []
    for k in (1, 2, 3):
        report = B.run_batch(src, out, opts(ckpt, video=False), workers=0, shard=(k, 3), progress=False,
                             echo=lambda m: None)
        done.append({r.clip for r in report.results})
        assert all(r.status == "ok" for r in report.results)
        assert set(read_csv(out / f"summary-shard-{k}-of-3.csv")) == done[-1]
    assert set().union(*done) == set(names) and sum(map(len, done)) == len(names)
    assert not (out / "summary.csv").exists()

    result = runner.invoke(app, ["batch-merge", str(out)])
    assert result.exit_code == 0, result.output
    assert set(read_csv(out / "summary.csv")) == set(names)
    assert "6 clips: 6 ok" in result.output and "merged 3 of 3 shards" in result.output

    (out / "summary-shard-2-of-3.csv").unlink()
    result = runner.invoke(app, ["batch-merge", str(out)])
    assert result.exit_code == 1 and "missing shards: 2" in result.output
    assert set(read_csv(out / "summary.csv")) == done[0] | done[2]
    (out / "summary-shard-1-of-4.csv").write_text("clip,status\n")
    result = runner.invoke(app, ["batch-merge", str(out)])
    assert result.exit_code == 2 and "different shard counts" in result.output


def test_usage_errors_exit_2(ckpt: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for args, fragment in (([str(tmp_path / "nope"), "-o", str(tmp_path / "o")], "not a folder"),
                           ([str(empty), "-o", str(tmp_path / "o")], "no videos found"),
                           ([str(empty), "-o", str(tmp_path / "o"), "--shard", "0/3"], "K/N"),
                           ([str(empty), "-o", str(tmp_path / "o"), "--view", "top"], "--view")):
        result = runner.invoke(app, ["batch", *args, "-c", str(ckpt)])
        assert result.exit_code == 2, (args, result.output)
        assert fragment in result.output and "Traceback" not in result.output


# -------------------------------------------------------------------------------- the real command


@pytest.mark.slow
def test_command_end_to_end_with_sigint_midway(ckpt: Path, tmp_path: Path) -> None:
    """Real MediaPipe in a worker process; SIGINT to the batch after the first clip; rerun resumes."""
    pytest.importorskip("mediapipe")
    src, out = tmp_path / "in", tmp_path / "out"
    _, frames = read_all_frames(WALK, max_frames=14)
    import cv2

    for i, name in enumerate(("a.mp4", "b/b.mp4", "b/c.mov")):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        with VideoWriter(src / name, 25, (240, 136)) as w:
            for f in frames[i:]:
                w.write(cv2.resize(f, (240, 136)))
    (src / "b" / "broken.mp4").write_bytes(b"\x00" * 1000)
    # started as from a terminal: under a shell's background job (a CI runner's, say) SIGINT is
    # ignored from the start, and Python, and every process it starts, would keep ignoring it
    launch = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
              "runpy.run_module('pipeline.cli', run_name='__main__', alter_sys=True)")
    cmd = [sys.executable, "-c", launch, "batch", str(src), "-o", str(out), "-c", str(ckpt), "-q", "--threads", "1"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not (out / "a" / "done.json").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # to the batch process only: it stops its worker itself
    text = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, text
    rows = read_csv(out / "summary.csv")
    assert rows["a.mp4"]["status"] == "ok" and set(rows) == {"a.mp4", "b/b.mp4", "b/broken.mp4", "b/c.mov"}
    assert {"interrupted", "pending"} & {r["status"] for r in rows.values()}
    for folder in (out / "b" / "b", out / "b" / "c"):  # nothing half-written under a final name
        files = final_files(folder)
        assert files in (set(), {"error.txt"}, {"render.mp4", "results.npz", "done.json"}), files
        assert not any(f.startswith(".") for f in files)

    result = subprocess.run(cmd + ["--workers", "0"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr  # the broken file
    rows = read_csv(out / "summary.csv")
    assert rows["a.mp4"]["status"] == "skipped"
    assert rows["b/b.mp4"]["status"] in ("ok", "skipped") and rows["b/c.mov"]["status"] in ("ok", "skipped")
    assert rows["b/broken.mp4"]["status"] == "failed" and "not a readable video" in rows["b/broken.mp4"]["error"]
    assert rows["b/c.mov"]["frames"] == "12" and rows["b/c.mov"]["backend"] == "mediapipe"
    assert "FAILED  b/broken.mp4" in result.stdout and "4 clips:" in result.stdout
    assert load_results(out / "b" / "c" / "results.npz").keypoints3d.shape[1] == 12
