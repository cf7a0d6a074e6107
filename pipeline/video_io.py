"""Video in and out: probe a file, stream its frames, write an H.264 clip atomically.

Frames are numpy ``uint8`` arrays of shape ``(H, W, 3)`` in BGR order (OpenCV's convention),
always in display orientation: a portrait phone clip stored as landscape with a rotation tag
comes out portrait. Everything is built on PyAV (``import av``).

- ``probe(path)`` -> ``VideoInfo`` (fps, displayed size, frame count, duration, rotation, codec).
- ``VideoReader(path)`` yields ``(index, frame_bgr)`` one frame at a time; a truncated or damaged
  file yields its good frames, then one ``DamagedVideoWarning``. ``VideoReader(path, "rgb24")``
  yields RGB frames instead (what MediaPipe takes, with no extra conversion).
- ``VideoWriter(path, fps, size)`` encodes H.264 / yuv420p into a temporary file next to ``path``
  and renames it onto ``path`` only when closed without error.
- ``read_all_frames(path)`` loads a whole (small) clip into memory, for tests.

User-fixable problems raise ``PoseMoEError`` with a one-line message naming the file.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Generator, Iterable, Iterator

import av
import cv2
import numpy as np

from posemoe.errors import PoseMoEError

__all__ = [
    "DamagedVideoWarning",
    "VideoInfo",
    "VideoReader",
    "VideoWriter",
    "probe",
    "read_all_frames",
]

# encoders tried in order; the first one this PyAV/FFmpeg build has is used
_ENCODERS = ("libx264", "h264", "mpeg4")
# libx264 speed preset. x264 alone on 3000x1080 side-by-side pose videos (CRF 20, 2 cores):
# ultrafast 10.7 CPU-ms/frame and 51 kB/frame, superfast 28.2 and 33 kB, veryfast 40.1 and 17 kB.
# On a 2-core machine the encoder shares the CPU with decoding, the 2D detector and rendering,
# so ultrafast: 2.6x less CPU than superfast for files about 1.5 times as large (about 1.4 MB
# per second of 1080p side-by-side video). `posemoe video --x264-preset veryfast` for small files.
DEFAULT_PRESET = "ultrafast"
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
# channel orders VideoReader can yield
_READ_FORMATS = ("bgr24", "rgb24")
# packets probe() will demux while looking for the first frame (to read its display matrix)
_PROBE_MAX_PACKETS = 64
# a clean end of stream this many frames (or this fraction) short of the container's own
# frame count is reported as damage; a frame or two of slack absorbs edit-list trimming
_SHORTFALL_FRAMES = 2
_SHORTFALL_FRACTION = 0.05
# MP4/MOV outputs get their index (moov) at the front: playable while streaming, and a cut-off
# copy still decodes up to the cut
_MOV_SUFFIXES = (".mp4", ".mov", ".m4v")
# NTSC-family rates, written exactly rather than as e.g. 2997/100
_NTSC_RATES = (Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001),
               Fraction(120000, 1001))


class DamagedVideoWarning(UserWarning):
    """A video ended early or hit undecodable data; the frames before the damage were returned."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, as it is displayed.

    Attributes:
        path: the file.
        fps: frames per second (the stream's average rate; float, may be fractional, e.g. 29.97).
        width, height: frame size in pixels AFTER rotation is applied, i.e. as displayed and as
            ``VideoReader`` yields frames (a portrait phone clip has ``height > width``).
        frame_count: number of frames. Exact when the container stores a count (MP4/MOV do);
            otherwise (e.g. MPEG-TS, some MKV) an estimate ``round(duration_s * fps)`` and
            ``frame_count_exact`` is False. ``VideoReader.frames_read`` is the true count.
        duration_s: duration in seconds (stream duration, else container duration, else
            ``frame_count / fps``).
        rotation: clockwise rotation in degrees (0, 90, 180 or 270) that turns the stored frames
            into the displayed ones; from the stream's display matrix, else the legacy ``rotate``
            metadata tag. (Mirroring in a display matrix is ignored.)
        codec: the decoder's codec name, e.g. ``"h264"``.
        frame_count_exact: whether ``frame_count`` came from the container rather than an estimate.
    """

    path: Path
    fps: float
    width: int
    height: int
    frame_count: int
    duration_s: float
    rotation: int
    codec: str
    frame_count_exact: bool = True


# ---------------------------------------------------------------------------------------- helpers


def _reason(exc: BaseException) -> str:
    """A short lower-case reason from an FFmpeg/OS error, without errno numbers or file names."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    text = str(text).strip().rstrip(".")
    return text[:1].lower() + text[1:]


def _normalize_rotation(degrees: float) -> int:
    """Any angle (degrees) -> the nearest of 0, 90, 180, 270."""
    if not math.isfinite(degrees):
        return 0
    return int(round(degrees / 90.0)) * 90 % 360


def _rotation_from_stream(display_ccw: float | None, rotate_tag: str | None) -> int:
    """Clockwise display rotation (0/90/180/270) from what the file says about orientation.

    ``display_ccw`` is the counter-clockwise angle of the stream's display matrix, as FFmpeg's
    ``av_display_rotation_get`` and PyAV's ``VideoFrame.rotation`` report it (a phone recording
    held upright typically says -90); ``rotate_tag`` is the legacy ``rotate`` metadata tag
    (clockwise, typically "90" for the same clip). A non-zero display matrix wins over the tag.
    """
    if display_ccw:
        return _normalize_rotation(-float(display_ccw))
    if rotate_tag:
        try:
            return _normalize_rotation(float(rotate_tag))
        except ValueError:
            return 0
    return 0


def _apply_rotation(frame: np.ndarray, degrees_cw: int) -> np.ndarray:
    """Rotate an (H, W, C) frame clockwise by 0/90/180/270 degrees; 90/270 give (W, H, C)."""
    if degrees_cw == 0:
        return frame
    if degrees_cw == 90:
        return cv2.rotate(frame, cv2.ROTATE_90_CLOCKWISE)
    if degrees_cw == 180:
        return cv2.rotate(frame, cv2.ROTATE_180)
    if degrees_cw == 270:
        return cv2.rotate(frame, cv2.ROTATE_90_COUNTERCLOCKWISE)
    raise ValueError(f"rotation must be 0, 90, 180 or 270 degrees, got {degrees_cw}")


def _check_input_file(path: Path) -> None:
    """Raise PoseMoEError unless ``path`` is an existing, non-empty regular file."""
    if not path.exists():
        raise PoseMoEError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise PoseMoEError(f"{path}: is a folder, not a video file; pass the path of a video file")
    if path.stat().st_size == 0:
        raise PoseMoEError(f"{path}: empty file (0 bytes); check the file or copy/export the video again")
    if not os.access(path, os.R_OK):
        raise PoseMoEError(f"{path}: permission denied (not readable); fix its permissions, e.g. chmod +r")


def _open_input(path: Path) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    """Open ``path`` with PyAV and return (container, first video stream), or raise PoseMoEError."""
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise PoseMoEError(
            f"{path}: not a readable video ({_reason(exc)}); check the file or re-encode it with ffmpeg"
        ) from None
    if not container.streams.video:
        container.close()
        raise PoseMoEError(
            f"{path}: not a readable video (no video stream); check the file or re-encode it with ffmpeg"
        )
    stream = container.streams.video[0]
    if stream.codec_context is None or not stream.codec_context.width or not stream.codec_context.height:
        container.close()
        raise PoseMoEError(
            f"{path}: not a readable video (the video stream has no usable codec parameters; the file "
            f"may be truncated or use an unsupported codec); check the file or re-encode it with ffmpeg"
        )
    return container, stream


def _first_frame_rotation(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    """Counter-clockwise display-matrix angle of the first decodable frame, or None if none decodes."""
    try:
        for n, packet in enumerate(container.demux(stream)):
            if n >= _PROBE_MAX_PACKETS:
                break
            for frame in packet.decode():
                return float(frame.rotation)
    except (av.error.FFmpegError, OSError, EOFError):
        pass
    return None


# ------------------------------------------------------------------------------------------ probe


def probe(path: str | Path) -> VideoInfo:
    """Describe the first video stream of ``path`` (decodes one frame to read its orientation).

    Raises PoseMoEError for a missing path, a folder, an empty file, a file PyAV cannot open and
    a file without a video stream.
    """
    path = Path(path)
    _check_input_file(path)
    container, stream = _open_input(path)
    try:
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        if not (fps > 0 and math.isfinite(fps)):
            raise PoseMoEError(
                f"{path}: cannot tell the frame rate of the video stream; re-encode it with ffmpeg -r FPS"
            )
        if stream.duration and stream.time_base:
            duration_s = float(stream.duration * stream.time_base)
        elif container.duration:
            duration_s = container.duration / av.time_base
        else:
            duration_s = 0.0
        exact = bool(stream.frames and stream.frames > 0)
        frame_count = int(stream.frames) if exact else int(round(duration_s * fps))
        if duration_s <= 0 and frame_count > 0:
            duration_s = frame_count / fps
        coded_w, coded_h = int(ctx.width), int(ctx.height)
        codec = ctx.name
        rotate_tag = stream.metadata.get("rotate")
        display_ccw = _first_frame_rotation(container, stream)
    finally:
        container.close()
    rotation = _rotation_from_stream(display_ccw, rotate_tag)
    width, height = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
    return VideoInfo(path=path, fps=fps, width=width, height=height, frame_count=frame_count,
                     duration_s=duration_s, rotation=rotation, codec=codec, frame_count_exact=exact)


# ----------------------------------------------------------------------------------------- reader


class VideoReader:
    """Stream the frames of a video: ``for index, frame_bgr in VideoReader(path): ...``.

    Yields ``(index, frame)`` with ``index`` counting from 0 in display order and ``frame`` a
    uint8 (height, width, 3) BGR array in display orientation (``info.width`` x ``info.height``).
    Only one frame (plus the decoder's own few-frame buffer) is held at a time.

    A truncated or damaged file yields every frame before the damage, then ends and emits one
    ``DamagedVideoWarning`` saying how many frames were read; iteration does not raise for decode
    errors once a frame came out. If no frame at all decodes, iteration raises PoseMoEError.
    Damage is: a packet cut short by the end of the file, a demux/decode error, a hole in the
    frame times among the last frames the decoder hands out (a truncated file often loses a
    B-frame but keeps the later frame it was predicted from; the reader stops before the hole),
    or a clean end more than max(2 frames, 5%) short of an exact container frame count. A file
    cut exactly between frames in a format without a frame count (MPEG-TS, MKV) just looks shorter.

    ``frames_read`` counts the frames yielded so far. Each ``iter()`` reopens the file and starts
    again at frame 0. Use as a context manager (or call ``close()``) to release the file when
    stopping early.

    ``pixel_format``: "bgr24" (default) or "rgb24", the channel order of the yielded frames; the
    decoder's own converter writes either directly (no extra copy).
    """

    def __init__(self, path: str | Path, pixel_format: str = "bgr24") -> None:
        if pixel_format not in _READ_FORMATS:
            raise PoseMoEError(f"VideoReader: pixel_format must be one of {', '.join(_READ_FORMATS)}, "
                               f"found {pixel_format!r}")
        self.path = Path(path)
        self.pixel_format = pixel_format
        self.info: VideoInfo = probe(self.path)
        self.frames_read = 0
        self._gen: Generator[tuple[int, np.ndarray], None, None] | None = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        self.close()
        self._gen = self._frames()
        return self._gen

    def close(self) -> None:
        """Stop an iteration in progress and close the file (safe to call twice)."""
        if self._gen is not None:
            self._gen.close()  # runs the generator's finally: closes the container
            self._gen = None

    def _frames(self) -> Generator[tuple[int, np.ndarray], None, None]:
        self.frames_read = 0
        container, stream = _open_input(self.path)
        stream.thread_type = "AUTO"
        rotation = self.info.rotation
        state: dict[str, str | None] = {"damage": None}
        step = 1.0 / self.info.fps  # nominal seconds between frames
        time_base = stream.time_base or Fraction(1, 90000)  # (flushed frames carry no time_base)
        last_t: float | None = None
        regular = True  # every frame so far came one nominal step after the previous one (+-25%)
        decoded = self._decoded(container, stream, state)
        try:
            for frame, tail in decoded:
                t = None if frame.pts is None else float(frame.pts * time_base)  # seconds
                if t is not None and last_t is not None:
                    ratio = (t - last_t) / step
                    # In the decoder's final flush a jump of 1.5+ steps means frames before this one
                    # never arrived (a truncated file loses a B-frame while the later P-frame it
                    # depends on survives): stop at the last frame of the gap-free run. Only trusted
                    # for constant-rate streams or once damage is known, so variable-rate phone
                    # clips are never cut short.
                    if tail and ratio > 1.5 and (regular or state["damage"]):
                        state["damage"] = state["damage"] or "frames missing near the end"
                        break
                    if not 0.75 <= ratio <= 1.25:
                        regular = False
                if t is not None:
                    last_t = t
                yield self.frames_read, self._to_array(frame, rotation, self.pixel_format)
                self.frames_read += 1
        finally:
            decoded.close()
            container.close()

        damage = state["damage"]
        if self.frames_read == 0:
            why = f" ({damage})" if damage else ""
            raise PoseMoEError(
                f"{self.path}: no decodable frames{why}; check the file or re-encode it with ffmpeg"
            )
        expected = self.info.frame_count
        if damage is None and self.info.frame_count_exact:
            short = expected - self.frames_read
            if short > max(_SHORTFALL_FRAMES, _SHORTFALL_FRACTION * expected):
                damage = f"the stream ended {short} frames early"
        if damage is not None:
            of = f" of {expected} announced" if self.info.frame_count_exact else ""
            warnings.warn(
                f"{self.path}: read {self.frames_read} frames{of}, then stopped: the rest of the file is "
                f"damaged or truncated ({damage}); the frames read are fine, re-encode or re-copy the "
                f"file to get the rest",
                DamagedVideoWarning,
                stacklevel=2,
            )

    @staticmethod
    def _decoded(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
                 state: dict[str, str | None]) -> Generator[tuple[av.VideoFrame, bool], None, None]:
        """Decoded frames in display order, each with whether it came out of the final decoder flush.

        Stops at the first packet cut short (the file ends inside it) or demux/decode error, records
        why in ``state["damage"]``, and still flushes the frames the decoder holds.
        """
        flushed = False
        try:
            for packet in container.demux(stream):
                if packet.size == 0 and packet.pts is None:  # demux() ends with this flush packet
                    flushed = True
                elif packet.is_corrupt:  # a short read: the file ends inside this packet
                    state["damage"] = "a packet is cut short"
                    break
                for frame in packet.decode():
                    yield frame, flushed
        except (av.error.FFmpegError, OSError, EOFError) as exc:
            state["damage"] = _reason(exc)
        if not flushed:
            try:
                for frame in stream.decode(None):
                    yield frame, True
            except (av.error.FFmpegError, OSError, EOFError):
                pass

    @staticmethod
    def _to_array(frame: av.VideoFrame, rotation: int, pixel_format: str = "bgr24") -> np.ndarray:
        """Decoded frame -> uint8 (H, W, 3) BGR (or RGB) in display orientation, C-contiguous."""
        return np.ascontiguousarray(_apply_rotation(frame.to_ndarray(format=pixel_format), rotation))


def read_all_frames(path: str | Path, max_frames: int | None = None) -> tuple[VideoInfo, list[np.ndarray]]:
    """The info and the first ``max_frames`` (default: all) BGR frames of a video, in memory.

    For tests and small clips only: a minute of 1080p is about 11 GB as arrays. Use
    ``VideoReader`` to stream real videos. Damage behaves as in ``VideoReader``.
    """
    frames: list[np.ndarray] = []
    with VideoReader(path) as reader:
        if max_frames is not None and max_frames <= 0:
            return reader.info, frames
        for _, frame in reader:
            frames.append(frame)
            if max_frames is not None and len(frames) >= max_frames:
                break
        return reader.info, frames


# ----------------------------------------------------------------------------------------- writer


def _stream_rate(fps: float) -> Fraction:
    """Frames per second as an exact fraction: NTSC rates (29.97...) as n/1001, else denominator <= 1001."""
    for ntsc in _NTSC_RATES:
        if abs(fps - float(ntsc)) < 0.005:
            return ntsc
    return Fraction(fps).limit_denominator(1001)


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name the same file (resolved paths, or one inode when both exist)."""
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output_path(path: str | Path, forbid_same_as: Iterable[str | Path] = ()) -> None:
    """Raise PoseMoEError, before any work, when a file could not be written at ``path``: the
    folder is missing, not a folder or not writable, ``path`` is a folder, or it is the same file
    as one of ``forbid_same_as`` (the inputs)."""
    path = Path(path)
    folder = path.parent
    if not folder.exists():
        raise PoseMoEError(f"{path}: output folder {folder} does not exist; create it first")
    if not folder.is_dir():
        raise PoseMoEError(f"{path}: {folder} is not a folder; choose an output path inside a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PoseMoEError(
            f"{path}: output folder {folder} is not writable; choose another output path or fix its permissions"
        )
    if path.is_dir():
        raise PoseMoEError(f"{path}: is a folder; give the output a file name, e.g. out.mp4")
    for src in forbid_same_as:
        if _same_file(path, Path(src)):
            raise PoseMoEError(f"{path}: output would overwrite the input video {src}; choose another output path")


class VideoWriter:
    """Write BGR frames to an H.264 video: ``with VideoWriter("out.mp4", 25, (w, h)) as w: w.write(f)``.

    ``size`` is (width, height) in pixels of the frames passed to ``write``; every frame must be a
    uint8 (height, width, 3) BGR array. yuv420p needs even dimensions, so an odd width or height
    is padded by one pixel on the right / bottom, repeating the edge pixels (``encoded_size``
    gives the stored size). ``fps`` may be fractional (29.97 is stored as 30000/1001).

    The encoder is libx264 when available, else FFmpeg's ``h264`` encoder, else ``mpeg4``;
    ``codec`` names the one used. libx264 encodes at constant quality ``crf`` (lower is better,
    ~18-23 looks clean) with the speed ``preset`` (``DEFAULT_PRESET``, "ultrafast": 2.6x less CPU
    than "superfast" and 3.7x less than "veryfast" on pose videos, for files 1.5 and 3 times as
    large).

    Frames go to a hidden temporary file in the output folder
    (``.NAME.part.SUFFIX``), which is renamed onto ``path`` only when the writer closes without
    error; an exception inside the ``with`` block (or ``abort()``) deletes it, so ``path`` never
    holds a partial video. MP4/MOV files are written with their index first (``faststart``).
    Closing after zero frames raises PoseMoEError and writes nothing.

    Raises PoseMoEError up front when the output folder is missing or not writable, ``path`` is a
    folder, or ``path`` is the same file as ``forbid_same_as`` (the input video, typically).
    """

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int], *,
                 forbid_same_as: str | Path | None = None, crf: int = 20, preset: str = DEFAULT_PRESET) -> None:
        self.path = Path(path)
        self.fps = float(fps)
        width, height = (int(v) for v in size)
        self.size = (width, height)
        self.frames_written = 0
        if not (self.fps > 0 and math.isfinite(self.fps)):
            raise PoseMoEError(f"{self.path}: frame rate must be a positive number, got {fps}")
        if width <= 0 or height <= 0:
            raise PoseMoEError(f"{self.path}: frame size must be positive, got {width}x{height}")
        if preset not in X264_PRESETS:
            raise PoseMoEError(f"{self.path}: encoder preset must be one of {', '.join(X264_PRESETS)}, got {preset!r}")
        check_output_path(self.path, [] if forbid_same_as is None else [forbid_same_as])
        self.encoded_size = (width + width % 2, height + height % 2)
        self._tmp = self.path.with_name(f".{self.path.name}.part{self.path.suffix}")
        self._container: av.container.OutputContainer | None = None
        try:
            options = {"movflags": "faststart"} if self.path.suffix.lower() in _MOV_SUFFIXES else {}
            self._container = av.open(str(self._tmp), mode="w", options=options)
        except ValueError:
            raise PoseMoEError(
                f"{self.path}: unknown video container for suffix '{self.path.suffix}'; use a .mp4 file name"
            ) from None
        except (av.error.FFmpegError, OSError) as exc:
            raise PoseMoEError(
                f"{self.path}: cannot create the video ({_reason(exc)}); check the output folder"
            ) from None
        try:
            self._stream = self._add_stream(_stream_rate(self.fps), crf, preset)
        except BaseException:
            self._discard()
            raise
        self.codec: str = self._stream.codec_context.name

    def _add_stream(self, rate: Fraction, crf: int, preset: str) -> av.video.stream.VideoStream:
        assert self._container is not None
        last: Exception | None = None
        for name in _ENCODERS:
            try:
                options = {"crf": str(crf), "preset": preset} if name == "libx264" else {}
                stream = self._container.add_stream(name, rate=rate, options=options)
            except (av.error.FFmpegError, ValueError) as exc:  # ValueError: UnknownCodecError
                last = exc
                continue
            stream.width, stream.height = self.encoded_size
            stream.pix_fmt = "yuv420p"
            stream.codec_context.time_base = 1 / rate
            # x264 on frame threads (as many as it picks): a 2160x1920 frame took 14 ms against 25
            # on one thread and 19 with slice threads, the same bytes within a few per cent
            stream.codec_context.thread_type = "FRAME"
            if name == "mpeg4":
                stream.bit_rate = max(1_000_000, self.encoded_size[0] * self.encoded_size[1] * 4)
            return stream
        raise PoseMoEError(
            f"{self.path}: this PyAV/FFmpeg build has no H.264 or MPEG-4 encoder ({last}); "
            f"install a PyAV wheel with libx264"
        )

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, frame_bgr: np.ndarray) -> None:
        """Encode one uint8 (height, width, 3) BGR frame of the size given at construction."""
        if self._container is None:
            raise PoseMoEError(f"{self.path}: writer is already closed; open a new VideoWriter")
        w, h = self.size
        arr = np.asarray(frame_bgr)
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            raise PoseMoEError(
                f"{self.path}: frame {self.frames_written} has shape {arr.shape} and dtype {arr.dtype}, "
                f"expected uint8 ({h}, {w}, 3) BGR; convert it before writing"
            )
        if arr.shape[:2] != (h, w):
            raise PoseMoEError(
                f"{self.path}: frame {self.frames_written} is {arr.shape[1]}x{arr.shape[0]}, but the writer "
                f"was opened for {w}x{h}; resize frames to the size given to VideoWriter"
            )
        pad_w, pad_h = self.encoded_size[0] - w, self.encoded_size[1] - h
        if pad_w or pad_h:
            arr = cv2.copyMakeBorder(arr, 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE)
        # OpenCV's BGR -> YUV 4:2:0 (BT.601, limited range, what players assume for untagged
        # yuv420p) costs ~2 ms for a 3000x1080 frame; FFmpeg's swscale took ~40 ms for the same
        frame = av.VideoFrame.from_ndarray(cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_BGR2YUV_I420),
                                           format="yuv420p")
        frame.pts = self.frames_written
        frame.time_base = self._stream.codec_context.time_base  # 1 / rate: pts counts frames
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except (av.error.FFmpegError, OSError) as exc:
            raise PoseMoEError(
                f"{self.path}: writing the video failed ({_reason(exc)}); check free disk space"
            ) from None
        self.frames_written += 1

    def close(self) -> None:
        """Flush the encoder, close the file and rename it onto ``path`` (no-op if already closed)."""
        if self._container is None:
            return
        if self.frames_written == 0:
            self._discard()
            raise PoseMoEError(f"{self.path}: no frames were written, so no video was saved; check the input")
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
            self._container = None
            os.replace(self._tmp, self.path)
        except (av.error.FFmpegError, OSError) as exc:
            self._discard()
            raise PoseMoEError(
                f"{self.path}: writing the video failed ({_reason(exc)}); check free disk space"
            ) from None

    def abort(self) -> None:
        """Close without saving: delete the temporary file; ``path`` is left untouched."""
        self._discard()

    def _discard(self) -> None:
        if self._container is not None:
            container, self._container = self._container, None
            try:
                container.close()
            except Exception:  # the file is deleted anyway; the original error matters more
                pass
        try:
            self._tmp.unlink()
        except FileNotFoundError:
            pass
