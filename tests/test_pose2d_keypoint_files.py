"""Tests for pipeline.pose2d.keypoint_files: our results (through pipeline.export), files in their
layout written by hand, mmpose's prediction JSON, and one-line errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline import export
from pipeline.pose2d.keypoint_files import KeypointFileBackend
from posemoe.errors import PoseMoEError
from posemoe.skeleton import COCO17, coco17_to_h36m17

W, H = 640, 480


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


def _results(kp: np.ndarray, sc: np.ndarray, k3: np.ndarray, **kw) -> export.Results:
    f = kp.shape[1]
    fields = dict(frame_index=np.arange(f), time_s=np.arange(f) / 30.0, fps=30.0, image_size=(W, H),
                  track_ids=[5, 9], keypoints2d=kp, scores2d=sc, keypoints3d=k3)
    return export.Results(**{**fields, **kw})


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_reads_what_pipeline_export_writes_with_load_results(tmp_path: Path, suffix: str) -> None:
    kp, sc, k3 = _tracks()
    path = export.save_results(tmp_path / f"results{suffix}", _results(kp, sc, k3))
    backend = KeypointFileBackend(path)
    assert backend.format == "posemoe" and backend.results is not None  # read by pipeline.export.load_results
    assert backend.fps == 30.0 and backend.image_size == (W, H) and list(backend.track_ids) == [5, 9]
    np.testing.assert_allclose(backend.keypoints2d, kp, atol=0.01)
    np.testing.assert_allclose(backend.keypoints3d, k3, atol=1e-4)
    # exactly what load_results gives, as float64
    again = export.load_results(path)
    np.testing.assert_array_equal(backend.keypoints2d, again.keypoints2d.astype(np.float64))
    np.testing.assert_array_equal(backend.scores2d, again.scores2d.astype(np.float64))
    np.testing.assert_array_equal(backend.time_s, again.time_s)
    assert [len(d) for _, d in backend.detections()] == [2, 2, 1, 2]


def test_hand_written_files_are_read_field_by_field(tmp_path: Path) -> None:
    """A file in our layout that load_results does not take (no format, fps unknown) still reads."""
    kp, sc, _ = _tracks()
    path = write_own(tmp_path / "k.npz", kp, sc, fps=None, image_size=None, joints_in_meta=False)
    with pytest.raises(PoseMoEError):
        export.load_results(path)
    backend = KeypointFileBackend(path)
    assert backend.results is None and backend.format == "posemoe"
    assert backend.fps is None and backend.image_size is None and backend.keypoints3d is None
    np.testing.assert_array_equal(backend.keypoints2d, kp)


def test_a_damaged_results_file_names_the_field(tmp_path: Path) -> None:
    """Results that load_results turns away get the field-by-field message, not load_results' one."""
    kp, sc, k3 = _tracks()
    path = export.save_results(tmp_path / "results.json", _results(kp, sc, k3))
    doc = json.loads(path.read_text())
    doc["keypoints2d"] = np.zeros((2, 4, 33, 2)).tolist()
    path.write_text(json.dumps(doc))
    with pytest.raises(PoseMoEError, match=r"^keypoints file .*results\.json: field 'keypoints2d': expected shape "
                                           r"\(P, 4, 17, 2\), found \(2, 4, 33, 2\); it has 33 joints"):
        KeypointFileBackend(path)
    # load_results takes repeated frame indices; a keypoint file may not have them
    repeated = export.save_results(tmp_path / "repeated.npz", _results(kp, sc, k3, frame_index=[0, 1, 1, 2]))
    with pytest.raises(PoseMoEError, match="'frame_index': expected each frame once"):
        KeypointFileBackend(repeated)


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
