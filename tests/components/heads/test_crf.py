"""The CRF is checked against brute-force enumeration of every tag path."""
from __future__ import annotations

import itertools
import re

import pytest
import torch

from sparse_sharing.components.heads.crf_layer import (
    ConditionalRandomField,
    TransitionConstraints,
    transition_constraints,
)

BIO_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
BIOES_LABELS = ["O", "B-A", "I-A", "E-A", "S-A", "B-B", "E-B", "S-B"]
IOB1_LABELS = ["O", "I-PER", "B-PER", "I-LOC", "B-LOC"]


def random_crf(num_tags: int, seed: int, constraints: TransitionConstraints | None = None) -> ConditionalRandomField:
    generator = torch.Generator().manual_seed(seed)
    crf = ConditionalRandomField(num_tags, constraints).double()
    with torch.no_grad():
        crf.transitions.copy_(torch.randn(num_tags, num_tags, generator=generator, dtype=torch.float64))
        crf.start_transitions.copy_(torch.randn(num_tags, generator=generator, dtype=torch.float64))
        crf.end_transitions.copy_(torch.randn(num_tags, generator=generator, dtype=torch.float64))
    return crf


def random_batch(num_tags: int, lengths: list[int], seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    steps = max(lengths)
    logits = torch.randn(len(lengths), steps, num_tags, generator=generator, dtype=torch.float64)
    tags = torch.randint(num_tags, (len(lengths), steps), generator=generator)
    mask = torch.arange(steps).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    return logits, tags.masked_fill(~mask, 0), mask


def path_allowed(path: tuple[int, ...], constraints: TransitionConstraints | None) -> bool:
    if constraints is None:
        return True
    return (
        constraints.allowed_start[path[0]]
        and constraints.allowed_end[path[-1]]
        and all(constraints.allowed[a][b] for a, b in zip(path, path[1:]))
    )


def path_score(crf: ConditionalRandomField, emissions: torch.Tensor, path: tuple[int, ...]) -> torch.Tensor:
    score = crf.start_transitions[path[0]] + crf.end_transitions[path[-1]]
    score = score + sum(emissions[t, tag] for t, tag in enumerate(path))
    return score + sum(crf.transitions[a, b] for a, b in zip(path, path[1:]))


def brute_force(
    crf: ConditionalRandomField, emissions: torch.Tensor, constraints: TransitionConstraints | None
) -> tuple[torch.Tensor, list[int]]:
    """Log partition and best path over the allowed paths of one unpadded sentence."""
    paths = [
        path
        for path in itertools.product(range(crf.num_tags), repeat=emissions.size(0))
        if path_allowed(path, constraints)
    ]
    scores = torch.stack([path_score(crf, emissions, path) for path in paths])
    return torch.logsumexp(scores, dim=0), list(paths[int(scores.argmax())])


CASES = [
    (1, [1], 0),
    (2, [3, 1, 2], 1),
    (3, [4, 2, 1, 3], 2),
    (4, [4, 1, 3], 3),
    (4, [2, 4, 4, 1], 4),
]


@pytest.mark.parametrize(("num_tags", "lengths", "seed"), CASES)
def test_unconstrained_matches_brute_force(num_tags: int, lengths: list[int], seed: int) -> None:
    crf = random_crf(num_tags, seed)
    logits, tags, mask = random_batch(num_tags, lengths, seed + 100)

    nll = crf.neg_log_likelihood(logits, tags, mask)
    decoded = crf.viterbi_decode(logits, mask)

    assert nll.shape == (len(lengths),)
    for i, length in enumerate(lengths):
        log_z, best = brute_force(crf, logits[i, :length], None)
        gold = path_score(crf, logits[i, :length], tuple(tags[i, :length].tolist()))
        assert nll[i].item() == pytest.approx((log_z - gold).item(), abs=1e-5)
        assert decoded[i] == best
        assert len(decoded[i]) == length


@pytest.mark.parametrize(("labels", "scheme"), [(BIO_LABELS[:3], "bio"), (BIOES_LABELS[:4], "bioes")])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_constrained_matches_brute_force_over_allowed_paths(labels: list[str], scheme: str, seed: int) -> None:
    constraints = transition_constraints(labels, scheme)
    num_tags = len(labels)
    lengths = [4, 1, 3, 2]
    crf = random_crf(num_tags, seed, constraints)
    logits, _, mask = random_batch(num_tags, lengths, seed + 100)

    decoded = crf.viterbi_decode(logits, mask)
    # Gold paths must be legal, or their score carries the -10000 penalty.
    best_paths = [brute_force(crf, logits[i, :length], constraints) for i, length in enumerate(lengths)]
    tags = torch.zeros_like(mask, dtype=torch.long)
    for i, (_, best) in enumerate(best_paths):
        tags[i, : len(best)] = torch.tensor(best)
    nll = crf.neg_log_likelihood(logits, tags, mask)

    for i, (log_z, best) in enumerate(best_paths):
        gold = path_score(crf, logits[i, : lengths[i]], tuple(best))
        assert nll[i].item() == pytest.approx((log_z - gold).item(), abs=1e-5)
        assert decoded[i] == best
        assert path_allowed(tuple(decoded[i]), constraints)


@pytest.mark.parametrize(("labels", "scheme"), [(BIO_LABELS, "bio"), (BIOES_LABELS, "bioes"), (IOB1_LABELS, "iob1")])
def test_decoded_paths_never_break_constraints(labels: list[str], scheme: str) -> None:
    constraints = transition_constraints(labels, scheme)
    crf = random_crf(len(labels), 7, constraints)
    # Emissions strongly favour illegal tags, so only the constraints keep paths legal.
    logits, _, mask = random_batch(len(labels), [6, 1, 5, 3, 6, 2], 8)
    decoded = crf.viterbi_decode(logits * 20, mask)
    for path in decoded:
        assert path_allowed(tuple(path), constraints), [labels[tag] for tag in path]


def test_illegal_gold_path_is_penalised() -> None:
    constraints = transition_constraints(BIO_LABELS, "bio")
    crf = ConditionalRandomField(len(BIO_LABELS), constraints)
    logits = torch.zeros(1, 2, len(BIO_LABELS))
    mask = torch.ones(1, 2, dtype=torch.bool)
    illegal = torch.tensor([[0, 2]])  # O I-PER
    legal = torch.tensor([[1, 2]])  # B-PER I-PER
    assert crf.neg_log_likelihood(logits, illegal, mask).item() > 5000
    assert crf.neg_log_likelihood(logits, legal, mask).item() < 10


def test_gradients_flow() -> None:
    constraints = transition_constraints(BIOES_LABELS, "bioes")
    crf = ConditionalRandomField(len(BIOES_LABELS), constraints)
    logits, _, mask = random_batch(len(BIOES_LABELS), [5, 2, 1], 3)
    logits = logits.float().requires_grad_()
    tags = torch.tensor([[1, 2, 3, 0, 4], [5, 6, 0, 0, 0], [7, 0, 0, 0, 0]])

    crf.neg_log_likelihood(logits, tags, mask).sum().backward()

    for grad in (logits.grad, crf.transitions.grad, crf.start_transitions.grad, crf.end_transitions.grad):
        assert grad is not None and torch.isfinite(grad).all()
    assert crf.transitions.grad.abs().sum() > 0
    assert logits.grad[~mask].abs().sum() == 0
    # Disallowed entries are pinned, so training never moves them.
    assert crf.transitions.grad[~crf.allowed].abs().sum() == 0


def test_padding_content_does_not_matter() -> None:
    crf = random_crf(4, 5)
    lengths = [3, 1, 4]
    logits, tags, mask = random_batch(4, lengths, 6)
    nll = crf.neg_log_likelihood(logits, tags, mask)
    decoded = crf.viterbi_decode(logits, mask)

    noisy_logits = logits.masked_fill(~mask.unsqueeze(2), 1e3)
    noisy_tags = tags.masked_fill(~mask, -100)
    torch.testing.assert_close(crf.neg_log_likelihood(noisy_logits, noisy_tags, mask), nll)
    assert crf.viterbi_decode(noisy_logits, mask) == decoded

    noisy_tags = tags.masked_fill(~mask, 3)
    torch.testing.assert_close(crf.neg_log_likelihood(logits, noisy_tags, mask), nll)

    # A sentence scores the same alone as inside a padded batch.
    alone = crf.neg_log_likelihood(logits[1:2, :1], tags[1:2, :1], mask[1:2, :1])
    torch.testing.assert_close(alone, nll[1:2])


def test_constraints_survive_state_dict_round_trip() -> None:
    constraints = transition_constraints(BIO_LABELS, "bio")
    source = random_crf(len(BIO_LABELS), 0, constraints)
    target = ConditionalRandomField(len(BIO_LABELS)).double()
    target.load_state_dict(source.state_dict())
    assert torch.equal(target.allowed, source.allowed)
    assert torch.equal(target.allowed_start, source.allowed_start)
    logits, tags, mask = random_batch(len(BIO_LABELS), [3, 2], 1)
    torch.testing.assert_close(
        target.neg_log_likelihood(logits, tags, mask), source.neg_log_likelihood(logits, tags, mask)
    )


def allowed_pair(constraints: TransitionConstraints, labels: list[str], a: str, b: str) -> bool:
    return constraints.allowed[labels.index(a)][labels.index(b)]


def test_bio_table() -> None:
    c = transition_constraints(BIO_LABELS, "bio")
    assert allowed_pair(c, BIO_LABELS, "B-PER", "I-PER")
    assert allowed_pair(c, BIO_LABELS, "I-PER", "I-PER")
    assert allowed_pair(c, BIO_LABELS, "O", "B-LOC")
    assert allowed_pair(c, BIO_LABELS, "I-PER", "B-PER")
    assert allowed_pair(c, BIO_LABELS, "I-LOC", "O")
    assert not allowed_pair(c, BIO_LABELS, "O", "I-PER")
    assert not allowed_pair(c, BIO_LABELS, "B-PER", "I-LOC")
    assert not allowed_pair(c, BIO_LABELS, "I-LOC", "I-PER")
    assert c.allowed_start == (True, True, False, True, False)
    assert all(c.allowed_end)
    assert transition_constraints(BIO_LABELS, "iob2") == c


def test_iob1_table() -> None:
    c = transition_constraints(IOB1_LABELS, "iob1")
    assert allowed_pair(c, IOB1_LABELS, "O", "I-PER")
    assert allowed_pair(c, IOB1_LABELS, "I-LOC", "I-PER")
    assert allowed_pair(c, IOB1_LABELS, "I-PER", "B-PER")
    assert allowed_pair(c, IOB1_LABELS, "B-PER", "B-PER")
    assert allowed_pair(c, IOB1_LABELS, "B-PER", "I-PER")
    assert not allowed_pair(c, IOB1_LABELS, "O", "B-PER")
    assert not allowed_pair(c, IOB1_LABELS, "I-LOC", "B-PER")
    assert c.allowed_start == (True, True, False, True, False)
    assert all(c.allowed_end)


def test_bioes_table() -> None:
    c = transition_constraints(BIOES_LABELS, "bioes")
    assert allowed_pair(c, BIOES_LABELS, "B-A", "I-A")
    assert allowed_pair(c, BIOES_LABELS, "B-A", "E-A")
    assert allowed_pair(c, BIOES_LABELS, "I-A", "E-A")
    assert allowed_pair(c, BIOES_LABELS, "E-A", "S-B")
    assert allowed_pair(c, BIOES_LABELS, "S-A", "B-B")
    assert allowed_pair(c, BIOES_LABELS, "O", "O")
    assert not allowed_pair(c, BIOES_LABELS, "B-A", "O")
    assert not allowed_pair(c, BIOES_LABELS, "B-B", "E-A")
    assert not allowed_pair(c, BIOES_LABELS, "I-A", "B-A")
    assert not allowed_pair(c, BIOES_LABELS, "O", "I-A")
    assert not allowed_pair(c, BIOES_LABELS, "O", "E-B")
    assert not allowed_pair(c, BIOES_LABELS, "E-A", "I-A")
    # O, B-A, I-A, E-A, S-A, B-B, E-B, S-B
    assert c.allowed_start == (True, True, False, False, True, True, False, True)
    assert c.allowed_end == (True, False, False, True, True, False, True, True)


def test_none_scheme_allows_everything() -> None:
    labels = ["NN", "VB", "DT"]
    c = transition_constraints(labels, "none")
    assert all(all(row) for row in c.allowed) and all(c.allowed_start) and all(c.allowed_end)


@pytest.mark.parametrize(
    ("labels", "scheme", "bad"),
    [
        (["O", "B-PER", "NN"], "bio", "NN"),
        (["O", "S-PER"], "bio", "S-PER"),
        (["O", "B-"], "iob1", "B-"),
        (["O", "B-PER", "X-PER"], "bioes", "X-PER"),
    ],
)
def test_unknown_label_raises(labels: list[str], scheme: str, bad: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        transition_constraints(labels, scheme)


def test_unknown_scheme_raises() -> None:
    with pytest.raises(ValueError, match="scheme"):
        transition_constraints(["O"], "bilou")


def test_constraint_size_must_match() -> None:
    with pytest.raises(ValueError):
        ConditionalRandomField(3, transition_constraints(BIO_LABELS, "bio"))


# ----------------------------------------------------------- the fused log partition
def autograd_log_partition(logits: torch.Tensor, mask: torch.Tensor, transitions: torch.Tensor, start: torch.Tensor,
                           end: torch.Tensor) -> torch.Tensor:
    """The forward algorithm as operators under autograd: what ``LogPartition`` replaced, the yardstick
    for its value and its hand-written gradient."""
    alpha = start + logits[:, 0]
    for t in range(1, logits.size(1)):
        step = torch.logsumexp(alpha.unsqueeze(2) + transitions + logits[:, t].unsqueeze(1), dim=1)
        alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)
    return torch.logsumexp(alpha + end, dim=1)


def nll_and_gradients(crf: ConditionalRandomField, logits: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor,
                      log_partition=None) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Per-sentence NLL and the gradients of a fixed random weighting of it (so each sentence's
    gradient counts), with respect to the logits, transitions, start and end scores."""
    logits = logits.clone().requires_grad_()
    if log_partition is None:
        nll = crf.neg_log_likelihood(logits, tags, mask)
    else:
        transitions, start, end = crf._scores(logits.dtype)
        nll = log_partition(logits, mask, transitions, start, end) - crf._gold_score(
            logits, tags, mask, transitions, start, end)
    weights = torch.rand(nll.shape, generator=torch.Generator().manual_seed(9), dtype=nll.dtype) + 0.5
    leaves = [logits, crf.transitions, crf.start_transitions, crf.end_transitions]
    return nll.detach(), list(torch.autograd.grad((nll * weights).sum(), leaves))


FUSED_CASES = [
    (5, [1], None),
    (6, [9, 1, 4, 9, 2, 7], None),
    (len(BIO_LABELS), [8, 3, 1, 8], "bio"),
    (len(BIOES_LABELS), [1, 6, 6, 2, 5], "bioes"),
    (17, [30, 12, 1, 25, 30, 7, 19, 3, 30, 14], None),
]


@pytest.mark.parametrize("dtype, rtol", [(torch.float64, 1e-6), (torch.float32, 1e-5)])
@pytest.mark.parametrize("num_tags, lengths, scheme", FUSED_CASES)
def test_fused_log_partition_equals_autograd_in_value_and_gradient(num_tags: int, lengths: list[int],
                                                                    scheme: str | None, dtype, rtol: float) -> None:
    labels = {"bio": BIO_LABELS, "bioes": BIOES_LABELS}.get(scheme)
    crf = random_crf(num_tags, len(lengths), transition_constraints(labels, scheme) if labels else None).to(dtype)
    logits, tags, mask = random_batch(num_tags, lengths, len(lengths) + 50)
    logits = (logits * 3).to(dtype).masked_fill(~mask.unsqueeze(2), 1e3)  # padding must not matter
    if labels:  # legal gold paths: an illegal one's -10000 would swamp the comparison
        tags = torch.tensor([0]).expand_as(tags).clone()
    nll, grads = nll_and_gradients(crf, logits, tags, mask)
    expected_nll, expected_grads = nll_and_gradients(crf, logits, tags, mask, autograd_log_partition)
    torch.testing.assert_close(nll, expected_nll, rtol=rtol, atol=rtol)
    for name, grad, expected in zip(("logits", "transitions", "start", "end"), grads, expected_grads):
        scale = expected.abs().max()
        torch.testing.assert_close(grad, expected, rtol=rtol, atol=rtol * scale, msg=name)
    assert torch.equal(grads[0][~mask], torch.zeros_like(grads[0][~mask]))  # no gradient into padding


@pytest.mark.parametrize(("num_tags", "lengths", "seed"), CASES)
def test_fused_log_partition_gradient_equals_brute_force(num_tags: int, lengths: list[int], seed: int) -> None:
    """Independent of any forward algorithm: the gradient of log Z as a logsumexp over every path."""
    crf = random_crf(num_tags, seed)
    logits, tags, mask = random_batch(num_tags, lengths, seed + 100)
    _, grads = nll_and_gradients(crf, logits, tags, mask)

    logits = logits.clone().requires_grad_()
    weights = torch.rand(len(lengths), generator=torch.Generator().manual_seed(9), dtype=torch.float64) + 0.5
    nll = torch.stack([brute_force(crf, logits[i, :n], None)[0]
                       - path_score(crf, logits[i, :n], tuple(tags[i, :n].tolist())) for i, n in enumerate(lengths)])
    leaves = [logits, crf.transitions, crf.start_transitions, crf.end_transitions]
    # allow_unused: sentences of one token never read the transitions
    for grad, expected in zip(grads, torch.autograd.grad((nll * weights).sum(), leaves, allow_unused=True)):
        expected = torch.zeros_like(grad) if expected is None else expected
        torch.testing.assert_close(grad, expected, rtol=1e-9, atol=1e-9)
