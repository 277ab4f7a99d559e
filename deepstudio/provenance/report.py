"""The verification report of a file: content credentials + invisible watermark."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepstudio.provenance.credentials import CredentialsReport
from deepstudio.provenance.payload import payload_from_hex, payload_hex
from deepstudio.provenance.wm_detect import WatermarkResult


@dataclass(frozen=True)
class VerifyReport:
    """Everything ``deepstudio verify`` says about one file."""

    path: Path
    credentials: CredentialsReport
    watermark: WatermarkResult | None
    """``None`` when the file has no frames to check (e.g. audio only)."""

    @property
    def manifest_payload(self) -> int | None:
        data = self.credentials.claim.get("deepstudio") or {}
        text = data.get("watermark_payload")
        return payload_from_hex(text) if isinstance(text, str) else None

    @property
    def payload_matches(self) -> bool | None:
        """Whether the watermark carries the payload the manifest names (None: cannot tell)."""
        if self.watermark is None or self.watermark.payload is None:
            return None
        if self.manifest_payload is None:
            return None
        return self.watermark.payload == self.manifest_payload

    @property
    def synthetic(self) -> bool:
        """Whether anything marks the file as DeepStudio-made synthetic media."""
        return self.credentials.present or bool(self.watermark and self.watermark.detected)

    @property
    def verdict(self) -> str:
        cred, wm = self.credentials, self.watermark
        if cred.present and not cred.valid:
            return "SYNTHETIC (credentials present but INVALID: the file was altered after signing)"
        if cred.valid and self.payload_matches is False:
            return "SYNTHETIC (credentials valid, but the watermark names another render)"
        if cred.valid:
            return "SYNTHETIC (made with DeepStudio; credentials valid)"
        if wm is not None and wm.detected:
            return "SYNTHETIC (DeepStudio watermark found; no credentials: stripped or re-encoded)"
        return "no DeepStudio disclosure found"

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "verdict": self.verdict,
            "synthetic": self.synthetic,
            "credentials": self.credentials.to_dict(),
            "watermark": None if self.watermark is None else self.watermark.to_dict(),
            "payload_matches": self.payload_matches,
        }

    def to_text(self) -> str:
        cred, wm = self.credentials, self.watermark
        lines = [f"{self.path}", f"  verdict:      {self.verdict}"]
        if cred.present:
            state = "valid" if cred.valid else "INVALID"
            lines.append(f"  credentials:  {state}; {cred.message}")
            lines += [f"    error: {e}" for e in cred.validation_errors]
            claim = cred.claim
            lines.append(f"    actions:    {', '.join(a or '?' for a in claim.get('actions', []))}")
            if claim.get("ingredients"):
                lines.append(f"    sources:    {', '.join(claim['ingredients'])}")
            data = claim.get("deepstudio") or {}
            if data:
                lines.append(f"    render:     {data.get('render_id')}  "
                             f"(watermark {data.get('watermark_payload')})")
                models = ", ".join(m.get("model_id", "?") for m in data.get("models", []))
                lines.append(f"    models:     {models or '-'}")
                consents = ", ".join(data.get("consent_record_ids", []))
                lines.append(f"    consent:    {consents or '-'}")
        else:
            lines.append(f"  credentials:  none ({cred.message})")
        if wm is None:
            lines.append("  watermark:    not checked (no video frames)")
        elif wm.detected and wm.payload is not None:
            match = {True: ", matches the credentials", False: ", DOES NOT match the credentials",
                     None: ""}[self.payload_matches]
            flipped = ", picture mirrored" if wm.mirrored else ""
            turned = f", picture turned {wm.rotation:+.1f} degrees" if wm.rotation else ""
            lines.append(f"  watermark:    found, payload {payload_hex(wm.payload)}{match} "
                         f"(confidence {wm.confidence:.2f}, {wm.frames_used} frames"
                         f"{flipped}{turned})")
        else:
            lines.append(f"  watermark:    not found ({wm.frames_used} frames checked)")
        return "\n".join(lines)
