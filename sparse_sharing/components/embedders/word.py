"""Word embeddings, random or pretrained, with word dropout."""
from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from sparse_sharing.components.data.batching import Batch
from sparse_sharing.components.data.vocabulary import Vocabulary
from sparse_sharing.components.embedders.pretrained import PretrainedSourceConfig, load_vectors, word_index
from sparse_sharing.errors import ConfigError
from sparse_sharing.registry import PRETRAINED_VECTORS, TOKEN_EMBEDDERS, ComponentConfig, Nested


class WordEmbedderConfig(ComponentConfig):
    type: Literal["word"]
    dim: int = Field(100, gt=0, description="Embedding size; must equal the pretrained vectors' size if any.")
    pretrained: Annotated[PretrainedSourceConfig | None, Nested(PRETRAINED_VECTORS)] = Field(
        None, description="Initial vectors ({source: NAME, ...}, `ssl components pretrained_vectors`); words without "
        "one are random.")
    trainable: bool = Field(True, description="Update the embeddings during training.")
    word_dropout: float = Field(
        0.0, ge=0.0, lt=1.0, description="Probability of replacing a training token by the unknown word."
    )


@TOKEN_EMBEDDERS.register("word", config=WordEmbedderConfig)
class WordEmbedder(nn.Module):
    def __init__(self, config: WordEmbedderConfig, vocab: Vocabulary) -> None:
        super().__init__()
        self.output_dim = config.dim
        self.word_dropout = config.word_dropout
        self.embedding = nn.Embedding(len(vocab.words), config.dim, padding_idx=0)
        scale = (3.0 / config.dim) ** 0.5  # uniform init of Ma & Hovy
        with torch.no_grad():
            self.embedding.weight.uniform_(-scale, scale)
            if config.pretrained is not None:
                self._copy_pretrained(config, vocab)
            self.embedding.weight[0].zero_()
        self.embedding.weight.requires_grad_(config.trainable)

    def _copy_pretrained(self, config: WordEmbedderConfig, vocab: Vocabulary) -> None:
        vectors = load_vectors(config.pretrained)[1]
        if vectors.shape[1] != config.dim:
            raise ConfigError(
                f"word embedder dim is {config.dim} but the pretrained vectors have {vectors.shape[1]} values"
            )
        index = word_index(config.pretrained)
        rows, sources = [], []
        for row, word in enumerate(vocab.words):
            source = index.get(word)
            if source is None and vocab.lowercase_words is False:
                source = index.get(word.lower())
            if source is not None:
                rows.append(row)
                sources.append(source)
        if rows:
            self.embedding.weight[torch.tensor(rows)] = torch.from_numpy(vectors[sources]).float()

    def forward(self, batch: Batch) -> torch.Tensor:
        words = batch.words
        if self.training and self.word_dropout > 0:
            drop = (torch.rand(words.shape, device=words.device) < self.word_dropout) & batch.padding_mask
            words = words.masked_fill(drop, 1)
        return self.embedding(words)
