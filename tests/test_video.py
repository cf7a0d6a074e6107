"""`posemoe video` and `posemoe lift` end to end on the project's own synthetic clip (real
MediaPipe 2D, a small random-weight lifter made here), and their one-line errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import pipeline.video as video_mod
from pipeline.cli import app
from pipeline.export import load_results
from pipeline.video_io import VideoWriter, probe
from posemoe import PoseMoE, PoseMoEConfig
from posemoe.checkpoint import make_checkpoint, save_checkpoint
from posemoe.errors import PoseMoEError

pytest.importorskip("mediapipe")
runner = CliRunner()
CLIP = Path(__file__).resolve().parent.parent / "examples" / "synthetic_walk.mp4"


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = PoseMoE(PoseMoEConfig(frames=9, dim=32, heads=4, encoder_layers=1, decoder_layers=1, in_channels=3))
    return save_checkpoint(make_checkpoint(model), tmp_path_factory.mktemp("w") / "tiny.pt")


def _error(result, *fragments: str) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    line = [ln for ln in result.output.splitlines() if ln.startswith("error: ")]
    assert len(line) == 1, result.output
    for f in fragments:
        assert f in line[0], (f, line[0])
    return line[0]


def test_video_renders_and_exports_the_synthetic_walk(ckpt: Path, tmp_path: Path) -> None:
    out, data = tmp_path / "out.mp4", tmp_path / "poses.npz"
    result = runner.invoke(app, ["video", str(CLIP), "-o", str(out), "--save", str(data), "-c", str(ckpt), "-q"])
    assert result.exit_code == 0, result.output
    assert "1 person tracked" in result.output and "frames/s end to end" in result.output
    src, rendered = probe(CLIP), probe(out)
    assert rendered.frame_count == src.frame_count == 100 and rendered.fps == pytest.approx(src.fps)
    assert (rendered.width, rendered.height) == (src.width + src.height, src.height)  # frame + square 3D panel
    res = load_results(data)
    assert res.keypoints2d.shape == (1, 100, 17, 2) and res.keypoints3d.shape == (1, 100, 17, 3)
    present = res.present[0]
    assert present.mean() > 0.9  # MediaPipe finds the figure on (nearly) every frame
    assert np.isfinite(res.keypoints3d[0, present]).all()
    np.testing.assert_allclose(res.keypoints3d[0, present, 0], 0.0, atol=1e-5)  # root-relative
    assert res.backend2d["name"] == "mediapipe" and res.checkpoint["sha256"]

    # lift the exported 2D again, without a detector: same 3D, as JSON and as a 3D-only video
    again = tmp_path / "again.json"
    result = runner.invoke(app, ["lift", str(data), "-o", str(again), "-c", str(ckpt), "-q"])
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(load_results(again).keypoints3d, res.keypoints3d, atol=2e-4, equal_nan=True)
    movie = tmp_path / "lifted.mp4"
    result = runner.invoke(app, ["lift", str(data), "-o", str(movie), "-c", str(ckpt), "-q"])
    assert result.exit_code == 0, result.output
    assert probe(movie).frame_count == 100


def test_video_without_people_still_writes_the_video(ckpt: Path, tmp_path: Path) -> None:
    blank = tmp_path / "blank.mp4"
    with VideoWriter(blank, 10, (160, 120)) as w:
        for _ in range(6):
            w.write(np.full((120, 160, 3), 200, np.uint8))
    out = tmp_path / "out.mp4"
    result = runner.invoke(app, ["video", str(blank), "-o", str(out), "-c", str(ckpt), "-q"])
    assert result.exit_code == 0, result.output
    assert "no person found" in result.output and probe(out).frame_count == 6


def test_bad_inputs_give_one_line_errors_and_leave_no_file(ckpt: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    out = tmp_path / "o.mp4"
    _error(runner.invoke(app, ["video", str(tmp_path / "missing.mp4"), "-o", str(out), "-c", str(ckpt)]), "missing.mp4")
    _error(runner.invoke(app, ["video", str(empty), "-o", str(out), "-c", str(ckpt)]), "empty.mp4")
    _error(runner.invoke(app, ["video", str(text), "-o", str(out), "-c", str(ckpt)]), "notes.mp4")
    _error(runner.invoke(app, ["video", str(CLIP), "-o", str(CLIP), "-c", str(ckpt)]), "overwrite the input")
    _error(runner.invoke(app, ["video", str(CLIP), "-o", str(text / "dir" / "o.mp4"), "-c", str(ckpt)]),
           "is not a folder")  # a missing folder is created; one under a regular file cannot be
    _error(runner.invoke(app, ["video", str(CLIP), "-c", str(ckpt)]), "nothing to write")
    _error(runner.invoke(app, ["video", str(CLIP), "-o", str(out), "--view", "top", "-c", str(ckpt)]), "--view")
    _error(runner.invoke(app, ["video", str(CLIP), "-o", str(tmp_path / "o.avi"), "-c", str(ckpt)]), ".mp4")
    _error(runner.invoke(app, ["video", str(CLIP), "-o", str(out), "-c", str(text)]), "notes.mp4")
    _error(runner.invoke(app, ["lift", str(text), "-o", str(tmp_path / "x.npz"), "-c", str(ckpt)]), "notes.mp4")
    _error(runner.invoke(app, ["lift", str(CLIP), "-o", str(tmp_path / "x.npz"), "--image-size", "big"]), "--image-size")
    assert not out.exists() and not (tmp_path / "x.npz").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.mp4", "notes.mp4"]  # no partial files


def test_lifting_uses_two_threads_only_when_openmp_waits_are_passive(monkeypatch) -> None:
    import subprocess

    from pipeline.video import LIFT_THREADS, lift_threads

    monkeypatch.setenv("OMP_WAIT_POLICY", "passive")
    assert lift_threads() == LIFT_THREADS == 2
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert lift_threads() == 1
    monkeypatch.delenv("OMP_WAIT_POLICY")
    assert lift_threads() == 1
    # importing pipeline before torch makes the waits passive, unless the user chose otherwise
    code = "import os, pipeline, torch; print(os.environ.get('OMP_WAIT_POLICY'))"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "PASSIVE"
    out = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "ACTIVE"},
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ACTIVE"
    code = "import os, torch, pipeline; print(os.environ.get('OMP_WAIT_POLICY'))"  # too late to matter: left alone
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "None"

@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator settings")
def test_importing_pipeline_keeps_large_freed_blocks_for_reuse() -> None:
    """A 48 MB block made and freed 20 times: with glibc's defaults (over its 32 MB ceiling) each
    one is a fresh mapping whose pages fault in again; after `import pipeline` the freed block is
    reused. Measured in fresh interpreters, the second one with the user's own tuning in place."""
    import subprocess

    code = ("import resource, numpy as np, pipeline\n"
            "a = np.ones(48 << 20, np.uint8); del a\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
            "for _ in range(20):\n    a = np.ones(48 << 20, np.uint8); del a\n"
            "print(pipeline.ALLOCATOR_TUNED, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)")
    env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_",
                                                           "MALLOC_TRIM_THRESHOLD_")}
    runs = {}
    for name, extra in (("tuned", {}), ("user's own", {"GLIBC_TUNABLES": ""})):
        out = subprocess.run([sys.executable, "-c", code], env={**env, **extra}, capture_output=True, text=True,
                             timeout=120)
        flag, faults = out.stdout.split()
        runs[name] = (flag, int(faults))
    pages = 20 * (48 << 20) // 4096
    assert runs["tuned"][0] == "True" and runs["tuned"][1] < pages // 20, runs
    # left alone: every block faults in again (fewer faults where the kernel maps 2 MB pages)
    assert runs["user's own"][0] == "False" and runs["user's own"][1] > 10 * runs["tuned"][1] + 200, runs


