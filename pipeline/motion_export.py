"""Writing results as motion files: BVH skeletons, TRC markers, CSV tables, or results files.

``save_outputs(paths, results)`` writes each path in the format its suffix names:

========= =====================================================================================
suffix    what is written
========= =====================================================================================
``.npz``  the results file (``pipeline.export``; also ``.json``)
``.bvh``  one animated skeleton per person (``posemoe.bvh``): the Human3.6M-17 hierarchy (plus
          four zero-length pelvis / collar joints) with that person's median bone lengths, joint rotations solved from the 3D, the root moving
          along the person's world trajectory; Y up, centimetres, frame time 1/fps
``.trc``  OpenSim markers per person: the 17 joints as markers, world frame (x right, y up, z
          towards the camera), millimetres, the standard 5-line header
``.csv``  one table for everyone: a row per person and frame where the person is present
========= =====================================================================================

Files per person (BVH, TRC): with one person (or ``track`` chosen), the path as given; with
several, one file each named by track: ``walk.bvh`` -> ``walk_track1.bvh``, ``walk_track4.bvh``.
A person's file spans the frames from their first to their last appearance; BVH fills frames
where they are briefly missing with the nearest seen pose, TRC leaves those markers empty (read
as missing by OpenSim).

CSV columns: ``track_id, frame_index, time_s``, then ``<joint>_x, <joint>_y, <joint>_z`` for the
17 joints in the world frame (metres), ``root_camera_x/_y/_z`` (the pelvis in the camera frame,
metres), ``right_foot_contact, left_foot_contact`` (0/1). Positions are written to 0.1 mm.

Every file is written to a temporary name in its folder and renamed when complete, and every
path is checked before anything is written, so a bad path leaves nothing half done.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from pipeline.export import SUFFIXES as RESULTS_SUFFIXES
from pipeline.export import Results, save_results, write_text_atomic
from posemoe.errors import PoseMoEError
from posemoe.skeleton import H36M17

__all__ = ["MOTION_SUFFIXES", "OUTPUT_SUFFIXES", "check_outputs", "output_files", "save_outputs",
           "select_track", "trc_text", "csv_text"]

MOTION_SUFFIXES = (".bvh", ".trc", ".csv")
OUTPUT_SUFFIXES = RESULTS_SUFFIXES + MOTION_SUFFIXES
PER_PERSON = (".bvh", ".trc")
TRC_DECIMALS = 2  # mm: 0.01 mm
CSV_DECIMALS = 4  # m: 0.1 mm


def check_suffix(path: Path) -> str:
    """The output's format suffix (lower case), or a one-line error naming the known ones."""
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise PoseMoEError(f"{path}: unknown output format {path.suffix or '(no suffix)'!r}; "
                           f"name it .npz or .json (results), .bvh (skeleton), .trc (OpenSim markers) or .csv (table)")
    return suffix


def select_track(results: Results, track: int | None, source: str = "the results") -> Results:
    """``results`` with only person ``track`` (by track id), or all of them when None."""
    if track is None:
        return results
    ids = results.track_ids.tolist()
    if track not in ids:
        have = ", ".join(str(t) for t in ids) if ids else "none (no person was found)"
        raise PoseMoEError(f"--track {track}: no such track in {source}; its tracks are {have}")
    p = ids.index(track)
    keep = slice(p, p + 1)
    scene = {} if not results.has_scene else dict(
        root_camera=results.root_camera[keep], keypoints3d_world=results.keypoints3d_world[keep],
        foot_contact=results.foot_contact[keep])
    return dataclasses.replace(results, track_ids=results.track_ids[keep], keypoints2d=results.keypoints2d[keep],
                               scores2d=results.scores2d[keep], keypoints3d=results.keypoints3d[keep], **scene)


def _has_3d(results: Results) -> np.ndarray:
    """(P, F) bool: a finite world pose (scene fields required)."""
    assert results.keypoints3d_world is not None
    return np.isfinite(results.keypoints3d_world).all(axis=(-2, -1))


def output_files(path: Path, results: Results) -> list[tuple[Path, int | None]]:
    """The files ``path`` stands for: ``(file, person index or None for all)``."""
    suffix = path.suffix.lower()
    if suffix not in PER_PERSON:
        return [(path, None)]
    people = np.flatnonzero(_has_3d(results).any(axis=1)).tolist()
    if len(people) == 1:
        return [(path, people[0])]
    return [(path.with_name(f"{path.stem}_track{int(results.track_ids[p])}{path.suffix}"), p) for p in people]


def check_outputs(paths: Sequence[Path], inputs: Sequence[Path]) -> None:
    """Fail before any work when an output cannot be written (suffix, folder, same as an input)."""
    from pipeline.video import check_output_path

    seen: set[Path] = set()
    for path in paths:
        suffix = check_suffix(path)
        check_output_path(path, list(inputs), (suffix,))
        key = path.resolve()
        if key in seen:
            raise PoseMoEError(f"{path}: given twice as an output; give each output once")
        seen.add(key)


