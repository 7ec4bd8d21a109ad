"""Registries of components, their contracts, and plugin loading (imports only ``errors`` below it)."""
import warnings
from typing import Any

from sparse_sharing.registry.kinds import (
    ALL_KINDS,
    CALLBACKS,
    DATASET_READERS,
    ENCODERS,
    HEADS,
    LR_SCHEDULERS,
    MASK_SOURCES,
    METRICS,
    OPTIMIZERS,
    PRETRAINED_VECTORS,
    PRUNERS,
    SAMPLERS,
    SELECTIONS,
    SHARING,
    TOKEN_EMBEDDERS,
)
from sparse_sharing.registry.plugins import import_plugins
from sparse_sharing.registry.versions import (
    OLDEST_PLUGIN_API_VERSION,
    PLUGIN_API_VERSION,
    PluginDeprecationWarning,
)
from sparse_sharing.registry.registry import (
    ENTRY_POINT_GROUP,
    ComponentConfig,
    Nested,
    Registry,
    SourceConfig,
    did_you_mean,
    nearest,
    unknown_name_message,
)

__all__ = [
    "ALL_KINDS", "CALLBACKS", "DATASET_READERS", "ENCODERS", "ENTRY_POINT_GROUP", "HEADS", "LR_SCHEDULERS",
    "MASK_SOURCES", "METRICS", "OLDEST_PLUGIN_API_VERSION", "OPTIMIZERS", "PLUGIN_API_VERSION",
    "PRETRAINED_VECTORS", "PRUNERS", "SAMPLERS", "SELECTIONS", "SHARING", "TOKEN_EMBEDDERS", "ComponentConfig", "Nested",
    "PluginDeprecationWarning", "Registry", "SourceConfig", "did_you_mean", "import_plugins", "nearest",
    "unknown_name_message",
]


def __getattr__(name: str) -> Any:
    """``MASKS``, the mask sources' registry's former name ("mask" names the pruning masks alone now),
    still imports, with a ``PluginDeprecationWarning``."""
    if name == "MASKS":
        warnings.warn("sparse_sharing.registry.MASKS is now MASK_SOURCES (the registry of mask sources); the old "
                      "name will be removed in a later release", PluginDeprecationWarning, stacklevel=2)
        return MASK_SOURCES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
