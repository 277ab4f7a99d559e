"""Every render is disclosed; verify reads it back; consent gates identity-altering effects."""

from __future__ import annotations

import json

import pytest

from deepstudio.cli.main import main


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, testdata):
    out = tmp_path_factory.mktemp("verify") / "rendered.mp4"
    assert main(["render", str(testdata / "talk_b.mp4"), "-o", str(out), "--end", "2",
                 "-q"]) == 0
    return out


def test_render_carries_valid_credentials_and_watermark(rendered, tmp_path, capsys):
    report_path = tmp_path / "report.json"
    assert main(["verify", str(rendered), "--json", str(report_path)]) == 0
    text = capsys.readouterr().out
    assert "credentials valid" in text
    report = json.loads(report_path.read_text())
    assert report["credentials"]["valid"] and report["watermark"]["detected"]
    assert report["payload_matches"] is True
    assert "talk_b.mp4" in report["credentials"]["claim"]["ingredients"]


def test_tampered_file_is_reported_invalid(rendered, tmp_path, capsys):
    data = bytearray(rendered.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    report_path = tmp_path / "t.json"
    main(["verify", str(tampered), "--json", str(report_path)])
    report = json.loads(report_path.read_text())
    assert report["credentials"]["present"] and not report["credentials"]["valid"]
    assert "INVALID" in report["verdict"]


def test_file_not_made_by_deepstudio(testdata, tmp_path):
    report_path = tmp_path / "n.json"
    assert main(["verify", str(testdata / "talk_a.mp4"), "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert not report["synthetic"] and not report["watermark"]["detected"]


def test_visible_label_is_optional_and_drawn(testdata, tmp_path):
    from deepstudio.cli.render import session_for_video
    from deepstudio.engine.disclosure import LabelSettings
    from deepstudio.engine.render import RenderSettings
    from deepstudio.media.decode import VideoReader

    session = session_for_video(testdata / "talk_b.mp4", "none")
    plain, labelled = tmp_path / "plain.mp4", tmp_path / "label.mp4"
    session.render_now(plain, RenderSettings(0, 10))
    session.render_now(labelled, RenderSettings(0, 10, label=LabelSettings("AI-modified",
                                                                            "top-left", 1.0)))
    session.close()
    with VideoReader(plain) as a, VideoReader(labelled) as b:
        x, y = a.read(5).astype(int), b.read(5).astype(int)
    corner = abs(x[:60, :200] - y[:60, :200]).mean()
    elsewhere = abs(x[200:, 200:] - y[200:, 200:]).mean()
    assert corner > 20 > 5 > elsewhere


def test_identity_altering_effect_needs_consent(index_video, tmp_path, capsys):
    from deepstudio.core.commands import AddConsent, AddEffect, AddIdentity
    from deepstudio.core.effects import EffectSpec, register_effect
    from deepstudio.core.project import ConsentRecord, Effect, FaceTrackRef, Identity
    from deepstudio.engine.effects import EffectProcessor, register_processor
    from deepstudio.engine.render import RenderSettings
    from deepstudio.errors import ConsentError
    from deepstudio.session import Session

    register_effect(EffectSpec("test_alter", "Test alteration", "changes a person",
                               consent_scope="swap"))

    @register_processor("test_alter")
    class _Alter(EffectProcessor):
        def apply(self, items):
            pass

    session = Session.create(tmp_path / "C.dstudio", "C")
    media = session.import_media(index_video)
    clip = session.project.clip(session.add_clip_for_media(media))
    track = session.project.tracks[0].id
    session.do(AddEffect(Effect("effect-a", "test_alter", track, 0, media, 0, clip.end, {})))
    with pytest.raises(ConsentError, match="index · face 0 is not assigned to a person"):
        session.render_now(tmp_path / "x.mp4", RenderSettings())
    session.do(AddIdentity(Identity("identity-a", "Ada", [FaceTrackRef(media, 0)])))
    with pytest.raises(ConsentError, match="Ada has no recorded consent for face swap"):
        session.render_now(tmp_path / "x.mp4", RenderSettings())
    session.do(AddConsent("identity-a", ConsentRecord("consent-a", "Ada L.", "Producer",
                                                      "2026-01-01", ["swap"])))
    result = session.render_now(tmp_path / "x.mp4", RenderSettings())
    session.close()
    assert result.frames == 120 and not (tmp_path / "x.mp4.partial").exists()


def test_consent_commands(tmp_path, capsys):
    project = tmp_path / "P.dstudio"
    from deepstudio.session import Session

    Session.create(project, "P").close()
    assert main(["consent", "add", str(project), "--identity", "Ada", "--recorded-by", "Me",
                 "--scope", "swap", "--expiry", "2030-01-01"]) == 0
    out = capsys.readouterr().out
    consent_id = out.split()[1].rstrip(":")
    assert main(["identity", "list", str(project)]) == 0
    assert "consent today: swap" in capsys.readouterr().out
    assert main(["consent", "revoke", str(project), consent_id]) == 0
    assert main(["consent", "list", str(project)]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["consent", "revoke", str(project), "consent-nope"]) == 2
