"""The paper's results table, read back from run directories: one row per experiment.

A run directory holds its resolved ``config.json`` and, once training has begun,
``metrics.json`` with each task's test score at its dev-best epoch. Runs that are the same
experiment apart from the seed form one row (mean ± sample std), and so do runs that differ
only in settings that do not define the experiment: which tasks one process trained (the
single-task baseline is trained one task per run), the thread count, the device, whether the
heads were compiled (``trainer.compile``), the evaluation batch size
(``trainer.eval_batch_size``: it changes how many sentences are scored at once, not the
scores, and a resumed run may change it after an out-of-memory), the epoch budget (set per
task; early stopping and dev-best selection decide the reported epoch anyway) and the number of
parallel mask-search jobs. ``trainer.precision`` does tell runs apart: unlike a compiled head,
which computes the same within float rounding, a bf16 run rounds every step's forward to 8 bits
of mantissa, a different numeric experiment whose scores may differ beyond noise; a row that
mixed it with fp32 runs would hide that. A run whose config predates the key computed in fp32,
so a key at its default value (``DEFAULT_SETTINGS``) is left out before runs are grouped.
Runs that cannot be read, or have not finished, are listed beside the table with the reason,
never dropped in silence: a table that quietly lost a seed is wrong.
"""
from __future__ import annotations

import copy
import csv
import io
import json
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from sparse_sharing.components.records import Evaluation, dev_score
from sparse_sharing.errors import RunDirError, UserError
from sparse_sharing.registry import did_you_mean
from sparse_sharing.paths import RunPaths

# Config keys (as paths) that do not tell two experiments apart; see the module docstring.
NOT_THE_EXPERIMENT: tuple[tuple[str, ...], ...] = (
    ("seed",), ("train_tasks",), ("num_threads",), ("device",), ("trainer", "num_epochs"), ("trainer", "compile"),
    ("trainer", "eval_batch_size"), ("masks", "jobs"),
)

# Config keys added after runs were made, with the value every earlier run computed with: a run
# that sets one to this value is the same experiment as a run whose config lacks the key.
DEFAULT_SETTINGS: tuple[tuple[tuple[str, ...], Any], ...] = ((("trainer", "precision"), "fp32"),)


@dataclass(frozen=True)
class Run:
    """A finished run: what it trained, how it scored and how big it was."""

    path: Path
    strategy: str  # model.sharing.type
    config: dict[str, Any]
    tasks: tuple[str, ...]
    test: dict[str, float]  # task -> test score (%) at the task's dev-best epoch
    parameters: dict[str, int]  # "paper" (BiLSTM + char conv, as the paper counts) and "total"


@dataclass(frozen=True)
class Skipped:
    """A run directory that gave no figures, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class Figure:
    """A score over the runs that trained a task; std is the sample std, None for one run."""

    mean: float
    std: float | None
    n: int


@dataclass(frozen=True)
class Row:
    """One line of the table: its runs, each task's figure over them and the parameters they cost."""

    name: str
    runs: tuple[Run, ...]
    scores: dict[str, Figure]
    parameters: dict[str, int]


