"""Example sparse-sharing plugins; importing the package registers them all."""
from ssl_examples import annealed, gru, row_norm, sparsest, word2vec  # noqa: F401

SPARSE_SHARING_PLUGIN_API = 3  # the plugin API these were written for; a newer one than installed is refused
