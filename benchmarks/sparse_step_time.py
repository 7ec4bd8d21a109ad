"""Training step time of sparse sharing against hard sharing and against the authors' state-dict copying.

Why: DESIGN.md §5. The authors' code applies a task's mask by deep-copying the whole state dict
on every batch; the `sparse` strategy here applies masks functionally (W ⊙ M_t inside the
forward) and confines each step to M_t with per-task optimizers. This measures what each costs
per training step (forward + backward + clip_grad_norm_ 5 + SGD step, momentum 0.9) on
CoNLL-2003-shaped batches of 10 sentences, pos/chunk/ner taking turns, with the paper's base
network (see `common.py`):

  hard             one trunk, one shared optimizer: the trainer's step for `hard`;
  sparse           the `sparse` strategy with masks at the paper's kept fractions, run as the
                   trainer runs it (`build_optimizers`, then `model.sharing.step`);
  state-dict copy  a hard-sharing model with the same masks applied the authors' way
                   (reconstructed here, see `statedict_copy_step`).

The three start from the same weights and run the same batches, interleaved in blocks (the
order rotating every block) so that machine noise hits them alike. A measurement, not a test:

    python benchmarks/sparse_step_time.py --steps 300 --threads 1
"""
from __future__ import annotations

import copy
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import TASKS, base_network, benchmark_parser, prepare  # noqa: E402

from sparse_sharing.components.data.batching import Batch, BatchStream, index_sentences  # noqa: E402
from sparse_sharing.components.masks.mask_set import MaskSet  # noqa: E402
from sparse_sharing.components.pruners.pruners import MagnitudePruner, MagnitudePrunerConfig  # noqa: E402
from sparse_sharing.training.model import MultiTaskTagger  # noqa: E402

# Rounds of the paper's schedule (final_kept 0.1 over 20 rounds, 10.87 % a round) that give the
# paper's kept fractions for CoNLL-2003: POS 50.12 %, chunk 44.67 %, NER 56.23 %.
PRUNING_ROUNDS = {"pos": 6, "chunk": 7, "ner": 5}
# Task-specific noise added to the weights before pruning, relative to their spread: at 0.5 two
# tasks' masks overlap about 0.5 (|M_s ∩ M_t| / |M_s ∪ M_t|), against about 0.33 for independent
# masks at these fractions.
NOISE = 0.5

Step = Callable[[Batch, str], None]


def sgd(params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=0.1, momentum=0.9)


def clip(model: MultiTaskTagger) -> None:
    torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.grad is not None], 5.0)


def trainer_step(model: MultiTaskTagger) -> Step:
    """The trainer's step (`Trainer._train_step`), with the strategy's own optimizers and `step`."""
    optimizers = model.sharing.build_optimizers(sgd, [p for p in model.parameters() if p.requires_grad], TASKS)

    def step(batch: Batch, task: str) -> None:
        model.zero_grad(set_to_none=True)
        model.loss(batch, task).backward()
        clip(model)
        model.sharing.step(task, optimizers[task])

    return step


def statedict_copy_step(model: MultiTaskTagger, masks: MaskSet) -> Step:
    """The authors' way on a hard-sharing model; a reconstruction, not their code.

    It follows their `MTL_Masker` (train_mtl.py of choosewhatulike/sparse-sharing) around our
    model: deep-copy the whole state dict, zero the task's pruned weights in place, forward and
    backward, load the copy back (all weights, so the pruned ones return), zero the gradient
    outside the mask, clip, and step one SGD shared by all tasks. Clipping is by norm, as in the
    other two variants (theirs clipped by value, at about the same cost). Their masks stored
    True = pruned, so the inverted masks are made once here, not per step.
    """
    optimizer = sgd([p for p in model.parameters() if p.requires_grad])
    trunk = model.sharing.trunk
    pruned = {task: [(trunk.get_parameter(name), ~kept) for name, kept in masks[task].items()] for task in TASKS}

    def step(batch: Batch, task: str) -> None:
        model.zero_grad(set_to_none=True)
        saved = copy.deepcopy(model.state_dict())
        with torch.no_grad():
            for weight, off in pruned[task]:
                weight.masked_fill_(off, 0.0)
        model.loss(batch, task).backward()
        model.load_state_dict(saved)
        with torch.no_grad():
            for weight, off in pruned[task]:
                weight.grad.masked_fill_(off, 0.0)
        clip(model)
        optimizer.step()

    return step


