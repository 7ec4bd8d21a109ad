"""A Transformer encoder (Vaswani et al. 2017) over the embedded tokens, written with ``nn.Linear`` parts.

Why not ``nn.TransformerEncoderLayer``: sparse sharing masks a weight by putting W ⊙ M_t in the
parameter's place for the call (``sharing.sparse.WeightSlots``), so the masked tensor must be what
computes. ``nn.MultiheadAttention`` keeps its input projection as one ``in_proj_weight`` read by a
functional call, and the encoder layer's inference fast path (``torch._transformer_encoder_layer_fwd``)
and nested tensors take other routes depending on mode, dtype and mask; here every weight is an
``nn.Linear`` that reads ``self.weight`` on every forward, whatever the mode, and the parameter names
say what a mask covers (``layers.0.attention.in_proj.weight``). The attention itself is
``F.scaled_dot_product_attention``, torch's fused kernel.

Layers follow the layered-encoder contract: ``run_layer(0, …)`` projects the embedded tokens to
``hidden_size`` and adds positions before the first layer, so ``hierarchical``, ``cross_stitch``
and ``sluice`` read and mix this encoder's layers as they do BiLSTM layers. Every layer's output
is zero at padding, as the BiLSTM's is.
"""
from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from sparse_sharing.components.dropout import Dropout
from sparse_sharing.errors import DataError
from sparse_sharing.registry import ENCODERS, ComponentConfig

# What sparse sharing prunes by default (relative to the encoder): the attention's input and
# output projections and both feed-forward matrices; never the input projection, positions,
# norms or biases.
TRANSFORMER_PRUNABLE: tuple[str, ...] = (
    "layers.*.attention.in_proj.weight",
    "layers.*.attention.out_proj.weight",
    "layers.*.feed_forward.linear1.weight",
    "layers.*.feed_forward.linear2.weight",
)


class TransformerConfig(ComponentConfig):
    type: Literal["transformer"]
    num_layers: int = Field(2, gt=0, description="Stacked Transformer layers.")
    hidden_size: int = Field(128, gt=0, description="Model width: every layer's input and output size.")
    num_heads: int = Field(4, gt=0, description="Attention heads; must divide hidden_size.")
    ffn_size: int = Field(256, gt=0, description="Inner size of each layer's feed-forward block.")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="Dropout on attention weights, on each sublayer's "
                           "output before the residual sum, and on the input after positions are added.")
    norm: Literal["pre", "post"] = Field(
        "pre", description="pre: LayerNorm before each sublayer, inside the residual branch (trains without "
        "warm-up; a layer's output is the residual stream); post: LayerNorm after each residual sum, as the "
        "original Transformer.")
    positions: Literal["sinusoidal", "learned"] = Field(
        "sinusoidal", description="sinusoidal: fixed sine/cosine positions, any length; learned: an embedding "
        "per position up to max_positions.")
    max_positions: int = Field(512, gt=0, description="Longest sentence (in tokens) learned positions serve.")

    @model_validator(mode="after")
    def _heads_divide_width(self) -> "TransformerConfig":
        if self.hidden_size % self.num_heads:
            raise ValueError(f"num_heads ({self.num_heads}) must divide hidden_size ({self.hidden_size})")
        return self


