"""sparse-sharing: multi-task sequence labelling with sparse sharing and the sharing baselines, as
swappable config blocks.

The Python API (``sparse_sharing.api``) is importable from the package itself — ``Tagger``,
``train``, ``evaluate``, ``compare`` — and loaded on first use, so ``import sparse_sharing`` stays light (no
torch until an API name is touched).
"""
from __future__ import annotations

from typing import Any

__version__ = "0.2.0.dev0"  # the one place the version is written; pyproject.toml reads it
__all__ = ["Tagger", "compare", "evaluate", "train"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sparse_sharing import api

        return getattr(api, name)
    raise AttributeError(f"module 'sparse_sharing' has no attribute '{name}'")
