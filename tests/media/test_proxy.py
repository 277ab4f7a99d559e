"""Proxies: frame N of the proxy is frame N of the source, and the proxy seeks fast."""

from __future__ import annotations

import pytest
from synth import decode_index, make_index_video

from deepstudio.errors import Cancelled
from deepstudio.media.decode import VideoReader
from deepstudio.media.probe import probe
from deepstudio.media.proxy import PROXY_GOP, needs_proxy, proxy_path, write_proxy


@pytest.fixture(scope="module")
def long_gop_video(tmp_path_factory):
    return make_index_video(tmp_path_factory.mktemp("proxy") / "long_gop.mp4", frames=150,
                            gop=150)


def test_probe_reports_the_keyframe_gap(long_gop_video, index_video):
    assert probe(long_gop_video).max_keyframe_gap == 150
    assert probe(index_video).max_keyframe_gap == 12


def test_proxy_holds_the_same_frames_with_close_keyframes(long_gop_video, tmp_path):
    assert needs_proxy(probe(long_gop_video))
    seen = []
    proxy = write_proxy(long_gop_video, tmp_path, seen.append)
    assert proxy == proxy_path(tmp_path, probe(long_gop_video).content_hash)
    assert seen[-1].fraction == 1.0
    info = probe(proxy)
    assert info.frame_count == 150
    assert info.max_keyframe_gap <= PROXY_GOP
    assert not needs_proxy(info)
    with VideoReader(proxy) as reader:
        for index in (149, 3, 77, 78, 12, 140, 0):
            assert decode_index(reader.read(index)) == index
    assert write_proxy(long_gop_video, tmp_path) == proxy  # made once


def test_short_gop_media_gets_no_proxy(index_video, tmp_path):
    assert write_proxy(index_video, tmp_path) is None
    assert list(tmp_path.iterdir()) == []


def test_a_cancelled_proxy_leaves_nothing_behind(long_gop_video, tmp_path):
    def cancel(progress):
        if progress.fraction > 0.3:
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        write_proxy(long_gop_video, tmp_path, cancel)
    assert list(tmp_path.iterdir()) == []
