"""Wav2Lip-family networks: generator, audio-visual sync expert and visual quality discriminator.

Shapes (S = ``arch.size``, the side of an aligned face crop; faces are float in [0, 1]):

- :class:`LipSyncGenerator`: faces (B, 6, S, S) = target face with its lower half zeroed
  (channels 0-2) + an unmasked reference face of the same person (channels 3-5), mels
  (B, 1, 80, 16) -> faces (B, 3, S, S) in [0, 1] (sigmoid).
- :class:`SyncExpert`: lower halves of 5 consecutive frames stacked on channels (B, 15, S/2, S)
  and the mel window of the middle frame (B, 1, 80, 16) -> L2-normalised audio and face
  embeddings (B, C); their dot product is the in-sync probability (ReLU features make it >= 0).
- :class:`QualityDiscriminator`: faces (B, 3, S, S) -> probability (B, 1) that the lower half is
  a real frame.

With ``LipSyncArch(size=96, width=1.0)`` the module names, layer order and parameter shapes are
those of the published Wav2Lip / SyncNet / quality-discriminator releases (face_encoder_blocks,
audio_encoder, face_decoder_blocks, output_block; Conv+BatchNorm blocks with a residual flag), so
:mod:`deepstudio.models.lipsync.original_checkpoints` can load their state dicts directly. Other
sizes (multiples of 32) keep the same topology; only the innermost kernel (S/32) changes. ``width``
scales every channel count, for small CPU models.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from deepstudio.models.checkpoint import register_architecture

SYNC_FRAMES = 5
"""Consecutive frames the sync expert looks at (200 ms at 25 fps)."""


@dataclass(frozen=True)
class LipSyncArch:
    """Constructor arguments shared by the three networks (stored in the model card)."""

    size: int = 96
    width: float = 1.0

    def __post_init__(self) -> None:
        if not 64 <= self.size <= 512 or self.size % 32:
            raise ValueError(f"face size must be a multiple of 32 in 64-512, got {self.size}")
        if not 0.05 <= self.width <= 4:
            raise ValueError(f"width must be between 0.05 and 4, got {self.width}")

    def ch(self, published: int) -> int:
        """Channel count for a layer that has ``published`` channels in Wav2Lip."""
        return max(8, round(published * self.width))

    @property
    def inner(self) -> int:
        """Spatial side at the generator's innermost encoder level (3 at 96 px)."""
        return self.size // 32

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


CPU_ARCH = LipSyncArch(size=64, width=0.25)
"""Trains at interactive speed on a laptop CPU."""
WAV2LIP_ARCH = LipSyncArch(size=96, width=1.0)
"""The published Wav2Lip layout: the CUDA default, and what original checkpoints load into."""


class ConvBN(nn.Module):
    """Conv -> BatchNorm -> ReLU, optionally adding the input before the ReLU (residual)."""

    def __init__(self, cin: int, cout: int, kernel: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int = 1,
                 residual: bool = False) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding),
                                        nn.BatchNorm2d(cout))
        self.act = nn.ReLU()
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_block(x)
        return self.act(out + x if self.residual else out)


class UpConvBN(nn.Module):
    """Transposed conv -> BatchNorm -> ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, padding: int,
                 output_padding: int = 0) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ConvTranspose2d(cin, cout, kernel, stride, padding, output_padding),
            nn.BatchNorm2d(cout))
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv_block(x))


class PlainConv(nn.Module):
    """Conv -> LeakyReLU(0.01), no normalisation (discriminator)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int | tuple[int, int],
                 padding: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding))
        self.act = nn.LeakyReLU(0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv_block(x))


def _residuals(channels: int, count: int) -> list[nn.Module]:
    return [ConvBN(channels, channels, 3, 1, 1, residual=True) for _ in range(count)]


def _down(cin: int, cout: int, stride: int | tuple[int, int], residual_count: int,
          kernel: int = 3, padding: int = 1) -> list[nn.Module]:
    return [ConvBN(cin, cout, kernel, stride, padding), *_residuals(cout, residual_count)]


