"""An IMP round that spans several dev evaluations prunes the weights of its dev-best one and
records that score, as the authors' trainer reloads a round's best-dev epoch before pruning.
(A round with one evaluation, at the end of its budget, is unchanged: the reference figures in
test_mask_search.py hold it bit for bit.)"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from conftest import write_tiny_config, write_tiny_corpus
from sparse_sharing.components.masks.mask_set import all_kept
from sparse_sharing.config.loading import load_experiment
from sparse_sharing.paths import RunPaths
from sparse_sharing.registry import MASK_SOURCES
from sparse_sharing.training.experiment import build_experiment
from sparse_sharing.training.runner import SearchContext
from sparse_sharing.random_state import seed_everything
from sparse_sharing.training.trainer import Trainer

DEV_SCORES = [10.0, 40.0, 30.0, 40.0, 20.0]  # one evaluation a step; the later 40 ties: the second stays best


def test_a_multi_evaluation_round_prunes_and_reports_its_best_evaluation(tmp_path: Path, monkeypatch) -> None:
    write_tiny_config(tmp_path / "tiny.jsonnet", write_tiny_corpus(tmp_path / "data"), callbacks=[])
    masks = {"type": "search", "pruner": {"type": "magnitude", "rate": 0.3, "rounds": 1},
             "steps_per_round": len(DEV_SCORES), "min_kept_fraction": 0.8}  # round 0 only
    config_path = tmp_path / "sparse.jsonnet"
    config_path.write_text(f"(import 'tiny.jsonnet') + {{ model+: {{ sharing: {{ type: 'sparse' }} }}, "
                           f"trainer+: {{ evaluate_every_steps: 1 }}, masks: {json.dumps(masks)} }}")
    _, config = load_experiment(config_path)
    seed_everything(config.seed)
    experiment = build_experiment(config)
    paths = RunPaths(tmp_path / "run")
    context = SearchContext(experiment, paths, experiment.model.state_dict())

    scores = iter(DEV_SCORES)
    seen: list[dict[str, torch.Tensor]] = []  # the prunable weights at each evaluation

    def scripted_evaluation(trainer: Trainer, task: str, split: str) -> dict[str, float]:
        assert split == "dev"
        seen.append({n: w.detach().clone() for n, w in trainer.model.sharing.prunable_weights(task).items()})
        return {"score": next(scores)}

    monkeypatch.setattr(Trainer, "evaluate_task", scripted_evaluation)
    search = MASK_SOURCES.build(config.masks)
    records = search.candidates("ner", context)

    assert len(seen) == len(DEV_SCORES) and len(records) == 1
    assert records[0]["dev_score"] == 40.0 and records[0]["steps"] == len(DEV_SCORES)
    dense = all_kept(context.mask_shapes())
    next_mask = torch.load(paths.round_masks("ner", 0), weights_only=True)["next_mask"]
    best, last = (search.pruner.prune(seen[k], dense) for k in (1, -1))
    assert any(not torch.equal(best[n], last[n]) for n in best)  # the test can tell the two apart
    assert all(torch.equal(next_mask[n], best[n]) for n in best)
