"""Training PoseMoE on Human3.6M (ground-truth 2D projected through the cameras, or a 2D file).

One process: `posemoe train --data-3d data_3d_h36m.npz --out runs/small27`.
Several GPUs or CPU processes: `torchrun --nproc-per-node N -m pipeline.cli train ...` (DDP; gloo
on CPU, nccl on GPU). Each process reads its rank from torchrun's environment; rank 0 logs,
validates and writes checkpoints.

The output folder holds `last.pt` (every epoch, with optimiser state for `--resume`), `best.pt`
(lowest validation MPJPE), `log.jsonl` (one JSON object per logged step and per epoch) and
`train_config.json`; with `save_every` K also `epochNNN.pt` every K epochs (to compare runs at
equal steps); with `init_from`, `init.pt` (the warm-started weights before the first step).
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, Subset
from tqdm import tqdm

from posemoe.checkpoint import code_revision, make_checkpoint, read_checkpoint, save_checkpoint
from posemoe.data import TEST_SUBJECTS, TRAIN_SUBJECTS, ClipDataset, load_h36m, load_positions_2d
from posemoe.detector_noise import DetectorNoise
from posemoe.errors import PoseMoEError
from posemoe.losses import LossWeights, lifting_loss
from posemoe.model import PoseMoE, PoseMoEConfig, preset
from posemoe.training_clips import CameraMixClips, world_sequences


@dataclass
class TrainConfig:
    data_3d: str  # VideoPose3D-layout 3D file (positions_3d), 17 or 32 joints
    out: str = "runs/posemoe"  # output folder
    data_2d: str | None = None  # optional VideoPose3D-layout 2D file (positions_2d, pixels)
    cameras: str | None = None  # calibration file; None = the packaged Human3.6M calibration
    preset: str = "small-27"  # model preset (see posemoe.model.PRESETS)
    model_overrides: dict = field(default_factory=dict)  # PoseMoEConfig fields to change, e.g. {"entangled": True}
    confidence: bool = False  # feed a 2D confidence channel (in_channels = 3)
    train_subjects: tuple[str, ...] = TRAIN_SUBJECTS
    val_subjects: tuple[str, ...] = TEST_SUBJECTS
    epochs: int = 20
    steps_per_epoch: int | None = None  # cap an epoch at this many steps (a random subset of clips); None = all
    batch_size: int = 32  # clips per step (per process under DDP)
    lr: float = 5e-4  # peak learning rate (AdamW)
    weight_decay: float = 0.01
    warmup_steps: int = 200  # linear warm-up, then cosine decay to lr * min_lr_ratio
    min_lr_ratio: float = 0.02
    clip_grad: float = 1.0  # max gradient norm
    stride: int | None = None  # training clip stride; None = frames // 3 (overlapping clips)
    flip: bool = True  # horizontal flip augmentation
    noise_px: float = 0.0  # Gaussian 2D noise (pixels) for robustness to detectors
    joint_dropout: float = 0.0  # probability of dropping a 2D joint (confidence 0)
    noise_mix: bool = False  # draw each clip's noise level uniformly from [0, noise_px]
    loss: LossWeights = field(default_factory=LossWeights)
    amp: bool = True  # bf16 autocast on GPU (ignored on CPU)
    seed: int = 0
    workers: int = 0  # DataLoader worker processes
    val_clips: int = 256  # validation clips drawn evenly from the val subjects each epoch (0 = no validation)
    log_every: int = 20  # steps between log lines
    max_minutes: float | None = None  # stop after this much training time, at an epoch boundary
    resume: bool = False  # continue from out/last.pt
    save_every: int = 0  # also keep epochNNN.pt every this many epochs (0 = only last.pt and best.pt)
    init_from: str | None = None  # start from this checkpoint's weights (another window length is fine)
    virtual_cameras: float = 0.0  # probability that a training clip is filmed by a random virtual camera
    detected_2d: str | None = None  # detector 2D file (pixels; e.g. the MPII-16 Stacked Hourglass file) to mix in
    detected_fraction: float = 0.0  # probability that a clip uses those detections (where they exist)
    detector_noise: bool = False  # detector-like errors on projected 2D (posemoe.detector_noise)
    frame_steps: tuple[int, ...] = (1,)  # each camera-mix clip takes every s-th frame, s drawn from these
    look_at_person: bool = False  # camera-mix clips: 2D and target in a camera turned to the person (view_rotation)
    gate_lr_scale: float = 10.0  # temporal gates learn at lr * this: Adam moves a parameter about lr per
    #   step, so at lr 3e-4 a gate starting at 0 could not pass 0.3 in a 1000-step warm start
    device: str | None = None  # default: cuda if available else cpu

    def model_config(self) -> PoseMoEConfig:
        cfg = preset(self.preset, **self.model_overrides)
        if self.confidence:
            cfg.in_channels = 3
        return cfg


# ----------------------------------------------------------------------------------------------


def _distributed() -> tuple[int, int, int]:
    """(rank, local_rank, world_size) from torchrun's environment; (0, 0, 1) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")), world


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def lr_lambda(step: int, total: int, warmup: int, min_ratio: float) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def resize_frame_embedding(pos: torch.Tensor, frames: int) -> torch.Tensor:
    """A (1, T0, 1, C) frame-position embedding stretched to (1, frames, 1, C) by linear
    interpolation over time (T0 = 1 repeats the single frame)."""
    if pos.shape[1] == frames:
        return pos
    if pos.shape[1] == 1:
        return pos.expand(-1, frames, -1, -1).clone()
    x = pos.permute(0, 2, 3, 1).reshape(1, -1, pos.shape[1])  # (1, C, T0)
    x = torch.nn.functional.interpolate(x, size=frames, mode="linear", align_corners=True)
    return x.reshape(1, 1, pos.shape[-1], frames).permute(0, 3, 1, 2).contiguous()


