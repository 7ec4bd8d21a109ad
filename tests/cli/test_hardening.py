"""Runs that are interrupted, shared or untrusted, and daily use outside the checkout.

- A kill in the middle of a checkpoint write, and a kill of a ``--jobs 2`` mask search, leave
  no temporary file after ``--resume`` and no process behind; the resumed search's masks equal
  an uninterrupted one's.
- A module planted in the current directory, or in a run directory, with the name of a lazily
  imported dependency never runs.
- Written files are 0644 under umask 022.
- ``predict`` and ``evaluate`` take files for a run on the bundled corpus.
- A config outside the checkout imports the bundled Jsonnet library; ``-J`` adds directories.
- TensorBoard records the warm-up, each search round, every optimizer's rate, the last steps' loss.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import _ENV, run_ssl, write_tiny_config, write_tiny_corpus

REPO = Path(__file__).resolve().parents[2]
TASKS = ("pos", "chunk", "ner")


def temporary_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.tmp"))


def sparse_config(path: Path, base: Path, rounds: int = 2, **search: object) -> Path:
    masks = {"type": "search", "pruner": {"type": "magnitude", "rate": 0.3, "rounds": rounds},
             "steps_per_round": 5, "warmup_steps": 5, "jobs": 1, **search}
    path.write_text(f"(import {json.dumps(base.name)}) + {{ model+: {{ sharing: {{ type: 'sparse' }} }}, "
                    f"masks: {json.dumps(masks)} }}\n")
    return path


# ------------------------------------------------------------------ interrupted runs
KILL_IN_WRITE = """
import os, sys
real_replace = os.replace
def replace(src, dst, *args, **kwargs):
    if str(dst).endswith("last.pt"):  # the temporary file is complete, the rename has not happened
        os.kill(os.getpid(), 9)
    return real_replace(src, dst, *args, **kwargs)
