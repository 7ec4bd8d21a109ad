"""`ssl evaluate` and `ssl predict`: use a finished (or running) run's dev-best checkpoints."""
from __future__ import annotations

import json
from pathlib import Path

import click

from sparse_sharing.cli.common import device_option, include_package_option, load_components, user_errors_exit_2
from sparse_sharing.components.data.batching import index_sentences
from sparse_sharing.components.data.tag_schemes import convert_tags
from sparse_sharing.config.schema import trained_tasks
from sparse_sharing.devices import resolve_device
from sparse_sharing.errors import UserError
from sparse_sharing.files import atomic_write
from sparse_sharing.registry import DATASET_READERS, did_you_mean
from sparse_sharing.training.evaluation import predict_tags, score
from sparse_sharing.training.experiment import load_best_model, load_trained
from sparse_sharing.training.trainer import comparable_tags


def _tasks(config, requested: tuple[str, ...]) -> list[str]:
    available = trained_tasks(config)
    for task in requested:
        if task not in available:
            raise UserError(f"no task '{task}' in this run. Tasks: {', '.join(available)}."
                            f"{did_you_mean(task, available)}")
    return list(requested) or available


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
@click.option("--task", "tasks", multiple=True, help="Score only this task (repeatable); default: every task.")
@click.option("--output", type=click.Path(path_type=Path), help="Also write the figures as JSON here.")
@include_package_option
@device_option
@user_errors_exit_2
def evaluate_command(run_dir: Path, data_file: str, tasks: tuple[str, ...], output: Path | None,
                     include_packages: tuple[str, ...], device: str | None) -> None:
    """Score DATA_FILE (same columns as the run's data) with each task's dev-best checkpoint.

    For a run on the bundled corpus DATA_FILE is a split name (train, dev, test) or a file in the
    layout `ssl corpus` writes (word POS chunk NER).
    """
    load_components(include_packages)
    config, paths, vocab = load_trained(run_dir)
    target = resolve_device(device or config.device)
    readers = {t: DATASET_READERS.build(config.tasks[t].dataset_reader) for t in trained_tasks(config)}
    schemes = {t: r.tag_scheme for t, r in readers.items()}
    results = {}
    for task in _tasks(config, tasks):
        sentences = readers[task].read(data_file)
        model = load_best_model(config, paths, vocab, task, schemes).to(target)
        unknown = sorted({t for s in sentences for t in s.tags if not vocab.has_label(task, t)})
        if unknown:
            raise UserError(f"{data_file}: labels the run never saw for task '{task}': {', '.join(unknown[:10])}")
        predicted = predict_tags(model, index_sentences(sentences, vocab, task), task, vocab,
                                 config.trainer.eval_batch_size, target)
        figures = score(config.tasks[task].metric, comparable_tags(predicted, schemes[task]),
                        comparable_tags([s.tags for s in sentences], schemes[task]))
        results[task] = figures
        click.echo(f"{task}: {main_figures(config.tasks[task].metric.type, figures)}")
    if output is not None:
        atomic_write(output, lambda s: s.write((json.dumps(results, indent=2) + "\n").encode()))


@click.command("predict")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("input_file")
@click.option("--output", type=click.Path(path_type=Path), help="Write here instead of standard output.")
@click.option("--task", "tasks", multiple=True, help="Predict only this task (repeatable); default: every task.")
@include_package_option
@device_option
@user_errors_exit_2
def predict_command(run_dir: Path, input_file: str, output: Path | None, tasks: tuple[str, ...],
                    include_packages: tuple[str, ...], device: str | None) -> None:
    """Tag INPUT_FILE (one token per line in the first column, blank line between sentences).

    Writes CoNLL: the token, then one predicted column per task, with span tags in the scheme of
    the task's data files (e.g. IOB1 for CoNLL-2003), not the scheme it trained in. Columns follow
    the --task options, else the config's `train_tasks`; without either they are by task name (Jsonnet
    sorts an object's keys). The order is printed on stderr. Any run takes a file here, including
    one trained on the bundled corpus.
    """
    load_components(include_packages)
    config, paths, vocab = load_trained(run_dir)
    target = resolve_device(device or config.device)
    selected = _tasks(config, tasks)
    readers = {t: DATASET_READERS.build(config.tasks[t].dataset_reader) for t in trained_tasks(config)}
    schemes = {t: r.tag_scheme for t, r in readers.items()}
    sentences = readers[selected[0]].read_words(input_file)
    instances = index_sentences(sentences, vocab, None)
    columns = []
    for task in selected:
        model = load_best_model(config, paths, vocab, task, schemes).to(target)
        predicted = predict_tags(model, instances, task, vocab, config.trainer.eval_batch_size, target)
        columns.append([convert_tags(tags, schemes[task], getattr(readers[task], "file_scheme", schemes[task]))
                        for tags in predicted])
    click.echo(f"columns: word {' '.join(selected)} (tags in each task's file scheme)", err=True)
    lines = []
    for i, sentence in enumerate(sentences):
        for j, word in enumerate(sentence.words):
            lines.append(" ".join([word, *(column[i][j] for column in columns)]))
        lines.append("")
    text = "\n".join(lines) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        atomic_write(output, lambda s: s.write(text.encode()))
        click.echo(f"Wrote {len(sentences)} sentences to {output}", err=True)
