"""The mask search (per-task IMP with a multi-task warm-up), its resume, and masks from another run.

Everything past the selection rules' unit tests drives the real ``ssl train`` on the tiny corpus
with ``model.sharing: {type: 'sparse'}``: 5 warm-up steps, 2 pruning rounds of 5 steps at 30 %,
one epoch of joint training. One search run (module-scoped) is shared; the resume test works on
a copy of it, the ``from_run`` test trains a second run on its masks.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from conftest import run_ssl, write_tiny_config, write_tiny_corpus
from reference_figures import run_figures, same_weights
from sparse_sharing.components.data.vocabulary import Vocabulary
from sparse_sharing.components.masks.selection import (BestDev, BestDevConfig, FixedRound, FixedRoundConfig, NearestKept,
                                                       NearestKeptConfig, SparsestWithinNoise,
                                                       SparsestWithinNoiseConfig, round_noise)
from sparse_sharing.config.schema import validate_experiment
from sparse_sharing.errors import ConfigError
from sparse_sharing.registry import import_plugins
from sparse_sharing.training.model import parameter_counts
from sparse_sharing.training.experiment import build_experiment

TASKS = ("pos", "chunk", "ner")
RATE, ROUNDS = 0.3, 2
SEARCH = {
    "type": "search",
    "pruner": {"type": "magnitude", "rate": RATE, "rounds": ROUNDS},
    "steps_per_round": 5,
    "warmup_steps": 5,
    "jobs": 1,
}


# ------------------------------------------------------------------ selection rules
def records(*rounds: tuple[float, float]) -> list[dict]:
    """(kept_fraction, dev_score) per round, round 0 first."""
    return [{"task": "ner", "round": k, "kept_fraction": kept, "dev_score": dev}
            for k, (kept, dev) in enumerate(rounds)]


HISTORY = records((1.0, 80.0), (0.7, 85.0), (0.49, 85.0), (0.343, 70.0))
BEST_DEV = BestDev(BestDevConfig())


def fixed(k: int) -> FixedRound:
    return FixedRound(FixedRoundConfig(type="round", round=k))


def test_best_dev() -> None:
    assert BEST_DEV.choose(records((1.0, 90.0), (0.7, 85.0), (0.49, 84.0)))["round"] == 0
    assert BEST_DEV.choose(records((1.0, 80.0), (0.7, 81.0), (0.49, 60.0)))["round"] == 1


def test_best_dev_tie_goes_to_the_sparser_round() -> None:
    assert BEST_DEV.choose(HISTORY)["round"] == 2
    assert BEST_DEV.choose(records((1.0, 50.0), (0.7, 50.0), (0.49, 50.0)))["round"] == 2


def test_fixed_round() -> None:
    for k in range(len(HISTORY)):
        assert fixed(k).choose(HISTORY) == HISTORY[k]


def test_nearest_kept_fraction() -> None:
    def nearest(target: float, history: list[dict] = HISTORY) -> int:
        return NearestKept(NearestKeptConfig(type="kept_fraction", kept_fraction=target)).choose(history)["round"]

    assert nearest(1.0) == 0
    assert nearest(0.6) == 1  # |0.7 − 0.6| = 0.10 < |0.49 − 0.6| = 0.11
    assert nearest(0.5) == 2
    assert nearest(0.01) == 3
    # An exact tie (in binary floating point too) goes to the sparser, later round.
    assert nearest(0.5, records((0.75, 1.0), (0.25, 1.0))) == 1


def test_nearest_kept_fraction_per_task() -> None:
    rule = NearestKept(NearestKeptConfig(type="kept_fraction", kept_fraction={"ner": 0.5, "pos": 0.9}))
    assert rule.choose(HISTORY)["round"] == 2  # HISTORY is ner's
    rule.check_tasks(["ner", "pos"])
    with pytest.raises(ConfigError, match="no kept fraction for task.*chunk"):
        rule.check_tasks(["ner", "chunk"])


def test_round_noise_by_hand() -> None:
    # differences 1, −1, 2: mean 2/3, population variance (1/9 + 25/9 + 16/9)/3 = 42/27
    scores = records((1.0, 80.0), (0.9, 81.0), (0.8, 80.0), (0.7, 82.0))
    assert round_noise(scores) == pytest.approx((42 / 27) ** 0.5 / 2 ** 0.5)
    assert round_noise(list(reversed(scores))) == round_noise(scores)  # read in round order
    # a steady slope is the curve, not noise
    assert round_noise(records(*[(1.0 - k / 10, 80.0 + 0.5 * k) for k in range(6)])) == pytest.approx(0.0)
    assert round_noise(records((1.0, 80.0), (0.9, 85.0))) == 0.0  # one difference: no spread


def test_sparsest_within_noise() -> None:
    def choose(history: list[dict], tolerance: float = 1.0) -> int:
        return SparsestWithinNoise(SparsestWithinNoiseConfig(type="sparsest_within_noise",
                                                             tolerance=tolerance)).choose(history)["round"]

    # A flat, noisy curve: differences 0.4, −0.5, 0.4, −0.2, −1.1, so σ = √(1.62/5)/√2 ≈ 0.40.
    # The best is round 1 (85.4); the sparsest round within σ of it is round 4 (85.1): round 2
    # (84.9) and round 5 (84.0) are below 85.4 − σ.
    flat = records((1.0, 85.0), (0.9, 85.4), (0.8, 84.9), (0.7, 85.3), (0.6, 85.1), (0.5, 84.0))
    assert round_noise(flat) == pytest.approx((1.62 / 5) ** 0.5 / 2 ** 0.5)
    assert choose(flat) == 4
    assert choose(flat, tolerance=0.0) == 1  # best_dev
    assert choose(flat, tolerance=100.0) == 5
    # two rounds: no noise estimate, best dev with ties to the sparser
    assert choose(records((1.0, 80.0), (0.7, 80.0))) == 1
    assert choose(records((1.0, 81.0), (0.7, 80.0))) == 0


def test_sparsest_within_noise_on_the_exp1_records() -> None:
    """The one-epoch IMP rounds of Exp1 sparse seed 1's first attempt: the README's figures."""
    folder = Path(__file__).parents[3] / "results" / "exp1_first_attempts" / "sparse" / "seed-1" / "masks"
    rule = SparsestWithinNoise(SparsestWithinNoiseConfig(type="sparsest_within_noise"))
    chosen = {t: rule.choose(json.loads((folder / f"{t}.json").read_text())["rounds"]) for t in TASKS}
    assert {t: r["round"] for t, r in chosen.items()} == {"chunk": 8, "ner": 18, "pos": 13}


def test_fixed_round_not_run_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="round 4 was not run"):
        fixed(4).choose(HISTORY)


# ------------------------------------------------------------------ runs through the CLI
@dataclass
class SearchRun:
    workdir: Path
    config: Path
    run_dir: Path
    result: subprocess.CompletedProcess


def write_sparse_config(path: Path, base: Path, masks: dict) -> Path:
    path.write_text(f"(import {json.dumps(base.name)}) + {{\n"
                    f"  model+: {{ sharing: {{ type: 'sparse' }} }},\n"
                    f"  masks: {json.dumps(masks)},\n}}\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def search_run(tmp_path_factory: pytest.TempPathFactory) -> SearchRun:
    workdir = tmp_path_factory.mktemp("mask_search")
    corpus = write_tiny_corpus(workdir / "data")
    base = write_tiny_config(workdir / "tiny.jsonnet", corpus, num_epochs=1, callbacks=[{"type": "checkpoint"}])
    config = write_sparse_config(workdir / "sparse.jsonnet", base, SEARCH)
    run_dir = workdir / "search"
    result = run_ssl("train", config, "-s", run_dir)
    assert result.returncode == 0, result.stderr
    return SearchRun(workdir, config, run_dir, result)


def load(path: Path):
    return torch.load(path, map_location="cpu", weights_only=True)


def round_file(run_dir: Path, task: str, k: int, suffix: str) -> Path:
    return run_dir / "mask_search" / task / f"round_{k:02d}.{suffix}"


def assert_same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype and torch.equal(a[name], b[name]), name


def assert_same_masks(run_a: Path, run_b: Path) -> None:
    for task in TASKS:
        assert_same_tensors(load(run_a / "masks" / f"{task}.pt"), load(run_b / "masks" / f"{task}.pt"))


def dense_hard_paper_count(run_dir: Path) -> int:
    """The paper's parameter count of the same model under hard sharing (no masks)."""
    import_plugins(())
    raw = json.loads((run_dir / "config.json").read_text())
    raw["model"]["sharing"] = {"type": "hard"}
    raw.pop("masks")
    config = validate_experiment(raw)
    experiment = build_experiment(config, Vocabulary.load(run_dir / "vocabulary.json"))
    return parameter_counts(experiment.model)["paper"]


