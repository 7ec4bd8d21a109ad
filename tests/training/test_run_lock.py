"""One trainer at a time in a run directory: a second `ssl train` (a restarted sweep's, while
a run of the killed one still trains; or another terminal's) is refused before it deletes or
writes anything, and `ssl sweep` leaves such a run to the process that holds it."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import _ENV, run_ssl
from sparse_sharing.config.sweep import load_sweep
from sparse_sharing.locks import ExclusiveLock
from sparse_sharing.registry import import_plugins
from sparse_sharing.training.sweep.paths import SweepPaths
from sparse_sharing.training.sweep.runner import RunOptions, plan_jobs, statuses
from sparse_sharing.training.sweep.state import State
from training.test_sweep import make_sweep


@pytest.fixture
def held(tmp_path: Path):
    """A lock held as another process's would be (an open of the path other than the trainer's)."""
    locks = []

    def hold(path: Path) -> ExclusiveLock:
        lock = ExclusiveLock(path)
        assert lock.acquire()
        locks.append(lock)
        return lock

    yield hold
    for lock in locks:
        lock.release()


def test_a_lock_excludes_a_second_holder_and_ends_with_it(tmp_path: Path) -> None:
    first, second = ExclusiveLock(tmp_path), ExclusiveLock(tmp_path)
    assert first.acquire()
    assert not second.acquire() and second.is_held_elsewhere()
    first.release()
    assert not second.is_held_elsewhere() and second.acquire()
    second.release()
    assert not ExclusiveLock(tmp_path / "absent").is_held_elsewhere()


def test_a_run_directory_in_use_is_refused_and_left_as_it_is(tmp_path: Path, tiny_config: Path, held) -> None:
    run_dir = tmp_path / "run"
    assert run_ssl("train", tiny_config, "-s", run_dir).returncode == 0
    partial = run_dir / "checkpoints" / ".last.pt.tmp"  # what a resume would tidy away
    partial.write_bytes(b"half")
    files = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*"))
    held(run_dir)
    for flag in ("--resume", "--force"):
        result = run_ssl("train", tiny_config, "-s", run_dir, flag)
        assert result.returncode == 2, result.stderr
        assert "in use by another process" in result.stderr and str(run_dir) in result.stderr
        assert "Traceback" not in result.stderr
        assert sorted(p.relative_to(run_dir) for p in run_dir.rglob("*")) == files


def test_force_keeps_the_directory_it_holds(tmp_path: Path, tiny_config: Path) -> None:
    run_dir = tmp_path / "run"
    assert run_ssl("train", tiny_config, "-s", run_dir).returncode == 0
    (run_dir / "stray.txt").write_text("from an earlier run")
    inode = run_dir.stat().st_ino
    result = run_ssl("train", tiny_config, "-s", run_dir, "--force")
    assert result.returncode == 0, result.stderr
    assert run_dir.stat().st_ino == inode and not (run_dir / "stray.txt").exists()
    assert json.loads((run_dir / "metrics.json").read_text())["finished"] is True


def test_a_sweep_leaves_a_run_that_another_process_trains(tmp_path: Path, monkeypatch, held) -> None:
    make_sweep(tmp_path)
    monkeypatch.chdir(tmp_path)
    import_plugins(())
    _, runs = load_sweep(tmp_path / "sweep.jsonnet")
    busy = next(run for run in runs if run.key == "hard/seed-1")
    busy.run_dir.mkdir(parents=True)
    (busy.run_dir / "config.json").write_text(json.dumps(busy.config))  # started, not finished
    assert statuses([busy])[0].state is State.RESUMABLE
    held(busy.run_dir)
    assert statuses([busy])[0].state is State.RUNNING
    assert "hard/seed-1" not in [run.key for run, _ in plan_jobs(runs, RunOptions())]


def test_the_runs_of_a_sweep_killed_outright_stop_with_it(tmp_path: Path) -> None:
    """``kill -9`` gives the sweep no chance to stop its runs (each lives in its own session):
    each run watches its parent and stops as on SIGTERM, resumable, and lets go of its directory."""
    make_sweep(tmp_path, num_epochs=200)
    sweep = subprocess.Popen([sys.executable, "-m", "sparse_sharing", "sweep", "sweep.jsonnet", "--workers", "1"],
                             cwd=tmp_path, env=_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run_dir = tmp_path / "runs" / "hard" / "seed-1"
    try:
        deadline = time.monotonic() + 120
        while not ((run_dir / "config.json").is_file() and ExclusiveLock(run_dir).is_held_elsewhere()):
            assert time.monotonic() < deadline and sweep.poll() is None, "the run never started"
            time.sleep(0.1)
    finally:
        sweep.kill()
        sweep.wait()
    deadline = time.monotonic() + 60
    while ExclusiveLock(run_dir).is_held_elsewhere():
        assert time.monotonic() < deadline, "the run outlived its sweep"
        time.sleep(0.2)
    log = SweepPaths(tmp_path / "runs").log("hard/seed-1").read_text()
    assert "Continue this run with --resume" in log
    status = run_ssl("sweep", "sweep.jsonnet", "--status", cwd=tmp_path)
    assert "resumable" in status.stdout