def test_loading_pauses_the_garbage_collector_and_restores_it(ckpt: Path, monkeypatch) -> None:
    import gc

    from pipeline.video import _load_for_lifting, gc_paused

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("a failed load")
    assert gc.isenabled()
    gc.disable()  # a caller that turned it off keeps it off
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
    # the network's load runs with the collector paused
    seen = []
    real = video_mod.load_model
    monkeypatch.setattr(video_mod, "load_model", lambda *a: (seen.append(gc.isenabled()), real(*a))[1])
    _load_for_lifting(ckpt, "cpu")
    assert seen == [False] and gc.isenabled()



# ------------------------------------------------------------------ the 2D pass in its own process

def _pass_args(clip: Path) -> tuple:
    return (clip, "mediapipe", {"max_people": None}, {"max_people": None, "min_track_length": 3}, None, False)


needs_fork = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the 2D pass runs in a forked process only on Linux")


FRESH_PASS = """
import json, os, sys
from pathlib import Path
import numpy as np
import pipeline.video as v
from posemoe.errors import PoseMoEError

clip, broken, ckpt, out = (Path(a) for a in sys.argv[1:5])
assert v.can_fork() and "torch" not in sys.modules and "mediapipe" not in sys.modules
job = v.process_video(clip, out, checkpoint=ckpt, progress=False, log=lambda m: None)  # the command's way
assert job.separate_2d and job.people == 1 and "mediapipe" not in sys.modules
args = lambda c: (c, "mediapipe", {"max_people": None}, {"max_people": None, "min_track_length": 3}, None, False)
with v.find_people_beside(*args(clip)) as result:
    there = result()
errors = []
for run in ("beside", "here"):  # the forked pass first: this process has not loaded MediaPipe yet
    try:
        if run == "beside":
            with v.find_people_beside(*args(broken)) as result:
                result()
        else:
            v.find_people(*args(broken))
    except PoseMoEError as exc:
        errors.append(str(exc))
here = v.find_people(*args(clip))
same = {k: bool(np.array_equal(getattr(there.tracks, k), getattr(here.tracks, k), equal_nan=True))
        for k in ("track_ids", "keypoints", "scores", "present", "interpolated", "low_confidence")}
print(json.dumps({"pids": [there.pid, here.pid, os.getpid()], "frames": [there.frames, here.frames],
                  "people": [there.tracks.num_people, here.tracks.num_people], "same": same,
                  "warnings": [there.warnings, here.warnings], "has_2d": there.stage_seconds.get("2d", 0) > 0,
                  "errors": errors}))
"""


