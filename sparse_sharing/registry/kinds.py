"""The component kinds. Every config block with a ``type`` (or, for pretrained vectors, a
``source``) names an entry of one of these; each kind's contract is in ``contracts``, and the
keywords its factories are called with (``factory(config, **runtime)``) are declared here."""
from __future__ import annotations

import torch

import sparse_sharing.registry.contracts as contracts
from sparse_sharing.registry.registry import Registry, SourceConfig

DATASET_READERS: Registry = Registry("dataset_reader", "Reads a data file into labelled sentences for one task.",
                                     contracts.DatasetReader)
TOKEN_EMBEDDERS: Registry = Registry("token_embedder", "Turns token and character ids into vectors.",
                                     contracts.TokenEmbedder, runtime=("vocab",))
PRETRAINED_VECTORS: Registry = Registry("pretrained_vectors", "Where a word embedder's initial vectors come from.",
                                        contracts.PretrainedVectors, tag="source",
                                        config_base=SourceConfig)
ENCODERS: Registry = Registry("encoder", "Contextualises the embedded tokens (the trunk's layers).", contracts.Encoder,
                             runtime=("input_dim",))
HEADS: Registry = Registry("head", "Scores and decodes one task's tags from trunk features.", contracts.Head,
                          runtime=("input_dim", "labels", "tag_scheme"))
SHARING: Registry = Registry("sharing", "Decides which parameters the tasks share.",
                             contracts.SharingStrategyContract, runtime=("trunk_factory", "tasks"))
SAMPLERS: Registry = Registry("sampler", "Picks the task whose batch runs next.", contracts.TaskSamplerContract,
                             runtime=("sizes", "seed"))
METRICS: Registry = Registry("metric", "Scores predicted tags against gold tags.", contracts.MetricContract)
OPTIMIZERS: Registry = Registry("optimizer", "Updates the parameters from gradients.", torch.optim.Optimizer,
                               runtime=("params",))
LR_SCHEDULERS: Registry = Registry("lr_scheduler", "Changes the learning rate over training.",
                                   torch.optim.lr_scheduler.LRScheduler, runtime=("optimizer",))
CALLBACKS: Registry = Registry("callback", "Hooks into the training loop: logging, checkpoints, stopping.",
                               contracts.CallbackContract)
PRUNERS: Registry = Registry("pruner", "Chooses which still-kept weights a round of iterative pruning removes.",
                             contracts.PrunerContract)
SELECTIONS: Registry = Registry("selection", "Chooses which search round's mask a task keeps.",
                                contracts.SelectionRule)
MASK_SOURCES: Registry = Registry(
    "mask", "Where a masked strategy's per-task masks come from: a search, or another run.",
    contracts.MaskSourceContract)

ALL_KINDS: dict[str, Registry] = {
    r.kind: r
    for r in (
        DATASET_READERS,
        TOKEN_EMBEDDERS,
        PRETRAINED_VECTORS,
        ENCODERS,
        HEADS,
        SHARING,
        SAMPLERS,
        METRICS,
        OPTIMIZERS,
        LR_SCHEDULERS,
        CALLBACKS,
        PRUNERS,
        SELECTIONS,
        MASK_SOURCES,
    )
}
