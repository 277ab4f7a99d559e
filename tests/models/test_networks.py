"""Swap networks and discriminator: documented shapes, ranges, identity routing."""

from __future__ import annotations

import pytest
import torch

from deepstudio.models.faceswap.networks import (
    DFNet,
    LIAENet,
    PatchDiscriminator,
    SwapDirection,
)

SMALL = {"e_ch": 8, "ae_dims": 16, "d_ch": 8}


@pytest.mark.parametrize("cls", [DFNet, LIAENet])
@pytest.mark.parametrize("resolution", [32, 64])
def test_swap_networks_map_faces_to_face_and_mask(cls, resolution: int) -> None:
    net = cls(resolution=resolution, **SMALL)
    faces = torch.rand(3, 3, resolution, resolution)
    for identity in (0, 1):
        face, mask = net(faces, identity)
        assert face.shape == (3, 3, resolution, resolution)
        assert mask.shape == (3, 1, resolution, resolution)
        assert float(face.detach().min()) >= 0 and float(face.detach().max()) <= 1
    with pytest.raises(ValueError, match="identity 2 out of range"):
        net(faces, 2)


@pytest.mark.parametrize("resolution", [16, 40, 1024])
def test_resolution_must_be_a_supported_multiple_of_16(resolution: int) -> None:
    with pytest.raises(ValueError, match="multiple of 16"):
        DFNet(resolution=resolution, **SMALL)


def test_df_has_one_decoder_per_identity() -> None:
    net = DFNet(resolution=32, identities=3, **SMALL)
    face, _ = net(torch.rand(1, 3, 32, 32), 2)
    face.mean().backward()
    used = [any(p.grad is not None for p in d.parameters()) for d in net.decoders]
    assert used == [False, False, True]


def test_liae_identity_zero_bypasses_inter_b() -> None:
    net = LIAENet(resolution=32, **SMALL)
    net(torch.rand(1, 3, 32, 32), 0)[0].mean().backward()
    assert all(p.grad is None for p in net.inter_b.parameters())
    assert all(p.grad is not None for p in net.inter_ab.parameters())


def test_swap_direction_fixes_the_identity() -> None:
    net = DFNet(resolution=32, **SMALL).eval()
    faces = torch.rand(2, 3, 32, 32)
    assert torch.equal(SwapDirection(net, 1)(faces)[0], net(faces, 1)[0])


def test_patch_discriminator_scores_patches() -> None:
    assert PatchDiscriminator(ch=8)(torch.rand(2, 3, 64, 64)).shape == (2, 1, 8, 8)
