"""Faults of the machine through the real ``ssl`` command: a full disk at every place a run
writes, and exhausted memory in each stage that allocates.

Each is one message without a traceback and its own exit status (3: disk full, 4: out of
memory); nothing is left half-written; and the run, continued with the very command the message
gives, ends exactly where an uninterrupted run ends. The faults are injected by the plugin
``faulty_machine`` (where bytes leave Python, and where the model allocates), so the tests run on
any machine; one test fills a real, small tmpfs where the test may mount one.
"""
from __future__ import annotations

import errno
import io
import json
import os
import pickle
import shlex
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import pytest
import torch

from conftest import _ENV, run_ssl, write_tiny_config, write_tiny_corpus
from reference_figures import MACHINE_KEYS
from sparse_sharing.devices import is_out_of_memory, requested_bytes
from sparse_sharing.errors import DiskFull, OutOfMemory, RunDirError
from sparse_sharing.files import append, no_space_cause, save_torch, write_error
from sparse_sharing.training.sweep.state import error_of

TESTS = Path(__file__).resolve().parents[1]
PLUGIN = ("--include-package", "faulty_machine")


def ssl(workdir: Path, *args: Any, faults: Sequence[dict] = (), env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess:
    """`ssl ARGS` with the fault plugin loaded and ``faults`` in force."""
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
    return run_ssl(*args, *PLUGIN, cwd=workdir,
                   env={"PYTHONPATH": path, "SSL_TEST_FAULTS": json.dumps(list(faults)), **(env or {})})


def the_error(result: subprocess.CompletedProcess, status: int) -> str:
    """The one message of a failed command (after any log lines), checked for its form."""
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr and "Logging error" not in result.stderr, result.stderr
    assert result.stderr.count("Error: ") == 1, result.stderr
    return result.stderr[result.stderr.index("Error: "):]


def continue_as_told(workdir: Path, message: str) -> subprocess.CompletedProcess:
    """Run the command the message says continues the run, with the machine healthy again."""
    told = [line for line in message.splitlines() if line.strip().startswith("Then ")]
    assert len(told) == 1, message
    command = shlex.split(told[0].split(": ", 1)[1])
    assert command[0] == "ssl"
    return ssl(workdir, *[arg for arg in command[1:] if arg not in PLUGIN])


def whole_records(path: Path) -> int:
    """The TFRecord records of a TensorBoard event file; fails on a record cut short."""
    data, position, count = path.read_bytes(), 0, 0
    while position < len(data):
        assert len(data) - position >= 12, f"{path}: a record header cut short"
        (length,) = struct.unpack("<Q", data[position:position + 8])
        position += 12 + length + 4
        assert position <= len(data), f"{path}: a record cut short"
        count += 1
    return count


def assert_nothing_half_written(run_dir: Path) -> None:
    assert sorted(run_dir.rglob("*.tmp")) == []
    for path in run_dir.rglob("*.json"):
        json.loads(path.read_text())
    for path in run_dir.rglob("*.pt"):
        torch.load(path, map_location="cpu", weights_only=True)
    for path in run_dir.rglob("events.out.tfevents.*"):
        whole_records(path)
    log = run_dir / "train.log"
    if log.exists():
        text = log.read_text()
        assert text.endswith("\n") and all(line[:2] == "20" for line in text.splitlines()), text[-300:]


def same_results(run_dir: Path, reference: Path) -> None:
    resumed = json.loads((run_dir / "metrics.json").read_text())
    expected = json.loads((reference / "metrics.json").read_text())
    assert resumed["finished"] is True
    assert resumed["history"] == expected["history"]
    assert resumed["tasks"] == expected["tasks"]
    # the masks' figures, not how long the search took (MACHINE_KEYS)
    assert {k: v for k, v in (resumed.get("masks") or {}).items() if k not in MACHINE_KEYS} == \
        {k: v for k, v in (expected.get("masks") or {}).items() if k not in MACHINE_KEYS}


@dataclass
class Setup:
    workdir: Path
    config: Path
    reference: Path


def make_setup(workdir: Path, config_text: str | None = None) -> Setup:
    corpus = write_tiny_corpus(workdir / "data")
    config = write_tiny_config(workdir / "tiny.jsonnet", corpus, num_epochs=3)
    if config_text is not None:
        config = workdir / "variant.jsonnet"
        config.write_text(config_text)
    reference = workdir / "reference"
    result = ssl(workdir, "train", config, "-s", reference)
    assert result.returncode == 0, result.stderr
    return Setup(workdir, config, reference)


@pytest.fixture(scope="module")
def hard(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    return make_setup(tmp_path_factory.mktemp("hard"))


@pytest.fixture(scope="module")
def sparse(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    masks = {"type": "search", "pruner": {"type": "magnitude", "rate": 0.3, "rounds": 2}, "steps_per_round": 5,
             "warmup_steps": 5, "jobs": 1}
    return make_setup(tmp_path_factory.mktemp("sparse"), f"(import 'tiny.jsonnet') + {{ model+: {{ sharing: "
                                                         f"{{ type: 'sparse' }} }}, masks: {json.dumps(masks)} }}\n")


# ------------------------------------------------------------------ a full disk at every write
# (file, which write of it fails): epoch 2's writes of the joint training (pos improves in epoch
# 2; train.log's 27th line is epoch 2's evaluation; the event file's 3rd write is epoch 2's), the
# first files of a new run, and the mask search's files.
HARD_WRITES = [("vocabulary.json", 1), ("config.json", 1), ("best-pos.pt", 2), ("metrics.json", 2),
               ("last.pt", 2), ("events.out.tfevents.*", 3), ("train.log", 27)]
SPARSE_WRITES = [("init.pt", 1), ("warmup.pt", 1), ("round_01.pt", 1), ("round_01.json", 1), ("ner.pt", 1)]


def fill_the_disk_then_continue(setup: Setup, name: str, at: int, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    failed = ssl(setup.workdir, "train", setup.config, "-s", run_dir, faults=[{"write": name, "at": at}])
    message = the_error(failed, DiskFull.exit_status)
    assert "no space left on the file system at" in message and "Nothing was half-written" in message, message
    assert f"/{name.rstrip('*')}" in message.splitlines()[0], message  # the file it could not write
    assert_nothing_half_written(run_dir)
    continued = continue_as_told(setup.workdir, message)
    assert continued.returncode == 0, continued.stderr
    assert_nothing_half_written(run_dir)
    same_results(run_dir, setup.reference)


@pytest.mark.parametrize("name, at", HARD_WRITES)
def test_a_full_disk_at_each_write_of_a_run(hard: Setup, name: str, at: int, tmp_path: Path) -> None:
    fill_the_disk_then_continue(hard, name, at, tmp_path)


@pytest.mark.parametrize("name, at", SPARSE_WRITES)
def test_a_full_disk_at_each_write_of_a_mask_search(sparse: Setup, name: str, at: int, tmp_path: Path) -> None:
    fill_the_disk_then_continue(sparse, name, at, tmp_path)


def test_the_message_says_what_is_intact_and_how_to_continue(hard: Setup, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    failed = ssl(hard.workdir, "train", hard.config, "-s", run_dir, faults=[{"write": "last.pt", "at": 2}])
    message = the_error(failed, DiskFull.exit_status)
    assert f"The last complete checkpoint, {run_dir / 'checkpoints' / 'last.pt'} (after epoch 1), is intact" in message
    assert message.rstrip().endswith("--include-package faulty_machine --resume"), message
    assert torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 1
    started = ssl(hard.workdir, "train", hard.config, "-s", tmp_path / "new", faults=[{"write": "config.json"}])
    assert "The run had not started" in the_error(started, DiskFull.exit_status)


def test_a_full_disk_in_a_search_worker(sparse: Setup, tmp_path: Path) -> None:
    """A fault raised in a ``--jobs 2`` worker process reaches the parent's message whole."""
    run_dir = tmp_path / "run"
    failed = ssl(sparse.workdir, "train", sparse.config, "-s", run_dir, "--jobs", "2",
                 faults=[{"write": "round_01.pt", "when": ""}])
    message = the_error(failed, DiskFull.exit_status)
    assert "round_01.pt: no space left" in message
    assert_nothing_half_written(run_dir)


# ------------------------------------------------------------------ exhausted memory
def test_out_of_memory_building_the_model(hard: Setup, tmp_path: Path) -> None:
    result = ssl(hard.workdir, "train", hard.config, "-s", tmp_path / "run", faults=[{"alloc": "build"}])
    message = the_error(result, OutOfMemory.exit_status)
    assert "out of memory on cpu while building the model: an allocation of 149.0 GiB failed" in message
    assert "model.encoder.hidden_size=8" in message
    assert "No run directory was created" in message and not (tmp_path / "run").exists()


def test_out_of_memory_in_a_training_step(hard: Setup, tmp_path: Path) -> None:
    """Step 20 is in epoch 2: epoch 1's checkpoint is intact, and once memory is freed the run
    resumes from it, as the message says, to the reference's results."""
    run_dir = tmp_path / "run"
    result = ssl(hard.workdir, "train", hard.config, "-s", run_dir, faults=[{"alloc": "step", "at": 20}])
    message = the_error(result, OutOfMemory.exit_status)
    assert "out of memory on cpu in a training step (task " in message and ", epoch 2, step 20: a batch of" in message
    assert "trainer.batch_size (now 8)" in message and "model.encoder.hidden_size=8" in message
    assert "(after epoch 1), is intact" in message and message.rstrip().endswith("--resume"), message
    assert_nothing_half_written(run_dir)
    resumed = continue_as_told(hard.workdir, message)
    assert resumed.returncode == 0, resumed.stderr
    same_results(run_dir, hard.reference)


def test_out_of_memory_in_evaluation_resumes_with_smaller_batches(hard: Setup, tmp_path: Path) -> None:
    """From the 7th decoded batch on (epoch 2's evaluation), batches of more than 8 sentences fail;
    the message's command resumes with eval_batch_size 8, and the scores are the reference's."""
    run_dir = tmp_path / "run"
    result = ssl(hard.workdir, "train", hard.config, "-s", run_dir,
                 faults=[{"alloc": "evaluate", "at": 7, "above": 8}])
    message = the_error(result, OutOfMemory.exit_status)
    assert "while evaluating task " in message and "(batches of 16 sentences, trainer.eval_batch_size)" in message
    assert message.rstrip().endswith("--resume -o trainer.eval_batch_size=8"), message
    continued = continue_as_told(hard.workdir, message.replace(*PLUGIN[1:], "faulty_machine"))
    assert continued.returncode == 0, continued.stderr
    same_results(run_dir, hard.reference)
    assert json.loads((run_dir / "config.json").read_text())["trainer"]["eval_batch_size"] == 8


# ------------------------------------------------------------------ a sweep records them
SWEEP = """{
  output: 'runs',
  seeds: [1],
  runs: [{ name: 'disk', config: 'tiny.jsonnet' }, { name: 'memory', config: 'tiny.jsonnet' }],
}
"""


def test_a_sweep_records_both_faults_and_retries_them(hard: Setup) -> None:
    (hard.workdir / "sweep.jsonnet").write_text(SWEEP)
    faults = [{"write": "last.pt", "at": 2, "when": "disk/seed-1"},
              {"alloc": "step", "at": 20, "when": "memory/seed-1"}]
    failed = ssl(hard.workdir, "sweep", "sweep.jsonnet", "--workers", "2", faults=faults)
    assert failed.returncode == 1, failed.stderr
    status = ssl(hard.workdir, "sweep", "sweep.jsonnet", "--status", env={"COLUMNS": "1000"})  # a row a line
    for result in (failed, status):
        lines = {key: [line for line in result.stdout.splitlines()
                       if f"{key}/seed-1: " in line or f"│ {key} " in line] for key in ("disk", "memory")}
        assert len(lines["disk"]) == 1 and "checkpoints/last.pt: no space left" in lines["disk"][0], result.stdout
        assert len(lines["memory"]) == 1 and "out of memory on cpu in a training step" in lines["memory"][0], \
            result.stdout
    records = {key: json.loads((hard.workdir / "runs" / ".sweep" / key / "seed-1.json").read_text())
               for key in ("disk", "memory")}
    assert {key: (r["state"], r["returncode"]) for key, r in records.items()} == {
        "disk": ("failed", DiskFull.exit_status), "memory": ("failed", OutOfMemory.exit_status)}
    assert "\n" not in records["disk"]["error"] and "Then continue" not in records["disk"]["error"]
    retried = ssl(hard.workdir, "sweep", "sweep.jsonnet", "--retry-failed")
    assert retried.returncode == 0, retried.stderr
    for key in ("disk", "memory"):
        run_dir = hard.workdir / "runs" / key / "seed-1"
        assert "resumed after epoch 1" in (run_dir / "train.log").read_text()
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["finished"] and metrics["epochs_completed"] == 3


# ------------------------------------------------------------------ a real, small file system
REAL_DISK = """set -u
mount -t tmpfs -o size=256k tmpfs "$MNT" || exit 77
"$PY" -m sparse_sharing train "$CONFIG" -s "$MNT/run" > "$OUT/full.out" 2> "$OUT/full.err"
echo $? > "$OUT/full.rc"
cp -a "$MNT/run" "$OUT/after-full"
mount -o remount,size=64m "$MNT"
"$PY" -m sparse_sharing train "$CONFIG" -s "$MNT/run" --resume > "$OUT/resumed.out" 2> "$OUT/resumed.err"
echo $? > "$OUT/resumed.rc"
cp -a "$MNT/run" "$OUT/resumed"
"""


def test_a_real_full_file_system(hard: Setup, tmp_path: Path) -> None:
    """A 256 KiB tmpfs, mounted in a mount namespace of its own (gone with it): full in epoch 2,
    then enlarged, as freeing space would, and resumed. Skipped where mounting is not allowed."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1) to mount a file system in a namespace of its own")
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    env = {**_ENV, "MNT": str(mount_point), "OUT": str(tmp_path), "PY": sys.executable, "CONFIG": str(hard.config)}
    script = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", REAL_DISK],
                            env=env, cwd=hard.workdir, capture_output=True, text=True, timeout=600)
    if not (tmp_path / "full.rc").exists():
        pytest.skip(f"cannot mount a tmpfs here: {script.stderr.strip()[:200]}")
    full = subprocess.CompletedProcess([], int((tmp_path / "full.rc").read_text()),
                                       (tmp_path / "full.out").read_text(), (tmp_path / "full.err").read_text())
    message = the_error(full, DiskFull.exit_status)
    assert f"no space left on the file system at {mount_point} (tmpfs, 256.0 KiB)" in message, message
    assert "Then continue with: " in message and message.rstrip().endswith("--resume"), message
    assert_nothing_half_written(tmp_path / "after-full")
    assert int((tmp_path / "resumed.rc").read_text()) == 0, (tmp_path / "resumed.err").read_text()
    same_results(tmp_path / "resumed", hard.reference)


# ------------------------------------------------------------------ the pieces
def test_torch_reports_a_full_disk_as_a_runtime_error_whose_context_is_the_os_error(tmp_path: Path) -> None:
    """What ``no_space_cause`` relies on: torch's zip writer raises ``unexpected pos`` while the
    write's OSError is being handled."""

    class Full(io.RawIOBase):  # a file with room for 100 bytes
        room = 100

        def writable(self) -> bool:
            return True

        def write(self, data: Any) -> int:
            if len(data) > self.room:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.room -= len(data)
            return len(data)

    with pytest.raises(RuntimeError, match="unexpected pos") as raised:
        torch.save({"w": torch.zeros(1000)}, Full())
    assert no_space_cause(raised.value) is raised.value.__context__


@pytest.mark.parametrize("code, says", [(errno.ENOSPC, "no space left on"), (errno.EDQUOT, "disk quota"),
                                        (errno.EROFS, "is read-only")])
def test_each_full_file_system_is_a_disk_full(code: int, says: str, tmp_path: Path) -> None:
    error = write_error(tmp_path / "x.pt", OSError(code, os.strerror(code)), needed=2048)
    assert isinstance(error, DiskFull) and says in str(error)
    assert ("2.0 KiB" in str(error)) == (code != errno.EROFS)
    assert isinstance(write_error(tmp_path, OSError(errno.EISDIR, "Is a directory"), 0), RunDirError)


def test_faults_pickle_whole_across_processes() -> None:
    for fault in (DiskFull("cannot write x"), OutOfMemory("out of memory", ("-o", "trainer.eval_batch_size=8")),
                  OutOfMemory("out of memory", None)):
        copy = pickle.loads(pickle.dumps(fault))
        assert (type(copy), str(copy), copy.resume_args) == (type(fault), str(fault), fault.resume_args)


def test_an_append_that_does_not_fit_leaves_the_file_as_it_was(tmp_path: Path, monkeypatch) -> None:
    log = tmp_path / "train.log"
    append(log, b"first line\n")
    real_write = os.write

    def half_then_full(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data)[:3])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(DiskFull, match="its earlier records are intact"):
        append(log, b"second line\n")
    monkeypatch.undo()
    assert log.read_bytes() == b"first line\n"


def test_a_checkpoint_that_does_not_fit_keeps_the_previous_one(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "last.pt"
    save_torch(path, {"epoch": 1})
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, stream: Any) -> None:
            self.stream = stream

        def write(self, data: bytes) -> int:
            self.stream.write(bytes(data)[:10])
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name: str) -> Any:
            return getattr(self.stream, name)

        def __enter__(self) -> "Full":
            return self

        def __exit__(self, *exc: object) -> None:
            self.stream.close()

    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: Full(real_fdopen(fd, *a, **k)))
    with pytest.raises(DiskFull, match=r"it needs about 4\.0 MiB.*the file's previous version is intact"):
        save_torch(path, {"epoch": 2, "w": torch.zeros(1024, 1024)})
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


@pytest.mark.parametrize("error, size", [
    (RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you "
                  "tried to allocate 160000000000 bytes. Error code 12 (Cannot allocate memory)"), 160000000000),
    (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.50 GiB. GPU 0 has a total capacity of 79.19 GiB "
                            "of which 1.06 GiB is free."), int(2.5 * 2 ** 30)),
    (MemoryError(), None),
])
def test_failed_allocations_are_recognised_with_their_size(error: BaseException, size: int | None) -> None:
    assert is_out_of_memory(error) and requested_bytes(error) == size


