"""Face-swap networks in the DeepFaceLab style (plain ``nn.Module``s, no device logic).

Shapes (N = batch, R = resolution, a multiple of 16 between 32 and 512):

- input faces: float (N, 3, R, R), RGB in [0, 1], aligned crops;
- :class:`Encoder`: (N, 3, R, R) -> (N, 8*e_ch * (R/16)^2) flattened features;
- :class:`Inter`: features -> (N, ae_dims, R/8, R/8) latent image (dense bottleneck + upscale);
- :class:`Decoder`: latent -> face (N, 3, R, R) in [0, 1] and mask (N, 1, R, R) in [0, 1].

Both swap networks share one call: ``net(faces, identity) -> (face, mask)`` renders the pose and
expression of ``faces`` as ``identity`` (index into the model card's identities). Training
reconstructs each identity as itself; swapping renders identity B's faces as identity A.

- :class:`DFNet`: shared encoder + bottleneck, one decoder per identity.
- :class:`LIAENet`: shared encoder, ``inter_ab`` (all identities) and ``inter_b`` (identity 1
  only) bottlenecks, one shared decoder; identity 0 is read from ``inter_ab`` twice.
- :class:`PatchDiscriminator`: (N, 3, R, R) -> (N, 1, R/8, R/8) real/fake logits per patch.
"""

from __future__ import annotations

import torch
from torch import nn

from deepstudio.models.checkpoint import register_architecture

MIN_RESOLUTION = 32
MAX_RESOLUTION = 512


def check_resolution(resolution: int) -> int:
    if not (MIN_RESOLUTION <= resolution <= MAX_RESOLUTION and resolution % 16 == 0):
        raise ValueError(f"resolution must be a multiple of 16 in {MIN_RESOLUTION}-"
                         f"{MAX_RESOLUTION}, not {resolution}")
    return resolution


def _act() -> nn.Module:
    return nn.LeakyReLU(0.1, inplace=True)


class Downscale(nn.Sequential):
    """Stride-2 5x5 convolution: (N, cin, H, W) -> (N, cout, H/2, W/2)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.Conv2d(cin, cout, 5, stride=2, padding=2), _act())


class Upscale(nn.Sequential):
    """Convolution to 4x channels + pixel shuffle: (N, cin, H, W) -> (N, cout, 2H, 2W)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.Conv2d(cin, cout * 4, 3, padding=1), _act(), nn.PixelShuffle(2))


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with a skip connection; keeps the shape."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.conv2(self.act(self.conv1(x))))


