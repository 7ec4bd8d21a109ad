"""A pretrained Hugging Face transformer as a token embedder: sub-word pieces in, one vector per CoNLL token out.

The data's tokens stay the unit every head and metric sees. Each sentence's tokens go through
the model's own tokenizer as pre-split words (``is_split_into_words``), the model runs on the
pieces, and each token's vector is its first piece's (``first``, as BERT's NER recipe) or the mean
of its pieces (``mean``). A sentence longer in pieces than the model's positions is cut at token
boundaries into windows encoded one by one; a token the tokenizer turns into no piece at all (a
lone control character) is read as the tokenizer's unknown token.

Needs the ``transformers`` extra (``pip install 'sparse-sharing[transformers]'``), imported only
when such an embedder is built. With ``prunable: true`` the embedder declares every weight matrix
of the model's ``nn.Linear`` layers outside its embeddings and pooler (attention projections,
feed-forward matrices) prunable, so ``sparse`` and ``single_subnet`` mask them by default: task
subnetworks of one pretrained model.
"""
from __future__ import annotations

from typing import Any, Literal, Sequence

import torch
from pydantic import Field
from torch import nn

from sparse_sharing.components.data.batching import Batch
from sparse_sharing.components.data.vocabulary import Vocabulary
from sparse_sharing.errors import ConfigError
from sparse_sharing.registry import TOKEN_EMBEDDERS, ComponentConfig

# Module names (parts of a parameter's dotted name) whose weights are never prunable.
NOT_PRUNABLE_PARTS = ("embeddings", "pooler")


class PretrainedTransformerConfig(ComponentConfig):
    type: Literal["pretrained_transformer"]
    model_name: str = Field(
        description="A local directory holding a model and its tokenizer (as save_pretrained writes them), or a "
        "Hugging Face hub name (downloaded once into the hub cache; offline, pass a directory).")
    pooling: Literal["first", "mean"] = Field(
        "first", description="A token's vector from its sub-word pieces: first: the first piece's; mean: their mean.")
    trainable: bool = Field(True, description="Fine-tune the model's weights; false keeps them as loaded.")
    prunable: bool = Field(
        False, description="Declare the weight matrices of the model's linear layers (attention projections, "
        "feed-forward; never embeddings, norms, biases or the pooler) prunable, so a masked sharing strategy "
        "(sparse, single_subnet) prunes them by default.")


@TOKEN_EMBEDDERS.register("pretrained_transformer", config=PretrainedTransformerConfig)
class PretrainedTransformer(nn.Module):
    def __init__(self, config: PretrainedTransformerConfig, vocab: Vocabulary) -> None:
        super().__init__()
        self.model, self.tokenizer = load_pretrained(config.model_name)
        self.output_dim: int = self.model.config.hidden_size
        self.pooling = config.pooling
        self.trainable = config.trainable
        self.model.requires_grad_(config.trainable)
        self.max_pieces = max_pieces(self.model, self.tokenizer) - self.tokenizer.num_special_tokens_to_add()
        self.prunable = tuple(linear_weight_names(self.model, "model.")) if config.prunable else ()

    def forward(self, batch: Batch) -> torch.Tensor:
        if batch.tokens is None:
            raise ValueError("the pretrained_transformer embedder reads the tokens' text, and this batch carries none "
                             "(Batch.tokens)")
        sentences, width = batch.tokens, batch.words.shape[1]
        windows = self._windows(sentences)
        encoding = self.tokenizer([words for _, _, words in windows], is_split_into_words=True, padding=True,
                                  return_tensors="pt")
        device = batch.words.device
        with torch.set_grad_enabled(self.trainable and torch.is_grad_enabled()):
            hidden = self.model(input_ids=encoding["input_ids"].to(device),
                                attention_mask=encoding["attention_mask"].to(device)).last_hidden_state
        pieces, targets = [], []  # flat piece position in ``hidden`` → flat token position in the output
        for row, (sentence, first_word, _) in enumerate(windows):
            seen: set[int] = set()
            for position, word in enumerate(encoding.word_ids(row)):
                if word is None or (self.pooling == "first" and word in seen):
                    continue
                seen.add(word)
                pieces.append(row * hidden.shape[1] + position)
                targets.append(sentence * width + first_word + word)
        pieces_index = torch.tensor(pieces, device=device)
        targets_index = torch.tensor(targets, device=device)
        flat = hidden.reshape(-1, hidden.shape[2])[pieces_index]
        summed = flat.new_zeros(len(sentences) * width, flat.shape[1]).index_add(0, targets_index, flat)
        if self.pooling == "mean":
            counts = torch.zeros(len(sentences) * width, device=device).index_add(
                0, targets_index, torch.ones(len(targets), device=device))
            summed = summed / counts.clamp(min=1).unsqueeze(1).to(summed.dtype)
        return summed.view(len(sentences), width, -1)

    def _windows(self, sentences: Sequence[Sequence[str]]) -> list[tuple[int, int, list[str]]]:
        """(sentence, index of its first token, tokens) per model input: a whole sentence where its pieces
        fit the model's positions, else consecutive token windows that do; tokens without pieces as unknown."""
        counts = self.tokenizer([list(s) for s in sentences], is_split_into_words=True, add_special_tokens=False)
        windows = []
        for index, sentence in enumerate(sentences):
            per_word = [0] * len(sentence)
            for word in counts.word_ids(index):
                per_word[word] += 1
            words = [w if n else self.tokenizer.unk_token for w, n in zip(sentence, per_word)]
            start, used = 0, 0
            for position, n in enumerate(per_word):
                n = max(n, 1)
                if used + n > self.max_pieces and position > start:
                    windows.append((index, start, words[start:position]))
                    start, used = position, 0
                used += n
            windows.append((index, start, words[start:]))
        return windows


def load_pretrained(name: str) -> tuple[nn.Module, Any]:
    """The model and its fast tokenizer from a local directory or the hub; a name that cannot be loaded
    is the user's to fix (ConfigError), with what to pass instead."""
    try:
        from transformers import AutoModel, AutoTokenizer
    except ImportError:
        raise ConfigError("token embedder 'pretrained_transformer' needs Hugging Face transformers: "
                          "pip install 'sparse-sharing[transformers]'") from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        model = AutoModel.from_pretrained(name)
    except (OSError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"pretrained_transformer model_name '{name}' could not be loaded ({reason}): pass a local "
                          f"directory holding the model and its tokenizer (written by save_pretrained), or a hub name "
                          f"that this machine can reach") from None
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError(f"pretrained_transformer model_name '{name}' has no fast tokenizer (tokenizer.json), "
                          f"which maps pieces back to tokens: save the model with a fast tokenizer")
    return model, tokenizer


def max_pieces(model: nn.Module, tokenizer: Any) -> int:
    """The longest input the model takes, in pieces, special tokens included."""
    limits = [getattr(model.config, "max_position_embeddings", None), getattr(tokenizer, "model_max_length", None)]
    return min(int(limit) for limit in limits if limit)


def linear_weight_names(model: nn.Module, prefix: str) -> list[str]:
    """The weight of every ``nn.Linear`` of ``model`` outside its embeddings and pooler, as ``prefix`` + name."""
    return [f"{prefix}{name}.weight" for name, module in model.named_modules()
            if isinstance(module, nn.Linear) and not any(part in name.split(".") for part in NOT_PRUNABLE_PARTS)]
