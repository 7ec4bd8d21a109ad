"""The figures that pin a run's results: mask hashes and every score bit for bit, the final
weights to within float rounding.

The final weights are stored exactly, but compared with a tolerance (``same_weights``): torch
picks its CPU kernels by instruction set (AVX2, AVX-512, AMX...), and their summation order moves
the weights of the same run in the last bits (measured: at most 4e-6 of a tensor's largest entry
between AVX2 and AVX-512 kernels on one machine) while every mask, round and score stays
identical. A refactoring must leave the figures unchanged; a change meant to alter results (a new
kernel, another random stream) regenerates the stored file on purpose and says so in its commit:

    python tests/reference_figures.py RUN_DIR > tests/reference/tiny_sparse_search.json

where RUN_DIR is the run of ``tests/components/masks/test_mask_search.py``'s ``SEARCH`` config on the tiny
corpus.
"""
from __future__ import annotations

import base64
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


def tensor_values(tensors: dict[str, torch.Tensor]) -> dict[str, dict[str, Any]]:
    """Each tensor exactly, by name: dtype, shape and its bytes in base64 (compact and lossless)."""
    values = {}
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        values[name] = {"dtype": str(tensor.dtype).removeprefix("torch."), "shape": list(tensor.shape),
                        "bytes": base64.b64encode(tensor.numpy().tobytes()).decode("ascii")}
    return values


def from_values(entry: dict[str, Any]) -> torch.Tensor:
    """The tensor ``tensor_values`` stored."""
    dtype = getattr(torch, entry["dtype"])
    data = bytearray(base64.b64decode(entry["bytes"]))
    return torch.frombuffer(data, dtype=dtype).reshape(entry["shape"]) if data else torch.empty(entry["shape"], dtype=dtype)


# Float rounding between CPU kernels, with a margin. Measured against the references (recorded on an
# AMD EPYC): below 1.2e-7 absolute on other AMD machines; on an Intel Xeon 3.6e-7 in the LSTM and
# 1.3e-5 in the embeddings (their gradients summed over a batch's tokens in another order), where
# every mask, round score and final score stayed bit for bit the same.
WEIGHT_RTOL, WEIGHT_ATOL = 1e-5, 1e-4


def same_weights(actual: dict[str, Any], recorded: dict[str, Any]) -> list[str]:
    """The names of the tensors that differ: in name, dtype or shape, in any value of an integer or
    boolean tensor, or beyond ``WEIGHT_RTOL``/``WEIGHT_ATOL`` in a floating tensor."""
    if actual.keys() != recorded.keys():
        return sorted(actual.keys() ^ recorded.keys())
    differ = []
    for name in actual:
        a, b = from_values(actual[name]), from_values(recorded[name])
        if a.dtype != b.dtype or a.shape != b.shape:
            differ.append(name)
        elif a.is_floating_point():
            if not torch.allclose(a, b, rtol=WEIGHT_RTOL, atol=WEIGHT_ATOL):
                differ.append(name)
        elif not torch.equal(a, b):
            differ.append(name)
    return differ


def _load(path: Path) -> Any:
    return torch.load(path, map_location="cpu", weights_only=True)


# metrics.json's masks entries that describe the machine and the clock, not the result.
MACHINE_KEYS = ("jobs", "search_seconds", "warmup_seconds")


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
    # The figures, not how long they took or how many processes made them (which vary by machine).
    figures["mask_summary"] = {k: v for k, v in metrics["masks"].items() if k not in MACHINE_KEYS}
    figures["parameters"] = metrics["parameters"]
    figures["final_weights"] = tensor_values(_load(run_dir / "checkpoints" / "last.pt")["model"])
    return figures


if __name__ == "__main__":
    print(json.dumps(run_figures(Path(sys.argv[1])), indent=1, sort_keys=True))
