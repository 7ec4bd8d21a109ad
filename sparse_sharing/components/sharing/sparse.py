"""Sparse sharing (Sun, Shao et al., AAAI 2020) and its single-task control.

``sparse``: one trunk for every task; task t runs the subnetwork W ⊙ M_t over the prunable
tensors (default: what the trunk's components declare in their ``prunable`` attribute: the LSTM
weight matrices and the char-conv weight, a transformer's attention and feed-forward matrices) and the full trunk
elsewhere (embeddings, biases). With all-ones masks, the state before ``set_masks``, it computes
exactly what ``hard`` computes. ``single_subnet``: one trunk per task, each run as W ⊙ M_t
with its own mask, i.e. each task trained alone on the subnet its search found.

Masks are applied functionally: W ⊙ M_t is substituted for the stored W during the call only
(``WeightSlots``, what ``torch.func.functional_call`` does, with the places resolved once). The
stored weights are never overwritten to apply a mask and the state dict is never copied per
batch (the authors' code deep-copied it every batch), and autograd gives
∂L/∂W = M_t ⊙ ∂L/∂(W ⊙ M_t): zero outside M_t.

No-leak policy: a step of task t leaves every weight outside M_t bit-for-bit unchanged, under
any optimizer. A zero gradient alone does not ensure that: momentum carries earlier updates,
and weight decay (coupled, or AdamW's decoupled) moves weights with no gradient at all. So
  1. each task has its own optimizer, with its own state (the authors shared one SGD with
     momentum, so task u's momentum moved task t's pruned weights on t's steps);
  2. ``step`` zeroes the gradient of every masked tensor outside M_t before the update, so the
     task's optimizer state stays clean;
  3. ``step`` then puts back the pre-step value of every entry outside M_t, which undoes weight
     decay and any other update the optimizer makes without a gradient.
Steps (2) and (3) cost a pass over every masked tensor per step, so they are skipped where they
provably change nothing: the forward reads a masked W only as W ⊙ M_t, so autograd's gradient
is exactly zero outside M_t (no loss term of these strategies reads the raw weights), and SGD,
Adam and AdamW with no weight decay move an entry whose gradient and state are zero by exactly
zero. The state outside M_t is zero once the task's first step after ``set_masks`` (or a
resume) has run the full path and cleared it, and stays zero because only masked gradients feed
it. Any other optimizer, or any weight decay, keeps the full path.
Unmasked parameters (embeddings, biases) are shared densely, as in hard sharing. The price of
(1) is that with momentum or Adam, all-ones masks give per-task optimizer state where ``hard``
shares one: the same updates as ``hard`` for one task or for stateless SGD, not otherwise.

``sparse`` with ``optimizers: shared`` gives up the no-leak guarantee on purpose, to train as
the authors' ``train_mtl.py`` does: one optimizer for all tasks (their SGD with momentum),
stepped on the task's gradient, zero outside M_t (their ``mask_grad``; here autograd's), with
nothing put back, so the shared momentum (or weight decay) moves weights outside M_t. It exists to
measure whether the leak-free optimisation changes the scores.

Masks are buffers (``masks.<task>.<name with . as __>``), so checkpoints carry them; the trunk's
parameter names are those of ``hard`` (``trunk.…``) and ``single`` (``trunks.<task>.…``), so
their state dicts load with ``strict=False`` (a hard-sharing warm-up to rewind to, say). Loading
a state dict also loads its masks: when rewinding weights, call ``set_masks`` afterwards.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Literal, Mapping, Sequence

import torch
from pydantic import Field
from torch import nn

from sparse_sharing.components.data.batching import Batch
from sparse_sharing.components.masks.mask_set import MaskSet, Shape, prunable_parameters
from sparse_sharing.components.sharing.base import SharingStrategy
from sparse_sharing.components.sharing.trunk import Trunk, TrunkFactory
from sparse_sharing.errors import ConfigError
from sparse_sharing.registry import SHARING, ComponentConfig


class MaskedSharingConfig(ComponentConfig):
    prunable: list[str] | None = Field(
        None, min_length=1,
        description="Glob patterns over trunk parameter names (e.g. 'encoder.layers.0.weight_ih_l0'): the tensors "
        "each task masks. Default (null): what the trunk's components declare: every LSTM weight matrix and the "
        "char-conv weight, as the paper; a transformer encoder's attention in/out projections and feed-forward "
        "matrices; a pretrained_transformer's layer matrices when its `prunable` is true; for a component that "
        "declares nothing, '*weight_ih*', '*weight_hh*' and '*conv.weight'.")


class TaskMasks(nn.Module):
    """One task's masks as bool buffers, so that ``state_dict`` saves and restores them, each with a
    copy in the weights' dtype for the forward: W * bool would convert the mask on every call.
    The copies are non-persistent buffers (they follow ``.to(device)``, stay out of checkpoints)
    and are refreshed whenever the bool masks change: ``assign`` and ``load_state_dict``."""

    def __init__(self, shapes: Mapping[str, Shape]) -> None:
        super().__init__()
        self.names = list(shapes)
        for name, shape in shapes.items():
            self.register_buffer(_buffer_key(name), torch.ones(shape, dtype=torch.bool))
            self.register_buffer(_multiplier_key(name), torch.ones(shape), persistent=False)
        self.register_load_state_dict_post_hook(lambda module, _: module._refresh_multipliers())

    def get(self, name: str) -> torch.Tensor:
        return getattr(self, _buffer_key(name))

    def multiplier(self, name: str) -> torch.Tensor:
        """The mask as 0/1 in the weights' dtype: what the forward multiplies the weight by."""
        return getattr(self, _multiplier_key(name))

    def multipliers(self) -> list[torch.Tensor]:
        """Every multiplier, in the order of ``names``."""
        return [self.multiplier(name) for name in self.names]

    def as_dict(self) -> dict[str, torch.Tensor]:
        return {name: self.get(name) for name in self.names}

    @torch.no_grad()
    def assign(self, masks: Mapping[str, torch.Tensor]) -> None:
        for name in self.names:
            self.get(name).copy_(masks[name])
        self._refresh_multipliers()

    @torch.no_grad()
    def _refresh_multipliers(self) -> None:
        for name in self.names:
            self.multiplier(name).copy_(self.get(name))


