"""The ``mmpose`` 2D backend: an RTMDet person detector, then RTMPose-m top-down on each person.

Both networks are the standard OpenMMLab models that ``MMPoseInferencer("human")`` uses at
mmpose 1.3.2, built from the config files shipped inside the installed mmpose / mmdet packages
(no network needed for those):

* detector: RTMDet-m, one class (person), 640x640 input, trained on COCO + Objects365 people.
* pose model: RTMPose-m (SimCC head), 256x192 input, trained on seven public body datasets,
  17 COCO keypoints; each person is cropped from the detector's box (enlarged 1.25x), and the
  keypoints come back in pixels of the original frame.

Weights (``resolve_weights``), in order of preference:

1. local files given explicitly (``det_weights=`` / ``pose_weights=``, the CLI's
   ``--det-weights`` / ``--pose-weights``);
2. the cache folder, ``cache_dir()``: ``$POSEMOE_OPENMMLAB_CACHE``, else ``openmmlab`` in
   posemoe's user cache folder (``platformdirs``; on Linux ``$XDG_CACHE_HOME/posemoe/openmmlab``,
   else ``~/.cache/posemoe/openmmlab``);
3. one download from download.openmmlab.com into that folder (``torch.hub.download_url_to_file``:
   written to a temporary name, its SHA-256 checked against the 8-hex-digit prefix in the file
   name, then renamed), unless ``POSEMOE_OFFLINE`` is set.

With none of these a one-line ``PoseMoEError`` names the two files, the folder, the options and
``--pose2d mediapipe``. ``auto_choice()`` is what ``--pose2d auto`` asks: are both files here, or
can one quick download get them? A failed attempt is remembered in the cache folder for
``AUTO_RETRY_DAYS`` days so that ``auto`` does not try again on every run.

Each Detection (same convention as the other backends): keypoints (17, 2) in H36M17 order
(``posemoe.skeleton.coco17_to_h36m17``), pixels of the frame as given; scores (17,) RTMPose's
keypoint confidences clipped to [0, 1]; box = the detector's box; score = the detector's score.
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import pickle
import re
import socket
import sys
import time
import urllib.error
import warnings
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from pipeline.export import file_sha256
from pipeline.pose2d._torchvision_compat import import_torchvision
from pipeline.pose2d.base import Detection, PoseBackend, check_frame, user_cache_root
from posemoe.errors import PoseMoEError
from posemoe.skeleton import coco17_to_h36m17

__all__ = [
    "AUTO_RETRY_DAYS",
    "DETECTOR",
    "MMPoseBackend",
    "POSE_MODEL",
    "WeightsFile",
    "auto_choice",
    "cache_dir",
    "download",
    "nms",
    "resolve_weights",
]

CACHE_ENV = "POSEMOE_OPENMMLAB_CACHE"
OFFLINE_ENV = "POSEMOE_OFFLINE"
AUTO_RETRY_DAYS = 7
AUTO_TIMEOUT_S = 5.0     # socket timeout of the quick attempt `auto` makes
DOWNLOAD_TIMEOUT_S = 30.0  # socket timeout of an explicit --pose2d mmpose run
_AUTO_MEMO = "auto-download.json"
_BASE_URL = "https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/"


@dataclass(frozen=True)
class WeightsFile:
    """One checkpoint the backend loads.

    sha256: the file's full SHA-256 when known. OpenMMLab's ``publish_model`` names each file
    after the first 8 hex digits of its SHA-256 (``sha256_prefix``, also in ``filename``); the
    full digests are not published next to the files, and none could be looked up while writing
    this (no network to the model server), so only that prefix is checked: a truncated or
    substituted download is still rejected.
    """

    role: str          # "detector" / "pose model", for messages
    option: str        # the CLI option that gives a local file instead
    filename: str
    sha256_prefix: str
    sha256: str | None = None

    @property
    def url(self) -> str:
        return _BASE_URL + self.filename

    def matches(self, digest: str) -> bool:
        """Whether a file with this hex SHA-256 is this checkpoint."""
        digest = digest.lower()
        return digest == self.sha256 if self.sha256 else digest.startswith(self.sha256_prefix)

    @property
    def hash_prefix(self) -> str:
        """What a downloaded file's hex SHA-256 must start with: the full digest when known, else the prefix."""
        return (self.sha256 or self.sha256_prefix).lower()

    @property
    def expected(self) -> str:
        return self.sha256 if self.sha256 else f"{self.sha256_prefix}... (first 8 hex digits, from the file name)"


