"""The `posemoe` command line. Each command is a thin wrapper over a library function.

User errors (`PoseMoEError`) become one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer

from posemoe.errors import PoseMoEError
from posemoe.smoothing import DEFAULT_SMOOTHING
from posemoe.smoothing import SPEC_HELP as SMOOTH_SPECS

class _App(typer.Typer):
    """A Typer app whose commands turn a `PoseMoEError` into the one-line error, in one place:
    `error: <what>: <problem>; <fix>` on stderr, exit status 2, no traceback."""

    def command(self, *args, **kwargs):
        register = super().command(*args, **kwargs)

        def decorator(fn):
            @functools.wraps(fn)
            def run(*a, **k):
                try:
                    return fn(*a, **k)
                except PoseMoEError as e:
                    typer.echo(f"error: {e}", err=True)
                    raise typer.Exit(2) from None

            return register(run)

        return decorator


app = _App(
    name="posemoe",
    help="3D human poses from video with PoseMoE: video and batch jobs, analysis, and training and evaluation of the lifting network on Human3.6M.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Options that several commands share (video, batch, lift), declared once.
Checkpoint = Annotated[Optional[Path], typer.Option(
    "--checkpoint", "-c", help="Lifting checkpoint; default the shipped weights (weights/posemoe-default.pt).")]
Pose2D = Annotated[str, typer.Option("--pose2d", help="2D keypoint backend: auto, mediapipe, mmpose.")]
View = Annotated[str, typer.Option("--view", help="side-by-side, overlay or 3d.")]
Views3D = Annotated[str, typer.Option(
    "--views3d", help="3D view angles, one panel each: oblique, front, side; e.g. front,side.")]
ColorBy = Annotated[str, typer.Option(
    "--color-by", help="Joint colours: track, or confidence (2D detector confidence, red 0 to green 1).")]
Timecode = Annotated[bool, typer.Option("--timecode", help="Draw the frame number and time on every frame.")]
MaxPeople = Annotated[Optional[int], typer.Option(
    "--max-people", help="Keep at most this many people (the most confident tracks), >= 1.")]
Device = Annotated[Optional[str], typer.Option(
    "--device", help="Device for lifting (and the mmpose 2D backend): cpu or cuda; default cpu.")]
Smooth = Annotated[str, typer.Option(
    "--smooth", help=f"Temporal filter of the 3D: {SMOOTH_SPECS} (seconds / Hz; see docs/smoothing.md).")]
Bones = Annotated[str, typer.Option(
    "--bones", help="median: each person's bones fixed to their median length over the clip (along the lifted "
    "directions); free: as the network gives them.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
X264Preset = Annotated[Optional[str], typer.Option(
    "--x264-preset", help="Speed of the output video's H.264 encoder: ultrafast (default: least CPU) ... veryfast "
    "(3x smaller files, 3.7x the encoding CPU) ... veryslow.")]
Place = Annotated[str, typer.Option(
    "--place", help="Where the 3D panel puts people: image (side by side, from where they are in the picture) or "
    "world (where they are in the scene: their paths and depth, from the trajectory in the results).")]


H36M_ENV = "POSEMOE_H36M"  # folder holding data_3d_h36m*.npz (and optionally cameras.json)


def _default_data_3d() -> Path | None:
    folder = os.environ.get(H36M_ENV)
    if not folder:
        return None
    for name in ("data_3d_h36m.npz", "data_3d_h36m_17j.npz"):
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    return None


def _resolve_data_3d(data_3d: Optional[Path]) -> Path:
    path = data_3d or _default_data_3d()
    if path is None:
        raise PoseMoEError(f"no 3D data given: pass --data-3d PATH (a VideoPose3D-layout data_3d_h36m.npz) or set {H36M_ENV}")
    return path


def parse_overrides(items: list[str]) -> dict:
    """`["dim=128", "entangled=true"]` -> typed PoseMoEConfig overrides."""
    from dataclasses import fields

    from posemoe.model import PoseMoEConfig

    types = {f.name: f.type for f in fields(PoseMoEConfig)}
    out: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in types:
            raise PoseMoEError(f"--set {item!r}: expected FIELD=VALUE with FIELD one of {', '.join(types)}")
        kind = types[key]
        try:
            if kind in ("bool", bool):
                if value.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(value)
                out[key] = value.lower() in ("true", "1")
            else:
                out[key] = {"int": int, "float": float}.get(str(kind), str)(value)
        except ValueError:
            raise PoseMoEError(f"--set {item!r}: {value!r} is not a valid {kind}") from None
    return out


@app.command()
def info(
    preset_name: Optional[str] = typer.Option(None, "--preset", help="Show one preset only, e.g. small-81."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", "-c", help="Describe a checkpoint file instead."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Parameters and FLOPs per frame of every PoseMoE preset (and its entangled ablation)."""
    from pipeline.info import checkpoint_summary, preset_table

    if checkpoint is not None:
        summary = checkpoint_summary(checkpoint)
        typer.echo(json.dumps(summary, indent=2) if as_json else "\n".join(f"{k}: {v}" for k, v in summary.items()))
        return
    rows = preset_table(preset_name)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'preset':<11} {'variant':<10} {'frames':>6} {'params':>9} {'MFLOPs/frame':>13}")
    for r in rows:
        typer.echo(f"{r['preset']:<11} {r['variant']:<10} {r['frames']:>6} {r['params'] / 1e6:>8.2f}M "
                   f"{r['flops_per_frame'] / 1e6:>13.1f}")
    typer.echo("FLOPs count multiplies and adds separately (torch FLOP counter, batch of one, divided by frames).")


