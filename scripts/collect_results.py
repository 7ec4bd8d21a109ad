"""Copy the small artifacts of finished (or stopped) runs into the repository's results/ tree.

Why: run directories hold checkpoints and tensors (hundreds of MB) that do not belong in git,
while `ssl compare` needs only each run's `config.json` and `metrics.json`. This copies, for
every run directory under RUN_ROOT (a directory holding `config.json`), those two files, the
log and the mask reports (`masks/*.json`), keeping the layout `<run>/seed-<k>`, so that
`ssl compare results/<experiment>/*/*` prints the tables from the committed files alone:

    python scripts/collect_results.py runs/exp1 results/exp1
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

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
