from sparse_sharing.components.encoders import bilstm  # noqa: F401  (registration)
