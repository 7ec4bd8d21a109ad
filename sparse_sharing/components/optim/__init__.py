from sparse_sharing.components.optim import optimizers  # noqa: F401  (registration)
