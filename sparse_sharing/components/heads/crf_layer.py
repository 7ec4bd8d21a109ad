"""Linear-chain conditional random field for sequence-labelling heads.

A per-token softmax can emit label sequences that no tagging scheme allows
(``O I-PER`` in BIO, ``B-LOC O`` in BIOES). The CRF scores whole sequences, so the
decoder can rule such sequences out and training spends no probability mass on them.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.autograd.function import FunctionCtx, once_differentiable

from sparse_sharing.components.heads.decoding import per_sentence
from sparse_sharing.registry.versions import renamed_argument

# Large but finite: -inf would turn 0 * -inf into NaN in gradients and make a
# sentence with no allowed path produce NaN instead of a huge, visible loss.
DISALLOWED_SCORE = -10000.0

OUTSIDE = "O"

_SCHEME_ALIASES = {
    "bio": "bio",
    "iob2": "bio",
    "iob1": "iob1",
    "bioes": "bioes",
    "iobes": "bioes",
    "none": "none",
}


@dataclass(frozen=True)
class TransitionConstraints:
    """Which tag bigrams, first tags and last tags a tagging scheme permits.

    Nested tuples rather than tensors keep the object immutable, hashable and
    device-free; the CRF turns them into buffers on whatever device it lives on.
    """

    allowed: tuple[tuple[bool, ...], ...]
    allowed_start: tuple[bool, ...]
    allowed_end: tuple[bool, ...]

    def __post_init__(self) -> None:
        num_tags = len(self.allowed_start)
        if len(self.allowed_end) != num_tags or len(self.allowed) != num_tags or any(
            len(row) != num_tags for row in self.allowed
        ):
            raise ValueError(
                f"inconsistent constraint shapes: allowed {len(self.allowed)} rows, "
                f"allowed_start {num_tags}, allowed_end {len(self.allowed_end)}"
            )

    @property
    def num_tags(self) -> int:
        return len(self.allowed_start)


def _parse(label: str, prefixes: str, scheme: str) -> tuple[str, str | None]:
    if label == OUTSIDE:
        return OUTSIDE, None
    prefix, sep, chunk_type = label.partition("-")
    if not sep or prefix not in prefixes or not chunk_type:
        raise ValueError(
            f"label {label!r} is not valid in the {scheme!r} scheme "
            f"(expected 'O' or one of {', '.join(p + '-TYPE' for p in prefixes)})"
        )
    return prefix, chunk_type


def _bio_rules(a: tuple[str, str | None], b: tuple[str, str | None]) -> bool:
    # IOB2: every chunk opens with B-, so I-X only continues a chunk of type X.
    prefix_b, type_b = b
    return prefix_b != "I" or (a[0] in "BI" and a[1] == type_b)


def _iob1_rules(a: tuple[str, str | None], b: tuple[str, str | None]) -> bool:
    # IOB1: chunks open with I-; B-X only splits two adjacent chunks of type X.
    prefix_b, type_b = b
    return prefix_b != "B" or (a[0] in "BI" and a[1] == type_b)


def _bioes_rules(a: tuple[str, str | None], b: tuple[str, str | None]) -> bool:
    # BIOES: an open chunk (after B/I) must continue with I/E of its own type;
    # a closed position (E/S/O) may only open a new chunk or stay outside.
    (prefix_a, type_a), (prefix_b, type_b) = a, b
    if prefix_a in "BI":
        return prefix_b in "IE" and type_a == type_b
    return prefix_b in ("B", "S", OUTSIDE)


def transition_constraints(labels: list[str], scheme: str) -> TransitionConstraints:
    """Build the constraint table for ``labels`` (in tag-id order) under ``scheme``.

    ``scheme`` is ``"bio"`` (alias ``"iob2"``), ``"iob1"``, ``"bioes"`` (alias
    ``"iobes"``) or ``"none"`` for labels without chunk structure such as POS tags.
    """
    canonical = _SCHEME_ALIASES.get(scheme.lower())
    if canonical is None:
        raise ValueError(f"unknown tagging scheme {scheme!r}; expected one of {sorted(_SCHEME_ALIASES)}")
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise ValueError(f"duplicate labels: {duplicates}")

    num_tags = len(labels)
    if canonical == "none":
        everything = (True,) * num_tags
        return TransitionConstraints((everything,) * num_tags, everything, everything)

    prefixes = "BIES" if canonical == "bioes" else "BI"
    parsed = [_parse(label, prefixes, scheme) for label in labels]
    rule = {"bio": _bio_rules, "iob1": _iob1_rules, "bioes": _bioes_rules}[canonical]
    allowed = tuple(tuple(rule(a, b) for b in parsed) for a in parsed)

    if canonical == "bio":
        allowed_start = tuple(prefix != "I" for prefix, _ in parsed)
        allowed_end = (True,) * num_tags
    elif canonical == "iob1":
        allowed_start = tuple(prefix != "B" for prefix, _ in parsed)
        allowed_end = (True,) * num_tags
    else:
        allowed_start = tuple(prefix in ("B", "S", OUTSIDE) for prefix, _ in parsed)
        allowed_end = tuple(prefix in ("E", "S", OUTSIDE) for prefix, _ in parsed)
    return TransitionConstraints(allowed, allowed_start, allowed_end)


class ConditionalRandomField(nn.Module):
    """Linear-chain CRF over per-token emission scores.

    ``transitions[i, j]`` scores moving from tag ``i`` to tag ``j``. Disallowed moves
    are pinned to ``DISALLOWED_SCORE`` at use time (not by editing the parameters), so
    the optimiser cannot revive them and they get no gradient.
    """

    def __init__(self, num_tags: int, constraints: TransitionConstraints | None = None) -> None:
        super().__init__()
        if constraints is not None and constraints.num_tags != num_tags:
            raise ValueError(f"constraints cover {constraints.num_tags} tags, CRF has {num_tags}")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))
        self.start_transitions = nn.Parameter(torch.zeros(num_tags))
        self.end_transitions = nn.Parameter(torch.zeros(num_tags))
        if constraints is None:
            allowed = torch.ones(num_tags, num_tags, dtype=torch.bool)
            allowed_start = torch.ones(num_tags, dtype=torch.bool)
            allowed_end = torch.ones(num_tags, dtype=torch.bool)
        else:
            allowed = torch.tensor(constraints.allowed, dtype=torch.bool).reshape(num_tags, num_tags)
            allowed_start = torch.tensor(constraints.allowed_start, dtype=torch.bool)
            allowed_end = torch.tensor(constraints.allowed_end, dtype=torch.bool)
        self.register_buffer("allowed", allowed)
        self.register_buffer("allowed_start", allowed_start)
        self.register_buffer("allowed_end", allowed_end)

    def _scores(self, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor]:
        transitions = self.transitions.to(dtype).masked_fill(~self.allowed, DISALLOWED_SCORE)
        start = self.start_transitions.to(dtype).masked_fill(~self.allowed_start, DISALLOWED_SCORE)
        end = self.end_transitions.to(dtype).masked_fill(~self.allowed_end, DISALLOWED_SCORE)
        return transitions, start, end

    def _prepare(self, logits: Tensor, padding_mask: Tensor) -> tuple[Tensor, Tensor]:
        if logits.dim() != 3 or logits.size(-1) != self.num_tags:
            raise ValueError(f"logits must be [batch, time, {self.num_tags}], got {tuple(logits.shape)}")
        if padding_mask.shape != logits.shape[:2]:
            raise ValueError(f"padding_mask shape {tuple(padding_mask.shape)} does not match "
                             f"logits {tuple(logits.shape[:2])}")
        padding_mask = padding_mask.bool()
        # Not under torch.compile (trainer.compile): reading a tensor's value would split the graph,
        # and the batches it compiles for come from the trainer, whose sentences are never empty.
        if not torch.compiler.is_compiling() and not bool(padding_mask[:, 0].all()):
            raise ValueError("every sequence needs at least one token: padding_mask[:, 0] must be all True")
        # Half-precision logsumexp over long sentences loses the gold-vs-partition
        # difference, so compute in at least the parameters' precision.
        dtype = torch.promote_types(logits.dtype, self.transitions.dtype)
        return logits.to(dtype), padding_mask

    @renamed_argument("mask", "padding_mask")
    def neg_log_likelihood(self, logits: Tensor, tags: Tensor, padding_mask: Tensor) -> Tensor:
        """Per-sentence ``log Z - score(gold)``; shape ``[batch]``.

        Masks are left-aligned, so position ``t`` carries a transition exactly when
        ``padding_mask[:, t]`` is set; padded positions are ignored whatever tag id they hold.
        """
        logits, padding_mask = self._prepare(logits, padding_mask)
        if tags.shape != padding_mask.shape:
            raise ValueError(f"tags shape {tuple(tags.shape)} does not match padding_mask {tuple(padding_mask.shape)}")
        # Outside any autocast (trainer.precision bf16): the recursion, and the batched products of
        # LogPartition's backward, in the parameters' precision, for the reason _prepare gives.
        with torch.autocast(logits.device.type, enabled=False):
            transitions, start, end = self._scores(logits.dtype)
            # Padding may hold an ignore index such as -100; any in-range id will do,
            # since every term it touches is masked out.
            tags = tags.long().masked_fill(~padding_mask, 0)
            return LogPartition.apply(logits, padding_mask, transitions, start, end) - self._gold_score(
                logits, tags, padding_mask, transitions, start, end
            )

    @staticmethod
    def _gold_score(
        logits: Tensor, tags: Tensor, padding_mask: Tensor, transitions: Tensor, start: Tensor, end: Tensor
    ) -> Tensor:
        emissions = logits.gather(2, tags.unsqueeze(2)).squeeze(2).masked_fill(~padding_mask, 0.0)
        moves = transitions[tags[:, :-1], tags[:, 1:]].masked_fill(~padding_mask[:, 1:], 0.0)
        last = tags.gather(1, (padding_mask.sum(1) - 1).unsqueeze(1)).squeeze(1)
        return start[tags[:, 0]] + emissions.sum(1) + moves.sum(1) + end[last]

    @renamed_argument("mask", "padding_mask")
    def viterbi_decode(self, logits: Tensor, padding_mask: Tensor) -> list[list[int]]:
        """Highest-scoring tag sequence per sentence, each trimmed to its true length."""
        return per_sentence(self.viterbi_paths(logits, padding_mask), padding_mask)

    @torch.no_grad()
    @renamed_argument("mask", "padding_mask")
    def viterbi_paths(self, logits: Tensor, padding_mask: Tensor) -> Tensor:
        """The highest-scoring tag sequences as a ``[batch, time]`` tensor (padding holds each
        sentence's last tag): tensors in, tensors out, so ``trainer.compile`` can compile it whole."""
        logits, padding_mask = self._prepare(logits, padding_mask)
        transitions, start, end = self._scores(logits.dtype)
        batch, steps, num_tags = logits.shape
        # Padded steps point every tag back to itself, so backtracking from the last
        # column passes through padding unchanged and lands on the true last tag.
        identity = torch.arange(num_tags, device=logits.device).expand(batch, num_tags)
        score = start + logits[:, 0]
        backpointers = []
        for t in range(1, steps):
            best, best_prev = (score.unsqueeze(2) + transitions).max(dim=1)
            keep = padding_mask[:, t].unsqueeze(1)
            score = torch.where(keep, best + logits[:, t], score)
            backpointers.append(torch.where(keep, best_prev, identity))

        current = (score + end).argmax(dim=1)
        path = [current]
        for pointers in reversed(backpointers):
            current = pointers.gather(1, current.unsqueeze(1)).squeeze(1)
            path.append(current)
        return torch.stack(path[::-1], dim=1)


class LogPartition(torch.autograd.Function):
    """Per-sentence log partition ``log Z`` of a batch of linear-chain CRFs, with a hand-written backward.

    Why: written as a loop of tensor operators under autograd, the forward algorithm records about
    a dozen nodes per time step, and their backward as many again, each costing more in dispatch
    than in arithmetic at these sizes (a batch of 10, under 50 tags). Here the forward runs the
    recursion without recording anything, and the backward is one pass of the reverse recursion,
    one batched matrix-vector product per step, with everything else vectorised over the batch.

    Forward: ``alpha_t[j] = logsumexp_i(alpha_{t-1}[i] + s_t[i, j])`` with ``s_t[i, j] =
    transitions[i, j] + logits_t[j]``, for every step of the padded batch; each sentence's
    ``log Z = logsumexp(alpha_{n-1} + end)`` reads its own last real step ``n - 1`` (masks are
    left-aligned). Padded logits are zeroed first, so whatever padding holds, every value stays
    finite.

    Backward: with ``g_t = ∂ log Z / ∂ alpha_t`` and ``P_t[i, j] = exp(alpha_{t-1}[i] + s_t[i, j] -
    alpha_t[j])`` (the probability that a path through ``j`` at ``t`` came from ``i``), ``g_t`` is
    ``softmax(alpha_t + end)`` at a sentence's last step, zero after it, and ``g_{t-1} = P_t g_t``
    before it (plus the last step's term). Then ``∂/∂ logits_t = g_t`` (``P_t``'s columns sum to
    one; exactly zero at padding), ``∂/∂ transitions = Σ_{t,b} P_t ⊙ g_t`` (the pairwise marginals),
    ``∂/∂ start = Σ_b g_0`` and ``∂/∂ end = Σ_b softmax(alpha_{n-1} + end)``: the forward–backward
    marginals without a separate backward recursion.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, logits: Tensor, padding_mask: Tensor, transitions: Tensor, start: Tensor,
                end: Tensor) -> Tensor:
        """``logits`` [B, T, K], ``padding_mask`` [B, T] bool (left-aligned, ``padding_mask[:, 0]`` all set), scores in
        ``logits``' dtype; returns ``log Z`` [B]."""
        batch, steps, num_tags = logits.shape
        # Time-major and contiguous, so each step is a contiguous slice.
        by_time = logits.masked_fill(~padding_mask.unsqueeze(2), 0.0).transpose(0, 1).contiguous()  # [T, B, K]
        scores = transitions + by_time[1:].unsqueeze(2)  # [T-1, B, i, j]
        alpha = (start + by_time[0]).unsqueeze(2)  # [B, K, 1]: the previous step's tags as a column
        alphas = [alpha]
        for step_scores in scores.unbind(0):
            # logsumexp over i, by hand (1.1-1.2x torch.logsumexp here): its guard against an infinite
            # maximum is not needed, every score being finite (padding zeroed, disallowed moves -10000).
            moves = alpha + step_scores  # [B, i, j]
            top = moves.amax(1, keepdim=True)
            alpha = moves.sub_(top).exp_().sum(1, keepdim=True).log_().add_(top).view(batch, num_tags, 1)
            alphas.append(alpha)
        stacked = torch.stack(alphas).squeeze(3)  # [T, B, K]
        last = (padding_mask.sum(1) - 1).view(1, batch, 1).expand(1, batch, num_tags)
        final = stacked.gather(0, last).squeeze(0) + end  # [B, K]
        ctx.save_for_backward(scores, stacked, last, final)
        return torch.logsumexp(final, dim=1)

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad_log_z: Tensor) -> tuple[Tensor | None, ...]:
        # Run wherever backward is called, autocast included: the products below in fp32, as the forward.
        with torch.autocast(grad_log_z.device.type, enabled=False):
            scores, alphas, last, final = ctx.saved_tensors
            # Everything below is linear in the incoming gradient, so it is folded in at the start.
            at_last = torch.softmax(final, dim=1) * grad_log_z.unsqueeze(1)  # [B, K]
            # g_t as rows, and P_t transposed (a view): on a CPU thread the row-times-matrix product is
            # several times faster than matrix-times-column at 45 tags, and as fast below.
            entering = torch.zeros_like(alphas).scatter_(0, last, at_last.unsqueeze(0)).unsqueeze(2)  # [T, B, 1, K]
            moves = (alphas[:-1].unsqueeze(3) + scores).sub_(alphas[1:].unsqueeze(2)).exp_()  # P_t: [T-1, B, i, j]
            g = entering[-1]
            gs = [g]
            for step_moves, step_entering in zip(reversed(moves.transpose(2, 3).unbind(0)),
                                                 reversed(entering[:-1].unbind(0))):
                g = torch.baddbmm(step_entering, g, step_moves)  # g_{t-1}[i] = Σ_j P_t[i, j] g_t[j] (+ last step's)
                gs.append(g)
            grad_logits = torch.stack(gs[::-1]).squeeze(2)  # [T, B, K]
            grad_transitions = moves.mul_(grad_logits[1:].unsqueeze(2)).sum((0, 1))
            return grad_logits.transpose(0, 1), None, grad_transitions, grad_logits[0].sum(0), at_last.sum(0)
