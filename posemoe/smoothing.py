"""Temporal smoothing of 3D pose tracks: less frame-to-frame jitter, no lag.

A pose lifted from each frame's 2D keypoints shakes a little from frame to frame even when the
person is still. The filters here smooth a time series of poses along its time axis. All of
them are SciPy's own implementations; this module only converts the parameters from time units
(seconds, Hz) to frames, splits the series at gaps and handles the segment ends.

Filters (the ``--smooth SPEC`` strings of the command line, parsed by :func:`parse_smoothing`)
-------------------------------------------------------------------------------------------------

``none``
    The poses pass unchanged.

``gaussian[:SIGMA_S]``
    Gaussian-weighted moving average (``scipy.ndimage.gaussian_filter1d``); ``SIGMA_S`` is the
    standard deviation of the Gaussian in seconds (default 0.04 s), the kernel reaches to
    ±3 sigma. Symmetric, so it does not delay the motion; it keeps straight-line motion exactly
    and rounds off sharp turns and peaks over about ±sigma.

``savgol[:WINDOW_S[,ORDER]]``
    Savitzky-Golay filter (``scipy.signal.savgol_filter``): a polynomial of degree ``ORDER``
    (default 2) fitted by least squares over a sliding window of ``WINDOW_S`` seconds (default
    0.3 s) from its first to its last frame (an odd number of frames, so 0.3 s is 9 frames at
    25 fps and 17 at 50 fps), evaluated at the window's centre. Keeps polynomial motion up to
    that degree exactly and preserves peaks better than a moving average of the same width, but
    removes less high-frequency noise. No delay.

``butter[:CUTOFF_HZ[,ORDER]]``
    Zero-phase Butterworth low-pass (``scipy.signal.butter(..., output="sos")`` run forwards
    and backwards by ``scipy.signal.sosfiltfilt``): removes motion faster than ``CUTOFF_HZ``
    (default 4 Hz); ``ORDER`` (default 2) is the order of the filter, which the forward-backward
    pass doubles. No delay. Where the cutoff is at or above half the frame rate (the Nyquist
    frequency) there is nothing for it to remove and the poses pass unchanged.

Every parameter is in seconds or Hz, so one spec smooths a 25 fps and a 60 fps video of the same
motion the same way. A one-directional (causal) filter, which is what a live system would have to
use, delays the motion; it is not offered here (``examples/smoothing_tradeoff.py`` measures one
as a reference).

Gaps and segment ends
---------------------
The input has time on axis 0, shape ``(F, ...)`` (e.g. ``(F, 17, 3)`` joints or ``(F, 3)``). A
frame counts as present only where all its values are finite. Frames with any NaN (the person is
absent) split the series into segments of consecutive present frames; each segment is smoothed
on its own, so nothing is carried across a gap, and the absent frames are returned exactly as
they came in (NaN stays NaN).

At both ends of a segment the filters see the segment extended by point reflection (odd
extension: ``2 * x[0] - x[k]``), so a person moving at constant velocity is kept exactly up to
the last frame (the Butterworth filter's extension spans 1.5 * ORDER periods of its cutoff); the
Savitzky-Golay filter instead fits its polynomial to the first/last window (``mode="interp"``).
The end frames are therefore smoothed less than the middle of a segment.

Segments shorter than the filter: segments of 1 or 2 frames are left as they are. For longer
ones the filter is shortened to fit: the Gaussian's sigma is reduced so that ±3 sigma fits in the
segment; the Savitzky-Golay window is cut to the largest odd number of frames the segment holds
(and where that is not more than ``ORDER + 1`` frames the segment is left as it is, as such a
polynomial fit would reproduce it anyway); the Butterworth filter's cutoff is raised until its end
extension (1.5 * ORDER periods of the cutoff) fits in the segment, and where that reaches half the
frame rate (segments of at most 3 * ORDER + 1 frames) the segment is left as it is; for
``butter:4,2`` that is full strength from 20 frames on at 25 fps (24 at 30 fps), and segments of
up to 7 frames unchanged.

Default and why
---------------
``DEFAULT_SMOOTHING = "butter:4,2"``: zero-phase Butterworth, 4 Hz cutoff, order 2 (it halves
motion at 4 Hz and keeps slower motion nearly untouched). Chosen with
``examples/smoothing_tradeoff.py`` (tables and rerun commands in ``docs/smoothing.md``) by this
rule: of the zero-phase settings that, on the synthetic walk test clip with exact 3D truth
(``examples/synthetic_walk.mp4``, 25 fps), cost at most 1 mm MPJPE, add no lag and keep at least
90 % of the waving wrist's true peak speed when applied to the true motion, the one that removes
the most jitter (mean joint acceleration) on the real test clips. Measured:

- synthetic walk: jitter 5.5 -> 2.7 mm/frame^2 (the true motion's own acceleration is 2.6),
  acceleration error to the truth 5.5 -> 2.5 mm/frame^2, MPJPE 58.7 -> 58.5 mm, lag against the
  unsmoothed output +0.03 frames; on the true motion it adds 0.3 mm of error and keeps 94 % of
  the wrist's peak speed;
- real clips (tennis 30 fps, two people 28 fps, a portrait dribble at 12 fps): the jitter drops
  to 37 %, 33 % and 82 % of the unsmoothed output's, moving the joints by 2.4, 2.1 and 2.5 mm on
  average, with no lag (within 0.01 frames).

``savgol:0.3,2`` came close (about 51 % of the jitter on average over the real clips, like this
filter, but 92 % of the wrist speed against 94 %); ``gaussian:0.04`` removes about as much
jitter but blurs the true motion more (1.2 mm added, 90 % of the wrist speed): a Gaussian already
damps slow motion that a Butterworth filter passes. Wider settings remove more jitter and flatten
fast movements. A one-directional filter (``butter:6,2`` run forwards only) is 0.90 frames late and adds 6.8 mm of
error to the true motion, where its zero-phase version adds 0.0 mm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from posemoe.errors import PoseMoEError

__all__ = ["Smoothing", "parse_smoothing", "finite_segments", "DEFAULT_SMOOTHING", "SPEC_HELP"]

DEFAULT_SMOOTHING: str = "butter:4,2"
"""The smoothing the pipeline applies unless told otherwise (see the module docstring)."""

SPEC_HELP: str = "none, gaussian[:SIGMA_S], savgol[:WINDOW_S[,ORDER]] or butter[:CUTOFF_HZ[,ORDER]]"
"""The spec grammar in one line, for help texts and error messages."""

KINDS: tuple[str, ...] = ("none", "gaussian", "savgol", "butter")

# defaults of the parameters a spec may leave out
DEFAULT_SIGMA_S = 0.04
DEFAULT_WINDOW_S = 0.3
DEFAULT_SAVGOL_ORDER = 2
DEFAULT_CUTOFF_HZ = 4.0
DEFAULT_BUTTER_ORDER = 2

GAUSSIAN_TRUNCATE = 3.0  # the Gaussian kernel reaches to +- this many sigmas
BUTTER_PAD_PERIODS_PER_ORDER = 1.5  # Butterworth: odd extension of 1.5 * ORDER cutoff periods at each end
MIN_SEGMENT = 3  # segments with fewer present frames are left as they are
MAX_SAVGOL_ORDER = 6
MAX_BUTTER_ORDER = 8



def _example(kind: str) -> str:
    """'e.g. --smooth SPEC' with the defaults of ``kind`` (the overall default for others)."""
    spec = {"gaussian": f"gaussian:{_fmt(DEFAULT_SIGMA_S)}",
            "savgol": f"savgol:{_fmt(DEFAULT_WINDOW_S)},{DEFAULT_SAVGOL_ORDER}",
            "butter": f"butter:{_fmt(DEFAULT_CUTOFF_HZ)},{DEFAULT_BUTTER_ORDER}"}.get(kind, DEFAULT_SMOOTHING)
    return f"e.g. --smooth {spec}"


def _fmt(v: float) -> str:
    """A number as the shortest text that reads back to the same float ('6' rather than '6.0')."""
    s = repr(float(v))
    return s[:-2] if s.endswith(".0") else s


def finite_segments(x: np.ndarray) -> list[tuple[int, int]]:
    """The runs of present frames of ``x`` (time on axis 0) as ``[(start, stop), ...]`` half-open
    frame ranges, in order. A frame is present where all its values are finite."""
    a = np.asarray(x)
    if a.ndim == 0:
        raise PoseMoEError("finite_segments: expected an array with time on axis 0, got a scalar")
    ok = np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1) if a.shape[0] else np.zeros(0, bool)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(np.int8), [0]])))
    return [(int(s), int(e)) for s, e in zip(edges[::2], edges[1::2])]


@dataclass(frozen=True)
class Smoothing:
    """A temporal smoothing filter with its parameters in frame-rate-independent units.

    Attributes:
        kind: ``"none"``, ``"gaussian"``, ``"savgol"`` or ``"butter"``.
        sigma_s: Gaussian only: standard deviation of the kernel, seconds.
        window_s: Savitzky-Golay only: window length, seconds (rounded to an odd frame count).
        cutoff_hz: Butterworth only: low-pass cutoff frequency, Hz.
        order: Savitzky-Golay: polynomial degree; Butterworth: filter order (before the
            forward-backward pass doubles it).

    Parameters that do not belong to ``kind`` must be left ``None``; those that do and are left
    ``None`` take the module defaults. Invalid values raise :class:`PoseMoEError`.
    """

    kind: str = "none"
    sigma_s: float | None = None
    window_s: float | None = None
    cutoff_hz: float | None = None
    order: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise PoseMoEError(f"--smooth: unknown filter {self.kind!r}; use {SPEC_HELP} ({_example('')})")
        own = {"none": (), "gaussian": ("sigma_s",), "savgol": ("window_s", "order"),
               "butter": ("cutoff_hz", "order")}[self.kind]
        for name in ("sigma_s", "window_s", "cutoff_hz", "order"):
            if name not in own and getattr(self, name) is not None:
                raise PoseMoEError(f"--smooth: filter {self.kind!r} takes no {name}; use {SPEC_HELP} "
                                   f"({_example(self.kind)})")
        defaults: dict[str, Any] = {
            "gaussian": {"sigma_s": DEFAULT_SIGMA_S},
            "savgol": {"window_s": DEFAULT_WINDOW_S, "order": DEFAULT_SAVGOL_ORDER},
            "butter": {"cutoff_hz": DEFAULT_CUTOFF_HZ, "order": DEFAULT_BUTTER_ORDER},
        }.get(self.kind, {})
        for name, value in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        for name, what in (("sigma_s", "SIGMA_S (seconds)"), ("window_s", "WINDOW_S (seconds)"),
                           ("cutoff_hz", "CUTOFF_HZ (Hz)")):
            v = getattr(self, name)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise PoseMoEError(f"--smooth {self.kind}: {what} must be a number > 0, got {v!r}; "
                                   f"give a positive value ({_example(self.kind)})")
            object.__setattr__(self, name, float(v))
        if self.order is not None:
            lo, hi = (0, MAX_SAVGOL_ORDER) if self.kind == "savgol" else (1, MAX_BUTTER_ORDER)
            o = self.order
            if isinstance(o, bool) or not isinstance(o, (int, np.integer)) or not lo <= o <= hi:
                raise PoseMoEError(f"--smooth {self.kind}: ORDER must be a whole number from {lo} to {hi}, "
                                   f"got {o!r}; e.g. --smooth {self.kind}:{_fmt(self._main_param())},2")
            object.__setattr__(self, "order", int(o))

    def _main_param(self) -> float:
        v = {"gaussian": self.sigma_s, "savgol": self.window_s, "butter": self.cutoff_hz}.get(self.kind)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 1.0

    def __str__(self) -> str:
        """The spec string (``parse_smoothing(str(s)) == s``), with every parameter written out."""
        if self.kind == "none":
            return "none"
        if self.kind == "gaussian":
            return f"gaussian:{_fmt(self.sigma_s)}"  # type: ignore[arg-type]
        if self.kind == "savgol":
            return f"savgol:{_fmt(self.window_s)},{self.order}"  # type: ignore[arg-type]
        return f"butter:{_fmt(self.cutoff_hz)},{self.order}"  # type: ignore[arg-type]

    def describe(self) -> dict[str, Any]:
        """A JSON-able record of the filter for results files: the spec, the parameters with
        their units, the SciPy function used and how gaps and segment ends are treated."""
        d: dict[str, Any] = {"spec": str(self), "kind": self.kind}
        if self.kind == "none":
            d["function"] = None
            return d
        if self.kind == "gaussian":
            d.update(sigma_s=self.sigma_s, truncate_sigmas=GAUSSIAN_TRUNCATE,
                     function="scipy.ndimage.gaussian_filter1d", ends="odd extension")
        elif self.kind == "savgol":
            d.update(window_s=self.window_s, polyorder=self.order, function="scipy.signal.savgol_filter",
                     ends="polynomial fit to the end window (mode='interp')")
        else:
            d.update(cutoff_hz=self.cutoff_hz, filter_order=self.order,
                     function="scipy.signal.butter(output='sos') + scipy.signal.sosfiltfilt",
                     ends=f"odd extension over {BUTTER_PAD_PERIODS_PER_ORDER * self.order:g} cutoff periods")
        d.update(zero_phase=True, gaps="NaN frames split the series; segments are smoothed separately",
                 short_segments="a shorter filter where the segment is shorter than this one",
                 min_segment_frames=MIN_SEGMENT)
        return d

    # --------------------------------------------------------------------------- filtering

    def apply(self, x: np.ndarray, fps: float) -> np.ndarray:
        """Smooth ``x`` along axis 0 (time), sampled at ``fps`` frames per second.

        Args:
            x: array of shape ``(F, ...)``; frames with any non-finite value are absent.
            fps: frame rate of ``x``, > 0.

        Returns:
            A new array of the same shape (and floating dtype; float64 for integer input) with
            every segment of present frames smoothed separately and the absent frames as given.

        Raises:
            PoseMoEError: if ``x`` has no time axis or ``fps`` is not a positive number.
        """
        a = np.asarray(x)
        if a.ndim == 0:
            raise PoseMoEError(f"smoothing: expected an array with time on axis 0, shape (F, ...), got {a.shape}")
        if isinstance(fps, bool) or not isinstance(fps, (int, float, np.number)) or not math.isfinite(fps) \
                or fps <= 0:
            raise PoseMoEError(f"smoothing: fps must be a number > 0, got {fps!r}")
        dtype = a.dtype if np.issubdtype(a.dtype, np.floating) else np.float64
        out = np.array(a, dtype=dtype, copy=True)
        if self.kind == "none" or a.shape[0] == 0:
            return out
        flat = out.reshape(a.shape[0], -1)  # a view into out
        for start, stop in finite_segments(a):
            if stop - start < MIN_SEGMENT:
                continue
            seg = flat[start:stop].astype(np.float64)
            flat[start:stop] = self._filter_segment(seg, float(fps))
        return out

    def _filter_segment(self, seg: np.ndarray, fps: float) -> np.ndarray:
        """Smooth one gap-free segment ``(n, D)``, n >= MIN_SEGMENT, float64."""
        # imported here: scipy.signal takes ~0.4 s to import, which commands that never smooth
        # (and `posemoe --help`) need not wait for
        from scipy.ndimage import gaussian_filter1d
        from scipy.signal import butter, savgol_filter, sosfiltfilt

        n = seg.shape[0]
        if self.kind == "gaussian":
            sigma = self.sigma_s * fps  # type: ignore[operator]
            sigma = min(sigma, (n - 1) / GAUSSIAN_TRUNCATE)  # +-3 sigma must fit in the segment
            radius = int(math.ceil(GAUSSIAN_TRUNCATE * sigma - 1e-9))
            if radius < 1:
                return seg
            ext = np.pad(seg, ((radius, radius), (0, 0)), mode="reflect", reflect_type="odd")
            return gaussian_filter1d(ext, sigma, axis=0, mode="nearest", radius=radius)[radius:radius + n]
        if self.kind == "savgol":
            order = int(self.order)  # type: ignore[arg-type]
            # odd number of frames whose first and last are WINDOW_S apart (as near as the frames allow)
            window = 2 * int(round(self.window_s * fps / 2.0)) + 1  # type: ignore[operator]
            window = min(max(window, 1), n if n % 2 else n - 1)
            if window <= order + 1:
                return seg
            return savgol_filter(seg, window, order, axis=0, mode="interp")
        # butter: the ends are extended (odd extension) by 1.5 * ORDER periods of the cutoff, so the
        # start-up transient has died out where the segment begins (sosfiltfilt's own default is a
        # few samples). A segment too short for that gets a higher cutoff (a shorter filter).
        order = int(self.order)  # type: ignore[arg-type]
        periods = BUTTER_PAD_PERIODS_PER_ORDER * order
        cutoff = max(float(self.cutoff_hz), periods * fps / (n - 1))  # type: ignore[arg-type]
        if cutoff >= fps / 2.0:  # nothing above the cutoff at this frame rate
            return seg
        sos = butter(order, cutoff, btype="lowpass", output="sos", fs=fps)
        pad = min(int(math.ceil(periods * fps / cutoff)), n - 1)
        return sosfiltfilt(sos, seg, axis=0, padtype="odd", padlen=pad)


def parse_smoothing(spec: str) -> Smoothing:
    """Parse a ``--smooth`` spec: ``none``, ``gaussian[:SIGMA_S]``, ``savgol[:WINDOW_S[,ORDER]]`` or
    ``butter[:CUTOFF_HZ[,ORDER]]`` (seconds and Hz; case and surrounding spaces ignored).

    Examples: ``gaussian``, ``gaussian:0.04``, ``savgol:0.3,2``, ``butter:6``.

    Raises:
        PoseMoEError: with one line saying what is wrong and how to write it instead.
    """
    if not isinstance(spec, str):
        raise PoseMoEError(f"--smooth: expected a text spec, got {spec!r}; use {SPEC_HELP} ({_example('')})")
    text = spec.strip().lower()
    kind, sep, rest = text.partition(":")
    kind = kind.strip()
    if kind not in KINDS:
        shown = kind if kind else text
        raise PoseMoEError(f"--smooth: unknown filter {shown!r}; use {SPEC_HELP} ({_example('')})")
    if kind == "none":
        if sep:
            raise PoseMoEError(f"--smooth: 'none' takes no parameters, got {spec.strip()!r}; write just none")
        return Smoothing("none")
    params = [p.strip() for p in rest.split(",")] if sep else []
    names = {"gaussian": ("SIGMA_S",), "savgol": ("WINDOW_S", "ORDER"), "butter": ("CUTOFF_HZ", "ORDER")}[kind]
    form = {"gaussian": "gaussian[:SIGMA_S]", "savgol": "savgol[:WINDOW_S[,ORDER]]",
            "butter": "butter[:CUTOFF_HZ[,ORDER]]"}[kind]
    if len(params) > len(names) or any(p == "" for p in params):
        raise PoseMoEError(f"--smooth: {spec.strip()!r} does not match {form}; "
                           f"e.g. --smooth {kind}:{_fmt(Smoothing(kind)._main_param())}")
    value: float | None = None
    order: int | None = None
    if params:
        try:
            value = float(params[0])
        except ValueError:
            unit = "seconds" if kind != "butter" else "Hz"
            raise PoseMoEError(f"--smooth: {names[0]} in {spec.strip()!r} must be a number of {unit}, "
                               f"got {params[0]!r}; e.g. --smooth {kind}:"
                               f"{_fmt(Smoothing(kind)._main_param())}") from None
    if len(params) == 2:
        try:
            order = int(params[1])
        except ValueError:
            raise PoseMoEError(f"--smooth: ORDER in {spec.strip()!r} must be a whole number, got {params[1]!r}; "
                               f"e.g. --smooth {kind}:{params[0]},2") from None
    if kind == "gaussian":
        return Smoothing("gaussian", sigma_s=value)
    if kind == "savgol":
        return Smoothing("savgol", window_s=value, order=order)
    return Smoothing("butter", cutoff_hz=value, order=order)
