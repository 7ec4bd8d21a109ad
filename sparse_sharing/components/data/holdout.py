"""A development set held out of the training file, for tasks whose corpus has none.

CoNLL-2000, for one, ships only train and test, and model selection (the dev-best epoch, the
mask search's choice of round) must never look at test. A task may then say
``dev_from_train: {fraction: 0.1}`` instead of ``dev_path``: a fixed share of the training
sentences becomes its dev set and leaves its training set.

The split has to be the same every time the experiment's data is read: in `ssl train`, in each
mask-search worker process, in a resumed run and in `ssl validate`. So it depends on nothing but
the sentences' order in the file and the split's own ``seed``: sentence k goes to dev when
SHA-256("{seed}:{k}") is among the ``round(fraction · N)`` smallest of the file's N sentences.
No random generator is involved, so neither the experiment's seed, nor the Python version, nor
how much randomness was drawn before can move a sentence from one side to the other. Whole
sentences move; both parts keep the file's order.
"""
from __future__ import annotations

import hashlib
from typing import Sequence, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from sparse_sharing.errors import DataError

T = TypeVar("T")


class DevFromTrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fraction: float = Field(
        gt=0.0, lt=1.0,
        description="Share of the training sentences held out as the dev set (rounded to whole sentences); "
        "they are removed from training.",
    )
    seed: int = Field(
        0,
        description="Chooses which sentences are held out; independent of the experiment's seed, so runs with "
        "different seeds select on the same dev set.",
    )


def split_off_dev(sentences: Sequence[T], config: DevFromTrainConfig, where: str) -> tuple[list[T], list[T]]:
    """(train, dev): the sentences ``config`` holds out as dev, and the rest, both in file order.

    ``where`` names the config entry in the error raised when the fraction rounds to no sentence
    or to all of them.
    """
    total = len(sentences)
    size = round(config.fraction * total)
    if not 0 < size < total:
        raise DataError(f"{where}: fraction {config.fraction} of {total} training sentences is {size} "
                        f"sentences; the dev set and the rest of train must each keep at least one")
    ranked = sorted(range(total), key=lambda k: hashlib.sha256(f"{config.seed}:{k}".encode()).digest())
    held_out = set(ranked[:size])
    train = [s for k, s in enumerate(sentences) if k not in held_out]
    dev = [s for k, s in enumerate(sentences) if k in held_out]
    return train, dev