@ENCODERS.register("transformer", config=TransformerConfig)
class TransformerEncoder(nn.Module):
    """Input projection and positions, then ``num_layers`` self-attention + feed-forward layers."""

    prunable = TRANSFORMER_PRUNABLE

    def __init__(self, config: TransformerConfig, input_dim: int) -> None:
        super().__init__()
        self.input_projection = nn.Linear(input_dim, config.hidden_size)
        self.positions = config.positions
        self.max_positions = config.max_positions
        if config.positions == "learned":
            self.position_embedding = nn.Embedding(config.max_positions, config.hidden_size)
            nn.init.normal_(self.position_embedding.weight, std=0.02)
        self.input_dropout = Dropout(config.dropout)
        self.layers = nn.ModuleList(TransformerLayer(config) for _ in range(config.num_layers))
        self.output_dim = config.hidden_size

    def run_layer(self, index: int, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Layer ``index`` over ``x`` [B, T, D] (layer 0 reads the embedded tokens); zero at padding."""
        real = torch.arange(x.shape[1], device=x.device).unsqueeze(0) < lengths.to(x.device).unsqueeze(1)
        if index == 0:
            x = self.input_dropout(self.input_projection(x) + self._position_vectors(x.shape[1], x))
        return self.layers[index](x, real).masked_fill(~real.unsqueeze(2), 0.0)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        for index in range(len(self.layers)):
            x = self.run_layer(index, x, lengths)
        return x

    def _position_vectors(self, steps: int, like: torch.Tensor) -> torch.Tensor:
        if self.positions == "sinusoidal":
            return sinusoidal_positions(steps, self.output_dim, like)
        if steps > self.max_positions:
            raise DataError(f"a sentence of {steps} tokens is longer than the transformer encoder's learned "
                            f"positions serve: raise model.encoder.max_positions (now {self.max_positions}) or use "
                            f"positions: 'sinusoidal'")
        return self.position_embedding.weight[:steps]


class TransformerLayer(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.attention = SelfAttention(config.hidden_size, config.num_heads, config.dropout)
        self.feed_forward = FeedForward(config.hidden_size, config.ffn_size)
        self.attention_norm = nn.LayerNorm(config.hidden_size)
        self.feed_forward_norm = nn.LayerNorm(config.hidden_size)
        self.dropout = Dropout(config.dropout)
        self.pre_norm = config.norm == "pre"

    def forward(self, x: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """``x`` [B, T, D]; ``real`` [B, T] True at the sentences' tokens (the keys attention may read)."""
        if self.pre_norm:
            x = x + self.dropout(self.attention(self.attention_norm(x), real))
            return x + self.dropout(self.feed_forward(self.feed_forward_norm(x)))
        x = self.attention_norm(x + self.dropout(self.attention(x, real)))
        return self.feed_forward_norm(x + self.dropout(self.feed_forward(x)))

    def output_weights(self) -> list[torch.Tensor]:
        """The matrices whose rows write this layer's output units (besides the residual): what a sluice
        network's orthogonality penalty cuts into subspaces."""
        return [self.attention.out_proj.weight, self.feed_forward.linear2.weight]


class SelfAttention(nn.Module):
    """Multi-head self-attention: one input projection for queries, keys and values, one output projection."""

    def __init__(self, hidden_size: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.dropout = dropout
        self.in_proj = nn.Linear(hidden_size, 3 * hidden_size)
        self.out_proj = nn.Linear(hidden_size, hidden_size)

    def forward(self, x: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        batch, steps, width = x.shape
        heads = self.in_proj(x).view(batch, steps, 3, self.num_heads, width // self.num_heads)
        query, key, value = heads.permute(2, 0, 3, 1, 4).unbind(0)  # each [B, heads, T, head size]
        attended = F.scaled_dot_product_attention(
            query, key, value, attn_mask=real[:, None, None, :],
            dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(attended.transpose(1, 2).reshape(batch, steps, width))


class FeedForward(nn.Module):
    def __init__(self, hidden_size: int, ffn_size: int) -> None:
        super().__init__()
        self.linear1 = nn.Linear(hidden_size, ffn_size)
        self.linear2 = nn.Linear(ffn_size, hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(F.gelu(self.linear1(x)))


def sinusoidal_positions(steps: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """[steps, width] sine and cosine position codes (Vaswani et al. 2017), in ``like``'s dtype and device."""
    position = torch.arange(steps, device=like.device, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, width, 2, device=like.device, dtype=torch.float32)
                          * (-math.log(10000.0) / width))
    codes = torch.zeros(steps, width, device=like.device)
    codes[:, 0::2] = torch.sin(position * frequency)
    codes[:, 1::2] = torch.cos(position * frequency[: width // 2])
    return codes.to(like.dtype)
