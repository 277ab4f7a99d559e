"""The headless session: import, analyse as a job, preview (latest wins), cancel, save."""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError

import numpy as np
import pytest

from deepstudio.engine.overlays import Overlays
from deepstudio.engine.render import RenderSettings
from deepstudio.errors import MediaError
from deepstudio.session import Session


@pytest.fixture
def session(tmp_path, testdata):
    s = Session.create(tmp_path / "Test.dstudio", "Test")
    media = s.import_media(testdata / "talk_b.mp4")
    s.add_clip_for_media(media)
    yield s
    s.close()


def test_import_is_undoable_and_marks_dirty(session):
    """A clip with sound comes in as a picture and a linked sound clip, undone as one."""
    assert session.dirty
    video, audio = session.project.tracks
    assert (video.kind, audio.kind) == ("video", "audio")
    assert len(video.clips) == len(audio.clips) == 1
    assert video.clips[0].link is not None and video.clips[0].link == audio.clips[0].link
    session.save()
    assert not session.dirty
    session.undo()
    assert not video.clips and not audio.clips and session.dirty


def test_analysis_job_then_cached(session, monkeypatch):
    media_id = next(iter(session.project.media))
    job = session.analyze(media_id)
    analysis = job.wait(timeout=120)
    assert job.status == "done" and len(analysis.tracks) == 1
    assert session.analysis(media_id) is analysis
    session.save()

    def analyse_again(*args, **kwargs):
        raise AssertionError("analysed again instead of reading the cache")

    monkeypatch.setattr("deepstudio.vision.analysis._analyze", analyse_again)
    again = Session.open(session.folder, read_only=True)
    try:
        cached = again.analysis(media_id)
        assert cached is not None and cached.summary() == analysis.summary()
        assert again.analyze_now(media_id).summary() == analysis.summary()
    finally:
        again.close()


def test_preview_shows_faces_and_latest_request_wins(session, monkeypatch):
    """Requests arriving while the worker composes a frame: only the newest one is served
    next, the ones in between are cancelled (the worker is held on its first frame, so this
    does not depend on how fast the machine composes frames)."""
    media_id = next(iter(session.project.media))
    session.analyze(media_id).wait(timeout=120)
    service = session.preview
    release = threading.Event()
    compose = service.render_frame

    def held_on_the_first_frame(request):
        release.wait(timeout=60)
        return compose(request)

    monkeypatch.setattr(service, "render_frame", held_on_the_first_frame)
    first = service.request(0, Overlays())
    deadline = time.monotonic() + 60
    while not first.running():
        assert time.monotonic() < deadline, "the preview worker never took the request"
        time.sleep(0.01)
    futures = [service.request(k, Overlays()) for k in range(5, 100, 5)]
    release.set()
    last = futures[-1].result(timeout=60)
    assert last.frame_index == 95 and len(last.faces) == 1
    assert first.result(timeout=60).frame_index == 0
    assert all(f.cancelled() for f in futures[:-1])  # stale requests dropped, not queued
    with pytest.raises(CancelledError):
        futures[0].result()


def test_preview_compare_split(session):
    from deepstudio.core.commands import AddEffect
    from deepstudio.core.effects import default_params
    from deepstudio.core.project import Effect

    media_id = next(iter(session.project.media))
    session.analyze(media_id).wait(timeout=120)
    clip = session.project.tracks[0].clips[0]
    session.do(AddEffect(Effect("effect-1", "debug", session.project.tracks[0].id, None,
                                media_id, clip.start, clip.end, default_params("debug"))))
    before = session.preview.request(10, compare="before").result(timeout=10).image
    after = session.preview.request(10, compare="after").result(timeout=10).image
    split = session.preview.request(10, compare="split", split=1.0).result(timeout=10).image
    assert np.abs(before.astype(int) - after.astype(int)).sum() > 0
    assert np.array_equal(split, before)


def test_render_job_cancel_stops_it_midway(session, tmp_path):
    """Cancelled once running, the render stops before its end and leaves no output. The
    deadline only guards against a hang: how fast a cancel lands is a speed figure, and the
    loaded test machine is no place to time it."""
    out = tmp_path / "cancelled.mp4"
    job = session.render(out, RenderSettings())
    while job.status != "running" or job.fraction < 0.05:
        time.sleep(0.02)
        assert not job.finished, job.error
    job.cancel()
    deadline = time.monotonic() + 60
    while not job.finished:
        assert time.monotonic() < deadline, "the render ignored its cancellation"
        time.sleep(0.01)
    assert job.status == "cancelled" and job.fraction < 1.0 and not out.exists()


def test_failed_job_reports_one_line_and_keeps_project(session, tmp_path):
    before = session.project.to_dict()
    job = session.render(tmp_path / "missing" / "x.mp4", RenderSettings())
    with pytest.raises(MediaError):
        job.wait(timeout=60)
    assert job.status == "failed" and "\n" not in job.error and "does not exist" in job.error
    assert session.project.to_dict() == before


def test_autosave_recovery(session, tmp_path):
    session.save()
    session.undo()  # an unsaved change
    session.write_autosave()
    assert Session.recoverable(session.folder)
    reopened = Session.open(session.folder, read_only=True)
    try:
        assert reopened.project.tracks[0].clips  # the saved state
        reopened.recover()
        assert not reopened.project.tracks[0].clips and reopened.dirty
    finally:
        reopened.close()


def test_preview_reads_a_proxy_of_long_gop_media_once_made(tmp_path):
    from synth import decode_index, make_index_video

    clip = make_index_video(tmp_path / "long_gop.mp4", frames=100, gop=100)
    s = Session.create(tmp_path / "Proxy.dstudio", "Proxy")
    try:
        media_id = s.import_media(clip)
        s.add_clip_for_media(media_id)
        assert s.proxy_advised(media_id) and s.preview_path(media_id) == s.media_path(media_id)
        assert decode_index(s.preview.request(77).result(timeout=10).image) == 77
        job = s.make_proxy(media_id)
        proxy = job.wait(timeout=120)
        assert job.status == "done" and proxy is not None and proxy.is_file()
        assert s.preview_path(media_id) == proxy and not s.proxy_advised(media_id)
        for index in (77, 5, 99):
            assert decode_index(s.preview.request(index).result(timeout=10).image) == index
    finally:
        s.close()