DETECTOR = WeightsFile("detector", "--det-weights",
                       "rtmdet_m_8xb32-100e_coco-obj365-person-235e8209.pth", "235e8209")
POSE_MODEL = WeightsFile("pose model", "--pose-weights",
                         "rtmpose-m_simcc-body7_pt-body7_420e-256x192-e48f03d0_20230504.pth", "e48f03d0")
# configs inside the installed packages (``<package>/.mim/...``), as MMPoseInferencer("human") uses
DETECTOR_CONFIG = ("mmpose", "demo/mmdetection_cfg/rtmdet_m_640-8xb32_coco-person.py")
POSE_CONFIG = ("mmpose", "configs/body_2d_keypoint/rtmpose/body8/rtmpose-m_8xb256-420e_body8-256x192.py")


# ----------------------------------------------------------------------------- weights


def cache_dir() -> Path:
    """Folder of downloaded OpenMMLab weights (see the module docstring); not created here."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return user_cache_root() / "openmmlab"


def downloads_disabled() -> bool:
    """Whether ``POSEMOE_OFFLINE`` forbids downloads (any value but "", "0", "false", "no")."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def cached(spec: WeightsFile) -> Path | None:
    """The cached file for ``spec``, or None."""
    path = cache_dir() / spec.filename
    return path if path.is_file() and path.stat().st_size > 0 else None