@dataclass(frozen=True)
class Comparison:
    """The whole table: rows, the union of their tasks (the columns), the baseline, what was skipped."""

    rows: tuple[Row, ...]
    tasks: tuple[str, ...]
    baseline: str | None
    skipped: tuple[Skipped, ...]
    epochs: int | None = None  # the budget the runs were compared at; None: each run's whole length

    def mean(self, row: Row) -> float | None:
        """Mean over tasks, only for a row with every column: a mean over fewer tasks compares nothing."""
        if any(task not in row.scores for task in self.tasks):
            return None
        return statistics.fmean(row.scores[task].mean for task in self.tasks)

    def baseline_row(self) -> Row | None:
        """The row named by ``baseline`` (`compare` checks that it exists); None without one."""
        return next((r for r in self.rows if r.name == self.baseline), None)

    def delta(self, row: Row, task: str | None) -> float | None:
        """Row minus baseline for a task (None: the mean over tasks); None where either is missing."""
        base = self.baseline_row()
        if base is None:
            return None
        ours, theirs = (self.value(r, task) for r in (row, base))
        return None if ours is None or theirs is None else ours - theirs

    def value(self, row: Row, task: str | None) -> float | None:
        """The row's mean score of ``task`` (None: its mean over tasks); None where it has none."""
        if task is None:
            return self.mean(row)
        return row.scores[task].mean if task in row.scores else None

    def paired_delta(self, row: Row, task: str | None) -> Figure | None:
        """Row minus baseline seed by seed, for a task (None: the mean over tasks): the mean, sample
        std and number of the differences between the two rows' runs of one seed, over the seeds
        both have. Where a seed moves the score the same way in both rows (a seed that is hard for
        every strategy), its effect cancels in these differences, so their spread measures the
        difference itself, which the rows' own spreads overstate. None without a baseline, for the
        baseline itself, or where the rows share no seed."""
        base = self.baseline_row()
        if base is None or row.name == base.name:
            return None
        ours, theirs = self._by_seed(row, task), self._by_seed(base, task)
        differences = [ours[seed] - theirs[seed] for seed in sorted(ours.keys() & theirs.keys())]
        if not differences:
            return None
        std = statistics.stdev(differences) if len(differences) > 1 else None
        return Figure(statistics.fmean(differences), std, len(differences))

    def _by_seed(self, row: Row, task: str | None) -> dict[int, float]:
        """Seed -> the row's score of ``task`` at that seed (mean over its runs of the seed); with
        None, the mean over tasks, for seeds that have every task."""
        if task is not None:
            values: dict[int, list[float]] = defaultdict(list)
            for run in row.runs:
                if task in run.test and run.config.get("seed") is not None:
                    values[run.config["seed"]].append(run.test[task])
            return {seed: statistics.fmean(scores) for seed, scores in values.items()}
        per_task = [self._by_seed(row, t) for t in self.tasks]
        seeds = set.intersection(*(set(scores) for scores in per_task)) if per_task else set()
        return {seed: statistics.fmean(scores[seed] for scores in per_task) for seed in seeds}


HOW_TO_READ = ("Test scores (%) at each task's dev-best epoch, mean ± sample std over runs; "
               "mean over tasks only for rows with every task.")


# ------------------------------------------------------------------------------------ reading
def read_run(path: Path, epochs: int | None = None) -> Run | Skipped:
    """The figures of one run directory, or why it has none; with ``epochs``, as they stood after
    that many epochs (see `scores_within`), so runs of different lengths meet at one budget."""
    paths = RunPaths(path)
    if not path.exists():
        return Skipped(path, "no such directory")
    if not path.is_dir():
        return Skipped(path, "not a directory")
    if not paths.metrics.is_file():
        return Skipped(path, "no metrics.json: training never started (failed before training, "
                             "or still preparing, e.g. searching masks)")
    try:
        metrics = json.loads(paths.metrics.read_text(encoding="utf-8"))
        config = json.loads(paths.config.read_text(encoding="utf-8"))
        tasks = tuple(config.get("train_tasks") or config["tasks"])
        if epochs is None:
            if not metrics["finished"]:
                return Skipped(path, f"unfinished: epoch {metrics['epochs_completed']} of "
                                     f"{config['trainer']['num_epochs']}")
            best = metrics["tasks"]
            test = {t: best[t]["test"] for t in tasks if t in best and best[t]["test"] is not None}
        elif config["trainer"].get("evaluate_every_steps"):
            return Skipped(path, "evaluated every N steps: --epochs needs a run evaluated once an epoch")
        elif metrics["epochs_completed"] < epochs:
            return Skipped(path, f"only {metrics['epochs_completed']} epoch(s) done, fewer than --epochs {epochs}")
        else:
            test = scores_within(metrics["history"], epochs, metrics["selection"])
        parameters = {kind: metrics["parameters"][kind] for kind in ("paper", "total")}
        return Run(path, config["model"]["sharing"]["type"], config, tasks, test, parameters)
    except (OSError, ValueError) as error:
        return Skipped(path, f"unreadable run files: {error}")
    except (KeyError, TypeError) as error:
        return Skipped(path, f"metrics.json or config.json lacks what `ssl train` writes ({error!r})")


def scores_within(history: Sequence[Evaluation], epochs: int, selection: str) -> dict[str, float]:
    """Task → test score at the dev-best of the evaluations of the first ``epochs`` epochs, chosen as
    the trainer chooses (per task, or by the mean over tasks; a tie keeps the earlier)."""
    records = [r for r in history if r["epoch"] <= epochs]
    if selection == "mean":
        best = max(records, key=lambda r: (statistics.fmean(dev_score(s) for s in r["tasks"].values()),
                                           -r["step"]))
        return {t: s["test"]["score"] for t, s in best["tasks"].items() if "test" in s}
    test = {}
    for task in dict.fromkeys(t for r in records for t in r["tasks"]):
        scored = [r["tasks"][task] for r in records if task in r["tasks"]]
        best_dev = max(dev_score(s) for s in scored)
        first_best = next(s for s in scored if dev_score(s) == best_dev)
        if "test" in first_best:
            test[task] = first_best["test"]["score"]
    return test


