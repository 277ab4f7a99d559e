"""Payload mapping, CRC and the convolutional code."""

from __future__ import annotations

import numpy as np

from deepstudio.provenance.ecc import coded_length, conv_encode, viterbi_decode
from deepstudio.provenance.payload import (
    CODE_BITS,
    crc24,
    decode_payload,
    encode_payload,
    payload_from_hex,
    payload_from_render_id,
    payload_hex,
)


def test_render_id_maps_to_stable_48_bit_payload_and_hex_round_trips() -> None:
    payload = payload_from_render_id("render-3f9a1c2b7d4e")
    assert payload == payload_from_render_id("render-3f9a1c2b7d4e")
    assert payload != payload_from_render_id("render-3f9a1c2b7d4f")
    assert 0 <= payload < 1 << 48
    assert len(payload_hex(payload)) == 12
    assert payload_from_hex(payload_hex(payload)) == payload


def test_crc_is_openpgp_crc24_and_rejects_any_single_flipped_bit() -> None:
    assert crc24(b"123456789") == 0x21CF02  # the standard check value
    bits = encode_payload(0x0123456789AB)
    assert bits.shape == (72,)
    assert decode_payload(bits) == 0x0123456789AB
    for i in range(CODE_BITS):
        flipped = bits.copy()
        flipped[i] ^= 1
        assert decode_payload(flipped) is None


def test_viterbi_corrects_noisy_soft_values() -> None:
    rng = np.random.default_rng(7)
    bits = encode_payload(0xFEEDFACECAFE)
    coded = conv_encode(bits).astype(np.float64) * 2 - 1
    assert coded.shape == (coded_length(CODE_BITS),)
    noisy = coded + rng.normal(0.0, 0.8, coded.shape)
    assert np.mean((noisy > 0) != (coded > 0)) > 0.05  # the channel really makes errors
    assert decode_payload(viterbi_decode(noisy, CODE_BITS)) == 0xFEEDFACECAFE
