"""The results pages (results/README.md, README.md's results block) are what
scripts/results_report.py makes from results/: a committed run without its regenerated page, or a
hand edit of a generated table, fails here."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "results_report.py"


def test_the_results_pages_are_current() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def fake_checkout(root: Path) -> Path:
    """A checkout with every experiment of the report, its runs copies of committed Exp1 runs
    (hard seed 1 standing in for every multi-task run, single seeds for single-task rows)."""
    source = SCRIPT.parents[1] / "results" / "exp1"
    layout = {"exp1/single/seed-1": "single/seed-1", "exp1/single/seed-2": "single/seed-2",
              "exp1/hard/seed-1": "hard/seed-1", "exp1/sparse/seed-1": "hard/seed-2",
              "negative_transfer/single/seed-1": "single/seed-3", "negative_transfer/hard/seed-1": "hard/seed-1",
              "negative_transfer/sparse/seed-1": "sparse/seed-1",
              "exp3/hard/seed-1": "hard/seed-1",
              "budget100/hard/seed-3": "hard/seed-1", "exp1/single_subnet/seed-1": "hard/seed-3"}
    for target, origin in layout.items():
        shutil.copytree(source / origin, root / "results" / target)
    # The committed gradual run: its metrics.json (from before mask reports recorded search_seconds)
    # sums candidates that are each timed from the start of one run.
    gradual = "ablations/gradual/seed-1"
    shutil.copytree(source.parent / gradual, root / "results" / gradual)
    # A run on another run's masks: its metrics.json repeats that run's search cost, which it did not pay.
    reused = root / "results" / "exp1" / "single_subnet" / "seed-1"
    config = json.loads((reused / "config.json").read_text(encoding="utf-8"))
    (reused / "config.json").write_text(json.dumps({**config, "masks": {"type": "from_run", "path": "runs/exp1/sparse/seed-1"}}))
    metrics = json.loads((reused / "metrics.json").read_text(encoding="utf-8"))
    masks = {"search_steps": {"chunk": 10}, "search_seconds": {"chunk": 3600.0}, "warmup_steps": 5, "warmup_seconds": 60.0}
    (reused / "metrics.json").write_text(json.dumps({**metrics, "masks": masks}))
    (root / "README.md").write_text("# x\n\n<!-- results:begin -->\n<!-- results:end -->\n\nend\n", encoding="utf-8")
    return root


def test_every_experiment_gets_its_tables(tmp_path: Path) -> None:
    root = fake_checkout(tmp_path)
    result = subprocess.run([sys.executable, str(SCRIPT), "--root", str(root)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# x\n") and readme.endswith("<!-- results:end -->\n\nend\n")
    titles = [line for line in readme.splitlines() if line.startswith("#### ")]
    assert [t.split(":")[0] for t in titles] == ["#### Exp1", "#### Negative transfer", "#### Ablations of sparse sharing (seed 1)",
                                                 "#### Exp3", "#### Budget check"]
    # The ablations table holds exp1's sparse seed 1 as its IMP row, named on the command that rebuilds it.
    assert ("ssl compare results/ablations/gradual/seed-1 results/exp1/sparse/seed-1 --baseline 'sparse (IMP, exp1 seed 1)' "
            "--name gradual --name 'sparse (IMP, exp1 seed 1)'") in readme
    # The budget check compares the same runs at 50 epochs and at their whole length.
    assert "ssl compare results/budget100/*/* --epochs 50`" in readme and "ssl compare results/budget100/*/*`" in readme
    assert "| hard | 1 | 50 |" in readme  # its epochs and wall time
    assert "| hard (single_subnet) | 1 | 50 | 1:32 | reused | reused |" in readme  # not the search it took its masks from
    # Gradual pruning's search as its mask reports count it: per task the last candidate's time
    # (153.2 + 136.2 + 116.5 s) and the 68.2 s warm-up, 474 s, not metrics.json's sum over candidates (50 min).
    assert "| gradual | 1 | 50 | 1:06 | 21,073 | 0:08 |" in readme
    # Where we are above or below the paper, per row the paper has (ablations: under the paper's row names),
    # from the same runs as the table: hard seeds 1-2 score 90.19 / 88.82 / 94.69 against 90.92 / 88.68 / 95.34.
    assert readme.count("Ours minus the paper's") == 2
    assert "| hard | 2 | -0.73 | +0.14 | -0.65 | -0.42 |" in readme
    assert "| sparse (IMP, exp1 seed 1) | 1 | " in readme.split("Ours minus the paper's")[2]
    # Kept fractions: the paper's (Exp1's setting) only beside Exp1 and the ablations, not another setting's runs
    negative_transfer = readme.split("#### Negative transfer")[1].split("#### ")[0]
    assert "| sparse | 1 | 39.81 | 12.59 | 22.39 | 0.257 |" in negative_transfer and "*paper*" not in negative_transfer
    run_list = (root / "results" / "README.md").read_text(encoding="utf-8")
    assert "## exp3" in run_list and "| exp3/hard/seed-1 | finished | 50/50 |" in run_list
    assert "| 0:08 | 420cd84 | AMD EPYC |" in run_list  # gradual's search, commit and processor (provenance)
    assert "| exp1/single_subnet/seed-1 | finished | 50/50 | chunk 48, ner 43, pos 48 | 1:32 | 0:10 | reused |" in run_list
    check = subprocess.run([sys.executable, str(SCRIPT), "--root", str(root), "--check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_reruns_stand_beside_their_first_runs(tmp_path: Path) -> None:
    source = SCRIPT.parents[1] / "results" / "exp1"
    for target, origin in {"exp1/single/seed-2": "single/seed-2", "exp1/hard/seed-3": "hard/seed-3",
                           "exp1/sparse/seed-1": "sparse/seed-1", "exp1_reruns/sparse/seed-1": "sparse/seed-2"}.items():
        shutil.copytree(source / origin, tmp_path / "results" / target)
    (tmp_path / "README.md").write_text("<!-- results:begin -->\n<!-- results:end -->\n", encoding="utf-8")
    result = subprocess.run([sys.executable, str(SCRIPT), "--root", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    reruns = (tmp_path / "README.md").read_text(encoding="utf-8").split("#### Reruns")[1]
    # Each first run under its rerun.
    assert ("ssl compare results/exp1/hard/seed-3 results/exp1/single/seed-2 results/exp1_reruns/sparse/seed-1 "
            "results/exp1/sparse/seed-1 --name 'hard (first run)' --name 'single (first run)' --name sparse "
            "--name 'sparse (first run)'") in reruns
    # Each pair's masks side by side: here seed 2's (standing in for a rerun) beside seed 1's.
    assert "| sparse | 1 | 28.18 | 31.62 | 35.48 |" in reruns and "| sparse (first run) | 1 | 39.81 | 12.59 | 22.39 |" in reruns


def test_a_row_beside_appears_once_its_run_is_committed(tmp_path: Path) -> None:
    """A run another table shows beside its own (here single seed 2's second rerun) that is not under
    results/ yet, still training, leaves its row out; the table stands without it, and gains it."""
    source = SCRIPT.parents[1] / "results" / "exp1"
    for target, origin in {"exp1/single/seed-2": "single/seed-2", "exp1_reruns/single/seed-2": "single/seed-3"}.items():
        shutil.copytree(source / origin, tmp_path / "results" / target)
    (tmp_path / "README.md").write_text("<!-- results:begin -->\n<!-- results:end -->\n", encoding="utf-8")

    def reruns() -> str:
        result = subprocess.run([sys.executable, str(SCRIPT), "--root", str(tmp_path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return (tmp_path / "README.md").read_text(encoding="utf-8").split("#### Reruns")[1]

    assert "single (second rerun)" not in reruns()
    shutil.copytree(source / "single" / "seed-1", tmp_path / "results" / "exp1_second_reruns" / "single" / "seed-2")
    assert ("ssl compare results/exp1_reruns/single/seed-2 results/exp1/single/seed-2 "
            "results/exp1_second_reruns/single/seed-2 --name single --name 'single (first run)' "
            "--name 'single (second rerun)'") in reruns()


def test_the_run_list_tells_apart_processors_of_one_name(tmp_path: Path) -> None:
    """Two virtual machines may both say "AMD EPYC" and round differently: where a run recorded its
    CPU's signature and kernel instruction set, the run list shows them; older runs show the name."""
    source = SCRIPT.parents[1] / "results" / "exp1"
    for seed in (1, 2):
        shutil.copytree(source / "single" / f"seed-{seed}", tmp_path / "results" / "exp1" / "single" / f"seed-{seed}")
    before = {"started": "2026-12-06T07:01:44Z", "commit": "420cd84", "cpu": "AMD EPYC", "device": "cpu"}
    since = {**before, "cpu_signature": "family 25 model 1 stepping 1", "cpu_kernels": "AVX2"}
    for seed, provenance in ((1, [before]), (2, [before, since])):  # seed 2 resumed on a machine that records more
        metrics_path = tmp_path / "results" / "exp1" / "single" / f"seed-{seed}" / "metrics.json"
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
        metrics_path.write_text(json.dumps({**metrics, "provenance": provenance}), encoding="utf-8")
    (tmp_path / "README.md").write_text("<!-- results:begin -->\n<!-- results:end -->\n", encoding="utf-8")
    result = subprocess.run([sys.executable, str(SCRIPT), "--root", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    rows = {line.split(" | ")[0]: line for line in
            (tmp_path / "results" / "README.md").read_text(encoding="utf-8").splitlines() if line.startswith("| exp1/")}
    assert "| AMD EPYC |" in rows["| exp1/single/seed-1"]
    assert "| AMD EPYC; AMD EPYC (family 25 model 1 stepping 1, AVX2) |" in rows["| exp1/single/seed-2"]
