"""``deepstudio identity`` and ``deepstudio consent``: people in a project and their consent.

An identity is a named person; face tracks of analysed media are assigned to it. Training on,
swapping or lip-syncing an identity needs a valid consent record of the matching scope.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from deepstudio.errors import UserError

SCOPES = ("train", "swap", "lipsync")


def register(subparsers) -> None:
    ident = subparsers.add_parser("identity", help="name the people in a project's footage")
    isub = ident.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = isub.add_parser("add", help="add a person, optionally with face tracks")
    p.add_argument("project", type=Path)
    p.add_argument("name")
    p.add_argument("--track", action="append", default=[], metavar="MEDIA:TRACK",
                   help="a face track (media file name or id, and track number from "
                        "'deepstudio analyze'); repeatable")
    p.set_defaults(run=identity_add)
    p = isub.add_parser("list", help="list people, their face tracks and consent")
    p.add_argument("project", type=Path)
    p.set_defaults(run=identity_list)

    consent = subparsers.add_parser("consent", help="record, list and revoke consent")
    csub = consent.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = csub.add_parser("add", help="record a person's consent")
    p.add_argument("project", type=Path)
    p.add_argument("--identity", required=True, help="identity name (created if new)")
    p.add_argument("--person", help="the person's full name (default: the identity name)")
    p.add_argument("--recorded-by", required=True, help="who recorded the consent")
    p.add_argument("--scope", action="append", choices=SCOPES, required=True,
                   help="what the person agreed to; repeatable")
    p.add_argument("--date", default=None, help="date given (YYYY-MM-DD, default today)")
    p.add_argument("--expiry", default=None, help="last valid day (YYYY-MM-DD)")
    p.add_argument("--evidence", type=Path, help="signed form or recording")
    p.set_defaults(run=consent_add)
    p = csub.add_parser("list", help="list consent records")
    p.add_argument("project", type=Path)
    p.set_defaults(run=consent_list)
    p = csub.add_parser("revoke", help="revoke a consent record")
    p.add_argument("project", type=Path)
    p.add_argument("consent_id")
    p.add_argument("--date", default=None, help="effective date (default today)")
    p.set_defaults(run=consent_revoke)


def _open(path: Path, command: str | None = None):
    from deepstudio.cli.project import open_session

    return open_session(path, command)


def _identity_by_name(project, name: str):
    for identity in project.identities.values():
        if identity.name == name:
            return identity
    return None


def _face_track(project, spec: str):
    from deepstudio.core.project import FaceTrackRef

    media_part, _, track_part = spec.rpartition(":")
    if not media_part or not track_part.isdigit():
        raise UserError(f"--track {spec!r}: expected MEDIA:TRACK, e.g. talk.mp4:0")
    for media in project.media.values():
        if media_part in (media.id, Path(media.path).name):
            return FaceTrackRef(media.id, int(track_part))
    raise UserError(f"--track {spec!r}: no media named {media_part!r} in the project")


def identity_add(args: argparse.Namespace) -> int:
    from deepstudio.core.commands import AddIdentity
    from deepstudio.core.project import Identity
    from deepstudio.types import new_id

    session = _open(args.project, "identity add")
    try:
        refs = [_face_track(session.project, t) for t in args.track]
        session.do(AddIdentity(Identity(new_id("identity"), args.name, refs)))
        session.save()
    finally:
        session.close()
    print(f"added {args.name!r} with {len(refs)} face track(s)")
    return 0


def identity_list(args: argparse.Namespace) -> int:
    from deepstudio.core.consent import valid_consent

    session = _open(args.project)
    try:
        project = session.project
        if not project.identities:
            print("no identities")
        for identity in project.identities.values():
            tracks = ", ".join(f"{Path(project.media[r.media_id].path).name}:{r.track_id}"
                               for r in identity.face_tracks) or "no face tracks"
            scopes = [s for s in SCOPES if valid_consent(identity, s) is not None]
            print(f"{identity.name}: {tracks}; consent today: {', '.join(scopes) or 'none'}")
    finally:
        session.close()
    return 0


def consent_add(args: argparse.Namespace) -> int:
    from deepstudio.core.commands import AddConsent, AddIdentity, Macro
    from deepstudio.core.project import ConsentRecord, Identity
    from deepstudio.types import new_id

    session = _open(args.project, "consent add")
    try:
        identity = _identity_by_name(session.project, args.identity)
        steps = []
        if identity is None:
            identity = Identity(new_id("identity"), args.identity)
            steps.append(AddIdentity(identity))
        if args.evidence is not None and not args.evidence.is_file():
            raise UserError("evidence file not found", args.evidence)
        record = ConsentRecord(
            id=new_id("consent"), person=args.person or args.identity,
            recorded_by=args.recorded_by, date=args.date or date.today().isoformat(),
            scope=list(dict.fromkeys(args.scope)), expiry=args.expiry,
            evidence=str(args.evidence.resolve()) if args.evidence else None)
        steps.append(AddConsent(identity.id, record))
        session.do(Macro("Record consent", steps))
        session.save()
    finally:
        session.close()
    print(f"recorded {record.id}: {record.person} consents to {', '.join(record.scope)}")
    return 0


def consent_list(args: argparse.Namespace) -> int:
    session = _open(args.project)
    try:
        rows = [(i, c) for i in session.project.identities.values() for c in i.consents]
        if not rows:
            print("no consent records")
        for identity, c in rows:
            state = f"revoked {c.revoked_date or ''}".strip() if c.revoked else "active"
            print(f"{c.id}  {identity.name}: {c.person}, {', '.join(c.scope)}, given {c.date}"
                  f"{', expires ' + c.expiry if c.expiry else ''}, recorded by "
                  f"{c.recorded_by}, {state}")
    finally:
        session.close()
    return 0


def consent_revoke(args: argparse.Namespace) -> int:
    from deepstudio.core.commands import RevokeConsent

    session = _open(args.project, "consent revoke")
    try:
        owner = next((i for i in session.project.identities.values()
                      if any(c.id == args.consent_id for c in i.consents)), None)
        if owner is None:
            raise UserError(f"no consent record {args.consent_id!r}", args.project)
        session.do(RevokeConsent(owner.id, args.consent_id,
                                 args.date or date.today().isoformat()))
        session.save()
    finally:
        session.close()
    print(f"revoked {args.consent_id}")
    return 0