def test_search_end_to_end(search_run: SearchRun) -> None:
    run_dir = search_run.run_dir
    assert (run_dir / "mask_search" / "init.pt").is_file()
    assert (run_dir / "mask_search" / "warmup.pt").is_file()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["finished"] and metrics["strategy"] == "sparse"
    for task in TASKS:
        assert f"{task}: dev-best epoch" in search_run.result.stdout
        round_records = []
        for k in range(ROUNDS + 1):
            assert round_file(run_dir, task, k, "pt").is_file()
            record = json.loads(round_file(run_dir, task, k, "json").read_text())
            assert record["task"] == task and record["round"] == k
            assert record["kept_fraction"] == pytest.approx((1 - RATE) ** k, abs=2e-3)
            assert record["steps"] == SEARCH["steps_per_round"]
            round_records.append(record)
        assert not round_file(run_dir, task, ROUNDS + 1, "json").exists()

        assert (run_dir / "masks" / f"{task}.pt").is_file()
        report = json.loads((run_dir / "masks" / f"{task}.json").read_text())
        assert {"round", "dev_score", "kept_fraction", "rounds"} <= report.keys()
        assert report["task"] == task and report["true_means"] == "kept"
        assert [r["round"] for r in report["rounds"]] == list(range(ROUNDS + 1))
        assert [r["dev_score"] for r in report["rounds"]] == [r["dev_score"] for r in round_records]
        # The automatic choice: best dev, ties to the sparser round.
        best = max(round_records, key=lambda r: (r["dev_score"], r["round"]))
        assert report["round"] == best["round"] and report["dev_score"] == best["dev_score"]
        assert report["kept_fraction"] == pytest.approx(best["kept_fraction"])
        # The chosen file is the mask that round trained with.
        chosen = load(run_dir / "masks" / f"{task}.pt")
        assert_same_tensors(chosen, load(round_file(run_dir, task, best["round"], "pt"))["mask"])
        assert metrics["masks"]["kept_fraction"][task] == pytest.approx(report["kept_fraction"])

    assert 0.0 <= metrics["masks"]["overlap_ratio"] <= 1.0
    dense = dense_hard_paper_count(run_dir)
    assert metrics["parameters"]["paper"] < dense
    # The masked entries count by their union; everything else the paper counts, whole.
    masks = metrics["masks"]
    assert metrics["parameters"]["paper"] == dense - masks["masked_total"] + masks["union_count"]


