"""Training and decoding throughput (tokens/s) of the transformer encoder beside the BiLSTM, on the same batches.

Both are hard-sharing networks over pos/chunk/ner with the base network's token embedders and
CRF heads (`common.py`); only the encoder differs: the paper's BiLSTM (200 per direction) or the
transformer of `experiments/lib/transformer_network.libsonnet` (2 pre-norm layers of 128, 4
heads, feed-forward 256). Both train with the same optimizer (SGD, momentum 0.9, clipping 5) so
the figures compare encoders, not optimizers. The training batches are drawn once and replayed to
both; decoding is NER over the same fixed batches. The encoders run in windows whose order
alternates, so drift on a shared machine hits both alike; the figures are medians over windows.
A measurement, not a test:

    python benchmarks/encoder_throughput.py --steps 100 --windows 5 --threads 1
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import TASKS, benchmark_parser, experiment_config, prepare  # noqa: E402

from sparse_sharing.components.data.batching import BatchStream, evaluation_batches, index_sentences  # noqa: E402
from sparse_sharing.config.schema import validate_experiment  # noqa: E402
from sparse_sharing.training.model import MultiTaskTagger, build_model, parameter_counts  # noqa: E402

ENCODERS = {
    "bilstm": {"type": "bilstm", "hidden_size": 200, "num_layers": 1, "dropout": 0.5},
    "transformer": {"type": "transformer", "num_layers": 2, "hidden_size": 128, "num_heads": 4, "ffn_size": 256,
                    "dropout": 0.1, "norm": "pre", "positions": "sinusoidal"},
}


def network(vocab, batch_size: int, encoder: str) -> MultiTaskTagger:
    raw = experiment_config(batch_size)
    raw["model"]["encoder"] = ENCODERS[encoder]
    torch.manual_seed(0)
    return build_model(validate_experiment(raw), vocab, list(TASKS), {t: "bio" for t in TASKS})


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0], "Timed training steps per window.")
    parser.add_argument("--windows", type=int, default=5, help="Timed windows per encoder, alternating.")
    parser.add_argument("--eval-batch-size", type=int, default=256)
    parser.add_argument("--eval-sentences", type=int, default=1000, help="Sentences decoded per window.")
    args = parser.parse_args()
    sentences, source, vocab = prepare(args)
    instances = {t: index_sentences(sentences, vocab, t) for t in TASKS}
    streams = {t: BatchStream(instances[t], args.batch_size, seed=0, stream_id=i) for i, t in enumerate(TASKS)}
    batches = [(TASKS[step % len(TASKS)], streams[TASKS[step % len(TASKS)]].next_batch())
               for step in range(args.steps)]
    decode_set = index_sentences(sentences[: args.eval_sentences], vocab, "ner")
    decode_batches = list(evaluation_batches(decode_set, args.eval_batch_size))
    models = {name: network(vocab, args.batch_size, name) for name in ENCODERS}
    optimizers = {name: torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) for name, model in models.items()}

    def train(name: str) -> float:
        model, optimizer = models[name].train(), optimizers[name]
        start, tokens = time.perf_counter(), 0
        for task, batch in batches:
            model.zero_grad(set_to_none=True)
            model.loss(batch, task).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            tokens += batch.num_tokens()
        return tokens / (time.perf_counter() - start)

    def decode(name: str) -> float:
        model = models[name].eval()
        start, tokens = time.perf_counter(), 0
        for batch in decode_batches:
            model.decode(batch, "ner")
            tokens += batch.num_tokens()
        return tokens / (time.perf_counter() - start)

    for name in ENCODERS:  # warm-up, untimed
        train(name)
        decode(name)
    figures: dict[str, dict[str, list[float]]] = {name: {"train": [], "decode": []} for name in ENCODERS}
    ratios: dict[str, list[float]] = {"train": [], "decode": []}
    for window in range(args.windows):
        order = list(ENCODERS) if window % 2 == 0 else list(reversed(ENCODERS))
        measured = {name: {"train": train(name), "decode": decode(name)} for name in order}
        for name in ENCODERS:
            for kind in ("train", "decode"):
                figures[name][kind].append(measured[name][kind])
        for kind in ratios:
            ratios[kind].append(measured["transformer"][kind] / measured["bilstm"][kind])

    print(f"data: {source}; {len(sentences)} sentences; torch threads {args.threads}")
    print(f"{args.windows} windows of {args.steps} training steps (batch {args.batch_size}, SGD momentum 0.9) "
          f"and NER decoding of {len(decode_set)} sentences (batch {args.eval_batch_size}); medians")
    for name, model in models.items():
        counts = parameter_counts(model)
        print(f"{name:12s} training {statistics.median(figures[name]['train']):8.0f} tokens/s   decoding "
              f"{statistics.median(figures[name]['decode']):8.0f} tokens/s   "
              f"({counts['paper']:,} encoder + char-conv parameters, {counts['total']:,} total)")
    print(f"transformer / bilstm, per window then median: training {statistics.median(ratios['train']):.2f} "
          f"{[round(r, 2) for r in ratios['train']]}, decoding {statistics.median(ratios['decode']):.2f} "
          f"{[round(r, 2) for r in ratios['decode']]}")


if __name__ == "__main__":
    main()