class Encoder(nn.Module):
    """(N, 3, R, R) -> (N, 8*e_ch*(R/16)^2): four stride-2 convolutions, flattened."""

    def __init__(self, e_ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(Downscale(3, e_ch), Downscale(e_ch, e_ch * 2),
                                  Downscale(e_ch * 2, e_ch * 4), Downscale(e_ch * 4, e_ch * 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.body(x), 1)


class Inter(nn.Module):
    """Dense bottleneck: (N, in_features) -> (N, ae_dims, R/8, R/8)."""

    def __init__(self, in_features: int, ae_dims: int, lowres: int) -> None:
        super().__init__()
        self.ae_dims = ae_dims
        self.lowres = lowres
        self.dense1 = nn.Linear(in_features, ae_dims)
        self.dense2 = nn.Linear(ae_dims, lowres * lowres * ae_dims)
        self.upscale = Upscale(ae_dims, ae_dims)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.expand(self.squeeze(features))

    def squeeze(self, features: torch.Tensor) -> torch.Tensor:
        """The dense code (N, ae_dims): the face reduced to pose and expression."""
        return self.dense1(features)

    def expand(self, code: torch.Tensor) -> torch.Tensor:
        x = self.dense2(code)
        return self.upscale(x.view(-1, self.ae_dims, self.lowres, self.lowres))


class Decoder(nn.Module):
    """(N, in_ch, R/8, R/8) -> face (N, 3, R, R), mask (N, 1, R, R), both in [0, 1]."""

    def __init__(self, in_ch: int, d_ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            Upscale(in_ch, d_ch * 8), ResidualBlock(d_ch * 8),
            Upscale(d_ch * 8, d_ch * 4), ResidualBlock(d_ch * 4),
            Upscale(d_ch * 4, d_ch * 2), ResidualBlock(d_ch * 2),
        )
        self.out = nn.Conv2d(d_ch * 2, 4, 3, padding=1)

    def forward(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = torch.sigmoid(self.out(self.body(latent)))
        return out[:, :3], out[:, 3:]


class FaceSwapNet(nn.Module):
    """Common part of the swap networks: resolution, identity count and the encoder."""

    def __init__(self, resolution: int, identities: int, e_ch: int) -> None:
        super().__init__()
        self.resolution = check_resolution(resolution)
        self.identities = identities
        self.lowres = resolution // 16
        self.encoder = Encoder(e_ch)
        self.encoded_features = e_ch * 8 * self.lowres * self.lowres

    def forward(self, faces: torch.Tensor, identity: int) -> tuple[torch.Tensor, torch.Tensor]:
        face, mask, _ = self.forward_with_code(faces, identity)
        return face, mask

    def forward_with_code(self, faces: torch.Tensor, identity: int
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Face, mask and the shared dense code (N, code_dims) they were decoded from: the
        code every identity is encoded into, which the trainer's expression probe reads."""
        raise NotImplementedError

    @property
    def code_dims(self) -> int:
        raise NotImplementedError

    def _check_identity(self, identity: int) -> None:
        if not 0 <= identity < self.identities:
            raise ValueError(f"identity {identity} out of range (model has {self.identities})")


@register_architecture("faceswap.df")
class DFNet(FaceSwapNet):
    """Shared encoder and bottleneck, one decoder per identity (DeepFaceLab "DF")."""

    def __init__(self, resolution: int = 64, identities: int = 2, e_ch: int = 32,
                 ae_dims: int = 128, d_ch: int = 32) -> None:
        super().__init__(resolution, identities, e_ch)
        if identities < 2:
            raise ValueError("a swap model needs at least two identities")
        self.inter = Inter(self.encoded_features, ae_dims, self.lowres)
        self.decoders = nn.ModuleList(Decoder(ae_dims, d_ch) for _ in range(identities))

    def forward_with_code(self, faces: torch.Tensor, identity: int
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        self._check_identity(identity)
        code = self.inter.squeeze(self.encoder(faces))
        face, mask = self.decoders[identity](self.inter.expand(code))
        return face, mask, code

    @property
    def code_dims(self) -> int:
        return self.inter.ae_dims


@register_architecture("faceswap.liae")
class LIAENet(FaceSwapNet):
    """Shared encoder, inter_AB + inter_B bottlenecks, shared decoder (DeepFaceLab "LIAE").

    Identity 0 (the face to put in) is coded as ``[inter_ab, inter_ab]``; identity 1 (the footage
    it goes into) as ``[inter_b, inter_ab]``. Better at keeping the target's lighting and pose.
    """

    def __init__(self, resolution: int = 64, identities: int = 2, e_ch: int = 32,
                 ae_dims: int = 128, d_ch: int = 32) -> None:
        super().__init__(resolution, identities, e_ch)
        if identities != 2:
            raise ValueError("a LIAE model has exactly two identities")
        self.inter_ab = Inter(self.encoded_features, ae_dims, self.lowres)
        self.inter_b = Inter(self.encoded_features, ae_dims, self.lowres)
        self.decoder = Decoder(ae_dims * 2, d_ch)

    def forward_with_code(self, faces: torch.Tensor, identity: int
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        self._check_identity(identity)
        features = self.encoder(faces)
        code = self.inter_ab.squeeze(features)
        shared = self.inter_ab.expand(code)
        own = shared if identity == 0 else self.inter_b(features)
        face, mask = self.decoder(torch.cat([own, shared], dim=1))
        return face, mask, code

    @property
    def code_dims(self) -> int:
        return self.inter_ab.ae_dims


class SwapDirection(nn.Module):
    """One fixed direction of a swap network: ``(N, 3, R, R) -> (face, mask)``; for export."""

    def __init__(self, net: FaceSwapNet, identity: int) -> None:
        super().__init__()
        net._check_identity(identity)
        self.net = net
        self.identity = identity

    def forward(self, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(faces, self.identity)


class PatchDiscriminator(nn.Module):
    """PatchGAN: (N, 3, R, R) in [0, 1] -> (N, 1, R/2^layers, R/2^layers) logits."""

    def __init__(self, ch: int = 32, layers: int = 3) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        cin = 3
        for i in range(layers):
            cout = ch * 2 ** i
            blocks += [nn.Conv2d(cin, cout, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
            cin = cout
        blocks.append(nn.Conv2d(cin, 1, 3, padding=1))
        self.body = nn.Sequential(*blocks)

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        return self.body(faces * 2 - 1)
