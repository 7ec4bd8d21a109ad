#!/usr/bin/env bash
# The GPU figures the README's Benchmarks section lacks, as one prepared script for a GPU machine
# that is lent for a few minutes: every check runs in one call, each under its own time limit, and
# writes what it measured as it goes, so a check that hangs or runs long costs only its own slot.
#
#   bash benchmarks/device_check.sh fetch             # here, with the package registries: wheels into .whl/
#   bash benchmarks/device_check.sh run OUT_DIR        # on the GPU machine, with .whl/ beside the checkout
#   bash benchmarks/device_check.sh run OUT_DIR cpu    # the same checks on a CPU, shortened: to try the script
#
# `fetch` is for a GPU machine whose Python (3.12, x86-64) already holds torch, numpy, click, rich,
# tqdm, tensorboard and scikit-learn but not pydantic, jsonnet or seqeval, and cannot reach the
# registries: it saves their wheels, at the versions this environment has (pydantic and
# pydantic-core must match each other), into .whl/ (ignored by git; carry it). `run` installs
# them into /tmp/site, runs the checkout itself (PYTHONPATH, `python3 -m sparse_sharing`, so the
# code measured is the code that travelled) and writes into OUT_DIR:
#   side_by_side.log    benchmarks/side_by_side.py --device cuda --json: eager and compiled steps
#                       against plain PyTorch, decoding, compile seconds (its last line is the JSON)
#   quickstart.log      experiments/quickstart_sparse.jsonnet trained with --device cuda, and
#   quickstart.json     its wall seconds and metrics.json (scores, search and training seconds)
#   sweep.log           four quickstart runs (seeds 1-4) by `ssl sweep --runs-per-gpu 4`: wall
#                       seconds and the sweep's table
#   device_check.log    all of the above in order, with each check's exit status and seconds,
#                       the GPU, and the Python and torch versions
set -uo pipefail

mode=${1:-}
here=$(cd "$(dirname "$0")/.." && pwd)

if [[ $mode == fetch ]]; then
  cd "$here" || exit 2
  versions=$(python - <<'EOF'
from importlib.metadata import version
names = ("pydantic", "pydantic-core", "annotated-types", "typing-inspection", "jsonnet", "seqeval")
print(" ".join(f"{name}=={version(name)}" for name in names))
EOF
  ) || { echo "fetch: run it with the environment that has sparse-sharing installed" >&2; exit 2; }
  rm -rf .whl && mkdir .whl || exit 2
  # shellcheck disable=SC2086  # one argument per pin
  python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl ${versions% seqeval==*} || exit 1
  # seqeval publishes only a source archive: build its (pure Python) wheel here
  python -m pip wheel -q --no-deps -w .whl "seqeval==${versions##*seqeval==}" || exit 1
  ls .whl
  exit 0
fi

if [[ $mode != run || $# -lt 2 ]]; then
  sed -n '6,8p' "$0" | sed 's/^# *//' >&2
  exit 2
fi
out=$(mkdir -p "$2" && cd "$2" && pwd) || { echo "run: cannot write to $2" >&2; exit 2; }
device=${3:-cuda}
cd "$here" || exit 2
log=$out/device_check.log
say() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$log"; }

if [[ $device == cuda ]]; then
  # the image's Python, with the wheels `fetch` saved
  py=python3
  if [[ -d .whl ]]; then
    $py -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
      || { say "installing .whl/ failed"; exit 1; }
    export PYTHONPATH=/tmp/site:$here
  else
    export PYTHONPATH=$here
  fi
  # a minute and a half for the benchmark's steps, the rest for compiling; quickstart as shipped
  bench=(--steps 200 --decode-repeats 3) bench_limit=240 quick=() quick_limit=150 sweep_limit=150
  sweep_args=(--runs-per-gpu 4)
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$log"
else
  py=${PYTHON:-python}
  export PYTHONPATH=$here
  bench=(--steps 20 --warmup 2 --decode-repeats 1 --sentences 300 --no-compile) bench_limit=300
  quick=(-o masks.steps_per_round=20 -o masks.warmup_steps=20 -o trainer.num_epochs=1) quick_limit=300
  sweep_limit=300 sweep_args=(--workers 2)
fi
$py -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__,
        "cuda", torch.cuda.is_available())' 2>&1 | tee -a "$log"
$py -c 'import sparse_sharing, pydantic, _jsonnet, seqeval' 2>&1 | tee -a "$log" || { say "imports failed"; exit 1; }

status=0
seconds=0  # the last check's wall seconds
check() {  # check NAME LIMIT COMMAND...: run under a time limit into OUT_DIR/NAME.log, say how it ended
  local name=$1 limit=$2 start rc
  shift 2
  say "$name: $*"
  start=$(date +%s)
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  rc=$?
  seconds=$(( $(date +%s) - start ))
  cat "$out/$name.log" >> "$log"
  say "$name: exit $rc after $seconds s$([[ $rc == 124 ]] && echo " (stopped at its ${limit} s limit)")"
  [[ $rc == 0 ]] || status=1
  return "$rc"
}

check side_by_side "$bench_limit" $py benchmarks/side_by_side.py --threads 1 --device "$device" --json "${bench[@]}"

work=$(mktemp -d)
if check quickstart "$quick_limit" $py -m sparse_sharing train experiments/quickstart_sparse.jsonnet \
    -s "$work/quickstart" --device "$device" "${quick[@]}"; then
  $py - "$work/quickstart/metrics.json" "$seconds" "$device" > "$out/quickstart.json" <<'EOF'
import json, sys
print(json.dumps({"device": sys.argv[3], "wall_seconds": int(sys.argv[2]),
                  "metrics": json.load(open(sys.argv[1], encoding="utf-8"))}, indent=1))
EOF
fi

cat > "$work/toy_sweep.jsonnet" <<EOF
// four quickstart runs at once: what --runs-per-gpu buys on one card
{ output: '$work/sweep', seeds: [1, 2, 3, 4],
  runs: [{ name: 'quickstart', config: '$here/experiments/quickstart.jsonnet' }] }
EOF
check sweep "$sweep_limit" $py -m sparse_sharing sweep "$work/toy_sweep.jsonnet" "${sweep_args[@]}"
echo "wall seconds: $seconds" >> "$out/sweep.log"

rm -rf "$work"
say "done; exit $status"
exit "$status"