class MaskedSharing(SharingStrategy):
    """What ``sparse`` and ``single_subnet`` share; they differ only in which trunk serves which tasks."""

    def __init__(self, config: MaskedSharingConfig, tasks: Sequence[str]) -> None:
        super().__init__()
        self.tasks = list(tasks)
        self.patterns = None if config.prunable is None else list(config.prunable)

    def trunk_of(self, task: str) -> Trunk:
        raise NotImplementedError

    def trunk_groups(self) -> list[tuple[Trunk, list[str]]]:
        """Each trunk with the tasks that run on it."""
        raise NotImplementedError

    def _init_masks(self) -> None:
        """Called by subclasses once their trunks exist: finds the masked tensors, masks them all-ones."""
        trunk = self.trunk_of(self.tasks[0])
        if self.patterns is None:
            self.patterns = trunk.declared_prunable()
            if not self.patterns:
                raise ConfigError("model.sharing.prunable is not set and no component of the trunk declares prunable "
                                  "weights: give glob patterns over the trunk's parameters: "
                                  f"{', '.join(name for name, _ in trunk.named_parameters())}")
        params = prunable_parameters(trunk, self.patterns)
        if not params:
            raise ConfigError(f"the prunable patterns {self.patterns} match no parameter of the trunk; its "
                              f"parameters are: {', '.join(name for name, _ in trunk.named_parameters())}")
        self.masked_names = list(params)
        self._slots: dict[str, WeightSlots] = {}
        for trunk, tasks in self.trunk_groups():
            self._slots.update(dict.fromkeys(tasks, WeightSlots(trunk, self.masked_names)))
        # Tasks whose optimizer state is known to be zero outside their mask (see ``step``);
        # not module state: a new process re-establishes it with one full step.
        self._clean_state: set[str] = set()
        self.register_load_state_dict_post_hook(lambda module, _: module._clean_state.clear())
        self.masks = nn.ModuleDict({task: TaskMasks(self.mask_shapes()) for task in self.tasks})

    # ------------------------------------------------------------------ masks
    def mask_shapes(self) -> dict[str, Shape]:
        """Name → shape of the masked tensors, as ``MaskSet.load`` expects them."""
        trunk = self.trunk_of(self.tasks[0])
        return {name: tuple(trunk.get_parameter(name).shape) for name in self.masked_names}

    def prunable_weights(self, task: str) -> dict[str, nn.Parameter]:
        """The stored (unmasked) tensors task ``task`` masks, by trunk-relative name: what a pruner ranks."""
        trunk = self.trunk_of(task)
        return {name: trunk.get_parameter(name) for name in self.masked_names}

    def set_masks(self, mask_set: MaskSet) -> None:
        """Copy each served task's mask into its buffers; tasks of ``mask_set`` not served are ignored."""
        missing = [t for t in self.tasks if t not in mask_set]
        if missing:
            raise ConfigError(f"no mask for task(s) {missing}; the masks cover {mask_set.tasks}")
        expected = self.mask_shapes()
        if mask_set.shapes != expected:
            raise ConfigError(f"the masks cover {mask_set.shapes} but this model masks {expected}: were they "
                              f"searched with another model config or other prunable patterns?")
        for task in self.tasks:
            self.masks[task].assign(mask_set[task])
        self._clean_state.clear()

    def mask_set(self) -> MaskSet:
        """A copy of the current masks of every served task."""
        return MaskSet({task: {n: m.clone() for n, m in self.masks[task].as_dict().items()} for task in self.tasks})

    # ------------------------------------------------------------- training
    def forward(self, batch: Batch, task: str) -> torch.Tensor:
        slots = self._slots[task]
        # One fused multiply over all masked tensors (one kernel launch on CUDA); autograd
        # differentiates it like the per-tensor product.
        masked = torch._foreach_mul(slots.weights(), self.masks[task].multipliers())
        with slots.substituted(masked):
            return self.trunk_of(task)(batch)

    def output_dim(self, task: str) -> int:
        return self.trunk_of(task).output_dim

    def build_optimizers(
        self, build: Callable[[list[nn.Parameter]], torch.optim.Optimizer], params: list[nn.Parameter],
        tasks: Sequence[str],
    ) -> dict[str, torch.optim.Optimizer]:
        """One optimizer per task, so no task's optimizer state (momentum, Adam moments) acts on another's step."""
        return {task: build(params) for task in tasks}

    def step(self, task: str, optimizer: torch.optim.Optimizer) -> None:
        """The optimizer's step, confined to M_t on the masked tensors (see the module's no-leak policy)."""
        gradient_only = _moves_only_by_gradient(optimizer)
        if gradient_only and task in self._clean_state:
            optimizer.step()
            return
        masks = self.masks[task].as_dict()
        weights = self.prunable_weights(task)
        with torch.no_grad():
            for name, weight in weights.items():
                if weight.grad is not None:
                    weight.grad.masked_fill_(~masks[name], 0.0)
            before = {name: weight.detach().clone() for name, weight in weights.items()}
            optimizer.step()
            for name, weight in weights.items():
                weight.copy_(torch.where(masks[name], weight, before[name]))
            if gradient_only:
                for name, weight in weights.items():
                    for value in optimizer.state.get(weight, {}).values():
                        if isinstance(value, torch.Tensor) and value.shape == weight.shape:
                            value.masked_fill_(~masks[name], 0.0)
                self._clean_state.add(task)

    # ------------------------------------------------------------- counting
    def paper_parameter_count(self) -> int:
        """The paper's count: each masked tensor counts the entries some task of its trunk keeps;
        the other counted parameters (LSTM and conv biases) count whole."""
        masked: dict[int, int] = {}
        for trunk, tasks in self.trunk_groups():
            union = MaskSet({t: self.masks[t].as_dict() for t in tasks}).union_count_per_tensor()
            masked.update({id(trunk.get_parameter(name)): kept for name, kept in union.items()})
        return sum(masked.get(id(p), p.numel()) for p in self.paper_parameters())


