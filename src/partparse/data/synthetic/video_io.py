"""H.264 writing and frame reading through PyAV.

Videos are H.264 in MP4, ``yuv420p`` (what every decoder and Kinetics copy uses), encoded with a single
thread so that generation parallelises over processes instead.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import av
import numpy as np

from partparse.io import InputError, file_mode_for, write_error


class H264Writer:
    """Write RGB frames ``(H, W, 3)`` or RGBX frames ``(H, W, 4)`` (the 4th byte ignored) uint8 to
    ``path``; the file appears (atomically) on :meth:`close`.

    ``crf`` and ``preset`` are x264's quality and speed settings. Width and height must be even
    (yuv420p subsamples chroma by two).
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, fps: int, crf: int = 23,
                 preset: str = "veryfast"):
        if width % 2 or height % 2:
            raise ValueError(f"H.264 yuv420p needs an even frame size, got {width}x{height}")
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=".mp4", dir=self.path.parent)
        except OSError as err:
            raise write_error(self.path, err) from None
        self._container = None
        with self._failing_write():
            os.fchmod(fd, file_mode_for(self.path))
            os.close(fd)
            self._container = av.open(self._tmp, mode="w", format="mp4")
            self._stream = self._container.add_stream("libx264", rate=fps, options={"crf": str(crf), "preset": preset})
            self._stream.width, self._stream.height, self._stream.pix_fmt = width, height, "yuv420p"
            self._stream.codec_context.thread_count = 1
        self.frames = 0

    @contextmanager
    def _failing_write(self):
        """Any failure of the block removes the hidden temporary file (a full disk must not leave half a
        video behind); one the system reports (no space, read-only) becomes an InputError naming the file."""
        try:
            yield
        except BaseException as err:
            self.abort()
            if isinstance(err, OSError):             # av.error.OSError (ENOSPC ...) is one too
                raise write_error(self.path, err) from None
            raise

    def write(self, rgb: np.ndarray) -> None:
        # RGBX needs no repacking: swscale reads 4-byte pixels directly (and converts them faster).
        fmt = "rgba" if rgb.shape[-1] == 4 else "rgb24"
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format=fmt)
        with self._failing_write():
            self._container.mux(self._stream.encode(frame))
        self.frames += 1

    def close(self) -> Path:
        with self._failing_write():                  # the trailer write fails first on a full disk
            self._container.mux(self._stream.encode(None))
            self._container.close()
            os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the unfinished file (idempotent)."""
        try:
            if self._container is not None:
                self._container.close()
        except (OSError, av.FFmpegError):            # closing flushes, and may fail as the write did
            pass
        finally:
            self._container = None
            Path(self._tmp).unlink(missing_ok=True)

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: int, **options) -> Path:
    """Encode an iterable of RGB frames (all the same even size) to an H.264 MP4 at ``path``."""
    it = iter(frames)
    first = next(it)
    with H264Writer(path, first.shape[1], first.shape[0], fps, **options) as writer:
        writer.write(first)
        for frame in it:
            writer.write(frame)
    return Path(path)


def read_frames(path: str | os.PathLike, indices: Iterable[int] | None = None) -> dict[int, np.ndarray]:
    """Decode a video and return ``{frame index: RGB (H, W, 3) uint8}`` for ``indices`` (all if None).

    Indices count decoded frames from 0 in presentation order (Kinetics-TPS ``img_00001`` = frame 0).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: video not found")
    wanted = None if indices is None else set(int(i) for i in indices)
    out: dict[int, np.ndarray] = {}
    try:
        with av.open(str(path)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if wanted is None or i in wanted:
                    out[i] = frame.to_ndarray(format="rgb24")
                if wanted is not None and len(out) == len(wanted):
                    break
    except av.error.FFmpegError as err:
        raise InputError(f"{path}: cannot decode video: {err}") from None
    return out
