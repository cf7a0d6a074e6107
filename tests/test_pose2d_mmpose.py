"""Tests for pipeline.pose2d.mmpose: weights handling (offline, no downloads) and the networks
with random weights.

No pretrained weights can be had here, so the networks run with their random initialisation:
the tests check what does not depend on training (shapes, dtypes, the pixel frame of the
keypoints, several people, the joint layout) and the weights logic with fake downloads: the
downloads go through ``torch.hub.download_url_to_file``, whose ``urlopen`` the tests replace.
"""

from __future__ import annotations

import email.message
import hashlib
import io
import socket
import sys
import urllib.error
from argparse import Namespace
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch.hub

import pipeline.pose2d.choose as choose
import pipeline.pose2d.mmpose as mb
from pipeline.pose2d.base import Detection
from posemoe.errors import PoseMoEError
from posemoe.skeleton import coco17_to_h36m17

openmmlab = pytest.mark.skipif(not choose._openmmlab_installed(), reason="OpenMMLab stack not installed")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch) -> Path:
    """An empty cache folder, downloads allowed (each test fakes them)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(mb.CACHE_ENV, str(folder))
    monkeypatch.delenv(mb.OFFLINE_ENV, raising=False)
    return folder


class _Response(io.BytesIO):
    """A response as ``torch.hub.download_url_to_file`` reads it: ``info()`` (no Content-Length) and ``read``."""

    def info(self) -> email.message.Message:
        return email.message.Message()


def _serve(monkeypatch, content: Callable[[str], bytes], calls: list | None = None) -> None:
    """Fake downloads: ``torch.hub``'s urlopen answers each URL with ``content(url)``, raising what that raises."""
    def fake(request, *args, **kwargs):
        url = getattr(request, "full_url", request)
        if calls is not None:
            calls.append(url)
        return _Response(content(url))
    monkeypatch.setattr(torch.hub, "urlopen", fake)


def _unreachable(url: str) -> bytes:
    raise urllib.error.URLError("[Errno -2] Name or service not known")


def _no_download(url: str) -> bytes:
    pytest.fail(f"no download expected, asked for {url}")


def _spec_for(content: bytes, name: str, role: str = "detector", option: str = "--det-weights") -> mb.WeightsFile:
    return mb.WeightsFile(role, option, name, hashlib.sha256(content).hexdigest()[:8])


# ----------------------------------------------------------------------------- weights, offline


def test_offline_error_names_files_folder_options_and_the_alternative(cache: Path, monkeypatch) -> None:
    calls: list[str] = []
    _serve(monkeypatch, _unreachable, calls)
    with pytest.raises(PoseMoEError) as e:
        mb.resolve_weights()
    msg = str(e.value)
    assert "\n" not in msg and len(calls) == 1  # one attempt, the detector's; no retries
    for part in (mb.DETECTOR.filename, mb.POSE_MODEL.filename, str(cache), "--det-weights", "--pose-weights",
                 "--pose2d mediapipe", "Name or service not known"):
        assert part in msg, (part, msg)
    assert not cache.exists() or not any(cache.iterdir())  # nothing half-written left behind

    monkeypatch.setenv(mb.OFFLINE_ENV, "1")  # downloads off: no attempt at all
    with pytest.raises(PoseMoEError, match=f"{mb.OFFLINE_ENV}.*--pose2d mediapipe"):
        mb.resolve_weights()
    assert len(calls) == 1

    # one file given, the other cached: nothing to download
    det = cache.parent / "my-det.pth"
    det.write_bytes(b"x")
    cache.mkdir(exist_ok=True)
    (cache / mb.POSE_MODEL.filename).write_bytes(b"y")
    assert mb.resolve_weights(det_weights=det) == (det, cache / mb.POSE_MODEL.filename)
    with pytest.raises(PoseMoEError, match="--pose-weights .*nope.pth: no such file"):
        mb.resolve_weights(pose_weights=cache / "nope.pth")