def experiment_key(config: dict[str, Any]) -> str:
    """The config without the keys that do not tell experiments apart, nor keys at the value runs
    had before the key existed, as canonical JSON."""
    config = copy.deepcopy(config)
    dropped = [(path, None) for path in NOT_THE_EXPERIMENT] + list(DEFAULT_SETTINGS)
    for (*parents, leaf), default in dropped:
        section = config
        for key in parents:
            section = section.get(key) if isinstance(section, dict) else None
        if isinstance(section, dict) and (default is None or section.get(leaf) == default):
            section.pop(leaf, None)
    return json.dumps(config, sort_keys=True)


# ----------------------------------------------------------------------------------- grouping
def group_runs(runs: Sequence[Run], names: Sequence[str] | None) -> dict[str, list[Run]]:
    """Rows in first-seen order: by the user's names, or by experiment, named after the strategy."""
    if names is not None:
        named: dict[str, list[Run]] = defaultdict(list)
        for run, name in zip(runs, names):
            named[name].append(run)
        return dict(named)
    groups: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        groups[experiment_key(run.config)].append(run)
    return dict(zip(_row_names(list(groups.values())), groups.values()))


def _row_names(groups: list[list[Run]]) -> list[str]:
    """The strategy; where two experiments share one, each also gets its first run's name (the run
    directory's, or for a sweep's ``<name>/seed-<k>`` the sweep's run name) unless that name is the
    strategy itself: a sweep's `sparse` and `sparse_shared_optimizer` are rows "sparse" and
    "sparse (sparse_shared_optimizer)"."""
    strategies = [group[0].strategy for group in groups]
    names = [s if strategies.count(s) == 1 or _run_name(group[0].path) == s else f"{s} ({_run_name(group[0].path)})"
             for s, group in zip(strategies, groups)]
    return [name if names.count(name) == 1 else f"{group[0].strategy} ({group[0].path})"
            for name, group in zip(names, groups)]


def _run_name(path: Path) -> str:
    return path.parent.name if path.name.startswith("seed-") and path.parent.name else path.name


def make_row(name: str, runs: Sequence[Run]) -> Row:
    """Each task over the runs that trained it; parameters per the rule in `row_parameters`."""
    scores: dict[str, Figure] = {}
    for task in dict.fromkeys(t for run in runs for t in run.test):
        values = [run.test[task] for run in runs if task in run.test]
        std = statistics.stdev(values) if len(values) > 1 else None
        scores[task] = Figure(statistics.fmean(values), std, len(values))
    return Row(name, tuple(runs), scores, row_parameters(runs))


def row_parameters(runs: Sequence[Run]) -> dict[str, int]:
    """Runs that trained the same tasks are seeds of one model (mean); other task sets are
    further models the row needs (sum): three single-task runs cost three trunks."""
    by_tasks: dict[frozenset[str], list[Run]] = defaultdict(list)
    for run in runs:
        by_tasks[frozenset(run.tasks)].append(run)
    return {kind: round(sum(statistics.fmean(r.parameters[kind] for r in seeds) for seeds in by_tasks.values()))
            for kind in ("paper", "total")}


def compare(paths: Sequence[Path], names: Sequence[str] | None = None,
            baseline: str | None = None, epochs: int | None = None) -> Comparison:
    """Read every run directory and build the table; raise when it would be empty or the baseline is absent."""
    if names is not None and len(names) != len(paths):
        raise UserError(f"--name was given {len(names)} times for {len(paths)} run directories: "
                        f"give one name per RUN_DIR, in the same order, or none")
    readings = [read_run(Path(path), epochs) for path in paths]
    usable = [(r, n) for r, n in zip(readings, names or [None] * len(readings)) if isinstance(r, Run)]
    skipped = tuple(r for r in readings if isinstance(r, Skipped))
    if not usable:
        raise RunDirError("no finished run to compare:" + "".join(f"\n  {s.path}: {s.reason}" for s in skipped))
    runs = [run for run, _ in usable]
    groups = group_runs(runs, None if names is None else [n for _, n in usable])
    rows = tuple(make_row(name, group) for name, group in groups.items())
    if baseline is not None and baseline not in groups:
        raise UserError(_unknown_baseline(baseline, list(groups), skipped))
    tasks = tuple(dict.fromkeys(task for row in rows for task in row.scores))
    return Comparison(rows, tasks, baseline, skipped, epochs)


