"""Identity embeddings computed in a child process, for the analysis's worker threads.

dlib holds the interpreter lock for the whole ~75 ms of a face descriptor, so an embedding
on a helper thread stalls every analysis worker between two Face Mesh calls (on occlusion_a
its four embeddings made the whole analysis ~8 % slower than the same work in a child
process, child start-up included). The child is a plain ``python -m`` of this module, so it
needs nothing from :mod:`multiprocessing` (whose daemon job processes may not have
children), and it ends when its stdin closes, also when the parent is killed.

Protocol on the child's stdin/stdout: a request is six little-endian int32 (height, width,
box x0, y0, x1, y1) followed by the RGB pixels; the reply is an int32 length, 0 followed by
the 128 float32 of the descriptor, or the length of a UTF-8 error message followed by it.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from typing import BinaryIO

import numpy as np

from deepstudio.types import BBox, Frame
from deepstudio.vision.identity import DESCRIPTOR_SIZE, FaceEmbedder, check_model_files

_HEADER = np.dtype("<i4")
_HEADER_FIELDS = 6


class EmbeddingProcess:
    """:meth:`FaceEmbedder.embed` in a child process started on first use; thread-safe (one
    request at a time). Use as a context manager, or call :meth:`close`."""

    def __init__(self) -> None:
        self._child: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> EmbeddingProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def embed(self, frame_rgb: Frame, bbox: BBox) -> np.ndarray:
        """The 128-d float32 descriptor of the face in ``bbox`` of an RGB uint8 frame."""
        image = np.ascontiguousarray(frame_rgb, dtype=np.uint8)
        box = [round(bbox.x0), round(bbox.y0), round(bbox.x1), round(bbox.y1)]
        header = np.array([*image.shape[:2], *box], dtype=_HEADER)
        with self._lock:
            child = self._started()
            try:
                child.stdin.write(header.tobytes())
                child.stdin.write(image.data)
                child.stdin.flush()
                reply = _read_reply(child.stdout)
            except (OSError, EOFError):
                self._stop()
                raise RuntimeError("the face embedding process stopped") from None
        if isinstance(reply, str):
            raise RuntimeError(f"face embedding failed: {reply}")
        return reply

    def close(self) -> None:
        """End the child (it finishes on end of input); a later :meth:`embed` starts another."""
        with self._lock:
            self._stop()

    def _started(self) -> subprocess.Popen:
        if self._child is None:
            check_model_files()  # a missing model is the parent's clear error, not the child's
            self._child = subprocess.Popen(
                [sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE)
        return self._child

    def _stop(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        with contextlib.suppress(OSError):  # the child may be gone already
            child.stdin.close()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        child.stdout.close()


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError
    return data


def _read_reply(stream: BinaryIO) -> np.ndarray | str:
    length = int(np.frombuffer(_read_exactly(stream, 4), dtype=_HEADER)[0])
    if length:
        return _read_exactly(stream, length).decode("utf-8", "replace")
    return np.frombuffer(_read_exactly(stream, DESCRIPTOR_SIZE * 4), dtype="<f4").copy()


def _serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """The child's loop: answer requests until the parent closes its end."""
    embedder = FaceEmbedder()
    while header := requests.read(_HEADER.itemsize * _HEADER_FIELDS):
        if len(header) != _HEADER.itemsize * _HEADER_FIELDS:
            return
        height, width, x0, y0, x1, y1 = np.frombuffer(header, dtype=_HEADER).tolist()
        image = np.frombuffer(_read_exactly(requests, height * width * 3), dtype=np.uint8)
        try:
            descriptor = embedder.embed(image.reshape(height, width, 3), BBox(x0, y0, x1, y1))
        except Exception as exc:  # reported to the parent, which raises it there
            message = f"{type(exc).__name__}: {exc}".encode()
            replies.write(np.array([len(message)], dtype=_HEADER).tobytes() + message)
        else:
            replies.write(np.zeros(1, dtype=_HEADER).tobytes()
                          + descriptor.astype("<f4").tobytes())
        replies.flush()


if __name__ == "__main__":
    _serve(sys.stdin.buffer, sys.stdout.buffer)
