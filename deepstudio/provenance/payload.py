"""The 64-bit watermark payload: derived from a render id, protected by a CRC.

The payload is a hash of the render id, so a detected watermark can be matched against the
render id stored in a file's content credentials (or in the project's render list) without the
watermark having to carry the whole id. A CRC-32 over the payload turns "some bits decoded" into
"this exact payload decoded": a wrong decode passes the check with probability 2**-32.
"""

from __future__ import annotations

import hashlib
import zlib

import numpy as np

PAYLOAD_BITS = 64
CRC_BITS = 32
CODE_BITS = PAYLOAD_BITS + CRC_BITS


def payload_from_render_id(render_id: str) -> int:
    """The 64-bit payload for a render id (the first 8 bytes of its BLAKE2b hash)."""
    if not render_id:
        raise ValueError("render id must not be empty")
    digest = hashlib.blake2b(render_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def payload_hex(payload: int) -> str:
    """The payload as a short id of 16 hex digits (how it is shown and stored in manifests)."""
    _check_payload(payload)
    return f"{payload:016x}"


def payload_from_hex(text: str) -> int:
    """Inverse of :func:`payload_hex`."""
    value = int(text, 16)
    _check_payload(value)
    return value


def encode_payload(payload: int) -> np.ndarray:
    """The 96 code bits (payload then CRC-32, most significant bit first) as uint8 0/1."""
    _check_payload(payload)
    data = payload.to_bytes(8, "big")
    crc = zlib.crc32(data).to_bytes(4, "big")
    return np.unpackbits(np.frombuffer(data + crc, dtype=np.uint8))


def decode_payload(bits: np.ndarray) -> int | None:
    """The payload if the 96 hard-decided bits pass the CRC, else ``None``."""
    if bits.shape != (CODE_BITS,):
        raise ValueError(f"expected {CODE_BITS} bits, got shape {bits.shape}")
    raw = np.packbits(bits.astype(np.uint8)).tobytes()
    data, crc = raw[:8], raw[8:]
    if zlib.crc32(data).to_bytes(4, "big") != crc:
        return None
    return int.from_bytes(data, "big")


def _check_payload(payload: int) -> None:
    if not 0 <= payload < 1 << PAYLOAD_BITS:
        raise ValueError(f"payload must be a {PAYLOAD_BITS}-bit unsigned integer")
