"""Content credentials (C2PA manifests) for rendered files: sign and read back.

A render's manifest says: the file was opened from the source media (or created, when there
is none) and then edited with trained algorithmic media (IPTC digital source type), by which
software, from which sources (name + sha256), with which models (model card hashes) and under
which consent records, and which watermark payload its frames carry.

c2pa-python signs the container formats the C2PA SDK supports (MP4/MOV, JPEG, PNG, WebP, ...);
an image *sequence* is many files and is not signed as one (each frame would need its own
manifest) -- :func:`sign_render` raises :class:`CredentialsError` for formats it cannot sign.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import c2pa

from deepstudio import __version__
from deepstudio.errors import NO_SPACE_TEXT, DiskFullError, UserError
from deepstudio.provenance.payload import payload_hex
from deepstudio.provenance.signing_identity import load_or_create_identity

DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
RENDER_ASSERTION = "org.deepstudio.render"
_UNTRUSTED_CODES = {"signingCredential.untrusted"}
"""Failures that only say the local CA is not on a public trust list (expected, not tampering)."""


class CredentialsError(UserError):
    """A file cannot be signed (unsupported format, unreadable source)."""


@dataclass(frozen=True)
class SourceMedia:
    """A source the render was made from."""

    path: Path
    sha256: str = ""

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class RenderProvenance:
    """What a render's manifest records."""

    render_id: str
    watermark_payload: int
    sources: tuple[SourceMedia, ...] = ()
    model_card_hashes: dict[str, str] = field(default_factory=dict)
    """Model id -> sha256 of its model card."""
    consent_record_ids: tuple[str, ...] = ()
    effects: tuple[str, ...] = ()
    """Short effect descriptions, e.g. ``"faceswap"``, ``"lipsync"``."""


@dataclass(frozen=True)
class CredentialsReport:
    """What :func:`read_credentials` found in a file."""

    present: bool
    valid: bool
    validation_errors: tuple[str, ...] = ()
    claim: dict[str, Any] = field(default_factory=dict)
    trusted: bool = False
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"present": self.present, "valid": self.valid, "trusted": self.trusted,
                "validation_errors": list(self.validation_errors), "claim": self.claim,
                "message": self.message}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sign_render(src_path: str | Path, dst_path: str | Path, info: RenderProvenance) -> None:
    """Write ``dst_path``: the rendered file ``src_path`` with an embedded signed manifest.

    ``dst_path`` appears atomically (signed into a temp file in the same folder, then renamed).
    """
    src, dst = Path(src_path), Path(dst_path)
    mime = _mime_type(src)
    if mime not in _supported_mime_types():
        raise CredentialsError(f"content credentials cannot be embedded in {mime or 'this'} "
                               "files", src)
    identity = load_or_create_identity()
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(
        b"es256", identity.chain_pem, identity.key_pem, None))
    tmp = dst.with_name(f".{dst.name}.signing{dst.suffix}")
    try:
        with c2pa.Builder(_manifest(dst.name, mime, info)) as builder:
            builder.sign_file(src, tmp, signer)
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dst)
    except c2pa.C2paError as exc:
        if NO_SPACE_TEXT in str(exc):
            raise DiskFullError(dst) from None
        raise CredentialsError(f"signing failed: {exc}", src) from exc
    finally:
        tmp.unlink(missing_ok=True)
        signer.close()


