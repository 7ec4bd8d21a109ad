"""Optimizers and learning-rate schedules named in the trainer config.

The optimizers use torch's ``foreach`` implementation on every device (torch picks it only on
CUDA by default): one call over all tensors instead of a Python loop over them, the same
arithmetic per entry.
"""
from __future__ import annotations

from typing import Iterable, Literal

import torch
from pydantic import Field

from sparse_sharing.registry import LR_SCHEDULERS, OPTIMIZERS, ComponentConfig


class SGDConfig(ComponentConfig):
    type: Literal["sgd"]
    lr: float = Field(0.1, gt=0.0, description="Learning rate.")
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="Momentum factor.")
    weight_decay: float = Field(0.0, ge=0.0, description="L2 penalty added to gradients.")
    nesterov: bool = Field(False, description="Nesterov momentum.")


@OPTIMIZERS.register("sgd", config=SGDConfig)
def build_sgd(config: SGDConfig, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay,
                           nesterov=config.nesterov, foreach=True)


class AdamConfig(ComponentConfig):
    type: Literal["adam"]
    lr: float = Field(1e-3, gt=0.0, description="Learning rate.")
    betas: tuple[float, float] = Field((0.9, 0.999), description="Coefficients of the running averages.")
    eps: float = Field(1e-8, gt=0.0, description="Term added to the denominator.")
    weight_decay: float = Field(0.0, ge=0.0, description="L2 penalty added to gradients (coupled).")


@OPTIMIZERS.register("adam", config=AdamConfig)
def build_adam(config: AdamConfig, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=config.lr, betas=config.betas, eps=config.eps,
                            weight_decay=config.weight_decay, foreach=True)


class AdamWConfig(ComponentConfig):
    type: Literal["adamw"]
    lr: float = Field(1e-3, gt=0.0, description="Learning rate.")
    betas: tuple[float, float] = Field((0.9, 0.999), description="Coefficients of the running averages.")
    eps: float = Field(1e-8, gt=0.0, description="Term added to the denominator.")
    weight_decay: float = Field(0.01, ge=0.0, description="Decoupled weight decay.")


@OPTIMIZERS.register("adamw", config=AdamWConfig)
def build_adamw(config: AdamWConfig, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=config.lr, betas=config.betas, eps=config.eps,
                             weight_decay=config.weight_decay, foreach=True)


class InverseTimeConfig(ComponentConfig):
    type: Literal["inverse_time"]
    decay: float = Field(0.05, ge=0.0, description="lr_epoch = lr / (1 + decay * epoch), as Ma & Hovy (2016).")


@LR_SCHEDULERS.register("inverse_time", config=InverseTimeConfig)
def build_inverse_time(config: InverseTimeConfig, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0 / (1.0 + config.decay * epoch))


class StepDecayConfig(ComponentConfig):
    type: Literal["step"]
    step_size: int = Field(gt=0, description="Epochs between decays.")
    gamma: float = Field(0.5, gt=0.0, description="Factor applied at each decay.")


@LR_SCHEDULERS.register("step", config=StepDecayConfig)
def build_step(config: StepDecayConfig, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma)


class ConstantConfig(ComponentConfig):
    type: Literal["constant"]


@LR_SCHEDULERS.register("constant", config=ConstantConfig)
def build_constant(config: ConstantConfig, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)
