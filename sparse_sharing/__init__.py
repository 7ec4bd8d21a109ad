"""sparse-sharing: multi-task sequence labelling with swappable sharing strategies.

The Python API (``sparse_sharing.api``) is importable from the package itself — ``Tagger``,
``train``, ``evaluate`` — and loaded on first use, so ``import sparse_sharing`` stays light (no
torch until an API name is touched).
"""
from __future__ import annotations

from typing import Any

__all__ = ["Tagger", "evaluate", "train"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sparse_sharing import api

        return getattr(api, name)
    raise AttributeError(f"module 'sparse_sharing' has no attribute '{name}'")