def read_credentials(path: str | Path) -> CredentialsReport:
    """The content credentials of ``path``: present? valid? and a summary of the claim."""
    path = Path(path)
    if not path.is_file():
        raise CredentialsError("no such file", path)
    try:
        with c2pa.Reader(path) as reader:
            state = reader.get_validation_state()
            store = json.loads(reader.json())
    except c2pa.C2paError as exc:
        text = str(exc)
        if "ManifestNotFound" in text or "no JUMBF" in text or "NotFound" in text:
            return CredentialsReport(False, False, message="no content credentials")
        if "NotSupported" in text or "UnsupportedType" in text:
            return CredentialsReport(False, False, message="format cannot carry credentials")
        return CredentialsReport(True, False, (text,), message="credentials unreadable")
    manifest = store.get("manifests", {}).get(store.get("active_manifest", ""), {})
    codes = [s.get("code", "") for s in store.get("validation_status", [])]
    untrusted = any(c in _UNTRUSTED_CODES for c in codes)
    errors = tuple(f"{s.get('code')}: {s.get('explanation', '')}"
                   for s in store.get("validation_status", [])
                   if s.get("code") not in _UNTRUSTED_CODES)
    valid = state in ("Valid", "Trusted") and not errors
    message = ("signed by " + manifest.get("signature_info", {}).get("common_name", "?")
               + ("" if not untrusted else " (local certificate, not on a public trust list)"))
    return CredentialsReport(True, valid, errors, _summary(manifest), trusted=not untrusted
                             and state == "Trusted", message=message)


def _supported_mime_types() -> set[str]:
    with c2pa.Builder({}) as builder:
        return set(builder.get_supported_mime_types())


_RENDER_MIME_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime",
                      ".png": "image/png"}
"""What DeepStudio writes, known without reading the system's MIME database (~0.15 s)."""


def _mime_type(path: Path) -> str:
    known = _RENDER_MIME_TYPES.get(path.suffix.lower())
    if known is not None:
        return known
    mime = mimetypes.guess_type(path.name)[0] or ""
    return {"image/jpg": "image/jpeg"}.get(mime, mime)


def _manifest(title: str, mime: str, info: RenderProvenance) -> dict[str, Any]:
    software = {"name": "DeepStudio", "version": __version__}
    ingredients = [{
        "title": source.name,
        "format": _mime_type(source.path) or "application/octet-stream",
        "relationship": "parentOf" if i == 0 else "componentOf",
        "instance_id": f"deepstudio:source:{i}",
    } for i, source in enumerate(info.sources)]
    first: dict[str, Any] = {"action": "c2pa.created", "softwareAgent": software,
                             "digitalSourceType": DIGITAL_SOURCE_TYPE}
    if ingredients:
        first = {"action": "c2pa.opened",
                 "parameters": {"ingredientIds": [ingredients[0]["instance_id"]]}}
    edited = {"action": "c2pa.edited", "softwareAgent": software,
              "digitalSourceType": DIGITAL_SOURCE_TYPE,
              "description": "synthetic media: " + (", ".join(info.effects) or "AI edit")}
    render = {
        "render_id": info.render_id,
        "watermark_payload": payload_hex(info.watermark_payload),
        "sources": [{"name": s.name, "sha256": s.sha256 or sha256_file(s.path)}
                    for s in info.sources],
        "models": [{"model_id": k, "model_card_sha256": v}
                   for k, v in sorted(info.model_card_hashes.items())],
        "consent_record_ids": list(info.consent_record_ids),
        "effects": list(info.effects),
        "software": software,
    }
    return {
        "claim_generator_info": [software],
        "title": title,
        "format": mime,
        "ingredients": ingredients,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [first, edited]}},
            {"label": RENDER_ASSERTION, "data": render},
        ],
    }


def _summary(manifest: dict[str, Any]) -> dict[str, Any]:
    """The parts of a manifest a person checks: who, what actions, which sources, our data."""
    assertions = {a.get("label", ""): a.get("data", {}) for a in manifest.get("assertions", [])}
    actions = next((v.get("actions", []) for k, v in assertions.items()
                    if k.startswith("c2pa.actions")), [])
    return {
        "title": manifest.get("title"),
        "claim_generator": [g.get("name") for g in manifest.get("claim_generator_info", [])],
        "signer": manifest.get("signature_info", {}).get("common_name"),
        "actions": [a.get("action") for a in actions],
        "digital_source_types": sorted({a["digitalSourceType"] for a in actions
                                         if "digitalSourceType" in a}),
        "ingredients": [i.get("title") for i in manifest.get("ingredients", [])],
        "deepstudio": assertions.get(RENDER_ASSERTION),
    }