class DownloadFailed(PoseMoEError):
    """A weights download did not produce a verified file (network error or wrong content).

    ``reason``: the cause alone (e.g. "[Errno -2] Name or service not known"), for longer messages.
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


# how torch.hub reports a download whose SHA-256 does not start with the expected prefix
_HASH_MISMATCH = re.compile(r'invalid hash value \(expected "[0-9a-fA-F]*", got "([0-9a-fA-F]+)"\)')
_PARTIAL_SUFFIX = ".partial"  # torch.hub's temporary file: DESTINATION.<random hex>.partial


@contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """New sockets time out after ``seconds`` per operation inside the block.

    ``torch.hub.download_url_to_file`` takes no timeout; its ``urlopen`` uses the default one.
    """
    before = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(before)


def download(spec: WeightsFile, folder: Path | None = None, timeout: float = DOWNLOAD_TIMEOUT_S,
             log: Callable[[str], None] | None = None) -> Path:
    """Fetch ``spec`` into ``folder`` (default ``cache_dir()``) and return the file's path.

    ``torch.hub.download_url_to_file`` streams the bytes to a temporary file in the same folder
    and renames it to its final name only once its SHA-256 starts with ``spec.hash_prefix``, so
    a partial or wrong download never appears under that name. ``timeout``: seconds per socket
    operation. Raises ``DownloadFailed`` (one line) otherwise.
    """
    from torch.hub import download_url_to_file

    folder = cache_dir() if folder is None else Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(folder))
    except OSError as exc:
        raise DownloadFailed(f"{folder}: cannot write the {spec.role} weights there ({exc.strerror or exc})",
                             f"cannot write to {folder}") from None
    (log or _stderr)(f"[mmpose] downloading the {spec.role} weights {spec.url} -> {folder}")
    try:
        with _socket_timeout(timeout):
            download_url_to_file(spec.url, str(folder / spec.filename), hash_prefix=spec.hash_prefix, progress=False)
    except RuntimeError as exc:
        mismatch = _HASH_MISMATCH.search(str(exc))
        if mismatch is None:
            raise DownloadFailed(f"{spec.url}: download failed ({_one_line(exc)})", _one_line(exc)) from None
        raise DownloadFailed(f"{spec.url}: expected a file with sha256 {spec.expected}, found {mismatch.group(1)}; "
                             f"not saved", f"{spec.filename} has the wrong sha256") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:  # timeouts are OSError
        if isinstance(exc, OSError) and str(getattr(exc, "filename", "") or "").endswith(_PARTIAL_SUFFIX):
            raise DownloadFailed(f"{folder}: cannot write the {spec.role} weights there ({exc.strerror or exc})",
                                 f"cannot write to {folder}") from None
        reason = getattr(exc, "reason", None) or exc
        raise DownloadFailed(f"{spec.url}: download failed ({_one_line(reason)})", _one_line(reason)) from None
    return folder / spec.filename


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _one_line(x: Any) -> str:
    text = str(x).strip()
    return text.splitlines()[0] if text else type(x).__name__


def _explicit(path: str | os.PathLike | None, spec: WeightsFile) -> Path | None:
    if path is None:
        return None
    p = Path(path).expanduser()
    if not p.is_file():
        raise PoseMoEError(f"{spec.option} {p}: no such file (expected the {spec.role} checkpoint, e.g. "
                           f"{spec.filename})")
    return p


def _unavailable_message(missing: Sequence[WeightsFile], why: str) -> str:
    names = " and ".join(f"{s.filename} ({s.role})" for s in missing)
    options = " and ".join(s.option for s in missing)
    return (f"mmpose backend: the OpenMMLab weights {names} are not in {cache_dir()} and {why}; download them from "
            f"{_BASE_URL} into that folder (or set {CACHE_ENV}), pass local files with {options}, "
            f"or use --pose2d mediapipe")


def resolve_weights(det_weights: str | os.PathLike | None = None, pose_weights: str | os.PathLike | None = None,
                    *, allow_download: bool = True, timeout: float = DOWNLOAD_TIMEOUT_S,
                    log: Callable[[str], None] | None = None) -> tuple[Path, Path]:
    """``(detector, pose model)`` checkpoint paths: explicit file > cache > one download each.

    Raises ``PoseMoEError`` (one line) when a file cannot be had.
    """
    found: dict[WeightsFile, Path | None] = {
        DETECTOR: _explicit(det_weights, DETECTOR) or cached(DETECTOR),
        POSE_MODEL: _explicit(pose_weights, POSE_MODEL) or cached(POSE_MODEL),
    }
    missing = [s for s, p in found.items() if p is None]
    if missing and (not allow_download or downloads_disabled()):
        why = f"downloads are off ({OFFLINE_ENV} is set)" if downloads_disabled() else "downloads were not allowed"
        raise PoseMoEError(_unavailable_message(missing, why))
    for spec in missing:
        try:
            found[spec] = download(spec, timeout=timeout, log=log)
        except DownloadFailed as exc:
            raise PoseMoEError(_unavailable_message(missing, f"could not be downloaded ({exc.reason})")) from None
    return found[DETECTOR], found[POSE_MODEL]  # type: ignore[return-value]


def _read_memo() -> dict[str, Any] | None:
    try:
        memo = json.loads((cache_dir() / _AUTO_MEMO).read_text(encoding="utf-8"))
        return memo if isinstance(memo, dict) and isinstance(memo.get("time"), (int, float)) else None
    except (OSError, ValueError):
        return None


def _write_memo(error: str) -> None:
    try:
        cache_dir().mkdir(parents=True, exist_ok=True)
        (cache_dir() / _AUTO_MEMO).write_text(json.dumps({"time": time.time(), "error": error}), encoding="utf-8")
    except OSError:
        pass  # an unwritable cache only means the next run tries again


def _day(t: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(t))


def auto_choice(det_weights: str | os.PathLike | None = None, pose_weights: str | os.PathLike | None = None,
                *, timeout: float = AUTO_TIMEOUT_S, log: Callable[[str], None] | None = None) -> tuple[bool, str]:
    """Whether ``--pose2d auto`` can use mmpose's weights, and why: ``(ok, clause)``, e.g. "its weights cached in DIR".

    True when both files are given or cached, or one quick download attempt (``timeout`` seconds
    per socket operation) fetches the missing ones. A failed attempt is remembered for
    ``AUTO_RETRY_DAYS`` days (``auto-download.json`` in the cache folder); ``--pose2d mmpose``
    always tries.
    """
    given = [s.option for s, p in ((DETECTOR, det_weights), (POSE_MODEL, pose_weights)) if p is not None]
    try:
        det = _explicit(det_weights, DETECTOR) or cached(DETECTOR)
        pose = _explicit(pose_weights, POSE_MODEL) or cached(POSE_MODEL)
    except PoseMoEError as exc:
        return False, str(exc)
    where = (f"given with {' and '.join(given)}" if len(given) == 2
             else f"{' and '.join(given) + ' / ' if given else ''}cached in {cache_dir()}")
    if det is not None and pose is not None:
        return True, f"its weights {where}"
    folder = cache_dir()
    if downloads_disabled():
        return False, f"its weights are not cached in {folder} and downloads are off ({OFFLINE_ENV})"
    memo = _read_memo()
    retry_at = memo["time"] + AUTO_RETRY_DAYS * 86400 if memo else 0.0
    if memo and time.time() < retry_at:
        return False, (f"its weights are not cached in {folder}; a download attempt on {_day(memo['time'])} failed "
                       f"({memo.get('error', '?')}), next try after {_day(retry_at)} or with --pose2d mmpose")
    try:
        for spec, path in ((DETECTOR, det), (POSE_MODEL, pose)):
            if path is None:
                download(spec, timeout=timeout, log=log)
    except DownloadFailed as exc:
        _write_memo(exc.reason)
        return False, (f"its weights are not cached in {folder} and a quick download attempt failed ({exc.reason}); "
                       f"not retried for {AUTO_RETRY_DAYS} days (or use --pose2d mmpose)")
    (folder / _AUTO_MEMO).unlink(missing_ok=True)
    return True, f"its weights downloaded to {folder}"


# ----------------------------------------------------------------------------- checkpoint loading


def _numpy_globals() -> list[Any]:
    """numpy types that OpenMMLab checkpoints keep in their ``meta`` (allow-listed for torch.load)."""
    import numpy.core.multiarray as multiarray

    items: list[Any] = [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        items += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith("DType")]
    return items


def load_state_dict(path: Path, spec: WeightsFile) -> dict[str, Any]:
    """The ``state_dict`` of an OpenMMLab checkpoint, loaded without unpickling arbitrary objects.

    torch >= 2.6 loads with ``weights_only=True``; OpenMMLab checkpoints also hold numpy arrays
    and scalars in their metadata, which are allow-listed here (instead of the process-wide
    ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``). A checkpoint needing more is unpickled in full only
    when its SHA-256 shows it is the published file.
    """
    import torch

    try:
        try:
            with torch.serialization.safe_globals(_numpy_globals()):
                ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            detail = _unpickler_detail(exc)
            if not detail.startswith("Unsupported global"):
                raise PoseMoEError(f"{path}: expected a PyTorch checkpoint of the {spec.role}, found an unreadable "
                                   f"file ({detail})") from None
            if not spec.matches(file_sha256(path)):
                raise PoseMoEError(
                    f"{path}: the {spec.role} checkpoint holds Python objects beyond tensors and numpy arrays, "
                    f"which posemoe only unpickles from the published file ({detail}); save just its "
                    f"weights: torch.save({{'state_dict': ckpt['state_dict']}}, PATH)") from None
            ckpt = torch.load(path, map_location="cpu", weights_only=False)  # the verified published file
    except PoseMoEError:
        raise
    except (OSError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile, pickle.UnpicklingError) as exc:
        raise PoseMoEError(f"{path}: expected a PyTorch checkpoint of the {spec.role}, found an unreadable file "
                           f"({_one_line(exc)})") from None
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PoseMoEError(f"{path}: expected a checkpoint with a 'state_dict' of tensors ({spec.role}), "
                           f"found {type(ckpt).__name__}")
    return {k[7:] if k.startswith("module.") else k: v for k, v in state.items()}


def _unpickler_detail(exc: BaseException) -> str:
    """The informative line of torch's long weights-only error (e.g. "Unsupported global: ...")."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for ln in lines:
        if "Unsupported" in ln:
            return ln[ln.index("Unsupported"):].split(" was not an allowed global")[0]
    lines = [ln for ln in lines if not ln.startswith(("Check the documentation", "Weights only load failed"))]
    return lines[-1] if lines else _one_line(exc)


