"""A tiny BERT built from a config and saved to a directory: the pretrained model of the tests, never downloaded.

Its WordPiece vocabulary is the specials, every printable ASCII character alone and as a
continuation piece (``##x``), and a few whole words, so every toy-corpus token has pieces and
many have several (``first`` and ``mean`` pooling differ).
"""
from __future__ import annotations

import string
from pathlib import Path

import torch

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["the", "of", "and", "in", "to", "a"]


def save_tiny_bert(directory: Path, max_positions: int = 64, seed: int = 0) -> Path:
    from transformers import BertConfig, BertModel, BertTokenizerFast

    characters = [c for c in string.printable if not c.isspace()]
    vocab = [*SPECIALS, *characters, *(f"##{c}" for c in characters), *WORDS]
    tokenizer = BertTokenizerFast(vocab={piece: i for i, piece in enumerate(vocab)}, do_lower_case=False)
    torch.manual_seed(seed)
    model = BertModel(BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=64, max_position_embeddings=max_positions))
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
