"""Detector 2D in the MPII-16 layout (the Stacked Hourglass detections of Human3.6M): conversion
to Human3.6M-17 and reading files, with one-line errors for layouts and joint counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from posemoe.data import load_positions_2d
from posemoe.errors import PoseMoEError
from posemoe.skeleton import H36M17, MPII16, mpii16_to_h36m17

# physical point -> (H36M17 joint, MPII16 joint), by name
SAME_POINT = {
    "pelvis": ("pelvis", "pelvis"), "r_hip": ("right_hip", "r_hip"), "r_knee": ("right_knee", "r_knee"),
    "r_ankle": ("right_ankle", "r_ankle"), "l_hip": ("left_hip", "l_hip"), "l_knee": ("left_knee", "l_knee"),
    "l_ankle": ("left_ankle", "l_ankle"), "thorax": ("thorax", "thorax"), "neck": ("neck_nose", "upper_neck"),
    "head": ("head", "head_top"), "l_sh": ("left_shoulder", "l_shoulder"), "l_el": ("left_elbow", "l_elbow"),
    "l_wr": ("left_wrist", "l_wrist"), "r_sh": ("right_shoulder", "r_shoulder"), "r_el": ("right_elbow", "r_elbow"),
    "r_wr": ("right_wrist", "r_wrist"),
}


def test_every_joint_lands_on_the_point_of_the_same_name() -> None:
    rng = np.random.default_rng(0)
    mpii = rng.normal(size=(5, 16, 3))
    out = mpii16_to_h36m17(mpii)
    assert out.shape == (5, 17, 3)
    for h_name, m_name in SAME_POINT.values():
        h, m = H36M17.joint_names.index(h_name), MPII16.joint_names.index(m_name)
        np.testing.assert_array_equal(out[:, h], mpii[:, m])
    spine = H36M17.joint_names.index("spine")
    pel, tho = MPII16.joint_names.index("pelvis"), MPII16.joint_names.index("thorax")
    np.testing.assert_allclose(out[:, spine, :2], 0.5 * (mpii[:, pel, :2] + mpii[:, tho, :2]))
    np.testing.assert_allclose(out[:, spine, 2], np.minimum(mpii[:, pel, 2], mpii[:, tho, 2]))
    # mirroring commutes with the conversion: left/right partners map to left/right partners
    mirrored = mpii[:, MPII16.flip_permutation]
    np.testing.assert_array_equal(mpii16_to_h36m17(mirrored), out[:, H36M17.flip_permutation])
    with pytest.raises(PoseMoEError, match=r"expected shape \(\.\.\., 16, 2 or 3\), found \(5, 17, 2\)"):
        mpii16_to_h36m17(np.zeros((5, 17, 2)))


def _write(path: Path, arrays, layout: str | None) -> Path:
    extra = {} if layout is None else {"metadata": np.array({"layout_name": layout}, dtype=object)}
    np.savez_compressed(path, positions_2d=np.array({"S9": {"Walking": arrays}}, dtype=object), **extra)
    return path


def test_reading_a_detections_file(tmp_path: Path) -> None:
    views = [None, np.full((4, 16, 2), 7, dtype=np.int16), np.zeros((4, 16, 2), np.int16), np.zeros((4, 16, 2), np.int16)]
    got = load_positions_2d(_write(tmp_path / "sh.npz", views, "mpii16"))["S9"]["Walking"]
    assert got[0] is None and got[1].shape == (4, 17, 2) and got[1].dtype == np.float32 and got[1].max() == 7


def test_layout_and_joint_count_errors_name_file_expected_and_found(tmp_path: Path) -> None:
    with pytest.raises(PoseMoEError) as e:
        load_positions_2d(_write(tmp_path / "coco.npz", [np.zeros((4, 17, 2))], "coco17"))
    msg = str(e.value)
    assert "coco.npz" in msg and "h36m17, h36m32, mpii16" in msg and "'coco17'" in msg and "\n" not in msg
    with pytest.raises(PoseMoEError) as e:  # declared MPII-16, holds 17 joints
        load_positions_2d(_write(tmp_path / "wrong.npz", [np.zeros((4, 17, 2))], "mpii16"))
    assert "wrong.npz" in str(e.value) and "(N, 16, 2 or 3)" in str(e.value) and "(4, 17, 2)" in str(e.value)
    with pytest.raises(PoseMoEError) as e:  # no layout declared: 16 joints are not a Human3.6M layout
        load_positions_2d(_write(tmp_path / "bare.npz", [np.zeros((4, 16, 2))], None))
    assert "bare.npz" in str(e.value) and "17 or 32" in str(e.value) and "(4, 16, 2)" in str(e.value)


def test_eval_with_a_file_of_unknown_layout_is_one_line(tmp_path: Path, h36m_npz: Path) -> None:
    from typer.testing import CliRunner

    from pipeline.cli import app
    from posemoe import PoseMoE, PoseMoEConfig
    from posemoe.checkpoint import make_checkpoint, save_checkpoint

    ckpt = save_checkpoint(make_checkpoint(PoseMoE(PoseMoEConfig(frames=3, dim=32, heads=4, encoder_layers=1,
                                                                 decoder_layers=1))), tmp_path / "m.pt")
    bad = _write(tmp_path / "openpose.npz", [np.zeros((4, 25, 2))], "body25")
    r = CliRunner().invoke(app, ["eval", str(ckpt), "--data-3d", str(h36m_npz), "--data-2d", str(bad)])
    assert r.exit_code == 2 and "Traceback" not in r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "openpose.npz" in lines[0] and "'body25'" in lines[0] and "mpii16" in lines[0]


def test_compact_copy_of_a_2d_file_reads_like_the_original(tmp_path: Path) -> None:
    """Whole-pixel detections (the Stacked Hourglass file's int16) come back exactly, fractional
    pixels within 0.05 px; the MPII-16 layout survives (converted to 17 joints on reading), a
    missing view stays missing, `subjects` filters, and a confidence channel is refused."""
    from posemoe.data import write_compact_2d

    rng = np.random.default_rng(0)
    whole = np.cumsum(rng.integers(-6, 7, (50, 16, 2)), axis=0).astype(np.int16) + 500
    frac = (rng.uniform(0, 1000, (1, 16, 2)) + np.cumsum(rng.normal(0, 3, (50, 16, 2)), axis=0)).astype(np.float32)
    path = tmp_path / "sh.npz"
    np.savez_compressed(path, positions_2d=np.array({"S1": {"Walking": [None, whole, frac, whole]},
                                                     "S9": {"Walking": [whole, whole, whole, whole]}}, dtype=object),
                        metadata=np.array({"layout_name": "mpii16"}, dtype=object))
    stats = write_compact_2d(path, tmp_path / "c" / "small.npz", subjects=["S1"])
    assert stats["sequences"] == 3 and stats["frames"] == 150
    full, small = load_positions_2d(path), load_positions_2d(tmp_path / "c" / "small.npz")
    assert list(small) == ["S1"]
    a, b = full["S1"]["Walking"], small["S1"]["Walking"]
    assert b[0] is None and b[1].shape == (50, 17, 2) and b[1].dtype == np.float32
    np.testing.assert_array_equal(b[1], a[1])
    np.testing.assert_array_equal(b[3], a[3])
    assert np.abs(b[2] - a[2]).max() <= 0.05 + 1e-3
    conf = tmp_path / "conf.npz"
    np.savez_compressed(conf, positions_2d=np.array({"S1": {"Walking": [np.zeros((5, 17, 3))]}}, dtype=object))
    with pytest.raises(PoseMoEError, match="confidence channel"):
        write_compact_2d(conf, tmp_path / "x.npz")
    with pytest.raises(PoseMoEError, match="S7"):
        write_compact_2d(path, tmp_path / "x.npz", subjects=["S7"])
    assert not (tmp_path / "x.npz").exists()
