"""Multi-person tracking: per-frame 2D detections -> per-person keypoint tracks over a video.

A 2D keypoint detector gives, for every frame, an unordered list of people (``Detection``).
``Tracker`` links them over time into identities, and ``Tracker.finalize`` turns the links into
dense arrays (``Tracks``) that the lifting network can consume person by person.

Joint layout is Human3.6M-17 (``posemoe.skeleton.H36M17``); all coordinates are image pixels.

Matching, frame by frame:

* every live track is predicted to the current frame with a constant-velocity model of its box
  centre (the whole box and all keypoints are shifted by ``velocity * frames since last seen``;
  limbs are not extrapolated one by one, because swinging arms and legs are not constant-velocity);
* similarity of (predicted track, detection) = mean of box IoU and an OKS-like keypoint
  similarity (only joints scoring >= ``joint_threshold`` in both; box IoU alone when none are);
* the one-to-one assignment maximising total similarity is solved exactly
  (``scipy.optimize.linear_sum_assignment``); pairs with similarity below ``min_similarity`` are
  rejected;
* unmatched detections start new tracks. A track unseen for more than ``max_gap`` frames is no
  longer matchable frame to frame.

Coming back (``finalize``): a person who left the frame or was hidden for longer than
``max_gap`` frames starts a new track when seen again. Once the whole clip is tracked, a track
that starts after another one ended (at most ``reid_gap`` frames later) is joined to it, keeping
the earlier id, when the two look alike: the colours of torso and legs
(``pipeline.appearance``; mean over the last / first 15 descriptions, distance at most
``reid_distance``) and the person's height in the frame (within a factor ``reid_size_ratio``).
The most alike pairs are joined first; a track is joined to at most one before and one after it.
Detections without an appearance (``Detection.appearance`` None) are never joined this way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from pipeline.appearance import appearance_distance
from pipeline.pose2d.base import DEFAULT_JOINT_THRESHOLD, NUM_JOINTS, Detection, box_area, box_iou
from posemoe.errors import PoseMoEError


# Per-joint OKS falloff constants kappa_j = 2 * sigma_j, with sigma_j taken from the COCO keypoint
# sigmas of the matching (or nearest) COCO joint: hips for pelvis/spine, shoulders for thorax,
# nose for neck_nose, ears for head.
_SIGMAS = np.array(
    [0.107, 0.107, 0.087, 0.089, 0.107, 0.087, 0.089, 0.107, 0.079, 0.026, 0.035,
     0.079, 0.072, 0.062, 0.079, 0.072, 0.062],
    dtype=np.float64,
)
_KAPPA = 2.0 * _SIGMAS
_VELOCITY_SMOOTHING = 0.5  # weight of the newest velocity measurement in the running estimate
_GUESSED_SCORE_FACTOR = 0.5  # interpolated joint scores are multiplied by this


@dataclass
class Tracks:
    """Per-person keypoint tracks over a video of F frames (P people, ordered by id).

    track_ids: (P,) int64, the ids ``Tracker.update`` returned (not renumbered after dropping).
    keypoints: (P, F, 17, 2) float32 pixels; NaN where the person is absent.
    scores: (P, F, 17) float32 joint confidences; 0 where absent, observed score x 0.5 (linearly
        interpolated) on interpolated frames.
    present: (P, F) bool, observed or interpolated.
    interpolated: (P, F) bool, filled in by interpolation across a short gap (subset of present).
    low_confidence: (P, F, 17) bool, present and joint score < joint_threshold (the joint is kept,
        not NaN; downstream code decides what to do with it).
    """

    track_ids: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray
    present: np.ndarray
    interpolated: np.ndarray
    low_confidence: np.ndarray

    @property
    def num_people(self) -> int:
        """P."""
        return int(self.track_ids.shape[0])

    @property
    def num_frames(self) -> int:
        """F."""
        return int(self.present.shape[1])


@dataclass
class _Track:
    """Internal state of one track: its observations and a constant-velocity motion estimate."""

    track_id: int
    frames: list[int] = field(default_factory=list)
    keypoints: list[np.ndarray] = field(default_factory=list)  # each (17, 2)
    scores: list[np.ndarray] = field(default_factory=list)  # each (17,)
    boxes: list[np.ndarray] = field(default_factory=list)  # each (4,)
    person_scores: list[float] = field(default_factory=list)
    appearances: list[np.ndarray | None] = field(default_factory=list)
    velocity: np.ndarray | None = None  # (2,) px/frame of the box centre; None until seen twice

    @property
    def last_frame(self) -> int:
        return self.frames[-1]

    def add(self, frame: int, det: Detection) -> None:
        if self.frames:
            dt = frame - self.last_frame
            step = (_centre(det.box) - _centre(self.boxes[-1])) / dt
            if self.velocity is None:
                self.velocity = step
            else:
                self.velocity = _VELOCITY_SMOOTHING * step + (1.0 - _VELOCITY_SMOOTHING) * self.velocity
        self.frames.append(frame)
        self.keypoints.append(det.keypoints)
        self.scores.append(det.scores)
        self.boxes.append(det.box)
        self.person_scores.append(float(det.score))
        self.appearances.append(det.appearance)

    def looks(self, first: bool, n: int = 15) -> np.ndarray | None:
        """Mean appearance over the first (or last) `n` descriptions, or None without any."""
        seen = [a for a in (self.appearances if first else self.appearances[::-1]) if a is not None][:n]
        return np.mean(seen, axis=0) if seen else None

    def height(self, first: bool, n: int = 10) -> float:
        """Median box height (px) over the first (or last) `n` observations."""
        boxes = self.boxes[:n] if first else self.boxes[-n:]
        return float(np.median([b[3] - b[1] for b in boxes]))

    def extend(self, later: "_Track") -> None:
        """Append a later track's observations (it starts after this one ends)."""
        self.frames += later.frames
        self.keypoints += later.keypoints
        self.scores += later.scores
        self.boxes += later.boxes
        self.person_scores += later.person_scores
        self.appearances += later.appearances

    def predict(self, frame: int, use_velocity: bool) -> tuple[np.ndarray, np.ndarray]:
        """Box (4,) and keypoints (17, 2) expected at ``frame`` (pixels)."""
        box, kp = self.boxes[-1], self.keypoints[-1]
        if not use_velocity or self.velocity is None:
            return box, kp
        shift = self.velocity * (frame - self.last_frame)
        return box + np.concatenate([shift, shift]), kp + shift


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3])])


