"""Example sparse-sharing plugins; importing the package registers them all."""
from ssl_examples import annealed, gru, row_norm, sparsest, word2vec  # noqa: F401
