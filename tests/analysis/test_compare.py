"""`ssl compare`: the results table from run directories written here by hand.

No training: each fixture run is a config.json and a metrics.json with chosen scores, so every
printed figure is checked against arithmetic done in the test.
"""
from __future__ import annotations

import csv
import io
import json
import shutil
import statistics
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from conftest import run_ssl
from sparse_sharing.analysis.compare import compare, experiment_key
from sparse_sharing.cli.main import cli
from sparse_sharing.errors import RunDirError, UserError

TRUNK = 453_930  # one BiLSTM + char conv, the paper's count for the fixture configs
TOTAL = 1_740_000


def write_run(root: Path, name: str, scores: dict[str, float], *, strategy: str = "hard", seed: int = 1,
              train_tasks: list[str] | None = None, finished: bool = True, epochs: int = 10,
              num_epochs: int = 10, num_threads: int = 1, paper: int = TRUNK, total: int = TOTAL,
              hidden_size: int = 200) -> Path:
    """A run directory as `ssl train` leaves it, reduced to what `ssl compare` reads."""
    run_dir = root / name
    run_dir.mkdir(parents=True)
    config = {
        "seed": seed,
        "num_threads": num_threads,
        "train_tasks": train_tasks,
        "tasks": {task: {"metric": {"type": "accuracy" if task == "pos" else "span_f1"}}
                  for task in ("chunk", "ner", "pos")},
        "model": {"encoder": {"type": "bilstm", "hidden_size": hidden_size}, "sharing": {"type": strategy}},
        "trainer": {"num_epochs": num_epochs, "optimizer": {"type": "sgd", "lr": 0.1}},
    }
    metrics = {
        "finished": finished,
        "strategy": strategy,
        "epochs_completed": epochs,
        "parameters": {"paper": paper, "total": total},
        "tasks": {task: {"epoch": epochs - 1, "dev": score + 1.0, "test": score} for task, score in scores.items()},
        "history": [],
    }
    (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    return run_dir


def invoke(*args: Any) -> Result:
    return CliRunner().invoke(cli, ["compare", *map(str, args)])


def markdown_rows(text: str) -> dict[str, dict[str, str]]:
    """The Markdown table at the top of TEXT, as row name -> column -> cell."""
    lines = text.split("\n\n")[0].splitlines()
    header, *rows = ([cell.strip() for cell in line.strip("|").split("|")] for line in lines)
    return {cells[0]: dict(zip(header, cells)) for cells in rows[1:]}  # rows[0]: the alignment rule


@pytest.fixture
def single_runs(tmp_path: Path) -> list[Path]:
    """The single-task baseline as it is usually trained: one task a run, budgets and threads differing."""
    return [
        write_run(tmp_path, "single-pos", {"pos": 95.0}, strategy="single", train_tasks=["pos"], num_epochs=60),
        write_run(tmp_path, "single-chunk", {"chunk": 90.0}, strategy="single", train_tasks=["chunk"],
                  num_threads=2, num_epochs=40),
        write_run(tmp_path, "single-ner", {"ner": 89.0}, strategy="single", train_tasks=["ner"], num_epochs=30),
    ]


@pytest.fixture
def hard_seeds(tmp_path: Path) -> list[Path]:
    """Three seeds of one multi-task experiment."""
    return [
        write_run(tmp_path, f"hard-{seed}", {"pos": pos, "chunk": chunk, "ner": ner}, seed=seed)
        for seed, (pos, chunk, ner) in enumerate([(95.0, 91.0, 88.0), (95.2, 90.0, 88.5), (95.4, 92.0, 89.5)])
    ]


def test_seeds_of_one_config_form_one_row_with_mean_and_sample_std(hard_seeds: list[Path]) -> None:
    comparison = compare(hard_seeds)
    [row] = comparison.rows
    assert row.name == "hard" and len(row.runs) == 3
    assert row.scores["pos"].mean == pytest.approx(95.2)
    assert row.scores["pos"].std == pytest.approx(0.2)  # sample std: sqrt((0.04 + 0 + 0.04) / 2)
    assert row.scores["chunk"].std == pytest.approx(1.0)
    assert row.scores["ner"].mean == pytest.approx(88.6667, abs=1e-4)
    assert row.scores["ner"].std == pytest.approx(statistics.stdev([88.0, 88.5, 89.5]))
    assert comparison.mean(row) == pytest.approx((95.2 + 91.0 + 266.0 / 3) / 3)
    assert row.parameters == {"paper": TRUNK, "total": TOTAL}  # seeds of one model: their mean, not a sum

    result = invoke(*hard_seeds)
    assert result.exit_code == 0, result.output
    assert "95.20 ± 0.20" in result.stdout and "91.00 ± 1.00" in result.stdout


def test_settings_of_how_a_run_computes_do_not_split_rows() -> None:
    """The keys a resumed run may change (threads, device, compile, evaluation batch, search jobs)
    do not tell experiments apart; the training batch size does."""
    base = {"seed": 1, "masks": {"type": "search", "jobs": 1},
            "trainer": {"num_epochs": 3, "batch_size": 10, "eval_batch_size": 128}}
    computed_otherwise = {"seed": 2, "num_threads": 2, "device": "cuda", "masks": {"type": "search", "jobs": 3},
                          "trainer": {"num_epochs": 5, "batch_size": 10, "eval_batch_size": 16, "compile": True}}
    assert experiment_key(base) == experiment_key(computed_otherwise)
    assert experiment_key(base) != experiment_key({**base, "trainer": {**base["trainer"], "batch_size": 32}})


def test_one_run_shows_no_spread(tmp_path: Path) -> None:
    run = write_run(tmp_path, "hard", {"pos": 95.123})
    result = invoke(run)
    assert result.exit_code == 0, result.output
    assert "95.12" in result.stdout and "±" not in result.stdout.split("\n\n")[0]


def test_single_task_runs_form_one_row_with_summed_parameters(tmp_path: Path, single_runs: list[Path]) -> None:
    second_pos_seed = write_run(tmp_path, "single-pos-2", {"pos": 95.4}, strategy="single", train_tasks=["pos"],
                                seed=2, paper=TRUNK + 2, total=TOTAL + 2)
    comparison = compare([*single_runs, second_pos_seed])
    [row] = comparison.rows
    assert row.name == "single"
    assert comparison.tasks == ("pos", "chunk", "ner")  # first seen, not alphabetical
    assert (row.scores["pos"].mean, row.scores["pos"].n) == (pytest.approx(95.2), 2)
    assert (row.scores["chunk"].mean, row.scores["chunk"].n, row.scores["chunk"].std) == (90.0, 1, None)
    # Three task sets add up; the two pos seeds count once, as their mean.
    assert row.parameters == {"paper": 3 * TRUNK + 1, "total": 3 * TOTAL + 1}
    assert comparison.mean(row) == pytest.approx((95.2 + 90.0 + 89.0) / 3)


def test_baseline_difference(single_runs: list[Path], hard_seeds: list[Path]) -> None:
    comparison = compare([*single_runs, *hard_seeds], baseline="single")
    single, hard = comparison.rows
    assert comparison.delta(hard, "pos") == pytest.approx(0.2)
    assert comparison.delta(hard, "chunk") == pytest.approx(1.0)
    assert comparison.delta(hard, None) == pytest.approx(comparison.mean(hard) - (95.0 + 90.0 + 89.0) / 3)
    assert comparison.delta(single, "pos") == 0.0

    result = invoke(*single_runs, *hard_seeds, "--baseline", "single")
    assert result.exit_code == 0, result.output
    table = markdown_rows(result.stdout)
    hard_cells, single_cells = table["hard"], table["single"]
    assert hard_cells["Δ pos"] == "+0.20" and hard_cells["Δ chunk"] == "+1.00"
    assert hard_cells["params (paper)"] == f"{TRUNK:,}" and single_cells["params (paper)"] == f"{3 * TRUNK:,}"
    assert single_cells["Δ pos"] == ""  # the baseline is not compared with itself
    assert "Δ: difference from row 'single'" in result.stdout


def test_paired_difference_by_seed(tmp_path: Path) -> None:
    """Seed 3 is hard for both rows: the rows' spreads are large, their seed-by-seed difference is not."""
    single = [write_run(tmp_path, f"single-{task}-{seed}", {task: score}, strategy="single", seed=seed,
                        train_tasks=[task])
              for task, scores in {"ner": [77.0, 78.0, 70.0], "pos": [95.0, 95.2, 95.1]}.items()
              for seed, score in zip((1, 2, 3), scores)]
    sparse = [write_run(tmp_path, f"sparse-{seed}", {"ner": ner, "pos": pos}, strategy="sparse", seed=seed)
              for seed, ner, pos in [(1, 76.0, 95.0), (2, 76.5, 95.0), (3, 69.5, 95.3), (4, 80.0, 95.0)]]
    extra_seed_3 = write_run(tmp_path, "sparse-3b", {"ner": 68.5, "pos": 95.3}, strategy="sparse", seed=3)
    comparison = compare([*single, *sparse, extra_seed_3], baseline="single")
    base, row = comparison.rows
    ner = [76.0 - 77.0, 76.5 - 78.0, (69.5 + 68.5) / 2 - 70.0]  # seed 4 has no baseline run; seed 3 twice: mean
    paired = comparison.paired_delta(row, "ner")
    assert (paired.mean, paired.std, paired.n) == (pytest.approx(statistics.fmean(ner)),
                                                   pytest.approx(statistics.stdev(ner)), 3)
    assert paired.std < row.scores["ner"].std and paired.std < base.scores["ner"].std
    pos = [0.0, -0.2, 0.2]
    means = [(n + p) / 2 for n, p in zip(ner, pos)]
    assert comparison.paired_delta(row, "pos").mean == pytest.approx(0.0)
    assert comparison.paired_delta(row, None).mean == pytest.approx(statistics.fmean(means))
    assert comparison.paired_delta(row, None).std == pytest.approx(statistics.stdev(means))
    assert comparison.paired_delta(base, "ner") is None
    assert compare([*single, *sparse]).paired_delta(row, "ner") is None  # no baseline

    result = invoke(*single, *sparse, extra_seed_3, "--baseline", "single")
    assert result.exit_code == 0, result.output
    assert (f"  sparse: ner {statistics.fmean(ner):+.2f} ± {statistics.stdev(ner):.2f} (3), pos +0.00 ± 0.20 (3), "
            f"mean {statistics.fmean(means):+.2f} ± {statistics.stdev(means):.2f} (3)") in result.stdout
    rows = {r["row"]: r for r in csv.DictReader(io.StringIO(invoke(*single, *sparse, extra_seed_3, "--format", "csv",
                                                                   "--baseline", "single").stdout))}
    assert float(rows["sparse"]["ner_paired_delta"]) == pytest.approx(statistics.fmean(ner))
    assert rows["sparse"]["ner_paired_n"] == "3" and rows["single"]["ner_paired_delta"] == ""
    assert list(rows["sparse"])[-3:] == ["mean_paired_delta", "mean_paired_std", "mean_paired_n"]
    # no row with two seeds in common: no paired lines
    assert "Δ paired by seed" not in invoke(*single, sparse[0], "--baseline", "single").stdout


def test_unfinished_and_missing_runs_are_reported_not_dropped(tmp_path: Path, hard_seeds: list[Path]) -> None:
    unfinished = write_run(tmp_path, "sparse", {"pos": 90.0}, strategy="sparse", finished=False, epochs=3,
                           num_epochs=40)
    never_trained = tmp_path / "failed"
    never_trained.mkdir()
    (never_trained / "config.json").write_text("{}")
    corrupt = write_run(tmp_path, "corrupt", {"pos": 90.0})
    (corrupt / "metrics.json").write_text('{"finished": tr')
    missing = tmp_path / "nowhere"

    result = invoke(*hard_seeds, unfinished, never_trained, corrupt, missing)
    assert result.exit_code == 0, result.output
    table, _, after = result.stdout.partition("Skipped runs:")
    assert "sparse" not in table.split("\n\n")[0]
    assert f"{unfinished}: unfinished: epoch 3 of 40" in after
    assert f"{never_trained}: no metrics.json" in after
    assert f"{corrupt}: unreadable run files" in after
    assert f"{missing}: no such directory" in after

    skipped = json.loads(invoke(*hard_seeds, unfinished, missing, "--format", "json").stdout)["skipped"]
    assert skipped == [{"path": str(unfinished), "reason": "unfinished: epoch 3 of 40"},
                       {"path": str(missing), "reason": "no such directory"}]


def test_no_usable_run_is_an_error(tmp_path: Path) -> None:
    unfinished = write_run(tmp_path, "hard", {"pos": 90.0}, finished=False, epochs=2)
    with pytest.raises(RunDirError, match="no finished run"):
        compare([unfinished, tmp_path / "nowhere"])
    result = invoke(unfinished)
    assert result.exit_code == 2 and "unfinished: epoch 2 of 10" in result.stderr


def test_csv_output(single_runs: list[Path], hard_seeds: list[Path], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = invoke(*single_runs, *hard_seeds, missing, "--format", "csv", "--baseline", "single")
    assert result.exit_code == 0, result.output
    rows = {row["row"]: row for row in csv.DictReader(io.StringIO(result.stdout))}
    assert set(rows) == {"single", "hard"}
    hard = rows["hard"]
    assert float(hard["pos"]) == pytest.approx(95.2) and float(hard["pos_std"]) == pytest.approx(0.2)
    assert int(hard["pos_n"]) == 3 and float(hard["pos_delta"]) == pytest.approx(0.2)
    assert int(rows["single"]["params_paper"]) == 3 * TRUNK and rows["single"]["pos_std"] == ""
    assert hard["run_dirs"].split(";") == [str(path) for path in hard_seeds]
    assert f"{missing}: no such directory" in result.stderr  # standard output stays a clean CSV


def test_latex_output(single_runs: list[Path], hard_seeds: list[Path], tmp_path: Path) -> None:
    odd = write_run(tmp_path, "odd", {"pos": 90.0, "chunk": 80.0, "ner": 70.0}, strategy="sparse_shared_50%",
                    paper=1_234)
    missing = tmp_path / "nowhere"
    result = invoke(*hard_seeds, *single_runs, odd, missing, "--format", "latex", "--baseline", "single")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:2] == [r"\begin{tabular}{l" + "r" * 11 + "}", r"\toprule"]
    assert lines[-2:] == [r"\bottomrule", r"\end{tabular}"] and lines[3] == r"\midrule"
    assert lines[2].startswith(r"row & runs & chunk & $\Delta$ chunk & ner & ")
    rows = {line.split(" & ")[0]: line.removesuffix(r" \\").split(" & ") for line in lines[4:-2]}
    assert all(len(cells) == 12 for cells in rows.values())  # as many cells as columns, on every line
    hard, single = rows["hard"], rows["single"]
    assert hard[2:4] == [r"\textbf{91.00 $\pm$ 1.00}", "+1.00"]  # chunk: hard's 91 is the best
    assert hard[4:6] == [r"88.67 $\pm$ 0.76", r"$-$0.33"] and single[4] == r"\textbf{89.00}"
    assert single[3] == "" and single[10] == "1{,}361{,}790"
    assert r"sparse\_shared\_50\%" in rows and rows[r"sparse\_shared\_50\%"][10] == "1{,}234"
    assert f"{missing}: no such directory" in result.stderr and "nowhere" not in result.stdout


def test_json_output(single_runs: list[Path], hard_seeds: list[Path]) -> None:
    result = invoke(*hard_seeds, *single_runs, "--format", "json", "--baseline", "single")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["baseline"] == "single" and data["tasks"] == ["chunk", "ner", "pos"]  # the first run's order
    hard, single = data["rows"]
    assert hard["name"] == "hard" and hard["runs"] == [str(path) for path in hard_seeds]
    assert hard["tasks"]["chunk"] == {"mean": pytest.approx(91.0), "std": pytest.approx(1.0), "n": 3,
                                      "delta": pytest.approx(1.0),  # seed 1 alone in common with single:
                                      "paired_delta": {"mean": 0.0, "std": None, "n": 1}}  # 90.0 - 90.0
    assert hard["mean_paired_delta"] == {"mean": pytest.approx((0.2 + 0.0 - 0.5) / 3), "std": None, "n": 1}
    assert single["tasks"]["ner"] == {"mean": 89.0, "std": None, "n": 1, "delta": 0.0, "paired_delta": None}
    assert single["mean_paired_delta"] is None
    assert single["parameters"] == {"paper": 3 * TRUNK, "total": 3 * TOTAL}
    assert single["mean"] == pytest.approx(274.0 / 3) and single["mean_delta"] == 0.0
    assert data["skipped"] == []


def test_a_row_without_every_task_has_no_mean(tmp_path: Path, hard_seeds: list[Path]) -> None:
    two_tasks = write_run(tmp_path, "soft", {"pos": 95.0, "ner": 89.0}, strategy="soft", train_tasks=["pos", "ner"])
    comparison = compare([*hard_seeds, two_tasks])
    assert comparison.mean(comparison.rows[1]) is None
    row = json.loads(invoke(*hard_seeds, two_tasks, "--format", "json").stdout)["rows"][1]
    assert row["mean"] is None and "chunk" not in row["tasks"]


def test_different_configs_of_one_strategy_get_distinct_names(tmp_path: Path) -> None:
    small = write_run(tmp_path, "hard-small", {"pos": 94.0}, hidden_size=100)
    large = write_run(tmp_path, "hard-large", {"pos": 95.0}, hidden_size=400)
    assert [row.name for row in compare([small, large]).rows] == ["hard (hard-small)", "hard (hard-large)"]
    # a sweep's runs are <name>/seed-<k>: the row is named after the sweep's run
    seeds = [tmp_path / name / "seed-1" for name in ("hard_small", "hard_large")]
    for run, source in zip(seeds, (small, large)):
        shutil.copytree(source, run)
    assert [row.name for row in compare(seeds).rows] == ["hard (hard_small)", "hard (hard_large)"]
    # a run named after its strategy keeps the plain name; the other gets its own
    plain = tmp_path / "hard" / "seed-1"
    shutil.copytree(small, plain)
    assert [row.name for row in compare([plain, seeds[1]]).rows] == ["hard", "hard (hard_large)"]
    # two runs named after their strategy (different experiments) fall back to their paths
    other = tmp_path / "elsewhere" / "hard" / "seed-1"
    shutil.copytree(large, other)
    assert [row.name for row in compare([plain, other]).rows] == [f"hard ({plain})", f"hard ({other})"]


def test_names_override_grouping(tmp_path: Path, hard_seeds: list[Path]) -> None:
    other = write_run(tmp_path, "hard-wide", {"pos": 96.0, "chunk": 92.0, "ner": 90.0}, hidden_size=400)
    result = invoke(*hard_seeds, other, "--name", "A", "--name", "B", "--name", "A", "--name", "B",
                    "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)["rows"]}
    assert list(rows) == ["A", "B"]
    assert rows["A"]["runs"] == [str(hard_seeds[0]), str(hard_seeds[2])]
    assert rows["B"]["tasks"]["pos"]["mean"] == pytest.approx((95.2 + 96.0) / 2)


def test_name_count_must_match_run_dirs(hard_seeds: list[Path]) -> None:
    with pytest.raises(UserError, match="--name was given 2 times for 3 run directories"):
        compare(hard_seeds, names=["a", "b"])
    result = invoke(*hard_seeds, "--name", "a")
    assert result.exit_code == 2 and "--name was given 1 times for 3" in result.stderr


def test_real_command_prints_the_table(single_runs: list[Path], hard_seeds: list[Path]) -> None:
    result = run_ssl("compare", *single_runs, *hard_seeds, "--baseline", "single")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("| row ")
    assert "| single " in result.stdout and "| hard " in result.stdout


def test_unknown_baseline_is_a_user_error(single_runs: list[Path], hard_seeds: list[Path], tmp_path: Path) -> None:
    unfinished = write_run(tmp_path, "sparse", {"pos": 90.0}, strategy="sparse", finished=False, epochs=1)
    result = run_ssl("compare", *hard_seeds, *single_runs, unfinished, "--baseline", "singel")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert "--baseline 'singel' matches no row. Rows: hard, single. Did you mean 'single'?" in result.stderr
    assert f"{unfinished}: unfinished: epoch 1 of 10" in result.stderr  # why a row may be absent


def with_history(run_dir: Path, dev_test: list[dict[str, tuple[float, float]]], *, selection: str = "per_task",
                 evaluate_every_steps: int | None = None) -> Path:
    """Give a fixture run one evaluation per epoch: dev_test[k] maps task → (dev, test) after epoch k+1."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["selection"] = selection
    metrics["history"] = [{"epoch": k + 1, "step": 100 * (k + 1),
                           "tasks": {t: {"dev": {"score": d}, "test": {"score": s}} for t, (d, s) in record.items()}}
                          for k, record in enumerate(dev_test)]
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    config = json.loads((run_dir / "config.json").read_text())
    config["trainer"]["evaluate_every_steps"] = evaluate_every_steps
    (run_dir / "config.json").write_text(json.dumps(config))
    return run_dir


HISTORY = [
    {"pos": (90.0, 89.0), "ner": (80.0, 78.0)},
    {"pos": (91.0, 90.5), "ner": (80.0, 79.0)},  # ner ties on dev: the earlier epoch stays
    {"pos": (92.0, 91.0), "ner": (83.0, 82.0)},
]


def test_epochs_compares_runs_as_they_stood_after_k_epochs(tmp_path: Path) -> None:
    finished = with_history(write_run(tmp_path, "hard", {"pos": 91.0, "ner": 82.0}, epochs=3), HISTORY)
    running = with_history(write_run(tmp_path, "sparse", {"pos": 90.5}, strategy="sparse", finished=False,
                                     epochs=2), HISTORY[:2])
    short = with_history(write_run(tmp_path, "single", {"pos": 89.0}, strategy="single", epochs=1), HISTORY[:1])
    comparison = compare([finished, running, short], epochs=2)
    rows = {row.name: row for row in comparison.rows}
    assert {t: f.mean for t, f in rows["hard"].scores.items()} == {"pos": 90.5, "ner": 78.0}
    assert {t: f.mean for t, f in rows["sparse"].scores.items()} == {"pos": 90.5, "ner": 78.0}  # unfinished, 2 done
    assert [(s.path, s.reason) for s in comparison.skipped] == [
        (short, "only 1 epoch(s) done, fewer than --epochs 2")]
    assert {t: f.mean for t, f in compare([finished]).rows[0].scores.items()} == {"pos": 91.0, "ner": 82.0}


def test_epochs_follows_mean_selection_and_needs_per_epoch_evaluation(tmp_path: Path) -> None:
    mean = with_history(write_run(tmp_path, "hard", {"pos": 91.0}, epochs=3),
                        [{"pos": (90.0, 89.0), "ner": (85.0, 84.0)}, {"pos": (92.0, 91.0), "ner": (80.0, 79.0)}],
                        selection="mean")
    stepwise = with_history(write_run(tmp_path, "sparse", {"pos": 91.0}, strategy="sparse", epochs=3), HISTORY,
                            evaluate_every_steps=50)
    comparison = compare([mean, stepwise], epochs=2)
    assert {t: f.mean for t, f in comparison.rows[0].scores.items()} == {"pos": 89.0, "ner": 84.0}
    assert "--epochs needs a run evaluated once an epoch" in comparison.skipped[0].reason
    result = invoke(mean, "--epochs", 2, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["epochs"] == 2
