"""Sparse sharing: masked forward, no leak across tasks under stateful optimizers, parity with hard sharing."""
from __future__ import annotations

import copy

import pytest
import torch

import tiny_trunks
from sparse_sharing.components.masks import MaskSet
from sparse_sharing.components.sharing.base import SharingStrategy
from sparse_sharing.components.sharing.sparse import MaskedSharing
from sparse_sharing.components.sharing.trunk import Trunk
from sparse_sharing.errors import ConfigError
from tiny_trunks import batch

TASKS = ["ner", "pos"]


def strategy(type_: str, tasks: list[str] = TASKS, **options) -> SharingStrategy:
    return tiny_trunks.strategy(type_, tasks, **options)


def random_masks(sharing: MaskedSharing, keep: float = 0.5, seed: int = 0) -> MaskSet:
    generator = torch.Generator().manual_seed(seed)
    return MaskSet({task: {n: torch.rand(s, generator=generator) < keep for n, s in sharing.mask_shapes().items()}
                    for task in sharing.tasks})


def loss(sharing: SharingStrategy, task: str, step: int) -> torch.Tensor:
    """Stands in for a head: a fixed, task-specific linear score of the features."""
    features = sharing(batch(step), task)
    weights = torch.randn(features.shape, generator=torch.Generator().manual_seed(len(task)))
    return (features * weights).sum()


def train_step(sharing: SharingStrategy, optimizers: dict, task: str, step: int) -> None:
    """What the trainer does, clipping included."""
    sharing.zero_grad(set_to_none=True)
    loss(sharing, task, step).backward()
    torch.nn.utils.clip_grad_norm_([p for p in sharing.parameters() if p.grad is not None], 5.0)
    sharing.step(task, optimizers[task])


def zeroed_copy(trunk: Trunk, masks: dict[str, torch.Tensor]) -> Trunk:
    dense = copy.deepcopy(trunk)
    with torch.no_grad():
        for name, mask in masks.items():
            dense.get_parameter(name).mul_(mask)
    return dense


def test_default_patterns_select_the_papers_tensors() -> None:
    sharing = strategy("sparse")
    names = sharing.masked_names
    assert "embedders.1.conv.weight" in names
    assert "encoder.layers.1.weight_hh_l0_reverse" in names
    assert len(names) == 1 + 2 * 2 * 2  # conv + 2 layers x 2 directions x (ih, hh)
    assert not any("bias" in n or "embedding" in n for n in names)


def test_patterns_matching_nothing_are_an_error() -> None:
    with pytest.raises(ConfigError, match="match no parameter"):
        strategy("sparse", prunable=["*nothing*"])


@pytest.mark.parametrize("encoder", ["bilstm", "transformer"])
@pytest.mark.parametrize("type_", ["sparse", "single_subnet"])
def test_masked_forward_equals_zeroed_weights(type_: str, encoder: str) -> None:
    sharing = strategy(type_, encoder=encoder)
    masks = random_masks(sharing)
    sharing.set_masks(masks)
    before = {n: p.clone() for n, p in sharing.state_dict().items()}
    for task in TASKS:
        dense = zeroed_copy(sharing.trunk_of(task), masks[task])
        assert torch.equal(sharing(batch(1), task), dense(batch(1)))
    assert not torch.equal(sharing(batch(1), "ner"), sharing(batch(1), "pos"))
    # the forward never writes the stored weights
    assert all(torch.equal(before[n], p) for n, p in sharing.state_dict().items())


