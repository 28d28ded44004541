"""Random access to the frames of a video file with PyAV: decode only what a clip needs.

Frame ``k`` is the ``k``-th frame in presentation order, counted from 0 (the numbering of frames
extracted with ``ffmpeg -i video.mp4 img_%05d.jpg``, so Kinetics-TPS ``img_00001.json`` is frame 0).

Opening a file demuxes it once without decoding (milliseconds for a 10 s clip; packets are only
read, not decompressed) and builds a frame table: the presentation timestamps of all frames, sorted,
and which of them are keyframes. The table makes frame counting exact when the container header
has no count or a wrong one (MKV/WebM carry none; AVI headers can be stale), maps decoded frames to
indices by timestamp lookup whatever the first timestamp is (B-frame delays, edit lists, streams that
start late), and tells exactly when seeking pays: reading frames ``[a, b]`` seeks to the keyframe at
or before ``a``, decodes forward, and seeks again only when the keyframe before the next wanted frame
lies at least ``seek_min_skip`` frames past the last decoded one (the next frame is in a later GOP).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from partparse.data.video_transforms import short_side_size
from partparse.io import InputError, check_regular_file

#: Largest frame (width x height) a video may have: 4096 x 4096 holds 4K and DCI 4K. One decoded RGB frame
#: of this size takes 48 MB (a batch of keyframes, its scaled copies and the decoder's own frames come on
#: top); an 8192 x 8192 video (a 200 KB file can claim it) made a persons-only parse peak at 5.4 GB.
MAX_FRAME_PIXELS = 4096 * 4096


class TruncatedVideoWarning(UserWarning):
    """The container's header counts more frames than the file holds (cut short, e.g. a partial copy)."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds. ``num_frames`` comes from the frame table (exact), ``header_frames``
    is the count the container claims (0 when it has none); ``fps`` is the stream's average rate."""

    path: Path
    num_frames: int
    fps: float
    width: int
    height: int
    duration: float  # seconds, num_frames / fps
    codec: str
    header_frames: int


@dataclass(frozen=True)
class _FrameTable:
    """Per frame in presentation order: ``pts`` (stream time base) and the index of the keyframe at or
    before it, where decoding can start."""

    pts: np.ndarray  # int64 (N,), strictly increasing
    keyframe_before: np.ndarray  # int64 (N,)


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


