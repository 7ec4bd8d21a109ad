from sparse_sharing.registry.kinds import (
    ALL_KINDS,
    CALLBACKS,
    DATASET_READERS,
    ENCODERS,
    HEADS,
    LR_SCHEDULERS,
    METRICS,
    OPTIMIZERS,
    MASKS,
    PRUNERS,
    SAMPLERS,
    SHARING,
    TOKEN_EMBEDDERS,
)
from sparse_sharing.registry.plugins import import_plugins
from sparse_sharing.registry.registry import ComponentConfig, Registry, did_you_mean, nearest

__all__ = [
    "ALL_KINDS", "CALLBACKS", "DATASET_READERS", "ENCODERS", "HEADS", "LR_SCHEDULERS", "METRICS",
    "MASKS", "OPTIMIZERS", "PRUNERS", "SAMPLERS", "SHARING", "TOKEN_EMBEDDERS", "ComponentConfig", "Registry",
    "did_you_mean", "import_plugins", "nearest",
]
