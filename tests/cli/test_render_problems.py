"""``deepstudio render`` of a project whose effects cannot run as placed, on a real clip: one
line naming the effect, the person and where it lies (never an id), exit code 2, and no
output file, before any analysis or encoding starts."""

from __future__ import annotations

import pytest

from deepstudio.cli.main import main
from deepstudio.core.commands import AddConsent, AddEffect, AddIdentity
from deepstudio.core.project import ConsentRecord, Effect, FaceTrackRef, Identity
from deepstudio.session import Session


@pytest.fixture
def project(tmp_path, testdata):
    """talk_b on the timeline, its face assigned to Anna, who consented to face swap."""
    folder = tmp_path / "Dub.dstudio"
    session = Session.create(folder, "Dub")
    media = session.import_media(testdata / "talk_b.mp4")
    clip = session.project.clip(session.add_clip_for_media(media))
    track = session.project.track_of_clip(clip.id).id
    session.do(AddIdentity(Identity("identity-anna", "Anna", [FaceTrackRef(media, 0)])))
    session.do(AddConsent("identity-anna", ConsentRecord("consent-anna", "Anna", "Jo",
                                                         "2026-01-01", ["swap"])))
    session.do(AddEffect(Effect("effect-5246562f3936", "face_swap", track, 0, media, 25, 75,
                                {"identity": "Anna"})))
    session.do(AddEffect(Effect("effect-lips", "lip_sync", track, 0, media, 50, 100)))
    session.save()
    session.close()
    return folder


def test_render_names_every_problem_in_words(project, tmp_path, capsys):
    out = tmp_path / "dub.mp4"
    assert main(["render", str(project), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert "Face swap on Anna (00:00:01:00–00:00:03:00): no model chosen" in err
    assert "(and 3 more problems)" in err  # the lip-sync's model, dialogue and consent
    assert "effect-" not in err and "consent-" not in err
    assert not out.exists() and not list(tmp_path.glob("dub.mp4*"))