class VideoReader:
    """Read frames of one video by index; a context manager that owns one open PyAV container.

    Args:
        path: a video file FFmpeg can demux and decode.
        short_side: if given, frames are scaled during decoding (FFmpeg swscale, bilinear, in the
            decoder's pixel format) so that their shorter side has this many pixels, keeping the aspect
            ratio (sizes rounded as mmcv does, see :func:`short_side_size`). About twice as fast as
            converting full frames to RGB and resizing them with torchvision.
        max_side: if given (and ``short_side`` is not), frames whose longer side exceeds it are scaled
            down in the decoder the same way so that it has this many pixels (the parser decodes at the
            size its models work at; ``out_width / width`` is the scale).
        thread_type: FFmpeg decoder threading ("AUTO", "FRAME", "SLICE" or "NONE").
        seek_min_skip: seek forward only when that skips at least this many frames; nearer frames are
            reached by decoding on (a seek flushes the decoder, and its threads start over; seeking to
            skip a single frame measured slower than decoding it).

    Counters ``frames_decoded`` and ``seeks`` add up over the reader's life (for tests and benchmarks).
    Every problem with the file raises :class:`partparse.io.InputError` naming it.
    """

    def __init__(self, path: str | os.PathLike, *, short_side: int | None = None, max_side: int | None = None,
                 thread_type: str = "AUTO", seek_min_skip: int = 4) -> None:
        self.path = Path(path)
        self.seek_min_skip = max(1, seek_min_skip)
        self.frames_decoded = 0
        self.seeks = 0
        check_regular_file(self.path)            # (a FIFO would block the demuxer)
        if self.path.stat().st_size == 0:
            raise InputError(f"{self.path}: empty file, not a video")
        try:
            self._container = av.open(str(self.path))
        except (av.FFmpegError, OSError, UnicodeDecodeError) as err:
            raise InputError(f"{self.path}: not a readable video: {_one_line(err)}") from None
        try:
            self._open_stream(short_side, thread_type, max_side)
        except BaseException:
            self._container.close()
            raise

    def _open_stream(self, short_side: int | None, thread_type: str, max_side: int | None = None) -> None:
        if not self._container.streams.video:
            raise InputError(f"{self.path}: no video stream")
        self._stream = stream = self._container.streams.video[0]
        stream.thread_type = thread_type
        if stream.width <= 0 or stream.height <= 0:
            raise InputError(f"{self.path}: video stream has no frame size (codec not recognised?)")
        if stream.width * stream.height > MAX_FRAME_PIXELS:
            raise InputError(f"{self.path}: frame size {stream.width}x{stream.height} is larger than partparse "
                             f"reads ({MAX_FRAME_PIXELS} pixels, e.g. 4096x4096); scale the video down first")
        self._table = self._build_table()
        n = len(self._table.pts)
        if n == 0:
            raise InputError(f"{self.path}: video has no frames")
        header = int(stream.frames or 0)
        if header > n:
            warnings.warn(TruncatedVideoWarning(
                f"{self.path}: holds {n} of the {header} frames its header counts (the file is cut short?); "
                f"reading the {n}"), stacklevel=3)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        if fps <= 0:  # no rate in the header: derive it from the timestamps
            span = float(int(self._table.pts[-1] - self._table.pts[0]) * stream.time_base)
            fps = (n - 1) / span if n > 1 and span > 0 else 1.0
        self.info = VideoInfo(self.path, n, fps, stream.width, stream.height, n / fps,
                              stream.codec_context.name, header)
        self._scaler, self._rgb = VideoReformatter(), VideoReformatter()
        if short_side is None and max_side is not None and max(stream.height, stream.width) > max_side:
            scale = max_side / max(stream.height, stream.width)
            self.out_height = max(1, int(stream.height * scale + 0.5))
            self.out_width = max(1, int(stream.width * scale + 0.5))
        elif short_side is None:
            self.out_height, self.out_width = stream.height, stream.width
        else:
            self.out_height, self.out_width = short_side_size(stream.height, stream.width, short_side)

    def _build_table(self) -> _FrameTable:
        """Demux every packet of the stream (no decoding) and sort their timestamps."""
        pts, key, corrupt = [], [], []
        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0 or packet.is_discard:  # flush packet / dropped by an edit list
                    continue
                ts = packet.pts if packet.pts is not None else packet.dts
                if ts is None:
                    raise InputError(f"{self.path}: video packets carry no timestamps; cannot index frames")
                pts.append(ts)
                key.append(packet.is_keyframe)
                corrupt.append(packet.is_corrupt)
        except av.FFmpegError as err:
            raise InputError(f"{self.path}: cannot demux: {_one_line(err)}") from None
        while corrupt and corrupt[-1]:  # a file cut short ends in a partial packet, which does not decode
            del pts[-1], key[-1], corrupt[-1]
        pts_arr = np.asarray(pts, np.int64)
        order = np.argsort(pts_arr, kind="stable")
        pts_arr = pts_arr[order]
        if len(pts_arr) > 1 and np.any(np.diff(pts_arr) == 0):
            raise InputError(f"{self.path}: duplicate frame timestamps; cannot index frames")
        is_key = np.asarray(key, bool)[order]
        if len(is_key):
            is_key[0] = True  # decoding can always start from the first frame
        key_idx = np.flatnonzero(is_key)
        keyframe_before = key_idx[np.searchsorted(key_idx, np.arange(len(pts_arr)), side="right") - 1]
        return _FrameTable(pts_arr, keyframe_before.astype(np.int64))

    # -- metadata -----------------------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        return self.info.num_frames

    @property
    def fps(self) -> float:
        return self.info.fps

    @property
    def width(self) -> int:
        return self.info.width

    @property
    def height(self) -> int:
        return self.info.height

    @property
    def duration(self) -> float:
        return self.info.duration

    # -- decoding -----------------------------------------------------------------------------------
    def read_frames(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Frames at ``indices`` (any order, duplicates allowed) as uint8 ``(T, H, W, 3)`` RGB, in the
        order asked; ``H, W`` are ``out_height, out_width``. Decodes only the GOPs that hold them."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_frames):
            raise IndexError(f"{self.path}: frame indices must lie in [0, {self.num_frames - 1}], "
                             f"got {int(idx.min())}..{int(idx.max())}")
        wanted, inverse = np.unique(idx, return_inverse=True)
        out = np.empty((len(wanted), self.out_height, self.out_width, 3), np.uint8)
        filled = 0
        for _, frame in self._decode_wanted(wanted):
            out[filled] = self._to_rgb(frame)
            filled += 1
            if filled == len(wanted):
                break
        if len(wanted) == len(idx) and (np.diff(idx) > 0).all():
            return out  # already sorted and unique: skip the copy
        return out[inverse.reshape(-1)]

    def read_all(self) -> np.ndarray:
        """Every frame, decoded sequentially from the start: uint8 ``(N, H, W, 3)`` RGB, all in memory
        (795 frames of 768x576 take 1 GB)."""
        return self.read_frames(np.arange(self.num_frames))

    def _decode_wanted(self, wanted: np.ndarray) -> Iterator[tuple[int, av.VideoFrame]]:
        """Yield ``(index, frame)`` for each of the sorted, unique ``wanted`` indices, in order."""
        table, pos = self._table, 0
        frames: Iterator[av.VideoFrame] | None = None
        last = -1  # index of the last decoded frame
        sought = -1  # target of the latest seek: seek at most once per target ...
        restarted = -1  # ... and restart from frame 0 at most once per target
        while pos < len(wanted):
            target = int(wanted[pos])
            skip = table.keyframe_before[target] - last - 1  # frames a seek would not decode
            if frames is None or (sought != target and skip >= self.seek_min_skip):
                frames, sought, last = self._seek_to(target), target, -1
            k, frame = self._next_frame(frames, target)
            if k > target:  # the seek landed after the target, or the decoder skipped it
                if restarted == target:
                    raise InputError(f"{self.path}: frame {target} does not decode (decoder skipped it)")
                frames, sought, restarted, last = self._seek_to(0), target, target, -1
                continue
            last = k
            if k == target:
                yield k, frame
                pos += 1

    def _seek_to(self, target: int) -> Iterator[av.VideoFrame]:
        # Seek by the keyframe's presentation timestamp (mov and matroska compare it with pts; a demuxer
        # that compares dts, which is <= pts, still stops at that keyframe). Landing earlier only costs
        # time; landing later is caught by the caller.
        ts = int(self._table.pts[self._table.keyframe_before[target]])
        try:
            self._container.seek(ts, backward=True, any_frame=False, stream=self._stream)
        except av.FFmpegError as err:
            raise InputError(f"{self.path}: cannot seek to frame {target}: {_one_line(err)}") from None
        self.seeks += 1
        return self._container.decode(self._stream)

    def _next_frame(self, frames: Iterator[av.VideoFrame], target: int) -> tuple[int, av.VideoFrame]:
        try:
            frame = next(frames)
        except StopIteration:
            raise InputError(f"{self.path}: stream ended before frame {target} "
                             f"(the file is truncated or its packets do not decode)") from None
        except av.FFmpegError as err:
            raise InputError(f"{self.path}: cannot decode near frame {target}: {_one_line(err)}") from None
        self.frames_decoded += 1
        return self._index_of(frame), frame

    def _index_of(self, frame: av.VideoFrame) -> int:
        """Frame index of a decoded frame from its timestamp (nearest table entry)."""
        pts = self._table.pts
        ts = frame.pts if frame.pts is not None else frame.dts
        if ts is None:
            raise InputError(f"{self.path}: decoded frame without timestamp")
        i = int(np.searchsorted(pts, ts))
        if i == len(pts) or (i > 0 and ts - pts[i - 1] < pts[i] - ts):
            i -= 1
        return i

    def _to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        # Scale in the decoder's pixel format (YUV 4:2:0: half the bytes, chroma already subsampled),
        # then convert with swscale's unscaled YUV->RGB path (faster than one scaled conversion to packed
        # RGB). One reformatter per step keeps its swscale context cached across frames (frame.to_ndarray
        # builds a new one per frame). Timings: docs/benchmarks.md, "Timings behind design choices".
        if (frame.height, frame.width) != (self.out_height, self.out_width):
            frame = self._scaler.reformat(frame, width=self.out_width, height=self.out_height,
                                          interpolation="BILINEAR", threads=1)
        return self._rgb.reformat(frame, format="rgb24", threads=1).to_ndarray()

    # -- lifetime -----------------------------------------------------------------------------------
    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        i = self.info
        return (f"VideoReader({str(i.path)!r}, {i.num_frames} frames, {i.width}x{i.height}, "
                f"{i.fps:.3g} fps, {i.codec})")
