"""Losses and augmentation behave as their docstrings say."""

from __future__ import annotations

import numpy as np
import torch

from deepstudio.models.faceswap import losses
from deepstudio.models.faceswap.augment import AugmentSettings, augment_batch, random_warp_maps
from deepstudio.vision import facemesh as fm
from deepstudio.vision.align import template_points


def test_dssim_is_zero_for_equal_images_and_grows_with_noise() -> None:
    torch.manual_seed(0)
    image = torch.rand(2, 3, 32, 32)
    assert float(losses.dssim(image, image, 5).max()) < 1e-6
    slight = losses.dssim(image, (image + 0.05 * torch.randn_like(image)).clamp(0, 1), 5)
    heavy = losses.dssim(image, (image + 0.3 * torch.randn_like(image)).clamp(0, 1), 5)
    assert bool((slight > 0).all()) and bool((heavy > slight).all())


def test_masked_loss_ignores_pixels_outside_the_mask() -> None:
    target = torch.rand(1, 3, 32, 32)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    outside_changed = target.clone()
    outside_changed[..., :4, :] = 1 - outside_changed[..., :4, :]
    zero = torch.zeros_like(mask)
    assert float(losses.reconstruction_loss(outside_changed, target, mask, zero)) < 1e-5
    inside_changed = target.clone()
    inside_changed[..., 12:20, 12:20] = 0
    plain = losses.reconstruction_loss(inside_changed, target, mask, zero)
    weighted = losses.reconstruction_loss(inside_changed, target, mask, mask)
    assert float(weighted) > float(plain) > 0


def test_eyes_mouth_map_covers_eyes_and_mouth_only() -> None:
    # A face placed on the alignment template; only the template points are meaningful, so
    # put every eye/mouth landmark of the mesh at its nearest template feature.
    size = 64
    points = np.zeros((fm.NUM_LANDMARKS, 2), np.float32)
    template = template_points(size)
    right_eye, left_eye = template[:2].mean(0), template[2:4].mean(0)
    mouth = template[6:8].mean(0)
    for indices, centre in ((fm.RIGHT_EYE, right_eye), (fm.LEFT_EYE, left_eye),
                            (fm.LIPS_OUTER, mouth)):
        angles = np.linspace(0, 2 * np.pi, len(indices), endpoint=False)
        points[list(indices)] = centre + 4 * np.stack([np.cos(angles), np.sin(angles)], 1)
    region = losses.eyes_mouth_map(points, size)
    for centre in (right_eye, left_eye, mouth):
        assert region[int(centre[1]), int(centre[0])] > 0.9
    assert region[2, 2] == 0 and region[int(template[5][1]), int(template[5][0])] < 0.1  # nose


def test_warp_distorts_the_input_but_not_the_target() -> None:
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 255, (4, 32, 32, 3), dtype=np.uint8)
    masks = np.ones((4, 32, 32), np.float32)
    settings = AugmentSettings(rotation_deg=0, scale=0, shift=0, colour=False)
    inputs, targets, out_masks, _ = augment_batch(rng, faces, masks, masks, settings)
    assert inputs.shape == targets.shape == (4, 32, 32, 3) and inputs.dtype == np.float32
    np.testing.assert_allclose(targets, faces / 255, atol=1e-6)
    assert np.abs(inputs - targets).mean() > 0.02
    assert out_masks.shape == (4, 32, 32)


def test_warp_maps_keep_the_border_fixed() -> None:
    map_x, map_y = random_warp_maps(np.random.default_rng(3), 48)
    grid = np.arange(48, dtype=np.float32)
    for edge in (0, -1):
        np.testing.assert_allclose(map_x[edge], grid, atol=1e-3)
        np.testing.assert_allclose(map_y[:, edge], grid, atol=1e-3)
        np.testing.assert_allclose(map_x[:, edge], grid[edge], atol=1e-3)
    assert np.abs(map_x[24, :] - grid).max() > 0.1  # the inside moves
