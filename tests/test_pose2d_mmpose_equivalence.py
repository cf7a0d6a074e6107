"""Tests for pipeline.pose2d.mmpose against mmpose itself: same weights, real video frames, same
boxes and keypoints.

Our backend (``MMPoseBackend``) rebuilds RTMDet + RTMPose from OpenMMLab's configs and runs its own
batched pipeline. Here the same checkpoints go through mmdet's ``init_detector`` /
``inference_detector`` and mmpose's ``init_model`` / ``inference_topdown`` (post-processed as
``MMPoseInferencer`` does: score threshold, mmpose's ``nms``). On real frames of
``../shared/data/videos`` both must give the same boxes within 0.5 px, and, given the same boxes,
the same keypoints within 0.5 px. This catches colour order,
normalisation and coordinate mistakes that the shape tests with random weights cannot; the second
test shows that it does (a BGR/RGB swap fails the comparison).

No pretrained weights exist here, so the checkpoints are random (seeded) and saved by the test.
With untouched BatchNorm statistics a random RTMDet is almost blind to the image (every score
~0.513, differing in the 5th decimal; every box the anchor cell), so before saving, each
network's BatchNorm statistics are recomputed on these frames (as training would leave them):
then the detector's 100 best scores spread over ~0.6-0.96, boxes take image-dependent places and
sizes, and a channel swap moves boxes and keypoints by tens to hundreds of pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("mmdet")
pytest.importorskip("mmpose")

import pipeline.pose2d.mmpose as mb  # noqa: E402
from pipeline.video_io import VideoReader  # noqa: E402
from posemoe.errors import PoseMoEError  # noqa: E402
from posemoe.skeleton import coco17_to_h36m17  # noqa: E402

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"
# one frame from each clip: portrait 1080x1920, 812x720 and 1920x1080 (three resize/pad cases)
CLIPS = ("dribble_portrait.mp4", "tennis.mp4", "two_people.mp4")
FRAME_INDEX = 10
MAX_PEOPLE = 4   # people per frame compared (keeps the pose model's share of the run time small)
TOL_PX = 0.5

pytestmark = pytest.mark.slow


def _frames() -> list[np.ndarray]:
    frames = []
    for name in CLIPS:
        path = VIDEOS / name
        if not path.is_file():
            pytest.skip(f"{path} not available")
        with VideoReader(path) as reader:  # BGR, as the backend gets frames in the pipeline
            frames.append(next(f for i, f in reader if i == FRAME_INDEX))
    return frames


def _recalibrate_batchnorm(model: Any, forward: Any) -> None:
    """Recompute every BatchNorm layer's running mean/variance from one pass of ``forward()``."""
    import torch

    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: exactly this pass's statistics
        m.train()
    forward()
    for m in bns:
        m.eval()


def _save_random_checkpoints(folder: Path, frames: list[np.ndarray]) -> tuple[Path, Path]:
    """Seeded random RTMDet-m and RTMPose-m, BatchNorm fitted to ``frames``, saved as OpenMMLab checkpoints."""
    import torch

    with torch.random.fork_rng():  # leave the global RNG as it was for other tests
        torch.manual_seed(0)
        net = mb.MMPoseBackend(random_weights=True)
    whole = [np.array([[0, 0, f.shape[1], f.shape[0]]], dtype=float) for f in frames]
    _recalibrate_batchnorm(net._detector, lambda: net.detect(frames))
    _recalibrate_batchnorm(net._pose, lambda: net.estimate(frames, whole))
    det, pose = folder / "rtmdet-random.pth", folder / "rtmpose-random.pth"
    # the class names in the meta, as mmdet's own checkpoints have them (else init_detector warns)
    torch.save({"state_dict": net._detector.state_dict(), "meta": {"dataset_meta": {"classes": ("person",)}}}, det)
    torch.save({"state_dict": net._pose.state_dict()}, pose)
    return det, pose


