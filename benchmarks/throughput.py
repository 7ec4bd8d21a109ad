"""Training and inference throughput (tokens/s) of hard sharing on CoNLL-2003-shaped batches.

The paper's base network (50-d words, char CNN 30×3, BiLSTM 200 per direction, CRF heads)
with three tasks on the same sentences, as in `experiments/conll03_hard.jsonnet`, but with
random word vectors so no download is needed (see `common.py`). A measurement, not a test:

    python benchmarks/throughput.py --steps 300 --threads 1
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import TASKS, base_network, benchmark_parser, prepare  # noqa: E402

from sparse_sharing.components.data.batching import BatchStream, evaluation_batches, index_sentences  # noqa: E402
from sparse_sharing.training.model import parameter_counts  # noqa: E402


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0], "Timed training steps (after 20 warm-up steps).")
    parser.add_argument("--eval-batch-size", type=int, default=256)
    args = parser.parse_args()
    sentences, source, vocab = prepare(args)
    model = base_network(vocab, args.batch_size)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    instances = {t: index_sentences(sentences, vocab, t) for t in TASKS}
    streams = {t: BatchStream(instances[t], args.batch_size, seed=0, stream_id=i) for i, t in enumerate(TASKS)}

    def train_step(step: int) -> int:
        task = TASKS[step % len(TASKS)]
        batch = streams[task].next_batch()
        model.zero_grad(set_to_none=True)
        model.loss(batch, task).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        return batch.num_tokens()

    model.train()
    for step in range(20):
        train_step(step)
    start, tokens = time.perf_counter(), 0
    for step in range(args.steps):
        tokens += train_step(step)
    train_seconds = time.perf_counter() - start

    model.eval()
    start, eval_tokens = time.perf_counter(), 0
    for batch in evaluation_batches(instances["ner"], args.eval_batch_size):
        model.decode(batch, "ner")
        eval_tokens += batch.num_tokens()
    eval_seconds = time.perf_counter() - start

    counts = parameter_counts(model)
    print(f"data: {source}; {len(sentences)} sentences")
    print(f"model: hard sharing, 3 CRF heads; {counts['paper']:,} parameters (paper convention), "
          f"{counts['total']:,} total; torch threads {args.threads}")
    print(f"training : {tokens / train_seconds:9.0f} tokens/s  ({args.steps} steps of batch {args.batch_size}, "
          f"{1000 * train_seconds / args.steps:.1f} ms/step)")
    print(f"inference: {eval_tokens / eval_seconds:9.0f} tokens/s  (Viterbi, batch {args.eval_batch_size})")


if __name__ == "__main__":
    main()
