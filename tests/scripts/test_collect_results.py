"""scripts/collect_results.py copies the small files of each run and nothing else."""
from __future__ import annotations

import sys
from pathlib import Path

import torch

from sparse_sharing.components.masks.mask_set import read_mask_file

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from collect_results import collect  # noqa: E402


def test_collect_copies_configs_metrics_logs_and_mask_reports(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "sparse" / "seed-1"
    for name in ("config.json", "metrics.json", "train.log", "vocabulary.json", "masks/ner.json",
                 "checkpoints/last.pt", "mask_search/warmup/config.json", "mask_search/warmup/metrics.json"):
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_text(name)
    generator = torch.Generator().manual_seed(0)
    mask = {"encoder.weight_ih_l0": torch.rand(8, 5, generator=generator) < 0.3,
            "embedders.1.conv.weight": torch.rand(3, 2, 3, generator=generator) < 0.6}
    torch.save(mask, run / "masks" / "ner.pt")
    copied = collect(tmp_path / "runs", tmp_path / "results")
    target = tmp_path / "results" / "sparse" / "seed-1"
    assert copied == [target]
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert files == ["config.json", "masks/ner.bits", "masks/ner.json", "metrics.json", "train.log", "vocabulary.json"]
    assert (target / "masks" / "ner.json").read_text() == "masks/ner.json"
    unpacked = read_mask_file(target / "masks" / "ner.bits")  # bit for bit, names and shapes in order
    assert list(unpacked) == list(mask)
    for name, tensor in mask.items():
        assert unpacked[name].dtype == torch.bool and torch.equal(unpacked[name], tensor)
