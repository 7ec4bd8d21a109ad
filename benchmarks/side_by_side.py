"""The project's training step and decoding against plain PyTorch (`reference.py`), side by side.

Why: a framework that trains slower than the loop a user would write by hand is a tax on every
comparison it exists to make. This runs, on identical batches of CoNLL-2003-shaped sentences
(see `common.py`), the project's real `Trainer` step for hard sharing over pos/chunk/ner, for
sparse sharing with masks near the paper's kept fractions (~50 %), and for single-task NER, each
against the plain network training on the same batches in the same order; then decoding of NER
(the project's `predict_tags` against the reference's collate + Viterbi). Variants run in
windows whose order rotates, so drift on a shared machine hits both sides alike; the figure per
variant is the median over windows of (project tokens/s ÷ reference tokens/s). A measurement,
not a test:

    python benchmarks/side_by_side.py --threads 1 [--device cuda] [--json]

With `--json` the last line is one JSON object: `train_hard`, `train_sparse`, `train_single`,
`decode` (ratios of tokens/s, > 1 = project faster) and `sparse_over_hard` (step-time ratio);
with `trainer.compile` on, `train_hard_compiled`, `train_sparse_compiled`,
`train_single_compiled` (against the same reference, in the same rotating windows),
`compiled_over_eager_hard` and `compiled_over_eager_sparse` (eager step time ÷ compiled step time,
window by window) and `compile_seconds` (compiling every head at every length bucket, before
timing); and `decode_compiled`, the same model's decoding with the NER head's Viterbi compiled at
the length buckets (`CompiledHeads.decode`; the trainer's evaluation decodes eagerly), against the
reference `decode` uses, in passes whose order rotates with `decode`'s and the reference's,
`decode_compiled_over_eager` (eager seconds ÷ compiled seconds, pass by pass) and
`decode_compile_seconds` (in an untimed first pass, which also checks that both predict the same
tags). `--no-compile` leaves the compiled variants out.
With `--bf16`, `trainer.precision: bf16` variants of hard and sparse sharing join the same windows:
`train_hard_bf16`, `train_sparse_bf16` and `bf16_over_fp32_hard|sparse` (fp32 step time ÷ bf16
step time, window by window; > 1 = bf16 faster). Decoding stays fp32 under `trainer.precision`.
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import TASKS, benchmark_parser, experiment_config, prepare  # noqa: E402
from reference import PlainDataset, PlainTagger, sgd, train_step  # noqa: E402
from sparse_step_time import paper_like_masks  # noqa: E402

from sparse_sharing.components.data.batching import index_sentences  # noqa: E402
from sparse_sharing.components.data.sentence import Sentence  # noqa: E402
from sparse_sharing.components.data.vocabulary import Vocabulary  # noqa: E402
from sparse_sharing.config.schema import validate_experiment  # noqa: E402
from sparse_sharing.devices import resolve_device  # noqa: E402
from sparse_sharing.training.data_setup import TaskData  # noqa: E402
from sparse_sharing.training.evaluation import predict_tags  # noqa: E402
from sparse_sharing.training.model import build_model  # noqa: E402
from sparse_sharing.training.compiled import LENGTH_BUCKETS, CompiledHeads  # noqa: E402
from sparse_sharing.training.run_dir import RunPaths  # noqa: E402
from sparse_sharing.training.trainer import Trainer  # noqa: E402

# CoNLL-2003 train: 203,621 tokens; a joint epoch sees every sentence once per task.
CONLL03_TRAIN_TOKENS = 203_621


def project_trainer(sentences: list[Sentence], vocab: Vocabulary, tasks: tuple[str, ...], sharing: str,
                    batch_size: int, device: str, run_dir: Path, compile_: bool = False,
                    precision: str = "fp32") -> Trainer:
    """The project's trainer over ``sentences`` (every task reads the same ones), seed 0; with
    ``compile_``, ``trainer.compile`` on and every head compiled at every length bucket already."""
    raw = experiment_config(batch_size, sharing)
    raw["tasks"] = {t: raw["tasks"][t] for t in tasks}
    raw["device"] = device
    raw["trainer"]["compile"] = compile_
    raw["trainer"]["precision"] = precision
    config = validate_experiment(raw)
    torch.manual_seed(0)
    model = build_model(config, vocab, list(tasks), {t: "bio" for t in tasks})
    if sharing == "sparse":
        model.sharing.set_masks(paper_like_masks(model))
    target = resolve_device(config.device)
    model.to(target)
    data = {t: TaskData(None, {"train": sentences}, {"train": index_sentences(sentences, vocab, t)}) for t in tasks}
    trainer = Trainer(config, model, data, vocab, RunPaths(run_dir), [], list(tasks), device=target)
    model.train()
    if compile_:
        compile_every_bucket(trainer, batch_size)
    return trainer


def compile_every_bucket(trainer: Trainer, batch_size: int) -> None:
    """Each head's loss run forward and backward once at every length bucket, so no timed step compiles."""
    for task, head in trainer.model.heads.items():
        width = trainer.model.sharing.output_dim(task)
        for size in LENGTH_BUCKETS:
            features = torch.zeros(batch_size, size, width, device=trainer.device, requires_grad=True)
            tags = torch.zeros(batch_size, size, dtype=torch.long, device=trainer.device)
            mask = torch.ones(batch_size, size, dtype=torch.bool, device=trainer.device)
            trainer.compiled.loss(task, features, tags, mask).backward()