@needs_fork
def test_the_2d_pass_in_its_own_process_finds_what_it_finds_in_this_one(ckpt: Path, tmp_path: Path) -> None:
    # a fresh interpreter: forking is for a process that has not loaded MediaPipe (this one has)
    import json
    import subprocess

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    done = subprocess.run([sys.executable, "-c", FRESH_PASS, str(CLIP), str(broken), str(ckpt), str(tmp_path / "out.mp4")], capture_output=True,
                          text=True, timeout=300, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    beside, here, me = got["pids"]
    assert beside != me and here == me  # the pass really ran in another process
    assert got["frames"] == [100, 100] and got["people"] == [1, 1] and got["has_2d"]
    assert all(got["same"].values()), got["same"]
    assert got["warnings"][0] == got["warnings"][1]
    # a bad clip: the same one-line error from the forked pass as from this one
    assert len(got["errors"]) == 2 and got["errors"][0] == got["errors"][1] and str(broken) in got["errors"][0]


@needs_fork
def test_a_bug_or_a_crash_in_the_2d_process_is_reported_not_hung(monkeypatch) -> None:
    def bug(*args, **kwargs):
        raise ValueError("a bug in the 2D pass")

    monkeypatch.setattr(video_mod, "find_people", bug)  # the forked process runs this module's copy
    with pytest.raises(ValueError, match="a bug in the 2D pass") as info:
        with video_mod.find_people_beside(*_pass_args(CLIP)) as result:
            result()
    assert any("in the 2D pass's process" in note and ", in bug" in note for note in info.value.__notes__)

    monkeypatch.setattr(video_mod, "find_people", lambda *a, **k: os._exit(3))
    with pytest.raises(PoseMoEError, match=r"ended without a result \(exit status 3\)"):
        with video_mod.find_people_beside(*_pass_args(CLIP)) as result:
            result()


@needs_fork
def test_leaving_early_ends_the_2d_process() -> None:
    with pytest.raises(RuntimeError, match="the checkpoint failed"):
        with video_mod.find_people_beside(*_pass_args(CLIP)):
            import multiprocessing

            children = multiprocessing.active_children()
            assert [p.name for p in children] == ["posemoe-2d"]
            raise RuntimeError("the checkpoint failed")  # what a bad checkpoint does meanwhile
    assert not children[0].is_alive()


@needs_fork
def test_a_2d_process_killed_by_a_signal_is_run_again_here(ckpt: Path, tmp_path: Path, monkeypatch) -> None:
    import signal

    real, parent = video_mod.find_people, os.getpid()

    def killed_when_forked(*args, **kwargs):
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)

    monkeypatch.setattr(video_mod, "find_people", killed_when_forked)
    logs: list[str] = []
    job = video_mod.process_video(CLIP, tmp_path / "out.mp4", checkpoint=ckpt, progress=False, log=logs.append,
                                  separate_2d=True)
    assert job.frames == 100 and job.people == 1 and probe(tmp_path / "out.mp4").frame_count == 100
    assert any(f"stopped (signal {int(signal.SIGKILL)}); running it in this one" in m for m in logs), logs


