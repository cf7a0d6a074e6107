"""The lifting network as an ONNX graph, built from its checkpoint into the cache on first use.

On the CPU, `posemoe video`, `posemoe lift` and `posemoe batch` lift with ONNX Runtime
(`posemoe.onnx_model`): it loads in a fraction of torch's import time and runs the network
faster. The graph is built once per checkpoint (torch loads the checkpoint and exports it, a few
seconds) and kept in the cache folder (`cache_dir`: ``$POSEMOE_LIFT_CACHE``, else ``lifter`` in
posemoe's user cache folder, ``~/.cache/posemoe/lifter`` on Linux) under a name made of the checkpoint's sha256
and the export format, so an edited or retrained checkpoint gets a graph of its own. It is written
under a temporary name and renamed; a file that does not load (truncated, corrupt, edited) is
built again, never used.

Torch lifts instead on other devices (``--device cuda``), when onnxruntime is not installed,
when ``POSEMOE_LIFT_RUNTIME=torch`` is set, and when the graph cannot be built or saved (say, the
cache folder is not writable), with a one-line note; the results agree to float32 rounding.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

from pipeline.export import file_sha256
from pipeline.pose2d.base import user_cache_root
from posemoe.errors import PoseMoEError

CACHE_ENV = "POSEMOE_LIFT_CACHE"
RUNTIME_ENV = "POSEMOE_LIFT_RUNTIME"
RUNTIMES = ("onnx", "torch")


def cache_dir() -> Path:
    """``$POSEMOE_LIFT_CACHE`` if set, else posemoe's user cache folder (``user_cache_root``:
    ``~/.cache/posemoe`` on Linux, honouring ``XDG_CACHE_HOME``) + ``lifter``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return user_cache_root() / "lifter"


def graph_path(checkpoint: Path) -> Path:
    """Where the ONNX graph of `checkpoint` lives in the cache (named by its sha256)."""
    from posemoe.onnx_model import EXPORT_FORMAT

    return cache_dir() / f"{checkpoint.stem}-{file_sha256(checkpoint)[:16]}-v{EXPORT_FORMAT}.onnx"


def lift_runtime(device: str | None) -> str:
    """"onnx" or "torch": what lifts on `device` (None = cpu); see the module docstring."""
    chosen = os.environ.get(RUNTIME_ENV, "").strip().lower()
    if chosen and chosen not in RUNTIMES:
        raise PoseMoEError(f"{RUNTIME_ENV}={chosen!r}: expected one of {', '.join(RUNTIMES)}; "
                           f"unset it to choose automatically")
    if chosen == "torch" or str(device or "cpu") != "cpu":
        return "torch"
    return "onnx" if importlib.util.find_spec("onnxruntime") is not None else "torch"


def load_onnx_lifter(checkpoint: Path, log: Callable[[str], None] | None = None):
    """The network of `checkpoint` as a `posemoe.onnx_model.OnnxPoseMoE`, from the cache, built
    there first if missing or unreadable. If it cannot be built or saved, returns the torch
    network (`posemoe.model.PoseMoE`) already loaded for the export, after a note to `log`. A bad
    checkpoint raises PoseMoEError either way."""
    from posemoe.onnx_model import OnnxPoseMoE, export_onnx

    path = None
    if checkpoint.is_file():  # else load_checkpoint below says what is wrong (missing, a folder, ...)
        try:
            path = graph_path(checkpoint)
        except OSError as exc:
            raise PoseMoEError(f"{checkpoint}: cannot read the checkpoint ({exc.strerror or exc}); "
                               "check its permissions") from None
        if path.is_file():
            try:
                return OnnxPoseMoE(path)
            except PoseMoEError:
                pass  # not whole: built again below
    from posemoe.checkpoint import load_checkpoint  # torch: only to build the graph

    model, _ = load_checkpoint(checkpoint, device="cpu")
    if log is not None:
        log(f"[lift] exporting {checkpoint.name} to an ONNX graph, once for this checkpoint (into {path.parent})")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.unlink()
        export_onnx(model, path)
        return OnnxPoseMoE(path)
    except Exception as exc:  # any failure to build or save the graph: torch lifts as well
        if log is not None:
            if isinstance(exc, OSError):
                log(f"[lift] lifting with torch: cannot write the ONNX graph to {path.parent} "
                    f"({exc.strerror or exc}); set {CACHE_ENV} to a writable folder to lift faster")
            else:
                log(f"[lift] lifting with torch: the ONNX graph of {checkpoint.name} could not be built "
                    f"({(str(exc) or type(exc).__name__).splitlines()[0]})")
        return model.eval()
