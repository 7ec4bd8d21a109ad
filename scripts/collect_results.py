"""Copy the small artifacts of finished (or stopped) runs into the repository's results/ tree.

Why: run directories hold checkpoints and tensors (hundreds of MB) that do not belong in git,
while `ssl compare` needs only each run's `config.json` and `metrics.json`. This copies, for
every run directory under RUN_ROOT (a directory holding `config.json`), those two files, the
log, the mask reports (`masks/*.json`) and each chosen mask bit-packed (`masks/<task>.bits`,
67 KB for the paper's network, where the run's `.pt` holds 534 KB) with the vocabulary that
`ssl masks` needs to count parameters (masked runs only), keeping the layout
`<run>/seed-<k>`, so that `ssl compare results/<experiment>/*/*` prints the tables from the
committed files alone, and `ssl masks` and `masks: {type: 'from_run', path: 'results/...'}`
work on them:

    python scripts/collect_results.py runs/exp1 results/exp1
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from sparse_sharing.components.masks.mask_set import pack, read_mask_file
from sparse_sharing.files import save_torch
from sparse_sharing.paths import RunPaths

SMALL_FILES = ("config.json", "metrics.json", "train.log")


def collect(run_root: Path, results_root: Path) -> list[Path]:
    copied = []
    for config in sorted(run_root.glob("**/config.json")):
        run = config.parent
        if "mask_search" in run.relative_to(run_root).parts:
            continue  # a search stage's own trainer output, not a run
        target = results_root / run.relative_to(run_root)
        target.mkdir(parents=True, exist_ok=True)
        for name in SMALL_FILES:
            if (run / name).is_file():
                shutil.copy2(run / name, target / name)
        for report in sorted((run / "masks").glob("*.json")):
            (target / "masks").mkdir(exist_ok=True)
            shutil.copy2(report, target / "masks" / report.name)
        for mask in sorted((run / "masks").glob("*.pt")):
            save_torch(RunPaths(target).packed_mask(mask.stem), pack(read_mask_file(mask)))
            # `ssl masks` builds the run's model to count parameters: it needs the vocabulary
            shutil.copy2(run / "vocabulary.json", target / "vocabulary.json")
        copied.append(target)
    return copied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_root", type=Path, help="e.g. runs/exp1 (an ssl sweep's output)")
    parser.add_argument("results_root", type=Path, help="e.g. results/exp1")
    args = parser.parse_args()
    for target in collect(args.run_root, args.results_root):
        print(target)


if __name__ == "__main__":
    main()
