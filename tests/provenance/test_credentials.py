"""Content credentials: sign a tiny MP4, read it back, detect tampering, unknown files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from ffmpeg_util import synthetic_video

from deepstudio.provenance.credentials import (
    DIGITAL_SOURCE_TYPE,
    CredentialsError,
    RenderProvenance,
    SourceMedia,
    read_credentials,
    sign_render,
)
from deepstudio.provenance.payload import payload_from_render_id, payload_hex
from deepstudio.provenance.signing_identity import config_dir, load_or_create_identity


@pytest.fixture(scope="module")
def tiny_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cred") / "render.mp4"
    synthetic_video(path)
    return path


def _info(source: Path) -> RenderProvenance:
    return RenderProvenance(
        render_id="render-0123456789ab",
        watermark_payload=payload_from_render_id("render-0123456789ab"),
        sources=(SourceMedia(source),),
        model_card_hashes={"model-aaaa": "ab" * 32},
        consent_record_ids=("consent-1", "consent-2"),
        effects=("faceswap",),
    )


def test_manifest_round_trip(tiny_mp4: Path, tmp_path: Path) -> None:
    signed = tmp_path / "signed.mp4"
    sign_render(tiny_mp4, signed, _info(tiny_mp4))
    report = read_credentials(signed)
    assert report.present and report.valid, report.validation_errors
    assert not report.trusted  # a local CA is not on any public trust list
    claim = report.claim
    assert claim["actions"] == ["c2pa.opened", "c2pa.edited"]
    assert claim["digital_source_types"] == [DIGITAL_SOURCE_TYPE]
    assert claim["ingredients"] == ["render.mp4"]
    ours = claim["deepstudio"]
    assert ours["render_id"] == "render-0123456789ab"
    assert ours["watermark_payload"] == payload_hex(payload_from_render_id("render-0123456789ab"))
    assert ours["consent_record_ids"] == ["consent-1", "consent-2"]
    assert ours["models"] == [{"model_id": "model-aaaa", "model_card_sha256": "ab" * 32}]
    assert ours["software"]["name"] == "DeepStudio"
    assert len(ours["sources"][0]["sha256"]) == 64
    assert not list(tmp_path.glob(".*"))  # no temp file left behind


def test_render_without_sources_is_created(tiny_mp4: Path, tmp_path: Path) -> None:
    signed = tmp_path / "gen.mp4"
    sign_render(tiny_mp4, signed, RenderProvenance("render-x", 5))
    report = read_credentials(signed)
    assert report.valid and report.claim["actions"] == ["c2pa.created", "c2pa.edited"]


def test_tampered_media_data_is_invalid(tiny_mp4: Path, tmp_path: Path) -> None:
    signed = tmp_path / "signed.mp4"
    sign_render(tiny_mp4, signed, _info(tiny_mp4))
    data = bytearray(signed.read_bytes())
    mdat = data.find(b"mdat")
    assert mdat > 0
    data[mdat + 200] ^= 0xFF
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    report = read_credentials(tampered)
    assert report.present and not report.valid
    assert any("mismatch" in e for e in report.validation_errors)


def test_file_not_made_by_deepstudio(tiny_mp4: Path, testdata: Path) -> None:
    for path in (tiny_mp4, testdata / "talk_a.mp4", testdata / "face_01.jpg"):
        report = read_credentials(path)
        assert not report.present and not report.valid
        assert report.message == "no content credentials"


def test_unsupported_format_and_missing_file(tmp_path: Path, tiny_mp4: Path) -> None:
    text = tmp_path / "frames.txt"
    text.write_text("not media")
    with pytest.raises(CredentialsError, match="cannot be embedded"):
        sign_render(text, tmp_path / "out.txt", _info(tiny_mp4))
    with pytest.raises(CredentialsError, match="no such file"):
        read_credentials(tmp_path / "missing.mp4")


def test_identity_created_once_with_private_key_0600() -> None:
    first = load_or_create_identity()
    second = load_or_create_identity()
    assert first == second
    assert first.folder == config_dir() / "signing"
    for name in ("leaf-key.pem", "ca-key.pem"):
        mode = stat.S_IMODE((first.folder / name).stat().st_mode)
        assert mode == 0o600
    assert first.chain_pem.count(b"BEGIN CERTIFICATE") == 2
