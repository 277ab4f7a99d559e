"""``deepstudio analyze --json OUT`` on a real clip writes one JSON object (not a JSON string
holding the document a second time)."""

from __future__ import annotations

import json

from deepstudio.cli.main import main


def test_analyze_json_is_an_object_with_the_tracks(testdata, tmp_path, capsys):
    out = tmp_path / "multi.json"
    assert main(["analyze", str(testdata / "multi_a.mp4"), "--json", str(out), "-q"]) == 0
    with out.open(encoding="utf-8") as handle:
        document = json.load(handle)
    assert isinstance(document, dict)
    assert document["frame_count"] > 100
    assert len(document["tracks"]) == 3
    track = document["tracks"][0]
    assert len(track["frames"]) == len(track["landmarks"]) > 100
    assert "3 face track(s)" in capsys.readouterr().out
