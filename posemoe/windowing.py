"""Sliding windows for lifting sequences of any length with a fixed-window model.

The network sees windows of exactly T = `model.frames` frames. Lifting anything else goes
through the three steps of this module, the one implementation used by `posemoe.lifter`
(`lift_normalized`, `Lifter`; and through them `posemoe.evaluate`) and by the video pipeline
(`pipeline.lift`, one row per tracked person):

1. **Plan** (`plan_windows`): the inputs are R rows (sequences or tracked people) of F frames,
   with a (R, F) mask of the frames that exist. Each maximal run of present frames of a row (a
   *segment*, `present_segments`) is covered on its own, so that no window mixes a segment with
   the padding of a gap. Within a segment of n frames, windows start every `stride` frames
   (`window_starts`) and the last one is moved back to end flush with the segment's end; only a
   segment shorter than T is padded. A `Window` records its row, first frame and how many of its
   T frames are `real` (the rest is padding).
2. **Gather** (`gather_windows`): (R, F, ...) inputs -> (W, T, ...) windows, one per planned
   window in plan order, so they can be run through the model in large batches. Frames past a
   window's `real` frames repeat its last real frame (edge padding).
3. **Blend** (`blend_windows`): (W, T, ...) per-window predictions -> (R, F, ...) per frame.
   Where windows overlap (stride < T), each frame's predictions are averaged with weights that
   fall off towards the window's ends (`blend_weights`), so no seam shows between windows;
   padding frames are never used. Frames no window covers (absent) come out NaN.

`stride_for` turns an overlap fraction into a stride. A single, complete sequence of n frames is
`plan_windows(np.ones((1, n), bool), T, stride)`. Every frame sees the future as well as the past
frames of its window (the model is not causal).

Training clips (`posemoe.data.sliding_windows`, `pad_edge`) follow a different rule on purpose:
their last clip runs past the end, is padded and masked out of the loss (`valid_mask`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from posemoe.errors import PoseMoEError


def stride_for(frames: int, overlap: float) -> int:
    """Window step for windows of `frames` frames that overlap by the fraction `overlap` in
    [0, 1): ``round(frames * (1 - overlap))``, at least 1. 0 = no overlap (stride = frames)."""
    if not 0.0 <= overlap < 1.0:
        raise PoseMoEError(f"overlap: expected a fraction in [0, 1), got {overlap}")
    return max(1, int(round(frames * (1.0 - overlap))))


def window_starts(n: int, frames: int, stride: int) -> list[int]:
    """Start frames of windows of `frames` frames, `stride` apart, covering [0, n). The last
    window is moved back to end at n when n >= frames, so only sequences shorter than one
    window need padding (they get the one window [0])."""
    if not 1 <= stride <= frames:
        raise PoseMoEError(f"stride must be between 1 and the window length {frames}, got {stride}")
    if n <= frames:
        return [0]
    starts = list(range(0, n - frames + 1, stride))
    if starts[-1] + frames < n:
        starts.append(n - frames)
    return starts


def blend_weights(frames: int, overlap: bool) -> np.ndarray:
    """Per-frame weights of one window, (frames,) float64: flat (all 1) without overlap, else a
    raised half sine ``1e-3 + sin(pi (t + 0.5) / frames)``, largest mid-window and never 0, so
    that overlapping windows cross-fade."""
    if not overlap:
        return np.ones(frames, dtype=np.float64)
    ramp = np.sin(np.pi * (np.arange(frames) + 0.5) / frames)  # (0, 1]
    return 1e-3 + ramp


def present_segments(present: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of True in a (F,) bool array, as [start, end) pairs in frame order."""
    present = np.asarray(present, dtype=bool)
    if present.ndim != 1:
        raise PoseMoEError(f"present: expected a (frames,) bool array, got shape {present.shape}")
    edges = np.diff(np.concatenate([[0], present.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(s), int(e)) for s, e in zip(starts, ends)]


@dataclass(frozen=True)
class Window:
    """One window: input `row`, first frame `start`, and the number of `real` frames (<= T)
    before its segment ends; its frames past `real` are edge padding."""

    row: int
    start: int
    real: int


@dataclass(frozen=True)
class WindowPlan:
    """The windows covering every present frame of (R, F) = `shape` inputs, `frames` (T) long
    and `stride` apart within each segment, in order of row, then segment, then start.
    ``len(plan)`` is the number of windows W; iterating yields the `Window`s."""

    frames: int
    stride: int
    shape: tuple[int, int]
    windows: tuple[Window, ...]

    @property
    def overlap(self) -> bool:
        """Whether windows overlap (stride < T), i.e. whether blending cross-fades them."""
        return self.stride < self.frames

    def __len__(self) -> int:
        return len(self.windows)

    def __iter__(self) -> Iterator[Window]:
        return iter(self.windows)


def plan_windows(present: np.ndarray, frames: int, stride: int) -> WindowPlan:
    """Windows of `frames` frames covering every present frame of every row.

    present: (R, F) bool, True where a row has an input frame. Each segment (maximal run of
    present frames) gets its own windows (`window_starts`), so no window reaches into a gap."""
    present = np.asarray(present, dtype=bool)
    if present.ndim != 2:
        raise PoseMoEError(f"present: expected a (people, frames) bool array, got shape {present.shape}")
    window_starts(frames, frames, stride)  # checks the stride even when nothing is present
    windows = []
    for row in range(present.shape[0]):
        for s, e in present_segments(present[row]):
            n = e - s
            for w in window_starts(n, frames, stride):
                windows.append(Window(row=row, start=s + w, real=min(frames, n - w)))
    return WindowPlan(frames=int(frames), stride=int(stride), shape=(int(present.shape[0]), int(present.shape[1])),
                      windows=tuple(windows))


def gather_windows(x: np.ndarray, plan: WindowPlan) -> np.ndarray:
    """(R, F, ...) inputs -> (W, T, ...) windows in plan order, a copy; frames past a window's
    `real` frames repeat its last real frame (edge padding)."""
    if x.shape[:2] != plan.shape:
        raise PoseMoEError(f"windows: inputs of shape {x.shape[:2]} (rows, frames) do not match the plan's "
                           f"{plan.shape}")
    if not plan.windows:
        return np.zeros((0, plan.frames) + x.shape[2:], dtype=x.dtype)
    rows = np.array([w.row for w in plan.windows])
    starts = np.array([w.start for w in plan.windows])
    last = np.array([w.real for w in plan.windows]) - 1
    cols = starts[:, None] + np.minimum(np.arange(plan.frames)[None, :], last[:, None])  # (W, T)
    return x[rows[:, None], cols]


def blend_windows(preds: np.ndarray, plan: WindowPlan) -> np.ndarray:
    """(W, T, ...) per-window predictions in plan order -> (R, F, ...) float64 per frame: the
    `blend_weights`-weighted mean over the windows covering a frame (padding frames excluded);
    NaN on frames no window covers (absent)."""
    if len(preds) != len(plan) or (len(preds) and preds.shape[1] != plan.frames):
        raise PoseMoEError(f"windows: expected predictions of shape ({len(plan)}, {plan.frames}, ...), "
                           f"got {preds.shape}")
    rows, num_frames = plan.shape
    tail = (1,) * (preds.ndim - 2)  # broadcast a per-frame weight over the trailing axes
    acc = np.zeros((rows, num_frames) + preds.shape[2:])
    wsum = np.zeros((rows, num_frames))
    weights = blend_weights(plan.frames, plan.overlap)
    for k, w in enumerate(plan.windows):
        sl = slice(w.start, w.start + w.real)
        acc[w.row, sl] += preds[k, :w.real] * weights[:w.real].reshape((-1,) + tail)
        wsum[w.row, sl] += weights[:w.real]
    out = np.full(acc.shape, np.nan)
    covered = wsum > 0
    out[covered] = acc[covered] / wsum[covered].reshape((-1,) + tail)
    return out