def test_other_runtime_errors_are_not_out_of_memory() -> None:
    assert not is_out_of_memory(RuntimeError("shape mismatch"))


def test_a_sweep_keeps_a_faults_first_line_and_falls_back_on_its_exit_status(tmp_path: Path) -> None:
    log = tmp_path / "seed-1.log"
    log.write_text("$ ssl train a.jsonnet -s runs/a/seed-1\n21:03:00 device: cpu\n"
                   "Error: cannot write runs/a/seed-1/checkpoints/last.pt: no space left on the file system at /\n"
                   "  The last complete checkpoint, runs/a/seed-1/checkpoints/last.pt (after epoch 1), is intact.\n"
                   "  Then continue with: ssl train a.jsonnet -s runs/a/seed-1 --resume\n")
    assert error_of(log, DiskFull.exit_status) == ("cannot write runs/a/seed-1/checkpoints/last.pt: no space left on "
                                                   "the file system at /")
    assert error_of(log, 2).endswith("-s runs/a/seed-1 --resume")  # a user's error: all of it, as before
    log.write_text("$ ssl train a.jsonnet -s runs/a/seed-1\n")  # the message did not reach a full disk
    assert error_of(log, OutOfMemory.exit_status) == "out of memory (exit status 4); see the run's log"
    assert error_of(log, DiskFull.exit_status) == "a write found the disk full (exit status 3); see the run's log"


