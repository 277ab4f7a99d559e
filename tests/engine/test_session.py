"""The headless session: import, analyse as a job, preview (latest wins), cancel, save."""

from __future__ import annotations

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


def test_analysis_job_then_cached(session):
    media_id = next(iter(session.project.media))
    job = session.analyze(media_id)
    analysis = job.wait(timeout=120)
    assert job.status == "done" and len(analysis.tracks) == 1
    assert session.analysis(media_id) is analysis
    session.save()
    again = Session.open(session.folder)
    try:
        t = time.perf_counter()
        assert again.analysis(media_id) is not None
        assert time.perf_counter() - t < 1.0
    finally:
        again.close()


def test_preview_shows_faces_and_latest_request_wins(session):
    media_id = next(iter(session.project.media))
    session.analyze(media_id).wait(timeout=120)
    futures = [session.preview.request(k, Overlays()) for k in range(0, 100, 5)]
    last = futures[-1].result(timeout=10)
    assert last.frame_index == 95 and len(last.faces) == 1
    cancelled = sum(f.cancelled() for f in futures[:-1])
    assert cancelled >= len(futures) // 2  # stale requests were dropped, not queued
    for f in futures[:-1]:
        if not f.cancelled():
            f.result(timeout=10)
    with pytest.raises(CancelledError):
        [f.result() for f in futures[:-1] if f.cancelled()]


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


def test_render_job_cancels_within_a_second(session, tmp_path):
    out = tmp_path / "cancelled.mp4"
    job = session.render(out, RenderSettings())
    while job.status != "running" or job.fraction < 0.05:
        time.sleep(0.02)
        assert not job.finished, job.error
    t = time.perf_counter()
    job.cancel()
    while not job.finished:
        time.sleep(0.01)
    assert time.perf_counter() - t < 1.0
    assert job.status == "cancelled" and not out.exists()


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
    reopened = Session.open(session.folder)
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
