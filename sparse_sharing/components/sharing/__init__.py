from sparse_sharing.components.sharing import hard, single, sparse  # noqa: F401  (registration)
