"""Face-swap training losses: masked DSSIM + L1 with eye/mouth priority, mask loss, GAN loss.

Tensors are float (N, C, R, R) in [0, 1]; masks and weight maps are (N, 1, R, R).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from deepstudio.models.device import full_precision
from deepstudio.vision import facemesh as fm

PRIORITY_REGIONS = (fm.RIGHT_EYE, fm.LEFT_EYE, fm.LIPS_OUTER)
"""FaceMesh outlines whose (dilated) hulls get extra weight in the pixel loss."""


def eyes_mouth_map(landmarks_xy: np.ndarray, size: int) -> np.ndarray:
    """float32 (size, size) in [0, 1]: 1 on the eyes and mouth (dilated hulls), soft edges.

    ``landmarks_xy`` are FaceMesh points (478 or 468, >= 2 columns) in aligned-crop pixels.
    """
    region = np.zeros((size, size), np.uint8)
    for indices in PRIORITY_REGIONS:
        points = np.round(landmarks_xy[list(indices), :2]).astype(np.int32)
        cv2.fillConvexPoly(region, cv2.convexHull(points), 255)
    grow = max(1, size // 32)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    region = cv2.dilate(region, kernel)
    region = cv2.GaussianBlur(region, (0, 0), grow)
    return region.astype(np.float32) / 255.0


def _gaussian_window(size: int, sigma: float, device: torch.device) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-(coords ** 2) / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(3, 1, size, size).contiguous()


def ssim_window(resolution: int) -> int:
    """Odd SSIM window size that scales with the face (DeepFaceLab uses ~resolution / 11.6)."""
    size = max(3, int(resolution / 11.6))
    return size if size % 2 else size + 1


@full_precision
def dssim(pred: torch.Tensor, target: torch.Tensor, window: int) -> torch.Tensor:
    """Structural dissimilarity (1 - SSIM) / 2 per sample: (N, 3, R, R) x2 -> (N,).

    Always fp32, also inside an autocast region: the variances are differences of blurred
    squares, which cancel to noise (bf16) or to zero and negative denominators (fp16, whose
    gradient then overflows at every loss scale: the generator never stepped)."""
    pred, target = pred.float(), target.float()
    kernel = _gaussian_window(window, 1.5, pred.device)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, kernel, groups=3)

    mu_p, mu_t = blur(pred), blur(target)
    var_p = blur(pred * pred) - mu_p ** 2
    var_t = blur(target * target) - mu_t ** 2
    cov = blur(pred * target) - mu_p * mu_t
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    ssim = ((2 * mu_p * mu_t + c1) * (2 * cov + c2)) / (
        (mu_p ** 2 + mu_t ** 2 + c1) * (var_p + var_t + c2))
    return ((1 - ssim) / 2).mean(dim=(1, 2, 3))


def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                        priority: torch.Tensor, priority_weight: float = 3.0) -> torch.Tensor:
    """10·DSSIM + 10·weighted L1 of the masked face, as one scalar.

    ``priority`` (N, 1, R, R) marks eyes and mouth; their L1 counts ``1 + priority_weight`` times.
    """
    pred_m, target_m = pred.float() * mask, target.float() * mask
    weight = 1 + priority_weight * priority
    l1 = (weight * (pred_m - target_m).abs()).mean()
    return 10 * dssim(pred_m, target_m, ssim_window(pred.shape[-1])).mean() + 10 * l1


def mask_loss(pred_mask: torch.Tensor, target_mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the predicted face mask, scaled like the face loss."""
    return 10 * F.mse_loss(pred_mask.float(), target_mask.float())


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating GAN loss of the discriminator (real -> 1, fake -> 0), per patch."""
    return F.softplus(-real_logits.float()).mean() + F.softplus(fake_logits.float()).mean()


def generator_gan_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating GAN loss of the generator: make the discriminator call fakes real."""
    return F.softplus(-fake_logits.float()).mean()
