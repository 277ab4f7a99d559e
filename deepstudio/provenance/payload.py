"""The 48-bit watermark payload: derived from a render id, protected by a CRC-24.

The payload is a hash of the render id, so a detected watermark can be matched against the
render id stored in a file's content credentials (or in the project's render list) without the
watermark having to carry the whole id: two render ids share a payload with probability 2**-48.
A CRC-24 over the payload turns "some bits decoded" into "this exact payload decoded": a wrong
decode passes the check with probability 2**-24, and a file gets at most 8 decodes (see
``wm_detect.Z_DETECT``).

Why 48 + 24 bits and not 64 + 32: the smallest frames (256x256, one pattern tile) hold 768
data chips. Fewer code bits give each one more chips, and after a crop, a 50 % downscale and
CRF 28 (114x114 pixels left) the shorter message decoded from 5 of 6 payloads where the longer
decoded from none (``docs/benchmarks.md``, session 10).
"""

from __future__ import annotations

import hashlib

import numpy as np

PAYLOAD_BITS = 48
CRC_BITS = 24
CODE_BITS = PAYLOAD_BITS + CRC_BITS
_CRC24_POLY, _CRC24_INIT = 0x864CFB, 0xB704CE
"""CRC-24 of OpenPGP (RFC 4880): detects every error burst up to 24 bits, the way Viterbi
decoding fails."""


def payload_from_render_id(render_id: str) -> int:
    """The 48-bit payload for a render id (the first 6 bytes of its BLAKE2b hash)."""
    if not render_id:
        raise ValueError("render id must not be empty")
    digest = hashlib.blake2b(render_id.encode("utf-8"), digest_size=PAYLOAD_BITS // 8).digest()
    return int.from_bytes(digest, "big")


def payload_hex(payload: int) -> str:
    """The payload as a short id of 12 hex digits (how it is shown and stored in manifests)."""
    _check_payload(payload)
    return f"{payload:0{PAYLOAD_BITS // 4}x}"


def payload_from_hex(text: str) -> int:
    """Inverse of :func:`payload_hex`."""
    value = int(text, 16)
    _check_payload(value)
    return value


def crc24(data: bytes) -> int:
    """The OpenPGP CRC-24 of ``data``."""
    crc = _CRC24_INIT
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= _CRC24_POLY
    return crc & 0xFFFFFF


def encode_payload(payload: int) -> np.ndarray:
    """The 72 code bits (payload then CRC-24, most significant bit first) as uint8 0/1."""
    _check_payload(payload)
    data = payload.to_bytes(PAYLOAD_BITS // 8, "big")
    return np.unpackbits(np.frombuffer(data + crc24(data).to_bytes(3, "big"), dtype=np.uint8))


def decode_payload(bits: np.ndarray) -> int | None:
    """The payload if the 72 hard-decided bits pass the CRC, else ``None``."""
    if bits.shape != (CODE_BITS,):
        raise ValueError(f"expected {CODE_BITS} bits, got shape {bits.shape}")
    raw = np.packbits(bits.astype(np.uint8)).tobytes()
    data, crc = raw[:PAYLOAD_BITS // 8], raw[PAYLOAD_BITS // 8:]
    if crc24(data).to_bytes(3, "big") != crc:
        return None
    return int.from_bytes(data, "big")


def _check_payload(payload: int) -> None:
    if not 0 <= payload < 1 << PAYLOAD_BITS:
        raise ValueError(f"payload must be a {PAYLOAD_BITS}-bit unsigned integer")
