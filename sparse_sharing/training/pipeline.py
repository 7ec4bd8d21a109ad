"""`ssl train` as a function: config → data → vocabulary → model → the runner's stages."""
from __future__ import annotations

import logging
from typing import Any, Sequence

from sparse_sharing.config.schema import validate_experiment
from sparse_sharing.errors import RunDirError
from sparse_sharing.logs import held_records, log_to_file
from sparse_sharing.paths import RunPaths
from sparse_sharing.training.experiment import build_experiment, check_experiment, load_vocabulary, read_run_json
from sparse_sharing.training.run_dir import open_run_dir
from sparse_sharing.training.runner import ExperimentRunner

logger = logging.getLogger(__name__)


def train(raw_config: dict, config: Any, paths: RunPaths, resume: bool = False,
          include_packages: Sequence[str] = ()) -> dict:
    """Train in the run directory ``paths`` (checked by ``training.run_dir.prepare_run_dir``, which
    creates nothing: the directory is made here once the experiment has been built, so a start
    refused for a config or data error leaves no directory behind).

    The caller has seeded the random state with the config's seed and set the thread count.
    """
    with held_records() as earlier:  # for train.log, which cannot exist yet
        if resume:
            config = resumed_config(paths, raw_config, config)
        vocab = load_vocabulary(paths) if resume else None
        experiment = build_experiment(config, vocab)
        check_experiment(experiment)
        runner = ExperimentRunner(experiment, paths, raw_config=raw_config, resume=resume,
                                  include_packages=include_packages)
    with open_run_dir(paths, resume):  # only now: a refused start leaves no directory behind
        log_to_file(paths.log, earlier)
        logger.info("%s run in %s", "resumed" if resume else "started", paths.root)
        return runner.run()


def resumed_config(paths: RunPaths, raw_config: dict, config: Any) -> Any:
    """The config a resumed run continues with: the one it started with, except that
    `num_threads`, `device`, `trainer.eval_batch_size`, `trainer.compile` and `masks.jobs` (how the
    run computes, not what: a parallel search gives the masks of a serial one, smaller evaluation
    batches and a compiled head the same scores, so a run that ran out of memory evaluating
    continues with smaller ones), `trainer.precision` (a deliberate choice: bf16 steps round
    differently, so the rest of the run is not the run fp32 would have made; metrics.json's
    provenance records each start's precision) and `trainer.num_epochs` may change. Raising the
    epochs extends a run (the schedules depend on the epoch reached, not on the total, so an
    extended run equals one planned that long); lowering them to the epochs done closes an
    interrupted run as finished."""
    saved_raw = read_run_json(paths.config)
    saved = validate_experiment(saved_raw, source=str(paths.config))
    if saved_raw == raw_config:
        return saved
    before, after = saved.trainer.num_epochs, config.trainer.num_epochs
    saved_dump, new_dump = saved.model_dump(), config.model_dump()
    saved_dump["trainer"]["num_epochs"] = after
    saved_dump["trainer"]["eval_batch_size"] = config.trainer.eval_batch_size
    saved_dump["trainer"]["compile"] = config.trainer.compile
    saved_dump["trainer"]["precision"] = config.trainer.precision
    saved_dump["num_threads"] = config.num_threads
    saved_dump["device"] = config.device
    if isinstance(saved_dump.get("masks"), dict) and isinstance(new_dump.get("masks"), dict) \
            and "jobs" in saved_dump["masks"] and "jobs" in new_dump["masks"]:
        saved_dump["masks"]["jobs"] = new_dump["masks"]["jobs"]
    if saved_dump != new_dump:
        raise RunDirError(
            f"cannot resume {paths.root}: the config differs from the one the run started with "
            f"({paths.config}); resume with the same config and overrides (only trainer.num_epochs, "
            f"trainer.eval_batch_size, trainer.compile, trainer.precision, num_threads, device and masks.jobs "
            f"may change), or start a new run"
        )
    logger.info("resuming %s with %d epochs (was %d), evaluation batches of %d, compile %s, precision %s%s, "
                "%d torch threads, device %s", paths.root, after, before, config.trainer.eval_batch_size,
                "on" if config.trainer.compile else "off", config.trainer.precision,
                "" if config.trainer.precision == saved.trainer.precision else f" (was {saved.trainer.precision})",
                config.num_threads, config.device)
    return config
