"""The MediaPipe Tasks pose model bundle, built offline from the installed ``mediapipe`` wheel.

MediaPipe's Tasks ``PoseLandmarker`` (several people per frame) loads a ``.task`` bundle: a zip
holding ``pose_detector.tflite`` and ``pose_landmarks_detector.tflite``. The bundle is normally
downloaded; the ``mediapipe`` 0.10.21 wheel already ships both models for its older single-person
solution (``mediapipe/modules/pose_detection/pose_detection.tflite`` and
``mediapipe/modules/pose_landmark/pose_landmark_full.tflite``), so `ensure_bundle` builds the
bundle from those on first use, with no network:

- the landmark model takes a float32 image, and the Tasks runtime refuses such a model unless its
  metadata says how pixels are normalised; the wheel's own metadata writer
  (``mediapipe.tasks.python.metadata``) adds that (mean 0, standard deviation 255: pixel values
  in [0, 1], which is what the solution fed it) and names its outputs;
- the detector model is used as it is;
- both go into an aligned, uncompressed zip with the wheel's bundle writer.

The bundle lives in the cache folder (`cache_dir`), named by a hash of the two wheel files, so
another mediapipe version gets its own bundle. It is written to a temporary name and renamed,
so a run that stops half way never leaves a bundle that looks finished; a file that is there but
does not read back as a complete bundle (corrupt, truncated by a full disk, edited) is rebuilt,
never used.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import zipfile
from pathlib import Path

from pipeline.pose2d.base import user_cache_root
from posemoe.errors import PoseMoEError

CACHE_ENV = "POSEMOE_CACHE"
DETECTOR_IN_WHEEL = "modules/pose_detection/pose_detection.tflite"
LANDMARKS_IN_WHEEL = "modules/pose_landmark/pose_landmark_full.tflite"
DETECTOR_IN_BUNDLE = "pose_detector.tflite"
LANDMARKS_IN_BUNDLE = "pose_landmarks_detector.tflite"
BUNDLE_FORMAT = 1  # bump when the way the bundle is built changes: old bundles are then rebuilt
MEDIAPIPE_FIX = "reinstall it with: pip install --force-reinstall mediapipe==0.10.21"


def cache_dir() -> Path:
    """``$POSEMOE_CACHE/mediapipe`` if set, else the user cache folder of posemoe
    (``user_cache_root``: ``~/.cache/posemoe`` on Linux, honouring ``XDG_CACHE_HOME``) + ``mediapipe``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser() / "mediapipe"
    return user_cache_root() / "mediapipe"


def wheel_models() -> tuple[Path, Path]:
    """The (detector, landmark) model files inside the installed mediapipe package (found
    without importing it: that takes about half a second)."""
    try:
        spec = importlib.util.find_spec("mediapipe")
    except (ImportError, ValueError) as exc:
        spec, why = None, str(exc)
    else:
        why = "No module named 'mediapipe'"
    if spec is None or not spec.submodule_search_locations:
        raise PoseMoEError(f"the mediapipe 2D backend needs the mediapipe package ({why}); "
                           "install it with: pip install mediapipe==0.10.21")
    root = Path(list(spec.submodule_search_locations)[0]).resolve()
    paths = (root / DETECTOR_IN_WHEEL, root / LANDMARKS_IN_WHEEL)
    missing = [str(p.relative_to(root)) for p in paths if not p.is_file() or p.stat().st_size == 0]
    if missing:
        raise PoseMoEError(f"the installed mediapipe package ({root}) lacks its pose models ({', '.join(missing)}); "
                           f"{MEDIAPIPE_FIX}")
    return paths


def bundle_path(models: tuple[Path, Path] | None = None) -> Path:
    """Where the bundle for these wheel models lives in the cache (named by their hash)."""
    h = hashlib.sha256(f"posemoe-pose-bundle-{BUNDLE_FORMAT}".encode())
    for p in models or wheel_models():
        h.update(p.read_bytes())
    return cache_dir() / f"pose_landmarker-{h.hexdigest()[:16]}.task"


def is_complete(path: Path) -> bool:
    """Whether `path` reads back as a whole bundle: a zip with both models, every CRC right."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            return {DETECTOR_IN_BUNDLE, LANDMARKS_IN_BUNDLE} <= names and zf.testzip() is None
    except (OSError, zipfile.BadZipFile, EOFError, ValueError):
        return False


def landmark_model_with_metadata(model: bytes) -> bytes:
    """The landmark model with the metadata the Tasks runtime needs (see the module docstring)."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, writer_utils

    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_general_info("pose_landmarks_detector", "BlazePose full landmark model from the mediapipe wheel")
    writer.add_image_input(norm_mean=[0.0], norm_std=[255.0])
    for i in range(len(writer_utils.get_output_tensor_types(model))):
        writer.add_feature_output(name=f"output_{i}")
    with_metadata, _ = writer.populate()
    return bytes(with_metadata)


def build_bundle(models: tuple[Path, Path], out: Path) -> Path:
    """Write the bundle made from `models` to `out` (through a temporary file in its folder)."""
    from mediapipe.tasks.python.metadata.metadata_writers import model_asset_bundle_utils

    detector, landmarks = (p.read_bytes() for p in models)
    contents = {DETECTOR_IN_BUNDLE: detector, LANDMARKS_IN_BUNDLE: landmark_model_with_metadata(landmarks)}
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", suffix=".part", dir=out.parent)
    os.close(fd)
    try:
        model_asset_bundle_utils.create_model_asset_bundle(contents, tmp)
        if not is_complete(Path(tmp)):
            raise OSError("the written bundle does not read back")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def ensure_bundle() -> Path:
    """The pose bundle's path, built into the cache first if it is not there whole."""
    models = wheel_models()
    path = bundle_path(models)
    if path.is_file() and is_complete(path):
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.unlink()  # there but not whole: never used
        return build_bundle(models, path)
    except OSError as exc:
        raise PoseMoEError(f"cannot write the MediaPipe pose bundle to {path.parent} ({exc.strerror or exc}); "
                           f"set {CACHE_ENV} to a writable folder") from None