def audio_encoder(arch: LipSyncArch, last_residuals: int) -> nn.Sequential:
    """Mel window (B, 1, 80, 16) -> (B, ch(512), 1, 1); the generator has 1 residual at the
    256-channel level, the sync expert 2."""
    c = arch.ch
    return nn.Sequential(
        *_down(1, c(32), 1, 2),
        *_down(c(32), c(64), (3, 1), 2),       # 27 x 16
        *_down(c(64), c(128), 3, 2),           # 9 x 6
        *_down(c(128), c(256), (3, 2), last_residuals),  # 3 x 3
        ConvBN(c(256), c(512), 3, 1, 0),       # 1 x 1
        ConvBN(c(512), c(512), 1, 1, 0))


def _as_mel_batch(mels: torch.Tensor) -> torch.Tensor:
    """Accept (B, 80, 16) or (B, 1, 80, 16)."""
    return mels.unsqueeze(1) if mels.dim() == 3 else mels


class LipSyncGenerator(nn.Module):
    """U-Net face encoder/decoder whose bottleneck is the audio embedding (Wav2Lip)."""

    _ENCODER = ((16, 32, 2), (32, 64, 3), (64, 128, 2), (128, 256, 2), (256, 512, 1))
    """(in, out, residual blocks) of each stride-2 encoder level, in published channels."""
    _DECODER = (512, 384, 256, 128, 64)
    """Output channels of the stride-2 decoder levels (2 residual blocks each)."""

    def __init__(self, arch: LipSyncArch = WAV2LIP_ARCH) -> None:
        super().__init__()
        self.arch = arch
        c = arch.ch
        encoder = [nn.Sequential(ConvBN(6, c(16), 7, 1, 3))]
        encoder += [nn.Sequential(*_down(c(cin), c(cout), 2, n)) for cin, cout, n in self._ENCODER]
        encoder.append(nn.Sequential(ConvBN(c(512), c(512), arch.inner, 1, 0),
                                     ConvBN(c(512), c(512), 1, 1, 0)))
        self.face_encoder_blocks = nn.ModuleList(encoder)
        self.audio_encoder = audio_encoder(arch, last_residuals=1)

        skips = [c(16), c(32), c(64), c(128), c(256), c(512), c(512)]  # encoder outputs
        decoder = [nn.Sequential(ConvBN(c(512), c(512), 1, 1, 0)),
                   nn.Sequential(UpConvBN(2 * c(512), c(512), arch.inner, 1, 0),
                                 *_residuals(c(512), 1))]
        cin = c(512) + skips[-2]
        for level, cout in enumerate(self._DECODER):
            decoder.append(nn.Sequential(UpConvBN(cin, c(cout), 3, 2, 1, output_padding=1),
                                         *_residuals(c(cout), 2)))
            cin = c(cout) + skips[-3 - level]
        self.face_decoder_blocks = nn.ModuleList(decoder)
        self.output_block = nn.Sequential(ConvBN(cin, c(32), 3, 1, 1),
                                          nn.Conv2d(c(32), 3, 1, 1, 0), nn.Sigmoid())

    def forward(self, faces: torch.Tensor, mels: torch.Tensor) -> torch.Tensor:
        return self.forward_with_audio(faces, mels)[0]

    def forward_with_audio(self, faces: torch.Tensor, mels: torch.Tensor
                           ) -> tuple[torch.Tensor, torch.Tensor]:
        """The generated faces and the audio embedding (B, ch(512)) they were decoded from
        (the trainer supervises the embedding, see ``mouth_probe_weight``)."""
        skips = []
        x = faces
        for block in self.face_encoder_blocks:
            x = block(x)
            skips.append(x)
        audio = self.audio_encoder(_as_mel_batch(mels))
        x = audio
        for block in self.face_decoder_blocks:
            x = torch.cat((block(x), skips.pop()), dim=1)
        return self.output_block(x), audio.flatten(1)


def _conv_out(n: int, kernel: int, stride: int, padding: int) -> int:
    return (n + 2 * padding - kernel) // stride + 1