ORPHAN = """
import multiprocessing, os, signal, sys
from pathlib import Path
import pipeline.video as v

args = (Path(sys.argv[1]), "mediapipe", {"max_people": None}, {"max_people": None, "min_track_length": 3}, None, False)
with v.find_people_beside(*args):
    print(multiprocessing.active_children()[0].pid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # this process dies without a word to the 2D pass's
"""


@needs_fork
def test_the_2d_process_ends_when_the_main_process_is_killed(tmp_path: Path) -> None:
    import subprocess
    import time

    def running(pid: int) -> bool:  # a zombie waiting for a parent to read its status has ended
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return False

    out = tmp_path / "out.txt"
    with open(out, "w") as f:  # a file, not a pipe: the forked process must not keep `run` waiting
        done = subprocess.run([sys.executable, "-c", ORPHAN, str(CLIP)], stdout=f, stderr=subprocess.STDOUT,
                              timeout=120, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == -9, out.read_text()
    child = int(out.read_text().split()[0])
    deadline = time.monotonic() + 1.5  # the pass itself would run on for 2-3 s
    while running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    if running(child):
        os.kill(child, 9)
        raise AssertionError("the 2D pass's process outlived the main process")


@needs_fork
def test_where_no_process_can_start_the_pass_runs_here(monkeypatch) -> None:
    import multiprocessing

    real = multiprocessing.get_context

    class NoSemaphores:  # what a system without working POSIX semaphores does
        def __init__(self, ctx) -> None:
            self.ctx = ctx

        def Pipe(self, duplex: bool = True):  # noqa: N802 - multiprocessing's name
            return self.ctx.Pipe(duplex)

        def Event(self):  # noqa: N802
            raise OSError(38, "Function not implemented")

    monkeypatch.setattr(multiprocessing, "get_context", lambda method=None: NoSemaphores(real(method)))
    with video_mod.find_people_beside(*_pass_args(CLIP)) as result:
        people = result()
    assert people.pid == os.getpid() and people.frames == 100 and people.tracks.num_people == 1


# ------------------------------------------------------------------ lifting early, beside the 2D pass

def test_the_parts_sent_during_the_2d_pass_add_up_to_the_tracks_so_far(ckpt: Path) -> None:
    from pipeline.pose2d.base import Detection
    from pipeline.track import Tracker
    from posemoe.checkpoint import load_checkpoint

    rng = np.random.default_rng(0)
    tracker = Tracker(min_track_length=3)
    parts: list[dict] = []
    sender = video_mod.PartSender(tracker, parts.append, video_mod.StageTimer())
    base = [rng.uniform(100, 300, size=(17, 2)), rng.uniform(600, 800, size=(17, 2))]
    for f in range(128):
        people = [0] if 60 <= f < 66 else [0, 1]  # a short gap: filled in once the person is back
        if f >= 120:
            people = [1]
        dets = [Detection(base[p] + f + rng.normal(0, 1, size=(17, 2)), np.full(17, 0.9)) for p in people]
        tracker.update(f, dets)
        sender(f + 1)
    assert [p["frames"] for p in parts] == [32, 64, 96, 128]
    model = load_checkpoint(ckpt)[0].eval()
    early = video_mod.EarlyLifter(model, (1000, 600), None, None, video_mod.StageTimer())
    for part in parts:
        early.merge(part)
    want = tracker.finalize(128)
    rows = [early.rows[int(t)] for t in want.track_ids]
    np.testing.assert_array_equal(early.keypoints[rows, :128], want.keypoints)
    np.testing.assert_array_equal(early.present[rows, :128], want.present)
    np.testing.assert_array_equal(early.scores[rows, :128], want.scores)
    early.lift()
    assert len(early.cache) > 0 and early.lifted_to == 128 - video_mod.GROWING_FRAMES


EARLY = """
import json, sys
from pathlib import Path
import numpy as np
import pipeline.video as v
from pipeline.export import load_results

clip, ckpt, tmp = (Path(a) for a in sys.argv[1:4])
jobs = {}
for beside in (True, False):  # the forked pass first: this process has not loaded MediaPipe yet
    jobs[beside] = v.process_video(clip, None, save=tmp / f"{beside}.npz", checkpoint=ckpt, progress=False,
                                   log=lambda m: None, separate_2d=None if beside else False)
a, b = load_results(tmp / "True.npz"), load_results(tmp / "False.npz")
print(json.dumps({"separate": [jobs[True].separate_2d, jobs[False].separate_2d],
                  "early_s": [jobs[k].stage_seconds.get("3d early") for k in (True, False)],
                  "same_2d": bool(np.array_equal(a.keypoints2d, b.keypoints2d, equal_nan=True)),
                  "diff_3d": float(np.nanmax(np.abs(a.keypoints3d - b.keypoints3d))),
                  "nan_same": bool((np.isnan(a.keypoints3d) == np.isnan(b.keypoints3d)).all())}))
"""


@needs_fork
def test_lifting_beside_the_2d_pass_gives_the_same_3d_as_lifting_after_it(ckpt: Path, tmp_path: Path) -> None:
    # a fresh interpreter, as for the test above: MediaPipe must not be loaded before the fork
    import json
    import subprocess

    done = subprocess.run([sys.executable, "-c", EARLY, str(CLIP), str(ckpt), str(tmp_path)], capture_output=True,
                          text=True, timeout=300, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["separate"] == [True, False]
    assert got["early_s"][0] > 0 and got["early_s"][1] is None  # windows were lifted during the 2D pass
    assert got["same_2d"] and got["nan_same"] and got["diff_3d"] < 1e-5, got


def test_lifting_early_that_fails_stops_without_failing_the_job(ckpt: Path, monkeypatch) -> None:
    import pipeline.lift
    from posemoe.checkpoint import load_checkpoint

    def out_of_memory(*args, **kwargs):
        raise MemoryError("no room beside the 2D pass")

    monkeypatch.setattr(pipeline.lift, "prelift", out_of_memory)
    early = video_mod.EarlyLifter(load_checkpoint(ckpt)[0].eval(), (640, 480), None, None, video_mod.StageTimer())
    part = {"frames": 64, "start": 0, "track_ids": np.array([0]), "keypoints": np.full((1, 64, 17, 2), 100.0),
            "scores": np.ones((1, 64, 17)), "present": np.ones((1, 64), bool)}
    early.add([part])
    assert early.failed is not None and "no room" in early.failed and len(early.cache) == 0
    early.add([dict(part, frames=96, start=48)])  # later parts are ignored
    assert early.frames == 64
