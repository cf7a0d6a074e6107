"""Sliding windows over tracked people, for batched lifting of a whole clip.

A track is present on some frames and absent on others (NaN keypoints). Each maximal run of
present frames (a *segment*) is lifted on its own, so that no window mixes a person's pose with
the edge padding of a gap. Within a segment, windows of the model's length T start every
`stride` frames (the last one moved back to end at the segment's end), and a segment shorter
than T is edge-padded (its last frame repeated). Windows of every track and segment are gathered
into one (W, T, J, C) array, so they can be lifted in large batches, and the predictions are
blended back: where windows overlap, each frame's predictions are averaged with weights that
fall off towards the window's ends (`posemoe.lifter.blend_weights`), so no seam shows.

The whole clip is known before lifting starts, so every frame sees the future as well as the
past frames of its window (the model is not causal).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posemoe.errors import PoseMoEError
from posemoe.lifter import blend_weights, window_starts


@dataclass(frozen=True)
class Window:
    """One window: `track` row, first clip frame `start`, and `real` frames (<= T) before the
    segment ends; frames past `real` are edge padding."""

    track: int
    start: int
    real: int


def present_segments(present: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of True in a (F,) bool array, as [start, end) pairs in frame order."""
    present = np.asarray(present, dtype=bool)
    if present.ndim != 1:
        raise PoseMoEError(f"present: expected a (frames,) bool array, got shape {present.shape}")
    edges = np.diff(np.concatenate([[0], present.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(s), int(e)) for s, e in zip(starts, ends)]


def stride_for(frames: int, overlap: float) -> int:
    """Window step for a window of `frames` and an overlap fraction in [0, 1)."""
    if not 0.0 <= overlap < 1.0:
        raise PoseMoEError(f"overlap: expected a fraction in [0, 1), got {overlap}")
    return max(1, int(round(frames * (1.0 - overlap))))


def plan_windows(present: np.ndarray, frames: int, stride: int) -> list[Window]:
    """Windows covering every present frame of every track. present: (P, F) bool."""
    present = np.asarray(present, dtype=bool)
    if present.ndim != 2:
        raise PoseMoEError(f"present: expected a (people, frames) bool array, got shape {present.shape}")
    plan = []
    for p in range(present.shape[0]):
        for s, e in present_segments(present[p]):
            n = e - s
            for w in window_starts(n, frames, stride):
                plan.append(Window(track=p, start=s + w, real=min(frames, n - w)))
    return plan


def gather(x: np.ndarray, plan: list[Window], frames: int) -> np.ndarray:
    """(P, F, J, C) per-track inputs -> (W, T, J, C) windows, edge-padded past `real` frames."""
    if not plan:
        return np.zeros((0, frames) + x.shape[2:], dtype=x.dtype)
    offsets = np.arange(frames)
    rows = np.array([w.track for w in plan])
    cols = np.stack([w.start + np.minimum(offsets, w.real - 1) for w in plan])  # (W, T)
    return x[rows[:, None], cols]


def blend(preds: np.ndarray, plan: list[Window], shape: tuple[int, int], stride: int) -> np.ndarray:
    """(W, T, J, D) window predictions -> (P, F, J, D) per frame, weighted where windows
    overlap; NaN on frames no window covers (absent)."""
    people, num_frames = shape
    frames = preds.shape[1] if len(preds) else 1
    acc = np.zeros((people, num_frames) + preds.shape[2:])
    wsum = np.zeros((people, num_frames))
    weights = blend_weights(frames, overlap=stride < frames)
    for k, w in enumerate(plan):
        sl = slice(w.start, w.start + w.real)
        acc[w.track, sl] += preds[k, :w.real] * weights[:w.real].reshape((-1,) + (1,) * (preds.ndim - 2))
        wsum[w.track, sl] += weights[:w.real]
    out = np.full(acc.shape, np.nan)
    covered = wsum > 0
    out[covered] = acc[covered] / wsum[covered].reshape((-1,) + (1,) * (preds.ndim - 2))
    return out
