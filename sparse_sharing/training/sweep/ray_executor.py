"""The Ray executor: each run a Ray task that declares its CPUs and its share of a GPU, so Ray,
not this project, decides where and when it runs: on a Ray instance started here, or on an
existing cluster (``address``). The output directory and the data must then be on a file system
that every node sees at the same path, since each task is an `ssl train` on that node.

Needs the optional extra: ``pip install 'sparse-sharing[ray]'``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from sparse_sharing.errors import UserError
from sparse_sharing.files import append
from sparse_sharing.training.sweep.job import Job, JobQueue, run_to_end

POLL_SECONDS = 0.5


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError("the ray executor needs Ray: pip install 'sparse-sharing[ray]'") from None
    return ray


class RayExecutor:
    def __init__(self, address: str | None, local_cpus: int, local_gpus: int | None) -> None:
        """``local_cpus`` and ``local_gpus`` size a Ray instance started here (no ``address``)."""
        self.address = address
        self.local_cpus = local_cpus
        self.local_gpus = local_gpus

    def describe(self) -> str:
        return f"Ray at {self.address}" if self.address else f"a local Ray instance of {self.local_cpus} CPU(s)"

    def run(self, jobs: Sequence[Job], on_start: Callable[[Job], None], on_end: Callable[[Job, int], None],
            tick: Callable[[], None]) -> None:
        ray = import_ray()
        if self.address:
            ray.init(address=self.address, log_to_driver=False)
        else:
            ray.init(num_cpus=self.local_cpus, num_gpus=self.local_gpus, include_dashboard=False,
                     log_to_driver=False)
        try:
            task = ray.remote(max_retries=0)(run_to_end)
            queue = JobQueue(jobs)
            refs: dict[Any, Job] = {}

            def submit_ready() -> None:  # in the queue's order; Ray starts them so as resources free
                while (job := queue.take()) is not None:
                    on_start(job)
                    refs[task.options(num_cpus=job.threads, num_gpus=job.gpu_share).remote(job)] = job

            try:
                submit_ready()
                while refs:
                    done, _ = ray.wait(list(refs), num_returns=1, timeout=POLL_SECONDS)
                    for ref in done:
                        job = refs.pop(ref)
                        try:
                            code = ray.get(ref)
                        except ray.exceptions.RayError as error:  # the worker died under the run
                            code = -1
                            append(Path(job.log), f"Error: Ray task failed: {error}\n".encode())
                        queue.ended(job, code)
                        on_end(job, code)
                    submit_ready()
                    tick()
            except BaseException:
                for ref in refs:
                    ray.cancel(ref)  # raises KeyboardInterrupt in the task, which stops its run
                ray.wait(list(refs), num_returns=len(refs), timeout=60)
                raise
        finally:
            ray.shutdown()
