"""Choice of compute device and the per-device defaults (resolution, autocast, memory format)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

DEVICE_NAMES = ("auto", "cpu", "cuda")

CPU_RESOLUTION = 64
"""Face-swap resolution that trains at a usable speed on a laptop CPU (~0.3 s/iter)."""
CUDA_RESOLUTION = 128


def pick_device(name: str = "auto") -> torch.device:
    """``"auto"`` takes CUDA when present, else the CPU; asking for CUDA without one is an error."""
    if name not in DEVICE_NAMES and not name.startswith("cuda:"):
        raise ValueError(f"unknown device {name!r}; expected one of {', '.join(DEVICE_NAMES)}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("CUDA was asked for but no CUDA device is available")
    return torch.device(name)


def default_resolution(device: torch.device) -> int:
    """Aligned-face size to train at when the user does not choose one."""
    return CUDA_RESOLUTION if device.type == "cuda" else CPU_RESOLUTION


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """Mixed-precision dtype on CUDA (bf16 where supported, else fp16); None means full fp32."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


@contextlib.contextmanager
def autocast(device: torch.device) -> Iterator[None]:
    """Autocast region on CUDA; a no-op on the CPU (CPU bf16 is slower than fp32 for these nets)."""
    dtype = autocast_dtype(device)
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


def memory_format(device: torch.device) -> torch.memory_format:
    """channels_last on CUDA (faster convolutions with tensor cores), contiguous elsewhere."""
    return torch.channels_last if device.type == "cuda" else torch.contiguous_format


def place_module(module: nn.Module, device: torch.device) -> nn.Module:
    """Move a module to ``device`` in that device's preferred memory format."""
    return module.to(device=device, memory_format=memory_format(device))


def place_images(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Move an (N, C, H, W) batch to ``device`` in that device's preferred memory format."""
    return images.to(device=device, non_blocking=True).contiguous(
        memory_format=memory_format(device))
