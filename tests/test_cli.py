"""The command line: info, train and eval end to end, and one-line errors without tracebacks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.cli import app, parse_overrides
from posemoe.errors import PoseMoEError

runner = CliRunner()
TINY_SETS = ["--set", "frames=9", "--set", "dim=32", "--set", "heads=4", "--set", "encoder_layers=1",
             "--set", "decoder_layers=1"]


def _one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for f in fragments:
        assert f in lines[0], (f, lines[0])


def test_info_lists_every_preset_and_variant() -> None:
    result = runner.invoke(app, ["info", "--preset", "small-27", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["variant"] for r in rows] == ["posemoe", "entangled"]
    assert all(0 < r["params"] <= 3e6 and r["flops_per_frame"] > 0 for r in rows)


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for cmd in ("train", "eval", "info", "export", "compare", "compact"):
        assert cmd in result.output


def test_train_then_eval_end_to_end(h36m_npz: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data-3d", str(h36m_npz), "--out", str(out), *TINY_SETS,
                                 "--epochs", "1", "--batch-size", "8", "--val-clips", "8",
                                 "--noise-px", "3", "--joint-dropout", "0.05", "--noise-mix"])
    assert result.exit_code == 0, result.output
    assert (out / "best.pt").is_file() and (out / "last.pt").is_file()
    recorded = json.loads((out / "train_config.json").read_text())
    assert (recorded["noise_px"], recorded["joint_dropout"], recorded["noise_mix"]) == (3.0, 0.05, True)
    report_path = tmp_path / "report.json"
    result = runner.invoke(app, ["eval", str(out / "best.pt"), "--data-3d", str(h36m_npz),
                                 "--subjects", "S9", "--json", str(report_path)])
    assert result.exit_code == 0, result.output
    assert "Walking" in result.output and "average" in result.output
    report = json.loads(report_path.read_text())
    assert report["settings"]["subjects"] == ["S9"] and report["average_over_actions"]["mpjpe"] > 0
    result = runner.invoke(app, ["info", "--checkpoint", str(out / "best.pt")])
    assert result.exit_code == 0 and "h36m17" in result.output

    # export for shipping, with the eval figures recorded in the file
    shipped = tmp_path / "weights" / "model.pt"
    result = runner.invoke(app, ["export", str(out / "best.pt"), "-o", str(shipped), "--eval-json", str(report_path)])
    assert result.exit_code == 0 and "float16" in result.output, result.output
    from posemoe.checkpoint import read_checkpoint

    stored = read_checkpoint(shipped)["metrics"]["h36m_s9s11"]["average_over_actions"]
    assert stored == report["average_over_actions"]

    # the same file under the fixed noise model, as Markdown, then both side by side
    noisy_path = tmp_path / "noisy.json"
    result = runner.invoke(app, ["eval", str(shipped), "--data-3d", str(h36m_npz), "--subjects", "S9", "--markdown",
                                 "--noise-px", "5", "--joint-dropout", "0.05", "--json", str(noisy_path)])
    assert result.exit_code == 0, result.output
    assert "| action | MPJPE (P1) |" in result.output and "| **average** |" in result.output
    result = runner.invoke(app, ["compare", str(report_path), str(noisy_path), "--labels", "clean,noisy"])
    assert result.exit_code == 0, result.output
    rows = [ln for ln in result.output.splitlines() if ln.startswith("| clean") or ln.startswith("| noisy")]
    assert len(rows) == 2 and rows[0].endswith("+0.00 |") and "5 px" in rows[1]


def test_bad_inputs_give_one_line_errors(tmp_path: Path) -> None:
    wrong_key = tmp_path / "wrong.npz"
    np.savez(wrong_key, poses=np.zeros(3))
    _one_line_error(runner.invoke(app, ["train", "--data-3d", str(tmp_path / "nope.npz"), "--out", str(tmp_path / "o")]),
                    "nope.npz")
    _one_line_error(runner.invoke(app, ["train", "--data-3d", str(wrong_key), "--out", str(tmp_path / "o")]),
                    "wrong.npz", "positions_3d")
    _one_line_error(runner.invoke(app, ["eval", str(tmp_path / "missing.pt"), "--data-3d", str(wrong_key)]),
                    "missing.pt", "not found")
    _one_line_error(runner.invoke(app, ["train", "--data-3d", str(wrong_key), "--set", "dim=big"]), "dim=big")
    _one_line_error(runner.invoke(app, ["info", "--preset", "tiny-5"]), "unknown preset")
    _one_line_error(runner.invoke(app, ["compare", str(tmp_path / "a.json")]), "a.json", "not found")
    not_report = tmp_path / "other.json"
    not_report.write_text('{"hello": 1}')
    _one_line_error(runner.invoke(app, ["compare", str(not_report)]), "other.json", "posemoe eval --json")
    _one_line_error(runner.invoke(app, ["export", str(tmp_path / "missing.pt"), "-o", str(tmp_path / "x.pt")]),
                    "missing.pt", "not found")
    assert not (tmp_path / "x.pt").exists()
    _one_line_error(runner.invoke(app, ["compact", str(wrong_key), "-o", str(tmp_path / "c.npz")]),
                    "wrong.npz", "positions_3d")


def test_missing_data_argument_names_the_fix(monkeypatch) -> None:
    monkeypatch.delenv("POSEMOE_H36M", raising=False)
    _one_line_error(runner.invoke(app, ["train"]), "--data-3d", "POSEMOE_H36M")


def test_parse_overrides_types() -> None:
    assert parse_overrides(["dim=64", "entangled=true", "drop_path=0.2"]) == {"dim": 64, "entangled": True, "drop_path": 0.2}
    with pytest.raises(PoseMoEError, match="FIELD=VALUE"):
        parse_overrides(["nonsense"])


def test_console_script_exits_fast_with_the_right_status_and_output(tmp_path: Path) -> None:
    """`main` (the `posemoe` console script) skips the interpreter's teardown but keeps what
    matters: the exit status, everything printed (also when piped), and atexit handlers."""
    import subprocess
    import sys

    marker = tmp_path / "atexit-ran"
    script = ("import atexit, pathlib, sys\n"
              f"atexit.register(lambda: pathlib.Path({str(marker)!r}).write_text('yes'))\n"
              "from pipeline.cli import main\n"
              "sys.argv = ['posemoe'] + sys.argv[1:]\n"
              "main()\n"
              "raise SystemExit(99)  # never reached: main() ends the process\n")
    ok = subprocess.run([sys.executable, "-c", script, "--help"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "batch" in ok.stdout and marker.read_text() == "yes"
    bad = subprocess.run([sys.executable, "-c", script, "video", str(tmp_path / "none.mp4"), "-o", str(tmp_path / "o.mp4")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error:") and "no such file" in bad.stderr
    usage = subprocess.run([sys.executable, "-c", script, "no-such-command"], capture_output=True, text=True, timeout=120)
    assert usage.returncode == 2 and "No such command" in usage.stderr


def test_the_command_line_and_the_2d_side_start_without_torch() -> None:
    # torch takes about 1 s to import: `posemoe --help` and the 2D pass do without it
    import subprocess

    code = ("import sys, pipeline.cli, pipeline.video, posemoe, posemoe.skeleton, posemoe.smoothing\n"
            "print('torch' in sys.modules)\n"
            "posemoe.PoseMoE\n"
            "print('torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]  # loaded on first use of a name that needs it
    import posemoe

    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        posemoe.Nothing
