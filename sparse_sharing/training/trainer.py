"""The one training loop, for every sharing strategy and every pruning round.

It owns what must be identical across strategies for a fair comparison: task sampling,
batching, the optimizer step, dev-only model selection and the record of scores. Logging,
checkpoints, early stopping and progress display are callbacks.
"""
from __future__ import annotations

import logging
import math
import random
import statistics
import time
from functools import partial
from typing import Any, Mapping

import numpy as np
import torch

from sparse_sharing.components.callbacks.base import Callback
from sparse_sharing.components.data.batching import BatchStream
from sparse_sharing.components.records import BestScores, Evaluation, Scores, TaskScores, dev_score
from sparse_sharing.devices import autocast, describe
from sparse_sharing.registry import LR_SCHEDULERS, OPTIMIZERS, SAMPLERS
from sparse_sharing.training.compiled import CompiledHeads
from sparse_sharing.training.data_setup import TaskData
from sparse_sharing.training.evaluation import predict_tags, score_tags
from sparse_sharing.training.memory import evaluating, training_step
from sparse_sharing.training.model import MultiTaskTagger, parameter_counts
from sparse_sharing.files import check_loads_safely, write_json
from sparse_sharing.paths import RunPaths
from sparse_sharing.provenance import provenance

logger = logging.getLogger(__name__)


