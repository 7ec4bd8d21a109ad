"""Sentences a second of an exported task (onnxruntime, or TorchScript, through ``tagger_runtime.py``)
against ``Tagger.predict`` on the same run, one thread each, with each task's file sizes.

Why: the exported file is meant for serving without the package; this says what it costs or saves.
Both sides tag the whole split (default: the run's test split) from tokens to tags, scheme rewrite
included; windows alternate which side runs first, and the figure is the median over windows of
(exported sentences/s ÷ Tagger sentences/s). The tags of both sides are checked equal first. A
measurement, not a test:

    python benchmarks/export_throughput.py RUN [--data test] [--format onnx] [--windows 5] [--json]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch

import sparse_sharing
from sparse_sharing.export import RUNTIME_FILE, export_task


def runtime_module(folder: Path):
    """The ``tagger_runtime.py`` that ``ssl export`` wrote, imported from ``folder`` as a user would."""
    spec = importlib.util.spec_from_file_location("tagger_runtime", folder / RUNTIME_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rate(tag: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    tag()
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--data", default="test",
                        help="A split name (runs on the bundled corpus) or a file with the run's columns.")
    parser.add_argument("--format", default="onnx", choices=("onnx", "torchscript"))
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    tagger = sparse_sharing.Tagger.from_run(args.run, device="cpu")
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for task in tagger.tasks:
            sentences = [list(s.words) for s in tagger.readers[task].read(str(args.data))]
            output = Path(folder) / f"{task}.{'onnx' if args.format == 'onnx' else 'pt'}"
            sizes = export_task(tagger, task, output, args.format)
            exported = runtime_module(Path(folder)).ExportedTagger(output)
            ours = [row[task] for row in tagger.predict(sentences, tasks=[task])]
            assert exported.predict(sentences) == ours, f"{task}: exported tags differ from Tagger.predict"
            sides = {"tagger": lambda: tagger.predict(sentences, tasks=[task]),
                     "exported": lambda: exported.predict(sentences, batch_size=tagger.config.trainer.eval_batch_size)}
            ratios, rates = [], {"tagger": [], "exported": []}
            for window in range(args.windows):
                order = list(sides) if window % 2 == 0 else list(sides)[::-1]
                measured = {side: rate(sides[side], len(sentences)) for side in order}
                for side, value in measured.items():
                    rates[side].append(value)
                ratios.append(measured["exported"] / measured["tagger"])
            results[task] = {"sentences": len(sentences), **sizes,
                             "tagger_sentences_per_s": statistics.median(rates["tagger"]),
                             "exported_sentences_per_s": statistics.median(rates["exported"]),
                             "exported_over_tagger": statistics.median(ratios)}
    print(f"{args.run} on {args.data}, {args.format}, one thread, median of {args.windows} windows")
    print(f"{'task':6} {'params':>9} {'nonzero':>9} {'file':>10} {'gzip':>10} {'Tagger s/s':>11} {'export s/s':>11} "
          f"{'ratio':>6}")
    for task, r in results.items():
        print(f"{task:6} {r['parameters']:>9,} {r['nonzero']:>9,} {r['file_bytes']:>10,} {r['gzip_bytes']:>10,} "
              f"{r['tagger_sentences_per_s']:>11.0f} {r['exported_sentences_per_s']:>11.0f} "
              f"{r['exported_over_tagger']:>6.2f}")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    sys.exit(main())