@pytest.mark.parametrize("implementation", ["padded", "packed"])
def test_masked_weights_reach_both_lstm_paths_and_survive_a_deep_copy(implementation: str, monkeypatch) -> None:
    """The masked weights are put in the parameters' places: nn.LSTM's packed path re-reads them
    as the padded one does, a deep copy serves its own trunk, and the parameters are back after
    the call, also when the trunk raises."""
    sharing = strategy("sparse")
    masks = random_masks(sharing)
    sharing.set_masks(masks)
    sharing.trunk.encoder.implementation = implementation
    twin = copy.deepcopy(sharing)
    parameters = list(sharing.named_parameters())
    for model in (sharing, twin):
        dense = zeroed_copy(model.trunk_of("ner"), masks["ner"])
        assert torch.allclose(model(batch(1), "ner"), dense(batch(1)), atol=1e-6)
    with torch.no_grad():
        twin.trunk.encoder.layers[0].weight_hh_l0.add_(1.0)  # the copy's weights are its own
    assert not torch.allclose(twin(batch(1), "ner"), sharing(batch(1), "ner"))
    assert [(n, id(p)) for n, p in sharing.named_parameters()] == [(n, id(p)) for n, p in parameters]

    def fails(*args):
        raise RuntimeError("encoder failed")

    monkeypatch.setattr(sharing.trunk.encoder, "forward", fails)
    with pytest.raises(RuntimeError, match="encoder failed"):
        sharing(batch(1), "ner")
    assert [(n, id(p)) for n, p in sharing.named_parameters()] == [(n, id(p)) for n, p in parameters]
    assert all(isinstance(p, torch.nn.Parameter) for p in sharing.parameters())


OPTIMIZERS = {
    "sgd_momentum": lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=0.01),
    "adam": lambda params: torch.optim.Adam(params, lr=0.01, weight_decay=0.01),
    "adamw": lambda params: torch.optim.AdamW(params, lr=0.01, weight_decay=0.1),
    # no decay: the step skips the restore once the task's state is clean
    "sgd_momentum_no_decay": lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True),
    "adam_no_decay": lambda params: torch.optim.Adam(params, lr=0.01, amsgrad=True),
}


@pytest.mark.parametrize("encoder", ["bilstm", "transformer"])
@pytest.mark.parametrize("type_", ["sparse", "single_subnet"])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_no_leak_outside_the_task_mask(type_: str, optimizer: str, encoder: str) -> None:
    sharing = strategy(type_, encoder=encoder)
    masks = random_masks(sharing)
    sharing.set_masks(masks)
    optimizers = sharing.build_optimizers(OPTIMIZERS[optimizer], list(sharing.parameters()), TASKS)
    assert optimizers["ner"] is not optimizers["pos"]
    for step in range(8):
        before = step_and_check_no_leak(sharing, optimizers, masks, step)
        weights = sharing.prunable_weights(TASKS[step % 2])
        assert any(not torch.equal(w.detach(), before[n]) for n, w in weights.items())


def step_and_check_no_leak(sharing: MaskedSharing, optimizers: dict, masks: MaskSet, step: int) -> dict:
    """One training step of the step's task; every weight outside its mask must be unchanged.
    Returns the weights from before the step."""
    task = TASKS[step % 2]
    weights = sharing.prunable_weights(task)
    before = {n: w.detach().clone() for n, w in weights.items()}
    train_step(sharing, optimizers, task, step)
    for name, weight in weights.items():
        outside = ~masks[task][name]
        assert torch.equal(weight.detach()[outside], before[name][outside]), (step, task, name)
    return before


@pytest.mark.parametrize("optimizer", ["sgd_momentum_no_decay", "adam_no_decay"])
@pytest.mark.parametrize("change", ["set_masks", "load_state_dict"])
def test_no_leak_when_masks_shrink_after_the_state_exists(optimizer: str, change: str) -> None:
    """The skipped restore relies on zero state outside the mask; a mask change must re-clean it."""
    sharing = strategy("sparse")
    optimizers = sharing.build_optimizers(OPTIMIZERS[optimizer], list(sharing.parameters()), TASKS)
    for step in range(4):  # all-ones masks: momentum everywhere
        train_step(sharing, optimizers, TASKS[step % 2], step)
    masks = random_masks(sharing, seed=3)
    if change == "set_masks":
        sharing.set_masks(masks)
    else:
        target = strategy("sparse")
        target.set_masks(masks)
        state = {n: t for n, t in target.state_dict().items() if n.startswith("masks.")}
        sharing.load_state_dict(state, strict=False)
    for step in range(4, 10):
        step_and_check_no_leak(sharing, optimizers, masks, step)


