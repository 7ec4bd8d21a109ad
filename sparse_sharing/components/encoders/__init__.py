from sparse_sharing.components.encoders import bilstm, transformer  # noqa: F401  (registration)
