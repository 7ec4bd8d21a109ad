"""Importing this package registers every built-in component."""
from sparse_sharing.components import (  # noqa: F401
    callbacks,
    data,
    embedders,
    encoders,
    heads,
    masks,
    metrics,
    optim,
    pruners,
    samplers,
    sharing,
)
