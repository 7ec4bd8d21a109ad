"""`ssl sweep` through the real CLI on tiny runs: finishing, idempotence, resume, failure, Ray."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import _ENV, run_ssl, write_tiny_config, write_tiny_corpus
from sparse_sharing.config.sweep import load_sweep
from sparse_sharing.paths import RunPaths
from sparse_sharing.registry import import_plugins
from sparse_sharing.training.sweep.cost import estimated_steps
from sparse_sharing.training.sweep.job import Job, JobQueue
from sparse_sharing.training.sweep.local import gpu_slots
from sparse_sharing.training.sweep.paths import SweepPaths
from sparse_sharing.training.sweep.runner import RunOptions, plan_jobs

SWEEP = """{
  output: 'runs',
  seeds: [1, 2],
  runs: [
    { name: 'hard', config: 'tiny.jsonnet' },
    { name: 'single', config: 'tiny.jsonnet', overrides: { model: { sharing: { type: 'single' } } } },
  ],
}
"""
KEYS = ("hard/seed-1", "hard/seed-2", "single/seed-1", "single/seed-2")


def make_sweep(directory: Path, text: str = SWEEP, num_epochs: int = 1) -> Path:
    corpus = write_tiny_corpus(directory / "data")
    write_tiny_config(directory / "tiny.jsonnet", corpus, num_epochs=num_epochs)
    path = directory / "sweep.jsonnet"
    path.write_text(text, encoding="utf-8")
    return path


def sweep(directory: Path, *args: str) -> subprocess.CompletedProcess:
    return run_ssl("sweep", "sweep.jsonnet", "--workers", "2", *args, cwd=directory)


def final_test_scores(run_dir: Path) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["finished"] is True
    return {task: best["test"] for task, best in metrics["tasks"].items()}


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    directory = tmp_path_factory.mktemp("sweep")
    make_sweep(directory)
    return directory, sweep(directory)


def test_local_sweep_runs_every_seed_and_prints_the_table(finished_sweep) -> None:
    directory, result = finished_sweep
    assert result.returncode == 0, result.stderr
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in result.stdout.splitlines()
            if line.startswith("| hard") or line.startswith("| single")}
    assert rows == {"hard": "2", "single": "2"}
    for key in KEYS:
        run_dir = directory / "runs" / key
        final_test_scores(run_dir)
        config = json.loads((run_dir / "config.json").read_text())
        assert config["seed"] == int(key[-1]) and config["num_threads"] == 1
    assert json.loads((directory / "runs/single/seed-1/config.json").read_text())["model"]["sharing"] == {
        "type": "single"}


def test_a_second_call_runs_nothing(finished_sweep) -> None:
    directory, _ = finished_sweep
    logs = {key: (directory / "runs" / key / "train.log").read_text() for key in KEYS}
    result = sweep(directory)
    assert result.returncode == 0, result.stderr
    assert "| hard" in result.stdout
    assert {key: (directory / "runs" / key / "train.log").read_text() for key in KEYS} == logs
    status = run_ssl("sweep", "sweep.jsonnet", "--status", cwd=directory)
    assert status.returncode == 0, status.stderr
    assert status.stdout.count("finished") == 4


def test_status_runs_nothing(tmp_path: Path) -> None:
    make_sweep(tmp_path)
    result = run_ssl("sweep", "sweep.jsonnet", "--status", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("pending") == 4
    assert not (tmp_path / "runs").exists()


def test_killed_sweep_resumes_where_it_stopped(tmp_path: Path) -> None:
    make_sweep(tmp_path, SWEEP.replace("seeds: [1, 2]", "seeds: [1]"), num_epochs=12)
    command = [sys.executable, "-m", "sparse_sharing", "sweep", "sweep.jsonnet", "--workers", "1"]
    process = subprocess.Popen(command, cwd=tmp_path, env=_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    run = RunPaths(tmp_path / "runs" / "hard" / "seed-1")  # the larger run, so the first
    metrics = run.metrics
    try:
        while process.poll() is None:
            # metrics.json is written before the epoch's checkpoint: wait for both, or the kill
            # may land between them and leave nothing to resume from
            if (run.last_checkpoint.is_file() and metrics.is_file()
                    and json.loads(metrics.read_text() or "{}").get("epochs_completed", 0) >= 1):
                process.send_signal(signal.SIGTERM)
                break
            time.sleep(0.05)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    status = run_ssl("sweep", "sweep.jsonnet", "--status", cwd=tmp_path)
    assert "resumable" in status.stdout and "finished" not in status.stdout
    done = json.loads(metrics.read_text())["epochs_completed"]
    assert done < 12

    result = run_ssl("sweep", "sweep.jsonnet", "--workers", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(metrics.read_text())["epochs_completed"] == 12
    assert "resumed after epoch" in (tmp_path / "runs/hard/seed-1/train.log").read_text()
    commands = [line for line in SweepPaths(tmp_path / "runs").log("hard/seed-1").read_text().splitlines()
                if line.startswith("$ ")]
    assert len(commands) == 2 and "--resume" not in commands[0] and commands[1].endswith("--resume")


def test_a_failing_run_is_reported_and_the_others_finish(tmp_path: Path) -> None:
    broken = SWEEP.replace("  ],\n}", "    { name: 'broken', config: 'tiny.jsonnet', seeds: [1],\n"
                                      "      overrides: { tasks: { pos: { train_path: 'missing.txt' } } } },\n  ],\n}")
    assert broken != SWEEP
    make_sweep(tmp_path, broken.replace("seeds: [1, 2]", "seeds: [1]"))
    result = sweep(tmp_path)
    assert result.returncode == 1, result.stderr
    assert "1 run(s) failed" in result.stdout
    assert "broken/seed-1: " in result.stdout and "missing.txt" in result.stdout
    assert "Traceback" not in result.stdout
    for key in ("hard/seed-1", "single/seed-1"):
        final_test_scores(tmp_path / "runs" / key)
    log = SweepPaths(tmp_path / "runs").log("broken/seed-1")
    attempts = log.read_text().count("$ ")

    again = sweep(tmp_path)
    assert again.returncode == 1 and "broken/seed-1: " in again.stdout
    assert log.read_text().count("$ ") == attempts  # not retried unless asked

    retried = sweep(tmp_path, "--retry-failed")
    assert retried.returncode == 1
    assert log.read_text().count("$ ") == attempts + 1


def needs_ray() -> None:
    if os.environ.get("CI") != "true":  # CI installs the ray extra: there a missing Ray fails the test
        pytest.importorskip("ray")


def test_ray_executor_runs_the_same_sweep(tmp_path: Path, finished_sweep) -> None:
    needs_ray()
    make_sweep(tmp_path)
    result = sweep(tmp_path, "--executor", "ray")
    assert result.returncode == 0, result.stderr
    assert "local Ray instance of 2 CPU(s)" in result.stderr
    local_directory, _ = finished_sweep
    for key in KEYS:  # the same runs as the local pool's, score for score
        assert final_test_scores(tmp_path / "runs" / key) == final_test_scores(local_directory / "runs" / key)


def test_sweep_file_errors_name_the_file(tmp_path: Path) -> None:
    make_sweep(tmp_path, SWEEP.replace("name: 'single'", "name: 'hard'"))
    result = run_ssl("sweep", "sweep.jsonnet", "--status", cwd=tmp_path)
    assert result.returncode == 2
    assert "sweep.jsonnet" in result.stderr and "hard given twice" in result.stderr
    assert "Traceback" not in result.stderr

    make_sweep(tmp_path, SWEEP.replace("type: 'single'", "type: 'singel'"))
    result = run_ssl("sweep", "sweep.jsonnet", "--status", cwd=tmp_path)
    assert result.returncode == 2
    assert "run 'single'" in result.stderr and "singel" in result.stderr
    assert "Traceback" not in result.stderr


def test_largest_runs_start_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_sweep(tmp_path, SWEEP.replace("{ name: 'hard', config: 'tiny.jsonnet' }",
                                       "{ name: 'hard', config: 'tiny.jsonnet', overrides: "
                                       "{ trainer: { num_epochs: 3 } } }"))
    monkeypatch.chdir(tmp_path)
    import_plugins(())
    _, runs = load_sweep(tmp_path / "sweep.jsonnet")
    planned = plan_jobs(runs, RunOptions())
    # single and hard cost the same per epoch; hard trains three epochs, single one.
    assert [run.key for run, _ in planned] == ["hard/seed-1", "hard/seed-2", "single/seed-1", "single/seed-2"]


SHIPPED_SWEEPS = sorted((Path(__file__).resolve().parents[2] / "experiments" / "sweeps").glob("*.jsonnet"))
# What the shipped sweep files read between them (each ignores the others'): budget100_row takes its row.
SHIPPED_EXT_VARS = ("--ext-var", "data_dir=../shared/data/conll2003", "--ext-var", "data_root=../shared/data",
                    "--ext-var", "row=sparse")


@pytest.mark.parametrize("sweep_file", SHIPPED_SWEEPS, ids=lambda p: p.name)
def test_shipped_sweeps_validate(sweep_file: Path, tmp_path: Path) -> None:
    """Every run of every shipped sweep resolves and validates (no data is read)."""
    result = run_ssl("sweep", sweep_file, *SHIPPED_EXT_VARS, "--status", "--output", tmp_path / "runs")
    assert result.returncode == 0, result.stderr
    assert "pending" in result.stdout


def test_shipped_sweeps_run_together(tmp_path: Path) -> None:
    """Every shipped sweep file in one `ssl sweep` (one pool): no run directory is planned twice,
    and the runs that reuse Exp1's search wait for it."""
    result = run_ssl("sweep", *SHIPPED_SWEEPS, *SHIPPED_EXT_VARS, "--status", cwd=tmp_path, env={"COLUMNS": "250"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("waits for runs/exp1/sparse/seed-1 (pending)") == 2  # single_subnet, paper_kept


def test_option_errors_exit_2(tmp_path: Path) -> None:
    make_sweep(tmp_path)
    result = run_ssl("sweep", "sweep.jsonnet", "--address", "auto", cwd=tmp_path)
    assert result.returncode == 2 and "--executor ray" in result.stderr and "Traceback" not in result.stderr
    if not torch.cuda.is_available():
        result = run_ssl("sweep", "sweep.jsonnet", "--runs-per-gpu", "2", cwd=tmp_path)
        assert result.returncode == 2 and "no CUDA GPU" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_gpu_slots_spread_runs_over_the_cards() -> None:
    assert [slot["CUDA_VISIBLE_DEVICES"] for slot in gpu_slots(2, 3)] == ["0", "1", "0", "1", "0", "1"]


# --------------------------------------------------- runs that reuse another run's masks
ONE_SHOT = {"type": "one_shot", "kept_fractions": [1.0, 0.49], "train_steps": 10, "retrain_steps": 5,
            "warmup_steps": 5}


def masks_override(block: dict) -> str:
    return "masks=" + json.dumps(block)


def write_reuse_sweeps(directory: Path, searched_run: str = "sparse") -> None:
    """sparse.jsonnet: the tiny experiment with a (cheap) mask search; a.jsonnet runs it, b.jsonnet
    (same output) a run that takes its masks from_run a.jsonnet's run."""
    make_sweep(directory)
    (directory / "sparse.jsonnet").write_text(
        "(import 'tiny.jsonnet') + { model+: { sharing: { type: 'sparse' } }, masks: " + json.dumps(ONE_SHOT) + " }\n",
        encoding="utf-8")
    (directory / "a.jsonnet").write_text(json.dumps({
        "output": "runs", "seeds": [1], "runs": [
            {"name": "sparse", "config": "sparse.jsonnet"},
            {"name": "broken", "config": "sparse.jsonnet",
             "overrides": {"tasks": {"pos": {"train_path": "missing.txt"}}}}]}), encoding="utf-8")
    reuse = masks_override({"type": "from_run", "path": f"./runs/{searched_run}/seed-1/"})  # spelt unlike run_dir
    (directory / "b.jsonnet").write_text(json.dumps({  # the same output spelt otherwise: one lock all the same
        "output": f"../{directory.name}/runs", "seeds": [1], "runs": [
            {"name": "reuse", "config": "sparse.jsonnet", "overrides": [reuse]}]}), encoding="utf-8")


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_a_run_that_reuses_masks_starts_after_the_run_it_reads(tmp_path: Path, executor: str) -> None:
    """Two sweep files, one pool of two workers: the run taking its masks from_run the other file's
    searched run waits for it (started together, it would find no masks and fail)."""
    if executor == "ray":
        needs_ray()
    write_reuse_sweeps(tmp_path)
    status = run_ssl("sweep", "a.jsonnet", "b.jsonnet", "--status", cwd=tmp_path, env={"COLUMNS": "200"})
    assert status.returncode == 0, status.stderr
    assert "waits for runs/sparse/seed-1 (pending)" in status.stdout

    result = run_ssl("sweep", "a.jsonnet", "b.jsonnet", "--workers", "2", "--executor", executor, cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # broken/seed-1 fails; the others finish
    assert "runs/broken/seed-1: " in result.stdout and "missing.txt" in result.stdout
    searched, reuse = RunPaths(tmp_path / "runs/sparse/seed-1"), RunPaths(tmp_path / "runs/reuse/seed-1")
    final_test_scores(searched.root)
    final_test_scores(reuse.root)
    assert reuse.config.stat().st_mtime_ns >= searched.metrics.stat().st_mtime_ns
    for task in ("pos", "ner"):
        report = json.loads(reuse.mask_report(task).read_text())
        assert report["from_run"] == "runs/sparse/seed-1"
        reused, chosen = torch.load(reuse.mask(task)), torch.load(searched.mask(task))
        assert reused.keys() == chosen.keys() and all(torch.equal(reused[n], chosen[n]) for n in chosen)
    assert "a.jsonnet:" in result.stdout and "b.jsonnet:" in result.stdout  # a table for each file
    assert "| reuse |" in result.stdout


def test_a_run_that_reads_a_failed_run_is_not_started(tmp_path: Path) -> None:
    write_reuse_sweeps(tmp_path, searched_run="broken")
    result = run_ssl("sweep", "a.jsonnet", "b.jsonnet", "--workers", "2", cwd=tmp_path)
    assert result.returncode == 1
    assert "1 run(s) not started: each reuses the masks of a run that has not finished" in result.stderr
    assert "runs/reuse/seed-1: waits for runs/broken/seed-1 (failed)" in result.stderr
    assert not (tmp_path / "runs/reuse").exists()
    assert "Traceback" not in result.stderr + result.stdout


def test_sweep_files_that_clash_exit_2(tmp_path: Path) -> None:
    write_reuse_sweeps(tmp_path)
    result = run_ssl("sweep", "a.jsonnet", "b.jsonnet", "--output", "elsewhere", cwd=tmp_path)
    assert result.returncode == 2 and "--output replaces the output of one sweep file" in result.stderr
    result = run_ssl("sweep", "a.jsonnet", "a.jsonnet", "--status", cwd=tmp_path)
    assert result.returncode == 2 and "runs/sparse/seed-1, which a.jsonnet plans too" in result.stderr
    (tmp_path / "c.jsonnet").write_text(json.dumps({  # a run that reads itself can never start
        "output": "runs", "seeds": [1], "runs": [{"name": "self", "config": "sparse.jsonnet", "overrides": [
            masks_override({"type": "from_run", "path": "runs/self/seed-1"})]}]}), encoding="utf-8")
    result = run_ssl("sweep", "c.jsonnet", cwd=tmp_path)
    assert result.returncode == 2 and "in a circle" in result.stderr and "runs/self/seed-1" in result.stderr
    result = run_ssl("sweep", "b.jsonnet", cwd=tmp_path)  # without a.jsonnet, which makes the masks b reads
    assert result.returncode == 2, result.stderr
    assert "takes its masks from_run runs/sparse/seed-1, which does not exist" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "runs").exists()
    assert not (tmp_path / "elsewhere").exists()


def test_a_search_that_others_reuse_starts_before_a_larger_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_reuse_sweeps(tmp_path)
    reuse = [masks_override({"type": "from_run", "path": "runs/sparse/seed-1"}), "trainer.num_epochs=3"]
    (tmp_path / "c.jsonnet").write_text(json.dumps({"output": "runs", "seeds": [1], "runs": [
        {"name": "big", "config": "tiny.jsonnet", "overrides": ["trainer.num_epochs=6"]},
        {"name": "sparse", "config": "sparse.jsonnet"},
        {"name": "reuse", "config": "sparse.jsonnet", "overrides": reuse}]}), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    import_plugins(())
    _, runs = load_sweep(tmp_path / "c.jsonnet")
    steps = {run.name: estimated_steps(run.validated) for run in runs}
    assert steps["big"] > steps["sparse"]  # largest first would start big, and reuse would wait for the end
    planned = plan_jobs(runs, RunOptions())
    assert [run.name for run, _ in planned] == ["sparse", "big", "reuse"]  # sparse + reuse outweigh big
    assert [job.after for _, job in planned] == [(), (), ("runs/sparse/seed-1",)]


def test_the_queue_starts_a_job_once_what_it_waits_for_has_succeeded() -> None:
    def job(key: str, *after: str) -> Job:
        return Job(key, (), ".", "log", 1, after=after)

    queue = JobQueue([job("reuse", "search"), job("search"), job("other"), job("after-broken", "broken"),
                      job("broken")])
    assert [queue.take().key, queue.take().key, queue.take().key] == ["search", "other", "broken"]
    assert queue.take() is None  # reuse and after-broken wait
    queue.ended(job("broken"), 1)
    assert queue.take() is None
    queue.ended(job("search"), 0)
    assert queue.take().key == "reuse"
    assert queue.take() is None and [j.key for j in queue.waiting] == ["after-broken"]
