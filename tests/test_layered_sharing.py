"""Hierarchical, cross-stitch and sluice sharing: who sees which layer, what the mixing computes."""
from __future__ import annotations

import pytest
import torch

from sparse_sharing.components.sharing.sluice import orthogonality_penalty
from sparse_sharing.errors import ConfigError
from tiny_trunks import batch, strategy

torch.set_num_threads(1)

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
def test_frozen_identity_cross_stitch_equals_independent_single_task_stacks() -> None:
    stitched = strategy("cross_stitch", TASKS, distinct=True, init_self=1.0, trainable=False)
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
    """Layer 2 of task t reads Σ_u α1[t, u] h1_u; the head reads Σ_u α2[t, u] h2_u."""
    stitched = strategy("cross_stitch", TASKS, distinct=True, init_self=0.5)
    with torch.no_grad():
        for unit in stitched.units:
            unit.copy_(torch.rand(3, 3, generator=torch.Generator().manual_seed(5)))
    data = batch(3)
    trunks = list(stitched.trunks.values())
    first = [t.encoder.run_layer(0, t.embed(data), data.lengths) for t in trunks]
    mixed = [sum(stitched.units[0][i, j] * first[j] for j in range(3)) for i in range(3)]
    second = [t.encoder.run_layer(1, x, data.lengths) for t, x in zip(trunks, mixed)]
    expected = sum(stitched.units[1][2, j] * second[j] for j in range(3))
    assert torch.allclose(stitched(data, "ner"), expected, atol=1e-6)


# ------------------------------------------------------------------ sluice
def test_sluice_alpha_and_beta_shapes() -> None:
    sluice = strategy("sluice", TASKS, distinct=True, subspaces=3, init_self=0.7)
    assert [tuple(a.shape) for a in sluice.alphas] == [(9, 9), (9, 9)]  # T·G = 3·3, one per layer
    assert tuple(sluice.betas.shape) == (3, 2)  # a weight per task and layer
    assert torch.allclose(sluice.alphas[0].sum(1), torch.ones(9))
    assert sluice.alphas[0][4, 4].item() == pytest.approx(0.7)
    assert len(sluice.summaries()) == 2 * 9 * 9 + 3 * 2


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


def test_sluice_penalty_covers_real_tokens_of_every_task_and_layer() -> None:
    sluice = strategy("sluice", TASKS, distinct=True, subspaces=2, orthogonality_weight=0.5)
    data = batch(4)
    _, penalty = sluice.forward_with_penalty(data, "pos")
    expected = 0.0
    for hidden, _ in sluice.run_layers(data):
        for task_hidden in hidden:
            tokens = task_hidden[data.mask]  # (real tokens, 6): subspaces are columns 0-2 and 3-5
            expected = expected + orthogonality_penalty([tokens[:, :3], tokens[:, 3:]])
    assert penalty.item() == pytest.approx(0.5 * expected.item(), rel=1e-5)
    assert strategy("sluice", TASKS, orthogonality_weight=0.0).forward_with_penalty(data, "pos")[1] is None


def test_sluice_with_identity_alpha_and_last_layer_beta_is_a_plain_stack() -> None:
    sluice = strategy("sluice", TASKS, distinct=True, subspaces=2, init_self=1.0)
    single = strategy("single", TASKS, distinct=True)
    with torch.no_grad():
        sluice.betas.copy_(torch.tensor([[0.0, 1.0]]).expand(3, 2))
    for task in TASKS:
        assert torch.equal(sluice(batch(5), task), single(batch(5), task))


def test_sluice_subspaces_must_divide_the_width() -> None:
    with pytest.raises(ConfigError, match="subspaces is 4, which does not divide the encoder's output width 6"):
        strategy("sluice", TASKS, subspaces=4)


@pytest.mark.parametrize("type_, options", [
    ("hierarchical", {"task_layers": {"pos": 1, "chunk": 2, "ner": 2}}),
    ("cross_stitch", {}),
    ("sluice", {}),
])
def test_paper_count_is_the_bilstms_and_convs_plus_mixing_weights(type_: str, options: dict) -> None:
    sharing = strategy(type_, TASKS, **options)
    counted = {id(p) for p in sharing.paper_parameters()}
    for name, parameter in sharing.named_parameters():
        expected = ".encoder." in f".{name}" or ".conv." in name or name.startswith(("units", "alphas", "betas"))
        assert (id(parameter) in counted) == expected, name
