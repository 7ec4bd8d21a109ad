"""Every results run of the README's "Results on CoNLL-2003", in order, as one background job:

    cd ~/ssl-runs && nohup python /path/to/checkout/scripts/results_sweeps.py > sweeps.out 2>&1 &
    cd ~/ssl-runs && python /path/to/checkout/scripts/results_sweeps.py --status   # every run's state

Run it from the directory that holds the run directories (``runs/<experiment>/...``), outside the
checkout, with the data at ``../shared/data`` from there, and with the ``ssl`` that should train
on the PATH. Each ``ssl sweep`` skips finished runs and resumes interrupted ones, so the job can
be stopped (SIGTERM, Ctrl-C) and started again at any time; a sweep with a failed run is
reported and the others go on (``ssl sweep FILE --status`` shows why, ``--retry-failed`` reruns).

Why lanes rather than one ``ssl sweep --workers 2`` after another: a sweep ends when its slowest
run does, so at the end of every sweep one core waits for the other, up to a whole run (two
hours on CoNLL-2003); over six sweeps that is about a 2-core session lost. Here each of
``--lanes`` lanes (default 2: two one-thread runs on a 2-core machine) runs one ``ssl sweep
--workers 1`` at a time: the first sweep in order that is not done, whose output directory no
other lane holds (two sweeps of one output refuse each other), and whose inputs have finished.
A lane that runs out of work in one sweep goes on to the next while the other finishes its run.
Why not one ``ssl sweep`` of every file (one pool, readers of ``from_run`` after their source):
the results runs train with the ``ssl`` of the commit they started at, which takes one sweep
file; and the budget check copies finished runs before it starts, which no sweep file can say.
The budget check is three sweeps of one row each (``budget100_row.jsonnet --ext-var row=...``,
each its own output ``runs/budget100-<row>``): each continuation starts once its own Exp1 run has
finished, on whichever lane is free, rather than all three in one lane after the last of them.
"""
from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

SWEEPS_DIR = Path(__file__).resolve().parents[1] / "experiments" / "sweeps"
CONLL03 = ("--ext-var", "data_dir=../shared/data/conll2003")
OUTCOMES = {0: "done", 1: "done, with a failed run"}  # by `ssl sweep`'s exit status
BUDGET_SOURCES = ("runs/exp1/single/seed-2", "runs/exp1/hard/seed-3", "runs/exp1/sparse/seed-1")


@dataclass(frozen=True)
class Sweep:
    file: str  # in the sweeps directory
    output: str  # the sweep file's `output` (tests/scripts/test_results_sweeps.py checks they agree)
    args: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()  # run directories that must have finished before this sweep starts
    continues: bool = False  # copy each needed run into output (same <name>/seed-<k>) to continue it
    row: str = ""  # for a sweep file that takes one row (--ext-var row=...): which

    @property
    def name(self) -> str:
        """How the job's lines and outcomes name it: the file, and its row where it takes one."""
        stem = Path(self.file).stem
        return f"{stem}:{self.row}" if self.row else stem

    @property
    def command_args(self) -> tuple[str, ...]:
        return self.args + (("--ext-var", f"row={self.row}") if self.row else ())


def budget_row(source: str) -> Sweep:
    """One budget-check row (``runs/exp1/<row>/seed-<k>`` continued to 100 epochs) as its own sweep, so
    each starts once its own Exp1 run has finished, beside the others (see budget100_row.jsonnet)."""
    row = Path(source).parent.name
    return Sweep("budget100_row.jsonnet", f"runs/budget100-{row}", CONLL03, needs=(source,), continues=True, row=row)


SWEEPS = (
    Sweep("exp1.jsonnet", "runs/exp1", CONLL03 + ("--baseline", "single")),
    # reuses sparse seed 1's mask search through `from_run`
    Sweep("exp1_reuse.jsonnet", "runs/exp1", CONLL03, needs=("runs/exp1/sparse/seed-1",)),
    Sweep("negative_transfer.jsonnet", "runs/negative_transfer", CONLL03 + ("--baseline", "single")),
    Sweep("ablations.jsonnet", "runs/ablations", CONLL03),
    Sweep("exp3.jsonnet", "runs/exp3", ("--ext-var", "data_root=../shared/data")),
    # continue copies of three finished Exp1 runs to 100 epochs (see budget100.jsonnet)
    *(budget_row(source) for source in BUDGET_SOURCES),
)


def finished(run_dir: Path) -> bool:
    """Whether the run has trained to its end (what `ssl sweep` also asks of metrics.json)."""
    try:
        return bool(json.loads((run_dir / "metrics.json").read_text(encoding="utf-8")).get("finished"))
    except (OSError, ValueError):
        return False


