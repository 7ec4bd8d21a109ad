"""Sharing strategies; importing this package registers them."""
from sparse_sharing.components.sharing import (  # noqa: F401
    cross_stitch,
    hard,
    hierarchical,
    single,
    sluice,
    sparse,
)
