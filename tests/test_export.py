"""pipeline.export: results files (.npz exact, .json rounded), atomic writes, one-line errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from pipeline import export
from pipeline.export import FORMAT, Results, checkpoint_info, load_results, save_results
from posemoe.errors import PoseMoEError
from posemoe.skeleton import H36M17


def make_results(checkpoint: dict | None = None) -> Results:
    """P = 2 people, F = 5 frames; person 1 absent in frames 0 and 3, person 0 in frame 4."""
    rng = np.random.default_rng(0)
    p, f = 2, 5
    kp2 = rng.uniform(0, 640, size=(p, f, 17, 2)).astype(np.float32)
    kp3 = rng.normal(0, 0.4, size=(p, f, 17, 3)).astype(np.float32)
    kp3[..., 0, :] = 0.0  # root-relative
    scores = rng.uniform(0, 1, size=(p, f, 17)).astype(np.float32)
    for pi, fi in ((1, 0), (1, 3), (0, 4)):
        kp2[pi, fi] = np.nan
        kp3[pi, fi] = np.nan
        scores[pi, fi] = 0.0
    return Results(
        frame_index=np.arange(10, 15), time_s=np.arange(10, 15) / 30.0, fps=30.0, image_size=(640, 480),
        track_ids=[3, 7], keypoints2d=kp2, scores2d=scores, keypoints3d=kp3,
        checkpoint=checkpoint, backend2d={"name": "mediapipe", "reason": "default: bundled, runs offline"},
        extra={"input": "clip.mp4", "note": "ünïcode"},
    )


def assert_meta_equal(a: Results, b: Results) -> None:
    for name in ("fps", "image_size", "checkpoint", "backend2d", "versions", "created", "extra"):
        assert getattr(a, name) == getattr(b, name), name
    np.testing.assert_array_equal(a.frame_index, b.frame_index)
    np.testing.assert_array_equal(a.track_ids, b.track_ids)


def test_npz_round_trip_is_exact(tmp_path: Path) -> None:
    ckpt_file = tmp_path / "model.pt"
    ckpt_file.write_bytes(b"weights")
    res = make_results(checkpoint_info(ckpt_file))
    assert res.checkpoint["sha256"] == hashlib.sha256(b"weights").hexdigest()
    out = save_results(tmp_path / "r.npz", res)
    back = load_results(out)
    assert_meta_equal(res, back)
    for key in ("time_s", "keypoints2d", "scores2d", "keypoints3d"):
        np.testing.assert_array_equal(getattr(back, key), getattr(res, key))  # NaN == NaN here
        assert getattr(back, key).dtype == getattr(res, key).dtype
    assert back.keypoints2d.dtype == np.float32 and back.frame_index.dtype == np.int64
    np.testing.assert_array_equal(back.present, [[1, 1, 1, 1, 0], [0, 1, 1, 0, 1]])
    with np.load(out, allow_pickle=False) as npz:  # readable without posemoe
        meta = json.loads(str(npz["meta"]))
        assert npz["keypoints3d"].shape == (2, 5, 17, 3)
    assert meta["format"] == FORMAT and meta["joints"] == "h36m17"
    assert meta["joint_names"] == list(H36M17.joint_names)
    assert meta["units"]["keypoints2d"] == "px" and meta["units"]["keypoints3d"] == "m" and meta["units"]["time_s"] == "s"
    assert {"posemoe", "torch", "numpy", "python"} <= set(meta["versions"])
    from importlib import metadata

    for dist in ("mediapipe", "ai-edge-litert", "onnxruntime"):  # what makes the 2D and the 3D here
        assert meta["versions"][dist] == metadata.version(dist)
    assert meta["checkpoint"]["name"] == "model.pt" and len(meta["checkpoint"]["sha256"]) == 64
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_json_round_trip_within_rounding_and_standard_json(tmp_path: Path) -> None:
    res = make_results(checkpoint_info("h36m-small"))
    out = save_results(tmp_path / "r.json", res)

    def reject(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    doc = json.loads(out.read_text(encoding="utf-8"), parse_constant=reject)
    assert doc["meta"]["format"] == FORMAT and doc["image_size"] == [640, 480]
    assert doc["keypoints2d"][1][0][0] == [None, None]  # absent -> null
    back = load_results(out)
    assert_meta_equal(res, back)
    assert back.checkpoint == {"name": "h36m-small", "path": None, "sha256": None}
    tol = {"keypoints2d": 0.005 + 1e-4, "keypoints3d": 0.00005 + 1e-6, "scores2d": 0.00005 + 1e-6,
           "time_s": 0.5e-6 + 1e-12}
    for key, atol in tol.items():
        a, b = getattr(res, key), getattr(back, key)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(b, a, rtol=0, atol=atol, equal_nan=True)
        assert b.dtype == a.dtype


def test_empty_results_round_trip(tmp_path: Path) -> None:
    res = Results(frame_index=np.arange(3), time_s=np.arange(3) / 25, fps=25, image_size=(320, 240),
                  track_ids=np.zeros(0, int), keypoints2d=np.zeros((0, 3, 17, 2)), scores2d=np.zeros((0, 3, 17)),
                  keypoints3d=np.zeros((0, 3, 17, 3)))
    for suffix in (".npz", ".json"):
        back = load_results(save_results(tmp_path / f"e{suffix}", res))
        assert back.keypoints3d.shape == (0, 3, 17, 3) and back.num_frames == 3 and back.num_people == 0


def test_validation_of_shapes() -> None:
    res = make_results()
    with pytest.raises(PoseMoEError, match=r"keypoints3d: expected shape \(P, F, 17, 3\)"):
        Results(frame_index=res.frame_index, time_s=res.time_s, fps=30, image_size=(640, 480),
                track_ids=res.track_ids, keypoints2d=res.keypoints2d, scores2d=res.scores2d,
                keypoints3d=res.keypoints3d[:, :4])
    with pytest.raises(PoseMoEError, match="scores2d"):
        Results(frame_index=res.frame_index, time_s=res.time_s, fps=30, image_size=(640, 480),
                track_ids=res.track_ids, keypoints2d=res.keypoints2d, scores2d=res.scores2d * 2,
                keypoints3d=res.keypoints3d)


def test_bad_suffix(tmp_path: Path) -> None:
    with pytest.raises(PoseMoEError, match=r"\.npz or \.json") as info:
        save_results(tmp_path / "r.csv", make_results())
    assert "\n" not in str(info.value) and "r.csv" in str(info.value)
    with pytest.raises(PoseMoEError, match=r"\.npz or \.json"):
        load_results(tmp_path / "r.txt")


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_missing_folder(tmp_path: Path, suffix: str) -> None:
    target = tmp_path / "nope" / f"r{suffix}"
    with pytest.raises(PoseMoEError, match="does not exist; create it first") as info:
        save_results(target, make_results())
    assert str(target) in str(info.value) and "\n" not in str(info.value)
    assert not target.parent.exists()


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_failure_while_writing_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    target = tmp_path / f"r{suffix}"
    target.write_bytes(b"previous results")

    def broken_writer(fh, results, meta):  # writes part of a file, then fails
        fh.write(b'{"meta": ' + meta.encode()[:20])
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(export, "_write_npz" if suffix == ".npz" else "_write_json", broken_writer)
    with pytest.raises(RuntimeError, match="disk on fire"):
        save_results(target, make_results())
    assert target.read_bytes() == b"previous results"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]  # temporary removed

    def full_disk(fh, results, meta):
        fh.write(b"xx")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export, "_write_npz" if suffix == ".npz" else "_write_json", full_disk)
    with pytest.raises(PoseMoEError, match="No space left on device") as info:
        save_results(target, make_results())
    assert "\n" not in str(info.value)
    assert target.read_bytes() == b"previous results"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]

    # a new file name: nothing appears under it
    fresh = tmp_path / f"new{suffix}"
    with pytest.raises(PoseMoEError):
        save_results(fresh, make_results())
    assert not fresh.exists()


def one_line_error(path: Path) -> str:
    with pytest.raises(PoseMoEError) as info:
        load_results(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg, msg
    return msg


def test_load_wrong_files(tmp_path: Path) -> None:
    assert "no such file" in one_line_error(tmp_path / "missing.npz")
    (tmp_path / "text.npz").write_text("hello")
    assert "not a readable .npz" in one_line_error(tmp_path / "text.npz")
    np.savez(tmp_path / "other.npz", positions=np.zeros(3))
    assert "no 'meta'" in one_line_error(tmp_path / "other.npz")
    (tmp_path / "broken.json").write_text('{"meta": {')
    assert "not valid JSON" in one_line_error(tmp_path / "broken.json")
    (tmp_path / "nan.json").write_text('{"meta": {}, "fps": NaN}')
    assert "not standard JSON" in one_line_error(tmp_path / "nan.json")
    (tmp_path / "cams.json").write_text(json.dumps({"meta": {"format": "posemoe-cameras-v1"}}))
    assert "posemoe-cameras-v1" in one_line_error(tmp_path / "cams.json")
    # right format, inconsistent shapes
    good = save_results(tmp_path / "good.json", make_results())
    doc = json.loads(good.read_text())
    doc["keypoints3d"] = doc["keypoints3d"][:1]
    (tmp_path / "cut.json").write_text(json.dumps(doc))
    assert "keypoints3d" in one_line_error(tmp_path / "cut.json")
    res = make_results()
    arrays = res.arrays()
    arrays["scores2d"] = arrays["scores2d"][:, :2]
    np.savez(tmp_path / "cut.npz", meta=json.dumps(res.meta()), **arrays)
    assert "scores2d" in one_line_error(tmp_path / "cut.npz")
