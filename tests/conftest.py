"""Shared fixtures: a tiny synthetic Human3.6M-like dataset written by the tests themselves.

Every test process computes with one thread (torch, OpenMP, BLAS, OpenCV), set here before
anything else is imported and inherited by the commands tests run as subprocesses: results do not
depend on the machine's core count, and the suite's parallel workers (pytest-xdist, ``-n`` in
pyproject.toml) do not oversubscribe the cores.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from posemoe.skeleton import H36M17  # noqa: E402

TEST_THREADS = 1
torch.set_num_threads(TEST_THREADS)
cv2.setNumThreads(TEST_THREADS)

# bone offsets of a standing person (metres, world axes: x forward, y left, z up), child <- parent
_OFFSETS = {
    1: (0.0, -0.13, 0.0), 2: (0.0, 0.0, -0.44), 3: (0.0, 0.0, -0.44),
    4: (0.0, 0.13, 0.0), 5: (0.0, 0.0, -0.44), 6: (0.0, 0.0, -0.44),
    7: (0.0, 0.0, 0.23), 8: (0.0, 0.0, 0.25), 9: (0.03, 0.0, 0.11), 10: (0.0, 0.0, 0.12),
    11: (0.0, 0.17, -0.02), 12: (0.0, 0.0, -0.28), 13: (0.0, 0.0, -0.25),
    14: (0.0, -0.17, -0.02), 15: (0.0, 0.0, -0.28), 16: (0.0, 0.0, -0.25),
}
_SWING = {2: 1.0, 5: -1.0, 12: -0.8, 15: 0.8}  # limbs that swing forward/back while walking


def synthetic_motion(n: int, seed: int) -> np.ndarray:
    """(n, 17, 3) world poses (metres) of a figure walking in a circle near the origin."""
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi)
    speed = rng.uniform(0.08, 0.15)
    out = np.zeros((n, 17, 3))
    for t in range(n):
        a = phase + speed * t
        heading = a + np.pi / 2
        rot = np.array([[np.cos(heading), -np.sin(heading), 0], [np.sin(heading), np.cos(heading), 0], [0, 0, 1]])
        root = np.array([1.0 * np.cos(a), 1.0 * np.sin(a), 0.95])
        pos = {0: root}
        for j in range(1, 17):
            parent = H36M17.parents[j]
            off = np.array(_OFFSETS[j])
            if parent in _SWING or j in _SWING:
                s = _SWING.get(j, _SWING.get(parent, 0.0)) * 0.5 * np.sin(3 * a)
                c, si = np.cos(s), np.sin(s)
                off = np.array([[c, 0, si], [0, 1, 0], [-si, 0, c]]) @ off
            pos[j] = pos[parent] + rot @ off
        out[t] = np.stack([pos[j] for j in range(17)])
    return out.astype(np.float32)


def write_h36m_npz(path: Path, subjects=("S1", "S9"), actions=("Walking", "Directions 1"), frames: int = 60) -> Path:
    data = {s: {a: synthetic_motion(frames, seed=si * 10 + ai) for ai, a in enumerate(actions)}
            for si, s in enumerate(subjects)}
    np.savez_compressed(path, positions_3d=np.array(data, dtype=object))
    return path


@pytest.fixture
def h36m_npz(tmp_path: Path) -> Path:
    """A VideoPose3D-layout 3D file: S1 (train) and S9 (test), 2 actions, 60 frames each."""
    return write_h36m_npz(tmp_path / "data_3d_h36m.npz")


@pytest.fixture(autouse=True, scope="session")
def _no_weight_downloads(tmp_path_factory):
    """No test downloads model weights or touches the user's cache: the mmpose backend's cache is
    an empty temporary folder and its downloads are off (tests that need them patch these); the
    lifting networks' ONNX graphs (`pipeline.onnx_lifter`) go to a temporary folder too."""
    mp = pytest.MonkeyPatch()
    mp.setenv("POSEMOE_OFFLINE", "1")
    mp.setenv("POSEMOE_OPENMMLAB_CACHE", str(tmp_path_factory.mktemp("openmmlab-cache")))
    mp.setenv("POSEMOE_LIFT_CACHE", str(tmp_path_factory.mktemp("lift-cache")))
    yield
    mp.undo()
