"""Hierarchical, cross-stitch and sluice sharing: who sees which layer, what the mixing computes."""
from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from sparse_sharing.components.sharing.sluice import (
    check_subspace_layers,
    initial_betas,
    input_weight_penalty,
    orthogonality_penalty,
)
from sparse_sharing.errors import ConfigError
from tiny_trunks import batch, strategy

TASKS = ["pos", "chunk", "ner"]


def score(features: torch.Tensor, task: str) -> torch.Tensor:
    """Stands in for a head: a fixed, task-specific linear score of the features."""
    weights = torch.randn(features.shape, generator=torch.Generator().manual_seed(len(task)))
    return (features * weights).sum()


def gradients(sharing: torch.nn.Module, task: str) -> dict[str, torch.Tensor | None]:
    sharing.zero_grad(set_to_none=True)
    features, penalty = sharing.forward_with_penalty(batch(0), task)
    (score(features, task) + (0 if penalty is None else penalty)).backward()
    return {name: p.grad for name, p in sharing.named_parameters()}


# ------------------------------------------------------------------ hierarchical
def test_hierarchical_tasks_get_gradients_only_from_their_layer_and_below() -> None:
    sharing = strategy("hierarchical", ["pos", "ner"], task_layers={"pos": 1, "ner": 2})
    low = gradients(sharing, "pos")
    upper = [name for name in low if "encoder.layers.1." in name]
    assert upper and all(low[name] is None for name in upper)
    assert all(low[name] is not None and low[name].abs().sum() > 0 for name in low if name not in upper)
    high = gradients(sharing, "ner")
    assert all(g is not None and g.abs().sum() > 0 for g in high.values())


def test_hierarchical_task_reads_its_layer_of_one_shared_stack() -> None:
    sharing = strategy("hierarchical", ["pos", "ner"], task_layers={"pos": 1, "ner": 2})
    trunk, data = sharing.trunk, batch(1)
    first = trunk.encoder.run_layer(0, trunk.embed(data), data.lengths)
    assert torch.equal(sharing(data, "pos"), first)
    assert torch.equal(sharing(data, "ner"), trunk(data))