def keypoint_similarity(
    kp_a: np.ndarray, sc_a: np.ndarray, kp_b: np.ndarray, sc_b: np.ndarray, area: float, thr: float
) -> float | None:
    """OKS-like similarity in [0, 1] of two (17, 2) poses, or None when no joint is usable.

    Only joints scoring >= ``thr`` in both poses count. Per joint ``exp(-d^2 / (2 s^2 kappa_j^2))``
    with d the pixel distance, s^2 = ``area`` (px^2, the person's box area) and kappa_j from the
    COCO keypoint sigmas; the result is the mean over the usable joints.
    """
    use = (sc_a >= thr) & (sc_b >= thr) & np.isfinite(kp_a).all(-1) & np.isfinite(kp_b).all(-1)
    if not use.any():
        return None
    d2 = ((kp_a[use] - kp_b[use]) ** 2).sum(-1)
    s2 = max(area, 1.0)
    return float(np.exp(-d2 / (2.0 * s2 * _KAPPA[use] ** 2)).mean())


def _linear_assignment(cost: np.ndarray) -> list[tuple[int, int]]:
    """Minimum-cost one-to-one assignment of a (n, m) cost matrix: min(n, m) sorted (row, col) pairs."""
    if cost.size == 0:
        return []
    if cost.shape[0] == 1:  # one track or one detection: the cheapest pair is the assignment
        return [(0, int(np.argmin(cost[0])))]
    if cost.shape[1] == 1:
        return [(int(np.argmin(cost[:, 0])), 0)]
    # imported on first use: scipy.optimize takes ~0.2 s to import, before the 2D pass could
    # start if imported with this module, and a clip with one person never needs it
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cost)
    return sorted(zip(rows.tolist(), cols.tolist()))


