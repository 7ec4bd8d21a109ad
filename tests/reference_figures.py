"""The figures that pin a run's results bit for bit: mask hashes, every score, the final weights.

A refactoring must leave them unchanged; a change meant to alter results (a new kernel, another
random stream) regenerates the stored file on purpose and says so in its commit:

    python tests/reference_figures.py RUN_DIR > tests/reference/tiny_sparse_search.json

where RUN_DIR is the run of ``tests/test_mask_search.py``'s ``SEARCH`` config on the tiny corpus.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import torch


def tensor_hashes(tensors: dict[str, torch.Tensor]) -> dict[str, str]:
    """SHA-256 of each tensor's dtype, shape and bytes, by name."""
    hashes = {}
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest = hashlib.sha256(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
        digest.update(tensor.numpy().tobytes())
        hashes[name] = digest.hexdigest()
    return hashes


def _load(path: Path) -> Any:
    return torch.load(path, map_location="cpu", weights_only=True)


def run_figures(run_dir: Path) -> dict[str, Any]:
    """Everything a sparse run decided: chosen masks, each round's dev score, the final scores and weights."""
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    tasks = sorted(metrics["tasks"])
    figures: dict[str, Any] = {"masks": {}, "rounds": {}, "scores": {}}
    for task in tasks:
        report = json.loads((run_dir / "masks" / f"{task}.json").read_text(encoding="utf-8"))
        figures["masks"][task] = tensor_hashes(_load(run_dir / "masks" / f"{task}.pt"))
        figures["rounds"][task] = {"chosen": report["round"],
                                   "dev_scores": [r["dev_score"] for r in report["rounds"]],
                                   "kept_fractions": [r["kept_fraction"] for r in report["rounds"]]}
        entry = metrics["tasks"][task]
        figures["scores"][task] = {key: entry[key] for key in ("epoch", "dev", "test", "dev_metrics", "test_metrics")}
    figures["mask_summary"] = metrics["masks"]
    figures["parameters"] = metrics["parameters"]
    figures["final_weights"] = tensor_hashes(_load(run_dir / "checkpoints" / "last.pt")["model"])
    return figures


if __name__ == "__main__":
    print(json.dumps(run_figures(Path(sys.argv[1])), indent=1, sort_keys=True))
