from sparse_sharing.components.callbacks import checkpoint, early_stopping, progress, tensorboard  # noqa: F401
