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


def test_ray_executor_runs_the_same_sweep(tmp_path: Path, finished_sweep) -> None:
    if os.environ.get("CI") != "true":  # CI installs the ray extra: there a missing Ray fails the test
        pytest.importorskip("ray")
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
    planned = plan_jobs(runs, SweepPaths(tmp_path / "runs"), RunOptions())
    # single and hard cost the same per epoch; hard trains three epochs, single one.
    assert [run.key for run, _ in planned] == ["hard/seed-1", "hard/seed-2", "single/seed-1", "single/seed-2"]


@pytest.mark.parametrize("sweep_file", sorted((Path(__file__).resolve().parents[2] / "experiments" / "sweeps")
                                              .glob("*.jsonnet")), ids=lambda p: p.name)
def test_shipped_sweeps_validate(sweep_file: Path, tmp_path: Path) -> None:
    """Every run of every shipped sweep resolves and validates (no data is read)."""
    result = run_ssl("sweep", sweep_file, "--ext-var", "data_dir=../shared/data/conll2003", "--ext-var",
                     "data_root=../shared/data", "--status", "--output", tmp_path / "runs")
    assert result.returncode == 0, result.stderr
    assert "pending" in result.stdout


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
