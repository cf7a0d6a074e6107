#!/usr/bin/env bash
# One-command set-up: creates .venv and installs posemoe with its pinned dependencies.
# Re-running is cheap: the install is skipped when pyproject.toml, constraints.txt and this
# script are unchanged since the last successful run (a stamp in .venv), and pip's wheel cache
# keeps slow source builds (the mmcv build of the 2D stack) from being repeated.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
stamp="$VENV/.posemoe-setup-stamp"
want=$(cat pyproject.toml constraints.txt setup.sh | sha256sum | cut -d' ' -f1)

if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating virtual environment in $VENV"
    "$PY" -m venv "$VENV"
fi
# Byte-compile posemoe's own modules (about 1 s; files already compiled are skipped): where
# PYTHONDONTWRITEBYTECODE is set, as in many containers, Python would otherwise compile them
# from source on every command (0.1-0.2 s of each run's start-up).
compile_own() { "$VENV/bin/python" -m compileall -q pipeline posemoe >/dev/null; }
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    compile_own
    echo "[setup] $VENV is up to date (delete $stamp to force a reinstall)"
    exit 0
fi
pip=("$VENV/bin/python" -m pip install -q -c constraints.txt)
"$VENV/bin/python" -m pip install -q --upgrade pip
echo "[setup] installing torch (pinned), numpy and the build tools"
"${pip[@]}" torch numpy setuptools wheel

# mmcv (OpenMMLab, for the mmpose 2D backend) exists on PyPI only as source: compile its C++ ops
# against the torch just installed. The first time takes ~9 minutes on 2 cores; pip keeps the
# built wheel in its cache (~/.cache/pip), so later set-ups install it in seconds. A cached wheel
# built against another torch does not load: then it is rebuilt once without the cache.
mmcv_ok() { "$VENV/bin/python" -c "import mmcv.ops" >/dev/null 2>&1; }
if ! mmcv_ok; then
    echo "[setup] installing mmcv 2.1.0 (compiled from source the first time, ~9 min; cached afterwards)"
    MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" "${pip[@]}" --no-build-isolation mmcv
    if ! mmcv_ok; then
        echo "[setup] the cached mmcv wheel does not load with this torch; rebuilding it"
        MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" "${pip[@]}" --no-build-isolation --no-cache-dir \
            --force-reinstall --no-deps mmcv
        mmcv_ok || { "$VENV/bin/python" -c "import mmcv.ops"; exit 1; }
    fi
fi

echo "[setup] installing posemoe with its dependencies and the OpenMMLab stack"
"${pip[@]}" -e ".[dev,openmmlab]"
# mmpose without its declared dependencies: chumpy does not install on Python 3.11 and is never
# imported; the dependencies mmpose does use are in the [openmmlab] extra of pyproject.toml.
"${pip[@]}" --no-deps mmpose
"$VENV/bin/python" -c "
import torch, posemoe
from pipeline.pose2d.mmpose import import_openmmlab
import_openmmlab()
import mmcv, mmdet, mmpose
print('[setup] ok: torch', torch.__version__, '| posemoe', posemoe.__version__, '| mmcv', mmcv.__version__,
      '| mmdet', mmdet.__version__, '| mmpose', mmpose.__version__)"
compile_own
# What posemoe builds on first use, built now so that the first `posemoe video` does not wait for
# it: the lean landmark model and the MediaPipe pose bundle (from the wheel's models), and the
# shipped network's ONNX graph.
"$VENV/bin/python" -c "
from pipeline.onnx_lifter import load_onnx_lifter
from pipeline.pose2d.blazepose_lean import lean_landmark_model
from pipeline.pose2d.mediapipe_bundle import ensure_bundle, wheel_models
from posemoe.shipped import shipped_weights
lean = lean_landmark_model(wheel_models()[1])
print('[setup] cached:', getattr(lean, 'name', 'lean model (not cached)'), '|', ensure_bundle().name, '|',
      load_onnx_lifter(shipped_weights(), print).path.name)" \
    || echo "[setup] note: the landmark model, the MediaPipe bundle or the ONNX graph will be built on first use instead"
echo "$want" > "$stamp"
