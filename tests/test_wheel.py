"""posemoe installs like a library: a wheel built from the checkout carries the shipped weights and
their model card (and no examples/ or tests/), and, installed in a folder of its own, runs
`posemoe video` with those weights from any working directory."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.export import load_results
from pipeline.video_io import VideoReader, VideoWriter

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "weights"
CLIP = ROOT / "examples" / "synthetic_walk.mp4"
TOP_PACKAGES = ("posemoe", "pipeline")


def _setuptools_config() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_every_package_folder_is_in_the_wheel_list() -> None:
    """pyproject.toml lists the packages (it maps `posemoe.weights` onto weights/, which discovery
    cannot do): every folder of posemoe/ and pipeline/ must be listed, or the wheel lacks it."""
    cfg = _setuptools_config()
    folders = {".".join(p.relative_to(ROOT).parts)
               for top in TOP_PACKAGES for p in [ROOT / top, *(ROOT / top).rglob("*")]
               if p.is_dir() and "__pycache__" not in p.parts}
    assert set(cfg["packages"]) == folders | {"posemoe.weights"}
    assert cfg["package-dir"] == {"posemoe.weights": "weights"}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(wheel, site): the wheel built from the checkout, and the folder it is installed into."""
    tmp = tmp_path_factory.mktemp("wheel")
    dist, site = tmp / "dist", tmp / "site"
    # setuptools' build and egg-info folders in the temporary folder, not in the checkout (where
    # stale files of an earlier build in build/ would end up in the wheel)
    cfg = tmp / "build.cfg"
    cfg.write_text(f"[build]\nbuild_base = {tmp / 'build'}\n[egg_info]\negg_base = {tmp}\n", encoding="utf-8")
    env = {**os.environ, "DIST_EXTRA_CONFIG": str(cfg), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "wheel", ".", "--no-deps", "--no-build-isolation", "-w", str(dist), "-q"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    (wheel,) = dist.glob("posemoe-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel), "-q"],
                   cwd=tmp, env=env, check=True, capture_output=True)
    return wheel, site


@pytest.mark.slow
def test_wheel_holds_the_packages_and_weights_only(installed: tuple[Path, Path]) -> None:
    wheel, _ = installed
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        tops = {n.split("/")[0] for n in names}
        assert tops == {*TOP_PACKAGES, next(t for t in tops if t.endswith(".dist-info"))}, tops
        assert not [n for n in names if "examples/" in n or "tests/" in n or n.startswith("weights/")]
        assert "posemoe/resources/h36m_cameras.json" in names
        for name in ("posemoe-default.pt", "README.md", "__init__.py"):
            assert zf.read(f"posemoe/weights/{name}") == (WEIGHTS / name).read_bytes(), name
    print(f"wheel {wheel.name}: {wheel.stat().st_size / 1e6:.2f} MB, {len(names)} files")


def _tiny_clip(path: Path, frames: int = 16, scale: float = 0.5) -> Path:
    """The first frames of the committed synthetic walk, at half size."""
    images = []
    with VideoReader(CLIP) as reader:
        fps = reader.info.fps
        for _, img in reader:
            images.append(cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
            if len(images) == frames:
                break
    h, w = images[0].shape[:2]
    with VideoWriter(path, fps, (w, h)) as writer:
        for img in images:
            writer.write(img)
    return path


CHECK = """
import json, sys
import posemoe, pipeline, pipeline.cli, pipeline.synthetic_clip
from posemoe.lifter import DEFAULT_WEIGHTS, Lifter
lifter = Lifter.from_checkpoint()
mods = {n: m.__file__ for n, m in sys.modules.items()
        if n.split(".")[0] in ("posemoe", "pipeline") and getattr(m, "__file__", None)}
print(json.dumps({"modules": mods, "weights": str(DEFAULT_WEIGHTS), "frames": lifter.frames,
                  "card": (DEFAULT_WEIGHTS.parent / "README.md").is_file()}))
"""


@pytest.mark.slow
def test_installed_wheel_runs_video_with_its_weights_from_any_folder(installed: tuple[Path, Path],
                                                                      tmp_path: Path) -> None:
    _, site = installed
    pytest.importorskip("mediapipe")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _tiny_clip(elsewhere / "tiny.mp4")  # run below by its name, from this folder
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(site), POSEMOE_OFFLINE="1", OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"))

    # the installed copy is what gets imported, and its default weights are the installed ones
    done = subprocess.run([sys.executable, "-c", CHECK], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    site_real = site.resolve()
    outside = {n: f for n, f in seen["modules"].items() if not Path(f).resolve().is_relative_to(site_real)}
    assert not outside and "posemoe.weights" in seen["modules"], outside
    weights = Path(seen["weights"])
    assert weights.resolve() == (site_real / "posemoe" / "weights" / "posemoe-default.pt")
    assert _sha256(weights) == _sha256(WEIGHTS / "posemoe-default.pt") and seen["card"] and seen["frames"] > 1

    # `posemoe video` with the default weights, from that folder
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "video", "tiny.mp4", "--save", "out.npz",
                           "--pose2d", "mediapipe", "-q"], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    res = load_results(elsewhere / "out.npz")
    assert res.keypoints3d.shape[1:] == (16, 17, 3) and res.keypoints3d.shape[0] >= 1
    present = res.present.any(axis=0)
    assert present.mean() > 0.8 and np.isfinite(res.keypoints3d[res.present]).all()
    assert Path(res.checkpoint["path"]).resolve() == weights.resolve()
    assert res.checkpoint["sha256"] == _sha256(weights)
