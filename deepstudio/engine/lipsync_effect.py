"""The lip-sync effect: regenerate the mouth of the bound face to follow a dialogue clip.

For each frame the dialogue clip's audio around that instant (a mel window cut from the
timestamps, so any frame rate works) drives the generator on the aligned face; only the lower
face is pasted back, through a feathered mask of the lip and jaw landmarks, colour-matched to
the original. Outside the dialogue clip, ``when_audio_ends`` decides: "silence" closes the
mouth, "cut" leaves the frames untouched, "loop" repeats the dialogue, "hold" keeps its last
mouth shape.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from deepstudio.core.project import Clip, Effect
from deepstudio.engine.compositing import colour_transfer, paste_face, refine_mask
from deepstudio.engine.effects import EffectContext, EffectProcessor, FrameItem, register_processor
from deepstudio.engine.swap_effect import model_folder
from deepstudio.errors import UserError
from deepstudio.media.audio import read_audio
from deepstudio.vision.align import align_face, region_mask, transform_points

SILENCE_LEVEL = -4.0
"""The mel value of silence (log-mel spectrograms here span -4..4)."""


@register_processor("lip_sync")
class LipSyncProcessor(EffectProcessor):
    """Applies one lip-sync effect (generator loaded once; torch only when used)."""

    def __init__(self, effect: Effect, context: EffectContext) -> None:
        super().__init__(effect, context)
        from deepstudio.models.lipsync.inference import LipSyncer
        from deepstudio.models.lipsync.mel import SAMPLE_RATE, log_mel_spectrogram

        self.syncer = LipSyncer(model_folder(context, effect.params.get("model")),
                                context.device)
        self.fps = context.project.timeline_fps()
        self.clip = self._dialogue_clip(effect.params.get("audio"))
        media = context.project.media[self.clip.media_id]
        path = context.resolve(media.path)
        samples = read_audio(path, SAMPLE_RATE)
        self.mel = log_mel_spectrogram(samples, source=path)

    def _dialogue_clip(self, clip_id: str | None) -> Clip:
        if not clip_id:
            raise UserError("the lip-sync effect has no dialogue clip (choose an audio clip)")
        try:
            return self.context.project.clip(clip_id)
        except KeyError:
            raise UserError(f"the lip-sync effect's dialogue clip {clip_id} is gone") from None

    def audio_frame(self, timeline_frame: int) -> int | None:
        """The frame (at timeline rate) of the dialogue media heard at ``timeline_frame``, by
        the effect's end-of-audio rule; None: leave the frame untouched; -1: silence."""
        clip = self.clip
        if clip.contains(timeline_frame):
            return clip.position_at(timeline_frame)
        mode = self.effect.params.get("when_audio_ends", "silence")
        if mode == "cut":
            return None
        if mode == "silence" or timeline_frame < clip.start:
            return -1
        if mode == "loop":
            return clip.in_frame + (timeline_frame - clip.start) % clip.length
        return clip.out_frame - 1  # hold

    def _mel_window(self, audio_frame: int) -> np.ndarray:
        from deepstudio.models.lipsync.mel import MEL_WINDOW, N_MELS, mel_window_for_frame

        if audio_frame < 0:
            return np.full((N_MELS, MEL_WINDOW), SILENCE_LEVEL, np.float32)
        return mel_window_for_frame(self.mel, audio_frame, Fraction(self.fps))

    def apply(self, items: list[FrameItem]) -> None:
        size = self.syncer.size
        jobs = []
        for item in items:
            audio_frame = self.audio_frame(item.index)
            strength = float(self.effect.param_at("strength", item.index))
            if audio_frame is None or strength <= 0:
                continue
            for face in item.faces_of(self.effect):
                aligned = align_face(item.image, face.landmarks, size)
                jobs.append((item, face, aligned, self._mel_window(audio_frame), strength))
        if not jobs:
            return
        crops = np.stack([j[2].image for j in jobs])
        with self.context.times.measure("model"):
            generated = self.syncer.generate(crops, crops, np.stack([j[3] for j in jobs]))
        blur = int(self.effect.params.get("mask_blur", 6))
        for (item, face, aligned, _, strength), out in zip(jobs, generated):
            points = transform_points(face.landmarks, aligned.matrix)
            mask = region_mask(points, (size, size), "lower_face", feather_px=0.0,
                               erode_px=-size * 0.02)
            mask[: size // 2] = 0  # the generator only redraws the lower half
            mask = refine_mask(mask, 0, blur)
            out = colour_transfer(out, aligned.image, mask, self.effect.params.get(
                "colour", "reinhard"))
            item.image = paste_face(item.image, out, mask * strength, aligned.inverse)

    def close(self) -> None:
        self.syncer = None