# config fields a warm start may change (see init_from_checkpoint)
WARM_START_MAY_CHANGE = ("frames", "input_norm", "temporal_gate")
# screen-normalised Human3.6M people are about 0.45 units per metre of body, body-normalised ones
# about 0.9: a screen model's input embedding is halved to start a body-normalised model
SCREEN_TO_BODY_EMBED_SCALE = 0.5


def init_from_checkpoint(model: PoseMoE, path: str | Path) -> dict:
    """Load a checkpoint's weights into `model` for fine-tuning (curriculum: e.g. a model trained
    on single frames, warm-starting a 27-frame one). Every architectural field but those in
    `WARM_START_MAY_CHANGE` must match. The frame-position embeddings are resized to the model's
    window. Temporal gates (`PoseMoEConfig.temporal_gate`) start at 0 when the source model saw
    one frame (or had no gates), so that the new model computes exactly what the source did on
    every frame and learns from there how much of the window to read. From a "screen" to a
    "body" input normalisation, the input embedding is rescaled (`SCREEN_TO_BODY_EMBED_SCALE`).
    Returns the source checkpoint's config."""
    src = read_checkpoint(path)
    mine, theirs = model.cfg.to_dict(), {"input_norm": "screen", "temporal_gate": False, **src["config"]}
    differ = sorted(k for k in mine if k not in WARM_START_MAY_CHANGE and mine[k] != theirs.get(k))
    if differ:
        raise PoseMoEError(f"{path}: cannot start from this checkpoint, its config differs in "
                           f"{', '.join(f'{k}={theirs.get(k)!r} (here {mine[k]!r})' for k in differ)}; "
                           "use the same --preset, --set and --confidence options")
    state = {k: (resize_frame_embedding(v.float(), model.cfg.frames) if k.endswith("frame_pos") else v.float())
             for k, v in src["model"].items()}
    own = model.state_dict()
    gates = [k for k in own if k.endswith(".gate")]
    close_gates = theirs["frames"] == 1 or not theirs["temporal_gate"]
    for k in gates:
        if close_gates or k not in state:
            state[k] = torch.zeros_like(own[k])
    if theirs["input_norm"] == "screen" and mine["input_norm"] == "body":
        state["embed.proj.weight"] = state["embed.proj.weight"] * SCREEN_TO_BODY_EMBED_SCALE
    model.load_state_dict(state)
    return theirs