class SyncExpert(nn.Module):
    """SyncNet-style expert: does this mouth motion go with this audio?"""

    def __init__(self, arch: LipSyncArch = WAV2LIP_ARCH) -> None:
        super().__init__()
        self.arch = arch
        c = arch.ch
        h, w = arch.size // 2, arch.size
        h, w = _conv_out(h, 5, 1, 1), _conv_out(w, 5, 2, 1)
        for _ in range(4):
            h, w = _conv_out(h, 3, 2, 1), _conv_out(w, 3, 2, 1)
        self.face_encoder = nn.Sequential(
            ConvBN(3 * SYNC_FRAMES, c(32), 7, 1, 3),
            *_down(c(32), c(64), (1, 2), 2, kernel=5),
            *_down(c(64), c(128), 2, 3),
            *_down(c(128), c(256), 2, 2),
            *_down(c(256), c(512), 2, 2),
            ConvBN(c(512), c(512), 3, 2, 1),
            ConvBN(c(512), c(512), (h, w), 1, 0),
            ConvBN(c(512), c(512), 1, 1, 0))
        self.audio_encoder = audio_encoder(arch, last_residuals=2)

    def forward(self, face_stack: torch.Tensor,
                mels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        audio = self.audio_encoder(_as_mel_batch(mels)).flatten(1)
        face = self.face_encoder(face_stack).flatten(1)
        return F.normalize(audio, p=2, dim=1), F.normalize(face, p=2, dim=1)

    def sync_probability(self, face_stack: torch.Tensor, mels: torch.Tensor) -> torch.Tensor:
        """(B,) cosine similarity of the embeddings, used as P(in sync)."""
        audio, face = self(face_stack, mels)
        return (audio * face).sum(dim=1)


class QualityDiscriminator(nn.Module):
    """Judges whether the lower half of a face looks like a real frame (Wav2Lip's disc)."""

    def __init__(self, arch: LipSyncArch = WAV2LIP_ARCH) -> None:
        super().__init__()
        self.arch = arch
        c = arch.ch
        levels = [(32, 64, 5), (64, 128, 5), (128, 256, 5), (256, 512, 3), (512, 512, 3)]
        blocks = [nn.Sequential(PlainConv(3, c(32), 7, 1, 3))]
        for index, (cin, cout, k) in enumerate(levels):
            stride = (1, 2) if index == 0 else 2
            blocks.append(nn.Sequential(PlainConv(c(cin), c(cout), k, stride, k // 2),
                                        PlainConv(c(cout), c(cout), k, 1, k // 2)))
        blocks.append(nn.Sequential(PlainConv(c(512), c(512), arch.inner, 1, 0),
                                    PlainConv(c(512), c(512), 1, 1, 0)))
        self.face_encoder_blocks = nn.ModuleList(blocks)
        self.binary_pred = nn.Sequential(nn.Conv2d(c(512), 1, 1, 1, 0), nn.Sigmoid())

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        x = lower_half(faces)
        for block in self.face_encoder_blocks:
            x = block(x)
        return self.binary_pred(x).flatten(1)


@register_architecture("lipsync.wav2lip")
class LipSyncModel(nn.Module):
    """The three networks trained together, saved as one model folder.

    ``channel_order`` is the colour order the weights expect ("rgb" for models trained here,
    "bgr" for weights that started from the OpenCV-based original releases).
    """

    def __init__(self, size: int = 96, width: float = 1.0, channel_order: str = "rgb") -> None:
        super().__init__()
        if channel_order not in ("rgb", "bgr"):
            raise ValueError(f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
        self.arch = LipSyncArch(size, width)
        self.channel_order = channel_order
        self.generator = LipSyncGenerator(self.arch)
        self.expert = SyncExpert(self.arch)
        self.discriminator = QualityDiscriminator(self.arch)

    def card_kwargs(self) -> dict[str, object]:
        """Constructor arguments, as stored in the model card."""
        return {**self.arch.to_dict(), "channel_order": self.channel_order}

    def forward(self, faces: torch.Tensor, mels: torch.Tensor) -> torch.Tensor:
        return self.generator(faces, mels)


def lower_half(faces: torch.Tensor) -> torch.Tensor:
    """(B, C, S, S) -> (B, C, S/2, S): the mouth region that lip-sync changes."""
    return faces[:, :, faces.shape[2] // 2:]


def masked_input(targets: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    """Generator input (B, 6, S, S): targets with the lower half zeroed, then references."""
    masked = targets.clone()
    masked[:, :, targets.shape[2] // 2:] = 0
    return torch.cat((masked, references), dim=1)