class Trainer:
    def __init__(self, config: Any, model: MultiTaskTagger, data: dict[str, TaskData], vocab: Any,
                 paths: RunPaths, callbacks: list[Callback], tasks: list[str], *, device: torch.device,
                 max_steps: int | None = None,
                 extra_metrics: Mapping[str, Any] | None = None, stage: str = "train",
                 log_evaluations: bool = True) -> None:
        """Everything the loop needs comes here; nothing is changed on it from outside afterwards.

        ``device`` is where ``model`` already is (the caller resolved the config's device once and
        built the model there); batches follow it. ``max_steps`` ends training there (and evaluates there): a pruning round or a warm-up trains
        a step budget, and runs as many epochs as it takes. ``extra_metrics`` are written into
        metrics.json beside the scores (a sparse run's mask figures). ``stage`` names what this loop
        is within the run (warm-up, a search round) in progress and logs; ``log_evaluations=False``
        leaves the report of its scores to the caller (a search round's summary).
        """
        self.config = config
        self.trainer_config = config.trainer
        self.model = model
        self.data = data
        self.vocab = vocab
        self.paths = paths
        self.callbacks = callbacks
        self.tasks = tasks
        self.stage = stage
        self.log_evaluations = log_evaluations
        self.device = device
        batch_size = self.trainer_config.batch_size
        self.streams = {
            task: BatchStream(data[task].instances["train"], batch_size, config.seed, stream_id)
            for stream_id, task in enumerate(tasks)
        }
        self.steps_per_epoch = sum(s.batches_per_pass for s in self.streams.values())
        self.max_steps = max_steps
        self.num_epochs = (self.trainer_config.num_epochs if max_steps is None
                           else math.ceil(max_steps / self.steps_per_epoch))
        self.sampler = SAMPLERS.build(self.trainer_config.sampler,
                                      sizes={t: s.batches_per_pass for t, s in self.streams.items()},
                                      seed=config.seed)
        check_loads_safely(self.sampler.state_dict(), f"sampler '{self.trainer_config.sampler.type}'")
        trainable = [p for p in model.parameters() if p.requires_grad]
        self.trainable = trainable
        self.optimizers = model.sharing.build_optimizers(
            lambda params: OPTIMIZERS.build(self.trainer_config.optimizer, params=params), trainable, tasks)
        self.distinct_optimizers = list({id(o): o for o in self.optimizers.values()}.values())
        scheduler_config = self.trainer_config.lr_scheduler
        self.schedulers = [LR_SCHEDULERS.build(scheduler_config, optimizer=o) for o in self.distinct_optimizers
                           ] if scheduler_config else []
        self.epoch = 0
        self.step = 0
        self.should_stop = False
        self.history: list[Evaluation] = []
        self.best: dict[str, BestScores] = {}
        self.best_mean: float | None = None
        self.elapsed = 0.0  # seconds in the loop (training steps and evaluations), over every start
        self.evaluation_seconds = 0.0  # of which evaluating
        self.provenance: list[dict[str, Any]] = []  # one record per process that trained (a resume adds one)
        self._clock: float | None = None  # time.monotonic() at which ``elapsed`` was 0, while training
        self.extra_metrics = dict(extra_metrics or {})
        self.compiled = CompiledHeads(model.heads) if self.trainer_config.compile else None
        self.compile_seconds = 0.0  # compiling in earlier starts of this run (``compiled.seconds``: this one)

    # ----------------------------------------------------------------- loop
    def train(self) -> dict[str, Any]:
        logger.info("device: %s", describe(self.device))
        self.provenance.append({**provenance(self.device), "precision": self.trainer_config.precision,
                                "from_epoch": self.epoch, "from_step": self.step})
        for callback in self.callbacks:
            callback.on_train_start(self)
        self._clock = time.monotonic() - self.elapsed
        every = self.trainer_config.evaluate_every_steps
        while self.epoch < self.num_epochs and not self.should_stop:
            self.model.train()
            for _ in range(self.steps_per_epoch):
                self._train_step()
                if every and self.step % every == 0:
                    self._evaluate()
                if self._budget_spent():
                    break
            if self._budget_spent():
                if not self.history or self.history[-1]["step"] != self.step:  # not evaluated at this step yet
                    self._evaluate()
                break
            self.epoch += 1
            for scheduler in self.schedulers:
                scheduler.step()
            if not every:
                self._evaluate()
            self._tick()
            for callback in self.callbacks:
                callback.on_epoch_end(self)
        self._tick()
        metrics = self.metrics(finished=True)
        write_json(self.paths.metrics, metrics)
        for callback in self.callbacks:
            callback.on_train_end(self)
        return metrics

    def _tick(self) -> None:
        """``elapsed`` brought up to now, so whatever is written next (metrics, checkpoint) is current."""
        if self._clock is not None:
            self.elapsed = time.monotonic() - self._clock

    def _budget_spent(self) -> bool:
        return self.max_steps is not None and self.step >= self.max_steps

    def _train_step(self) -> None:
        task = self.sampler.next_task(self.step, self.epoch)
        batch = self.streams[task].next_batch()
        with training_step(self, task, batch):
            batch = batch.to(self.device)
            self.model.zero_grad(set_to_none=True)
            head_loss = partial(self.compiled.loss, task) if self.compiled else None
            # bf16: the forward and loss only; backward outside autocast runs each op in the dtype its
            # forward used, and the gradients land in the fp32 weights.
            with autocast(self.trainer_config.precision, self.device):
                loss = self.model.loss(batch, task, head_loss) * self.config.tasks[task].loss_weight
            loss.backward()
            clipping = self.trainer_config.grad_clipping
            if clipping is not None:
                # foreach: one fused pass over all gradients instead of a kernel per tensor; the same
                # norm and scaling, summed in another order.
                params = [p for p in self.trainable if p.grad is not None]
                if clipping.type == "norm":
                    torch.nn.utils.clip_grad_norm_(params, clipping.max, foreach=True)
                else:
                    torch.nn.utils.clip_grad_value_(params, clipping.max, foreach=True)
            self.model.sharing.step(task, self.optimizers[task])
        self.step += 1
        loss_value = float(loss.detach())
        if not np.isfinite(loss_value):
            raise FloatingPointError(f"loss of task {task} became {loss_value} at step {self.step}; "
                                     f"try a lower learning rate or gradient clipping")
        for callback in self.callbacks:
            callback.on_step_end(self, task, loss_value, batch.num_tokens())

    # ------------------------------------------------------------ evaluation
    def evaluate_task(self, task: str, split: str) -> Scores:
        task_data = self.data[task]
        with evaluating(self, task, split):
            predicted = predict_tags(self.model, task_data.instances[split], task, self.vocab,
                                     self.trainer_config.eval_batch_size, self.device)
        gold = [s.tags for s in task_data.sentences[split]]
        return score_tags(self.config.tasks[task].metric, predicted, gold, task_data.tag_scheme)

    def _evaluate(self) -> None:
        started = time.monotonic()
        record: Evaluation = {"epoch": self.epoch, "step": self.step, "tasks": {}}
        for task in self.tasks:
            splits: TaskScores = {"dev": self.evaluate_task(task, "dev")}
            if "test" in self.data[task].sentences:
                splits["test"] = self.evaluate_task(task, "test")
            record["tasks"][task] = splits
        improved = self._select(record)
        self.history.append(record)
        self.evaluation_seconds += time.monotonic() - started
        self._tick()
        for callback in self.callbacks:
            callback.on_evaluation(self, record, improved)
        scores = "; ".join(f"{t} dev {s['dev']['score']:.2f}"
                           + (f" test {s['test']['score']:.2f}" if "test" in s else "")
                           for t, s in record["tasks"].items())
        logger.log(logging.INFO if self.log_evaluations else logging.DEBUG, "%s epoch %d step %d: %s%s", self.stage,
                   self.epoch, self.step, scores, f" (new best: {', '.join(improved)})" if improved else "")
        write_json(self.paths.metrics, self.metrics(finished=False))

    def _select(self, record: Evaluation) -> list[str]:
        """Dev scores only; an equal score keeps the earlier checkpoint."""
        scores = {t: dev_score(s) for t, s in record["tasks"].items()}
        if self.trainer_config.selection == "mean":
            mean = statistics.fmean(scores.values())
            if self.best_mean is not None and mean <= self.best_mean:
                return []
            self.best_mean = mean
            improved = list(scores)
        else:
            improved = [t for t, v in scores.items() if t not in self.best or v > self.best[t]["dev"]]
        for task in improved:
            splits = record["tasks"][task]
            self.best[task] = {"epoch": record["epoch"], "step": record["step"], "dev": splits["dev"]["score"],
                               "test": splits.get("test", {}).get("score"),
                               "dev_metrics": splits["dev"], "test_metrics": splits.get("test")}
        return improved

    def metrics(self, finished: bool) -> dict[str, Any]:
        return {
            "finished": finished,
            "strategy": self.config.model.sharing.type,
            "selection": self.trainer_config.selection,
            "epochs_completed": self.epoch,
            "steps": self.step,
            "training_seconds": round(self.elapsed, 1),
            "wall_seconds": {"training": round(self.elapsed - self.evaluation_seconds, 1),
                             "evaluation": round(self.evaluation_seconds, 1)},
            "provenance": self.provenance,
            "device": describe(self.device),
            "precision": self.trainer_config.precision,
            "compile": self.compiled.summary(self.compile_seconds) if self.compiled else None,
            "parameters": parameter_counts(self.model),
            "tasks": self.best,
            **self.extra_metrics,
            "history": self.history,
        }

    # ---------------------------------------------------------------- resume
    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizers": [o.state_dict() for o in self.distinct_optimizers],
            "schedulers": [s.state_dict() for s in self.schedulers],
            "sampler": self.sampler.state_dict(),
            "streams": {t: s.state_dict() for t, s in self.streams.items()},
            "epoch": self.epoch,
            "step": self.step,
            "elapsed": self.elapsed,
            "evaluation_seconds": self.evaluation_seconds,
            "compile_seconds": self.compile_seconds + (self.compiled.seconds if self.compiled else 0.0),
            "provenance": self.provenance,
            "history": self.history,
            "best": self.best,
            "best_mean": self.best_mean,
            "callbacks": [c.state_dict() for c in self.callbacks],
            "rng": {"torch": torch.get_rng_state(), "numpy": _numpy_state(), "python": _python_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        for optimizer, optimizer_state in zip(self.distinct_optimizers, state["optimizers"]):
            optimizer.load_state_dict(optimizer_state)
        for scheduler, scheduler_state in zip(self.schedulers, state["schedulers"]):
            scheduler.load_state_dict(scheduler_state)
        self.sampler.load_state_dict(state["sampler"])
        for task, stream_state in state["streams"].items():
            self.streams[task].load_state_dict(stream_state)
        self.epoch, self.step, self.elapsed = state["epoch"], state["step"], state["elapsed"]
        # absent from checkpoints written before they were recorded
        self.evaluation_seconds = state.get("evaluation_seconds", 0.0)
        self.compile_seconds = state.get("compile_seconds", 0.0)
        self.provenance = state.get("provenance", [])
        self.history, self.best, self.best_mean = state["history"], state["best"], state["best_mean"]
        for callback, callback_state in zip(self.callbacks, state["callbacks"]):
            callback.load_state_dict(callback_state)
        torch.set_rng_state(state["rng"]["torch"])
        np.random.set_state(_numpy_from(state["rng"]["numpy"]))
        random.setstate(_python_from(state["rng"]["python"]))
        _restore_cuda_rng(state["rng"].get("cuda", []))


def _restore_cuda_rng(states: list[torch.Tensor]) -> None:
    """A GPU run resumed on the same GPUs continues the same dropout draws. Resumed on a machine
    with fewer GPUs or none, the CUDA states saved for missing devices cannot apply and are dropped:
    such a resume continues correctly but not bit-identically (see the README)."""
    if not states or not torch.cuda.is_available():
        return
    for index, cuda_state in enumerate(states[: torch.cuda.device_count()]):
        torch.cuda.set_rng_state(cuda_state, index)


# The safe checkpoint loader reads tensors, lists, dicts and scalars only, so RNG states are
# stored in those shapes.
def _numpy_state() -> list:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)]


def _numpy_from(state: list) -> tuple:
    name, keys, pos, has_gauss, cached = state
    return name, keys.numpy().astype(np.uint32), pos, has_gauss, cached


def _python_state() -> list:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _python_from(state: list) -> tuple:
    version, internal, gauss = state
    return version, tuple(internal), gauss