def test_search_gives_the_recorded_figures(search_run: SearchRun) -> None:
    """The masks, round scores and final scores recorded before the runner redesign, bit for bit;
    the final weights within float rounding (other CPUs run other kernels: see reference_figures)."""
    recorded = json.loads((Path(__file__).parents[2] / "reference" / "tiny_sparse_search.json").read_text())
    figures = run_figures(search_run.run_dir)
    assert same_weights(figures.pop("final_weights"), recorded.pop("final_weights")) == []
    assert figures == recorded


def test_a_one_job_search_reads_the_config_and_data_once(search_run: SearchRun) -> None:
    """The search runs on the run's own validated config, data and model: no worker-style reload
    (before the runner, each task's search re-read config.json and every data file)."""
    log = (search_run.run_dir / "train.log").read_text()
    for task in TASKS:
        assert log.count(f"task {task}: train ") == 1, log


def test_masks_only_shrink_across_rounds(search_run: SearchRun) -> None:
    for task in TASKS:
        previous = None
        for k in range(ROUNDS + 1):
            stored = load(round_file(search_run.run_dir, task, k, "pt"))
            mask, next_mask = stored["mask"], stored["next_mask"]
            assert mask.keys() == next_mask.keys()
            if k == 0:
                assert all(bool(m.all()) for m in mask.values()), "round 0 is the dense network"
            else:
                assert_same_tensors(mask, previous)  # round k trains with what round k−1 left
            kept = sum(int(m.sum()) for m in mask.values())
            kept_next = sum(int(m.sum()) for m in next_mask.values())
            for name in mask:
                assert mask[name].dtype == torch.bool
                assert not bool((next_mask[name] & ~mask[name]).any()), f"{task} round {k}: {name} grew"
            assert kept_next == kept - round(RATE * kept)  # global: exactly 30 % of what was kept
            previous = next_mask