class SparseSharingConfig(MaskedSharingConfig):
    type: Literal["sparse"]
    optimizers: Literal["per_task", "shared"] = Field(
        "per_task", description="per_task: each task its own optimizer state, and a step of task t leaves every "
        "weight outside M_t unchanged. shared: one optimizer for all tasks, as the authors' train_mtl.py; its "
        "momentum (or weight decay) then moves weights outside M_t: it breaks the no-leak guarantee on purpose.")


@SHARING.register("sparse", config=SparseSharingConfig)
class SparseSharing(MaskedSharing):
    def __init__(self, config: SparseSharingConfig, trunk_factory: TrunkFactory, tasks: list[str]) -> None:
        super().__init__(config, tasks)
        self.trunk = trunk_factory()
        self.shared_optimizer = config.optimizers == "shared"
        self._init_masks()

    def build_optimizers(
        self, build: Callable[[list[nn.Parameter]], torch.optim.Optimizer], params: list[nn.Parameter],
        tasks: Sequence[str],
    ) -> dict[str, torch.optim.Optimizer]:
        """One optimizer per task; with ``optimizers: shared`` one for all, as the authors' code."""
        if self.shared_optimizer:
            return SharingStrategy.build_optimizers(self, build, params, tasks)
        return super().build_optimizers(build, params, tasks)

    def step(self, task: str, optimizer: torch.optim.Optimizer) -> None:
        """With ``optimizers: shared``, the authors' step: the shared optimizer's plain step, whose momentum
        may move weights outside M_t (the gradient there is already zero, as their ``mask_grad`` makes it:
        the forward reads only W ⊙ M_t); else the leak-free step."""
        if self.shared_optimizer:
            optimizer.step()
        else:
            super().step(task, optimizer)

    def trunk_of(self, task: str) -> Trunk:
        return self.trunk

    def trunk_groups(self) -> list[tuple[Trunk, list[str]]]:
        return [(self.trunk, self.tasks)]