def batch_plan(trainer: Trainer, steps: int) -> list[tuple[str, list[int]]]:
    """The (task, sentence indices) the trainer's next ``steps`` steps will take; sampling and batch
    order depend on the seed alone, so a twin built the same way tells them without training."""
    plan = []
    for step in range(trainer.step, trainer.step + steps):
        task = trainer.sampler.next_task(step, trainer.epoch)
        plan.append((task, trainer.streams[task].next_batch().indices))
    return plan


def reference_model(vocab: Vocabulary, tasks: tuple[str, ...], device: torch.device) -> PlainTagger:
    torch.manual_seed(0)
    return PlainTagger(len(vocab.words), len(vocab.chars), {t: len(vocab.labels[t]) for t in tasks}).to(device)


def plain_dataset(sentences: list[Sentence], vocab: Vocabulary, task: str) -> PlainDataset:
    return PlainDataset([[vocab.word_id(w) for w in s.words] for s in sentences],
                        [[vocab.char_ids(w[:30]) for w in s.words] for s in sentences],
                        [[vocab.label_id(task, t) for t in s.tags] for s in sentences])


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, work: Callable[[], None]) -> float:
    synchronize(device)
    began = time.perf_counter()
    work()
    synchronize(device)
    return time.perf_counter() - began


def training_ratios(args, sentences, vocab, tasks: tuple[str, ...], variants: dict[str, tuple[str, bool, str]],
                    device: torch.device, run_dir: Path
                    ) -> tuple[dict[str, tuple[list[float], float, int]], list[dict[str, float]], float]:
    """Per variant (name → sharing strategy, ``trainer.compile``, ``trainer.precision``): per window, project tokens/s ÷
    reference tokens/s, and the project's seconds and tokens in all. The variants and the reference
    all take the same batches (one seed, one task list) in windows whose order rotates, so they
    also compare with each other. Also: the seconds the compiled variants took to compile."""
    trainers = {name: project_trainer(sentences, vocab, tasks, sharing, args.batch_size, args.device,
                                      run_dir / name, compile_, precision)
                for name, (sharing, compile_, precision) in variants.items()}
    sharings = tuple(trainers)
    twin = project_trainer(sentences, vocab, tasks, variants[sharings[0]][0], args.batch_size, args.device,
                           run_dir / "twin")
    total = args.warmup + args.steps
    plan = batch_plan(twin, total)
    lengths = [len(s.words) for s in sentences]
    model = reference_model(vocab, tasks, device)
    optimizer = sgd(model)
    datasets = {t: plain_dataset(sentences, vocab, t) for t in tasks}

    def project(trainer: Trainer) -> Callable[[list], None]:
        def steps(window: list[tuple[str, list[int]]]) -> None:
            for _ in window:
                trainer._train_step()
        return steps

    def reference(window: list[tuple[str, list[int]]]) -> None:
        for task, indices in window:
            train_step(model, optimizer, datasets[task].collate(indices, device), task)

    sides = [(sharing, project(trainer)) for sharing, trainer in trainers.items()] + [("reference", reference)]
    for _, run in sides:
        run(plan[:args.warmup])
    ratios: dict[str, list[float]] = {sharing: [] for sharing in sharings}
    seconds_in_all = dict.fromkeys(sharings, 0.0)
    tokens_in_all = 0
    window_seconds: list[dict[str, float]] = []
    for number, start in enumerate(range(args.warmup, total, args.window)):
        window = plan[start:start + args.window]
        shift = number % len(sides)
        seconds = {name: timed(device, lambda: run(window)) for name, run in sides[shift:] + sides[:shift]}
        tokens = sum(lengths[i] for _, indices in window for i in indices)
        for sharing in sharings:
            ratios[sharing].append(seconds["reference"] / seconds[sharing])
            seconds_in_all[sharing] += seconds[sharing]
        tokens_in_all += tokens
        window_seconds.append(seconds)
    compile_seconds = sum(t.compiled.seconds for t in trainers.values() if t.compiled)
    totals = {sharing: (ratios[sharing], seconds_in_all[sharing], tokens_in_all) for sharing in sharings}
    return totals, window_seconds, compile_seconds