os.replace = replace
sys.argv = ["ssl", *sys.argv[1:]]
from sparse_sharing.cli.main import main
main()
"""


def test_kill_during_checkpoint_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    corpus = write_tiny_corpus(tmp_path / "data")
    config = write_tiny_config(tmp_path / "tiny.jsonnet", corpus, num_epochs=2)
    run_dir = tmp_path / "run"
    killed = subprocess.run([sys.executable, "-c", KILL_IN_WRITE, "train", str(config), "-s", str(run_dir)],
                            env=_ENV, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    left = temporary_files(run_dir)
    assert [p.name.startswith(".last.pt.") for p in left] == [True], left
    resumed = run_ssl("train", config, "-s", run_dir, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert temporary_files(run_dir) == []
    assert json.loads((run_dir / "metrics.json").read_text())["finished"]


def children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_killed_parallel_search_leaves_no_worker_and_resumes_to_the_same_masks(tmp_path: Path) -> None:
    corpus = write_tiny_corpus(tmp_path / "data")
    base = write_tiny_config(tmp_path / "tiny.jsonnet", corpus, num_epochs=1, callbacks=[{"type": "checkpoint"}])
    config = sparse_config(tmp_path / "sparse.jsonnet", base, rounds=1, steps_per_round=150, jobs=2)
    run_dir = tmp_path / "run"
    parent = subprocess.Popen([sys.executable, "-m", "sparse_sharing", "train", str(config), "-s", str(run_dir)],
                              env=_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    deadline = time.monotonic() + 240
    while len(workers) < 2 or not (run_dir / "mask_search" / "init.pt").is_file():
        assert parent.poll() is None and time.monotonic() < deadline, "the search ended before it was killed"
        workers = {p for p in children(parent.pid)
                   if "spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")}
        time.sleep(0.05)
    time.sleep(0.5)  # the workers are training their first rounds
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    # A worker notices within 0.2 s once running; one still starting (importing torch) notices when
    # it starts, which on a loaded machine (the full suite beside training runs) took over 10 s.
    deadline = time.monotonic() + 60
    while alive(workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(workers), "search workers outlived their parent"
    assert not (run_dir / "masks").exists(), "killed too late: the search had finished"

    resumed = run_ssl("train", config, "-s", run_dir, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert temporary_files(run_dir) == []
    reference = run_ssl("train", config, "-s", tmp_path / "reference", "--jobs", "1")
    assert reference.returncode == 0, reference.stderr
    for task in TASKS:
        resumed_mask = torch.load(run_dir / "masks" / f"{task}.pt", weights_only=True)
        reference_mask = torch.load(tmp_path / "reference" / "masks" / f"{task}.pt", weights_only=True)
        assert resumed_mask.keys() == reference_mask.keys()
        assert all(torch.equal(resumed_mask[n], reference_mask[n]) for n in resumed_mask), task


# ------------------------------------------------------------------ a shared, trained run
@pytest.fixture(scope="module")
def sparse_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Path]]:
    workdir = tmp_path_factory.mktemp("hardening")
    corpus = write_tiny_corpus(workdir / "data")
    base = write_tiny_config(workdir / "tiny.jsonnet", corpus, num_epochs=1)
    config = sparse_config(workdir / "sparse.jsonnet", base)
    run_dir = workdir / "run"
    result = subprocess.run([sys.executable, "-m", "sparse_sharing", "train", str(config), "-s", str(run_dir)],
                            env=_ENV, capture_output=True, text=True, timeout=300, preexec_fn=lambda: os.umask(0o022))
    assert result.returncode == 0, result.stderr
    return config, run_dir, corpus


PLANTED = "from pathlib import Path\nPath({marker!r}).write_text('ran')\n"


def test_planted_modules_never_run(sparse_run: tuple[Path, Path, dict], tmp_path: Path) -> None:
    config, run_dir, corpus = sparse_run
    shared = tmp_path / "shared_run"
    shutil.copytree(run_dir, shared)
    marker = tmp_path / "planted-module-ran"
    for directory in (tmp_path, shared):
        for name in ("seqeval", "plistlib", "matplotlib", "tqdm_planted"):
            (directory / f"{name}.py").write_text(PLANTED.format(marker=str(marker)))
        (directory / "my_plugin.py").write_text("X = 1\n")  # named, so imported; its folder then leaves sys.path
    commands = [
        (tmp_path, ["evaluate", shared, corpus["dev"]]),
        (shared, ["evaluate", ".", corpus["dev"], "--include-package", "my_plugin"]),
        (tmp_path, ["evaluate", shared, corpus["dev"], "--include-package", "my_plugin"]),
        (shared, ["predict", ".", corpus["dev"], "--output", tmp_path / "predicted.txt"]),
        (shared, ["masks", ".", "--plot", tmp_path / "masks.png"]),
        (tmp_path, ["validate", config]),
        (tmp_path, ["train", config, "-s", tmp_path / "again", "-o", "masks.jobs=2"]),
    ]
    for cwd, args in commands:
        result = run_ssl(*args, cwd=cwd)
        if args[0] == "masks" and "matplotlib" in result.stderr and result.returncode == 2:
            continue  # matplotlib is optional; the point is that no planted module ran
        assert result.returncode == 0, (args, result.stderr)
        assert not marker.exists(), f"a planted module ran during: ssl {' '.join(map(str, args))}"


def test_files_respect_the_umask(sparse_run: tuple[Path, Path, dict], tmp_path: Path) -> None:
    _, run_dir, corpus = sparse_run
    output = tmp_path / "predicted.txt"
    result = subprocess.run([sys.executable, "-m", "sparse_sharing", "predict", str(run_dir), str(corpus["dev"]),
                             "--output", str(output)], env=_ENV, capture_output=True, text=True,
                            preexec_fn=lambda: os.umask(0o022))
    assert result.returncode == 0, result.stderr
    files = [p for p in run_dir.rglob("*") if p.is_file()] + [output]
    assert len(files) > 10
    modes = {str(p.relative_to(run_dir) if p != output else p.name): oct(p.stat().st_mode & 0o777) for p in files}
    assert set(modes.values()) == {"0o644"}, modes


def test_tensorboard_has_warmup_search_rates_and_last_loss(sparse_run: tuple[Path, Path, dict]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, run_dir, _ = sparse_run

    def tags(directory: Path) -> set[str]:
        accumulator = EventAccumulator(str(directory))
        accumulator.Reload()
        return set(accumulator.Tags()["scalars"])

    warmup = tags(run_dir / "tensorboard" / "warmup")
    assert {"train_loss/ner", "dev/ner/score", "learning_rate/group0"} <= warmup, warmup
    for task in TASKS:
        assert {f"mask_search/{task}/dev_score", f"mask_search/{task}/kept_fraction"} <= tags(
            run_dir / "tensorboard" / "mask_search" / task)
    joint = tags(run_dir / "tensorboard")
    # Sparse sharing steps one optimizer per task; the run is shorter than log_every, so the loss
    # points are the final steps' flush.
    assert {f"learning_rate/{task}/group0" for task in TASKS} <= joint, joint
    assert {f"train_loss/{task}" for task in TASKS} <= joint, joint


# ------------------------------------------------------------------ the bundled corpus, from anywhere
@pytest.fixture(scope="module")
def quickstart_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """experiments/quickstart.jsonnet, shrunk to seconds."""
    run_dir = tmp_path_factory.mktemp("quickstart") / "run"
    result = run_ssl("train", REPO / "experiments" / "quickstart.jsonnet", "-s", run_dir,
                     "-o", "trainer.num_epochs=1", "-o", "num_threads=1", "-o", "model.encoder.hidden_size=8",
                     "-o", 'model.token_embedders=[{"type": "word", "dim": 8}]')
    assert result.returncode == 0, result.stderr
    return run_dir


def test_evaluate_and_predict_take_files_on_the_bundled_corpus(quickstart_run: Path, tmp_path: Path) -> None:
    exported = run_ssl("corpus", tmp_path / "corpus")
    assert exported.returncode == 0, exported.stderr
    test_file = tmp_path / "corpus" / "test.txt"
    by_split = run_ssl("evaluate", quickstart_run, "test", "--output", tmp_path / "split.json")
    by_file = run_ssl("evaluate", quickstart_run, test_file, "--output", tmp_path / "file.json")
    assert by_split.returncode == 0 and by_file.returncode == 0, by_split.stderr + by_file.stderr
    assert json.loads((tmp_path / "file.json").read_text()) == json.loads((tmp_path / "split.json").read_text())

    predicted = run_ssl("predict", quickstart_run, test_file, "--task", "ner", "--task", "pos")
    assert predicted.returncode == 0, predicted.stderr
    assert "columns: word ner pos" in predicted.stderr
    lines = [line.split() for line in predicted.stdout.splitlines() if line]
    gold = [line.split() for line in test_file.read_text().splitlines() if line and not line.startswith("-DOCSTART-")]
    assert [line[0] for line in lines] == [line[0] for line in gold]
    assert all(len(line) == 3 for line in lines)


def test_config_outside_the_checkout_imports_the_library(tmp_path: Path) -> None:
    config = tmp_path / "mine.jsonnet"
    config.write_text("""
local corpus = import 'embedded.libsonnet';
corpus + {
  model: { token_embedders: [{ type: 'word', dim: 8 }], encoder: { type: 'bilstm', hidden_size: 8 },
           sharing: { type: 'hard' } },
  trainer: { num_epochs: 1, optimizer: { type: 'adam' } },
}
""")
    result = run_ssl("validate", config, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "tasks chunk, ner, pos" in result.stdout

    mine = tmp_path / "mylib"
    mine.mkdir()
    (mine / "embedded.libsonnet").write_text(
        "{ tasks: { pos: { dataset_reader: { type: 'embedded', column: 'pos' }, train_path: 'train',\n"
        "  dev_path: 'dev', metric: { type: 'accuracy' }, head: { type: 'softmax' } } } }\n")
    overridden = run_ssl("validate", config, "-J", mine, cwd=tmp_path)
    assert overridden.returncode == 0, overridden.stderr
    assert "tasks pos\n" in overridden.stdout