def say(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {message}", flush=True)


class Lanes:
    """Hands sweeps to lanes; ``run(sweep)`` runs one to its end and returns its exit status."""

    def __init__(self, sweeps: tuple[Sweep, ...], root: Path, run: Callable[[Sweep], int], poll_seconds: float = 60):
        self.sweeps, self.root, self.run, self.poll_seconds = sweeps, root, run, poll_seconds
        self.held: set[str] = set()  # outputs a lane is running a sweep of
        self.outcome: dict[str, str] = {}  # sweep name -> how it ended
        self.stopping = False
        self.changed = threading.Condition()

    def lane(self) -> None:
        while (sweep := self.take()) is not None:
            status = self.run(sweep)
            with self.changed:
                self.held.discard(sweep.output)
                self.outcome[sweep.name] = OUTCOMES.get(status, f"exit status {status}")
                self.changed.notify_all()

    def take(self) -> Sweep | None:
        """The next sweep this lane may run, waiting while every other one is held or waits for
        its inputs; None when nothing is left (or the job is stopping)."""
        with self.changed:
            while not self.stopping:
                left = [s for s in self.sweeps if s.name not in self.outcome]
                if not left:
                    return None
                for sweep in left:
                    if sweep.output in self.held:
                        continue
                    unfinished = [n for n in sweep.needs if not finished(self.root / n)]
                    if unfinished and not self.could_still_finish(unfinished, sweep, left):
                        self.outcome[sweep.name] = f"skipped: {', '.join(unfinished)} did not finish"
                        say(f"{sweep.name}: {self.outcome[sweep.name]}")
                    elif not unfinished:
                        if sweep.continues:
                            self.copy_needs(sweep)
                        self.held.add(sweep.output)
                        return sweep
                # a run can finish inside another lane's sweep: look at the disk again now and then
                self.changed.wait(self.poll_seconds)
            return None

    @staticmethod
    def could_still_finish(runs: list[str], waiting: Sweep, left: list[Sweep]) -> bool:
        """Whether another sweep not yet ended writes the output that holds one of ``runs``."""
        return any(Path(run).is_relative_to(s.output) for run in runs for s in left if s is not waiting)

    def copy_needs(self, sweep: Sweep) -> None:
        for need in sweep.needs:
            target = self.root / sweep.output / Path(need).relative_to(Path(need).parents[1])
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copytree(self.root / need, target)
                say(f"{sweep.name}: copied {need} to {target.relative_to(self.root)}")

    def stop(self) -> None:
        with self.changed:
            self.stopping = True
            self.changed.notify_all()


class SweepProcesses:
    """Runs ``ssl sweep`` for a lane, its output lines prefixed with the sweep's name."""

    def __init__(self, ssl: str, sweeps_dir: Path):
        self.ssl, self.sweeps_dir = ssl, sweeps_dir
        self.live: set[subprocess.Popen[str]] = set()
        self.lock = threading.Lock()

    def __call__(self, sweep: Sweep) -> int:
        command = [self.ssl, "sweep", str(self.sweeps_dir / sweep.file), *sweep.command_args, "--workers", "1"]
        say(" ".join(command))
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        with self.lock:
            self.live.add(process)
        assert process.stdout is not None
        for line in process.stdout:
            print(f"[{sweep.name}] {line}", end="", flush=True)
        status = process.wait()
        with self.lock:
            self.live.discard(process)
        say(f"{sweep.name}: exit status {status}")
        return status

    def terminate(self) -> None:
        """SIGTERM to every sweep: each stops its runs as on Ctrl-C, and a later start resumes them."""
        with self.lock:
            for process in self.live:
                process.send_signal(signal.SIGTERM)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", type=int, default=2, help="sweeps at a time, one one-thread run each")
    parser.add_argument("--sweeps-dir", type=Path, default=SWEEPS_DIR,
                        help="where the sweep files are (default: this checkout's experiments/sweeps)")
    parser.add_argument("--ssl", default="ssl", help="the ssl command that trains")
    parser.add_argument("--status", action="store_true",
                        help="print each sweep's runs and their states (`ssl sweep FILE --status`); run nothing")
    args = parser.parse_args()
    if shutil.which(args.ssl) is None:  # else every lane would die on a FileNotFoundError traceback
        parser.error(f"no command {args.ssl!r} found: activate the environment sparse-sharing is installed in, "
                     f"or name the command with --ssl")
    if args.status:
        statuses = []
        for sweep in SWEEPS:
            print(f"{sweep.name} ({sweep.output}):", flush=True)
            command = [args.ssl, "sweep", str(args.sweeps_dir / sweep.file), *sweep.command_args, "--status"]
            statuses.append(subprocess.run(command).returncode)
        return max(statuses)
    processes = SweepProcesses(args.ssl, args.sweeps_dir)
    lanes = Lanes(SWEEPS, Path.cwd(), processes)

    def stop(signum: int, frame: object) -> None:
        say(f"stopping on {signal.Signals(signum).name}: the sweeps stop their runs; start again to resume")
        lanes.stop()
        processes.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threads = [threading.Thread(target=lanes.lane, name=f"lane-{k}") for k in range(args.lanes)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        for thread in threads:
            thread.join(timeout=1)  # a timed join keeps the main thread free to take signals
    for sweep in SWEEPS:
        say(f"{sweep.name}: {lanes.outcome.get(sweep.name, 'not run')}")
    if lanes.stopping:
        return 130
    return 0 if all(outcome == "done" for outcome in lanes.outcome.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