def test_resume_redoes_only_the_interrupted_round(search_run: SearchRun) -> None:
    source = search_run.run_dir
    resumed = search_run.workdir / "resumed"
    shutil.copytree(source, resumed)  # copy2: modification times kept
    # Interrupted during ner's last round: its files, the chosen masks and joint training are missing.
    for suffix in ("pt", "json"):
        round_file(resumed, "ner", ROUNDS, suffix).unlink()
    shutil.rmtree(resumed / "masks")
    shutil.rmtree(resumed / "checkpoints")
    (resumed / "metrics.json").unlink()
    untouched = {path: (path.stat().st_mtime_ns, path.read_bytes())
                 for path in (resumed / "mask_search").rglob("round_*.*")}
    assert len(untouched) == 2 * (len(TASKS) * (ROUNDS + 1) - 1)

    result = run_ssl("train", search_run.config, "-s", resumed, "--resume")
    assert result.returncode == 0, result.stderr

    for path, (mtime, content) in untouched.items():
        assert path.stat().st_mtime_ns == mtime and path.read_bytes() == content, f"{path} was redone"
    redone = [line for line in result.stderr.splitlines() if "mask search" in line and "round" in line]
    assert len(redone) == 1 and f"mask search ner round {ROUNDS}/{ROUNDS}:" in redone[0], result.stderr
    assert "multi-task warm-up" not in result.stderr

    # The redone round is the round the first run did: same mask, same pruning, same record.
    original = load(round_file(source, "ner", ROUNDS, "pt"))
    again = load(round_file(resumed, "ner", ROUNDS, "pt"))
    for key in ("mask", "next_mask"):
        assert_same_tensors(original[key], again[key])
    before = json.loads(round_file(source, "ner", ROUNDS, "json").read_text())
    after = json.loads(round_file(resumed, "ner", ROUNDS, "json").read_text())
    before.pop("seconds"), after.pop("seconds")
    assert before == after
    assert_same_masks(source, resumed)
    # Joint training draws the same random numbers however much of the search ran in its process.
    assert_same_tensors(load(source / "checkpoints" / "last.pt")["model"],
                        load(resumed / "checkpoints" / "last.pt")["model"])


