"""The one place that decides device, precision, memory format, transfers and batch sizes.

Trainers and inference wrappers never call ``.cuda()``, ``torch.autocast`` or ``GradScaler``
themselves: they hold a :class:`Compute` and ask it. That keeps the CUDA path and the CPU path
the same code. The CPU test suite forces bf16 and fp16 autocast, channels_last and the
out-of-memory back-off through these same helpers, so a GPU run only adds what a CPU cannot
show (CUDA kernels, pinned transfers, real memory limits).
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)

DEVICE_NAMES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}

CPU_RESOLUTION = 64
"""Face-swap resolution that trains at a usable speed on a laptop CPU (~0.3 s/iter)."""
CUDA_RESOLUTION = 128

MEMORY_FRACTION = 0.5
"""Share of the free device memory an inference batch may plan to use (the rest is headroom
for the allocator's fragmentation and for other work on the card)."""
MAX_INFERENCE_BATCH = 256

T = TypeVar("T")


def pick_device(name: str | torch.device = "auto") -> torch.device:
    """``"auto"`` takes CUDA when present, else the CPU; asking for CUDA without one is an error."""
    if isinstance(name, torch.device):
        return name
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


def amp_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device``; None means plain fp32.

    ``"auto"``: bf16 on CUDA where the card has it (Ampere and later), else fp16 with a
    gradient scaler; fp32 on the CPU, where bf16 is slower than fp32 for these networks on
    CPUs without AMX. ``"bf16"``/``"fp16"`` force autocast on any device (the tests run the
    CUDA path's structure on the CPU that way).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of "
                         f"{', '.join(PRECISIONS)}")
    if precision != "auto":
        return _DTYPES[precision]
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


@dataclass(frozen=True)
class Compute:
    """Where and how a model runs: device, autocast dtype, memory format, transfers, compile.

    Build one with :meth:`choose`; the fields are the decisions, so a test can also build one
    by hand (e.g. channels_last on the CPU).
    """

    device: torch.device
    amp: torch.dtype | None = None
    """Autocast dtype of forward passes; None: fp32."""
    channels_last: bool = False
    """Images and convolution weights in NHWC (tensor-core convolutions on CUDA)."""
    pin_memory: bool = False
    """Stage host->device copies in page-locked memory so they can overlap compute (CUDA)."""
    compile_backend: str | None = None
    """``torch.compile`` backend for :meth:`compiled` (``"inductor"``); None: eager."""

    @classmethod
    def choose(cls, device: str | torch.device = "auto", precision: str = "auto",
               compile: bool = False) -> Compute:
        """The defaults for a device: on CUDA autocast, channels_last and pinned transfers."""
        dev = pick_device(device)
        cuda = dev.type == "cuda"
        return cls(dev, amp_dtype(dev, precision), channels_last=cuda, pin_memory=cuda,
                   compile_backend="inductor" if compile else None)

    def with_precision(self, precision: str) -> Compute:
        return replace(self, amp=amp_dtype(self.device, precision))

    @property
    def precision(self) -> str:
        """The precision's name: ``"fp32"``, ``"bf16"`` or ``"fp16"``."""
        return next(name for name, dtype in _DTYPES.items() if dtype == self.amp)

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    # -- precision ----------------------------------------------------------------------------

    def autocast(self) -> contextlib.AbstractContextManager:
        """The autocast region of forward passes (a no-op in fp32). Losses that need fp32
        accuracy take ``.float()`` of the outputs."""
        if self.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A gradient scaler, enabled for fp16 only (bf16 has fp32's range and needs none)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.amp == torch.float16)

    # -- placement ----------------------------------------------------------------------------

    def module(self, module: nn.Module) -> nn.Module:
        """``module`` on the device, in the preferred memory format (fp32 weights)."""
        return module.to(device=self.device, memory_format=self.memory_format)

    def tensor(self, tensor: torch.Tensor | np.ndarray) -> torch.Tensor:
        """A host tensor (or array) on the device; through pinned memory when that is on."""
        if isinstance(tensor, np.ndarray):
            tensor = torch.from_numpy(np.ascontiguousarray(tensor))
        if self.device.type == "cpu":
            return tensor
        if self.pin_memory and tensor.device.type == "cpu":
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor.to(self.device, non_blocking=True)

    def images(self, images: torch.Tensor | np.ndarray) -> torch.Tensor:
        """An (N, C, H, W) batch on the device in the preferred memory format."""
        return self.tensor(images).contiguous(memory_format=self.memory_format)

    def images_from_uint8(self, images: np.ndarray) -> torch.Tensor:
        """uint8 (N, H, W, C) -> float32 (N, C, H, W) in [0, 1] on the device.

        The bytes cross to the device as uint8 (a quarter of float32's) and are converted
        there."""
        if images.dtype != np.uint8 or images.ndim != 4:
            raise ValueError(f"expected uint8 (N, H, W, C) images, got {images.dtype} "
                             f"{images.shape}")
        tensor = self.tensor(images).permute(0, 3, 1, 2).float().div_(255.0)
        return tensor.contiguous(memory_format=self.memory_format)

    def compiled(self, fn: Callable[..., T]) -> Callable[..., T]:
        """``fn`` (a module or function) through ``torch.compile`` when that is switched on."""
        if self.compile_backend is None:
            return fn
        return torch.compile(fn, backend=self.compile_backend)

    # -- memory -------------------------------------------------------------------------------

    def synchronize(self) -> None:
        """Wait for queued device work (timings; a no-op on the CPU)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def release_memory(self) -> None:
        """Hand cached device blocks back after an out-of-memory error."""
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def free_memory_bytes(self) -> int | None:
        """Free device memory (CUDA), None on the CPU (host memory is not the limit there)."""
        if self.device.type != "cuda":
            return None
        free, _total = torch.cuda.mem_get_info(self.device)
        return int(free)

    def inference_batch(self, bytes_per_item: Callable[[], int], default: int) -> int:
        """Batch size for inference: what fits in :data:`MEMORY_FRACTION` of the free device
        memory at ``bytes_per_item()`` each (capped at :data:`MAX_INFERENCE_BATCH`);
        ``default`` where there is no device memory to size by (the measure is not run)."""
        free = self.free_memory_bytes()
        if free is None:
            return default
        return batch_for_memory(bytes_per_item(), free, default)


def full_precision(fn: Callable[..., T]) -> Callable[..., T]:
    """Decorator: run ``fn`` with autocast off (fp32), for numerically fragile losses."""

    @functools.wraps(fn)
    def wrapper(*args: object, **kwargs: object) -> T:
        with torch.autocast("cuda", enabled=False), torch.autocast("cpu", enabled=False):
            return fn(*args, **kwargs)

    return wrapper


def as_compute(device: str | torch.device | Compute) -> Compute:
    """A :class:`Compute` from a device name, a torch device or a Compute (kept as is)."""
    return device if isinstance(device, Compute) else Compute.choose(device)


def batch_for_memory(bytes_per_item: int, free_bytes: int | None, default: int,
                     cap: int = MAX_INFERENCE_BATCH) -> int:
    """Items that fit in ``MEMORY_FRACTION`` of ``free_bytes``; ``default`` when unknown."""
    if free_bytes is None:
        return default
    fits = int(free_bytes * MEMORY_FRACTION) // max(1, bytes_per_item)
    return max(1, min(cap, fits))


@torch.no_grad()
def activation_bytes(module: nn.Module, *example: torch.Tensor) -> int:
    """Bytes of every leaf module's output for one forward pass of ``example``.

    An upper bound of an inference pass's working memory (most of it is freed layer by layer),
    measured the same way on any device, so batch sizing can be tested on the CPU.
    """
    total = 0

    def count(_module: nn.Module, _inputs: object, output: object) -> None:
        nonlocal total
        outputs = output if isinstance(output, (tuple, list)) else (output,)
        total += sum(o.numel() * o.element_size() for o in outputs
                     if isinstance(o, torch.Tensor))

    leaves = [m for m in module.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(count) for m in leaves]
    try:
        module(*example)
    finally:
        for handle in handles:
            handle.remove()
    return total


# -- out of memory ----------------------------------------------------------------------------

def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA/CPU allocation failures (torch raises OutOfMemoryError or RuntimeError)."""
    return isinstance(exc, torch.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def run_with_oom_backoff(step: Callable[[int], T], batch_size: int,
                         release: Callable[[], None] = lambda: None) -> tuple[T, int]:
    """Run ``step(batch_size)``, halving the batch after each out-of-memory error.

    Returns the result and the batch size that worked; re-raises when even 1 does not fit.
    ``release`` is called after each failure to drop gradients and cached memory.
    """
    while True:
        try:
            return step(batch_size), batch_size
        except Exception as exc:
            if not is_out_of_memory(exc) or batch_size <= 1:
                raise
            release()
            batch_size = max(1, batch_size // 2)
            log.warning("out of memory; continuing with batch size %d", batch_size)


def map_batches(run: Callable[[slice], T], count: int, batch_size: int,
                release: Callable[[], None] = lambda: None) -> tuple[list[T], int]:
    """``run`` over ``[0, count)`` in slices of ``batch_size``; a slice that runs out of memory
    is split in halves and retried, and later slices keep the smaller size.

    Returns the results in order and the batch size that worked last.
    """
    results: list[T] = []
    start = 0
    while start < count:
        def one(size: int, first: int = start) -> T:
            return run(slice(first, min(count, first + size)))

        result, batch_size = run_with_oom_backoff(one, batch_size, release)
        results.append(result)
        start += batch_size
    return results, batch_size


def runtime_report() -> list[str]:
    """What ``deepstudio --version`` and the About box say about the compute side: which
    torch build is installed (the CPU or the CUDA edition) and which device work runs on."""
    cuda = torch.version.cuda
    lines = [f"torch {torch.__version__} ({f'CUDA {cuda}' if cuda else 'CPU'} build)"]
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        props = torch.cuda.get_device_properties(0)
        more = f" and {count - 1} more" if count > 1 else ""
        lines.append(f"device: CUDA, {props.name} ({props.total_memory / 2**30:.0f} GiB){more}")
    elif cuda:
        lines.append("device: CPU (a CUDA build, but no usable CUDA device or driver)")
    else:
        lines.append("device: CPU")
    return lines
