"""The experiment schema, assembled from the registries.

It is built only after plugins are imported (``build_experiment_schema`` is called late and
not cached across registrations), so a user's component is validated like a built-in one,
also where a component names another (``Registry.union`` resolves ``Nested`` fields).
"""
from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator
from torch import nn

import sparse_sharing.components  # noqa: F401  (registers every built-in component)
from sparse_sharing.components.data.holdout import DevFromTrainConfig
from sparse_sharing.components.data.vocabulary import VocabularyConfig
from sparse_sharing.config.errors import format_validation_error
from sparse_sharing.devices import DEVICE_PATTERN
from sparse_sharing.errors import ConfigError
from sparse_sharing.registry import (
    CALLBACKS,
    DATASET_READERS,
    ENCODERS,
    HEADS,
    LR_SCHEDULERS,
    MASK_SOURCES,
    METRICS,
    OPTIMIZERS,
    SAMPLERS,
    SHARING,
    TOKEN_EMBEDDERS,
    Registry,
)


TASK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
# Names a task's modules cannot take: attributes of the nn.ModuleDict that holds them (train, keys...).
_RESERVED = frozenset(dir(nn.ModuleDict()))


def check_task_name(name: str) -> None:
    """A task name keys module dicts and names files (masks/<task>.pt), so it is kept plain."""
    if not TASK_NAME.fullmatch(name):
        raise ValueError(f"task name {name!r} is not allowed: use letters, digits, '_' and '-', starting with a "
                         f"letter or digit (pattern {TASK_NAME.pattern})")
    if name in _RESERVED:
        raise ValueError(f"task name {name!r} is reserved (a method of torch's ModuleDict): rename the task")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GradClippingConfig(Strict):
    type: Literal["norm", "value"] = Field("norm", description="Clip the global gradient norm, or each value.")
    max: float = Field(5.0, gt=0.0, description="The norm or absolute value limit.")


def _default(registry: Registry, **values: Any) -> Any:
    return registry.get(values["type"]).config(**values)


class TaskBase(Strict):
    """Checks of a task entry that involve more than one of its keys."""

    @model_validator(mode="after")
    def _one_dev_source(self) -> "TaskBase":
        if (self.dev_path is None) == (self.dev_from_train is None):
            given = "both are" if self.dev_path is not None else "neither is"
            raise ValueError(f"give exactly one of dev_path (a dev file) and dev_from_train (hold out part of "
                             f"train, e.g. {{fraction: 0.1}}); {given} set")
        return self