def paper_like_masks(model: MultiTaskTagger, seed: int = 0) -> MaskSet:
    """Per task, the magnitude pruner's rounds on the trunk's weights plus task-specific noise, so the
    masks differ between tasks but overlap, as searched ones do."""
    pruner = MagnitudePruner(MagnitudePrunerConfig(type="magnitude"))
    generator = torch.Generator().manual_seed(seed)
    masks = {}
    for task in TASKS:
        weights = {name: w.detach() + NOISE * w.detach().std() * torch.randn(w.shape, generator=generator)
                   for name, w in model.sharing.prunable_weights(task).items()}
        mask = MaskSet.all_ones(weights, [task])[task]
        for _ in range(PRUNING_ROUNDS[task]):
            mask = pruner.prune(weights, mask)
        masks[task] = mask
    return MaskSet(masks)


def run(steps: dict[str, Step], batches: list[tuple[str, Batch]], block: int) -> dict[str, list[float]]:
    """Every variant over ``batches``, a block at a time in rotating order; seconds per step."""
    names = list(steps)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for number, start in enumerate(range(0, len(batches), block)):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            for task, batch in batches[start:start + block]:
                began = time.perf_counter()
                steps[name](batch, task)
                seconds[name].append(time.perf_counter() - began)
    return seconds


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0], "Timed training steps of each variant.")
    parser.add_argument("--warmup", type=int, default=20, help="Untimed steps of each variant first.")
    parser.add_argument("--block", type=int, default=10, help="Steps a variant runs before the next takes over.")
    args = parser.parse_args()
    sentences, source, vocab = prepare(args)
    hard, sparse, statedict = (base_network(vocab, args.batch_size, sharing) for sharing in ("hard", "sparse", "hard"))
    masks = paper_like_masks(sparse)
    sparse.sharing.set_masks(masks)
    steps = {"hard": trainer_step(hard), "sparse": trainer_step(sparse),
             "state-dict copy": statedict_copy_step(statedict, masks)}
    for model in (hard, sparse, statedict):
        model.train()

    streams = {t: BatchStream(index_sentences(sentences, vocab, t), args.batch_size, seed=0, stream_id=i)
               for i, t in enumerate(TASKS)}
    batches = [(TASKS[i % len(TASKS)], streams[TASKS[i % len(TASKS)]].next_batch())
               for i in range(args.warmup + args.steps)]
    run(steps, batches[:args.warmup], args.block)
    seconds = run(steps, batches[args.warmup:], args.block)
    mean = {name: 1000 * statistics.fmean(s) for name, s in seconds.items()}
    median = {name: 1000 * statistics.median(s) for name, s in seconds.items()}

    print(f"data: {source}; {len(sentences)} sentences; batch {args.batch_size}; tasks {'/'.join(TASKS)} in turn; "
          f"torch threads {args.threads}")
    print("masks (kept fraction of prunable weights): "
          + ", ".join(f"{t} {100 * masks.kept_fraction(t):.2f} %" for t in TASKS)
          + f"; overlap ratio of all three {masks.overlap_ratio():.3f}")
    print(f"{args.steps} timed steps each after {args.warmup} warm-up, interleaved in blocks of {args.block}\n")
    print(f"{'variant':<18}{'mean ms/step':>14}{'median ms/step':>16}")
    for name in steps:
        print(f"{name:<18}{mean[name]:>14.2f}{median[name]:>16.2f}")
    print()
    print(f"{'sparse / hard':<26}{mean['sparse'] / mean['hard']:>6.3f}  (target <= 1.10)")
    print(f"{'state-dict copy / sparse':<26}{mean['state-dict copy'] / mean['sparse']:>6.3f}")
    print(f"{'state-dict copy / hard':<26}{mean['state-dict copy'] / mean['hard']:>6.3f}")


if __name__ == "__main__":
    main()
