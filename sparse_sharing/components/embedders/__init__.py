from sparse_sharing.components.embedders import char_cnn, word  # noqa: F401  (registration)