def build_datasets(tc: TrainConfig, frames: int) -> tuple[ClipDataset | CameraMixClips, ClipDataset | None]:
    data = load_h36m(tc.data_3d, tc.data_2d, tc.cameras)
    if (tc.virtual_cameras > 0 or tc.detected_2d or tc.detector_noise or tuple(tc.frame_steps) != (1,)
            or tc.look_at_person):
        detections = load_positions_2d(tc.detected_2d) if tc.detected_2d else None
        seqs = world_sequences(data.positions_3d, tc.train_subjects, detections)
        if not seqs:
            raise PoseMoEError(f"{tc.data_3d}: no sequences for subjects {list(tc.train_subjects)}")
        train = CameraMixClips(seqs, data.cameras, frames=frames, stride=tc.stride or max(1, frames // 3),
                               p_virtual=tc.virtual_cameras, p_detected=tc.detected_fraction if detections else 0.0,
                               noise=DetectorNoise() if tc.detector_noise else None, flip=tc.flip,
                               confidence=tc.confidence, seed=tc.seed, frame_steps=tuple(tc.frame_steps),
                               look_at_person=tc.look_at_person)
    else:
        train = ClipDataset(data.sequences(tc.train_subjects), frames=frames, stride=tc.stride or max(1, frames // 3),
                            flip=tc.flip, noise_px=tc.noise_px, joint_dropout=tc.joint_dropout, confidence=tc.confidence,
                            seed=tc.seed, noise_mix=tc.noise_mix)
    val = None
    if tc.val_clips > 0:
        val_seqs = data.sequences(tc.val_subjects, required=False)
        if val_seqs:
            val = ClipDataset(val_seqs, frames=frames, stride=frames, confidence=tc.confidence)
    return train, val


@torch.no_grad()
def validate(model: torch.nn.Module, val: ClipDataset, n_clips: int, device: torch.device,
             batch_size: int) -> float:
    """MPJPE (mm) on `n_clips` clips spread evenly over the validation set, padding excluded."""
    model.eval()
    picks = np.linspace(0, len(val) - 1, num=min(n_clips, len(val))).round().astype(int)
    total, count = 0.0, 0
    for i in range(0, len(picks), batch_size):
        items = [val[int(k)] for k in picks[i:i + batch_size]]
        masks = torch.stack([torch.as_tensor(val.valid_mask(int(k))) for k in picks[i:i + batch_size]])
        x = torch.stack([it[0] for it in items]).to(device)
        y = torch.stack([it[1] for it in items]).to(device)
        pred = model(x).pose3d.float()
        err = (pred - y).norm(dim=-1).mean(dim=-1)  # (B, T)
        m = masks.to(device)
        total += float(err[m].sum()) * 1000.0
        count += int(m.sum())
    model.train()
    return total / max(count, 1)


def train(tc: TrainConfig, command: list[str] | None = None) -> dict:
    """Train as configured; returns a summary dict (best validation MPJPE, paths, epochs run)."""
    rank, local_rank, world = _distributed()
    main = rank == 0
    if tc.device:
        device = torch.device(tc.device)
    elif torch.cuda.is_available():
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    _seed_everything(tc.seed + rank)
    out = Path(tc.out)
    cfg = tc.model_config()
    model = PoseMoE(cfg).to(device)

    train_set, val_set = build_datasets(tc, cfg.frames)
    steps_per_epoch = len(train_set) // (tc.batch_size * world)
    if tc.steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, tc.steps_per_epoch)
    if steps_per_epoch < 1:
        raise PoseMoEError(f"{tc.data_3d}: {len(train_set)} training clips are fewer than one batch of "
                           f"{tc.batch_size}; lower --batch-size")
    total_steps = steps_per_epoch * tc.epochs

    decay, no_decay, gates = [], [], []
    for n, p in model.named_parameters():
        if n.endswith(".gate"):
            gates.append(p)
        else:
            (no_decay if p.ndim < 2 or n.endswith(("pos", "mu", "log_var")) else decay).append(p)
    groups = [{"params": decay, "weight_decay": tc.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if gates:  # one number per head: a warm start must open them within a short run (see TrainConfig)
        groups.append({"params": gates, "weight_decay": 0.0, "lr": tc.lr * tc.gate_lr_scale})
    optimizer = torch.optim.AdamW(groups, lr=tc.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_lambda(s, total_steps, tc.warmup_steps, tc.min_lr_ratio))

    start_epoch, step, best, history_minutes = 0, 0, float("inf"), 0.0
    if tc.init_from and not tc.resume:
        src_cfg = init_from_checkpoint(model, tc.init_from)
        if main:
            print(f"[train] starting from the weights of {tc.init_from} ({src_cfg['frames']}-frame model); "
                  f"the starting point is saved as {out / 'init.pt'}", file=sys.stderr)
            # the warm-started weights before any step, to measure where training starts from
            save_checkpoint(make_checkpoint(model, train={"init_from": tc.init_from, "revision": code_revision()}),
                            out / "init.pt")
    if tc.resume:
        ckpt = read_checkpoint(out / "last.pt")
        if ckpt["config"] != cfg.to_dict():
            raise PoseMoEError(f"{out / 'last.pt'}: its model config differs from this run's; "
                               "resume with the same --preset and options, or use a new --out")
        model.load_state_dict(ckpt["model"])
        st = ckpt["state"]
        optimizer.load_state_dict(st["optimizer"])
        scheduler.load_state_dict(st["scheduler"])
        start_epoch, step, best = st["epoch"] + 1, st["step"], st["best_mpjpe"]
        history_minutes = st.get("minutes", 0.0)
        torch.set_rng_state(st["torch_rng"])

    ddp_model = DistributedDataParallel(model) if world > 1 else model
    use_amp = tc.amp and device.type == "cuda"
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_amp else nullcontext

    log_path = out / "log.jsonl"
    if main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "train_config.json").write_text(json.dumps(asdict(tc), indent=2, default=list))
        print(f"[train] {cfg.frames}-frame {tc.preset} ({model.num_parameters() / 1e6:.2f}M parameters) on "
              f"{device.type} x{world}: {len(train_set)} clips, {steps_per_epoch} steps/epoch, "
              f"epochs {start_epoch + 1}..{tc.epochs}", file=sys.stderr)
    log = open(log_path, "a") if main else None
    train_info = {"config": asdict(tc), "command": command or sys.argv, "revision": code_revision(),
                  "world_size": world}
    t_start = time.time()
    epoch = start_epoch - 1
    val_mpjpe = float("nan")
    for epoch in range(start_epoch, tc.epochs):
        g = torch.Generator().manual_seed(tc.seed * 1000 + epoch)
        order = torch.randperm(len(train_set), generator=g)[: steps_per_epoch * tc.batch_size * world]
        train_set.set_epoch(epoch)  # fresh augmentation draws each epoch
        subset = Subset(train_set, order.tolist())
        sampler = DistributedSampler(subset, num_replicas=world, rank=rank, shuffle=False) if world > 1 else None
        loader = DataLoader(subset, batch_size=tc.batch_size, sampler=sampler, shuffle=False, drop_last=True,
                            num_workers=tc.workers, pin_memory=device.type == "cuda")
        model.train()
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{tc.epochs}", disable=not main, leave=False,
                   dynamic_ncols=True, file=sys.stderr)
        t_epoch, frames_seen, running = time.time(), 0, {}
        for x, y in bar:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with autocast():
                out_ = ddp_model(x)
            loss, parts = lifting_loss(out_.pose3d.float(), y, tc.loss, aux_loss=out_.aux_loss.float())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), tc.clip_grad)
            optimizer.step()
            scheduler.step()
            step += 1
            frames_seen += x.shape[0] * x.shape[1] * world
            for k, v in parts.items():
                running[k] = 0.9 * running.get(k, v) + 0.1 * v
            fps = frames_seen / max(time.time() - t_epoch, 1e-6)
            if main:
                bar.set_postfix(loss=f"{running['total']:.4f}", mpjpe=f"{running['mpjpe'] * 1000:.1f}mm",
                                fps=f"{fps:.0f}")
                if step % tc.log_every == 0:
                    rec = {"type": "step", "epoch": epoch + 1, "step": step, "lr": scheduler.get_last_lr()[0],
                           "grad_norm": float(grad_norm), "frames_per_s": round(fps, 1),
                           **{f"loss_{k}": round(v, 6) for k, v in parts.items()}}
                    log.write(json.dumps(rec) + "\n")
                    log.flush()
        bar.close()
        minutes = history_minutes + (time.time() - t_start) / 60.0
        if main:
            val_mpjpe = validate(model, val_set, tc.val_clips, device, tc.batch_size) if val_set else float("nan")
            improved = val_mpjpe < best
            best = min(best, val_mpjpe) if not math.isnan(val_mpjpe) else best
            rec = {"type": "epoch", "epoch": epoch + 1, "step": step, "train_mpjpe_mm": round(running["mpjpe"] * 1000, 2),
                   "train_loss": round(running["total"], 6), "val_mpjpe_mm": round(val_mpjpe, 2),
                   "frames_per_s": round(fps, 1), "minutes": round(minutes, 2)}
            log.write(json.dumps(rec) + "\n")
            log.flush()
            print(f"[train] epoch {epoch + 1}/{tc.epochs}: train MPJPE {rec['train_mpjpe_mm']:.1f} mm, "
                  f"val MPJPE {val_mpjpe:.1f} mm, {fps:.0f} frames/s, {minutes:.1f} min", file=sys.stderr)
            info = {**train_info, "epoch": epoch + 1, "step": step, "minutes": round(minutes, 2)}
            metrics = {"val_mpjpe_mm": round(val_mpjpe, 2), "val_clips": tc.val_clips}
            state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "epoch": epoch,
                     "step": step, "best_mpjpe": best, "minutes": minutes, "torch_rng": torch.get_rng_state()}
            save_checkpoint(make_checkpoint(model, metrics=metrics, train=info, state=state), out / "last.pt")
            snapshot = make_checkpoint(model, metrics=metrics, train=info)  # weights only, no optimiser
            if tc.save_every and (epoch + 1) % tc.save_every == 0:
                save_checkpoint(snapshot, out / f"epoch{epoch + 1:03d}.pt")
            if improved or not (out / "best.pt").exists():
                save_checkpoint(snapshot, out / "best.pt")
        if tc.max_minutes is not None and (time.time() - t_start) / 60.0 >= tc.max_minutes:
            if main:
                print(f"[train] stopping after {tc.max_minutes} min (time budget); resume with --resume",
                      file=sys.stderr)
            break
    if log:
        log.close()
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return {"out": str(out), "epochs_done": epoch + 1, "best_val_mpjpe_mm": best, "last_val_mpjpe_mm": val_mpjpe,
            "steps": step}
