"""The component kinds. Every config block with a ``type`` key is looked up in one of these."""
from __future__ import annotations

from sparse_sharing.registry.registry import Registry

DATASET_READERS: Registry = Registry("dataset_reader", "Reads a data file into labelled sentences for one task.")
TOKEN_EMBEDDERS: Registry = Registry("token_embedder", "Turns token and character ids into vectors.")
ENCODERS: Registry = Registry("encoder", "Contextualises the embedded tokens (the trunk's layers).")
HEADS: Registry = Registry("head", "Scores and decodes one task's tags from trunk features.")
SHARING: Registry = Registry("sharing", "Decides which parameters the tasks share.")
SAMPLERS: Registry = Registry("sampler", "Picks the task whose batch runs next.")
METRICS: Registry = Registry("metric", "Scores predicted tags against gold tags.")
OPTIMIZERS: Registry = Registry("optimizer", "Updates the parameters from gradients.")
LR_SCHEDULERS: Registry = Registry("lr_scheduler", "Changes the learning rate over training.")
CALLBACKS: Registry = Registry("callback", "Hooks into the training loop: logging, checkpoints, stopping.")
PRUNERS: Registry = Registry("pruner", "Chooses which still-kept weights a round of iterative pruning removes.")
MASKS: Registry = Registry("mask", "Where a masked strategy's per-task masks come from: a search, or another run.")

ALL_KINDS: dict[str, Registry] = {
    r.kind: r
    for r in (
        DATASET_READERS,
        TOKEN_EMBEDDERS,
        ENCODERS,
        HEADS,
        SHARING,
        SAMPLERS,
        METRICS,
        OPTIMIZERS,
        LR_SCHEDULERS,
        CALLBACKS,
        PRUNERS,
        MASKS,
    )
}
