from __future__ import annotations

from deepstudio.vision.shots import ShotDetector


def test_cuts_of_a_multi_shot_clip_and_none_in_a_single_shot(clip_frames, talk_frames):
    # occlusion_a cuts at frames 45, 107 and 236 (checked by eye on a contact sheet).
    detector = ShotDetector()
    cuts = [i for i, frame in enumerate(clip_frames("occlusion_a.mp4"))
            if detector.update(frame)]
    assert cuts == [45, 107, 236]
    detector = ShotDetector()
    assert not any(detector.update(frame) for frame in talk_frames)