def decoding_ratios(args, sentences, vocab, device: torch.device, run_dir: Path, compiling: bool
                    ) -> tuple[dict[str, list[float]], float]:
    """Per pass: reference seconds ÷ project seconds of decoding NER (``decode``, and with
    ``compiling`` the same model's decoding compiled as ``trainer.compile`` compiles it,
    ``decode_compiled``) and eager ÷ compiled (``decode_compiled_over_eager``); the sides' order
    rotates from pass to pass. Also the seconds compiling took (in the untimed first pass, which
    also checks that compiled decoding predicts what eager decoding does)."""
    trainer = project_trainer(sentences, vocab, ("ner",), "hard", args.batch_size, args.device, run_dir / "decode")
    instances = trainer.data["ner"].instances["train"]
    model = reference_model(vocab, ("ner",), device)
    dataset = plain_dataset(sentences, vocab, "ner")
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i].words))
    compiled = CompiledHeads(trainer.model.heads) if compiling else None

    def project(head_decode=None) -> list[list[str]]:
        return predict_tags(trainer.model, instances, "ner", vocab, args.eval_batch_size, trainer.device, head_decode)

    def reference() -> None:
        model.eval()
        labels = vocab.labels["ner"]
        for start in range(0, len(order), args.eval_batch_size):
            chunk = order[start:start + args.eval_batch_size]
            for ids in model.decode(dataset.collate(chunk, device), "ner"):
                [labels[i] for i in ids]

    sides: list[tuple[str, Callable[[], object]]] = [("project", project), ("reference", reference)]
    eager = project()
    reference()
    if compiled is not None:
        sides.append(("compiled", partial(project, partial(compiled.decode, "ner"))))
        if sides[-1][1]() != eager:
            raise AssertionError("compiled decoding predicted other tags than eager decoding")
    ratios: dict[str, list[float]] = {"decode": [], "decode_compiled": [], "decode_compiled_over_eager": []}
    for number in range(args.decode_repeats):
        shift = number % len(sides)
        seconds = {name: timed(device, run) for name, run in sides[shift:] + sides[:shift]}
        ratios["decode"].append(seconds["reference"] / seconds["project"])
        if compiled is not None:
            ratios["decode_compiled"].append(seconds["reference"] / seconds["compiled"])
            ratios["decode_compiled_over_eager"].append(seconds["project"] / seconds["compiled"])
    return {name: values for name, values in ratios.items() if values}, compiled.seconds if compiled else 0.0


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0], "Timed training steps of each variant (after --warmup).")
    parser.add_argument("--warmup", type=int, default=20, help="Untimed steps of each side first.")
    parser.add_argument("--window", type=int, default=10, help="Steps one side runs before the other.")
    parser.add_argument("--eval-batch-size", type=int, default=256)
    parser.add_argument("--decode-repeats", type=int, default=5, help="Timed decoding passes of each side.")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N.")
    parser.add_argument("--json", action="store_true", help="End with the median ratios as one JSON line.")
    parser.add_argument("--no-compile", action="store_true", help="Leave out the trainer.compile variants.")
    parser.add_argument("--bf16", action="store_true", help="Add trainer.precision bf16 variants of hard and sparse.")
    # 60 windows: single windows on a shared machine scatter by ±10 %, and their median over the
    # 15 windows of 300 steps in 20s still moved by ±5 % from run to run.
    parser.set_defaults(steps=600)
    args = parser.parse_args()
    sentences, source, vocab = prepare(args)
    device = torch.device(args.device)
    results: dict[str, float] = {}
    compiling = not args.no_compile
    joint_variants = {"hard": ("hard", False, "fp32"), "sparse": ("sparse", False, "fp32")}
    single_variants = {"hard": ("hard", False, "fp32")}
    if compiling:
        joint_variants |= {"hard_compiled": ("hard", True, "fp32"), "sparse_compiled": ("sparse", True, "fp32")}
        single_variants |= {"hard_compiled": ("hard", True, "fp32")}
    if args.bf16:
        joint_variants |= {"hard_bf16": ("hard", False, "bf16"), "sparse_bf16": ("sparse", False, "bf16")}
    with tempfile.TemporaryDirectory() as tmp:
        joint, windows, joint_compiling = training_ratios(args, sentences, vocab, TASKS, joint_variants, device,
                                                          Path(tmp))
        single, _, single_compiling = training_ratios(args, sentences, vocab, ("ner",), single_variants, device,
                                                      Path(tmp) / "single")
        results["train_hard"] = statistics.median(joint["hard"][0])
        results["train_sparse"] = statistics.median(joint["sparse"][0])
        results["train_single"] = statistics.median(single["hard"][0])
        if compiling:
            results["train_hard_compiled"] = statistics.median(joint["hard_compiled"][0])
            results["train_sparse_compiled"] = statistics.median(joint["sparse_compiled"][0])
            results["train_single_compiled"] = statistics.median(single["hard_compiled"][0])
        if args.bf16:
            results["train_hard_bf16"] = statistics.median(joint["hard_bf16"][0])
            results["train_sparse_bf16"] = statistics.median(joint["sparse_bf16"][0])
        decoding, decode_compiling = decoding_ratios(args, sentences, vocab, device, Path(tmp), compiling)
    results |= {name: statistics.median(values) for name, values in decoding.items()}
    # Step time of sparse over hard, window by window: both ran the same batches in the same windows.
    results["sparse_over_hard"] = statistics.median(w["sparse"] / w["hard"] for w in windows)
    if compiling:
        for sharing in ("hard", "sparse"):
            results[f"compiled_over_eager_{sharing}"] = statistics.median(
                w[sharing] / w[f"{sharing}_compiled"] for w in windows)
            low, high = (f(w[sharing] / w[f"{sharing}_compiled"] for w in windows) for f in (min, max))
            print(f"compiled over eager, {sharing}: windows range {low:.3f}-{high:.3f}")
        results["compile_seconds"] = joint_compiling + single_compiling
        results["decode_compile_seconds"] = decode_compiling
        low, high = min(decoding["decode_compiled_over_eager"]), max(decoding["decode_compiled_over_eager"])
        print(f"compiled over eager, decoding: passes range {low:.3f}-{high:.3f}")
    for sharing in ("hard", "sparse") if args.bf16 else ():
        results[f"bf16_over_fp32_{sharing}"] = statistics.median(w[sharing] / w[f"{sharing}_bf16"] for w in windows)
        low, high = (f(w[sharing] / w[f"{sharing}_bf16"] for w in windows) for f in (min, max))
        print(f"bf16 over fp32, {sharing}: windows range {low:.3f}-{high:.3f}")
    hard_seconds, hard_tokens = joint["hard"][1], joint["hard"][2]

    print(f"data: {source}; {len(sentences)} sentences; batch {args.batch_size}; device {device}; "
          f"torch threads {args.threads}; {args.steps} timed steps per variant in windows of {args.window}")
    print(f"{'variant':<14}{'project ÷ reference (tokens/s, median)':>40}")
    for name in ("train_hard", "train_sparse", "train_single", "train_hard_compiled", "train_sparse_compiled",
                 "train_single_compiled", "train_hard_bf16", "train_sparse_bf16", "decode", "decode_compiled"):
        if name in results:
            print(f"{name:<22}{results[name]:>32.3f}")
    print(f"{'sparse step ÷ hard step (median)':<30}{results['sparse_over_hard']:>24.3f}")
    epoch = 3 * CONLL03_TRAIN_TOKENS * hard_seconds / hard_tokens
    print(f"estimated joint CoNLL-2003 epoch of hard sharing (training only): {epoch:.0f} s")
    if args.json:
        print(json.dumps({k: round(v, 4) for k, v in results.items()}))


if __name__ == "__main__":
    main()
