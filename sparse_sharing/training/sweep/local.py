"""The local executor: a fixed pool of worker slots on this machine, each running one run at a time.

A slot is a place for one `ssl train` process; on a GPU machine each slot is pinned to one card
(``CUDA_VISIBLE_DEVICES``), ``runs_per_gpu`` slots a card, so several runs share each card.
No dependency beyond the standard library.
"""
from __future__ import annotations

import subprocess
import time
from typing import Callable, Sequence

from sparse_sharing.training.sweep.job import Job, JobQueue, start, stop

POLL_SECONDS = 0.5


def cpu_slots(workers: int) -> list[dict[str, str]]:
    return [{} for _ in range(workers)]


def gpu_slots(num_gpus: int, runs_per_gpu: int) -> list[dict[str, str]]:
    """Slots in the order GPU 0, 1, ..., 0, 1, ...: a half-full sweep spreads over the cards."""
    return [{"CUDA_VISIBLE_DEVICES": str(gpu)} for _ in range(runs_per_gpu) for gpu in range(num_gpus)]


class LocalExecutor:
    def __init__(self, slots: Sequence[dict[str, str]]) -> None:
        self.slots = list(slots)

    def describe(self) -> str:
        return f"local pool of {len(self.slots)} worker(s)"

    def run(self, jobs: Sequence[Job], on_start: Callable[[Job], None], on_end: Callable[[Job, int], None],
            tick: Callable[[], None]) -> None:
        """Run ``jobs`` in order as slots free up, each once the jobs it waits for have succeeded;
        stop when nothing runs and nothing is ready (what is left waits for a failed job). On an
        interrupt, stop the running ones and re-raise."""
        queue = JobQueue(jobs)
        running: dict[int, tuple[Job, subprocess.Popen]] = {}
        try:
            while True:
                for slot, env in enumerate(self.slots):
                    job = queue.take() if slot not in running else None
                    if job is not None:
                        on_start(job)
                        running[slot] = (job, start(job, env))
                if not running:
                    return
                for slot, (job, process) in list(running.items()):
                    if process.poll() is not None:
                        del running[slot]
                        queue.ended(job, process.returncode)
                        on_end(job, process.returncode)
                tick()
                time.sleep(POLL_SECONDS)
        except BaseException:
            stop([process for _, process in running.values()])
            raise