def test_the_exit_status_tells_when_stderr_is_on_the_full_disk(monkeypatch) -> None:
    """A sweep's run writes its stderr into the run's log, on the disk that filled up: the message
    may not get through, and the exit status must still say what happened."""
    import click

    from sparse_sharing.cli.common import error_boundary

    def echo(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(click, "echo", echo)

    @error_boundary
    def command() -> None:
        raise DiskFull("cannot write last.pt")

    with pytest.raises(SystemExit) as exited:
        command()
    assert exited.value.code == DiskFull.exit_status


def test_a_fault_no_writer_or_stage_has_said_yet_is_one_all_the_same(tmp_path: Path) -> None:
    from sparse_sharing.cli.faults import as_fault

    lock = tmp_path / ".sweep" / "lock"  # e.g. a lock file that a full disk has no inode left for
    disk = as_fault(OSError(errno.ENOSPC, "No space left on device", str(lock)))
    assert isinstance(disk, DiskFull) and str(disk).startswith(f"cannot write {lock}: no space left on")
    memory = as_fault(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 2048 bytes"))
    assert isinstance(memory, OutOfMemory) and str(memory) == "out of memory: an allocation of 2.0 KiB failed."
    assert as_fault(RuntimeError("shape mismatch")) is None and as_fault(OSError(errno.EACCES, "denied")) is None
