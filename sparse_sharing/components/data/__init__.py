"""Dataset readers; importing this package registers them."""
from sparse_sharing.components.data import conll, embedded, position  # noqa: F401

__all__ = ["conll", "embedded", "position"]