def test_a_plain_step_would_leak() -> None:
    """The no-leak test can fail: without the restore, AdamW's decay moves pruned weights."""
    sharing = strategy("sparse")
    masks = random_masks(sharing)
    sharing.set_masks(masks)
    optimizer = OPTIMIZERS["adamw"](list(sharing.parameters()))
    before = {n: w.detach().clone() for n, w in sharing.prunable_weights("ner").items()}
    sharing.zero_grad(set_to_none=True)
    loss(sharing, "ner", 0).backward()
    SharingStrategy.step(sharing, "ner", optimizer)
    moved = [n for n, w in sharing.prunable_weights("ner").items()
             if not torch.equal(w.detach()[~masks["ner"][n]], before[n][~masks["ner"][n]])]
    assert moved


@pytest.mark.parametrize("encoder", ["bilstm", "transformer"])
@pytest.mark.parametrize("optimizer, tasks", [("sgd", TASKS), ("adam", ["ner"])])
def test_all_ones_masks_match_hard_sharing(optimizer: str, tasks: list[str], encoder: str) -> None:
    """Stateless SGD over two tasks, or one task under any optimizer: per-task state changes nothing."""
    build = {"sgd": lambda params: torch.optim.SGD(params, lr=0.1, weight_decay=0.01),
             "adam": OPTIMIZERS["adam"]}[optimizer]
    hard, sparse = strategy("hard", tasks, encoder=encoder), strategy("sparse", tasks, encoder=encoder)
    hard_optimizers = hard.build_optimizers(build, list(hard.parameters()), tasks)
    sparse_optimizers = sparse.build_optimizers(build, list(sparse.parameters()), tasks)
    for step in range(6):
        task = tasks[step % len(tasks)]
        assert torch.equal(hard(batch(step), task), sparse(batch(step), task))
        train_step(hard, hard_optimizers, task, step)
        train_step(sparse, sparse_optimizers, task, step)
        for name, p in hard.named_parameters():
            assert torch.equal(p, sparse.get_parameter(name)), (step, name)


def test_masks_are_state() -> None:
    sharing = strategy("sparse")
    masks = random_masks(sharing, seed=3)
    sharing.set_masks(masks)
    state = sharing.state_dict()
    assert "masks.ner.encoder__layers__0__weight_ih_l0" in state
    restored = strategy("sparse")
    restored.load_state_dict(state)
    for task in TASKS:
        for name, mask in restored.mask_set()[task].items():
            assert torch.equal(mask, masks[task][name])
    # a hard-sharing checkpoint (the multi-task warm-up) loads into the sparse trunk
    result = strategy("sparse").load_state_dict(strategy("hard").state_dict(), strict=False)
    assert not result.unexpected_keys and all(k.startswith("masks.") for k in result.missing_keys)


def test_mask_set_is_a_copy() -> None:
    sharing = strategy("sparse")
    copied = sharing.mask_set()
    copied["ner"]["embedders.1.conv.weight"].fill_(False)
    assert bool(sharing.mask_set()["ner"]["embedders.1.conv.weight"].all())


def test_set_masks_checks_tasks_and_shapes() -> None:
    sharing = strategy("sparse")
    masks = random_masks(sharing)
    with pytest.raises(ConfigError, match=r"no mask for task\(s\) \['pos'\]"):
        sharing.set_masks(MaskSet({"ner": masks["ner"]}))
    other = strategy("sparse", prunable=["*weight_ih*"])
    with pytest.raises(ConfigError, match="another model config or other prunable patterns"):
        other.set_masks(masks)
    strategy("sparse", tasks=["ner"]).set_masks(masks)  # extra tasks in the mask set are ignored


def paper_dense(sharing: SharingStrategy) -> int:
    return sum(p.numel() for p in sharing.paper_parameters())


def test_paper_parameter_count() -> None:
    sparse = strategy("sparse")
    assert sparse.paper_parameter_count() == paper_dense(sparse) == paper_dense(strategy("hard"))
    masks = random_masks(sparse)
    sparse.set_masks(masks)
    masked_total = sum(sparse.get_parameter(f"trunk.{n}").numel() for n in sparse.masked_names)
    assert sparse.paper_parameter_count() == paper_dense(sparse) - masked_total + masks.union_count()

    single = strategy("single_subnet")
    single.set_masks(masks)
    kept = masks.kept_count("ner") + masks.kept_count("pos")
    assert single.paper_parameter_count() == paper_dense(single) - 2 * masked_total + kept