def build_experiment_schema() -> type[BaseModel]:
    reader = DATASET_READERS.union()
    metric = METRICS.union()
    head = HEADS.union()
    task_model = create_model(
        "TaskConfig",
        __base__=TaskBase,
        dataset_reader=(reader, Field(description="How to read this task's files and which column holds its tags.")),
        train_path=(str, Field(description="Training data.")),
        dev_path=(str | None, Field(None, description="Development data: model selection uses only this. "
                                    "Exactly one of dev_path and dev_from_train is given.")),
        dev_from_train=(DevFromTrainConfig | None, Field(
            None, description="For a corpus without a dev file: hold out this share of the training sentences "
            "(seeded, the same in every run) as the dev set, and train on the rest.")),
        test_path=(str | None, Field(None, description="Test data, scored at every evaluation, never selected on.")),
        metric=(metric, Field(description="Score reported and used for model selection.")),
        head=(head, Field(description="Output layer for this task.")),
        loss_weight=(float, Field(1.0, gt=0.0, description="Multiplies this task's loss.")),
    )
    model_model = create_model(
        "ModelConfig",
        __base__=Strict,
        token_embedders=(list[TOKEN_EMBEDDERS.union()],
                         Field(min_length=1, description="Embedders whose outputs are concatenated per token.")),
        embedding_dropout=(float, Field(0.5, ge=0.0, lt=1.0, description="Dropout on the concatenated embeddings.")),
        encoder=(ENCODERS.union(), Field(description="The trunk's contextual layers.")),
        sharing=(SHARING.union(), Field(description="How tasks share the trunk: the block to swap.")),
    )
    trainer_model = create_model(
        "TrainerConfig",
        __base__=Strict,
        num_epochs=(int, Field(gt=0, description="An epoch is as many steps as all trained tasks have batches.")),
        batch_size=(int, Field(10, gt=0, description="Sentences per training batch.")),
        eval_batch_size=(int, Field(128, gt=0, description="Sentences per evaluation batch.")),
        sampler=(SAMPLERS.union(), Field(default_factory=lambda: _default(SAMPLERS, type="proportional"),
                                           description="Picks the task of each step.")),
        optimizer=(OPTIMIZERS.union(), Field(description="One optimizer over all trainable parameters.")),
        lr_scheduler=(LR_SCHEDULERS.union() | None,
                      Field(None, description="Stepped once per epoch; none keeps the rate fixed.")),
        grad_clipping=(GradClippingConfig | None, Field(None, description="Gradient clipping before each step.")),
        evaluate_every_steps=(int | None, Field(None, gt=0, description="Evaluate on dev every N steps; "
                                                "none = at the end of each epoch.")),
        selection=(Literal["per_task", "mean"], Field(
            "per_task", description="per_task: each task keeps its own dev-best checkpoint; mean: one checkpoint, "
            "best mean dev score over tasks.")),
        compile=(bool, Field(False, description="Compile each task head's training loss with torch.compile "
                             "(sentence lengths padded to 16, 32 or 64 tokens, so at most three graphs a head); "
                             "the same results within float rounding. How a run computes, not what it is: "
                             "--resume may change it. Off by default: on one CPU thread a step measured level with "
                             "eager (README, Benchmarks).")),
        precision=(Literal["fp32", "bf16"], Field(
            "fp32", description="fp32: every step in float32. bf16: each training step's forward and loss under "
            "torch.autocast to bfloat16 (weights, gradients and optimizer state stay float32; CRFs and "
            "evaluation stay float32), on a CUDA GPU or CPU that supports bfloat16, else the run is refused "
            "before it starts. It may change results beyond rounding, so `ssl compare` keeps bf16 runs in "
            "rows of their own; --resume may change it, as a deliberate choice.")),
        callbacks=(list[CALLBACKS.union()], Field(
            default_factory=lambda: [_default(CALLBACKS, type=name) for name in
                                     ("progress_bar", "tensorboard", "checkpoint")],
            description="Hooks run by the loop, in order.")),
    )

    class ExperimentBase(Strict):
        @field_validator("tasks", mode="before", check_fields=False)
        @classmethod
        def _check_task_names(cls, tasks: Any) -> Any:
            for name in tasks if isinstance(tasks, dict) else ():
                check_task_name(name)
            return tasks

        @model_validator(mode="after")
        def _check_train_tasks(self) -> "ExperimentBase":
            unknown = [t for t in (self.train_tasks or []) if t not in self.tasks]
            if unknown:
                raise ValueError(f"train_tasks names {unknown} but the configured tasks are {sorted(self.tasks)}")
            return self

    return create_model(
        "ExperimentConfig",
        __base__=ExperimentBase,
        seed=(int, Field(13, description="Seeds Python, NumPy, torch and the batch order.")),
        num_threads=(int, Field(1, gt=0, description="torch intra-op threads (torch.set_num_threads); 1 is fastest "
                                "at batch 10 on CPU: run parallel processes rather than threads.")),
        device=(str, Field("auto", pattern=DEVICE_PATTERN, description="Where the run computes: auto (CUDA when "
                           "available, else CPU), cpu, cuda or cuda:N; --device overrides it.")),
        train_tasks=(list[str] | None, Field(None, description="Train only these of the configured tasks; "
                                             "none = all.")),
        tasks=(dict[str, task_model], Field(min_length=1, description="Task name → data, head and metric.")),
        vocabulary=(VocabularyConfig, Field(default_factory=VocabularyConfig, description="Vocabulary building.")),
        model=(model_model, Field(description="Embedders, encoder and sharing strategy.")),
        trainer=(trainer_model, Field(description="The training loop.")),
        masks=(MASK_SOURCES.union() | None, Field(None, description="Where the per-task masks of a masked sharing "
                                             "strategy (sparse, single_subnet) come from; unused by the others.")),
    )


def validate_experiment(raw: dict, source: str = "") -> BaseModel:
    schema = build_experiment_schema()
    try:
        return schema.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, schema, source)) from None


def trained_tasks(config: Any) -> list[str]:
    return list(config.train_tasks) if config.train_tasks else list(config.tasks)