def _load_into(model: Any, path: Path, spec: WeightsFile, what: str) -> None:
    """Copy the checkpoint's weights into ``model``; every model weight must come from it."""
    state = load_state_dict(path, spec)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or wrong:
        example = (missing or wrong)[0]
        raise PoseMoEError(f"{path}: expected {what} weights, found a checkpoint that lacks {len(missing)} and "
                           f"mis-shapes {len(wrong)} of its {len(own)} tensors (e.g. {example!r})")
    model.load_state_dict({k: state[k] for k in own}, strict=True)


# ----------------------------------------------------------------------------- the backend


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression: indices of the kept boxes, best score first.

    boxes: (N, 4) ``x0, y0, x1, y1``; scores: (N,). A box is dropped when its IoU with a kept,
    higher-scoring box exceeds ``iou_threshold``.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    area = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    keep: list[int] = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(int(i))
        w = np.clip(np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]), 0, None)
        h = np.clip(np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]), 0, None)
        inter = w * h
        iou = inter / np.maximum(area[i] + area[rest] - inter, 1e-12)
        order = rest[iou <= iou_threshold]
    return np.array(keep, dtype=np.int64)


def _config_path(package: str, relative: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise PoseMoEError(f"the mmpose backend needs the {package} package; run ./setup.sh or use --pose2d mediapipe")
    path = Path(spec.origin).parent / ".mim" / relative
    if not path.is_file():
        raise PoseMoEError(f"{path}: config file missing from the installed {package} package (reinstall "
                           f"{package}, or use --pose2d mediapipe)")
    return path


@contextmanager
def _quiet() -> Iterator[None]:
    """Hide the deprecation and user warnings OpenMMLab and torch print on every model build/run."""
    with warnings.catch_warnings():
        for module in ("mmengine", "mmcv", "mmdet", "mmpose", "torch", "torchvision"):
            warnings.filterwarnings("ignore", module=module + r"(\.|$)")
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")  # raised on mmcv's import
        yield


@contextmanager
def _scope(name: str) -> Iterator[None]:
    """Run in the registry scope of ``name`` ("mmdet" / "mmpose"), restoring the previous one after.

    With both packages imported, each model's transforms and modules must be looked up in its own
    scope; ``init_default_scope`` would also log a warning on every switch.
    """
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope(name):
        yield


def import_openmmlab() -> None:
    """Import torchvision (with ``pipeline.pose2d._torchvision_compat``), mmdet and mmpose, or a one-line error."""
    try:
        with _quiet():
            import_torchvision()
            import mmdet.apis  # noqa: F401
            import mmpose.apis  # noqa: F401
    except Exception as exc:  # missing module, mmcv built for another torch, version assertions, ...
        raise PoseMoEError(f"the mmpose backend needs the OpenMMLab stack (mmcv, mmdet, mmpose), which does not "
                           f"import here ({type(exc).__name__}: {_one_line(exc)}); run ./setup.sh or use "
                           f"--pose2d mediapipe") from None


class MMPoseBackend(PoseBackend):
    """RTMDet-m person detector + RTMPose-m COCO-17 top-down pose; several people per frame.

    det_weights, pose_weights: local checkpoint files; default: the cache, else one download
        (see ``resolve_weights``).
    device: "cpu" (default) or "cuda" / "cuda:N".
    det_score_thr: keep detections scoring at least this (mmpose's demos use 0.3).
    nms_iou: drop a box overlapping a better one by more than this IoU (after the detector's own
        NMS at 0.6; mmpose's demos use 0.3).
    max_people: at most this many people per frame (highest detector scores) go to the pose model.
    pose_batch: people per pose-model forward pass.
    random_weights: keep the networks' random initialisation and load no file (tests, timing).
    log: where download messages go (default stderr).

    ``backend(frame_bgr, frame_index)`` -> list of ``Detection``; ``backend.run(frames)`` does the
    same for several frames, batching them through the detector and the pose model.
    """

    name = "mmpose"
    multi_person = True

    def __init__(
        self,
        det_weights: str | os.PathLike | None = None,
        pose_weights: str | os.PathLike | None = None,
        device: str | None = None,
        det_score_thr: float = 0.3,
        nms_iou: float = 0.3,
        max_people: int = 30,
        pose_batch: int = 16,
        random_weights: bool = False,
        log: Callable[[str], None] | None = None,
    ) -> None:
        for what, value in (("det_score_thr", det_score_thr), ("nms_iou", nms_iou)):
            if not 0.0 <= float(value) <= 1.0:
                raise PoseMoEError(f"MMPoseBackend: {what} must be in [0, 1], found {value}")
        if int(max_people) < 1 or int(pose_batch) < 1:
            raise PoseMoEError(f"MMPoseBackend: max_people and pose_batch must be >= 1, found {max_people}, "
                               f"{pose_batch}")
        self.det_score_thr, self.nms_iou = float(det_score_thr), float(nms_iou)
        self.max_people, self.pose_batch = int(max_people), int(pose_batch)
        self.device = _device(device)
        if random_weights:
            self.weights: tuple[Path, Path] | None = None
        else:
            self.weights = resolve_weights(det_weights, pose_weights, log=log)
        import_openmmlab()
        with _quiet():
            self._detector, self._det_pipeline = self._build_detector()
            self._pose, self._pose_pipeline = self._build_pose_model()

    # --- building

    def _build_detector(self) -> tuple[Any, Any]:
        from mmcv.transforms import Compose
        from mmdet.registry import MODELS
        from mmengine.config import Config
        from mmengine.model import revert_sync_batchnorm

        cfg = Config.fromfile(str(_config_path(*DETECTOR_CONFIG)))
        cfg.model.backbone.init_cfg = None  # no ImageNet download for the backbone
        with _scope("mmdet"):
            model = revert_sync_batchnorm(MODELS.build(cfg.model))
        if self.weights is not None:
            _load_into(model, self.weights[0], DETECTOR, "RTMDet-m person detector")
        model.dataset_meta = {"classes": ("person",)}
        model.cfg = cfg
        model.to(self.device).eval()
        steps = [dict(type="mmdet.LoadImageFromNDArray")]
        steps += [dict(s) for s in cfg.test_dataloader.dataset.pipeline
                  if s["type"] not in ("LoadImageFromFile", "LoadAnnotations", "mmdet.LoadImageFromFile",
                                       "mmdet.LoadAnnotations")]
        with _scope("mmdet"):
            return model, Compose(steps)

    def _build_pose_model(self) -> tuple[Any, Any]:
        from mmcv.transforms import Compose
        from mmengine.config import Config
        from mmengine.model import revert_sync_batchnorm
        from mmpose.datasets.datasets.utils import parse_pose_metainfo
        from mmpose.models import build_pose_estimator

        cfg = Config.fromfile(str(_config_path(*POSE_CONFIG)))
        cfg.model.backbone.init_cfg = None
        cfg.model.train_cfg = None
        with _scope("mmpose"):
            model = revert_sync_batchnorm(build_pose_estimator(cfg.model))
        if self.weights is not None:
            _load_into(model, self.weights[1], POSE_MODEL, "RTMPose-m")
        # COCO-17 keypoint names, flip pairs and sigmas: the layout coco17_to_h36m17 reads
        model.dataset_meta = parse_pose_metainfo(dict(from_file="configs/_base_/datasets/coco.py"))
        model.cfg = cfg
        model.to(self.device).eval()
        with _scope("mmpose"):
            return model, Compose([dict(s) for s in cfg.test_dataloader.dataset.pipeline])

    # --- running

    def detect(self, frames: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """People boxes of each frame: ``(boxes (N, 4) x0 y0 x1 y1 pixels, scores (N,))``, best first.

        Score threshold, then NMS, then at most ``max_people``.
        """
        import torch
        from mmengine.dataset import pseudo_collate

        if not frames:
            return []
        with _quiet(), torch.no_grad(), _scope("mmdet"):
            batch = pseudo_collate([self._det_pipeline(dict(img=f, img_id=i)) for i, f in enumerate(frames)])
            results = self._detector.test_step(batch)
        out = []
        for res in results:
            inst = res.pred_instances
            boxes = inst.bboxes.float().cpu().numpy().astype(np.float64)
            scores = inst.scores.float().cpu().numpy().astype(np.float64)
            labels = inst.labels.cpu().numpy()
            ok = (labels == 0) & (scores >= self.det_score_thr) & np.isfinite(boxes).all(axis=1) \
                & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
            boxes, scores = boxes[ok], scores[ok]
            keep = nms(boxes, scores, self.nms_iou)[: self.max_people]
            out.append((boxes[keep].reshape(-1, 4), scores[keep]))
        return out

    def estimate(self, frames: Sequence[np.ndarray],
                 boxes: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """COCO-17 keypoints of the people in given boxes: per frame ``(keypoints (N, 17, 2), scores (N, 17))``.

        boxes[i]: (N_i, 4) ``x0, y0, x1, y1`` pixels of ``frames[i]``; keypoints are pixels of that
        frame (the crop's affine transform undone by mmpose); scores as RTMPose gives them.
        """
        import torch
        from mmengine.dataset import pseudo_collate

        items = []
        for i, (frame, fb) in enumerate(zip(frames, boxes)):
            for box in np.asarray(fb, dtype=np.float32).reshape(-1, 4):
                items.append((i, dict(img=frame, bbox=box[None], bbox_score=np.ones(1, np.float32),
                                      **self._pose.dataset_meta)))
        per_frame: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in frames]
        with _quiet(), torch.no_grad(), _scope("mmpose"):
            for start in range(0, len(items), self.pose_batch):
                chunk = items[start:start + self.pose_batch]
                batch = pseudo_collate([self._pose_pipeline(dict(info)) for _, info in chunk])
                for (i, _), res in zip(chunk, self._pose.test_step(batch)):
                    inst = res.pred_instances
                    per_frame[i].append((np.asarray(inst.keypoints, dtype=np.float64)[0],
                                         np.asarray(inst.keypoint_scores, dtype=np.float64)[0]))
        return [(np.stack([k for k, _ in people]), np.stack([s for _, s in people])) if people
                else (np.zeros((0, 17, 2)), np.zeros((0, 17))) for people in per_frame]

    def run(self, frames: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Detector then pose model on several BGR frames at once; one list of Detection per frame."""
        frames = [check_frame(f, "MMPoseBackend") for f in frames]
        if self._detector is None:
            raise PoseMoEError("MMPoseBackend: called after close(); make a new backend")
        dets = self.detect(frames)
        poses = self.estimate(frames, [b for b, _ in dets])
        out = []
        for (boxes, box_scores), (kp, sc) in zip(dets, poses):
            h36m = coco17_to_h36m17(np.concatenate([kp, sc[..., None]], axis=-1)) if len(kp) else np.zeros((0, 17, 3))
            out.append([Detection(h36m[p, :, :2], np.clip(h36m[p, :, 2], 0.0, 1.0), box=boxes[p],
                                  score=float(box_scores[p])) for p in range(len(boxes))])
        return out

    def __call__(self, frame_bgr: np.ndarray | None, frame_index: int) -> list[Detection]:
        """The people in one BGR frame (H36M17 pixels); ``frame_index`` is not used (no tracking here)."""
        return self.run([frame_bgr])[0]  # type: ignore[list-item]

    def close(self) -> None:
        self._detector = self._pose = None


def _device(device: str | None) -> str:
    import torch

    device = (device or "cpu").strip().lower()
    if device != "cpu" and not device.startswith("cuda"):
        raise PoseMoEError(f"--device {device!r}: expected cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise PoseMoEError(f"--device {device}: CUDA is not available here; use --device cpu")
    return device
