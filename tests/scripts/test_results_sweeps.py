"""scripts/results_sweeps.py runs every results sweep, two lanes at a time, never two of one output."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import _jsonnet

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "results_sweeps.py"
sys.path.insert(0, str(ROOT / "scripts"))
from results_sweeps import SWEEPS, SWEEPS_DIR, Lanes, Sweep  # noqa: E402


def finish(run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "metrics.json").write_text(json.dumps({"finished": True}))


def test_each_sweeps_output_is_what_its_file_says() -> None:
    for sweep in SWEEPS:
        args = sweep.command_args
        ext_vars = dict(value.split("=", 1) for flag, value in zip(args, args[1:]) if flag == "--ext-var")
        evaluated = json.loads(_jsonnet.evaluate_file(str(SWEEPS_DIR / sweep.file), ext_vars=ext_vars))
        assert evaluated["output"] == sweep.output, sweep.file


class FakeSweeps:
    """Stands in for `ssl sweep`: records which sweeps ran at once; exp1 finishes the runs others need."""

    def __init__(self, root: Path, makes: tuple[str, ...]):
        self.root, self.makes = root, makes
        self.running: list[Sweep] = []
        self.overlaps: list[tuple[str, str]] = []
        self.order: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, sweep: Sweep) -> int:
        with self.lock:
            self.overlaps += [(other.name, sweep.name) for other in self.running]
            self.running.append(sweep)
            self.order.append(sweep.name)
        time.sleep(0.2 if sweep.file == "exp1.jsonnet" else 0.05)
        if sweep.file == "exp1.jsonnet":
            for run in self.makes:
                finish(self.root / run)
        if sweep.row:  # a budget row: its copy of the Exp1 run is there when it starts
            (source,) = sweep.needs
            assert (self.root / sweep.output / Path(source).relative_to("runs/exp1") / "metrics.json").is_file()
        with self.lock:
            self.running.remove(sweep)
        return 0


def test_lanes_run_every_sweep_side_by_side_but_never_two_of_one_output(tmp_path: Path) -> None:
    sources = ("runs/exp1/sparse/seed-1", "runs/exp1/single/seed-2", "runs/exp1/hard/seed-3")
    fake = FakeSweeps(tmp_path, sources)
    lanes = Lanes(SWEEPS, tmp_path, fake, poll_seconds=0.01)
    threads = [threading.Thread(target=lanes.lane) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert lanes.outcome == {sweep.name: "done" for sweep in SWEEPS}
    assert sorted(fake.order) == sorted(sweep.name for sweep in SWEEPS)  # each once
    outputs = {sweep.name: sweep.output for sweep in SWEEPS}
    assert fake.overlaps, "the second lane never ran beside the first"
    assert all(outputs[a] != outputs[b] for a, b in fake.overlaps)
    # exp1_reuse shares exp1's output: it ran after exp1, never beside it; each budget row
    # waited for its run, which exp1 finished; two budget rows ran side by side
    assert fake.order.index("exp1_reuse") > fake.order.index("exp1")
    rows = [f"budget100_row:{row}" for row in ("single", "hard", "sparse")]
    assert all(fake.order.index(row) > fake.order.index("exp1") for row in rows)
    assert ("exp1", "negative_transfer") in fake.overlaps
    assert any(a in rows and b in rows for a, b in fake.overlaps)


def test_a_sweep_whose_runs_never_finish_is_skipped_not_waited_for(tmp_path: Path) -> None:
    fake = FakeSweeps(tmp_path, ())  # exp1 finishes nothing (say its runs failed)
    lanes = Lanes(SWEEPS, tmp_path, fake, poll_seconds=0.01)
    lanes.lane()  # one lane alone runs the rest in order
    for row, seed in (("single", 2), ("hard", 3), ("sparse", 1)):
        assert lanes.outcome[f"budget100_row:{row}"] == f"skipped: runs/exp1/{row}/seed-{seed} did not finish"
    assert lanes.outcome["exp1_reuse"].startswith("skipped: runs/exp1/sparse/seed-1")
    assert fake.order == ["exp1", "negative_transfer", "ablations", "exp3"]
    assert not list((tmp_path / "runs").glob("budget100*"))


FAKE_SSL = """#!{python}
import signal, sys, time
from pathlib import Path
sweep = Path(sys.argv[2]).name
with open("calls.txt", "a") as calls:
    calls.write(" ".join(sys.argv[1:]) + "\\n")
