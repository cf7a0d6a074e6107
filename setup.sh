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
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "[setup] $VENV is up to date (delete $stamp to force a reinstall)"
    exit 0
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
echo "[setup] installing torch (pinned) and posemoe with its dependencies"
"$VENV/bin/python" -m pip install -q -c constraints.txt torch numpy
"$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[dev]"
"$VENV/bin/python" -c "import torch, posemoe; print('[setup] ok: torch', torch.__version__, '| posemoe', posemoe.__version__)"
echo "$want" > "$stamp"