class SingleSubnetConfig(MaskedSharingConfig):
    type: Literal["single_subnet"]


@SHARING.register("single_subnet", config=SingleSubnetConfig)
class SingleSubnet(MaskedSharing):
    """The control that separates the effect of pruning from the effect of sharing."""

    def __init__(self, config: SingleSubnetConfig, trunk_factory: TrunkFactory, tasks: list[str]) -> None:
        super().__init__(config, tasks)
        self.trunks = nn.ModuleDict({task: trunk_factory() for task in tasks})
        self._init_masks()

    def trunk_of(self, task: str) -> Trunk:
        return self.trunks[task]

    def trunk_groups(self) -> list[tuple[Trunk, list[str]]]:
        return [(self.trunks[task], [task]) for task in self.tasks]


class WeightSlots:
    """Where each masked tensor of a trunk lives, as (submodule, attribute), resolved once.

    ``substituted`` puts tensors in the parameters' places for the duration of a call, exactly as
    ``torch.func.functional_call`` does (``_parameters[name] = tensor``, which modules such as
    ``nn.LSTM`` re-read on every forward), without resolving dotted names and checking ties on
    every call: on a training step that bookkeeping cost about 1 % of the step.
    """

    def __init__(self, trunk: nn.Module, names: Sequence[str]) -> None:
        self.places = []
        for name in names:
            owner, _, attribute = name.rpartition(".")
            self.places.append((trunk.get_submodule(owner), attribute))

    def weights(self) -> list[torch.Tensor]:
        """The stored tensors, read at each call (``.to(device)`` and loading may replace them)."""
        return [module._parameters[attribute] for module, attribute in self.places]

    @contextmanager
    def substituted(self, tensors: Sequence[torch.Tensor]) -> Iterator[None]:
        stored = self.weights()
        try:
            for (module, attribute), tensor in zip(self.places, tensors):
                module._parameters[attribute] = tensor
            yield
        finally:
            for (module, attribute), weight in zip(self.places, stored):
                module._parameters[attribute] = weight


def _moves_only_by_gradient(optimizer: torch.optim.Optimizer) -> bool:
    """True where an entry with zero gradient and zero state is left exactly as it was."""
    return (type(optimizer) in (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW)
            and all(group.get("weight_decay", 0) == 0 for group in optimizer.param_groups))


def _buffer_key(name: str) -> str:
    """Buffer names cannot contain dots."""
    return name.replace(".", "__")


def _multiplier_key(name: str) -> str:
    return f"{_buffer_key(name)}__multiplier"
