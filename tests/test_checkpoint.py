"""Self-describing checkpoints: round trip, and one-line errors for foreign or mismatched files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from posemoe import PoseMoE, PoseMoEConfig, load_checkpoint
from posemoe.checkpoint import FORMAT, make_checkpoint, save_checkpoint
from posemoe.errors import PoseMoEError


def _tiny() -> PoseMoE:
    torch.manual_seed(0)
    return PoseMoE(PoseMoEConfig(frames=9, dim=32, heads=4, encoder_layers=1, decoder_layers=1)).eval()


def test_round_trip_rebuilds_model_from_file_alone(tmp_path: Path) -> None:
    model = _tiny()
    path = save_checkpoint(make_checkpoint(model, metrics={"val_mpjpe_mm": 50.0}, train={"epoch": 3}),
                           tmp_path / "m.pt")
    assert not (tmp_path / "m.pt.tmp").exists()
    loaded, ckpt = load_checkpoint(path)
    assert ckpt["format"] == FORMAT and ckpt["joints"] == "h36m17"
    assert ckpt["input"]["channels"] == ["u", "v"] and ckpt["input"]["frames"] == 9
    assert ckpt["metrics"]["val_mpjpe_mm"] == 50.0
    assert loaded.cfg == model.cfg and not loaded.training
    x = torch.randn(2, 9, 17, 2)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x).pose3d, model(x).pose3d)


def _bad_files(tmp_path: Path) -> list[tuple[Path, str]]:
    model = _tiny()
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    coco = tmp_path / "coco.pt"
    torch.save({**make_checkpoint(model), "joints": "coco17"}, coco)
    return [(tmp_path / "missing.pt", "not found"), (foreign, "expected a posemoe checkpoint"),
            (garbage, "not a readable"), (coco, "expected joint layout 'h36m17', found 'coco17'")]


def test_bad_checkpoints_give_one_line_errors(tmp_path: Path) -> None:
    for path, message in _bad_files(tmp_path):
        with pytest.raises(PoseMoEError) as e:
            load_checkpoint(path)
        assert message in str(e.value) and str(path) in str(e.value)
        assert "\n" not in str(e.value)


def test_window_length_mismatch(tmp_path: Path) -> None:
    path = save_checkpoint(make_checkpoint(_tiny()), tmp_path / "m.pt")
    with pytest.raises(PoseMoEError, match="expected a model with a 243-frame window, found 9 frames"):
        load_checkpoint(path, frames=243)


def test_export_halves_the_file_and_keeps_the_predictions(tmp_path: Path) -> None:
    from posemoe.checkpoint import export_checkpoint, read_checkpoint

    model = _tiny()
    state = {"optimizer": {"big": torch.zeros(1000)}, "epoch": 1}
    src = save_checkpoint(make_checkpoint(model, metrics={"val_mpjpe_mm": 80.0}, state=state), tmp_path / "last.pt")
    dst = tmp_path / "ship" / "posemoe.pt"
    export_checkpoint(src, dst, half=True, metrics={"h36m": {"mpjpe": 70.0}})
    raw = read_checkpoint(dst)
    assert "state" not in raw and raw["dtype"] == "float16"
    assert all(v.dtype == torch.float16 for v in raw["model"].values() if v.is_floating_point())
    assert raw["metrics"] == {"val_mpjpe_mm": 80.0, "h36m": {"mpjpe": 70.0}}
    assert dst.stat().st_size < 0.6 * src.stat().st_size
    loaded, _ = load_checkpoint(dst)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())  # runs in float32
    x = torch.randn(3, 9, 17, 2)
    with torch.no_grad():
        ref, got = model(x).pose3d, loaded(x).pose3d
    assert not torch.equal(ref, got)  # the weights really were rounded
    assert (ref - got).abs().max() < 1e-3  # metres: well under a millimetre
