"""The Python API: train, evaluate and tag with a run from a notebook, a pipeline or a service.

    import sparse_sharing as ssl

    metrics = ssl.train("experiments/quickstart.jsonnet", "runs/quick", overrides=["trainer.num_epochs=2"])
    tagger = ssl.Tagger.from_run("runs/quick")
    tagger.predict([["EU", "rejects", "German", "call"]])   # [{'chunk': [...], 'ner': [...], 'pos': [...]}]
    ssl.evaluate("runs/quick", "test")                       # {'ner': {'f1': ..., 'score': ...}, ...}

Everything here is what the CLI does (``ssl train``, ``ssl evaluate``, ``ssl predict`` call these
functions), returned as data instead of printed; errors the user can fix raise
``sparse_sharing.errors.UserError`` subclasses with the CLI's messages.
"""
from __future__ import annotations

import glob
import sys
from pathlib import Path
from typing import Any, Sequence

import torch
from tqdm import tqdm

from sparse_sharing.analysis.compare import compare as compare_runs
from sparse_sharing.analysis.compare import to_json
from sparse_sharing.components.data.batching import index_sentences
from sparse_sharing.components.data.sentence import Sentence
from sparse_sharing.components.data.tag_schemes import convert_tags
from sparse_sharing.config.loading import load_experiment
from sparse_sharing.config.schema import trained_tasks
from sparse_sharing.devices import resolve_device
from sparse_sharing.errors import UserError
from sparse_sharing.random_state import set_threads_and_seeds
from sparse_sharing.registry import DATASET_READERS, did_you_mean, import_plugins
from sparse_sharing.registry.contracts import ClosedLabelReader
from sparse_sharing.training.evaluation import predict_tags, score_tags
from sparse_sharing.training.experiment import load_best_model, load_trained
from sparse_sharing.training.pipeline import train as train_in
from sparse_sharing.training.run_dir import prepare_run_dir

Tokens = Sequence[str]


class Tagger:
    """A trained run, ready to tag: each task's dev-best weights, the run's vocabulary, tag schemes
    and (for masked strategies) masks, on one device.

    Tags come in the scheme of the task's data files (e.g. IOB1 for CoNLL-2003), as ``ssl
    predict`` writes them; ``evaluate`` scores in the scheme the task trained in, as the run did.
    """

    def __init__(self, run_dir: Path, config: Any, vocab: Any, models: dict[str, Any], readers: dict[str, Any],
                 device: torch.device) -> None:
        self.run_dir = run_dir
        self.config = config
        self.vocab = vocab
        self.models = models
        self.readers = readers
        self.device = device

    @classmethod
    def from_run(cls, run_dir: str | Path, device: str | None = None, tasks: Sequence[str] | None = None,
                 include_packages: Sequence[str] = ()) -> "Tagger":
        """Load ``run_dir`` (finished, or still training: the dev-best checkpoints so far) for ``tasks``
        (default: every task it trained). ``device`` overrides the run's (``auto``, ``cpu``, ``cuda:N``);
        ``include_packages`` are imported first, for runs that name plugin components."""
        import_plugins(tuple(include_packages))
        config, paths, vocab = load_trained(Path(run_dir))
        target = resolve_device(device or config.device)
        readers = {t: DATASET_READERS.build(config.tasks[t].dataset_reader) for t in trained_tasks(config)}
        schemes = {t: r.tag_scheme for t, r in readers.items()}
        models = {task: load_best_model(config, paths, vocab, task, schemes).to(target)
                  for task in known_tasks(config, tasks)}
        return cls(Path(run_dir), config, vocab, models, readers, target)

    @property
    def tasks(self) -> list[str]:
        """The tasks this tagger predicts, in the order ``predict`` returns them."""
        return list(self.models)

    def predict(self, sentences: Sequence[Tokens] | Tokens, tasks: Sequence[str] | None = None,
                batch_size: int | None = None, verbose: bool = False) -> list[dict[str, list[str]]]:
        """One ``{task: [tag per token]}`` per sentence. ``sentences`` is a list of token lists, or one
        token list (one sentence); ``tasks`` a subset of ``self.tasks``; ``batch_size`` defaults to
        the run's ``trainer.eval_batch_size``; ``verbose``: a progress bar on standard error."""
        if isinstance(sentences, str):
            raise UserError("predict takes tokens, not a string: a list of words (e.g. text.split()), or a list "
                            "of such lists")
        batch = [list(sentences)] if sentences and all(isinstance(t, str) for t in sentences) else \
            [list(s) for s in sentences]
        for number, tokens in enumerate(batch, 1):
            if not tokens or not all(isinstance(t, str) and t for t in tokens):
                raise UserError(f"sentence {number} must be a non-empty list of non-empty strings (tokens)")
        selected = known_tasks(self.config, tasks, available=self.tasks)
        instances = index_sentences([Sentence(tuple(t), None, f"sentence {i}") for i, t in enumerate(batch, 1)],
                                    self.vocab, None)
        size = batch_size or self.config.trainer.eval_batch_size
        tagged: list[dict[str, list[str]]] = [{} for _ in batch]
        with progress_bar(len(batch) * len(selected), verbose, "tagging") as bar:
            for task in selected:
                reader = self.readers[task]
                bar.set_description(f"tagging {task}")
                for row, tags in zip(tagged, predict_tags(self.models[task], instances, task, self.vocab, size,
                                                          self.device, on_batch=bar.update)):
                    row[task] = convert_tags(tags, reader.tag_scheme, getattr(reader, "file_scheme",
                                                                              reader.tag_scheme))
        return tagged

    def evaluate(self, data: str | Path, tasks: Sequence[str] | None = None,
                 verbose: bool = False) -> dict[str, dict[str, float]]:
        """Each task's figures (the metric's ``score`` and its parts, in percent) on ``data``: a file with
        the run's columns, or for runs on the bundled corpus a split name (train, dev, test);
        ``verbose``: a progress bar on standard error."""
        results = {}
        for task in known_tasks(self.config, tasks, available=self.tasks):
            reader = self.readers[task]
            sentences = reader.read(str(data))
            if isinstance(reader, ClosedLabelReader):  # labels beyond the run's map to its last one
                sentences = reader.close_labels(sentences, self.vocab.labels[task])
            unknown = sorted({t for s in sentences for t in s.tags if not self.vocab.has_label(task, t)})
            if unknown:
                raise UserError(f"{data}: labels the run never saw for task '{task}': {', '.join(unknown[:10])}")
            with progress_bar(len(sentences), verbose, f"evaluating {task}") as bar:
                predicted = predict_tags(self.models[task], index_sentences(sentences, self.vocab, task), task,
                                         self.vocab, self.config.trainer.eval_batch_size, self.device,
                                         on_batch=bar.update)
            results[task] = score_tags(self.config.tasks[task].metric, predicted, [s.tags for s in sentences],
                                       reader.tag_scheme)
        return results