@pytest.mark.skipif(sys.platform != "linux", reason="platformdirs' default folder differs off Linux")
def test_cache_folder_default_and_override(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(mb.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mb.cache_dir() == tmp_path / "xdg" / "posemoe" / "openmmlab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert mb.cache_dir() == Path.home() / ".cache" / "posemoe" / "openmmlab"
    monkeypatch.setenv(mb.CACHE_ENV, "~/mine")
    assert mb.cache_dir() == Path.home() / "mine"


def test_download_checks_sha256_and_never_leaves_a_bad_file(cache: Path, monkeypatch) -> None:
    good = b"the published checkpoint bytes" * 1000
    spec = _spec_for(good, "rtmdet-test-12345678.pth")
    _serve(monkeypatch, lambda url: b"something else")
    bad_digest = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(mb.DownloadFailed, match=f"expected a file with sha256 {spec.sha256_prefix}.*found {bad_digest}"):
        mb.download(spec)
    assert list(cache.iterdir()) == []  # neither the final name nor a temporary file

    timeouts: list[float | None] = []

    def serve_good(url: str) -> bytes:
        timeouts.append(socket.getdefaulttimeout())
        return good

    _serve(monkeypatch, serve_good)
    before = socket.getdefaulttimeout()
    path = mb.download(spec, timeout=2.5)
    assert path == cache / spec.filename and path.read_bytes() == good and list(cache.iterdir()) == [path]
    assert timeouts == [2.5] and socket.getdefaulttimeout() == before  # the timeout held for the download only

    # a cache folder that cannot be made: one line, no download tried
    blocker = cache / "file"
    blocker.write_bytes(b"x")
    _serve(monkeypatch, _no_download)
    with pytest.raises(mb.DownloadFailed, match=f"{blocker}/sub: cannot write the detector weights there"):
        mb.download(spec, folder=blocker / "sub")

    full = mb.WeightsFile("pose model", "--pose-weights", "p.pth", hashlib.sha256(good).hexdigest()[:8],
                          sha256=hashlib.sha256(good).hexdigest())
    assert full.matches(hashlib.sha256(good).hexdigest())
    assert not full.matches(hashlib.sha256(good).hexdigest()[:8] + "0" * 56)  # the full digest wins
    assert full.hash_prefix == hashlib.sha256(good).hexdigest() and spec.hash_prefix == spec.sha256_prefix
    # a file whose first 8 hex digits match but whose full digest does not is refused when the digest is known
    wrong = mb.WeightsFile("pose model", "--pose-weights", "p.pth", full.sha256_prefix,
                           sha256=full.sha256_prefix + "0" * 56)
    _serve(monkeypatch, lambda url: good)
    with pytest.raises(mb.DownloadFailed, match="expected a file with sha256 " + wrong.sha256):
        mb.download(wrong)
    assert not (cache / "p.pth").exists()


def test_auto_falls_back_to_mediapipe_with_a_reason_and_remembers_the_failure(cache: Path, monkeypatch) -> None:
    monkeypatch.setattr(choose, "_openmmlab_installed", lambda: True)
    monkeypatch.setattr(choose, "_openmmlab_importable", lambda: True)
    calls: list[str] = []
    _serve(monkeypatch, _unreachable, calls)
    name, reason = choose.resolve_auto()
    assert name == "mediapipe" and "\n" not in reason
    assert "download attempt failed" in reason and "MediaPipe" in reason and str(cache) in reason
    assert len(calls) == 1
    name, reason = choose.resolve_auto()  # remembered: no new attempt
    assert name == "mediapipe" and "next try after" in reason and len(calls) == 1
    with pytest.raises(PoseMoEError, match="--pose2d mediapipe"):  # an explicit run always tries
        choose.make_backend("mmpose")
    assert len(calls) == 2

    # a quick download that works: auto picks mmpose, the files stay cached
    (cache / "auto-download.json").unlink()
    det, pose = b"detector bytes", b"pose bytes"
    monkeypatch.setattr(mb, "DETECTOR", _spec_for(det, "det-x.pth"))
    monkeypatch.setattr(mb, "POSE_MODEL", _spec_for(pose, "pose-x.pth", "pose model", "--pose-weights"))
    _serve(monkeypatch, lambda url: det if "det-x" in url else pose)
    name, reason = choose.resolve_auto()
    assert name == "mmpose" and "downloaded" in reason
    assert (cache / "det-x.pth").read_bytes() == det and (cache / "pose-x.pth").read_bytes() == pose
    _serve(monkeypatch, _unreachable, calls)
    name, reason = choose.resolve_auto()
    assert name == "mmpose" and "cached" in reason and len(calls) == 2

    # explicit files count as available; auto never downloads then
    monkeypatch.setenv(mb.CACHE_ENV, str(cache / "empty"))
    name, reason = choose.resolve_auto(det_weights=cache / "det-x.pth", pose_weights=cache / "pose-x.pth")
    assert name == "mmpose" and "--det-weights and --pose-weights" in reason and len(calls) == 2


def test_auto_stays_offline_when_downloads_are_off(cache: Path, monkeypatch) -> None:
    monkeypatch.setattr(choose, "_openmmlab_installed", lambda: True)
    monkeypatch.setenv(mb.OFFLINE_ENV, "1")
    _serve(monkeypatch, _no_download)
    name, reason = choose.resolve_auto()
    assert name == "mediapipe" and "not cached" in reason and mb.OFFLINE_ENV in reason


def test_checkpoint_loading_allows_numpy_metadata_but_no_other_objects(tmp_path: Path) -> None:
    import torch

    state = {"a.weight": torch.ones(2, 3), "module.b.bias": torch.zeros(3)}
    path = tmp_path / "ok.pth"
    torch.save({"state_dict": state, "meta": {"mean": np.array([1.0, 2.0]), "n": np.float32(3), "k": np.int64(2)}},
               path)
    loaded = mb.load_state_dict(path, mb.DETECTOR)
    assert set(loaded) == {"a.weight", "b.bias"} and torch.equal(loaded["a.weight"], state["a.weight"])

    evil = tmp_path / "evil.pth"
    torch.save({"state_dict": state, "meta": Namespace(x=1)}, evil)
    with pytest.raises(PoseMoEError, match="evil.pth: .*only unpickles from the published file"):
        mb.load_state_dict(evil, mb.DETECTOR)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(PoseMoEError, match="junk.pth: expected a PyTorch checkpoint of the detector"):
        mb.load_state_dict(junk, mb.DETECTOR)


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30], [0, 0, 9, 9]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    assert mb.nms(boxes, scores, 0.5).tolist() == [3, 2]
    assert mb.nms(boxes, scores, 0.95).tolist() == [3, 0, 1, 2]
    assert mb.nms(np.zeros((0, 4)), np.zeros(0), 0.3).tolist() == []


@openmmlab
def test_torchvision_imports_and_its_nms_agrees() -> None:
    import torch

    from pipeline.pose2d._torchvision_compat import import_torchvision

    tv = import_torchvision()
    assert tv is not None
    from torchvision.ops import nms

    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (40, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 30, (40, 2))], axis=1)
    scores = rng.uniform(0, 1, 40)
    got = nms(torch.tensor(boxes), torch.tensor(scores), 0.3).tolist()
    assert got == mb.nms(boxes, scores, 0.3).tolist()


