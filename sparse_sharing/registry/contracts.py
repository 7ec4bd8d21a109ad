"""What a component of each kind must provide: one written contract per kind.

A registry checks a registered class for the contract's methods, and what its factory builds
against the whole contract (attributes included), so a plugin that does not fit fails at
once with the names it lacks (``sparse_sharing.errors.PluginError``). The built-in base
classes (``SharingStrategy``, ``Metric``, ``Callback``, ``TaskSampler``, ``Pruner``,
``MaskSource``) meet their contracts and are the easy way to write a new component. A contract
that has such a base class is named for it with ``Contract`` after (``TaskSamplerContract``), so
one name never means both; the contracts' former names still import, with a
``PluginDeprecationWarning``.

Each contract also says what its factory is called with: ``factory(config, **runtime)``,
where the runtime keywords are fixed per kind and listed below. Types the contracts cannot
name without importing upper layers (a batch, a sentence, a vocabulary) are ``Any`` here and
described in words; see docs/plugins.md.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Collection, Mapping, Protocol, Sequence, runtime_checkable

import torch

from sparse_sharing.registry.versions import PluginDeprecationWarning


@runtime_checkable
class DatasetReader(Protocol):
    """Built as ``factory(config)``. Reads one task's files into ``Sentence``s
    (``sparse_sharing.components.data.sentence``): words, tags (None without tags), a source."""

    tag_scheme: str  # the scheme the task trains and is scored in: 'bio', 'bioes', 'iob1' or 'none'

    def read(self, path: str, with_tags: bool = True) -> list[Any]:
        """Every sentence of the file; a malformed line raises DataError naming file and line."""

    def read_words(self, path: str) -> list[Any]:
        """Sentences of a file of tokens to tag (``ssl predict``), without tags."""


@runtime_checkable
class ClosedLabelReader(DatasetReader, Protocol):
    """A reader whose label set the training split closes (``position``: positions up to the
    longest training sentence). Optional: where a reader has it, its dev and test sentences, and
    any file ``ssl evaluate`` scores, pass through it with the labels training saw."""

    def close_labels(self, sentences: Sequence[Any], training_labels: Collection[str]) -> list[Any]:
        """The sentences with each label outside ``training_labels`` replaced by one inside."""


@runtime_checkable
class TokenEmbedder(Protocol):
    """Built as ``factory(config, vocab=Vocabulary)``; an ``nn.Module``.

    Optional, for this and ``Encoder``: ``prunable``, glob patterns over the component's own
    parameter names that masked strategies prune when ``model.sharing.prunable`` is not given
    (without it: ``*weight_ih*``, ``*weight_hh*``, ``*conv.weight``, the former default).
    """

    output_dim: int

    def forward(self, batch: Any) -> torch.Tensor:
        """(batch, tokens, output_dim) vectors for a ``Batch`` (word ids, char ids, lengths)."""


@runtime_checkable
class Encoder(Protocol):
    """Built as ``factory(config, input_dim=int)``; an ``nn.Module`` contextualising the embedded tokens."""

    output_dim: int

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(batch, tokens, input_dim) → (batch, tokens, output_dim); positions past ``lengths`` are padding."""


