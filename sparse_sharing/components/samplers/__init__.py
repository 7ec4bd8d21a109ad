from sparse_sharing.components.samplers import samplers  # noqa: F401  (registration)
