from sparse_sharing.components.sharing import hard, single  # noqa: F401  (registration)