def progress_bar(total: int, verbose: bool, description: str = "") -> tqdm:
    """A bar over ``total`` sentences on standard error that clears itself when done; a no-op
    unless ``verbose`` (the CLI asks for one only on a terminal, a notebook caller as it likes)."""
    return tqdm(total=total, desc=description, unit=" sentences", file=sys.stderr, leave=False,
                disable=not verbose)


def known_tasks(config: Any, requested: Sequence[str] | None, available: Sequence[str] | None = None) -> list[str]:
    """``requested`` checked against the run's tasks (or ``available``); all of them when None or empty."""
    available = list(available if available is not None else trained_tasks(config))
    for task in requested or ():
        if task not in available:
            raise UserError(f"no task '{task}' in this run. Tasks: {', '.join(available)}."
                            f"{did_you_mean(task, available)}")
    return list(requested) if requested else available


def train(config_path: str | Path, run_dir: str | Path, *, overrides: Sequence[str] = (),
          ext_vars: Sequence[str] = (), jpaths: Sequence[Path] = (), device: str | None = None,
          jobs: int | None = None, resume: bool = False, force: bool = False,
          include_packages: Sequence[str] = ()) -> dict[str, Any]:
    """``ssl train CONFIG -s RUN_DIR`` in this process; returns the run's metrics.json as a dict.

    ``overrides`` are ``-o`` strings (``"trainer.num_epochs=3"``), ``ext_vars`` ``NAME=VALUE`` strings.
    Like the CLI it sets torch's thread count and seeds every generator from the config, so a run
    made here equals one made with ``ssl train``.
    """
    import_plugins(tuple(include_packages))
    raw, config = load_experiment(config_path, ext_vars, overrides, jpaths, device, jobs)
    paths = prepare_run_dir(Path(run_dir), resume=resume, force=force)
    set_threads_and_seeds(config.num_threads, config.seed)
    return train_in(raw, config, paths, resume=resume, include_packages=include_packages)


def evaluate(run_dir: str | Path, data: str | Path, tasks: Sequence[str] | None = None, device: str | None = None,
             include_packages: Sequence[str] = (), verbose: bool = False) -> dict[str, dict[str, float]]:
    """``ssl evaluate RUN_DIR DATA``: each task's figures on ``data`` with its dev-best weights;
    ``verbose``: a progress bar on standard error, as `Tagger.evaluate`'s."""
    tagger = Tagger.from_run(run_dir, device=device, tasks=tasks, include_packages=include_packages)
    return tagger.evaluate(data, verbose=verbose)


def compare(run_dirs: str | Path | Sequence[str | Path], *, names: Sequence[str] | None = None,
            baseline: str | None = None, epochs: int | None = None) -> dict[str, Any]:
    """``ssl compare RUN_DIR... --format json`` as a dict: per row its runs, each task's test score
    at its dev-best epoch (mean, sample std, number of runs, difference from the ``baseline`` row),
    the mean over tasks and the parameter counts; and the runs skipped, with why.

    A string with shell wildcards (``"runs/exp1/*/*"``) is expanded as the shell would, sorted; one
    that matches nothing is an error, as is a list where no run has finished. ``names`` and
    ``epochs`` are ``--name`` (one per run directory, after expansion) and ``--epochs``.
    """
    patterns = [run_dirs] if isinstance(run_dirs, (str, Path)) else list(run_dirs)
    paths: list[Path] = []
    for pattern in map(str, patterns):
        if any(wildcard in pattern for wildcard in "*?["):
            matches = sorted(glob.glob(pattern))
            if not matches:
                raise UserError(f"{pattern}: no run directory matches")
            paths += map(Path, matches)
        else:
            paths.append(Path(pattern))
    return to_json(compare_runs(paths, names=names, baseline=baseline, epochs=epochs))