def test_masks_from_run(search_run: SearchRun) -> None:
    workdir, source = search_run.workdir, search_run.run_dir
    config = write_sparse_config(workdir / "from_run.jsonnet", workdir / "tiny.jsonnet",
                                 {"type": "from_run", "path": str(source)})
    run_dir = workdir / "from_run"
    result = run_ssl("train", config, "-s", run_dir)
    assert result.returncode == 0, result.stderr
    assert "mask search" not in result.stderr
    assert not (run_dir / "mask_search").exists()
    assert_same_masks(source, run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    first = json.loads((source / "metrics.json").read_text())
    assert metrics["masks"] == first["masks"]
    for task in TASKS:
        report = json.loads((run_dir / "masks" / f"{task}.json").read_text())
        assert report["from_run"] == str(source)
        assert report["round"] == json.loads((source / "masks" / f"{task}.json").read_text())["round"]


def test_masks_from_run_chosen_again_without_a_search(search_run: SearchRun) -> None:
    """`from_run` with a selection rule takes other rounds of the source's search: the very masks
    those rounds recorded, and no training but the joint one."""
    workdir, source = search_run.workdir, search_run.run_dir
    wanted = {"pos": 0, "chunk": 1, "ner": 2}
    config = write_sparse_config(workdir / "rechosen.jsonnet", workdir / "tiny.jsonnet", {
        "type": "from_run", "path": str(source),
        "selection": {"type": "kept_fraction", "kept_fraction": {t: (1 - RATE) ** k for t, k in wanted.items()}}})
    run_dir = workdir / "rechosen"
    result = run_ssl("train", config, "-s", run_dir)
    assert result.returncode == 0, result.stderr
    assert "mask search" not in result.stderr and not (run_dir / "mask_search").exists()
    for task, k in wanted.items():
        assert_same_tensors(load(run_dir / "masks" / f"{task}.pt"), load(round_file(source, task, k, "pt"))["mask"])
        report = json.loads((run_dir / "masks" / f"{task}.json").read_text())
        assert report["round"] == k and report["from_run"] == str(source)
        assert report["dev_score"] == json.loads(round_file(source, task, k, "json").read_text())["dev_score"]


def test_masks_from_run_chosen_again_needs_the_rounds(search_run: SearchRun, tmp_path: Path) -> None:
    chosen_only = tmp_path / "chosen_only"
    shutil.copytree(search_run.run_dir / "masks", chosen_only / "masks")
    config = write_sparse_config(search_run.workdir / "rechosen_none.jsonnet", search_run.workdir / "tiny.jsonnet",
                                 {"type": "from_run", "path": str(chosen_only), "selection": {"type": "best_dev"}})
    result = run_ssl("train", config, "-s", tmp_path / "run")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "has none for task" in result.stderr
    assert not (tmp_path / "run").exists()


def test_a_per_task_kept_fraction_must_name_every_task(search_run: SearchRun, tmp_path: Path) -> None:
    config = write_sparse_config(search_run.workdir / "missing_task.jsonnet", search_run.workdir / "tiny.jsonnet",
                                 {**SEARCH, "selection": {"type": "kept_fraction", "kept_fraction": {"pos": 0.5}}})
    for command in (("validate", config), ("train", config, "-s", tmp_path / "run")):
        result = run_ssl(*command)
        assert result.returncode == 2, result.stderr
        assert "no kept fraction for task(s) chunk, ner" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_collected_results_serve_ssl_masks_and_from_run(search_run: SearchRun, tmp_path: Path) -> None:
    """The committed form of a run (scripts/collect_results.py: small files, masks bit-packed) is
    enough for `ssl masks` and for another run's `from_run`."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))
    from collect_results import collect

    runs = tmp_path / "runs"
    shutil.copytree(search_run.run_dir, runs / "sparse" / "seed-1")
    collected = collect(runs, tmp_path / "results")[0]
    assert not list(collected.rglob("*.pt"))
    shown = run_ssl("masks", collected, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    original = json.loads(run_ssl("masks", search_run.run_dir, "--format", "json").stdout)
    shown = json.loads(shown.stdout)
    assert shown["figures"] == original["figures"]
    assert shown["parameters"] == original["parameters"] and shown["parameters"]["counted_from"] == "model"
    config = write_sparse_config(search_run.workdir / "from_results.jsonnet", search_run.workdir / "tiny.jsonnet",
                                 {"type": "from_run", "path": str(collected)})
    result = run_ssl("train", config, "-s", tmp_path / "from_results")
    assert result.returncode == 0, result.stderr
    assert_same_masks(search_run.run_dir, tmp_path / "from_results")


def test_masks_from_run_without_masks_is_a_user_error(search_run: SearchRun, tmp_path: Path) -> None:
    empty = tmp_path / "no_masks"
    empty.mkdir()
    config = write_sparse_config(search_run.workdir / "from_nothing.jsonnet", search_run.workdir / "tiny.jsonnet",
                                 {"type": "from_run", "path": str(empty)})
    result = run_ssl("train", config, "-s", tmp_path / "run")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "Error:" in result.stderr and "no mask for task" in result.stderr
    assert str(empty / "masks") in result.stderr


@pytest.mark.skipif(not os.environ.get("SSL_SLOW_TESTS"),
                    reason="two spawned workers each import torch and load the run (~20 s); set SSL_SLOW_TESTS=1")
def test_parallel_search_matches_serial(search_run: SearchRun) -> None:
    workdir, source = search_run.workdir, search_run.run_dir
    config = write_sparse_config(workdir / "jobs2.jsonnet", workdir / "tiny.jsonnet", {**SEARCH, "jobs": 2})
    run_dir = workdir / "jobs2"
    result = run_ssl("train", config, "-s", run_dir)
    assert result.returncode == 0, result.stderr
    for task in TASKS:
        for k in range(ROUNDS + 1):
            a, b = load(round_file(source, task, k, "pt")), load(round_file(run_dir, task, k, "pt"))
            for key in ("mask", "next_mask"):
                assert_same_tensors(a[key], b[key])
    assert_same_masks(source, run_dir)
    assert_same_tensors(load(source / "checkpoints" / "last.pt")["model"],
                        load(run_dir / "checkpoints" / "last.pt")["model"])