def _require_3d(results: Results, path: Path) -> None:
    if not results.has_scene:
        raise PoseMoEError(f"{path}: the results have no scene fields; place them first with pipeline.world.place_in_world")
    if results.num_people == 0 or not _has_3d(results).any():
        raise PoseMoEError(f"{path}: the results hold no 3D pose (no person, or no lifted frame); "
                           f"lift the 2D first, e.g. `posemoe lift RESULTS -o LIFTED.npz`")


def _span(present: np.ndarray) -> slice:
    idx = np.flatnonzero(present)
    return slice(int(idx[0]), int(idx[-1]) + 1)


def trc_text(results: Results, person: int, name: str = "markers.trc") -> str:
    """OpenSim TRC (PathFileType 4, X/Y/Z) of one person: 17 joint markers, world frame, mm."""
    present = _has_3d(results)[person]
    span = _span(present)
    k = results.keypoints3d_world[person, span].astype(np.float64) * 1000.0  # (n, 17, 3) mm
    frames = results.frame_index[span]
    times = results.time_s[span]
    names = H36M17.joint_names
    n = len(frames)
    fps = f"{results.fps:.6g}"
    lines = [
        f"PathFileType\t4\t(X/Y/Z)\t{name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{fps}\t{fps}\t{n}\t{len(names)}\tmm\t{fps}\t{int(frames[0]) + 1}\t{n}",
        "Frame#\tTime\t" + "\t".join(f"{m}\t\t" for m in names).rstrip("\t"),
        "\t\t" + "\t".join(f"X{i + 1}\tY{i + 1}\tZ{i + 1}" for i in range(len(names))),
        "",
    ]
    for i in range(n):
        row = k[i].reshape(-1)
        values = "\t".join("" if not math.isfinite(v) else f"{v:.{TRC_DECIMALS}f}" for v in row)
        lines.append(f"{int(frames[i]) + 1}\t{times[i]:.6f}\t{values}")
    return "\n".join(lines) + "\n"


def csv_text(results: Results) -> str:
    """The CSV table of everyone (see the module docstring for the columns)."""
    names = H36M17.joint_names
    header = ["track_id", "frame_index", "time_s"] + [f"{n}_{a}" for n in names for a in "xyz"] + \
        ["root_camera_x", "root_camera_y", "root_camera_z", "right_foot_contact", "left_foot_contact"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    present = _has_3d(results)
    fmt = f"{{:.{CSV_DECIMALS}f}}"
    for p, track in enumerate(results.track_ids.tolist()):
        for f in np.flatnonzero(present[p]):
            joints = [fmt.format(v) for v in results.keypoints3d_world[p, f].reshape(-1).astype(np.float64)]
            root = ["" if not math.isfinite(v) else fmt.format(v) for v in results.root_camera[p, f].astype(np.float64)]
            contact = [str(int(c)) for c in results.foot_contact[p, f]]
            w.writerow([track, int(results.frame_index[f]), f"{results.time_s[f]:.6f}"] + joints + root + contact)
    return buf.getvalue()


def _bvh_text(results: Results, person: int) -> str:
    from posemoe.bvh import bvh_text, motion_from_positions

    present = _has_3d(results)[person]
    span = _span(present)
    positions = results.keypoints3d_world[person, span].astype(np.float64)
    return bvh_text(motion_from_positions(positions, results.fps))


def _write(path: Path, text: str) -> None:
    try:
        write_text_atomic(path, text)
    except OSError as exc:
        raise PoseMoEError(f"{path}: cannot write it ({exc.strerror or exc}); check the folder's permissions "
                           f"and free disk space") from None


def save_outputs(paths: Sequence[Path], results: Results) -> list[Path]:
    """Write ``results`` to every path in its suffix's format; returns the files written.

    Motion formats (BVH, TRC, CSV) need the scene fields (``pipeline.world.place_in_world``) and
    at least one lifted pose. Every path and the 3D are checked before the first file is written.
    """
    from pipeline.video import make_output_folder

    paths = [Path(p) for p in paths]
    for path in paths:
        if check_suffix(path) in MOTION_SUFFIXES:
            _require_3d(results, path)
    written: list[Path] = []
    for path in paths:
        make_output_folder(path)
        suffix = path.suffix.lower()
        if suffix in RESULTS_SUFFIXES:
            save_results(path, results)
            written.append(path)
            continue
        for file, person in output_files(path, results):
            if suffix == ".csv":
                text = csv_text(results)
            elif suffix == ".trc":
                text = trc_text(results, person, file.name)
            else:
                text = _bvh_text(results, person)
            _write(file, text)
            written.append(file)
    return written
