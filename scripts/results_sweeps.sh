#!/usr/bin/env bash
# Every results run of the README's "Results on CoNLL-2003", in order, as one background job:
#
#   cd ~/ssl-runs && nohup /path/to/checkout/scripts/results_sweeps.sh > sweeps.out 2>&1 &
#
# Run it from the directory that holds the run directories (runs/<experiment>/...), outside the
# checkout, with the data at ../shared/data from there. Each `ssl sweep` skips finished runs
# and resumes interrupted ones, so the script can be stopped (SIGTERM) and started again at any
# time; a sweep with a failed run goes on to the next (see `ssl sweep ... --status`).
# Two one-thread runs at a time (WORKERS=2): a 2-core machine.
set -u
sweeps="$(cd "$(dirname "$0")/../experiments/sweeps" && pwd)"
workers="${WORKERS:-2}"
conll03=(--ext-var data_dir=../shared/data/conll2003)

sweep() { echo "$(date -u +%FT%TZ) ssl sweep $*"; ssl sweep "$@" --workers "$workers"; }

sweep "$sweeps/exp1.jsonnet" "${conll03[@]}" --baseline single
sweep "$sweeps/exp1_reuse.jsonnet" "${conll03[@]}"            # after exp1: reuses sparse seed 1's search
sweep "$sweeps/negative_transfer.jsonnet" "${conll03[@]}" --baseline single
sweep "$sweeps/ablations.jsonnet" "${conll03[@]}"
sweep "$sweeps/exp3.jsonnet" --ext-var data_root=../shared/data
# The budget check continues copies of three finished Exp1 runs (see budget100.jsonnet).
for run in single/seed-2 hard/seed-3 sparse/seed-1; do
  if [ ! -e "runs/budget100/$run" ] && [ -e "runs/exp1/$run/checkpoints/last.pt" ]; then
    mkdir -p "runs/budget100/$(dirname "$run")" && cp -r "runs/exp1/$run" "runs/budget100/$run"
  fi
done
sweep "$sweeps/budget100.jsonnet" "${conll03[@]}"