def stopped(*_):
    Path("stopped-" + sweep).write_text("")
    sys.exit(130)
signal.signal(signal.SIGTERM, stopped)
print("planned", sweep, flush=True)
time.sleep(float({seconds!r}))
"""


def fake_ssl(tmp_path: Path, seconds: float) -> Path:
    ssl = tmp_path / "fake-ssl"
    ssl.write_text(FAKE_SSL.format(python=sys.executable, seconds=seconds))
    ssl.chmod(0o755)
    return ssl


def test_the_script_runs_each_sweep_with_one_worker_and_prefixes_its_lines(tmp_path: Path) -> None:
    finish(tmp_path / "runs/exp1/sparse/seed-1")
    for run in ("single/seed-2", "hard/seed-3"):
        finish(tmp_path / "runs/exp1" / run)
    done = subprocess.run([sys.executable, str(SCRIPT), "--ssl", str(fake_ssl(tmp_path, 0))],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert len(calls) == len(SWEEPS) and all(call.endswith("--workers 1") for call in calls)
    exp1 = f"sweep {SWEEPS_DIR / 'exp1.jsonnet'} --ext-var data_dir=../shared/data/conll2003 --baseline single"
    assert f"{exp1} --workers 1" in calls
    assert "[exp3] planned exp3.jsonnet" in done.stdout
    assert (tmp_path / "runs/budget100-hard/hard/seed-3/metrics.json").is_file()
    budget = f"sweep {SWEEPS_DIR / 'budget100_row.jsonnet'} --ext-var data_dir=../shared/data/conll2003"
    assert f"{budget} --ext-var row=hard --workers 1" in calls
    assert "[budget100_row:hard] planned budget100_row.jsonnet" in done.stdout


def test_status_asks_every_sweep_and_runs_nothing(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--ssl", str(fake_ssl(tmp_path, 0)), "--status"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert [call.split()[1] for call in calls] == [str(SWEEPS_DIR / sweep.file) for sweep in SWEEPS]
    assert all(call.endswith(" --status") for call in calls)


def test_a_missing_ssl_command_is_one_message_and_exit_2(tmp_path: Path) -> None:
    for extra in ([], ["--status"]):
        done = subprocess.run([sys.executable, str(SCRIPT), "--ssl", str(tmp_path / "no-ssl"), *extra],
                              cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert "no command" in done.stderr and "--ssl" in done.stderr
        assert not (tmp_path / "runs").exists()


def test_sigterm_stops_the_running_sweeps_and_exits_130(tmp_path: Path) -> None:
    job = subprocess.Popen([sys.executable, str(SCRIPT), "--ssl", str(fake_ssl(tmp_path, 60))],
                           cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("calls.txt"))) == 0 or len((tmp_path / "calls.txt").read_text().splitlines()) < 2:
        assert time.monotonic() < deadline and job.poll() is None
        time.sleep(0.1)
    time.sleep(0.5)  # both fake sweeps have set their SIGTERM handler
    os.kill(job.pid, signal.SIGTERM)
    output, _ = job.communicate(timeout=60)
    assert job.returncode == 130, output
    stopped = sorted(p.name for p in tmp_path.glob("stopped-*"))
    assert stopped == ["stopped-exp1.jsonnet", "stopped-negative_transfer.jsonnet"]
    assert "stopping on SIGTERM" in output
