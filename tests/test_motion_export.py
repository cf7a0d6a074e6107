"""Motion files from results: TRC, CSV, BVH per person (pipeline.motion_export), `posemoe convert`."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import synthetic_motion
from pipeline.cli import app
from pipeline.export import FORMAT, Results, load_results, save_results
from pipeline.motion_export import csv_text, save_outputs, select_track, trc_text
from pipeline.world import place_in_world
from posemoe.bvh import h36m_positions, read_bvh
from posemoe.errors import PoseMoEError
from posemoe.skeleton import H36M17
from posemoe.smoothing import DEFAULT_SMOOTHING, parse_smoothing
from posemoe.virtual_camera import look_at

FOCAL, SIZE, FPS = 1000.0, (960, 540), 25.0


def _results(people: int = 2, n: int = 60, absent: bool = True) -> Results:
    """Walking figures filmed by a pinhole camera, as the pipeline would save them (3D root-relative)."""
    centre = np.array([0.0, -6.0, 1.6])
    rot = look_at(centre, np.array([0.0, 0.0, 0.9]))
    k2, k3 = [], []
    for p in range(people):
        world = synthetic_motion(n, seed=10 + p)
        world[..., 0] += 1.2 * p - 0.6  # side by side
        world[..., 2] -= world[..., [3, 6], 2].min() - 0.06
        cam = (world - centre) @ rot.T
        k2.append(FOCAL * cam[..., :2] / cam[..., 2:3] + np.array(SIZE) / 2)
        k3.append(cam - cam[:, :1])
    k2, k3 = np.stack(k2), np.stack(k3)
    if absent and people > 1:  # the second person leaves for a few frames
        k2[1, 20:25] = np.nan
        k3[1, 20:25] = np.nan
    scores = np.where(np.isfinite(k2).all(-1), 1.0, 0.0)
    return Results(frame_index=np.arange(n), time_s=np.arange(n) / FPS, fps=FPS, image_size=SIZE,
                   track_ids=np.arange(people) * 3 + 1, keypoints2d=k2, scores2d=scores, keypoints3d=k3)


@pytest.fixture(scope="module")
def placed() -> Results:
    return place_in_world(_results(), FOCAL, parse_smoothing("none"))


def test_results_v2_round_trip_and_version_1_still_loads(tmp_path: Path, placed: Results) -> None:
    for suffix in (".npz", ".json"):
        back = load_results(save_results(tmp_path / f"r{suffix}", placed))
        assert back.has_scene and back.focal_px == FOCAL
        np.testing.assert_allclose(back.keypoints3d_world, placed.keypoints3d_world, atol=6e-5, equal_nan=True)
        np.testing.assert_array_equal(back.foot_contact, placed.foot_contact)
        np.testing.assert_allclose(back.world_from_camera, placed.world_from_camera, atol=1e-12)
        assert back.smoothing == placed.smoothing
    v1 = tmp_path / "v1.npz"  # a version-1 file: no scene arrays, the old format name
    arrays = {k: v for k, v in _results().arrays().items()}
    meta = _results().meta() | {"format": "posemoe-results-v1"}
    meta.pop("smoothing")
    import json

    np.savez_compressed(v1, meta=np.asarray(json.dumps(meta)), **arrays)
    old = load_results(v1)
    assert not old.has_scene and old.root_camera is None and FORMAT == "posemoe-results-v2"


def test_trc_header_units_and_values(placed: Results) -> None:
    text = trc_text(placed, 0, "walk.trc")
    lines = text.split("\n")
    assert lines[0].split("\t") == ["PathFileType", "4", "(X/Y/Z)", "walk.trc"]
    assert lines[1].split("\t")[:5] == ["DataRate", "CameraRate", "NumFrames", "NumMarkers", "Units"]
    rate, cam_rate, frames, markers, units, orig_rate, start, orig_frames = lines[2].split("\t")
    assert (float(rate), int(frames), int(markers), units, int(start)) == (FPS, 60, 17, "mm", 1)
    names = [c for c in lines[3].split("\t")[2:] if c]
    assert names == list(H36M17.joint_names)
    assert lines[4].split("\t")[2:5] == ["X1", "Y1", "Z1"] and lines[4].split("\t")[-1] == "Z17"
    assert lines[5] == ""
    first = lines[6].split("\t")
    assert first[0] == "1" and float(first[1]) == 0.0 and len(first) == 2 + 51
    values = np.array(first[2:], dtype=float).reshape(17, 3)
    np.testing.assert_allclose(values, placed.keypoints3d_world[0, 0] * 1000.0, atol=0.006)  # millimetres
    assert len([ln for ln in lines[6:] if ln]) == 60


def test_trc_leaves_absent_frames_empty(placed: Results) -> None:
    rows = [ln.split("\t") for ln in trc_text(placed, 1).split("\n")[6:] if ln]
    assert len(rows) == 60
    assert all(v == "" for v in rows[22][2:]) and all(v != "" for v in rows[19][2:])


def test_csv_columns_and_rows(placed: Results) -> None:
    table = list(csv.DictReader(io.StringIO(csv_text(placed))))
    assert len(table) == 60 + 55  # the second person is absent for 5 frames
    row = table[0]
    assert list(row)[:6] == ["track_id", "frame_index", "time_s", "pelvis_x", "pelvis_y", "pelvis_z"]
    assert list(row)[-2:] == ["right_foot_contact", "left_foot_contact"]
    assert float(row["right_wrist_z"]) == pytest.approx(float(placed.keypoints3d_world[0, 0, 16, 2]), abs=6e-5)
    assert {r["track_id"] for r in table} == {"1", "4"}
    assert float(row["root_camera_z"]) > 4.0  # metres in front of the camera


def test_bvh_per_person_named_by_track_and_reproducing_the_3d(tmp_path: Path, placed: Results) -> None:
    written = save_outputs([tmp_path / "walk.bvh", tmp_path / "walk.trc"], placed)
    names = sorted(p.name for p in written)
    assert names == ["walk_track1.bvh", "walk_track1.trc", "walk_track4.bvh", "walk_track4.trc"]
    motion = read_bvh(tmp_path / "walk_track1.bvh")
    assert motion.num_frames == 60 and motion.frame_time == pytest.approx(1 / FPS)
    fk = h36m_positions(motion) / 100.0  # centimetres -> metres
    # bones of fixed length (the default): the skeleton reproduces the saved 3D
    err = np.linalg.norm(fk - placed.keypoints3d_world[0], axis=-1)
    assert err.max() < 1e-5
    one = save_outputs([tmp_path / "one.bvh"], select_track(placed, 4))
    assert [p.name for p in one] == ["one.bvh"]


def test_bad_outputs_write_nothing(tmp_path: Path, placed: Results) -> None:
    with pytest.raises(PoseMoEError, match="unknown output format '.fbx'; name it"):
        save_outputs([tmp_path / "a.bvh", tmp_path / "b.fbx"], placed)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(PoseMoEError, match="no such track in .*its tracks are 1, 4"):
        select_track(placed, 7)
    nobody = place_in_world(_results(people=1), FOCAL, None)
    nobody.keypoints3d_world[:] = np.nan
    with pytest.raises(PoseMoEError, match="no 3D pose"):
        save_outputs([tmp_path / "x.csv"], nobody)
    assert list(tmp_path.iterdir()) == []


def _run(args: list[str]):
    return CliRunner().invoke(app, args)


def test_convert_cli(tmp_path: Path) -> None:
    raw = tmp_path / "raw.npz"
    save_results(raw, _results())  # no scene fields yet, as files from before them
    out = _run(["convert", str(raw), "-o", str(tmp_path / "m.bvh"), "-o", str(tmp_path / "m.csv"),
                "-o", str(tmp_path / "placed.json"), "--track", "4", "--focal", str(FOCAL)])
    assert out.exit_code == 0, out.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bvh", "m.csv", "placed.json", "raw.npz"]
    placed = load_results(tmp_path / "placed.json")
    assert placed.has_scene and placed.track_ids.tolist() == [4] and placed.smoothing["spec"] == str(parse_smoothing(DEFAULT_SMOOTHING))
    bad = _run(["convert", str(raw), "-o", str(tmp_path / "m.fbx")])
    assert bad.exit_code != 0 and "unknown output format" in bad.output and "Traceback" not in bad.output
    bad = _run(["convert", str(raw), "-o", str(tmp_path / "n.bvh"), "--track", "9"])
    assert bad.exit_code != 0 and "--track 9: no such track" in bad.output
    bad = _run(["convert", str(raw), "-o", str(tmp_path / "n.bvh"), "--smooth", "wobble"])
    assert bad.exit_code != 0 and "unknown filter" in bad.output
    bad = _run(["convert", str(raw), "-o", str(raw / "inside" / "n.bvh")])  # a file where a folder should be
    assert bad.exit_code != 0 and "not a folder" in bad.output
    assert not (tmp_path / "n.bvh").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_convert_to_an_unwritable_folder(tmp_path: Path) -> None:
    raw = tmp_path / "raw.npz"
    save_results(raw, _results())
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        bad = _run(["convert", str(raw), "-o", str(locked / "m.bvh")])
        assert bad.exit_code != 0 and "writ" in bad.output and not list(locked.iterdir())
    finally:
        locked.chmod(0o700)
