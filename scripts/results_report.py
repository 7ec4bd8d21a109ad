"""Rebuild the results pages from the committed run files under results/ alone.

    python scripts/results_report.py            # rewrites results/README.md and README.md's results block
    python scripts/results_report.py --check    # exit 1 if either is out of date (nothing written)

Why one script: every figure in the README's results section must be traceable to committed
files, and a hand-edited table drifts from them. It writes

- ``results/README.md``: every run directory under results/ — finished, cut short or never
  finished (never dropped) — with its epochs, dev-best epochs, wall time (training, evaluation,
  mask search), the commit(s) it trained with, and the note in ``results/notes.json`` if any;
- the block between ``<!-- results:begin -->`` and ``<!-- results:end -->`` in README.md: per
  experiment the ``ssl compare`` table (test scores at each task's dev-best epoch, mean ± sample
  std over seeds), the paper's figures beside it, and each masked row's kept fractions and
  overlap beside the paper's.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparse_sharing.analysis.compare import Comparison, compare, to_markdown
from sparse_sharing.components.masks.candidates import recorded_search_seconds

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"

# Sun, Shao et al. (2020), Table 2 (CoNLL-2003 test): POS accuracy, NER and chunking F1, and the
# parameters they count (BiLSTM + char conv); Table 4's chosen kept fractions of sparse sharing.
PAPER_EXP1 = {
    "single": {"pos": 95.09, "ner": 89.36, "chunk": 89.92, "params": "1602k"},
    "hard": {"pos": 95.34, "ner": 88.68, "chunk": 90.92, "params": "534k"},
    "cross_stitch": {"pos": 95.16, "ner": 89.35, "chunk": 90.71, "params": "1596k"},
    "hierarchical": {"pos": 95.09, "ner": 89.30, "chunk": 90.89, "params": "1497k"},
    "sparse": {"pos": 95.56, "ner": 90.35, "chunk": 91.55, "params": "396k"},
}
PAPER_KEPT = {"pos": 0.5012, "chunk": 0.4467, "ner": 0.5623}
# Table 8: sparse sharing with and without the multi-task warm-up (rewinding to θ0 instead).
PAPER_WARMUP = {"sparse (with warm-up)": {"pos": 95.56, "ner": 90.35, "chunk": 91.55},
                "sparse_theta0 (no warm-up)": {"pos": 95.36, "ner": 89.62, "chunk": 91.04}}


@dataclass(frozen=True)
class Experiment:
    """One table of the README's results block: the runs under ``results/<name>/`` and, in
    ``beside``, runs of another experiment shown as rows of this one (row name → run directory),
    each once it is under results/ (a rerun still training has no row yet, rather than no table)."""

    name: str
    title: str
    baseline: str | None = None
    paper: str = ""  # the paper's figures as a sentence, where there is no table to show
    paper_table: dict[str, dict[str, Any]] = field(default_factory=dict)
    beside: dict[str, str] = field(default_factory=dict)
    budgets: tuple[int | None, ...] = (None,)  # compare at these epochs (None: each run's whole length)
    paper_rows: dict[str, str] = field(default_factory=dict)  # our row -> its paper_table row, where named apart
    paper_kept: bool = False  # the paper's kept fractions (Table 4, Exp1's setting) belong beside ours
    by_name: bool = False  # rows in order of their names, so "<row> (...)" from beside sits under <row>


# In the order the README shows them.
EXPERIMENTS = [
    Experiment("exp1", "Exp1: CoNLL-2003, POS, chunking and NER, 50 epochs", baseline="single",
               paper_table=PAPER_EXP1, paper_kept=True),
    Experiment("negative_transfer", "Negative transfer: NER beside position prediction, 50 epochs",
               baseline="single",
               paper="The paper: single-task NER F1 71.05 on its weaker base network; hard sharing with "
                     "position prediction loses 9.4 of it, sparse sharing none; position accuracy 99.21–99.50."),
    Experiment("ablations", "Ablations of sparse sharing (seed 1): the warm-up, and where the masks come from",
               baseline="sparse (IMP, exp1 seed 1)", beside={"sparse (IMP, exp1 seed 1)": "exp1/sparse/seed-1"},
               paper_table=PAPER_WARMUP, paper_kept=True, paper_rows={"sparse (IMP, exp1 seed 1)": "sparse (with warm-up)",
                                                     "sparse_theta0": "sparse_theta0 (no warm-up)"},
               paper="The paper's Table 8 compares only the warm-up; it has no mask-source ablation."),
    Experiment("exp3", "Exp3: three corpora (PTB-sample POS, CoNLL-2000 chunking, CoNLL-2003 NER)",
               paper="Not comparable with the paper's Exp3 table: POS here is NLTK's 10 % WSJ sample with "
                     "a split of our own, not the full WSJ."),
    Experiment("budget100", "Budget check: three Exp1 runs continued to the authors' 100 epochs",
               paper="The same runs at 50 epochs and at 100. They continue reruns of those seeds (the table below), "
                     "not the Exp1 table's runs, whose directories were lost: sparse the Intel Xeon's rerun, single "
                     "and hard their latest reruns, on the third AMD EPYC (single's third rerun, hard's second).",
               budgets=(50, None)),
    Experiment("exp1_reruns", "Reruns: three Exp1 runs trained again from scratch, same config and seed",
               beside={**{f"{row} (first run)": f"exp1/{row}/seed-{seed}"
                          for row, seed in (("single", 2), ("hard", 3), ("sparse", 1))},
                       "single (second rerun)": "exp1_second_reruns/single/seed-2",
                       "hard (second rerun)": "exp1_second_reruns/hard/seed-3",
                       "single (third rerun)": "exp1_third_reruns/single/seed-2"}, by_name=True,
               paper="Rows without brackets are the reruns: single and sparse on an Intel Xeon, hard on a second "
                     "AMD EPYC; *(second rerun)* is single seed 2 once more on that second AMD EPYC, and hard seed 3 "
                     "on a third; *(third rerun)* is single seed 2 on the third; *(first run)* are the Exp1 table's "
                     "runs, on the first AMD EPYC (results/README.md lists each run's CPU and commits). The third "
                     "machine is named AMD EPYC too, but its processor has no AVX-512, so torch's kernels take "
                     "their AVX2 paths there. On the same processor and commit a rerun is its first run: hard seed "
                     "3 (420cd84 on the first two AMD machines) repeats every epoch's dev and test scores, and "
                     "differs from epoch 1 on the third. Another processor's kernels round floats differently "
                     "(single's Intel rerun and third rerun against its second rerun, all at 420cd84), and so does "
                     "code that is equal only up to rounding (single's first run at f2a7f5b against its second "
                     "rerun at 420cd84, both on AMD: its POS model, whose code did not change, repeats every epoch, "
                     "while chunking and NER differ from epoch 1, their CRF's log partition having been rewritten "
                     "in between); 50 epochs carry that apart, and what separates those runs is float rounding "
                     "alone, to be set beside the spread over seeds in the Exp1 table."),
]


def run_dirs(experiment: Path) -> list[Path]:
    """``<run>/seed-<k>`` directories (relative to the repository, where ``main`` runs)."""
    return sorted(p.parent for p in experiment.glob("*/seed-*/config.json"))


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def hours(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def commits(metrics: dict[str, Any]) -> str:
    """The commits a run trained with, in order ("not recorded" for runs from before they were)."""
    seen = list(dict.fromkeys((r.get("commit") or "outside a checkout")[:7] + ("-dirty" if (r.get("commit") or "")
                              .endswith("-dirty") else "") for r in metrics.get("provenance", [])))
    return ", ".join(seen) or "not recorded"


def cpus(metrics: dict[str, Any]) -> str:
    """The processors a run trained on, in order: wall times and float rounding differ between them.
    Each is its model name, with its signature and torch's kernel instruction set where recorded
    (runs trained with code from 6 December 2026 on), which tell apart processors a virtual machine
    names alike."""
    def cpu(record: dict[str, Any]) -> str:
        details = [d for d in (record.get("cpu_signature"), record.get("cpu_kernels")) if d]
        return (record.get("cpu") or "unknown") + (f" ({', '.join(details)})" if details else "")
    return "; ".join(dict.fromkeys(cpu(r) for r in metrics.get("provenance", []))) or "not recorded"


def run_line(run: Path, notes: dict[str, str]) -> list[str]:
    metrics, config = read_json(run / "metrics.json"), read_json(run / "config.json")
    planned = config.get("trainer", {}).get("num_epochs")
    done = metrics.get("epochs_completed")
    if not metrics:
        state = "not started jointly (warm-up or mask search)"
    elif metrics.get("finished"):
        state = "finished"
    else:
        state = f"not finished: epoch {done} of {planned}"  # running, stopped or lost: its note says which
    best = ", ".join(f"{t} {b['epoch']}" for t, b in sorted(metrics.get("tasks", {}).items()))
    wall = metrics.get("wall_seconds", {})
    search = REUSED if reuses_masks(run) else hours(search_seconds(run, metrics))
    name = run.relative_to("results").as_posix()
    return [name, state, f"{done}/{planned}" if metrics else "", best, hours(metrics.get("training_seconds")),
            hours(wall.get("evaluation")), search, commits(metrics), cpus(metrics), notes.get(name, "")]


def run_list(results: Path) -> str:
    notes = read_json(results / "notes.json")
    lines = ["# Results: every run", "",
             "Generated by `python scripts/results_report.py` from the files in this directory; do not edit",
             "by hand (notes on single runs live in `notes.json`: a run not finished is running, stopped",
             "or lost, and its note says which). Wall time is h:mm: *training* is the",
             "joint training loop including its evaluations on dev and test (*of which evaluating* beside",
             "it), *search* the multi-task warm-up plus every task's mask search, summed over tasks even",
             "where they ran in parallel; *reused* where the run took another run's masks (`from_run`) and",
             "searched nothing itself. *Commit* lists every commit a run trained with (a resumed run",
             "may have several), *CPU* every processor it trained on (wall times compare only between",
             "runs on one; another processor's kernels may round floats differently, so a rerun there is",
             "not the same run): its model name and, where the run recorded them (code from 6 December",
             "2026 on, so none of the runs here), its family/model/stepping and the instruction set of",
             "torch's kernels, since a virtual machine may give different processors one name.", ""]
    header = ["run", "state", "epochs", "dev-best epoch", "training", "of which evaluating", "search", "commit",
              "CPU", "note"]
    for experiment in sorted(p for p in results.iterdir() if p.is_dir()):
        runs = run_dirs(experiment)
        if not runs:
            continue
        lines += [f"## {experiment.name}", "", "| " + " | ".join(header) + " |",
                  "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(run_line(run, notes)) + " |" for run in runs]
        lines.append("")
    return "\n".join(lines)


def mean_of(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


REUSED = "reused"


def reuses_masks(run: Path) -> bool:
    """Whether the run took another run's masks: its metrics.json then repeats that run's search cost,
    which this run did not pay."""
    return read_json(run / "config.json").get("masks", {}).get("type") == "from_run"


def search_seconds(run: Path, metrics: dict[str, Any]) -> float | None:
    """The warm-up plus every task's mask search (summed over tasks, as results/README.md counts),
    each task's as its mask report counts it (``recorded_search_seconds``): runs from before reports
    recorded it are costed from their rounds by their source, so gradual pruning's one run counts
    once (metrics.json from then sums its candidates, each timed from the run's start)."""
    masks = metrics.get("masks", {})
    search = masks.get("search_seconds") or {}
    reports = {t: run / "masks" / f"{t}.json" for t in search}
    search = {t: recorded_search_seconds(read_json(path)) if path.is_file() else search[t] for t, path in reports.items()}
    return sum(v for v in search.values() if v) + (masks.get("warmup_seconds") or 0) if search else None


def search_steps(metrics: dict[str, Any]) -> int | None:
    masks = metrics.get("masks", {})
    steps = masks.get("search_steps") or {}
    return sum(v for v in steps.values() if v) + (masks.get("warmup_steps") or 0) if steps else None


def cost_lines(comparison: Comparison) -> list[str]:
    """Each row's epochs and wall time (mean over its runs), and for masked rows what finding the
    masks cost: warm-up plus search, in training steps and wall time."""
    lines = ["Each row's epochs and wall time (h:mm, mean over its runs; search: the warm-up plus every "
             "task's mask search, in training steps and time, summed over tasks; *reused*: the masks of "
             "another run, no search of its own):", "",
             "| row | runs | epochs | training | search steps | search |", "|---|---:|---:|---:|---:|---:|"]
    for row in comparison.rows:
        metrics = [read_json(run.path / "metrics.json") for run in row.runs]
        searched = [(run.path, m) for run, m in zip(row.runs, metrics) if not reuses_masks(run.path)]
        epochs = mean_of([m.get("epochs_completed") for m in metrics])
        search = (REUSED, REUSED)
        if searched:
            steps = mean_of([search_steps(m) for _, m in searched])
            seconds = mean_of([search_seconds(path, m) for path, m in searched])
            search = (f"{steps:,.0f}" if steps is not None else "", hours(seconds))
        lines.append(f"| {row.name} | {len(row.runs)} | {epochs:.0f} | "
                     f"{hours(mean_of([m.get('training_seconds') for m in metrics]))} | {search[0]} | {search[1]} |")
    return [*lines, ""]


def mask_lines(experiment: Experiment, comparison: Comparison) -> list[str]:
    """Each masked row's kept fraction per task and overlap ratio (mean over its seeds), beside the
    paper's kept fractions where the experiment is the paper's setting."""
    kept_by_row = []
    for row in comparison.rows:
        figures = [read_json(run.path / "metrics.json").get("masks") for run in row.runs]
        figures = [f for f in figures if f and f.get("kept_fraction")]
        if figures:
            kept = {t: statistics.fmean(f["kept_fraction"][t] for f in figures) for t in figures[0]["kept_fraction"]}
            kept_by_row.append((row.name, len(figures), kept, statistics.fmean(f["overlap_ratio"] for f in figures)))
    if not kept_by_row:
        return []
    tasks = sorted({t for _, _, kept, _ in kept_by_row for t in kept})
    lines = ["Kept fractions (% of the prunable weights, mean over seeds) and the tasks' overlap ratio:", "",
             "| row | runs | " + " | ".join(tasks) + " | overlap |", "|---|---:|" + "---:|" * (len(tasks) + 1)]
    lines += [f"| {name} | {runs} | " + " | ".join(f"{100 * kept[t]:.2f}" if t in kept else "" for t in tasks)
              + f" | {overlap:.3f} |" for name, runs, kept, overlap in kept_by_row]
    if experiment.paper_kept:
        lines.append("| *paper* | | " + " | ".join(f"*{100 * PAPER_KEPT[t]:.2f}*" if t in PAPER_KEPT else ""
                                                   for t in tasks) + " | |")
    return [*lines, ""]


def paper_lines(experiment: Experiment, tasks: tuple[str, ...]) -> list[str]:
    lines = [experiment.paper, ""] if experiment.paper else []
    if experiment.paper_table:
        tasks = tuple(t for t in tasks if any(t in figures for figures in experiment.paper_table.values()))
        with_params = any("params" in figures for figures in experiment.paper_table.values())
        lines += ["The paper's figures (Sun, Shao et al. 2020, CoNLL-2003 test"
                  + ("; its *soft sharing* row is cross_stitch here):" if experiment.name == "exp1" else "):"), "",
                  "| row | " + " | ".join(tasks) + (" | params (paper) |" if with_params else " |"),
                  "|---|" + "---:|" * (len(tasks) + with_params)]
        for row, figures in experiment.paper_table.items():
            lines.append(f"| *{row}* | " + " | ".join(f"*{figures[t]:.2f}*" for t in tasks)
                         + (f" | *{figures['params']}* |" if with_params else " |"))
        lines.append("")
    return lines


def against_paper_lines(experiment: Experiment, comparison: Comparison) -> list[str]:
    """Each row the paper also has: our mean minus the paper's figure, so that where we are above
    or below it is read off, not worked out from two tables."""
    pairs = [(row, experiment.paper_table[experiment.paper_rows.get(row.name, row.name)]) for row in comparison.rows
             if experiment.paper_rows.get(row.name, row.name) in experiment.paper_table]
    tasks = [t for t in comparison.tasks if all(t in figures for _, figures in pairs)]
    if not pairs or not tasks:
        return []
    lines = ["Ours minus the paper's (points; + above the paper, - below; the settings differ as said under "
             "*How the protocol was decided*):", "",
             "| row | runs | " + " | ".join(tasks) + " | mean |", "|---|---:|" + "---:|" * (len(tasks) + 1)]
    for row, figures in pairs:
        differences = [row.scores[t].mean - figures[t] if t in row.scores else None for t in tasks]
        mean = None if None in differences else statistics.fmean(differences)
        lines.append(f"| {row.name} | {len(row.runs)} | "
                     + " | ".join("" if d is None else f"{d:+.2f}" for d in [*differences, mean]) + " |")
    return [*lines, ""]


def experiment_lines(results: Path, experiment: Experiment) -> list[str]:
    """The experiment's tables, or nothing while none of its runs is under results/."""
    runs = run_dirs(results / experiment.name)
    if not runs:
        return []
    beside = {name: path for name, path in experiment.beside.items() if (results / path / "config.json").is_file()}
    paths = [*runs, *(results / path for path in beside.values())]
    names = [run.parent.name for run in runs] + list(beside) if beside else None
    if names and experiment.by_name:
        names, paths = map(list, zip(*sorted(zip(names, paths))))
    # With row names, every run directory is named on the command line, each with its --name.
    command = "ssl compare " + (" ".join(path.as_posix() for path in paths) if names else f"results/{experiment.name}/*/*")
    lines = [f"#### {experiment.title}", ""]
    for epochs in experiment.budgets:
        comparison = compare(paths, names=names, epochs=epochs)
        baseline = experiment.baseline if experiment.baseline in {row.name for row in comparison.rows} else None
        comparison = compare(paths, names=names, baseline=baseline, epochs=epochs)
        options = (f" --epochs {epochs}" if epochs else "") + (f" --baseline {shlex.quote(baseline)}" if baseline else "")
        if names:
            options += "".join(f" --name {shlex.quote(name)}" for name in names)
        lines += [f"`{command}{options}`:", "", to_markdown(comparison).rstrip("\n"), ""]
    lines += [*paper_lines(experiment, comparison.tasks), *against_paper_lines(experiment, comparison),
              *cost_lines(comparison), *mask_lines(experiment, comparison)]
    return lines


def results_block(results: Path) -> str:
    lines = [BEGIN, "<!-- generated by `python scripts/results_report.py` from results/: do not edit -->", ""]
    for experiment in EXPERIMENTS:
        lines += experiment_lines(results, experiment)
    return "\n".join([*lines, END])


def replace_block(text: str, block: str) -> str:
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + block + text[end:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a page is out of date; write nothing")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout holding results/ and README.md "
                        "(default: this script's)")
    args = parser.parse_args()
    os.chdir(args.root)  # run directories are read, and named on the pages, relative to the checkout
    results, readme = Path("results"), Path("README.md")
    pages = {results / "README.md": run_list(results) + "\n",
             readme: replace_block(readme.read_text(encoding="utf-8"), results_block(results))}
    stale = [path for path, text in pages.items() if not path.is_file() or path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(f"out of date: {path} (run python scripts/results_report.py)", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(pages[path], encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