def test_rewind_restores_the_rewind_point_exactly_and_sets_the_masks() -> None:
    """After training moves the weights, `rewind` brings every weight back bit-for-bit, masks included."""
    from torch import nn

    from sparse_sharing.training.runner import rewind

    class Tagger(nn.Module):  # the model's shape: the rewind point is a whole model's state dict
        def __init__(self, sharing: SharingStrategy) -> None:
            super().__init__()
            self.sharing = sharing

    model = Tagger(strategy("sparse"))
    point = copy.deepcopy(model.state_dict())
    optimizers = model.sharing.build_optimizers(lambda p: torch.optim.Adam(p, lr=0.1), list(model.parameters()),
                                                TASKS)
    for step in range(3):
        model.zero_grad(set_to_none=True)
        model.sharing(batch(step), TASKS[step % 2]).sum().backward()
        model.sharing.step(TASKS[step % 2], optimizers[TASKS[step % 2]])
    assert any(not torch.equal(point[k], v) for k, v in model.state_dict().items())
    masks = random_masks(model.sharing)
    rewind(model, point, masks)
    for name, value in model.state_dict().items():
        if ".masks." not in f".{name}":
            assert torch.equal(value, point[name]), name
    for task in TASKS:
        for name, mask in model.sharing.mask_set()[task].items():
            assert torch.equal(mask, masks[task][name])


def test_shared_optimizer_is_the_authors_one_sgd_with_momentum_over_all_tasks() -> None:
    """``optimizers: shared`` trains as the authors' train_mtl.py: one SGD with momentum for every task,
    stepped on the task's gradient zeroed outside its mask (their mask_grad), nothing put back; so the
    momentum of one task's steps moves the other task's pruned weights (the leak, on purpose)."""
    sharing = strategy("sparse", optimizers="shared")
    masks = random_masks(sharing)
    sharing.set_masks(masks)
    authors = copy.deepcopy(sharing)

    def build(params: list) -> torch.optim.Optimizer:
        return torch.optim.SGD(params, lr=0.1, momentum=0.9)

    optimizers = sharing.build_optimizers(build, list(sharing.parameters()), TASKS)
    assert optimizers["ner"] is optimizers["pos"]
    reference = build(list(authors.parameters()))
    leaked = []
    for step in range(6):
        task = TASKS[step % 2]
        before = {n: w.detach().clone() for n, w in sharing.prunable_weights(task).items()}
        train_step(sharing, optimizers, task, step)
        authors.zero_grad(set_to_none=True)
        loss(authors, task, step).backward()
        torch.nn.utils.clip_grad_norm_([p for p in authors.parameters() if p.grad is not None], 5.0)
        for name, weight in authors.prunable_weights(task).items():
            weight.grad.masked_fill_(~masks[task][name], 0.0)
        reference.step()
        for name, parameter in authors.named_parameters():
            assert torch.equal(parameter, sharing.get_parameter(name)), (step, name)
        leaked += [n for n, w in sharing.prunable_weights(task).items()
                   if not torch.equal(w.detach()[~masks[task][n]], before[n][~masks[task][n]])]
    assert leaked


def test_a_component_declaring_nothing_gets_the_former_default_patterns() -> None:
    """A plugin encoder without ``prunable`` (a GRU named like torch's RNNs) is pruned as before components declared."""
    from torch import nn

    class PluginGRU(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = nn.GRU(8, 3, batch_first=True, bidirectional=True)
            self.output_dim = 6

        def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
            return self.gru(x)[0]

    def trunk() -> Trunk:
        torch.manual_seed(0)
        return Trunk(tiny_trunks.trunk_factory()().embedders, 0.0, PluginGRU())

    sharing = tiny_trunks.SHARING.build(tiny_trunks.config(tiny_trunks.SHARING, "sparse"), trunk_factory=trunk,
                                        tasks=TASKS)
    assert sharing.masked_names == ["embedders.1.conv.weight", "encoder.gru.weight_ih_l0", "encoder.gru.weight_hh_l0",
                                    "encoder.gru.weight_ih_l0_reverse", "encoder.gru.weight_hh_l0_reverse"]
