"""Consent for one-shot commands: identities and their records come from a project.

A project is DeepStudio's consent ledger. Commands that train on or alter a person without
opening the editor (``train``, ``swap``, ``lipsync``, ``train-lipsync``) take ``--project``
and the person's identity name, and refuse when the project holds no valid record.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deepstudio.errors import ConsentError


def add_ledger_options(p: argparse.ArgumentParser, identity_help: str) -> None:
    p.add_argument("--project", type=Path,
                   help="project whose consent records cover the people involved "
                        "(see 'deepstudio consent add')")
    p.add_argument("--identity", help=identity_help)


def ledger_identity(project_folder: Path | None, name: str, scope: str):
    """The identity ``name`` of the ledger project and its valid ``scope`` consent record
    (ConsentError, saying how to record one, when there is none)."""
    from deepstudio.core.consent import require_consent
    from deepstudio.persistence.project_store import load_project

    if project_folder is None:
        raise ConsentError(
            f"altering {name!r} needs their recorded consent: pass --project PROJECT where it "
            f"is recorded (deepstudio consent add PROJECT --identity {name!r} --scope {scope} "
            "...)")
    project = load_project(project_folder)
    identity = next((i for i in project.identities.values() if i.name == name), None)
    if identity is None:
        raise ConsentError(f"{project_folder}: no identity named {name!r} (record their consent "
                           f"with: deepstudio consent add {project_folder} --identity {name!r} "
                           f"--scope {scope} ...)")
    return identity, require_consent(identity, scope)


def bind_face(session, media_id: str, track_id: int, identity) -> None:
    """Put a copy of a ledger identity (with its consent records) into a one-shot session and
    assign the face track to it, so the render's consent check sees it."""
    from dataclasses import replace

    from deepstudio.core.commands import AddIdentity
    from deepstudio.core.project import FaceTrackRef

    session.do(AddIdentity(replace(identity, face_tracks=[FaceTrackRef(media_id, track_id)])))


def pick_track(analysis, track: int | None, path: Path) -> int:
    """The requested face track, or the one on screen longest."""
    from deepstudio.errors import MediaError

    if not analysis.tracks:
        raise MediaError("no face found in the video", path)
    if track is None:
        return max(analysis.tracks.values(), key=lambda t: len(t.frames)).track_id
    if track not in analysis.tracks:
        known = ", ".join(str(t) for t in sorted(analysis.tracks))
        raise MediaError(f"has no face track #{track} (tracks: {known})", path)
    return track