@pytest.mark.parametrize("task_layers, message", [
    ({"pos": 1}, r"no layer for task\(s\) \['ner'\]"),
    ({"pos": 1, "ner": 3}, r"task_layers.ner is 3, but the encoder has 2 layer"),
    ({"pos": 0, "ner": 1}, r"task_layers.pos is 0"),
])
def test_hierarchical_config_errors(task_layers: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        strategy("hierarchical", ["pos", "ner"], task_layers=task_layers)


# ------------------------------------------------------------------ cross-stitch
def test_frozen_identity_cross_stitch_with_private_embedders_equals_independent_single_task_stacks() -> None:
    stitched = strategy("cross_stitch", TASKS, distinct=True, init_self=1.0, trainable=False, share_embedders=False)
    single = strategy("single", TASKS, distinct=True)
    assert not any(p.requires_grad for p in stitched.units)
    for task in TASKS:
        assert torch.equal(stitched(batch(2), task), single(batch(2), task))
        mixed, alone = gradients(stitched, task), gradients(single, task)
        for name, grad in mixed.items():
            if name.startswith(f"trunks.{task}."):
                assert torch.equal(grad, alone[name]), name
            elif grad is not None:  # other tasks' stacks ran but were weighted by zero
                assert not grad.any(), name


def test_cross_stitch_units_mix_tasks_and_learn() -> None:
    stitched = strategy("cross_stitch", TASKS, distinct=True, init_self=0.8)
    single = strategy("single", TASKS, distinct=True)
    assert [tuple(u.shape) for u in stitched.units] == [(3, 3), (3, 3)]
    assert torch.allclose(stitched.units[0].sum(1), torch.ones(3))
    assert stitched.units[0][0, 0].item() == pytest.approx(0.8) and stitched.units[0][0, 1].item() == pytest.approx(0.1)
    assert not torch.allclose(stitched(batch(2), "pos"), single(batch(2), "pos"))
    grads = gradients(stitched, "pos")
    assert grads["units.0"].abs().sum() > 0 and grads["trunks.ner.encoder.layers.0.weight_ih_l0"].abs().sum() > 0
    summaries = stitched.summaries()
    assert len(summaries) == 2 * 3 * 3
    assert summaries["cross_stitch/layer1/pos<-chunk"] == pytest.approx(0.1)


def test_cross_stitch_mixes_after_each_layer() -> None:
    """Layer 2 of task t reads Σ_u α1[t, u] h1_u; the head reads Σ_u α2[t, u] h2_u; every task's
    layer 1 reads the one shared embedding."""
    stitched = strategy("cross_stitch", TASKS, distinct=True, init_self=0.5)
    with torch.no_grad():
        for unit in stitched.units:
            unit.copy_(torch.rand(3, 3, generator=torch.Generator().manual_seed(5)))
    data = batch(3)
    trunks = list(stitched.trunks.values())
    embedded = trunks[0].embed(data)
    first = [t.encoder.run_layer(0, embedded, data.lengths) for t in trunks]
    mixed = [sum(stitched.units[0][i, j] * first[j] for j in range(3)) for i in range(3)]
    second = [t.encoder.run_layer(1, x, data.lengths) for t, x in zip(trunks, mixed)]
    expected = sum(stitched.units[1][2, j] * second[j] for j in range(3))
    assert torch.allclose(stitched(data, "ner"), expected, atol=1e-6)


# ------------------------------------------------------------------ shared embedders
@pytest.mark.parametrize("type_", ["cross_stitch", "sluice"])
def test_embedders_are_one_set_of_parameters_that_every_task_trains(type_: str) -> None:
    """The sluice paper's networks share an embedding layer: one word embedding and one char CNN,
    counted once, and each task's loss reaches them."""
    shared = strategy(type_, TASKS, distinct=True, hidden_size=4)
    trunks = list(shared.trunks.values())
    assert all(t.embedders is trunks[0].embedders for t in trunks)
    embedder_names = [name for name, _ in shared.named_parameters() if ".embedders." in name]
    assert embedder_names and all(name.startswith("trunks.pos.embedders.") for name in embedder_names)
    for task in TASKS:
        grads = gradients(shared, task)
        assert all(grads[name] is not None and grads[name].abs().sum() > 0 for name in embedder_names), task
    calls = []
    trunks[0].embedders[0].register_forward_hook(lambda *_: calls.append(1))
    shared(batch(0), "ner")
    assert len(calls) == 1  # one embedding (one dropout draw) of the batch, read by every task
    private = strategy(type_, TASKS, distinct=True, hidden_size=4, share_embedders=False)
    embedder = sum(p.numel() for p in trunks[0].embedders.parameters())
    conv = sum(p.numel() for name, p in trunks[0].embedders.named_parameters() if name.startswith("1.conv."))
    assert conv > 0
    assert (sum(p.numel() for p in private.parameters()) - sum(p.numel() for p in shared.parameters())
            == 2 * embedder)
    assert (sum(p.numel() for p in private.paper_parameters()) - sum(p.numel() for p in shared.paper_parameters())
            == 2 * conv)


# ------------------------------------------------------------------ sluice
def test_sluice_alpha_and_beta_shapes_and_initialisation() -> None:
    sluice = strategy("sluice", TASKS, distinct=True, subspaces=3, init_self=0.7)
    assert [tuple(a.shape) for a in sluice.alphas] == [(9, 9), (9, 9)]  # T·G = 3·3, one per layer
    assert tuple(sluice.betas.shape) == (3, 2)  # a weight per task and layer
    assert torch.allclose(sluice.alphas[0].sum(1), torch.ones(9))
    assert sluice.alphas[0][4, 4].item() == pytest.approx(0.7)
    assert sluice.alphas[0][4, 5].item() == pytest.approx(0.3 / 8)
    assert torch.allclose(sluice.betas, torch.tensor([[0.1, 0.9]]).expand(3, 2))  # the last layer first
    assert len(sluice.summaries()) == 2 * 9 * 9 + 3 * 2
    balanced = strategy("sluice", TASKS, subspaces=3, alpha_init="balanced", beta_init="balanced")
    assert torch.equal(balanced.alphas[1], torch.full((9, 9), 1 / 9))
    assert torch.equal(balanced.betas, torch.full((3, 2), 0.5))


def test_sluice_init_self_belongs_to_the_imbalanced_alpha() -> None:
    with pytest.raises(ValidationError, match="init_self sets the diagonal of an 'imbalanced'"):
        strategy("sluice", TASKS, alpha_init="balanced", init_self=0.5)


def test_initial_betas() -> None:
    assert torch.equal(initial_betas(1, "imbalanced"), torch.ones(1))
    assert torch.allclose(initial_betas(3, "imbalanced"), torch.tensor([0.05, 0.05, 0.9]))
    assert torch.allclose(initial_betas(4, "balanced"), torch.full((4,), 0.25))


def test_orthogonality_penalty_on_hand_made_matrices() -> None:
    identity = torch.eye(2)
    other = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    # ‖IᵀB‖²_F = ‖B‖²_F = 1 + 1 + 0 + 1
    assert orthogonality_penalty([identity, other]).item() == pytest.approx(3.0)
    orthogonal = [torch.tensor([[1.0], [0.0]]), torch.tensor([[0.0], [2.0]])]
    assert orthogonality_penalty(orthogonal).item() == 0.0
    # three subspaces: the sum over the three pairs, (1·3)² + (1·5)² + (3·5)²... on 1×1 matrices
    scalars = [torch.tensor([[1.0]]), torch.tensor([[3.0]]), torch.tensor([[5.0]])]
    assert orthogonality_penalty(scalars).item() == pytest.approx(9 + 25 + 225)


def test_input_weight_penalty_by_hand_on_a_tiny_lstm() -> None:
    """Two units a direction, two subspaces of one unit each: per gate q and direction, Ω adds
    (w_q,0 · w_q,1)², the squared inner product of the two units' input-weight rows; the
    recurrent weights do not count."""
    lstm = torch.nn.LSTM(2, 2, bidirectional=True)
    rows = torch.tensor([[1.0, 0.0], [0.0, 1.0],    # input gate: orthogonal rows, 0
                         [1.0, 2.0], [3.0, 1.0],    # forget gate: 1·3 + 2·1 = 5, 25
                         [1.0, 1.0], [1.0, 1.0],    # cell gate: 2, 4
                         [2.0, 0.0], [-1.0, 1.0]])  # output gate: -2, 4
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(rows)
        lstm.weight_ih_l0_reverse.copy_(2 * rows)  # every product × 4, squared × 16
        lstm.weight_hh_l0.fill_(7.0)
    assert input_weight_penalty(lstm, 2).item() == pytest.approx((25 + 4 + 4) * (1 + 16))
    assert input_weight_penalty(lstm, 1).item() == 0.0  # one subspace: no pair


def test_sluice_penalty_is_on_every_task_and_layer_input_weights() -> None:
    """λ Σ over tasks, layers, directions, gates and unit pairs across subspaces of the squared inner
    products of input-weight rows, as a loop over units; the same for any batch."""
    sluice = strategy("sluice", TASKS, distinct=True, hidden_size=4, subspaces=2, orthogonality_weight=0.5)
    expected = 0.0
    for trunk in sluice.trunks.values():
        for layer in trunk.encoder.layers:
            for weight in (layer.weight_ih_l0, layer.weight_ih_l0_reverse):
                for gate in range(4):
                    for i in range(2):  # subspace 0: units 0, 1; subspace 1: units 2, 3
                        for j in range(2, 4):
                            expected += float(weight[4 * gate + i].detach() @ weight[4 * gate + j].detach()) ** 2
    penalties = [sluice.forward_with_penalty(batch(seed), "pos")[1] for seed in (4, 5)]
    assert penalties[0].item() == pytest.approx(0.5 * expected, rel=1e-5)
    assert torch.equal(penalties[0], penalties[1])
    sluice.zero_grad()
    penalties[0].backward()
    grads = {name: p.grad for name, p in sluice.named_parameters()}
    assert grads["trunks.ner.encoder.layers.1.weight_ih_l0_reverse"].abs().sum() > 0
    assert grads["trunks.ner.encoder.layers.1.weight_hh_l0"] is None
    unweighted = strategy("sluice", TASKS, hidden_size=4, orthogonality_weight=0.0)
    assert unweighted.forward_with_penalty(batch(4), "pos")[1] is None


def test_sluice_subspaces_are_slices_of_each_direction() -> None:
    """h̃_{t,g} = Σ α[(t,g),(u,h)] h_{u,h} where subspace g is units [g·H/G, (g+1)·H/G) of the forward
    states and the same units of the backward states: forward states never reach a backward slot."""
    units, subspaces = 6, 3
    width = units // subspaces
    sluice = strategy("sluice", ["pos", "ner"], hidden_size=units, subspaces=subspaces)
    alpha = torch.rand(2 * subspaces, 2 * subspaces, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        sluice.alphas[0].copy_(alpha)
    hidden = torch.randn(2, 3, 5, 2 * units)  # (tasks, batch, length, forward units then backward units)
    mixed = sluice.mix(0, hidden)

    def part(states: torch.Tensor, direction: int, subspace: int) -> torch.Tensor:
        start = units * direction + width * subspace
        return states[..., start:start + width]

    for task in range(2):
        for g in range(subspaces):
            for direction in range(2):
                expected = sum(alpha[subspaces * task + g, subspaces * u + h] * part(hidden[u], direction, h)
                               for u in range(2) for h in range(subspaces))
                assert torch.allclose(part(mixed[task], direction, g), expected, atol=1e-6)
    changed = hidden.clone()
    changed[..., units:] += 1.0  # the backward states only
    assert torch.equal(sluice.mix(0, changed)[..., :units], mixed[..., :units])


def test_sluice_with_identity_alpha_and_last_layer_beta_is_a_plain_stack() -> None:
    sluice = strategy("sluice", TASKS, distinct=True, hidden_size=4, subspaces=2, init_self=1.0,
                      share_embedders=False)
    single = strategy("single", TASKS, distinct=True, hidden_size=4)
    with torch.no_grad():
        sluice.betas.copy_(torch.tensor([[0.0, 1.0]]).expand(3, 2))
    for task in TASKS:
        assert torch.equal(sluice(batch(5), task), single(batch(5), task))


def test_sluice_subspaces_must_divide_each_direction() -> None:
    with pytest.raises(ConfigError, match="subspaces is 2, which does not divide the encoder's 3 hidden units"):
        strategy("sluice", TASKS, subspaces=2)


@pytest.mark.parametrize("layer", [torch.nn.Linear(4, 4), torch.nn.LSTM(4, 4),
                                   torch.nn.LSTM(4, 4, 2, bidirectional=True)])
def test_sluice_needs_one_layer_bidirectional_rnns(layer: torch.nn.Module) -> None:
    with pytest.raises(ConfigError, match="must be one-layer bidirectional torch RNNs"):
        check_subspace_layers([layer], 2)


@pytest.mark.parametrize("type_, options", [
    ("hierarchical", {"task_layers": {"pos": 1, "chunk": 2, "ner": 2}}),
    ("cross_stitch", {}),
    ("sluice", {"subspaces": 1}),
])
def test_paper_count_is_the_bilstms_and_convs_plus_mixing_weights(type_: str, options: dict) -> None:
    sharing = strategy(type_, TASKS, **options)
    counted = {id(p) for p in sharing.paper_parameters()}
    for name, parameter in sharing.named_parameters():
        expected = ".encoder." in f".{name}" or ".conv." in name or name.startswith(("units", "alphas", "betas"))
        assert (id(parameter) in counted) == expected, name