def _mmpose_reference(det_model: Any, pose_model: Any, frames: list[np.ndarray], score_thr: float,
                      nms_iou: float) -> list[dict[str, np.ndarray]]:
    """Per frame: boxes, box scores, COCO-17 keypoints and scores from mmdet's / mmpose's own API.

    The boxes are post-processed as ``MMPoseInferencer`` does (label 0, score > threshold,
    ``mmpose.evaluation.functional.nms``), then capped at ``MAX_PEOPLE`` like our backend.
    """
    from mmdet.apis import inference_detector
    from mmengine.registry import DefaultScope
    from mmpose.apis import inference_topdown
    from mmpose.evaluation.functional import nms

    out = []
    for frame in frames:
        with DefaultScope.overwrite_default_scope("mmdet"):  # each model in its own registry scope
            inst = inference_detector(det_model, frame).pred_instances.cpu().numpy()
        dets = np.concatenate([inst.bboxes, inst.scores[:, None]], axis=1)
        dets = dets[(inst.labels == 0) & (inst.scores > score_thr)]
        dets = dets[nms(dets, nms_iou)][:MAX_PEOPLE]
        assert len(dets), "no detection in a test frame: the comparison would check nothing"
        with DefaultScope.overwrite_default_scope("mmpose"):
            poses = inference_topdown(pose_model, frame, dets[:, :4], bbox_format="xyxy")
        out.append(dict(boxes=dets[:, :4].astype(np.float64), scores=dets[:, 4].astype(np.float64),
                        keypoints=np.stack([p.pred_instances.keypoints[0] for p in poses]).astype(np.float64),
                        keypoint_scores=np.stack([p.pred_instances.keypoint_scores[0] for p in poses])))
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """(our backend, mmdet detector, mmpose pose model, frames), all with the same random weights."""
    frames = _frames()
    try:
        mb.import_openmmlab()
    except PoseMoEError as exc:
        pytest.skip(str(exc))
    from mmdet.apis import init_detector
    from mmengine.registry import DefaultScope
    from mmpose.apis import init_model

    with mb._quiet():
        det_file, pose_file = _save_random_checkpoints(tmp_path_factory.mktemp("random-openmmlab"), frames)
        ours = mb.MMPoseBackend(det_weights=det_file, pose_weights=pose_file, max_people=MAX_PEOPLE)
        with DefaultScope.overwrite_default_scope("mmdet"):
            det_model = init_detector(str(mb._config_path(*mb.DETECTOR_CONFIG)), str(det_file), device="cpu")
        with DefaultScope.overwrite_default_scope("mmpose"):
            pose_model = init_model(str(mb._config_path(*mb.POSE_CONFIG)), str(pose_file), device="cpu")
    yield ours, det_model, pose_model, frames
    ours.close()


def _run_ours(backend: mb.MMPoseBackend, frames: list[np.ndarray],
              ref: list[dict[str, np.ndarray]] | None = None) -> tuple[list, list]:
    """``backend.run(frames)`` and, recorded on the way, its COCO-17 keypoints before the H36M mapping.

    With ``ref``, the detector's boxes are replaced by mmdet's (``ref``'s) so that the pose model and
    the keypoint mapping are compared on exactly the same crops. (The random pose model is so
    sensitive to its crop that the detector's last-digit differences, ~0.02 px, move its keypoints
    by up to hundreds of pixels; the detector itself is compared on its own.)
    """
    own = {name: vars(backend).get(name) for name in ("estimate", "detect")}  # a test's own patches
    estimate, seen = backend.estimate, []
    backend.estimate = lambda f, b: seen.append(estimate(f, b)) or seen[-1]  # type: ignore[method-assign]
    if ref is not None:
        backend.detect = lambda f: [(r["boxes"], r["scores"]) for r in ref]  # type: ignore[method-assign]
    try:
        return backend.run(frames), seen[0]
    finally:
        for name, patch in own.items():
            if patch is None:
                vars(backend).pop(name, None)  # back to the class's method
            else:
                setattr(backend, name, patch)


