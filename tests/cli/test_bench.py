"""Pieces of ``deepstudio bench`` that its figures rely on."""

from __future__ import annotations

import os
import subprocess
import sys

from deepstudio.cli import bench
from deepstudio.media.probe import probe


def test_long_clip_loops_a_generated_segment(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "LOOP_SECONDS", 1.0)
    clip = bench.long_clip(tmp_path, 3.0)
    info = probe(clip)
    assert (info.width, info.height) == (1920, 1080)
    assert abs(info.frame_count - 75) <= 1 and info.has_audio


def test_tree_rss_counts_child_processes():
    child = subprocess.Popen([sys.executable, "-c",
                              "import sys, time; x = bytearray(300 << 20); "
                              "print('ready', flush=True); time.sleep(30)"],
                             stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == b"ready"
        alone = bench.tree_rss_bytes(child.pid)
        with_parent = bench.tree_rss_bytes(os.getpid())
        assert alone > 300 << 20
        assert with_parent > alone
    finally:
        child.kill()
        child.wait()