def _unknown_baseline(baseline: str, rows: list[str], skipped: Sequence[Skipped]) -> str:
    message = f"--baseline '{baseline}' matches no row. Rows: {', '.join(rows)}.{did_you_mean(baseline, rows)}"
    if skipped:
        message += " Skipped runs (they make no row):" + "".join(f"\n  {s.path}: {s.reason}" for s in skipped)
    return message


# --------------------------------------------------------------------------------- formatting
def _columns(comparison: Comparison) -> list[str | None]:
    """Score columns: each task, then None for the mean over tasks."""
    return [*comparison.tasks, None]


def to_markdown(comparison: Comparison) -> str:
    """A GitHub-flavoured Markdown table (2 decimals), then how to read it and what was skipped."""
    with_delta = comparison.baseline is not None
    header = ["row", "runs"]
    for column in _columns(comparison):
        label = column or "mean"
        header += [label, f"Δ {label}"] if with_delta else [label]
    header += ["params (paper)", "params (total)"]
    table = [header]
    for row in comparison.rows:
        cells = [row.name, str(len(row.runs))]
        for column in _columns(comparison):
            cells.append(_score_cell(comparison, row, column))
            if with_delta:
                cells.append(_signed(None if row.name == comparison.baseline else comparison.delta(row, column)))
        cells += [f"{row.parameters['paper']:,}", f"{row.parameters['total']:,}"]
        table.append(cells)
    return "\n".join([*_aligned_markdown(table), "", *_notes(comparison)]) + "\n"


def _aligned_markdown(table: list[list[str]]) -> list[str]:
    """Padded so the table also reads as a table in a terminal; the first column left, numbers right."""
    table = [[cell.replace("|", "\\|") for cell in cells] for cells in table]
    widths = [max(3, *(len(cells[i]) for cells in table)) for i in range(len(table[0]))]

    def line(cells: list[str]) -> str:
        padded = [cells[0].ljust(widths[0]), *(cell.rjust(w) for cell, w in zip(cells[1:], widths[1:]))]
        return "| " + " | ".join(padded) + " |"

    rule = "| " + " | ".join([":" + "-" * (widths[0] - 1), *("-" * (w - 1) + ":" for w in widths[1:])]) + " |"
    return [line(table[0]), rule, *(line(cells) for cells in table[1:])]


def _score_cell(comparison: Comparison, row: Row, column: str | None) -> str:
    if column is None:
        mean = comparison.mean(row)
        return "" if mean is None else f"{mean:.2f}"
    figure = row.scores.get(column)
    if figure is None:
        return ""
    return f"{figure.mean:.2f}" if figure.std is None else f"{figure.mean:.2f} ± {figure.std:.2f}"


def _signed(value: float | None) -> str:
    return "" if value is None else f"{value:+.2f}"


def _notes(comparison: Comparison) -> list[str]:
    notes = [HOW_TO_READ]
    if comparison.epochs is not None:
        notes.append(f"Every run as it stood after {comparison.epochs} epoch(s): dev-best among those evaluations.")
    if comparison.baseline is not None:
        notes.append(f"Δ: difference from row '{comparison.baseline}'.")
        notes += paired_lines(comparison)
    notes += ["Rows:", *(f"  {row.name}: {', '.join(str(run.path) for run in row.runs)}" for row in comparison.rows)]
    return notes + skipped_lines(comparison)


def paired_lines(comparison: Comparison) -> list[str]:
    """Each row's `Comparison.paired_delta` per column, shown where some row has two seeds or more in
    common with the baseline (with one, there is no spread to show)."""
    figures = {row.name: {column: comparison.paired_delta(row, column) for column in _columns(comparison)}
               for row in comparison.rows if row.name != comparison.baseline}
    if not any(f is not None and f.n > 1 for columns in figures.values() for f in columns.values()):
        return []
    lines = [f"Δ paired by seed: row minus '{comparison.baseline}' between runs of one seed, mean ± sample std "
             "over the seeds both rows have (how many, in brackets):"]
    for name, columns in figures.items():
        cells = [f"{column or 'mean'} {_signed(f.mean)}" + ("" if f.std is None else f" ± {f.std:.2f}") + f" ({f.n})"
                 for column, f in columns.items() if f is not None]
        if cells:
            lines.append(f"  {name}: {', '.join(cells)}")
    return lines


