"""`ssl evaluate` and `ssl predict`: use a finished (or running) run's dev-best checkpoints,
through the Python API's ``Tagger`` (the CLI prints what the API returns)."""
from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any, Callable

import click

from sparse_sharing.api import Tagger
from sparse_sharing.cli.common import device_option, error_boundary, include_package_option
from sparse_sharing.components.data.conll import read_lines, text_lines, tokens_per_line
from sparse_sharing.errors import UserError
from sparse_sharing.files import atomic_write


def tagger_options(verb: str) -> Callable[[Callable], Callable]:
    """The set-up `ssl evaluate` and `ssl predict` share: ``--task`` (``verb`` only this task),
    ``--include-package`` and ``--device``, and the command's RUN_DIR loaded as a ``Tagger``, which the
    command receives in their place. Goes below ``error_boundary``, so a bad run is one message."""

    def decorate(command: Callable) -> Callable:
        @click.option("--task", "tasks", multiple=True, help=f"{verb} only this task (repeatable); default: every task.")
        @include_package_option
        @device_option
        @functools.wraps(command)
        def with_tagger(run_dir: Path, tasks: tuple[str, ...], include_packages: tuple[str, ...], device: str | None,
                        **arguments: Any) -> Any:
            return command(Tagger.from_run(run_dir, device=device, tasks=tasks, include_packages=include_packages),
                           **arguments)

        return with_tagger

    return decorate


def main_figures(metric: str, figures: dict[str, float]) -> str:
    """The figures worth a line, per-type ones (``f1-PER``) left to --output: the score under the metric's
    name where no other figure repeats it (a built-in's ``accuracy`` or ``f1`` does; a plugin's may not)."""
    named = {k: v for k, v in figures.items() if k != "score" and "-" not in k}
    if figures["score"] not in named.values():
        named = {metric: figures["score"], **named}
    return ", ".join(f"{k} {v:.2f}" for k, v in named.items())


@click.command("evaluate")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("data_file")
@click.option("--output", type=click.Path(path_type=Path), help="Also write the figures as JSON here.")
@error_boundary
@tagger_options("Score")
def evaluate_command(tagger: Tagger, data_file: str, output: Path | None) -> None:
    """Score DATA_FILE (same columns as the run's data) with each task's dev-best checkpoint.

    For a run on the bundled corpus DATA_FILE is a split name (train, dev, test) or a file in the
    layout `ssl corpus` writes (word POS chunk NER).
    """
    results = {}
    for task in tagger.tasks:
        figures = tagger.evaluate(data_file, tasks=[task], verbose=sys.stderr.isatty())[task]
        results[task] = figures
        click.echo(f"{task}: {main_figures(tagger.config.tasks[task].metric.type, figures)}")
    if output is not None:
        atomic_write(output, lambda s: s.write((json.dumps(results, indent=2) + "\n").encode()))


@click.command("predict")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("input_file")
@click.option("--format", "input_format", type=click.Choice(["conll", "text"]), default="conll", show_default=True,
              help="INPUT_FILE's format. conll: one token per line in the first column, blank line between "
                   "sentences. text: one tokenized sentence per line, tokens separated by spaces; "
                   "INPUT_FILE - reads standard input.")
@click.option("--jsonl", is_flag=True,
              help='Write one JSON object per sentence, {"tokens": [...], "tags": {TASK: [...]}}, '
                   "instead of CoNLL columns.")
@click.option("--output", type=click.Path(path_type=Path), help="Write here instead of standard output.")
@error_boundary
@tagger_options("Predict")
def predict_command(tagger: Tagger, input_file: str, input_format: str, jsonl: bool, output: Path | None) -> None:
    """Tag INPUT_FILE: CoNLL (one token per line in the first column, blank line between sentences),
    or with --format text one tokenized sentence per line (- for standard input).

    Writes CoNLL: the token, then one predicted column per task, with span tags in the scheme of
    the task's data files (e.g. IOB1 for CoNLL-2003), not the scheme it trained in. Columns follow
    the --task options, else the config's `train_tasks`; without either they are by task name (Jsonnet
    sorts an object's keys). The order is printed on stderr. With --jsonl, one JSON object per
    sentence instead. Any run takes a file here, including one trained on the bundled corpus.
    """
    sentences = read_input(tagger, input_file, input_format)
    tagged = tagger.predict(sentences, verbose=sys.stderr.isatty())
    if jsonl:
        lines = [json.dumps({"tokens": words, "tags": tags}, ensure_ascii=False)
                 for words, tags in zip(sentences, tagged)]
    else:
        click.echo(f"columns: word {' '.join(tagger.tasks)} (tags in each task's file scheme)", err=True)
        lines = []
        for words, tags in zip(sentences, tagged):
            for j, word in enumerate(words):
                lines.append(" ".join([word, *(tags[task][j] for task in tagger.tasks)]))
            lines.append("")
    text = "".join(line + "\n" for line in lines)
    if output is None:
        click.echo(text, nl=False)
    else:
        atomic_write(output, lambda s: s.write(text.encode()))
        click.echo(f"Wrote {len(sentences)} sentences to {output}", err=True)


def read_input(tagger: Tagger, input_file: str, input_format: str) -> list[list[str]]:
    """The sentences to tag, as token lists: a CoNLL file through the run's own reader (its columns,
    its document markers), or tokenized text, one sentence a line."""
    if input_format == "conll":
        if input_file == "-":
            raise UserError("standard input (-) is read as --format text: one tokenized sentence per line")
        return [list(s.words) for s in tagger.readers[tagger.tasks[0]].read_words(input_file)]
    if input_file == "-":
        return tokens_per_line(text_lines(click.get_binary_stream("stdin").read(), "standard input"))
    return tokens_per_line(read_lines(input_file))