@app.command()
def train(
    data_3d: Optional[Path] = typer.Option(None, "--data-3d", help=f"VideoPose3D-layout 3D file (positions_3d). Default: ${H36M_ENV}/data_3d_h36m*.npz."),
    out: Path = typer.Option(Path("runs/posemoe"), "--out", "-o", help="Output folder (checkpoints, log.jsonl)."),
    data_2d: Optional[Path] = typer.Option(None, "--data-2d", help="Optional VideoPose3D-layout 2D file (pixels); default projects the 3D through the cameras."),
    cameras: Optional[Path] = typer.Option(None, "--cameras", help="Camera calibration JSON; default: the packaged Human3.6M calibration."),
    preset_name: str = typer.Option("small-27", "--preset", help="Model preset: tiny|small|base - 27|81|243 (see `posemoe info`)."),
    entangled: bool = typer.Option(False, "--entangled", help="Train the entangled ablation instead of PoseMoE."),
    overrides: list[str] = typer.Option([], "--set", help="Override a model config field, e.g. --set experts=4 --set dim=128 (repeatable)."),
    confidence: bool = typer.Option(False, "--confidence", help="Add a 2D confidence input channel."),
    epochs: int = typer.Option(20, min=1, help="Epochs."),
    steps_per_epoch: Optional[int] = typer.Option(None, min=1, help="Cap each epoch at this many steps (random subset of clips)."),
    batch_size: int = typer.Option(32, min=1, help="Clips per step (per process)."),
    lr: float = typer.Option(5e-4, help="Peak learning rate (AdamW, warm-up then cosine)."),
    weight_decay: float = typer.Option(0.01, help="AdamW weight decay."),
    warmup_steps: int = typer.Option(200, min=0, help="Linear warm-up steps."),
    stride: Optional[int] = typer.Option(None, min=1, help="Training clip stride; default frames // 3."),
    noise_px: float = typer.Option(0.0, min=0.0, help="Gaussian 2D noise (pixels) for augmentation."),
    joint_dropout: float = typer.Option(0.0, min=0.0, max=1.0, help="Probability of dropping a 2D joint."),
    noise_mix: bool = typer.Option(False, "--noise-mix", help="Give each clip its own noise level, uniform in [0, --noise-px], so clean 2D is seen too."),
    no_flip: bool = typer.Option(False, "--no-flip", help="Disable horizontal flip augmentation."),
    val_clips: int = typer.Option(256, min=0, help="Validation clips (S9/S11) per epoch; 0 disables validation."),
    max_minutes: Optional[float] = typer.Option(None, min=0.0, help="Stop at the first epoch end after this many minutes."),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/last.pt."),
    save_every: int = typer.Option(0, min=0, help="Also keep OUT/epochNNN.pt every this many epochs (0: only last.pt and best.pt)."),
    init_from: Optional[Path] = typer.Option(None, "--init-from", help="Start from this checkpoint's weights (fine-tuning); it may have another window length, e.g. a 1-frame model warm-starting a 27-frame one."),
    virtual_cameras: float = typer.Option(0.0, "--virtual-cameras", min=0.0, max=1.0, help="Probability that a training clip is filmed by a random virtual camera (any lens, height, distance, place in a landscape or portrait frame) instead of a Human3.6M camera."),
    detected_2d: Optional[Path] = typer.Option(None, "--detected-2d", help="Detector 2D file (pixels, VideoPose3D layout; the MPII-16 Stacked Hourglass file works) to mix into training."),
    detected_fraction: float = typer.Option(0.0, "--detected-fraction", min=0.0, max=1.0, help="Probability that a training clip takes its 2D from --detected-2d."),
    detector_noise: bool = typer.Option(False, "--detector-noise", help="Detector-like errors on projected 2D: per-clip joint offsets, per-frame jitter, missed joints."),
    velocity_weight: float = typer.Option(20.0, "--velocity-weight", min=0.0, help="Weight of the velocity term of the loss (MPJPE has weight 1). 20 suits clean 2D; with noisy 2D a smaller weight keeps a window model from smoothing at the expense of positions."),
    frame_steps: str = typer.Option("1", "--frame-steps", help="Comma-separated frame steps, e.g. 1,2: each clip takes every s-th frame for an s drawn from them (2 shows Human3.6M's 50 frames/s motion as 25 frames/s video)."),
    look_at_person: bool = typer.Option(False, "--look-at-person", help="Feed each clip's 2D and target as seen by its camera turned to look at the person (the way lifting turns it for camera-invariant models, with the known focal length)."),
    seed: int = typer.Option(0, help="Random seed."),
    workers: int = typer.Option(0, min=0, help="DataLoader worker processes."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, cuda:1 ...; default cuda if available."),
    no_amp: bool = typer.Option(False, "--no-amp", help="Disable bf16 mixed precision on GPU."),
) -> None:
    """Train PoseMoE on Human3.6M (train S1 S5 S6 S7 S8, validate on S9 S11).

    Under `torchrun --nproc-per-node N -m pipeline.cli train ...` it trains with DDP.
    """
    from posemoe.losses import LossWeights
    from posemoe.train import TrainConfig, train as run_train

    model_overrides = parse_overrides(overrides)
    if entangled:
        model_overrides["entangled"] = True
    try:
        steps = tuple(int(s) for s in frame_steps.split(",") if s.strip())
        if not steps or min(steps) < 1:
            raise ValueError
    except ValueError:
        raise PoseMoEError(f"--frame-steps {frame_steps!r}: expected comma-separated integers >= 1, e.g. 1,2")
    tc = TrainConfig(
        data_3d=str(_resolve_data_3d(data_3d)), out=str(out), data_2d=str(data_2d) if data_2d else None,
        cameras=str(cameras) if cameras else None, preset=preset_name,
        model_overrides=model_overrides, confidence=confidence, epochs=epochs,
        steps_per_epoch=steps_per_epoch, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
        warmup_steps=warmup_steps, stride=stride, flip=not no_flip, noise_px=noise_px,
        joint_dropout=joint_dropout, noise_mix=noise_mix, val_clips=val_clips, max_minutes=max_minutes, resume=resume, seed=seed,
        save_every=save_every, init_from=str(init_from) if init_from else None, workers=workers, device=device,
        amp=not no_amp, virtual_cameras=virtual_cameras, detected_2d=str(detected_2d) if detected_2d else None,
        detected_fraction=detected_fraction, detector_noise=detector_noise, frame_steps=steps,
        look_at_person=look_at_person, loss=LossWeights(velocity=velocity_weight))
    summary = run_train(tc, command=["posemoe", *sys.argv[1:]])
    if int(os.environ.get("RANK", "0")) == 0:
        typer.echo(json.dumps(summary))


@app.command("eval")
def evaluate(
    checkpoint: Path = typer.Argument(..., help="Checkpoint to evaluate (best.pt, last.pt or a shipped .pt)."),
    data_3d: Optional[Path] = typer.Option(None, "--data-3d", help=f"VideoPose3D-layout 3D file. Default: ${H36M_ENV}/data_3d_h36m*.npz."),
    data_2d: Optional[Path] = typer.Option(None, "--data-2d", help="Optional 2D file (pixels), e.g. detector outputs."),
    cameras: Optional[Path] = typer.Option(None, "--cameras", help="Camera calibration JSON; default: packaged."),
    subjects: str = typer.Option("S9,S11", help="Comma-separated test subjects."),
    no_flip: bool = typer.Option(False, "--no-flip", help="Disable test-time flip augmentation."),
    stride: Optional[int] = typer.Option(None, min=1, help="Window stride; default the model's window (no overlap)."),
    batch_size: int = typer.Option(64, min=1, help="Windows per forward pass."),
    device: Optional[str] = typer.Option(None, help="cpu or cuda; default cuda if available."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the full report as JSON here."),
    noise_px: float = typer.Option(0.0, min=0.0, help="Perturb the 2D input: Gaussian noise, pixels (std per coordinate)."),
    joint_dropout: float = typer.Option(0.0, min=0.0, max=0.99, help="Perturb the 2D input: probability of dropping a joint."),
    noise_seed: int = typer.Option(0, help="Seed of the perturbation (fixed, so runs are comparable)."),
    max_sequences: Optional[int] = typer.Option(None, min=1, help="Only the first N sequences (a quick check, not the protocol)."),
    sequence_step: int = typer.Option(1, "--every", min=1, help="Only every K-th sequence (a quick check across all actions; 5 cycles through the 4 cameras), not the protocol."),
    markdown: bool = typer.Option(False, "--markdown", help="Print the per-action table as Markdown."),
    camera_invariance: bool = typer.Option(False, "--camera-invariance", help="Instead: the same test motion filmed by one of Human3.6M's cameras and by a fixed set of virtual cameras (phone, telephoto, frame edge, portrait, from above, from the floor, rolled); one row per camera with its ratio to Human3.6M's. Use --every K to take every K-th sequence."),
    as_filmed: bool = typer.Option(False, "--as-filmed", help="Camera-invariant models: lift the 2D as filmed instead of in a camera turned to look at the person (the default, with each camera's known focal length)."),
    smooth: str = typer.Option("none", "--smooth", help=f"Score the 3D after this temporal filter, as `posemoe video` applies it ({SMOOTH_SPECS}; e.g. {DEFAULT_SMOOTHING}); default none: the network's own output, the protocol."),
    bones: str = typer.Option("free", "--bones", help="median: score the 3D with each sequence's bones held at their median length, as `posemoe video` does; default free: the network's own output."),
) -> None:
    """Human3.6M protocols 1 and 2 (MPJPE, P-MPJPE, plus N-MPJPE, x,y and depth error, MPJVE,
    acceleration error, bone-length variation, PCK, AUC) per action. Errors in mm on root-relative
    poses; flip on; every frame of S9 and S11. With --data-2d, the 2D comes from that file (the
    MPII-16 Stacked Hourglass detections give the detected-2D protocol); with
    --camera-invariance, the camera table instead."""
    from posemoe.evaluate import EvalConfig, evaluate as run_eval, evaluate_cameras, format_camera_table, format_table

    ec = EvalConfig(checkpoint=str(checkpoint), data_3d=str(_resolve_data_3d(data_3d)),
                    data_2d=str(data_2d) if data_2d else None, cameras=str(cameras) if cameras else None,
                    subjects=tuple(s.strip() for s in subjects.split(",") if s.strip()), flip=not no_flip,
                    stride=stride, batch_size=batch_size, device=device, max_sequences=max_sequences,
                    sequence_step=sequence_step, noise_px=noise_px, joint_dropout=joint_dropout, noise_seed=noise_seed,
                    look_at_person=not as_filmed, smooth=smooth, bones=bones)
    report = evaluate_cameras(ec) if camera_invariance else run_eval(ec)
    if json_out is not None:
        from posemoe.evaluate import write_json

        write_json(report, json_out)
    if camera_invariance:
        typer.echo(format_camera_table(report, markdown=markdown))
    elif markdown:
        from posemoe.evaluate import format_markdown

        typer.echo(format_markdown(report))
    else:
        typer.echo(format_table(report))


@app.command()
def compare(
    reports: list[Path] = typer.Argument(..., help="`posemoe eval --json` reports (the first is the reference), or two posemoe results files (.npz/.json) of one clip."),
    labels: Optional[str] = typer.Option(None, help="Comma-separated row labels; default the file names (results: checkpoint / 2D backend)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Two results files: render OUT.mp4 with both side by side (2D on the frame, 3D panels A and B, per-frame difference)."),
    video: Optional[Path] = typer.Option(None, "--video", help="With -o: the source video to draw on; default a plain background."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Average figures of several eval reports side by side (Markdown), with MPJPE differences;
    or two results files of one clip (two checkpoints or 2D backends): their per-frame 3D
    difference, and with -o a side-by-side video."""
    from pipeline.compare_video import compare_results, is_results_file
    from posemoe.evaluate import compare_markdown, read_report

    is_results = [is_results_file(r) for r in reports]
    if any(is_results):
        if not all(is_results):
            other = reports[is_results.index(False)]
            raise PoseMoEError(f"{other}: not a posemoe results file; compare takes either eval reports (.json) or two "
                  f"results files (.npz/.json from `posemoe video --save`)")
        if len(reports) != 2:
            raise PoseMoEError(f"expected two results files to compare (A and B), found {len(reports)}")
        result = compare_results(reports[0], reports[1], out, video=video,
                                 labels=[s.strip() for s in labels.split(",")] if labels else None,
                                 progress=not quiet, log=lambda m: typer.echo(m, err=True))
        typer.echo(result.summary() + (f" -> {out}" if out else ""))
        return
    if out is not None or video is not None:
        raise PoseMoEError(f"{'-o' if out is not None else '--video'}: renders a video of two results files; "
              f"{reports[0]} is not one (eval reports print a table)")
    names = [s.strip() for s in labels.split(",")] if labels else [r.stem for r in reports]
    if len(names) != len(reports):
        raise PoseMoEError(f"--labels: expected {len(reports)} labels (one per report), found {len(names)}")
    loaded = [read_report(r) for r in reports]
    typer.echo(compare_markdown(loaded, names))


@app.command()
def video(
    src: Path = typer.Argument(..., help="Input video (any format FFmpeg reads: mp4, mov, mkv, ...)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output video (.mp4, H.264) with the 2D overlay and the 3D view."),
    save: list[Path] = typer.Option([], "--save", help="Also export the poses, in the format the suffix names: RESULTS.npz/.json (all data), SKELETON.bvh (animation, one file per person), MARKERS.trc (OpenSim, one per person), TABLE.csv. Repeat for several."),
    smooth: Smooth = DEFAULT_SMOOTHING,
    bones: Bones = "median",
    pose2d: Pose2D = "auto",
    det_weights: Optional[Path] = typer.Option(None, "--det-weights", help="mmpose backend: local RTMDet person detector checkpoint (default: cached or downloaded)."),
    pose_weights: Optional[Path] = typer.Option(None, "--pose-weights", help="mmpose backend: local RTMPose-m COCO-17 checkpoint (default: cached or downloaded)."),
    checkpoint: Checkpoint = None,
    view: View = "side-by-side",
    views3d: Views3D = "oblique",
    color_by: ColorBy = "track",
    timecode: Timecode = False,
    max_people: MaxPeople = None,
    place: Place = "image",
    device: Device = None,
    focal: Optional[float] = typer.Option(None, "--focal", help="The lens's focal length in pixels, if known; default: a 26 mm-equivalent phone lens (used to lift each person as if the camera looked straight at them)."),
    fov: Optional[float] = typer.Option(None, "--fov", help="Instead of --focal: the horizontal field of view in degrees."),
    x264_preset: X264Preset = None,
    quiet: Quiet = False,
) -> None:
    """Video of people -> 2D keypoints -> tracks -> 3D poses with PoseMoE -> rendered video and data."""
    from pipeline.render import render_options
    from pipeline.video import process_video

    options = render_options(color_by, timecode, views3d)
    job = process_video(src, out, save=save, pose2d=pose2d, checkpoint=checkpoint, device=device, view=view,
                        max_people=max_people, progress=not quiet, log=lambda m: typer.echo(m, err=True),
                        render_options=options, det_weights=det_weights, pose_weights=pose_weights,
                        focal_px=focal, fov_deg=fov, smooth=smooth, bones=bones, place=place,
                        encoder_preset=x264_preset)
    people = "1 person" if job.people == 1 else f"{job.people} people"
    typer.echo(f"{job.frames} frames, {people} tracked -> {', '.join(str(o) for o in job.outputs)}")
    typer.echo(job.timing)


@app.command()
def lift(
    keypoints: Path = typer.Argument(..., help="2D keypoints: a posemoe results .npz/.json, or mmpose prediction JSON."),
    out: Path = typer.Option(..., "--out", "-o", help="OUT.npz / OUT.json (poses) or OUT.mp4 (rendered)."),
    checkpoint: Checkpoint = None,
    video: Optional[Path] = typer.Option(None, "--video", help="The source video, to draw on (for .mp4 output) and for its size and fps."),
    image_size: Optional[str] = typer.Option(None, "--image-size", help="WxH in pixels when the file does not say, e.g. 1920x1080."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Frames per second when neither the file nor --video says (default 25)."),
    view: str = typer.Option("side-by-side", "--view", help="With --video: side-by-side, overlay or 3d."),
    views3d: str = typer.Option("oblique", "--views3d", help="For .mp4 output: 3D view angles, one panel each: oblique, front, side; e.g. front,side."),
    color_by: str = typer.Option("track", "--color-by", help="For .mp4 output: joint colours by track or by 2D confidence."),
    timecode: bool = typer.Option(False, "--timecode", help="For .mp4 output: draw the frame number and time on every frame."),
    smooth: Smooth = DEFAULT_SMOOTHING,
    bones: Bones = "median",
    device: Device = None,
    quiet: Quiet = False,
) -> None:
    """Lift precomputed 2D keypoints to 3D (no detector runs)."""
    from pipeline.render import render_options
    from pipeline.video import lift_keypoint_file

    size = None
    if image_size:
        w, sep, h = image_size.lower().partition("x")
        if not sep or not w.isdigit() or not h.isdigit() or int(w) <= 0 or int(h) <= 0:
            raise PoseMoEError(f"--image-size {image_size!r}: expected WIDTHxHEIGHT in pixels; pass e.g. --image-size 1920x1080")
        size = (int(w), int(h))
    options = render_options(color_by, timecode, views3d)
    job = lift_keypoint_file(keypoints, out, checkpoint=checkpoint, device=device, view=view, video=video, fps=fps,
                             image_size=size, progress=not quiet, log=lambda m: typer.echo(m, err=True),
                             render_options=options, smooth=smooth, bones=bones)
    typer.echo(f"{job.frames} frames, {job.people} people -> {out}")
    typer.echo(job.timing)


@app.command()
def convert(
    results: Path = typer.Argument(..., help="Results file from `posemoe video/lift --save` (.npz or .json)."),
    out: list[Path] = typer.Option(..., "--out", "-o", help="OUT.bvh (skeleton per person), OUT.trc (OpenSim markers per person), OUT.csv (table) or OUT.npz/.json (results with the scene fields). Repeat for several."),
    track: Optional[int] = typer.Option(None, "--track", help="Only this track id (default everyone; per-person formats then write one file per track)."),
    smooth: Optional[str] = typer.Option(None, "--smooth", help=f"Filter the 3D (again) before writing: {SMOOTH_SPECS}. Default: as saved (files without a recorded filter get the default, {DEFAULT_SMOOTHING})."),
    focal: Optional[float] = typer.Option(None, "--focal", help="Focal length in pixels to place people with; default the one recorded in the results, else a 26 mm-equivalent lens."),
    bones: Optional[str] = typer.Option(None, "--bones", help="median: fix each person's bones to their median length; free: leave them. Default: as recorded in the results, else median."),
) -> None:
    """Results file -> BVH / TRC / CSV motion files (or an updated results file)."""
    import numpy as np

    from pipeline.export import load_results
    from pipeline.motion_export import check_outputs, save_outputs, select_track
    from pipeline.world import place_in_world
    from posemoe.smoothing import parse_smoothing

    check_outputs(out, [results])
    res = select_track(load_results(results), track, str(results))
    if not res.present.any() or not np.isfinite(res.keypoints3d).all(axis=(-2, -1)).any():
        raise PoseMoEError(f"{results}: no 3D pose in the file (no person, or no lifted frame); lift its 2D "
                           f"first: `posemoe lift {results} -o LIFTED.npz`, then convert that")
    if focal is not None and not (focal > 0 and focal < float("inf")):
        raise PoseMoEError(f"--focal {focal:g}: expected the focal length in pixels, a positive number; pass e.g. --focal 1400")
    if smooth is not None:
        smoothing = parse_smoothing(smooth)
    elif res.smoothing is None and not res.has_scene:  # a version-1 file: the network's raw output
        smoothing = parse_smoothing(DEFAULT_SMOOTHING)
    else:
        smoothing = None
    if smoothing is not None or focal is not None or bones is not None or not res.has_scene:
        res = place_in_world(res, focal, smoothing, bones)
    written = save_outputs(out, res)
    typer.echo(f"{res.num_people} people, {res.num_frames} frames -> {', '.join(str(w) for w in written)}")


@app.command()
def batch(
    src: Path = typer.Argument(..., help="Folder of videos, searched recursively (mp4, mov, mkv, avi, webm, ... any case)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: one subfolder per clip, mirroring SRC, plus summary.csv."),
    checkpoint: Checkpoint = None,
    pose2d: Pose2D = "auto",
    view: View = "side-by-side",
    max_people: MaxPeople = None,
    device: Device = None,
    no_video: bool = typer.Option(False, "--no-video", help="Export the results only; render no video."),
    results_format: str = typer.Option("npz", "--format", help="Results file format: npz or json."),
    views3d: Views3D = "oblique",
    color_by: ColorBy = "track",
    timecode: Timecode = False,
    smooth: Smooth = DEFAULT_SMOOTHING,
    bones: Bones = "median",
    x264_preset: X264Preset = None,
    workers: int = typer.Option(1, "--workers", "-j", min=0, help="Worker processes (each loads its own model; cores are split between them). 0: in this process, no crash isolation."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="Torch/OpenCV threads per worker; default cores // workers. 1 is best on a machine shared with other jobs."),
    shard: Optional[str] = typer.Option(None, "--shard", help="K/N: do only shard K (1..N) of N, a stable 1/N of the clips; writes summary-shard-K-of-N.csv."),
    force: bool = typer.Option(False, "--force", help="Redo every clip, complete or not."),
    quiet: Quiet = False,
) -> None:
    """Every video under SRC -> OUT/<same folders>/<clip>/ (render.mp4, results.npz, done.json).

    Resumable: a clip whose outputs and done.json marker are complete, for the input as it is now
    and the same settings, is skipped. A failing clip is recorded and the batch goes on. Exit status: 0 all clips ok, 1 some
    failed, 2 usage error, 130 interrupted. Merge shards with `posemoe batch-merge OUT`.
    """
    from pipeline.batch import BatchOptions, format_table, parse_shard, run_batch
    from pipeline.video import check_encoder_preset

    check_encoder_preset(x264_preset)
    if max_people is not None and max_people < 1:
        raise PoseMoEError(f"--max-people {max_people}: expected a whole number >= 1; omit it to keep everyone")

    opts = BatchOptions(checkpoint=str(checkpoint) if checkpoint else None, pose2d=pose2d, device=device,
                        view=view, max_people=max_people, video=not no_video, results_format=results_format,
                        views3d=views3d, color_by=color_by, timecode=timecode, smooth=smooth, bones=bones,
                        encoder_preset=x264_preset)
    report = run_batch(src, out, opts, workers=workers, threads=threads, shard=parse_shard(shard) if shard else None,
                       force=force, progress=not quiet, echo=lambda m: typer.echo(m, err=True))
    typer.echo(format_table(report.results))
    typer.echo(f"summary: {report.summary} ({report.elapsed_s:.1f} s)")
    if report.interrupted:
        typer.echo("interrupted: rerun the same command to finish (complete clips are skipped)", err=True)
    raise typer.Exit(report.exit_status)


@app.command("batch-merge")
def batch_merge(
    out: Path = typer.Argument(..., help="The output folder the shards wrote to (holding summary-shard-K-of-N.csv)."),
) -> None:
    """Combine the shards' summary-shard-K-of-N.csv into OUT/summary.csv and print the table.

    Exit status: 0 every shard present and every clip ok, 1 otherwise, 2 usage error.
    """
    from pipeline.batch import format_table, merge_summaries

    report = merge_summaries(out)
    typer.echo(format_table(report.results))
    typer.echo(f"merged {len(report.shards)} of {report.count} shards -> {report.summary}")
    if report.missing:
        typer.echo(f"missing shards: {', '.join(map(str, report.missing))} (their clips are not in the summary)", err=True)
    raise typer.Exit(report.exit_status)


@app.command()
def analyze(
    results: Path = typer.Argument(..., help="Results file from `posemoe video/lift --save` (.npz or .json)."),
    out: Path = typer.Option(..., "--out", "-o", help="Report folder (created): index.html, one PNG per figure, summary.json."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", "-c", help="Checkpoint to recompute the router weights with; default the one recorded in the results."),
    no_router: bool = typer.Option(False, "--no-router", help="Leave out the router figures (no model is run)."),
    max_tracks: int = typer.Option(4, "--max-tracks", min=1, help="Draw detailed figures for this many tracks (the longest)."),
    device: Optional[str] = typer.Option(None, help="cpu or cuda, for recomputing the router weights; default cpu."),
) -> None:
    """Pictures of a results file: trajectories, bone-length stability, 2D confidence, left/right
    symmetry and the MoE routers' expert weights per joint over time, in one self-contained HTML page."""
    from pipeline.analyze import analyze as run_analyze

    report = run_analyze(results, out, checkpoint=checkpoint, router=not no_router, device=device,
                         max_tracks=max_tracks, log=lambda m: typer.echo(m, err=True))
    for note in report.notes:
        typer.echo(f"[analyze] {note}", err=True)
    typer.echo(f"{report.summary['frames']} frames, {report.summary['people']} people, {len(report.figures)} figures "
               f"-> {report.html}")


@app.command()
def compact(
    data: Path = typer.Argument(..., help="VideoPose3D-layout 3D file (positions_3d, e.g. data_3d_h36m.npz) or 2D file (positions_2d in pixels, e.g. data_2d_h36m_sh.npz)."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the compact copy (.npz); keep it out of git."),
    subjects: Optional[str] = typer.Option(None, help="Comma-separated subjects to keep, e.g. S1,S5,S6,S7,S8; default all."),
) -> None:
    """A compact copy of the training data to carry to a GPU machine: 3D as int16 0.1 mm steps
    around a float32 root track; 2D as int16 frame-to-frame steps (whole pixels: lossless)."""
    from posemoe.data import write_compact

    keep = [s.strip() for s in subjects.split(",") if s.strip()] if subjects else None
    stats = write_compact(data, out, keep)
    typer.echo(f"wrote {out}: {stats['sequences']} sequences, {stats['frames']} frames, "
               f"{stats['bytes'] / 1e6:.1f} MB (from {data.stat().st_size / 1e6:.1f} MB)")


@app.command()
def export(
    checkpoint: Path = typer.Argument(..., help="Training checkpoint (best.pt or last.pt)."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the shippable file, e.g. weights/posemoe-default.pt."),
    full: bool = typer.Option(False, "--full", help="Keep float32 weights (default: float16, half the size)."),
    eval_json: Optional[Path] = typer.Option(None, "--eval-json", help="Record this `posemoe eval --json` report's averages in the file."),
) -> None:
    """Make a shippable checkpoint: optimiser state dropped, weights in float16 by default."""
    from posemoe.checkpoint import export_checkpoint

    metrics = None
    if eval_json is not None:
        from posemoe.evaluate import read_report

        report = read_report(eval_json)
        metrics = {"h36m_s9s11": {"average_over_actions": report["average_over_actions"],
                                  "two_d": report["settings"]["two_d"], "flip": report["settings"]["flip"]}}
    export_checkpoint(checkpoint, out, half=not full, metrics=metrics)
    typer.echo(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {'float32' if full else 'float16'})")


@app.command()
def bench(
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", "-c", help="Lifting checkpoint; default the shipped weights/posemoe-default.pt."),
    frames: int = typer.Option(100, "--frames", min=1, help="Frames of the short clip (25 frames/s)."),
    long_factor: int = typer.Option(10, "--long-factor", min=1, help="The long clip is this many times longer (memory must not grow with it)."),
    size: str = typer.Option("1280x720", "--size", help="Clip size WIDTHxHEIGHT in pixels."),
    repeats: int = typer.Option(1, "--repeats", min=1, help="Run each clip this many times and keep the fastest run."),
    quick: bool = typer.Option(False, "--quick", help="A fast, rough check: at most 40 frames, long factor 3, one run."),
    clip: list[Path] = typer.Option([], "--clip", help="Also run the whole job on this real video (repeat for several); the report gets one row per clip."),
    loop: int = typer.Option(1, "--loop", min=1, help="Also run each --clip played this many times in a row (memory must not grow with the length)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the full report as JSON here."),
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="Also write the table as Markdown here."),
    work_dir: Optional[Path] = typer.Option(None, "--work-dir", help="Keep the drawn clips and outputs here and reuse the clips; default a temporary folder."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output (the table is still printed)."),
) -> None:
    """Speed and memory of `posemoe video` on clips it draws itself (one synthetic person, MediaPipe):
    ms/frame per stage, end-to-end frames/s, lifter and renderer frames/s, peak memory of a short
    and a long clip, each next to its goal (25 frames/s end to end, 200 frames/s rendering, memory
    not growing with length); then the whole job on a drawn two-person clip and on each --clip
    (real video), one row each. Each job runs in its own subprocess. Timings depend on what else the
    machine is running; the report records the load average."""
    from pipeline.bench import format_table, run_bench, write_outputs

    w, sep, h = size.lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit():
        raise PoseMoEError(f"--size {size!r}: expected WIDTHxHEIGHT in pixels, e.g. 1280x720")
    report = run_bench(checkpoint, frames=frames, long_factor=long_factor, size=(int(w), int(h)),
                       repeats=repeats, quick=quick, work_dir=work_dir, echo_jobs=not quiet, clips=clip, loop=loop,
                       log=(lambda m: None) if quiet else (lambda m: typer.echo(m, err=True)))
    write_outputs(report, json_out, markdown)
    typer.echo(format_table(report))


def exit_now(code: int | str | None) -> NoReturn:
    """End the process with exit status `code` once the command's work is done, skipping the
    interpreter's teardown: with torch, SciPy and MediaPipe loaded it takes about 0.5 s and does
    nothing a finished command needs (every output file is already closed and renamed). The
    `atexit` handlers still run (temporary folders, logging) and stdout/stderr are flushed."""
    import atexit

    if isinstance(code, str):  # what sys.exit("message") would print
        print(code, file=sys.stderr)
        code = 1
    code = 0 if code is None else int(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def main() -> None:
    """The `posemoe` command (the console script): the app, then `exit_now`. Run as
    `python -m pipeline.cli` it ends the usual way (profilers and coverage write their reports)."""
    try:
        app()
        code: int | str | None = 0
    except SystemExit as exc:
        code = exc.code
    exit_now(code)


if __name__ == "__main__":
    app()
