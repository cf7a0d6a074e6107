"""Tests for pipeline.keypoints2d: MediaPipe on a drawn figure, keypoint files, backend choice."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline import keypoints2d as k2d
from pipeline.keypoints2d import (
    BACKENDS,
    KeypointFileBackend,
    MediaPipeBackend,
    PoseBackend,
    make_backend,
    resolve_auto,
)
from pipeline.track import Detection
from posemoe.errors import PoseMoEError
from posemoe.skeleton import COCO17, coco17_to_h36m17

W, H = 640, 480


def draw_person(w: int = W, h: int = H) -> np.ndarray:
    """A cartoon person facing the camera, ~400 px tall, on a light background; (h, w, 3) BGR.

    The figure's left side is drawn at image x > w / 2 (as for a real person facing the camera).
    """
    img = np.full((h, w, 3), 235, np.uint8)
    skin, shirt, trousers, dark = (150, 180, 225), (60, 60, 200), (110, 60, 40), (30, 30, 30)

    def at(x: float, y: float) -> tuple[int, int]:
        return int(w // 2 + x), int(y)

    for side in (1, -1):  # +1: the figure's left (image right)
        hip, knee, ankle = at(32 * side, 270), at(40 * side, 355), at(45 * side, 440)
        cv2.line(img, hip, knee, trousers, 30, cv2.LINE_AA)
        cv2.line(img, knee, ankle, trousers, 30, cv2.LINE_AA)
    cv2.fillConvexPoly(img, np.array([at(-60, 130), at(60, 130), at(42, 285), at(-42, 285)]), shirt, cv2.LINE_AA)
    for side in (1, -1):
        shoulder, elbow, wrist = at(55 * side, 140), at(85 * side, 215), at(100 * side, 285)
        cv2.line(img, shoulder, elbow, shirt, 26, cv2.LINE_AA)
        cv2.line(img, elbow, wrist, skin, 20, cv2.LINE_AA)
        cv2.circle(img, wrist, 13, skin, -1, cv2.LINE_AA)
    cv2.line(img, at(0, 105), at(0, 135), skin, 24, cv2.LINE_AA)  # neck
    cv2.ellipse(img, at(0, 80), (30, 38), 0, 0, 360, skin, -1, cv2.LINE_AA)  # face
    for side in (1, -1):
        cv2.circle(img, at(12 * side, 75), 4, dark, -1, cv2.LINE_AA)  # eyes
    cv2.ellipse(img, at(0, 52), (31, 16), 0, 180, 360, dark, -1, cv2.LINE_AA)  # hair
    cv2.line(img, at(0, 80), at(0, 90), (110, 140, 190), 3, cv2.LINE_AA)  # nose
    cv2.ellipse(img, at(0, 100), (10, 4), 0, 0, 180, (60, 60, 160), 2, cv2.LINE_AA)  # mouth
    return img


# ----------------------------------------------------------------------------- MediaPipe


def test_mediapipe_finds_the_drawn_person_with_left_and_right_right() -> None:
    frame = draw_person()
    with MediaPipeBackend() as backend:
        assert isinstance(backend, PoseBackend)
        assert backend.name == "mediapipe" and backend.multi_person is False
        for i in range(5):
            dets = backend(frame, i)
            assert len(dets) == 1
            d = dets[0]
            assert isinstance(d, Detection)
            kp, sc = d.keypoints, d.scores
            assert kp.shape == (17, 2) and sc.shape == (17,)
            assert np.isfinite(kp).all()
            assert (kp[:, 0] >= 0).all() and (kp[:, 0] < W).all() and (kp[:, 1] >= 0).all() and (kp[:, 1] < H).all()
            assert ((sc >= 0) & (sc <= 1)).all() and sc[[0, 8, 10, 11, 14]].min() > 0.5
            assert kp[10, 1] < kp[8, 1] < kp[0, 1]  # head above thorax above pelvis
            assert kp[13, 0] > W / 2 > kp[16, 0]  # figure's left hand is on the image's right
            assert kp[4, 0] > kp[1, 0] and kp[11, 0] > kp[14, 0]  # left hip/shoulder right of the right ones
            assert abs(kp[10, 0] - W / 2) < 15 and 40 < kp[10, 1] < 110  # head between the drawn eyes
            x0, y0, x1, y1 = d.box
            assert x0 < kp[:, 0].min() and x1 > kp[:, 0].max() and y0 < kp[:, 1].min()
        # a jump back in time restarts tracking: an empty frame there has nobody
        assert backend(np.full_like(frame, 235), 0) == []
        with pytest.raises(PoseMoEError, match="uint8 \\(H, W, 3\\)"):
            backend(frame[..., 0], 1)
    with pytest.raises(PoseMoEError, match="after close"):
        backend(frame, 2)
    backend.close()  # twice is fine


def test_mediapipe_missing_names_the_fix(monkeypatch) -> None:
    for name in ("mediapipe", "mediapipe.python", "mediapipe.python.solutions", "mediapipe.python.solutions.pose"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(PoseMoEError, match=r"pip install mediapipe==0\.10\.21"):
        MediaPipeBackend()
    with pytest.raises(PoseMoEError, match="min_detection_confidence"):
        MediaPipeBackend(min_detection_confidence=1.5)


# ----------------------------------------------------------------------------- our keypoint files


def _tracks(p: int = 2, f: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    kp = rng.uniform(10, 600, size=(p, f, 17, 2))
    sc = rng.uniform(0.1, 1.0, size=(p, f, 17))
    k3 = rng.normal(size=(p, f, 17, 3))
    kp[1, 2] = np.nan  # person 1 absent on frame 2
    sc[1, 2] = 0.0
    k3[1, 2] = np.nan
    kp[0, 1, 5] = np.nan  # one joint missing
    return kp, sc, k3


def _nulls(a: np.ndarray) -> list:
    """Nested lists with None where not finite (how JSON stores NaN)."""
    obj = np.asarray(a, dtype=np.float64).astype(object)
    obj[~np.isfinite(np.asarray(a, dtype=np.float64))] = None
    return obj.tolist()


def write_own(path: Path, kp: np.ndarray, sc: np.ndarray, k3: np.ndarray | None = None, *, fps: float | None = 25.0,
              image_size: tuple[int, int] | None = (W, H), frame_index=None, track_ids=None,
              joints_in_meta: bool = True, **override) -> Path:
    """Our export layout: ``meta`` object (an .npz: JSON string) holding ``joints``, plus the arrays."""
    p, f = kp.shape[:2]
    frames = np.arange(f) if frame_index is None else np.asarray(frame_index)
    fields = {
        "frame_index": frames, "time_s": frames / (fps or 1.0), "fps": np.nan if fps is None else fps,
        "image_size": [] if image_size is None else list(image_size),
        "track_ids": np.arange(p) if track_ids is None else np.asarray(track_ids),
        "keypoints2d": kp, "scores2d": sc,
    }
    if k3 is not None:
        fields["keypoints3d"] = k3
    meta = {"format": "posemoe-results-v1", "joints": "h36m17"}
    if path.suffix == ".npz":
        extra = {"meta": np.array(json.dumps(meta))} if joints_in_meta else {"joints": np.array("h36m17")}
        np.savez_compressed(path, **{**{k: np.asarray(v) for k, v in fields.items()}, **extra, **override})
    else:
        doc = {k: _nulls(v) if k in ("time_s", "keypoints2d", "scores2d", "keypoints3d") else
               (np.asarray(v).tolist() if k != "fps" else (None if fps is None else fps)) for k, v in fields.items()}
        doc["image_size"] = None if image_size is None else list(image_size)
        doc.update({"meta": meta} if joints_in_meta else {"joints": "h36m17"})
        doc.update(override)
        path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("suffix,joints_in_meta", [(".npz", True), (".json", True), (".npz", False), (".json", False)])
def test_own_format_round_trip(tmp_path: Path, suffix: str, joints_in_meta: bool) -> None:
    kp, sc, k3 = _tracks()
    path = write_own(tmp_path / f"clip{suffix}", kp, sc, k3, frame_index=[10, 11, 12, 13], track_ids=[3, 7],
                     joints_in_meta=joints_in_meta)
    backend = KeypointFileBackend(path)
    assert backend.format == "posemoe" and backend.name == "keypoints" and backend.multi_person
    assert backend.fps == 25.0 and backend.image_size == (W, H) and backend.num_frames == 4
    np.testing.assert_array_equal(backend.frame_indices, [10, 11, 12, 13])
    np.testing.assert_array_equal(backend.track_ids, [3, 7])
    np.testing.assert_allclose(backend.time_s, np.array([10, 11, 12, 13]) / 25.0)
    np.testing.assert_array_equal(backend.keypoints2d, kp)  # NaN compare equal
    np.testing.assert_array_equal(backend.scores2d, sc)
    np.testing.assert_array_equal(backend.keypoints3d, k3)

    frame = np.zeros((H, W, 3), np.uint8)
    dets = backend(frame, 11)
    assert len(dets) == 2
    np.testing.assert_array_equal(dets[1].keypoints, kp[1, 1])
    assert dets[0].scores[5] == 0.0  # the missing joint
    assert len(backend(None, 12)) == 1  # person 1 absent; pixels not needed
    assert backend(frame, 0) == [] and backend(frame, 99) == []  # frames not in the file
    got = list(backend.detections())
    assert [f for f, _ in got] == [10, 11, 12, 13] and [len(d) for _, d in got] == [2, 2, 1, 2]
    with pytest.raises(PoseMoEError, match=rf"{path.name}.*640x480.*320x240"):
        backend(np.zeros((240, 320, 3), np.uint8), 10)


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_reads_what_pipeline_export_writes(tmp_path: Path, suffix: str) -> None:
    export = pytest.importorskip("pipeline.export")
    kp, sc, k3 = _tracks()
    results = export.Results(frame_index=np.arange(4), time_s=np.arange(4) / 30.0, fps=30.0, image_size=(W, H),
                             track_ids=[5, 9], keypoints2d=kp, scores2d=sc, keypoints3d=k3)
    path = export.save_results(tmp_path / f"results{suffix}", results)
    backend = KeypointFileBackend(path)
    assert backend.fps == 30.0 and backend.image_size == (W, H) and list(backend.track_ids) == [5, 9]
    np.testing.assert_allclose(backend.keypoints2d, kp, atol=0.01)
    np.testing.assert_allclose(backend.keypoints3d, k3, atol=1e-4)
    assert [len(d) for _, d in backend.detections()] == [2, 2, 1, 2]


def test_own_json_written_by_hand_with_null(tmp_path: Path) -> None:
    kp = np.full((1, 2, 17, 2), 50.0)
    doc = {
        "joints": "h36m17", "frame_index": [0, 1], "time_s": [0.0, 0.5], "fps": None, "image_size": None,
        "track_ids": [1], "keypoints2d": kp.tolist(), "scores2d": np.full((1, 2, 17), 0.9).tolist(),
    }
    doc["keypoints2d"][0][1] = [[None, None]] * 17  # absent on frame 1
    path = tmp_path / "hand.json"
    path.write_text(json.dumps(doc))
    backend = KeypointFileBackend(path)
    assert backend.fps is None and backend.image_size is None and backend.keypoints3d is None
    assert np.isnan(backend.keypoints2d[0, 1]).all()
    assert len(backend(None, 0)) == 1 and backend(None, 1) == []
    assert len(backend(np.zeros((10, 10, 3), np.uint8), 0)) == 1  # no size to check against


# ----------------------------------------------------------------------------- mmpose files


def _coco_instance(dx: float, score: float) -> dict:
    pts = np.zeros((17, 2))
    for j, name in enumerate(COCO17.joint_names):
        side = 1.0 if name.startswith("left") else -1.0 if name.startswith("right") else 0.0
        y = {"nose": 80, "eye": 75, "ear": 78, "shoulder": 140, "elbow": 210, "wrist": 270,
             "hip": 280, "knee": 360, "ankle": 430}[name.split("_")[-1]]
        pts[j] = [320 + dx + side * (10 + j), y + (3 if side > 0 else 0)]
    return {
        "keypoints": pts.tolist(), "keypoint_scores": np.linspace(0.5, 0.95, 17).tolist(),
        "bbox": [[pts[:, 0].min() - 5, 60.0, pts[:, 0].max() + 5, 440.0]], "bbox_score": score,
    }


def test_mmpose_video_json_is_converted_to_h36m17(tmp_path: Path) -> None:
    frames = [{"frame_id": i, "instances": [_coco_instance(-150 + 5 * i, 0.9), _coco_instance(150, 0.8)]}
              for i in range(2)]
    path = tmp_path / "video.json"
    path.write_text(json.dumps(frames))
    backend = KeypointFileBackend(path)
    assert backend.format == "mmpose" and backend.num_frames == 2
    assert backend.fps is None and backend.image_size is None and backend.track_ids is None
    dets = backend(None, 1)
    assert len(dets) == 2
    inst = frames[1]["instances"][0]
    coco = np.array(inst["keypoints"])
    c = COCO17.joint_names.index
    d = dets[0]
    np.testing.assert_allclose(d.keypoints[0], 0.5 * (coco[c("left_hip")] + coco[c("right_hip")]))  # pelvis
    np.testing.assert_allclose(d.keypoints[8], 0.5 * (coco[c("left_shoulder")] + coco[c("right_shoulder")]))
    np.testing.assert_allclose(d.keypoints[10], 0.5 * (coco[c("left_eye")] + coco[c("right_eye")]))  # head
    np.testing.assert_allclose(d.keypoints[13], coco[c("left_wrist")])
    np.testing.assert_allclose(d.keypoints[16], coco[c("right_wrist")])
    expected = coco17_to_h36m17(np.concatenate([coco, np.array(inst["keypoint_scores"])[:, None]], axis=1))
    np.testing.assert_allclose(d.keypoints, expected[:, :2])
    np.testing.assert_allclose(d.scores, expected[:, 2])
    sc = np.array(inst["keypoint_scores"])
    assert d.scores[0] == pytest.approx(min(sc[c("left_hip")], sc[c("right_hip")]))
    np.testing.assert_allclose(d.box, inst["bbox"][0])
    assert d.score == pytest.approx(0.9) and dets[1].score == pytest.approx(0.8)
    assert [f for f, _ in backend.detections()] == [0, 1]


def test_mmpose_single_image_json(tmp_path: Path) -> None:
    inst = _coco_instance(0, 0.7)
    del inst["bbox"], inst["bbox_score"]
    inst["keypoints"][3] = [None, None]  # a missing joint
    path = tmp_path / "image.json"
    path.write_text(json.dumps([inst]))
    backend = KeypointFileBackend(path)
    assert backend.num_frames == 1 and list(backend.frame_indices) == [0]
    (d,) = backend(None, 0)
    assert d.scores[10] > 0 and d.box is not None  # box derived from the keypoints
    empty = tmp_path / "nobody.json"
    empty.write_text("[]")
    assert KeypointFileBackend(empty)(None, 0) == []


# ----------------------------------------------------------------------------- bad files


def _bad_file_cases(tmp_path: Path) -> list[tuple[Path, str]]:
    kp, sc, _ = _tracks()
    good = write_own(tmp_path / "good.json", kp, sc, joints_in_meta=False)
    doc = json.loads(good.read_text())
    cases = []

    def write(name: str, content: str, pattern: str) -> None:
        path = tmp_path / name
        path.write_text(content)
        cases.append((path, pattern))

    write("joints.json", json.dumps({**doc, "joints": "coco17"}), "'joints'.*'h36m17'.*'coco17'")
    write("metajoints.json", json.dumps({**{k: v for k, v in doc.items() if k != "joints"}, "meta": {"joints": "x"}}),
          "'joints'.*'h36m17'.*'x'")
    write("nojoints.json", json.dumps({**{k: v for k, v in doc.items() if k != "joints"}, "meta": {}}),
          "'meta'.*'joints'")
    write("shape.json", json.dumps({**doc, "scores2d": np.zeros((2, 4, 16)).tolist()}),
          r"'scores2d'.*\(2, 4, 17\).*\(2, 4, 16\)")
    write("missing.json", json.dumps({k: v for k, v in doc.items() if k != "track_ids"}), "missing field 'track_ids'")
    write("notjson.json", "{this is not json", "not valid JSON")
    write("ragged.json", json.dumps({**doc, "keypoints2d": [[1, 2], [3]]}), "'keypoints2d'.*ragged")
    write("text.json", json.dumps("hello"), "found str")
    write("other.json", json.dumps({"meta_info": {}}), "'meta' or 'joints' field")
    inst = _coco_instance(0, 0.9)
    wholebody = {**inst, "keypoints": [[1.0, 2.0]] * 133, "keypoint_scores": [0.5] * 133}
    write("wholebody.json", json.dumps([{"frame_id": 0, "instances": [wholebody]}]), r"COCO-17.*\(133, 2\)")
    nokey = {k: v for k, v in inst.items() if k != "keypoint_scores"}
    write("nokey.json", json.dumps([{"frame_id": 0, "instances": [nokey]}]), "missing key 'keypoint_scores'")
    write("mixed.json", json.dumps([{"frame_id": 0, "instances": []}, 3]), "found list items: int")
    write("badbox.json", json.dumps([{"frame_id": 0, "instances": [{**inst, "bbox": [[5, 5, 1, 1]]}]}]),
          "frame 0 instance 0: expected 'bbox'.*x2 >= x1")
    write("corrupt.npz", "not a zip", r"not a \.npz archive")
    write("points.csv", "1,2", r"\.npz or \.json")
    cases.append((write_own(tmp_path / "shape.npz", np.zeros((2, 4, 17, 3)), sc),
                  r"'keypoints2d'.*\(P, 4, 17, 2\).*\(2, 4, 17, 3\)"))
    cases.append((write_own(tmp_path / "nometa.npz", kp, sc, joints_in_meta=False, joints=np.array(["a", "b"])),
                  "'joints'.*'h36m17'"))
    cases.append((write_own(tmp_path / "badmeta.npz", kp, sc, meta=np.array("{oops")), "'meta'.*not JSON"))
    cases.append((tmp_path / "absent.npz", "not found"))
    return cases


def test_bad_keypoint_files_give_one_line_errors_naming_the_file(tmp_path: Path) -> None:
    for path, pattern in _bad_file_cases(tmp_path):
        with pytest.raises(PoseMoEError, match=pattern) as e:
            KeypointFileBackend(path)
        msg = str(e.value)
        assert path.name in msg and "\n" not in msg, msg


# ----------------------------------------------------------------------------- choosing a backend


def test_resolve_auto_and_make_backend_here(tmp_path: Path) -> None:
    name, reason = resolve_auto()
    assert name == "mediapipe" and "OpenMMLab" in reason and "\n" not in reason
    assert k2d._mmpose_weights_cached() is False
    with pytest.raises(PoseMoEError) as e:
        make_backend("openpose")
    assert all(b in str(e.value) for b in BACKENDS) and "openpose" in str(e.value)
    with pytest.raises(PoseMoEError, match="OpenMMLab.*--pose2d mediapipe"):
        make_backend("mmpose")
    with pytest.raises(PoseMoEError, match="keypoints file"):
        make_backend("keypoints")
    kp, sc, _ = _tracks()
    path = write_own(tmp_path / "k.npz", kp, sc, fps=None, image_size=None)
    with make_backend("keypoints", path=path) as backend:
        assert isinstance(backend, KeypointFileBackend) and backend.fps is None and backend.image_size is None
    with make_backend("auto", min_detection_confidence=0.6) as backend:
        assert backend.multi_person and backend.min_detection_confidence == 0.6
    with make_backend("auto", min_detection_confidence=0.6, max_people=1) as backend:
        assert isinstance(backend, MediaPipeBackend) and backend.min_detection_confidence == 0.6


def test_resolve_auto_with_the_stack_present(monkeypatch) -> None:
    monkeypatch.setattr(k2d, "_openmmlab_installed", lambda: True)
    monkeypatch.setattr(k2d, "_openmmlab_importable", lambda: True)
    monkeypatch.setattr(k2d, "_mmpose_weights_cached", lambda: False)
    name, reason = resolve_auto()
    assert name == "mediapipe" and "not cached" in reason
    monkeypatch.setattr(k2d, "_mmpose_weights_cached", lambda: True)
    assert resolve_auto()[0] == "mmpose"
    with pytest.raises(PoseMoEError, match="--pose2d mediapipe"):
        make_backend("mmpose")
