"""Bad input to `posemoe video` and `posemoe lift`, tried the way a user would.

Each case is a command line run in a folder of small generated inputs. Where the job cannot be
done: exit status 2, one `error: <what>: <problem>; <fix>` line on stderr holding the key words,
no traceback, nothing under the output names (and an output file that already existed is left
byte for byte as it was). Where it can (a truncated clip, nobody in the video, a missing output
folder): exit 0 and the outputs are written, with the run saying what happened.

By default the cases run in-process through typer's CliRunner (fast) and those marked `sub`
also as a real subprocess; `POSEMOE_BAD_INPUTS_SUBPROCESS=1` runs every case as a subprocess.
`python tests/test_bad_inputs.py --write-table docs/bad_inputs.md` runs every case as a
subprocess and writes the table of commands, exit statuses and messages.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "examples" / "synthetic_walk.mp4"
POSEMOE = [sys.executable, "-m", "pipeline.cli"]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
ALL_SUBPROCESS = os.environ.get("POSEMOE_BAD_INPUTS_SUBPROCESS") == "1"


def build_inputs(d: Path) -> Path:
    """Write every input the cases use into `d`/in (a 12-frame clip, damaged copies, checkpoints,
    keypoint files); returns `d`. Takes about a second."""
    import av
    import cv2
    import torch

    from pipeline.export import Results, save_results
    from pipeline.video_io import VideoReader, VideoWriter
    from posemoe import PoseMoE, PoseMoEConfig
    from posemoe.checkpoint import make_checkpoint, save_checkpoint

    src = d / "in"
    src.mkdir(parents=True)
    rng = np.random.default_rng(0)
    with VideoReader(CLIP) as reader, VideoWriter(src / "clip.mp4", 25, (480, 270)) as writer:
        for i, frame in reader:
            if i >= 12:
                break
            writer.write(cv2.resize(frame, (480, 270)))
    data = (src / "clip.mp4").read_bytes()
    (src / "truncated.mp4").write_bytes(data[: int(len(data) * 0.6)])  # index first: decodes up to the cut
    (src / "header_only.mp4").write_bytes(data[:1500])  # the index survives, no frame does
    with VideoWriter(src / "nobody.mp4", 10, (96, 64)) as writer:  # noise: no person anywhere
        for _ in range(5):
            writer.write(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8))
    container = av.open(str(src / "zero_frames.mp4"), "w")  # a stream, headers, no frame
    stream = container.add_stream("libx264", rate=25)
    stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
    if hasattr(container, "start_encoding"):
        container.start_encoding()  # write the headers although no frame comes
    for packet in stream.encode(None):
        container.mux(packet)
    container.close()
    (src / "notes.mp4").write_text("this is a text file, not a video\n")
    (src / "empty.mp4").write_bytes(b"")
    (src / "folder.mp4").mkdir()
    (src / "locked.mp4").write_bytes(data)
    os.chmod(src / "locked.mp4", 0)
    os.symlink("clip.mp4", src / "link.mp4")
    (src / "readonly").mkdir()
    os.chmod(src / "readonly", 0o555)

    torch.manual_seed(0)

    def checkpoint(name: str, **overrides) -> None:
        cfg = {**dict(frames=9, dim=32, heads=4, encoder_layers=1, decoder_layers=1, in_channels=3), **overrides}
        save_checkpoint(make_checkpoint(PoseMoE(PoseMoEConfig(**cfg))), src / name)

    checkpoint("tiny.pt")
    checkpoint("joints16.pt", num_joints=16)
    checkpoint("window243.pt", frames=243)
    unknown_norm = make_checkpoint(PoseMoE(PoseMoEConfig(frames=9, dim=32, heads=4, encoder_layers=1, decoder_layers=1)))
    unknown_norm["config"]["input_norm"] = "hip-width"  # written by a newer posemoe, say
    save_checkpoint(unknown_norm, src / "norm_unknown.pt")
    (src / "random.pt").write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (src / "notes.pt").write_text("weights go here\n")
    good = (src / "tiny.pt").read_bytes()
    (src / "truncated.pt").write_bytes(good[: len(good) // 2])
    torch.save({"state_dict": {}}, src / "foreign.pt")

    p, f = 1, 10
    results = Results(frame_index=np.arange(f), time_s=np.arange(f) / 25, fps=25.0, image_size=(480, 270),
                      track_ids=np.arange(p), keypoints2d=rng.uniform(100, 300, (p, f, 17, 2)),
                      scores2d=np.full((p, f, 17), 0.9), keypoints3d=np.zeros((p, f, 17, 3)))
    save_results(src / "kp.npz", results)
    lifted = Results(**{**{k: getattr(results, k) for k in ("frame_index", "time_s", "fps", "image_size", "track_ids",
                                                                "keypoints2d", "scores2d")},
                        "keypoints3d": rng.normal(0, 0.3, (p, f, 17, 3))})
    save_results(src / "lifted.npz", lifted)
    save_results(src / "no3d.npz", Results(**{**{k: getattr(lifted, k) for k in ("frame_index", "time_s", "fps",
                                                                                   "image_size", "track_ids",
                                                                                   "keypoints2d", "scores2d")},
                                              "keypoints3d": np.full((p, f, 17, 3), np.nan)}))
    save_results(src / "kp.json", results)
    doc = json.loads((src / "kp.json").read_text())

    def dump(name: str, value) -> None:
        (src / name).write_text(json.dumps(value))

    dump("kp_no_people_axis.json", {**doc, "keypoints2d": np.zeros((f, 17, 2)).tolist()})
    for j in (33, 16):
        dump(f"kp_{j}joints.json", {**doc, "keypoints2d": np.zeros((p, f, j, 2)).tolist(),
                                    "scores2d": np.zeros((p, f, j)).tolist()})
    dump("kp_all_nan.json", {**doc, "keypoints2d": [[[[None, None]] * 17] * f] * p})
    dump("kp_no_keypoints2d.json", {k: v for k, v in doc.items() if k != "keypoints2d"})
    np.savez(src / "kp_plain.npz", keypoints=np.zeros((f, 17, 2)))
    np.save(src / "kp_array.npy", np.zeros((f, 17, 2)))
    dump("mmpose_wholebody.json", [{"frame_id": 0, "instances": [{"keypoints": [[1, 2]] * 133,
                                                                  "keypoint_scores": [1] * 133}]}])
    dump("mmpose_dict.json", {"predictions": [[{"keypoints": [[1, 2]] * 17}]]})
    dump("mmpose_nested.json", [[{"keypoints": [[1, 2]] * 17, "keypoint_scores": [1] * 17}]])
    (src / "cut.json").write_text('{"meta": {"format": ')
    (src / "notes.npz").write_text("not an archive")
    (src / "existing.mp4").write_bytes(b"an earlier video, to be kept")
    (src / "existing.npz").write_bytes(b"earlier results, to be kept")
    return d


@dataclass
class Case:
    """One command line: `argv` after `posemoe`, relative to the inputs folder."""

    id: str
    what: str  # the input case, for the table
    argv: str
    code: int = 2
    words: tuple[str, ...] = ()  # in the error line (code 2) or in stderr (code 0)
    made: tuple[str, ...] = ()  # files that must exist afterwards (code 0)
    keep: tuple[str, ...] = ()  # files that existed before and must be unchanged
    sub: bool = False  # also run as a real subprocess in the default test run
    skip: str = ""  # reason to skip here, decided at import time
    check: str = ""  # extra check by name (see test_case)


def _no_cuda() -> str:
    try:
        import torch
    except ImportError:
        return "torch missing"
    return "CUDA is available on this machine" if torch.cuda.is_available() else ""


CK = "-c in/tiny.pt"
CASES = [
    # --- the input video
    Case("video_missing", "video file missing", f"video in/missing.mp4 -o out/o.mp4 {CK}", words=("missing.mp4", "no such file"), sub=True),
    Case("video_folder", "a folder instead of a video", f"video in/folder.mp4 -o out/o.mp4 {CK}", words=("folder.mp4", "is a folder")),
    Case("video_unreadable", "video not readable (chmod 000)", f"video in/locked.mp4 -o out/o.mp4 {CK}",
         words=("locked.mp4", "permission denied"), skip="root reads any file" if IS_ROOT else ""),
    Case("video_text", "a text file named .mp4", f"video in/notes.mp4 -o out/o.mp4 {CK}", words=("notes.mp4", "not a readable video"), sub=True),
    Case("video_empty", "zero-byte video", f"video in/empty.mp4 -o out/o.mp4 {CK}", words=("empty.mp4", "empty file")),
    Case("video_zero_frames", "a video with headers but zero frames", f"video in/zero_frames.mp4 -o out/o.mp4 {CK}",
         words=("zero_frames.mp4", "not a readable video")),
    Case("video_no_frame_decodes", "truncated MP4, no frame left (first 1500 bytes)", f"video in/header_only.mp4 -o out/o.mp4 {CK} -q",
         words=("header_only.mp4", "no decodable frames")),
    Case("video_truncated", "truncated MP4 (first 60 % of the bytes)", f"video in/truncated.mp4 -o out/o.mp4 --save out/o.npz {CK} -q",
         code=0, words=("damaged or truncated",), made=("out/o.mp4", "out/o.npz"), check="truncated"),
    Case("video_nobody", "a video with no person in any frame", f"video in/nobody.mp4 -o out/o.mp4 --save out/o.npz {CK} -q",
         code=0, words=("no person found",), made=("out/o.mp4", "out/o.npz"), check="nobody", sub=True),
    # --- the output paths
    Case("out_folder_missing", "output folder does not exist (it is created)", f"video in/nobody.mp4 -o out/new/sub/o.mp4 {CK} -q",
         code=0, made=("out/new/sub/o.mp4",)),
    Case("out_folder_readonly", "output folder not writable (chmod 555)", f"video in/clip.mp4 -o in/readonly/o.mp4 {CK}",
         words=("readonly", "not writable"), skip="root writes anywhere" if IS_ROOT else ""),
    Case("out_under_a_file", "output folder is a regular file", f"video in/clip.mp4 -o in/notes.mp4/o.mp4 {CK}",
         words=("notes.mp4", "is not a folder")),
    Case("out_under_a_file_deep", "output folder below a regular file", f"video in/clip.mp4 -o in/notes.mp4/a/b/o.mp4 {CK}",
         words=("notes.mp4", "is not a folder")),
    Case("out_is_input", "-o equal to the input", f"video in/clip.mp4 -o in/clip.mp4 {CK}", words=("overwrite the input",), keep=("in/clip.mp4",), sub=True),
    Case("out_is_input_spelling", "-o equal to the input, spelt differently", f"video in/clip.mp4 -o ./in/../in/clip.mp4 {CK}",
         words=("overwrite the input",), keep=("in/clip.mp4",)),
    Case("out_is_input_symlink", "-o a symlink to the input", f"video in/clip.mp4 -o in/link.mp4 {CK}",
         words=("overwrite the input",), keep=("in/clip.mp4",)),
    Case("out_is_input_via_symlink", "input is a symlink, -o its target", f"video in/link.mp4 -o in/clip.mp4 {CK}",
         words=("overwrite the input",), keep=("in/clip.mp4",)),
    Case("out_is_folder", "-o an existing folder", f"video in/clip.mp4 -o in/folder.mp4 {CK}", words=("folder.mp4", "is a folder")),
    Case("out_ext", "unsupported output extension", f"video in/clip.mp4 -o out/o.avi {CK}", words=("o.avi", ".mp4")),
    Case("save_ext", "--save with an unsupported extension", f"video in/clip.mp4 -o out/o.mp4 --save out/o.fbx {CK}",
         words=("o.fbx", "unknown output format", ".bvh")),
    Case("save_twice", "the same --save twice", f"video in/clip.mp4 --save out/o.bvh --save out/o.bvh {CK}", words=("given twice",)),
    Case("smooth_unknown", "--smooth wobble", f"video in/clip.mp4 -o out/o.mp4 {CK} --smooth wobble", words=("--smooth", "unknown filter", "gaussian")),
    Case("place_unknown", "--place floor", f"video in/clip.mp4 -o out/o.mp4 {CK} --place floor", words=("--place", "image or world")),
    Case("bones_unknown", "--bones rigid", f"video in/clip.mp4 -o out/o.mp4 {CK} --bones rigid", words=("--bones", "median")),
    Case("smooth_negative", "--smooth gaussian:-1", f"video in/clip.mp4 -o out/o.mp4 {CK} --smooth gaussian:-1", words=("--smooth",)),
    Case("nothing_to_write", "neither -o nor --save", f"video in/clip.mp4 {CK}", words=("nothing to write",)),
    Case("existing_output_kept", "outputs exist, job fails midway (no frame decodes)",
         f"video in/header_only.mp4 -o in/existing.mp4 --save in/existing.npz {CK} -q",
         words=("no decodable frames",), keep=("in/existing.mp4", "in/existing.npz")),
    # --- options
    Case("x264_preset_unknown", "--x264-preset quick", f"video in/clip.mp4 -o out/o.mp4 {CK} --x264-preset quick",
         words=("--x264-preset", "ultrafast")),
    Case("max_people_0", "--max-people 0", f"video in/clip.mp4 -o out/o.mp4 {CK} --max-people 0", words=("--max-people", ">= 1")),
    Case("max_people_negative", "--max-people -3", f"video in/clip.mp4 -o out/o.mp4 {CK} --max-people -3", words=("--max-people", ">= 1")),
    Case("focal_negative", "--focal -5", f"video in/clip.mp4 -o out/o.mp4 {CK} --focal -5", words=("--focal", "positive")),
    Case("fov_too_wide", "--fov 200", f"video in/clip.mp4 -o out/o.mp4 {CK} --fov 200", words=("--fov", "between 1 and 179")),
    Case("focal_and_fov", "--focal and --fov together", f"video in/clip.mp4 -o out/o.mp4 {CK} --focal 1400 --fov 60",
         words=("--focal and --fov", "one of them")),
    Case("device_cuda", "--device cuda without CUDA", f"video in/clip.mp4 -o out/o.mp4 {CK} --device cuda",
         words=("--device cuda", "not available", "--device cpu"), skip=_no_cuda(), sub=True),
    Case("device_unknown", "--device tpu", f"video in/clip.mp4 -o out/o.mp4 {CK} --device tpu", words=("--device", "cpu")),
    Case("pose2d_unknown", "--pose2d openpose", f"video in/clip.mp4 -o out/o.mp4 {CK} --pose2d openpose", words=("--pose2d", "mediapipe")),
    Case("view_unknown", "--view top", f"video in/clip.mp4 -o out/o.mp4 {CK} --view top", words=("--view",)),
    # --- checkpoints
    Case("ckpt_missing", "checkpoint missing", "video in/clip.mp4 -o out/o.mp4 -c in/nope.pt", words=("nope.pt", "not found")),
    Case("ckpt_folder", "checkpoint is a folder", "video in/clip.mp4 -o out/o.mp4 -c in", words=("is a folder",)),
    Case("ckpt_random", "checkpoint of random bytes", "video in/clip.mp4 -o out/o.mp4 -c in/random.pt", words=("random.pt", "not a readable PyTorch checkpoint")),
    Case("ckpt_text", "checkpoint is a text file", "video in/clip.mp4 -o out/o.mp4 -c in/notes.pt", words=("notes.pt", "not a readable PyTorch checkpoint")),
    Case("ckpt_truncated", "truncated checkpoint (first half)", "video in/clip.mp4 -o out/o.mp4 -c in/truncated.pt", words=("truncated.pt", "not a readable")),
    Case("ckpt_foreign", "a PyTorch file that is not a posemoe checkpoint", "video in/clip.mp4 -o out/o.mp4 -c in/foreign.pt",
         words=("foreign.pt", "expected a posemoe checkpoint")),
    Case("ckpt_16_joints", "checkpoint for 16 joints", "video in/clip.mp4 -o out/o.mp4 -c in/joints16.pt", words=("joints16.pt", "num_joints=16"), sub=True),
    Case("ckpt_unknown_norm", "checkpoint with an input normalisation this version does not know",
         "video in/clip.mp4 -o out/o.mp4 -c in/norm_unknown.pt", words=("norm_unknown.pt", "screen, body", "'hip-width'")),
    Case("ckpt_none", "no -c and no shipped default weights", "video in/clip.mp4 -o out/o.mp4", words=("--checkpoint",),
         skip="shipped weights present" if (ROOT / "weights" / "posemoe-default.pt").is_file() else ""),
    # --- posemoe lift: keypoint files
    Case("kp_missing", "keypoint file missing", f"lift in/nope.npz -o out/l.npz {CK}", words=("nope.npz", "not found")),
    Case("kp_folder", "keypoint path is a folder", f"lift in/folder.mp4 -o out/l.npz {CK}", words=("folder.mp4", "not a file")),
    Case("kp_unreadable", "keypoint file not readable (chmod 000)", f"lift in/locked.mp4 -o out/l.npz {CK}",
         words=("locked.mp4", "permission denied"), skip="root reads any file" if IS_ROOT else ""),
    Case("kp_wrong_shape", "keypoints2d without the people axis (F, 17, 2)", f"lift in/kp_no_people_axis.json -o out/l.npz {CK}",
         words=("keypoints2d", "(10, 17, 2)")),
    Case("kp_33_joints", "33 joints (BlazePose layout)", f"lift in/kp_33joints.json -o out/l.npz {CK}", words=("33 joints", "coco17_to_h36m17"), sub=True),
    Case("kp_16_joints", "16 joints", f"lift in/kp_16joints.json -o out/l.npz {CK}", words=("16 joints",)),
    Case("kp_all_nan", "every keypoint NaN (nobody)", f"lift in/kp_all_nan.json -o out/l.npz {CK} -q", code=0,
         words=("no person",), made=("out/l.npz",), check="nobody_lift"),
    Case("kp_missing_field", "keypoints2d field missing", f"lift in/kp_no_keypoints2d.json -o out/l.npz {CK}", words=("missing field 'keypoints2d'",)),
    Case("kp_plain_npz", "an .npz of one bare array", f"lift in/kp_plain.npz -o out/l.npz {CK}", words=("kp_plain.npz", "'joints'")),
    Case("kp_npy", "a .npy array", f"lift in/kp_array.npy -o out/l.npz {CK}", words=(".npz or .json",)),
    Case("kp_mmpose_wholebody", "mmpose JSON with 133 keypoints", f"lift in/mmpose_wholebody.json -o out/l.npz {CK}", words=("COCO-17", "(133, 2)")),
    Case("kp_mmpose_dict", "mmpose-like JSON object of another layout", f"lift in/mmpose_dict.json -o out/l.npz {CK}", words=("mmpose_dict.json", "'meta' or 'joints'")),
    Case("kp_mmpose_nested", "mmpose JSON, list of lists", f"lift in/mmpose_nested.json -o out/l.npz {CK} --image-size 640x480",
         words=("mmpose predictions",)),
    Case("kp_not_json", "a JSON file cut short", f"lift in/cut.json -o out/l.npz {CK}", words=("cut.json", "not valid JSON")),
    Case("kp_not_npz", "a text file named .npz", f"lift in/notes.npz -o out/l.npz {CK}", words=("notes.npz", "not a .npz")),
    Case("lift_out_is_input", "lift -o equal to the input", f"lift in/kp.npz -o ./in/kp.npz {CK}", words=("overwrite the input",), keep=("in/kp.npz",)),
    Case("lift_out_ext", "lift to an unsupported extension", f"lift in/kp.npz -o out/l.csv {CK}", words=("l.csv", ".npz or .json or .mp4")),
    Case("lift_out_folder_missing", "lift into a folder that does not exist (created)", f"lift in/kp.npz -o out/x/y/l.json {CK} -q",
         code=0, made=("out/x/y/l.json",)),
    Case("lift_ckpt_16_joints", "lift with a 16-joint checkpoint (even with nobody to lift)",
         "lift in/kp_all_nan.json -o in/existing.npz -c in/joints16.pt", words=("num_joints=16",), keep=("in/existing.npz",)),
    Case("lift_ckpt_window", "checkpoint with another window (243 frames): accepted", "lift in/kp.npz -o out/l.npz -c in/window243.pt -q",
         code=0, made=("out/l.npz",)),
    Case("lift_video_size", "--video of another size than the keypoints", f"lift in/kp.npz -o out/l.mp4 {CK} --video in/nobody.mp4",
         words=("nobody.mp4", "96x64", "480x270")),
    Case("lift_video_broken", "--video a text file", f"lift in/kp.npz -o out/l.mp4 {CK} --video in/notes.mp4", words=("notes.mp4", "not a readable video")),
    Case("lift_existing_kept", "existing .mp4 output, job fails while rendering", f"lift in/kp.npz -o in/existing.mp4 {CK} --video in/header_only.mp4 -q",
         words=("no decodable frames",), keep=("in/existing.mp4",)),
    Case("lift_fps", "--fps -5", f"lift in/kp.npz -o out/l.npz {CK} --fps -5", words=("--fps", "positive")),
    Case("lift_image_size", "--image-size big", f"lift in/kp.npz -o out/l.npz {CK} --image-size big", words=("--image-size",)),
    # --- posemoe convert: results -> motion files
    Case("convert_ok", "results (version 1 fields only) to BVH, TRC and CSV", "convert in/lifted.npz -o out/m.bvh -o out/m.trc -o out/m.csv",
         code=0, made=("out/m.bvh", "out/m.trc", "out/m.csv")),
    Case("convert_ext", "convert to an unknown format", "convert in/lifted.npz -o out/m.bvh -o out/m.fbx", words=("m.fbx", "unknown output format", ".trc")),
    Case("convert_no_3d", "convert results without 3D poses", "convert in/no3d.npz -o out/m.bvh", words=("no3d.npz", "no 3D pose", "posemoe lift")),
    Case("convert_track", "--track that does not exist", "convert in/lifted.npz -o out/m.bvh --track 7", words=("--track 7", "no such track", "its tracks are 0")),
    Case("convert_readonly", "convert into a folder that is not writable", "convert in/lifted.npz -o in/readonly/m.bvh",
         words=("m.bvh", "writ"), skip="root writes anywhere" if IS_ROOT else ""),
    Case("convert_under_a_file", "convert into a path below a regular file", "convert in/lifted.npz -o in/notes.mp4/m.bvh", words=("not a folder",)),
    Case("convert_not_results", "convert a file that is not results", "convert in/notes.npz -o out/m.bvh", words=("notes.npz", "not a readable .npz")),
]


# ------------------------------------------------------------------------------------------ running


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    traceback: bool
    listing: dict[str, bytes] = field(default_factory=dict)


def run_subprocess(argv: str, cwd: Path) -> Outcome:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), "COLUMNS": "200"}
    proc = subprocess.run(POSEMOE + shlex.split(argv), cwd=cwd, capture_output=True, text=True, env=env, timeout=300)
    return Outcome(proc.returncode, proc.stdout, proc.stderr, "Traceback" in proc.stderr + proc.stdout)


def run_in_process(argv: str, cwd: Path) -> Outcome:
    from typer.testing import CliRunner

    from pipeline.cli import app

    old = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, shlex.split(argv))
    finally:
        os.chdir(old)
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    try:
        stderr = result.stderr
    except ValueError:  # older click: stderr mixed into output
        stderr = result.output
    return Outcome(result.exit_code, result.stdout, stderr, crashed or "Traceback" in result.output)


def _snapshot(folder: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink() and os.access(p, os.R_OK):
            out[str(p.relative_to(folder))] = p.read_bytes()
    return out


def run_case(case: Case, base: Path, subprocess_: bool) -> Outcome:
    """Run `case` in a fresh copy-free workspace: `base`/in (shared, read-only use) plus its own out/."""
    work = base / f"w_{case.id}_{'sub' if subprocess_ else 'cli'}"
    work.mkdir()
    os.symlink(base / "in", work / "in") if not case.keep else _copy_inputs(base / "in", work / "in")
    (work / "out").mkdir()
    before = {k: (work / k).read_bytes() for k in case.keep}
    outcome = (run_subprocess if subprocess_ else run_in_process)(case.argv, work)
    outcome.listing = {k: (work / k).read_bytes() if (work / k).is_file() else b"<gone>" for k in case.keep}
    outcome.listing["__before__"] = json.dumps({k: v.hex() for k, v in before.items()}).encode()
    outcome.listing["__out__"] = json.dumps(sorted(_snapshot(work / "out"))).encode()
    return outcome


def _copy_inputs(src: Path, dst: Path) -> None:
    import shutil

    shutil.copytree(src, dst, symlinks=True, ignore=lambda d, names: [n for n in names if n in ("locked.mp4", "readonly")])


def error_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith("error: ")]


# -------------------------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    pytest.importorskip("mediapipe")
    base = tmp_path_factory.mktemp("bad_inputs")
    build_inputs(base)
    yield base
    for p in (base / "in" / "locked.mp4", base / "in" / "readonly"):  # let pytest clean up
        os.chmod(p, 0o755)


def _modes(case: Case) -> list:
    marks = [pytest.mark.skip(reason=case.skip)] if case.skip else []
    modes = ["subprocess"] if ALL_SUBPROCESS else ["cli"] + (["subprocess"] if case.sub else [])
    return [pytest.param(case, mode, id=f"{case.id}-{mode}", marks=marks) for mode in modes]


@pytest.mark.parametrize("case,mode", [p for c in CASES for p in _modes(c)])
def test_case(case: Case, mode: str, inputs: Path) -> None:
    got = run_case(case, inputs, mode == "subprocess")
    work = inputs / f"w_{case.id}_{'sub' if mode == 'subprocess' else 'cli'}"
    everything = got.stdout + got.stderr
    assert not got.traceback, everything
    assert got.code == case.code, everything
    errors = error_lines(got.stderr)
    if case.code != 0:
        assert len(errors) == 1, got.stderr
        line = errors[0]
        for w in case.words:
            assert w in line, (w, line)
        assert "; " in line, f"the message names no fix: {line}"
        other = [ln for ln in got.stderr.splitlines() if ln.strip() and not ln.startswith(("error: ", "[video]", "[lift]"))]
        assert not other, got.stderr  # nothing but our own progress lines and the one error
        assert json.loads(got.listing["__out__"]) == [], "a file was left in the output folder"
    else:
        assert not errors, got.stderr
        for w in case.words:
            assert w in got.stderr, (w, got.stderr)
        for name in case.made:
            assert (work / name).is_file() and (work / name).stat().st_size > 0, name
        leftovers = [n for n in json.loads(got.listing["__out__"]) if ".part" in n]
        assert not leftovers, leftovers
    before = {k: bytes.fromhex(v) for k, v in json.loads(got.listing["__before__"]).items()}
    for name in case.keep:
        assert got.listing[name] == before[name], f"{name} changed"
    _extra_check(case, work)


def _extra_check(case: Case, work: Path) -> None:
    from pipeline.export import load_results
    from pipeline.video_io import probe

    if case.check == "truncated":
        assert 0 < probe(work / "out/o.mp4").frame_count < 12
        assert load_results(work / "out/o.npz").num_frames == probe(work / "out/o.mp4").frame_count
    elif case.check == "nobody":
        assert probe(work / "out/o.mp4").frame_count == 5
        res = load_results(work / "out/o.npz")
        assert res.num_people == 0 and res.num_frames == 5 and res.keypoints3d.shape == (0, 5, 17, 3)
    elif case.check == "nobody_lift":
        res = load_results(work / "out/l.npz")
        assert res.num_people == 0 and res.num_frames == 10


# --------------------------------------------------------------------------------------- the table


def write_table(path: Path) -> None:
    """Run every case as a subprocess and write docs/bad_inputs.md."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        build_inputs(base)
        rows = []
        try:
            for case in CASES:
                if case.skip:
                    rows.append((case, None))
                    continue
                got = run_case(case, base, True)
                if got.code == 0:
                    shown = "; ".join(ln for ln in got.stderr.splitlines()
                                      if "no person" in ln or "warning" in ln) or "(success)"
                else:
                    shown = "\n".join(error_lines(got.stderr)) or got.stderr.strip()
                rows.append((case, (got.code, shown.replace(str(base), "…"), got.traceback)))
                print(f"{case.id}: {got.code}", file=sys.stderr)
        finally:
            os.chmod(base / "in" / "locked.mp4", 0o644)
            os.chmod(base / "in" / "readonly", 0o755)
    lines = [
        "# Bad input: what `posemoe video` and `posemoe lift` say",
        "",
        "Generated by `python tests/test_bad_inputs.py --write-table docs/bad_inputs.md` from a real run",
        "of each command (a subprocess, in a folder of small generated inputs: `in/clip.mp4` is 12 frames",
        "of the synthetic walker, `in/tiny.pt` a small random-weight checkpoint); do not edit by hand.",
        "`tests/test_bad_inputs.py` asserts the same things.",
        "",
        "Rules: where the job cannot be done the exit status is 2 and stderr holds one",
        "`error: <what>: <problem>; <fix>` line (progress lines `[video] ...` may come before it),",
        "never a traceback, and nothing is written under the output names: videos and results are",
        "written to a hidden temporary file next to the output and renamed only when complete, so an",
        "output that already existed is left as it was. Where the job can be done it is, with exit 0:",
        "a truncated video is processed up to its last good frame with a warning; a video (or keypoint",
        "file) with nobody in it still gives the output video, unchanged frames, and `--save` writes a",
        "valid results file with P = 0 people, and the run says nobody was found; a missing output",
        "folder is created (when its nearest existing parent is a writable folder). A checkpoint with",
        "another window length works (windows are padded or slid); one for another joint count does not.",
        "",
        "| input case | command (`posemoe ...`) | exit | message |",
        "|---|---|---|---|",
    ]
    for case, res in rows:
        cmd = f"`{case.argv}`"
        if res is None:
            lines.append(f"| {case.what} | {cmd} | – | not run here: {case.skip} |")
            continue
        code, shown, tb = res
        shown = shown.replace("|", "\\|").replace("\n", "<br>")
        lines.append(f"| {case.what} | {cmd} | {code} | `` {shown} ``{' **(traceback!)**' if tb else ''} |")
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if len(sys.argv) == 3 and sys.argv[1] == "--write-table":
        write_table(Path(sys.argv[2]))
    else:
        sys.exit("usage: python tests/test_bad_inputs.py --write-table docs/bad_inputs.md")