def match(similarity: np.ndarray, min_similarity: float) -> list[tuple[int, int]]:
    """One-to-one (track, detection) pairs maximising total similarity, pairs < min_similarity rejected.

    similarity: (T, D). A rejected pair counts as 0 in the objective (the same as leaving both
    unmatched), so the result is the best assignment among the acceptable pairs only.
    """
    if similarity.size == 0:
        return []
    gain = np.where(similarity >= min_similarity, similarity, 0.0)
    pairs = _linear_assignment(-gain)
    return [(t, d) for t, d in pairs if similarity[t, d] >= min_similarity]


class Tracker:
    """Links per-frame detections into person tracks (see the module docstring for the method).

    max_people: keep at most this many tracks in ``finalize`` (largest sum of person score).
    max_gap: a track unseen for more than this many frames can no longer be matched (the person
        gets a new id if they come back); gaps up to this length are interpolated by ``finalize``.
    min_similarity: minimum track/detection similarity (in [0, 1]) for a match.
    min_track_length: tracks observed on fewer frames are dropped by ``finalize``.
    joint_threshold: joint score below which a joint is ignored for matching and flagged
        ``low_confidence`` in the output.
    use_velocity: predict each track's position over the frames since it was last seen with a
        constant-velocity model of its box centre (on by default; off only for comparisons).
    reid_gap, reid_distance, reid_size_ratio: joining a track to an earlier one when a person
        comes back (see the module docstring); ``reid_gap=0`` turns it off.
    """

    def __init__(
        self,
        max_people: int | None = None,
        max_gap: int = 10,
        min_similarity: float = 0.2,
        min_track_length: int = 3,
        joint_threshold: float = DEFAULT_JOINT_THRESHOLD,
        use_velocity: bool = True,
        reid_gap: int = 900,
        reid_distance: float = 0.3,
        reid_size_ratio: float = 1.5,
    ) -> None:
        if max_people is not None and max_people < 1:
            raise PoseMoEError(f"Tracker: max_people must be >= 1 or None (no limit), found {max_people}")
        if max_gap < 0:
            raise PoseMoEError(f"Tracker: max_gap must be >= 0 frames, found {max_gap}")
        if not 0.0 <= min_similarity <= 1.0:
            raise PoseMoEError(f"Tracker: min_similarity must be in [0, 1], found {min_similarity}")
        if min_track_length < 1:
            raise PoseMoEError(f"Tracker: min_track_length must be >= 1 frame, found {min_track_length}")
        if not 0.0 <= joint_threshold <= 1.0:
            raise PoseMoEError(f"Tracker: joint_threshold must be in [0, 1], found {joint_threshold}")
        self.max_people = max_people
        self.max_gap = int(max_gap)
        self.min_similarity = float(min_similarity)
        self.min_track_length = int(min_track_length)
        self.joint_threshold = float(joint_threshold)
        self.use_velocity = bool(use_velocity)
        if reid_gap < 0 or not 0.0 <= reid_distance <= 1.0 or reid_size_ratio < 1.0:
            raise PoseMoEError(f"Tracker: expected reid_gap >= 0, reid_distance in [0, 1] and reid_size_ratio >= 1, "
                               f"found {reid_gap}, {reid_distance}, {reid_size_ratio}")
        self.reid_gap = int(reid_gap)
        self.reid_distance = float(reid_distance)
        self.reid_size_ratio = float(reid_size_ratio)
        self._tracks: list[_Track] = []  # index == track id
        self._last_frame: int | None = None

    def similarity(self, track: _Track, frame_index: int, det: Detection) -> float:
        """Similarity in [0, 1] of a track (predicted to ``frame_index``) and a detection."""
        box, kp = track.predict(frame_index, self.use_velocity)
        iou = box_iou(box, det.box)
        area = 0.5 * (box_area(box) + box_area(det.box))
        oks = keypoint_similarity(kp, track.scores[-1], det.keypoints, det.scores, area, self.joint_threshold)
        return iou if oks is None else 0.5 * (iou + oks)

    def update(self, frame_index: int, detections: Sequence[Detection]) -> list[int]:
        """Assign the detections of one frame to tracks; returns one track id per detection.

        frame_index: 0-based, strictly increasing from call to call (frames without detections may
        be skipped or passed with an empty list). A detection gets -1 (dropped) when none of its
        joints scores >= joint_threshold: there is nothing reliable to track. Ids of new tracks are
        the next free small integers, in order of first appearance (then detection order). An id
        returned here may still be dropped by ``finalize`` (too short, or beyond max_people).
        """
        frame_index = int(frame_index)
        if frame_index < 0:
            raise PoseMoEError(f"Tracker.update: frame_index must be >= 0, found {frame_index}")
        if self._last_frame is not None and frame_index <= self._last_frame:
            raise PoseMoEError(
                f"Tracker.update: frame indices must strictly increase, got {frame_index} after "
                f"{self._last_frame}; feed frames in order, once each"
            )
        for det in detections:
            if not isinstance(det, Detection):
                raise PoseMoEError(
                    f"Tracker.update: expected a list of Detection, found {type(det).__name__}; "
                    "wrap detector output in pipeline.track.Detection"
                )
        self._last_frame = frame_index

        ids = [-1] * len(detections)
        usable = [i for i, d in enumerate(detections) if (d.scores >= self.joint_threshold).any()]
        live = [t for t in self._tracks if frame_index - t.last_frame - 1 <= self.max_gap]
        sim = np.zeros((len(live), len(usable)))
        for a, track in enumerate(live):
            for b, i in enumerate(usable):
                sim[a, b] = self.similarity(track, frame_index, detections[i])
        matched = set()
        for a, b in match(sim, self.min_similarity):
            i = usable[b]
            live[a].add(frame_index, detections[i])
            ids[i] = live[a].track_id
            matched.add(i)
        for i in usable:
            if i not in matched:
                track = _Track(track_id=len(self._tracks))
                track.add(frame_index, detections[i])
                self._tracks.append(track)
                ids[i] = track.track_id
        return ids

    def _joined(self) -> list[_Track]:
        """The tracks with people who came back joined to their earlier track (copies; see the
        module docstring), ordered by id."""
        tracks = [_Track(t.track_id, frames=list(t.frames), keypoints=list(t.keypoints), scores=list(t.scores),
                         boxes=list(t.boxes), person_scores=list(t.person_scores), appearances=list(t.appearances))
                  for t in self._tracks]
        if self.reid_gap <= 0 or len(tracks) < 2:
            return tracks
        ends = {t.track_id: (t.looks(first=False), t.height(first=False)) for t in tracks}
        starts = {t.track_id: (t.looks(first=True), t.height(first=True)) for t in tracks}
        pairs = []
        for a in tracks:
            look_a, h_a = ends[a.track_id]
            if look_a is None:
                continue
            for b in tracks:
                look_b, h_b = starts[b.track_id]
                gap = b.frames[0] - a.last_frame
                if look_b is None or not 0 < gap <= self.reid_gap:
                    continue
                if max(h_a, h_b) > self.reid_size_ratio * max(min(h_a, h_b), 1.0):
                    continue
                d = appearance_distance(look_a, look_b)
                if d <= self.reid_distance:
                    pairs.append((d, a.track_id, b.track_id))
        after: dict[int, int] = {}
        before: dict[int, int] = {}
        by_id = {t.track_id: t for t in tracks}
        # a is the last of its chain and b the first of its own, and b starts after a ends: the
        # joined chain is in time order, so chains never overlap
        for _, a, b in sorted(pairs):
            if a not in after and b not in before:
                after[a], before[b] = b, a
        out = []
        for t in tracks:
            if t.track_id in before:
                continue
            i = t.track_id
            while i in after:
                i = after[i]
                t.extend(by_id[i])
            out.append(t)
        return out

    def finalize(self, num_frames: int) -> Tracks:
        """Dense per-person arrays over frames ``0 .. num_frames - 1`` (see ``Tracks``).

        Tracks observed on fewer than ``min_track_length`` frames are dropped; with ``max_people``
        the N tracks with the largest sum of person score over observed frames are kept (ties:
        lower id first), output ordered by id, ids never renumbered. Gaps of at most ``max_gap``
        frames between two observations are filled by linear interpolation of keypoints and joint
        scores, the scores then multiplied by 0.5 to mark them as guessed; such frames are
        ``present`` and ``interpolated``. Longer gaps and frames before the first / after the last
        observation are absent (NaN keypoints, zero scores). Does not change the tracker.
        """
        num_frames = int(num_frames)
        if num_frames < 0:
            raise PoseMoEError(f"Tracker.finalize: num_frames must be >= 0, found {num_frames}")
        if self._last_frame is not None and self._last_frame >= num_frames:
            raise PoseMoEError(
                f"Tracker.finalize: detections were given for frame {self._last_frame} but num_frames is "
                f"{num_frames}; pass the video's frame count"
            )
        kept = [t for t in self._joined() if len(t.frames) >= self.min_track_length]
        if self.max_people is not None and len(kept) > self.max_people:
            ranked = sorted(kept, key=lambda t: (-sum(t.person_scores), t.track_id))
            kept = sorted(ranked[: self.max_people], key=lambda t: t.track_id)

        p, f, j = len(kept), num_frames, NUM_JOINTS
        keypoints = np.full((p, f, j, 2), np.nan, dtype=np.float32)
        scores = np.zeros((p, f, j), dtype=np.float32)
        present = np.zeros((p, f), dtype=bool)
        interpolated = np.zeros((p, f), dtype=bool)
        for n, track in enumerate(kept):
            for k, frame in enumerate(track.frames):
                keypoints[n, frame] = track.keypoints[k]
                scores[n, frame] = track.scores[k]
                present[n, frame] = True
                if k == 0:
                    continue
                prev = track.frames[k - 1]
                gap = frame - prev - 1
                if gap < 1 or gap > self.max_gap:
                    continue
                w = (np.arange(prev + 1, frame) - prev) / (frame - prev)  # (gap,) in (0, 1)
                kp0, kp1 = track.keypoints[k - 1], track.keypoints[k]
                sc0, sc1 = track.scores[k - 1], track.scores[k]
                keypoints[n, prev + 1 : frame] = (1.0 - w)[:, None, None] * kp0 + w[:, None, None] * kp1
                scores[n, prev + 1 : frame] = _GUESSED_SCORE_FACTOR * ((1.0 - w)[:, None] * sc0 + w[:, None] * sc1)
                present[n, prev + 1 : frame] = True
                interpolated[n, prev + 1 : frame] = True
        low_confidence = (scores < self.joint_threshold) & present[:, :, None]
        return Tracks(
            track_ids=np.array([t.track_id for t in kept], dtype=np.int64),
            keypoints=keypoints,
            scores=scores,
            present=present,
            interpolated=interpolated,
            low_confidence=low_confidence,
        )


def track_sequence(per_frame_detections: Sequence[Sequence[Detection]], **tracker_kwargs) -> Tracks:
    """Track a whole video at once: element f of the list holds frame f's detections.

    Keyword arguments go to ``Tracker``; returns ``Tracker.finalize(len(per_frame_detections))``.
    """
    tracker = Tracker(**tracker_kwargs)
    for frame_index, detections in enumerate(per_frame_detections):
        tracker.update(frame_index, detections)
    return tracker.finalize(len(per_frame_detections))