def skipped_lines(comparison: Comparison) -> list[str]:
    """What was left out of the table, one run a line (empty when nothing was)."""
    if not comparison.skipped:
        return []
    return ["", "Skipped runs:", *(f"  {s.path}: {s.reason}" for s in comparison.skipped)]


def to_csv(comparison: Comparison) -> str:
    """One line a row, numbers unrounded, empty where there is no figure; skipped runs are not in it.
    The paired differences (`Comparison.paired_delta`) come last, so the earlier columns keep their
    places."""
    header = ["row", "runs", "run_dirs"]
    for task in comparison.tasks:
        header += [task, f"{task}_std", f"{task}_n", f"{task}_delta"]
    header += ["mean", "mean_delta", "params_paper", "params_total"]
    for column in (*comparison.tasks, "mean"):
        header += [f"{column}_paired_delta", f"{column}_paired_std", f"{column}_paired_n"]
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    for row in comparison.rows:
        cells: list[Any] = [row.name, len(row.runs), ";".join(str(run.path) for run in row.runs)]
        for task in comparison.tasks:
            figure = row.scores.get(task)
            cells += ([figure.mean, figure.std, figure.n] if figure else [None] * 3) + [comparison.delta(row, task)]
        cells += [comparison.mean(row), comparison.delta(row, None), row.parameters["paper"], row.parameters["total"]]
        for column in _columns(comparison):
            paired = comparison.paired_delta(row, column)
            cells += [paired.mean, paired.std, paired.n] if paired else [None] * 3
        writer.writerow(["" if cell is None else cell for cell in cells])
    return stream.getvalue()


LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIALS.get(char, char) for char in text)


def _latex_number(text: str) -> str:
    """A table cell's number in LaTeX: a minus sign rather than a hyphen, thousands grouped by {,}."""
    return text.replace("-", "$-$").replace(",", "{,}")


def to_latex(comparison: Comparison) -> str:
    """A booktabs ``tabular`` to paste into a paper (needs ``\\usepackage{booktabs}``): the Markdown
    table's figures, each column's best score in bold; Δ columns with a baseline."""
    with_delta = comparison.baseline is not None
    columns = _columns(comparison)
    best = {column: max((v for row in comparison.rows if (v := comparison.value(row, column)) is not None),
                        default=None) for column in columns}
    header = ["row", "runs"]
    for column in columns:
        label = latex_escape(column or "mean")
        header += [label, rf"$\Delta$ {label}"] if with_delta else [label]
    header += ["params (paper)", "params (total)"]
    lines = [r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}", r"\toprule", " & ".join(header) + r" \\",
             r"\midrule"]
    for row in comparison.rows:
        cells = [latex_escape(row.name), str(len(row.runs))]
        for column in columns:
            cell = _score_cell(comparison, row, column).replace(" ± ", r" $\pm$ ")
            value = comparison.value(row, column)
            cells.append(rf"\textbf{{{cell}}}" if value is not None and value == best[column] else cell)
            if with_delta:
                delta = None if row.name == comparison.baseline else comparison.delta(row, column)
                cells.append(_latex_number(_signed(delta)))
        cells += [_latex_number(f"{row.parameters[kind]:,}") for kind in ("paper", "total")]
        lines.append(" & ".join(cells) + r" \\")
    return "\n".join([*lines, r"\bottomrule", r"\end{tabular}"]) + "\n"


def to_json(comparison: Comparison) -> dict[str, Any]:
    """Everything the table shows, unrounded, plus the run directories of each row and the skipped runs."""
    return {
        "baseline": comparison.baseline,
        "epochs": comparison.epochs,
        "tasks": list(comparison.tasks),
        "rows": [
            {
                "name": row.name,
                "runs": [str(run.path) for run in row.runs],
                "tasks": {task: {"mean": figure.mean, "std": figure.std, "n": figure.n,
                                 "delta": comparison.delta(row, task),
                                 "paired_delta": _figure_json(comparison.paired_delta(row, task))}
                          for task, figure in row.scores.items()},
                "mean": comparison.mean(row),
                "mean_delta": comparison.delta(row, None),
                "mean_paired_delta": _figure_json(comparison.paired_delta(row, None)),
                "parameters": row.parameters,
            }
            for row in comparison.rows
        ],
        "skipped": [{"path": str(s.path), "reason": s.reason} for s in comparison.skipped],
    }


def _figure_json(figure: Figure | None) -> dict[str, Any] | None:
    return None if figure is None else {"mean": figure.mean, "std": figure.std, "n": figure.n}
