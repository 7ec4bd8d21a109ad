"""Where and with what a run computed: the code's version and commit, torch, Python, the CPU and
the device, recorded in metrics.json once per process that trained the run (a resumed run has
one entry per start).

Why: a results table is only as good as the reader's ability to tell which code and machine made
each figure; times, and float rounding, differ between CPUs and torch versions. The CPU is
recorded three ways because a virtual machine may give every processor of a vendor one model
name ("AMD EPYC"): the family/model/stepping and the instruction set torch picked for its CPU
kernels (AVX2, AVX512, ...) tell apart processors that round differently under one name.
"""
from __future__ import annotations

import platform
import subprocess
import time
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

from sparse_sharing.devices import describe


def provenance(device: torch.device) -> dict[str, Any]:
    """This process's record: package version, git commit (None outside a checkout), torch,
    Python, CPU model, signature and kernel instruction set, device, and the UTC time it started
    training."""
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sparse_sharing": package_version(),
        "commit": source_commit(),
        "torch": str(torch.__version__),  # a TorchVersion, which the safe loader refuses
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "cpu_signature": cpu_signature(),
        "cpu_kernels": torch.backends.cpu.get_cpu_capability(),
        "device": describe(device),
    }


def package_version() -> str | None:
    try:
        return version("sparse-sharing")
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return None


@lru_cache(maxsize=1)
def source_commit() -> str | None:
    """The commit of the checkout the package runs from (an editable install), with ``-dirty`` when
    tracked files differ from it; None for an installed copy or where git is missing."""
    root = Path(__file__).resolve().parent.parent  # the folder holding the package
    try:
        top = _git(root, "rev-parse", "--show-toplevel")
        if top is None or Path(top).resolve() != root:
            return None  # installed elsewhere, or inside some other repository
        commit = _git(root, "rev-parse", "HEAD")
        changed = _git(root, "status", "--porcelain", "--untracked-files=no", "--", "sparse_sharing")
    except OSError:
        return None
    if commit is None:
        return None
    return commit + ("-dirty" if changed else "")


def _git(root: Path, *args: str) -> str | None:
    result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
    return result.stdout.strip() if result.returncode == 0 else None


@lru_cache(maxsize=1)
def _cpuinfo() -> dict[str, str]:
    """The first processor's fields in ``/proc/cpuinfo`` (empty where there is none: not Linux)."""
    fields: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return fields
    for line in text.splitlines():
        if not line.strip():
            break  # the first processor's block ends
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what ``platform`` knows)."""
    return _cpuinfo().get("model name") or platform.processor() or platform.machine() or "unknown"


def cpu_signature() -> str | None:
    """``family F model M stepping S`` from ``/proc/cpuinfo``; None where it does not say."""
    info = _cpuinfo()
    keys = ("cpu family", "model", "stepping")
    if not all(key in info for key in keys):
        return None
    return "family {} model {} stepping {}".format(*(info[key] for key in keys))
