from sparse_sharing.components.heads import crf, softmax  # noqa: F401  (registration)