@runtime_checkable
class LayeredEncoder(Encoder, Protocol):
    """An encoder that layer-wise strategies (hierarchical, cross_stitch, sluice) can run one layer at a time.

    Every layer's output has ``output_dim`` features; ``forward`` is running all layers in turn.
    ``sluice`` also needs each layer to be a one-layer bidirectional torch RNN or to define
    ``output_weights()`` (the matrices whose rows write the layer's output units).
    """

    layers: Sequence[torch.nn.Module]

    def run_layer(self, index: int, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Layer ``index`` (from 0) on its input, dropout included."""


@runtime_checkable
class Head(Protocol):
    """Built as ``factory(config, input_dim=int, labels=list[str], tag_scheme=str)``; an ``nn.Module``."""

    def loss(self, features: torch.Tensor, tags: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        """Scalar training loss over the real tokens (``padding_mask``)."""

    def decode(self, features: torch.Tensor, padding_mask: torch.Tensor) -> list[list[int]]:
        """Label ids per sentence, each as long as the sentence."""


@runtime_checkable
class SharingStrategyContract(Protocol):
    """Built as ``factory(config, trunk_factory=() -> Trunk, tasks=list[str])``; an ``nn.Module``.

    The only thing that knows how tasks share. Subclass
    ``sparse_sharing.components.sharing.base.SharingStrategy``, which supplies all but
    ``forward`` and ``output_dim``.
    """

    def forward(self, batch: Any, task: str) -> torch.Tensor:
        """Features of ``task``'s head for the batch."""

    def forward_with_penalty(self, batch: Any, task: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features plus a term added to the task's loss (None for none)."""

    def output_dim(self, task: str) -> int:
        """Feature size ``task``'s head reads."""

    def summaries(self) -> dict[str, float]:
        """Learned sharing weights to log, by name."""

    def build_optimizers(self, build: Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer],
                         params: list[torch.nn.Parameter], tasks: Sequence[str]) -> dict[str, torch.optim.Optimizer]:
        """Task → optimizer (one shared optimizer, or per-task state)."""

    def step(self, task: str, optimizer: torch.optim.Optimizer) -> None:
        """Apply the task's update; the place to constrain it."""

    def paper_parameters(self) -> list[torch.nn.Parameter]:
        """Parameters the paper's tables count."""


@runtime_checkable
class MaskedSharingContract(SharingStrategyContract, Protocol):
    """A strategy whose tasks run under per-task masks; the run finds them through a mask source."""

    def prunable_weights(self, task: str) -> dict[str, torch.Tensor]:
        """The tensors ``task``'s mask covers, by trunk-relative name."""

    def mask_shapes(self) -> dict[str, tuple[int, ...]]:
        """Name → shape of every masked tensor."""

    def set_masks(self, masks: Any) -> None:
        """Run every task under its mask from now on (a ``MaskSet``)."""


@runtime_checkable
class TaskSamplerContract(Protocol):
    """Built as ``factory(config, sizes={task: batches per pass}, seed=int)``.

    Told the step about to run (0-based) and the epochs completed, so a schedule can anneal.
    ``state_dict()`` must hold only tensors, numbers, strings, lists and dicts: checkpoints are
    read back with ``torch.load(weights_only=True)``, and the trainer checks it when it starts.
    """

    def next_task(self, step: int, epoch: int) -> str:
        """The task whose batch runs at ``step``."""

    def state_dict(self) -> dict[str, Any]:
        """Everything ``next_task`` depends on, for --resume."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()``'s state."""


@runtime_checkable
class MetricContract(Protocol):
    """Built as ``factory(config)``; subclass ``sparse_sharing.components.metrics.base.Metric``."""

    def reset(self) -> None:
        """Forget everything seen."""

    def update(self, predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> None:
        """Add a batch of sentences' tags."""

    def compute(self) -> dict[str, float]:
        """Figures in percent; ``"score"`` is the one model selection compares."""


@runtime_checkable
class CallbackContract(Protocol):
    """Built as ``factory(config)``; subclass ``sparse_sharing.components.callbacks.base.Callback``
    (every hook optional there). ``state_dict`` goes into checkpoints (weights_only-safe values)."""

    def on_train_start(self, trainer: Any) -> None: ...

    def on_step_end(self, trainer: Any, task: str, loss: float, num_tokens: int) -> None: ...

    def on_evaluation(self, trainer: Any, record: dict[str, Any], improved: list[str]) -> None: ...

    def on_epoch_end(self, trainer: Any) -> None: ...

    def on_train_end(self, trainer: Any) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@runtime_checkable
class PrunerContract(Protocol):
    """Built as ``factory(config)``. One round of iterative pruning: which kept weights go.

    A config field ``rounds`` (the schedule's length) becomes the search's default round count.
    """

    def prune(self, weights: Mapping[str, torch.Tensor], mask: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A new mask (bool, True = kept, a subset of ``mask``); the inputs are not modified."""


@runtime_checkable
class SelectionRule(Protocol):
    """Built as ``factory(config)``. Which search round's mask a task keeps.

    A rule may also define ``check_tasks(tasks)``, called with the run's tasks before anything is
    searched (by ``ssl train`` and ``ssl validate``), to refuse a config that cannot serve them.
    """

    def choose(self, records: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
        """One of ``records`` (one task's candidates, each with ``task``, ``round``, ``kept_fraction``,
        ``dev_score``), round 0 first."""


@runtime_checkable
class MaskSourceContract(Protocol):
    """Built as ``factory(config)``. Where each task's mask of a masked strategy comes from.

    The runner (``sparse_sharing.training.runner``) calls ``find`` once per task (in a
    worker process when ``jobs`` > 1) with a ``MaskContext`` that can train the task under a
    mask; ``find`` returns the chosen mask and the metadata of its report. A source keeps its
    intermediate files under ``context.paths`` and skips what they already hold, so --resume
    redoes only unfinished work. Subclass ``sparse_sharing.components.masks.source.MaskSource``.
    """

    needs_rewind_point: bool  # whether the runner makes θ0 (and θw after a warm-up) before ``find``
    warmup_steps: int  # multi-task warm-up steps before the search (0: none)
    jobs: int  # tasks searched at once

    def find(self, task: str, context: Any) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The task's mask (trunk-relative name → bool tensor, True = kept) and its report metadata."""


@runtime_checkable
class PretrainedVectors(Protocol):
    """Built as ``factory(config)`` from a ``{source: NAME, ...}`` block of a word embedder."""

    def load(self) -> tuple[tuple[str, ...], Any]:
        """The words and a (words, dim) float array of their vectors, in the same order."""


# The contracts' former names, which the base classes share; they still import, for one release.
_FORMER_NAMES = {name: f"{name}Contract" for name in (
    "SharingStrategy", "MaskedSharing", "MaskSource", "Callback", "Metric", "TaskSampler", "Pruner")}


def __getattr__(name: str) -> Any:
    if name in _FORMER_NAMES:
        new = _FORMER_NAMES[name]
        warnings.warn(f"sparse_sharing.registry.contracts.{name} is now {new} ({name} names the base class a "
                      f"plugin subclasses); the old name will be removed in a later release",
                      PluginDeprecationWarning, stacklevel=2)
        return globals()[new]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