def _differences(ours: list, coco: list | None, ref: list[dict[str, np.ndarray]]) -> dict[str, float]:
    """Largest differences between our output and mmpose's (inf when the people do not correspond).

    ``coco``: our COCO-17 keypoints per frame, or None to compare the boxes only.
    """
    worst = dict(box_px=0.0, box_score=0.0, keypoint_px=0.0, keypoint_score=0.0, h36m_px=0.0)
    for i, (people, r) in enumerate(zip(ours, ref)):
        if len(people) != len(r["boxes"]):
            return {k: float("inf") for k in worst}
        if not people:
            continue
        diffs = [("box_px", np.stack([d.box for d in people]) - r["boxes"]),
                 ("box_score", np.array([d.score for d in people]) - r["scores"])]
        if coco is not None:
            kp, kp_scores = coco[i]
            h36m_ref = coco17_to_h36m17(r["keypoints"])  # the mapping the backend applies
            diffs += [("keypoint_px", np.linalg.norm(kp - r["keypoints"], axis=-1)),
                      ("keypoint_score", kp_scores - r["keypoint_scores"]),
                      ("h36m_px", np.linalg.norm(np.stack([d.keypoints for d in people]) - h36m_ref, axis=-1))]
        for key, diff in diffs:
            worst[key] = max(worst[key], float(np.abs(diff).max()))
    return worst


def _agree(worst: dict[str, float]) -> bool:
    return (worst["box_px"] <= TOL_PX and worst["keypoint_px"] <= TOL_PX and worst["h36m_px"] <= TOL_PX
            and worst["box_score"] <= 1e-4 and worst["keypoint_score"] <= 1e-3)


@pytest.fixture(scope="module")
def reference(models):
    ours, det_model, pose_model, frames = models
    with mb._quiet():
        return _mmpose_reference(det_model, pose_model, frames, ours.det_score_thr, ours.nms_iou)


def test_detector_matches_mmdet_on_real_frames(models, reference) -> None:
    ours, _, _, frames = models
    people, _ = _run_ours(ours, frames)  # all frames in one batch, as the video pipeline runs them
    assert [len(p) for p in people] == [len(r["boxes"]) for r in reference]
    worst = _differences(people, None, reference)
    assert worst["box_px"] <= TOL_PX and worst["box_score"] <= 1e-4, worst
    for p in people:  # and the check is not vacuous: boxes differ in size and place
        assert len(p) >= 2 and len({tuple(np.round(d.box)) for d in p}) == len(p)


def test_pose_model_matches_mmpose_on_real_frames(models, reference) -> None:
    ours, _, _, frames = models
    people, coco = _run_ours(ours, frames, reference)
    worst = _differences(people, coco, reference)
    assert _agree(worst), worst


@pytest.mark.parametrize("stage", ["detector", "pose model"])
def test_the_comparison_catches_a_channel_swap(models, reference, monkeypatch, stage: str) -> None:
    """The same checks fail when our backend hands RGB frames to networks that expect BGR."""
    ours, _, _, frames = models
    rgb = [np.ascontiguousarray(f[..., ::-1]) for f in frames]
    if stage == "detector":
        monkeypatch.setattr(mb, "check_frame", lambda f, who: np.ascontiguousarray(f[..., ::-1]))
        people, _ = _run_ours(ours, frames)
        worst = _differences(people, None, reference)
        assert worst["box_px"] > 10 * TOL_PX, worst
    else:  # right boxes, wrong colours for the pose model: the keypoint check alone must catch it
        estimate = ours.estimate
        monkeypatch.setattr(ours, "estimate", lambda f, b: estimate(rgb, b))
        people, coco = _run_ours(ours, frames, reference)
        worst = _differences(people, coco, reference)
        assert not _agree(worst), worst
        assert worst["box_px"] == 0.0 and worst["keypoint_px"] > 10 * TOL_PX, worst