# ----------------------------------------------------------------------------- the networks, random weights


@pytest.fixture(scope="module")
def backend():
    if not choose._openmmlab_installed():
        pytest.skip("OpenMMLab stack not installed")
    with mb.MMPoseBackend(random_weights=True) as b:
        b._pose.test_cfg["flip_test"] = False  # half the pose-model time; the pixel frame is the same
        yield b


def _frame(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _pairwise_iou(boxes: np.ndarray) -> np.ndarray:
    """(N, N) IoU of ``x0, y0, x1, y1`` boxes, computed here independently of ``mb.nms``."""
    lt = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    rb = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=-1)
    area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=-1)
    return inter / (area[:, None] + area[None, :] - inter)


def _crop_region(box: np.ndarray, aspect: float = 192 / 256, padding: float = 1.25) -> np.ndarray:
    """Image area the top-down model sees for ``box``: enlarged 1.25x, widened to 3:4 around its centre."""
    x0, y0, x1, y1 = box
    c = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    w, h = (x1 - x0) * padding, (y1 - y0) * padding
    w, h = (h * aspect, h) if w < h * aspect else (w, w / aspect)
    return np.array([c[0] - w / 2, c[1] - h / 2, c[0] + w / 2, c[1] + h / 2])


@pytest.mark.slow
def test_detector_output_shapes(backend) -> None:
    out = backend.detect([_frame(360, 640, 1), _frame(480, 320, 2)])  # one batch, two sizes
    assert len(out) == 2
    for boxes, scores in out:
        assert len(scores) > 0  # the random detector scores everything ~0.5: the checks below see boxes
        assert boxes.shape == (len(scores), 4) and boxes.dtype == np.float64 and scores.dtype == np.float64
        assert len(scores) <= backend.max_people and np.all(scores >= backend.det_score_thr)
        assert np.all(np.diff(scores) <= 0) and np.all(boxes[:, 2] > boxes[:, 0]) and np.all(boxes[:, 3] > boxes[:, 1])
        iou = _pairwise_iou(boxes)
        assert np.all(iou[np.triu_indices(len(boxes), 1)] <= backend.nms_iou + 1e-9)  # no two kept boxes overlap more
    assert backend.detect([]) == []


