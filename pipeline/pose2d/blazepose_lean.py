"""BlazePose's landmark model without the heads posemoe does not use, built from the wheel's model.

``pose_landmark_full.tflite`` computes five outputs: the 33 landmarks (``Identity``), the person's
presence (``Identity_1``), a 256x256 segmentation mask (``Identity_2``), the landmark heatmaps
(``Identity_3``) and 3D "world" landmarks (``Identity_4``). The 2D backend reads the landmarks,
the presence and the heatmaps; the mask's decoder alone is 46 of the model's 332 operators and,
run in LiteRT with XNNPACK on one core, a third of the model's time (14.0 -> 9.0 ms a run,
measured on a 2-core x86 machine). `lean_model_bytes` removes the unused outputs and every
operator only they need from the model's flatbuffer (LiteRT's own schema classes, from the
``ai-edge-litert`` wheel); what remains computes the kept outputs bit for bit as before
(``tests/test_pose2d_blazepose_lean.py``).

`lean_landmark_model` keeps the result in the cache folder (`pipeline.pose2d.mediapipe_bundle.cache_dir`:
``~/.cache/posemoe/mediapipe``, ``$POSEMOE_CACHE`` moves it), named by a hash of the wheel's model,
written to a temporary name and renamed; a file there that LiteRT cannot load, or that lacks the
kept outputs, is rebuilt, never used. Where the cache cannot be written, the model is rebuilt in
memory at every start (about 0.2 s).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from posemoe.errors import PoseMoEError

LEAN_FORMAT = 1  # bump when the pruning changes: cached lean models are then rebuilt
KEEP = ("Identity", "Identity_1", "Identity_3")  # landmarks, presence, heatmaps
DROP = ("Identity_2", "Identity_4")  # segmentation mask, world landmarks


def lean_model_bytes(model: bytes, drop: tuple[str, ...] = DROP) -> bytes:
    """`model` (a .tflite flatbuffer) without the outputs named in `drop` and the operators that
    only they need."""
    try:
        import flatbuffers
        from ai_edge_litert import schema_py_generated as schema
    except ImportError as exc:
        raise PoseMoEError(f"trimming the landmark model needs LiteRT's schema ({exc}); "
                           "install it with: pip install ai-edge-litert") from None
    try:
        tree = schema.ModelT.InitFromObj(schema.Model.GetRootAs(model, 0))
        graph = tree.subgraphs[0]
    except Exception as exc:  # noqa: BLE001 - flatbuffers reports a damaged file in many ways
        raise PoseMoEError(f"not a LiteRT model ({type(exc).__name__}: {exc}); "
                           "reinstall mediapipe: pip install --force-reinstall mediapipe==0.10.21") from None

    def name(i: int) -> str:
        n = graph.tensors[i].name
        return n.decode() if isinstance(n, bytes) else str(n)

    keep = [i for i in graph.outputs if name(i) not in drop]
    if len(keep) == len(graph.outputs):
        return model  # nothing to drop
    producer = {t: k for k, op in enumerate(graph.operators) for t in op.outputs}
    needed, stack = set(), [producer[t] for t in keep if t in producer]
    while stack:
        k = stack.pop()
        if k not in needed:
            needed.add(k)
            stack += [producer[t] for t in graph.operators[k].inputs if t in producer]
    graph.operators = [op for k, op in enumerate(graph.operators) if k in needed]  # in their order
    graph.outputs = keep
    tree.signatureDefs = []  # they would still name the dropped outputs
    builder = flatbuffers.Builder(len(model) + 4096)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def lean_path(source: Path) -> Path:
    """Where the lean model made from `source` lives in the cache (named by its hash)."""
    from pipeline.pose2d.mediapipe_bundle import cache_dir

    digest = hashlib.sha256(f"posemoe-lean-{LEAN_FORMAT}".encode() + source.read_bytes()).hexdigest()[:16]
    return cache_dir() / f"pose_landmark_lean-{digest}.tflite"


def loads(model: Path | bytes) -> bool:
    """Whether LiteRT loads `model` and it has exactly the kept outputs."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        it = (Interpreter(model_path=str(model)) if isinstance(model, Path) else Interpreter(model_content=model))
        return sorted(d["name"] for d in it.get_output_details()) == sorted(KEEP)
    except Exception:  # noqa: BLE001 - a file that does not load is rebuilt
        return False


def lean_landmark_model(source: Path) -> Path | bytes:
    """The lean landmark model for the wheel's `source` model: its cached file, built first if
    it is not there whole; or, where the cache cannot be written, the model itself (bytes)."""
    path = lean_path(source)
    if path.is_file() and loads(path):
        return path
    lean = lean_model_bytes(source.read_bytes())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(lean)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        return lean  # built again next time; the 2D works the same
    return path
