"""Where a training step's time and operator calls go, by component, under `torch.profiler`.

Why: on one CPU thread a step of this small network is bound by operator dispatch, not by
arithmetic, so what matters is how many operators each component issues and what they cost.
This runs the project's real `Trainer` step (as `side_by_side.py` builds it) on CoNLL-2003
batches and labels its phases with `record_function`: the forward of each trunk part and of the
head, the backward, clipping and the optimizer step. Operators called inside a label count for it
(the backward as a whole: autograd runs it as one call). A measurement, not a test:

    python benchmarks/profile_step.py [--sharing hard|sparse] [--steps 200] [--compile]
"""
from __future__ import annotations

import bisect
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

import torch
from torch.profiler import ProfilerActivity, profile, record_function

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import TASKS, benchmark_parser, prepare  # noqa: E402
from side_by_side import project_trainer  # noqa: E402

PHASES = ("char_cnn", "word_embedding", "embedding_dropout", "bilstm", "head_loss", "backward", "clipping",
          "optimizer")


@contextmanager
def labelled(obj: object, attribute: str, label: str) -> Iterator[None]:
    """``obj.attribute`` (a callable) runs inside ``record_function(label)`` for the duration."""
    original = getattr(obj, attribute)

    def wrapper(*args, **kwargs):
        with record_function(label):
            return original(*args, **kwargs)

    setattr(obj, attribute, wrapper)
    try:
        yield
    finally:
        setattr(obj, attribute, original)


def label_phases(trainer) -> list[tuple[object, str, str]]:
    """(object, callable attribute, label) for every phase of the trainer's step."""
    trunk = trainer.model.sharing.trunk
    word, chars = trunk.embedders
    places = [(chars, "forward", "char_cnn"), (word, "forward", "word_embedding"),
              (trunk.embedding_dropout, "forward", "embedding_dropout"), (trunk.encoder, "forward", "bilstm"),
              (torch.Tensor, "backward", "backward"),
              (torch.nn.utils, "clip_grad_norm_", "clipping")]
    if trainer.compiled:  # the compiled head losses (which call a head's own ``loss`` where they run eagerly)
        places.append((trainer.compiled, "loss", "head_loss"))
    else:
        places += [(head, "loss", "head_loss") for head in trainer.model.heads.values()]
    places += [(optimizer, "step", "optimizer") for optimizer in trainer.distinct_optimizers]
    return places


def breakdown(prof, steps: int) -> dict[str, tuple[float, int, int]]:
    """Per phase: CPU milliseconds per step inside its label; aten operator calls per step inside it,
    those called from Python or from an autograd node (what dispatch from outside pays for); and all
    aten calls, those an operator makes itself included. The phases do not nest; what runs outside
    every label is "other"."""
    events = [e for e in prof.events() if e.device_type.name == "CPU"]
    spans = sorted((e.time_range.start, e.time_range.end, e.name) for e in events if e.name in PHASES)
    starts = [s[0] for s in spans]
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0, 0])
    for begin, finish, name in spans:
        totals[name][0] += finish - begin
    for event in events:
        if not event.name.startswith("aten::"):
            continue
        index = bisect.bisect_right(starts, event.time_range.start) - 1
        inside = index >= 0 and event.time_range.end <= spans[index][1]
        phase = totals[spans[index][2] if inside else "other"]
        parent = event.cpu_parent
        phase[1] += parent is None or not parent.name.startswith("aten::")
        phase[2] += 1
    return {phase: (us / steps / 1000, round(outer / steps), round(every / steps))
            for phase, (us, outer, every) in totals.items()}


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0], "Profiled training steps (after 20 untimed ones).")
    parser.add_argument("--sharing", default="hard", choices=("hard", "sparse"))
    parser.add_argument("--compile", action="store_true", help="trainer.compile on (compiled before profiling).")
    parser.set_defaults(steps=200)
    args = parser.parse_args()
    sentences, source, vocab = prepare(args)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = project_trainer(sentences, vocab, TASKS, args.sharing, args.batch_size, "cpu", Path(tmp),
                                  args.compile)
        for _ in range(20):
            trainer._train_step()
        with ExitStack() as labels:
            for place in label_phases(trainer):
                labels.enter_context(labelled(*place))
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                began = time.perf_counter()
                for _ in range(args.steps):
                    trainer._train_step()
                step_ms = (time.perf_counter() - began) * 1000 / args.steps
    table = breakdown(prof, args.steps)
    other = table.get("other", (0.0, 0, 0))
    table["other"] = (step_ms - sum(row[0] for phase, row in table.items() if phase != "other"), *other[1:])
    print(f"data: {source}; {args.sharing} sharing{', compiled heads' if args.compile else ''}; "
          f"batch {args.batch_size}; {args.steps} steps; torch threads {args.threads}")
    print("| phase | ms / step (profiled) | share | aten calls / step, outer | all |\n| --- | --- | --- | --- | --- |")
    for phase, (ms, outer, every) in sorted(table.items(), key=lambda item: -item[1][0]):
        print(f"| {phase} | {ms:.2f} | {ms / step_ms:.0%} | {outer} | {every} |")
    outer, every = (sum(row[i] for row in table.values()) for i in (1, 2))
    print(f"| step | {step_ms:.2f} | 100% | {outer} | {every} |")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))


if __name__ == "__main__":
    main()
