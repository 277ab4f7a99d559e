"""Upgrades of older project files, one schema step each (registered with
:func:`deepstudio.persistence.project_store.migration`).

They work on the plain JSON dict, never on the classes of today: a migration must keep
meaning what it meant when it was written.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from deepstudio.core import timebase
from deepstudio.persistence.project_store import migration
from deepstudio.types import new_id

V1_DEFAULT_FPS = Fraction(25)


@migration(1)
def time_positions_and_linked_sound(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 → 2.

    * The timeline rate, implied in schema 1 by the first video media, is stored.
    * Clip in/out points become positions in timeline frames (schema 1 counted them in media
      frames and showed one media frame per timeline frame, which stretched other rates). A
      clip keeps its place and at most its length on the timeline, so nothing comes to
      overlap; it now shows its media at the right speed.
    * A video clip whose file has sound played that sound itself; now the sound is a clip on
      an audio track, linked to the picture, with the picture clip's gain.
    """
    media = {m["id"]: m for m in data.get("media", [])}
    first_video = next((m for m in data.get("media", []) if m["has_video"]), None)
    fps = (Fraction(first_video["fps_num"], first_video["fps_den"]) if first_video
           else V1_DEFAULT_FPS)
    data["timeline_fps"] = [fps.numerator, fps.denominator] if first_video else None
    tracks = data.setdefault("tracks", [])
    for track in tracks:
        for clip in track.get("clips", []):
            item = media[clip["media_id"]]
            if item["has_video"]:
                _conform_clip(clip, item, fps)
    sounds = [(track, clip) for track in tracks if track["kind"] == "video"
              for clip in track.get("clips", []) if media[clip["media_id"]]["has_audio"]]
    for _, clip in sounds:
        link = new_id("link")
        clip["link"] = link
        sound = {"id": new_id("clip"), "media_id": clip["media_id"], "start": clip["start"],
                 "in_frame": clip["in_frame"], "out_frame": clip["out_frame"],
                 "gain_db": clip.get("gain_db", 0.0), "link": link}
        clip["gain_db"] = 0.0
        _audio_track_with_room(tracks, sound)["clips"].append(sound)
    for track in tracks:
        track.get("clips", []).sort(key=lambda c: c["start"])
    return data


def _conform_clip(clip: dict[str, Any], item: dict[str, Any], fps: Fraction) -> None:
    media_fps = Fraction(item["fps_num"], item["fps_den"])
    if media_fps == fps:
        return
    length = clip["out_frame"] - clip["in_frame"]
    new_in = timebase.rescale(clip["in_frame"], media_fps, fps)
    available = timebase.positions_for_frames(item["frame_count"], media_fps, fps)
    new_in = min(new_in, available - 1)
    clip["in_frame"] = new_in
    clip["out_frame"] = new_in + max(1, min(length, available - new_in))


def _audio_track_with_room(tracks: list[dict[str, Any]], clip: dict[str, Any]) -> dict[str, Any]:
    end = clip["start"] + clip["out_frame"] - clip["in_frame"]
    for track in tracks:
        if track["kind"] == "audio" and all(
                c["start"] + c["out_frame"] - c["in_frame"] <= clip["start"] or c["start"] >= end
                for c in track.get("clips", [])):
            return track
    count = sum(t["kind"] == "audio" for t in tracks) + 1
    track = {"id": new_id("track"), "kind": "audio", "name": f"A{count}", "clips": []}
    tracks.append(track)
    return track
