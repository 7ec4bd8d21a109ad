from sparse_sharing.components.embedders import char_cnn, pretrained_transformer, word  # noqa: F401  (registration)
