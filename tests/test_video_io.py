"""Tests for pipeline.video_io: probe, streaming reader, atomic H.264 writer, damage and errors.

Every clip is made here, in tmp_path, with VideoWriter or (for fixtures VideoWriter cannot make:
rotation metadata, an MP4 with its index at the end) with PyAV directly.
"""

from __future__ import annotations

import os
import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from pipeline import video_io
from pipeline.video_io import (
    DamagedVideoWarning,
    VideoReader,
    VideoWriter,
    _apply_rotation,
    _rotation_from_stream,
    probe,
    read_all_frames,
)
from posemoe.errors import PoseMoEError

W, H, FPS = 64, 48, 25
BITS = 6  # frame i shows i in binary as BITS black/white bars (up to 63 frames; see _frame)


def _frame(i: int, w: int = W, h: int = H) -> np.ndarray:
    """Frame i: grey, a pure red top-left quadrant (orientation marker), and in the bottom half
    BITS vertical bars, bar k white when bit k of i is set, else black (survives compression)."""
    img = np.full((h, w, 3), 128, np.uint8)
    img[: h // 2, : w // 2] = (0, 0, 255)  # BGR red
    for k in range(BITS):
        img[h // 2:, k * w // BITS:(k + 1) * w // BITS] = 255 if (i >> k) & 1 else 0
    return img


def _index_of(frame: np.ndarray) -> int:
    """Recover i from a decoded _frame(i) in stored orientation (reads the middle of each bar)."""
    h, w = frame.shape[:2]
    y = 3 * h // 4
    i = 0
    for k in range(BITS):
        x = (2 * k + 1) * w // (2 * BITS)
        level = float(frame[y - 2:y + 3, x - 1:x + 2].mean())
        assert level > 200 or level < 55, f"bar {k} is grey ({level:.0f}): not a frame made by _frame"
        i |= (level > 128) << k
    return i


def _write_clip(path: Path, n: int, w: int = W, h: int = H, fps: float = FPS) -> Path:
    with VideoWriter(path, fps, (w, h)) as writer:
        for i in range(n):
            writer.write(_frame(i, w, h))
    return path


def _write_with_pyav(path: Path, n: int, *, rotation_ccw: float | None = None, fmt: str | None = None,
                     options: dict | None = None) -> Path:
    """A clip written by PyAV directly (W x H stored frames), optionally with a display matrix."""
    container = av.open(str(path), "w", format=fmt, options=options or {})
    stream = container.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=Fraction(FPS))
    stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
    if rotation_ccw is not None:
        stream.set_display_rotation(rotation_ccw)  # counter-clockwise, as VideoFrame.rotation reads it
    for i in range(n):
        for packet in stream.encode(av.VideoFrame.from_ndarray(_frame(i), format="bgr24")):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
    container.close()
    return path


def _is_red(pixel: np.ndarray) -> bool:
    b, g, r = (int(v) for v in pixel)
    return r > 180 and g < 80 and b < 80


# ------------------------------------------------------------------------------------ round trip


def test_roundtrip_count_fps_size_and_order(tmp_path: Path) -> None:
    path = _write_clip(tmp_path / "clip.mp4", 24)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # no temporary left over

    info = probe(path)
    assert (info.width, info.height, info.frame_count, info.rotation) == (W, H, 24, 0)
    assert info.fps == pytest.approx(25.0)
    assert info.duration_s == pytest.approx(24 / 25, abs=0.05)
    assert info.frame_count_exact and info.codec in ("h264", "mpeg4")

    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean file must not warn
        with VideoReader(path) as reader:
            assert reader.info == info
            for index, frame in reader:
                assert frame.shape == (H, W, 3) and frame.dtype == np.uint8 and frame.flags.c_contiguous
                assert _is_red(frame[2, 2]) and not _is_red(frame[H - 3, W - 3])
                seen.append((index, _index_of(frame)))
    assert seen == [(i, i) for i in range(24)]
    assert reader.frames_read == 24


def test_read_all_frames_and_max_frames(tmp_path: Path) -> None:
    path = _write_clip(tmp_path / "clip.mp4", 10)
    info, frames = read_all_frames(path)
    assert info.frame_count == 10 and [_index_of(f) for f in frames] == list(range(10))
    _, first = read_all_frames(path, max_frames=3)
    assert [_index_of(f) for f in first] == [0, 1, 2]


def test_fractional_fps(tmp_path: Path) -> None:
    path = _write_clip(tmp_path / "ntsc.mp4", 6, fps=29.97)
    assert probe(path).fps == pytest.approx(30000 / 1001, rel=1e-6)


def test_odd_size_is_padded_to_even(tmp_path: Path) -> None:
    path = tmp_path / "odd.mp4"
    with VideoWriter(path, FPS, (63, 47)) as writer:
        assert writer.encoded_size == (64, 48)
        for i in range(5):
            writer.write(_frame(i, 63, 47))
    info, frames = read_all_frames(path)
    assert (info.width, info.height) == (64, 48)
    assert [f.shape for f in frames] == [(48, 64, 3)] * 5
    assert [_index_of(f) for f in frames] == list(range(5))
    # the padding repeats the edge: the last column/row look like their neighbours
    assert np.abs(frames[4][:, 63].astype(int) - frames[4][:, 62].astype(int)).max() <= 12
    assert np.abs(frames[4][47].astype(int) - frames[4][46].astype(int)).max() <= 12


def test_writer_rejects_frames_of_another_size(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    with pytest.raises(PoseMoEError, match="out.mp4.*32x24.*64x48"):
        with VideoWriter(path, FPS, (W, H)) as writer:
            writer.write(_frame(0))
            writer.write(_frame(1, 32, 24))
    assert list(tmp_path.iterdir()) == []


# -------------------------------------------------------------------------------------- rotation


@pytest.mark.parametrize("ccw, cw", [(-90, 90), (90, 270), (180, 180)])
def test_rotation_from_display_matrix(tmp_path: Path, ccw: int, cw: int) -> None:
    # PyAV >= 14 writes a display matrix (what phones record); stored frames are W x H landscape
    path = _write_with_pyav(tmp_path / "phone.mp4", 3, rotation_ccw=ccw)
    info = probe(path)
    assert info.rotation == cw
    portrait = cw in (90, 270)
    assert (info.width, info.height) == ((H, W) if portrait else (W, H))
    _, frames = read_all_frames(path)
    assert len(frames) == 3
    f, h, w = frames[0], info.height, info.width
    # the red marker (stored top-left) lands where a clockwise rotation by `cw` puts it
    corner = {90: f[2, w - 3], 180: f[h - 3, w - 3], 270: f[h - 3, 2]}[cw]
    assert _is_red(corner) and not _is_red(f[2, 2])
    for i, frame in enumerate(frames):
        assert frame.shape == (info.height, info.width, 3)
        stored = np.rot90(frame, k=cw // 90)  # undo the clockwise rotation
        assert _is_red(stored[2, 2]) and _index_of(stored) == i


def test_rotation_helpers() -> None:
    # the legacy 'rotate' tag (clockwise) cannot be written by current FFmpeg muxers, so that
    # branch is tested through the pure function with fake values
    assert _rotation_from_stream(None, None) == 0
    assert _rotation_from_stream(None, "90") == 90
    assert _rotation_from_stream(0.0, "270") == 270
    assert _rotation_from_stream(-90.0, "0") == 90  # display matrix wins
    assert _rotation_from_stream(90.0, None) == 270
    assert _rotation_from_stream(-180.0, None) == 180
    assert _rotation_from_stream(None, "garbage") == 0
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    assert _apply_rotation(img, 0) is img
    np.testing.assert_array_equal(_apply_rotation(img, 90), np.rot90(img, k=-1))
    np.testing.assert_array_equal(_apply_rotation(img, 180), np.rot90(img, k=2))
    np.testing.assert_array_equal(_apply_rotation(img, 270), np.rot90(img, k=1))
    with pytest.raises(ValueError):
        _apply_rotation(img, 45)


# ---------------------------------------------------------------------------------------- damage


def _truncate(src: Path, dst: Path, fraction: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


@pytest.mark.parametrize("fraction", [0.6, 0.75, 0.9])
def test_truncated_mp4_yields_good_frames_then_one_warning(tmp_path: Path, fraction: float) -> None:
    # VideoWriter puts the MP4 index first (faststart), so a cut-off copy still opens and announces
    # 48 frames; the demuxer meets a short packet where the bytes end. With B-frames the decoder
    # may already hold a frame displayed after the lost one: it must not come out.
    full = _write_clip(tmp_path / "full.mp4", 48)
    cut = _truncate(full, tmp_path / "cut.mp4", fraction)
    reader = VideoReader(cut)
    assert reader.info.frame_count == 48
    with pytest.warns(DamagedVideoWarning) as record:
        got = [(i, _index_of(f)) for i, f in reader]
    assert len(record) == 1
    message = str(record[0].message)
    assert "cut.mp4" in message and f"read {len(got)} frames of 48" in message and "damaged" in message
    assert 1 <= len(got) < 48 and reader.frames_read == len(got)
    assert got == [(i, i) for i in range(len(got))]  # every frame returned is a good one, in order


def test_mp4_cut_between_packets_is_reported(tmp_path: Path) -> None:
    # cut exactly after packet 20: no short packet, the demuxer just ends early; the shortfall
    # against the 48 frames the MP4 index announces is what gives it away
    full = _write_clip(tmp_path / "full.mp4", 48)
    container = av.open(str(full))
    packets = [(p.pos, p.size) for p in container.demux(container.streams.video[0]) if p.size]
    container.close()
    pos, size = packets[20]
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: pos + size])
    with pytest.warns(DamagedVideoWarning, match="frames early") as record:
        got = [_index_of(f) for _, f in VideoReader(cut)]
    assert len(record) == 1
    assert 1 <= len(got) <= 21 and got == list(range(len(got)))


def test_truncated_mpegts_stops_before_the_missing_frame(tmp_path: Path) -> None:
    # MPEG-TS has no index or frame count and its demuxer drops the cut-off last packet silently;
    # the B-frame lost there leaves a hole before the last decoded P-frame, which the reader sees
    # as a time jump in the final flush: it ends at the last frame before the hole and warns once
    full = _write_with_pyav(tmp_path / "full.ts", 48, fmt="mpegts")
    cut = _truncate(full, tmp_path / "cut.ts", 0.6)
    info = probe(cut)
    assert not info.frame_count_exact
    reader = VideoReader(cut)
    with pytest.warns(DamagedVideoWarning) as record:
        got = [_index_of(f) for _, f in reader]
    assert len(record) == 1 and "cut.ts: read" in str(record[0].message)
    assert 1 <= len(got) < 48 and got == list(range(len(got)))


def test_truncated_mp4_with_index_at_end_is_unreadable(tmp_path: Path) -> None:
    full = _write_with_pyav(tmp_path / "full.mp4", 48)  # PyAV's default: moov written last
    cut = _truncate(full, tmp_path / "cut.mp4", 0.6)
    with pytest.raises(PoseMoEError, match=r"cut\.mp4: not a readable video"):
        probe(cut)


def test_no_decodable_frames(tmp_path: Path) -> None:
    full = _write_clip(tmp_path / "full.mp4", 24)
    data = full.read_bytes()
    mdat = data.index(b"mdat")  # faststart: index first, then the media data
    cut = tmp_path / "stub.mp4"
    cut.write_bytes(data[: mdat + 4 + 10])  # ends 10 bytes into the first packet
    reader = VideoReader(cut)
    with pytest.raises(PoseMoEError, match=r"stub\.mp4: no decodable frames"):
        list(reader)


# ---------------------------------------------------------------------------------------- errors


def test_probe_errors(tmp_path: Path) -> None:
    with pytest.raises(PoseMoEError, match=r"missing\.mp4: no such file"):
        probe(tmp_path / "missing.mp4")
    with pytest.raises(PoseMoEError, match="is a folder"):
        probe(tmp_path)
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(PoseMoEError, match=r"empty\.mp4: empty file"):
        VideoReader(empty)
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 20)
    with pytest.raises(PoseMoEError, match=r"notes\.mp4: not a readable video") as err:
        read_all_frames(text)
    assert "\n" not in str(err.value)


def test_probe_rejects_file_without_video(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    container = av.open(str(path), "w")
    stream = container.add_stream("pcm_s16le", rate=8000, layout="mono")
    frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
    frame.sample_rate = 8000
    for packet in stream.encode(frame):
        container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
    container.close()
    with pytest.raises(PoseMoEError, match=r"silence\.wav: not a readable video \(no video stream\)"):
        probe(path)


def test_writer_output_folder_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(PoseMoEError, match=r"out\.mp4: output folder .*nope does not exist"):
        VideoWriter(tmp_path / "nope" / "out.mp4", FPS, (W, H))
    (tmp_path / "file").write_text("x")
    with pytest.raises(PoseMoEError, match=r"out\.mp4: .*is not a folder"):
        VideoWriter(tmp_path / "file" / "out.mp4", FPS, (W, H))
    with pytest.raises(PoseMoEError, match="is a folder"):
        VideoWriter(tmp_path, FPS, (W, H))

    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() != 0:
        locked.chmod(0o555)
        try:
            with pytest.raises(PoseMoEError, match=r"out\.mp4: output folder .*locked is not writable"):
                VideoWriter(locked / "out.mp4", FPS, (W, H))
        finally:
            locked.chmod(0o755)
    else:  # root writes anywhere; exercise the up-front check by faking the permission test
        monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
        with pytest.raises(PoseMoEError, match=r"out\.mp4: output folder .*locked is not writable"):
            VideoWriter(locked / "out.mp4", FPS, (W, H))
        monkeypatch.undo()
    assert list(locked.iterdir()) == []


def test_writer_refuses_to_overwrite_input(tmp_path: Path) -> None:
    src = _write_clip(tmp_path / "in.mp4", 3)
    before = src.read_bytes()
    (tmp_path / "sub").mkdir()
    for out in (src, tmp_path / "sub" / ".." / "in.mp4", str(src)):
        with pytest.raises(PoseMoEError, match=r"in\.mp4: output would overwrite the input video"):
            VideoWriter(out, FPS, (W, H), forbid_same_as=src)
    assert src.read_bytes() == before
    VideoWriter(tmp_path / "other.mp4", FPS, (W, H), forbid_same_as=src).abort()  # another name is fine


def test_exception_in_with_block_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(path, FPS, (W, H)) as writer:
            for i in range(5):
                writer.write(_frame(i))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []

    # an existing video under the final name survives a failed rewrite untouched
    _write_clip(path, 4)
    before = path.read_bytes()
    with pytest.raises(RuntimeError):
        with VideoWriter(path, FPS, (W, H)) as writer:
            writer.write(_frame(9))
            raise RuntimeError("boom")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_closing_without_frames_saves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nothing.mp4"
    with pytest.raises(PoseMoEError, match=r"nothing\.mp4: no frames were written"):
        with VideoWriter(path, FPS, (W, H)):
            pass
    assert list(tmp_path.iterdir()) == []


def test_container_follows_the_final_suffix(tmp_path: Path) -> None:
    # the temporary file keeps the final suffix, so the muxer matches the name the user asked for;
    # Matroska stores no frame count, so probe estimates it from duration * fps
    path = _write_clip(tmp_path / "clip.mkv", 12)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mkv"]
    info = probe(path)
    assert not info.frame_count_exact and abs(info.frame_count - 12) <= 1
    assert [_index_of(f) for f in read_all_frames(path)[1]] == list(range(12))


def test_encoder_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a build without libx264: the first encoder that exists is used and recorded in .codec
    monkeypatch.setattr(video_io, "_ENCODERS", ("no_such_encoder", "mpeg4"))
    path = tmp_path / "fallback.mp4"
    with VideoWriter(path, FPS, (W, H)) as writer:
        assert writer.codec == "mpeg4"
        for i in range(6):
            writer.write(_frame(i))
    info, frames = read_all_frames(path)
    assert info.codec == "mpeg4" and [_index_of(f) for f in frames] == list(range(6))


def test_written_colours_come_back(tmp_path: Path) -> None:
    """Flat patches of primaries, secondaries and greys decode to within a few levels of what
    was written: catches a wrong channel order, a full/limited range mix-up or a wrong matrix
    in the writer's BGR -> YUV 4:2:0 conversion."""
    colours = [(0, 0, 255), (0, 255, 0), (255, 0, 0), (0, 255, 255), (255, 0, 255), (255, 255, 0),
               (0, 0, 0), (128, 128, 128), (255, 255, 255), (40, 90, 200)]
    frame = np.zeros((64, 32 * len(colours), 3), np.uint8)
    for i, c in enumerate(colours):
        frame[:, 32 * i:32 * (i + 1)] = c
    path = tmp_path / "colours.mp4"
    with VideoWriter(path, 25, (frame.shape[1], frame.shape[0])) as writer:
        for _ in range(3):
            writer.write(frame)
    with VideoReader(path) as reader:
        _, back = next(iter(reader))
    for i, c in enumerate(colours):
        patch = back[16:48, 32 * i + 8:32 * i + 24].reshape(-1, 3).astype(int)
        assert np.abs(patch.mean(0) - np.array(c)).max() < 8, (c, patch.mean(0))
