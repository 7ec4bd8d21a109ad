"""Which torch device a run uses: the config's ``device`` (or ``--device``) resolved once.

Why one place: every part of a run (model, batches, masks, pruners, warm-up, search rounds,
evaluation) must agree on the device, and asking for a GPU that is not there must be one clear
error before anything is written, not a CUDA traceback halfway through a search.
"""
from __future__ import annotations

import re

import torch

from sparse_sharing.errors import ConfigError

DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?)$"


def resolve_device(spec: str) -> torch.device:
    """``auto`` is CUDA where available, else the CPU; ``cuda``/``cuda:N`` must exist."""
    if not re.match(DEVICE_PATTERN, spec):
        raise ConfigError(f"device '{spec}' is not one of auto, cpu, cuda, cuda:N")
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device '{spec}' was asked for but CUDA is not available on this machine "
                              f"(torch {torch.__version__}, built {'with' if torch.backends.cuda.is_built() else 'without'}"
                              f" CUDA); use --device cpu or --device auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"device '{spec}' does not exist: this machine has {torch.cuda.device_count()} "
                              f"CUDA device(s), cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    return device


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively: a CUDA GPU that says so, or a CPU with
    AVX512-BF16 or AMX (elsewhere torch emulates bf16 on the CPU, slower than fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return device.type == "cpu" and (torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def check_precision(precision: str, device: torch.device) -> None:
    """``trainer.precision`` on ``device``: a ConfigError, before anything is written, where the
    device cannot compute bf16 natively (an emulated bf16 step would be slower and still round)."""
    if precision == "bf16" and not bf16_supported(device):
        what = (f"the GPU {torch.cuda.get_device_name(device)}" if device.type == "cuda"
                else f"this CPU (torch sees {torch.backends.cpu.get_cpu_capability()}, without AVX512-BF16 or AMX)")
        raise ConfigError(f"trainer.precision: 'bf16' needs a device that computes bfloat16 natively, and {what} "
                          f"does not on device {device}; use trainer.precision 'fp32' (-o trainer.precision=fp32)")


def autocast(precision: str, device: torch.device) -> torch.autocast:
    """The autocast context a training step's forward and loss run under: bf16 for ``bf16``,
    disabled (plain fp32, bit for bit) for ``fp32``."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def describe(device: torch.device) -> str:
    """The device for logs and metrics.json: its name and, for a GPU, the card."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


# torch's CPU allocator reports a failed allocation as a plain RuntimeError with this text.
_CPU_ALLOCATOR_FAILED = "can't allocate memory"


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is a failed allocation: CUDA's ``torch.OutOfMemoryError``, the CPU
    allocator's RuntimeError, or Python's own MemoryError."""
    return isinstance(error, (torch.OutOfMemoryError, MemoryError)) or (
        isinstance(error, RuntimeError) and _CPU_ALLOCATOR_FAILED in str(error))


def requested_bytes(error: BaseException) -> int | None:
    """The size of the allocation that failed, as the allocator's message gives it."""
    text = str(error)
    cpu = re.search(r"allocate (\d+) bytes", text)
    if cpu:
        return int(cpu[1])
    cuda = re.search(r"Tried to allocate ([\d.]+) (B|KiB|MiB|GiB|TiB)", text)
    if cuda:
        return int(float(cuda[1]) * 1024 ** ["B", "KiB", "MiB", "GiB", "TiB"].index(cuda[2]))
    return None


def memory_of(device: torch.device) -> tuple[int, int] | None:
    """(total, free) bytes of the device's memory: a GPU's, or the machine's (free: what Linux
    calls available); None where the system does not say."""
    if device.type == "cuda":
        try:
            free, total = torch.cuda.mem_get_info(device)
        except RuntimeError:
            return None
        return total, free
    try:
        fields = dict(line.split(":", 1) for line in open("/proc/meminfo", encoding="ascii"))
        return int(fields["MemTotal"].split()[0]) * 1024, int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None