@pytest.mark.slow
def test_keypoints_are_pixels_of_the_frame_for_each_box(backend) -> None:
    frame = _frame(720, 1280, 3)
    boxes = np.array([[100, 200, 300, 650], [900, 50, 1000, 300]], dtype=float)
    # the same content moved by (dx, dy) pixels, its box moved alike, in the same batch
    dx, dy = 37, 21
    shifted = np.zeros_like(frame)
    shifted[dy:, dx:] = frame[:-dy, :-dx]
    moved = boxes[1:2] + [dx, dy, dx, dy]  # a box whose crop lies inside both frames
    (kp, sc), (kp2, _), (none, none_sc) = backend.estimate([frame, shifted, frame], [boxes, moved, np.zeros((0, 4))])
    assert kp.shape == (2, 17, 2) and sc.shape == (2, 17) and kp.dtype == np.float64 and kp2.shape == (1, 17, 2)
    assert none.shape == (0, 17, 2) and none_sc.shape == (0, 17)
    for p, box in enumerate(boxes):  # each person's keypoints lie in the area cropped around its box
        x0, y0, x1, y1 = _crop_region(box)
        assert np.all((kp[p, :, 0] >= x0 - 1) & (kp[p, :, 0] <= x1 + 1)), (p, kp[p])
        assert np.all((kp[p, :, 1] >= y0 - 1) & (kp[p, :, 1] <= y1 + 1)), (p, kp[p])
    np.testing.assert_allclose(kp2[0], kp[1] + [dx, dy], atol=1e-3)  # ... and move exactly with the content


@pytest.mark.slow
def test_several_people_per_frame_as_h36m_detections(backend, monkeypatch) -> None:
    frame = _frame(480, 854, 4)
    boxes = np.array([[50, 60, 200, 460], [400, 100, 520, 420], [600, 30, 800, 470]], dtype=float)
    det_scores = np.array([0.9, 0.8, 0.4])
    found = {0: (boxes, det_scores), 1: (np.zeros((0, 4)), np.zeros(0))}
    monkeypatch.setattr(backend, "detect", lambda frames: [found[min(i, 1)] for i in range(len(frames))])
    estimate, seen = backend.estimate, []
    monkeypatch.setattr(backend, "estimate", lambda f, b: seen.append(estimate(f, b)) or seen[-1])
    people, nobody = backend.run([frame, frame[:240]])
    assert len(people) == 3 and all(isinstance(d, Detection) for d in people) and nobody == []
    (coco, coco_sc), _ = seen[0]
    for p, d in enumerate(people):
        assert d.keypoints.shape == (17, 2) and d.scores.shape == (17,)
        np.testing.assert_allclose(d.box, boxes[p])
        assert d.score == pytest.approx(det_scores[p])
        expected = coco17_to_h36m17(np.concatenate([coco[p], coco_sc[p, :, None]], axis=1))
        np.testing.assert_allclose(d.keypoints, expected[:, :2])  # H36M17, as every backend gives
        np.testing.assert_allclose(d.scores, np.clip(expected[:, 2], 0.0, 1.0))  # RTMPose's scores, clipped
        np.testing.assert_allclose(d.keypoints[0], (coco[p, 11] + coco[p, 12]) / 2)  # pelvis = mid-hips
    monkeypatch.setattr(backend, "detect", lambda frames: [found[1] for _ in frames])
    assert backend(frame, 1) == []
    with pytest.raises(PoseMoEError, match="uint8"):
        backend(np.zeros((10, 10, 3), dtype=np.float32), 2)


@pytest.mark.slow
def test_weights_files_load_into_the_networks(backend, tmp_path: Path, monkeypatch) -> None:
    """Checkpoints in OpenMMLab's layout (state_dict + numpy metadata), given as local files."""
    import torch

    det_file, pose_file = tmp_path / "det.pth", tmp_path / "pose.pth"
    torch.save({"state_dict": backend._detector.state_dict(), "meta": {"epoch": np.int64(3)}}, det_file)
    torch.save({"state_dict": {"module." + k: v for k, v in backend._pose.state_dict().items()},
                "meta": {"dataset_meta": {"sigmas": np.ones(17)}}}, pose_file)
    _serve(monkeypatch, _no_download)
    with choose.make_backend("mmpose", det_weights=det_file, pose_weights=pose_file, device="cpu") as loaded:
        assert isinstance(loaded, mb.MMPoseBackend) and loaded.weights == (det_file, pose_file)
        for mine, theirs in ((loaded._detector, backend._detector), (loaded._pose, backend._pose)):
            a, b = mine.state_dict(), theirs.state_dict()
            assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(PoseMoEError, match="pose.pth: expected RTMDet-m person detector weights"):
        mb._load_into(backend._detector, pose_file, mb.DETECTOR, "RTMDet-m person detector")
