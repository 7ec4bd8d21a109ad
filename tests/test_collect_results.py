"""scripts/collect_results.py copies the small files of each run and nothing else."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from collect_results import collect  # noqa: E402


def test_collect_copies_configs_metrics_logs_and_mask_reports(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "sparse" / "seed-1"
    for name in ("config.json", "metrics.json", "train.log", "vocabulary.json", "masks/ner.json", "masks/ner.pt",
                 "checkpoints/last.pt", "mask_search/warmup/config.json", "mask_search/warmup/metrics.json"):
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_text(name)
    copied = collect(tmp_path / "runs", tmp_path / "results")
    target = tmp_path / "results" / "sparse" / "seed-1"
    assert copied == [target]
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert files == ["config.json", "masks/ner.json", "metrics.json", "train.log"]
    assert (target / "masks" / "ner.json").read_text() == "masks/ner.json"
