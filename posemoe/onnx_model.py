"""PoseMoE as an ONNX graph run by ONNX Runtime: the same network on the CPU without torch.

Importing torch costs about 1.5-2 CPU-seconds on a small machine, more than lifting a short clip
takes; ONNX Runtime loads in about 0.2 s and runs this network faster on the CPU. So the video
pipeline lifts with the network's ONNX graph on the CPU (`pipeline.onnx_lifter` builds it from a
checkpoint once and keeps it in the cache) and loads torch only to build it.

`export_onnx` writes the network in eval mode (the depth prior's mean, no dropout) with a free
batch axis; its config travels in the graph's metadata, so `OnnxPoseMoE` knows the window length,
the joints, the input channels and the input normalisation without the checkpoint. The graph is
saved after ONNX Runtime's portable graph optimisations (constant folding, fused layer norms and
activations; none tied to this machine's CPU), so loading it takes tens of milliseconds. Only the
3D poses are exported: the routers' probabilities (`posemoe analyze`) come from torch.

Outputs equal the torch network's up to float32 rounding (``tests/test_onnx_model.py``).
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from posemoe.config import PoseMoEConfig
from posemoe.errors import PoseMoEError
from posemoe.skeleton import H36M17, flip_pose

if TYPE_CHECKING:
    from posemoe.model import PoseMoE

EXPORT_FORMAT = 1  # bump when the exported graph changes: `pipeline.onnx_lifter` then rebuilds it
OPSET = 17  # LayerNormalization is an ONNX operator from opset 17
METADATA_KEY = "posemoe_config"
FORMAT_KEY = "posemoe_onnx_format"
INPUT_NAME = "keypoints"  # (B, T, J, C) screen-normalised 2D, as `PoseMoE.forward` takes
OUTPUT_NAME = "pose3d"  # (B, T, J, 3) metres, root-relative, camera axes


def _require_onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise PoseMoEError(f"running the lifting network without torch needs onnxruntime ({exc}); "
                           "install it with: pip install onnxruntime") from None
    return onnxruntime


def export_onnx(model: PoseMoE, path: str | Path) -> Path:
    """Write `model` (eval mode) to `path` as an optimised ONNX graph with its config attached.

    Written to a temporary file in the same folder and renamed, so `path` is either the old file
    or the whole new one. Needs torch, the ``onnx`` package (torch's exporter writes with it)
    and onnxruntime (the optimisation pass)."""
    import torch

    try:
        import onnx
    except ImportError as exc:
        raise PoseMoEError(f"exporting the lifting network to ONNX needs the onnx package ({exc}); "
                           "install it with: pip install 'onnx<1.23'") from None
    ort = _require_onnxruntime()
    path = Path(path)
    cfg = model.cfg

    class PoseOnly(torch.nn.Module):
        """The network's 3D poses alone (no routes, no auxiliary loss)."""

        def __init__(self) -> None:
            super().__init__()
            self.net = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x).pose3d

    was_training = model.training
    wrapper = PoseOnly().eval()  # eval throughout: the exporter restores the wrapper's mode afterwards
    example = torch.zeros(2, cfg.frames, cfg.num_joints, cfg.in_channels)
    folder = path.parent
    raw = optimised = None
    try:
        fd, raw = tempfile.mkstemp(prefix=path.name + ".", suffix=".raw", dir=folder)
        os.close(fd)
        fd, optimised = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=folder)
        os.close(fd)
        with warnings.catch_warnings(), torch.no_grad():
            # the tracer warns about Python-side shape checks, which hold for every batch size
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapper, (example,), raw, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                              opset_version=OPSET, dynamo=False)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED  # portable: no CPU-specific layouts
        opts.optimized_model_filepath = optimised
        opts.log_severity_level = 3
        ort.InferenceSession(raw, opts, providers=["CPUExecutionProvider"])
        graph = onnx.load(optimised)
        meta = {p.key: p for p in graph.metadata_props}
        for key, value in ((METADATA_KEY, json.dumps(cfg.to_dict(), sort_keys=True)),
                           (FORMAT_KEY, str(EXPORT_FORMAT))):
            entry = meta.get(key) or graph.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(graph, optimised)
        os.replace(optimised, path)
    finally:
        model.train(was_training)
        for tmp in (raw, optimised):
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)
    return path


class OnnxPoseMoE:
    """An exported PoseMoE network (`export_onnx`) run by ONNX Runtime on numpy arrays.

    ``model(x)`` maps (B, T, J, C) float32 screen-normalised windows to (B, T, J, 3) float32
    metres like ``PoseMoE(x).pose3d``. Each call runs on one thread; calls from several Python
    threads run in parallel (ONNX Runtime releases the GIL), which `predict_windows` uses.
    """

    def __init__(self, path: str | Path) -> None:
        ort = _require_onnxruntime()
        self.path = Path(path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # optimised at export
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
            meta = self.session.get_modelmeta().custom_metadata_map
            self.cfg = PoseMoEConfig.from_dict(json.loads(meta[METADATA_KEY]))
            self.format = int(meta.get(FORMAT_KEY, 0))
        except (KeyError, ValueError, TypeError, PoseMoEError) as exc:
            raise PoseMoEError(f"{self.path}: not a posemoe ONNX export ({exc}); export the checkpoint again") from None
        except Exception as exc:  # onnxruntime's own errors (a truncated or corrupt file)
            raise PoseMoEError(f"{self.path}: ONNX Runtime cannot load it ({str(exc).splitlines()[0]}); "
                               "export the checkpoint again") from None

    @property
    def frames(self) -> int:
        """The window length T this model takes and returns."""
        return self.cfg.frames

    def __call__(self, x: np.ndarray) -> np.ndarray:
        cfg = self.cfg
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 4 or x.shape[1:] != (cfg.frames, cfg.num_joints, cfg.in_channels):
            raise PoseMoEError(f"PoseMoE input: expected shape (B, {cfg.frames}, {cfg.num_joints}, {cfg.in_channels}) "
                               f"(batch, frames, joints, channels), got {x.shape}")
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]

    def predict_windows(self, windows: np.ndarray, *, flip: bool = True, batch_size: int = 64,
                        threads: int = 1) -> np.ndarray:
        """(W, T, J, C) windows -> (W, T, J, 3) float64 metres, as `posemoe.lifter.predict_windows`:
        with `flip`, each window is also mirrored, predicted, mirrored back and averaged (both in
        one call). Batches of `batch_size` windows run on up to `threads` threads at once."""
        windows = np.ascontiguousarray(windows, dtype=np.float32)
        cfg = self.cfg
        if not len(windows):
            return np.zeros((0, cfg.frames, cfg.num_joints, 3))
        # at most `batch_size` windows a call, and at least one call per thread when there are enough
        size = max(1, min(batch_size, -(-len(windows) // max(threads, 1))))
        starts = range(0, len(windows), size)

        def one(start: int) -> np.ndarray:
            batch = windows[start:start + size]
            if not flip:
                return self(batch)
            both = self(np.concatenate([batch, flip_pose(batch, H36M17)]))
            return 0.5 * (both[:len(batch)] + flip_pose(both[len(batch):], H36M17))

        if threads <= 1 or len(starts) == 1:
            outs = [one(s) for s in starts]
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(min(threads, len(starts)), thread_name_prefix="posemoe-lift") as pool:
                outs = list(pool.map(one, starts))
        return np.concatenate(outs).astype(np.float64)
