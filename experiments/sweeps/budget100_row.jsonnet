// One row of the budget check (budget100.jsonnet) as a sweep of its own, with its own output, so
// the three continuations need not run one after another in one `ssl sweep`:
// scripts/results_sweeps.py starts each as soon as its Exp1 run has finished, on whichever core
// is free. Copy the run first, as for budget100.jsonnet, then (row: single, hard or sparse):
//   mkdir -p runs/budget100-sparse/sparse && cp -r runs/exp1/sparse/seed-1 runs/budget100-sparse/sparse/
//   ssl sweep experiments/sweeps/budget100_row.jsonnet --ext-var row=sparse \
//     --ext-var data_dir=../shared/data/conll2003
local budget = import 'budget100.jsonnet';
local row = std.extVar('row');
local runs = [run for run in budget.runs if run.name == row];
assert std.length(runs) == 1 : 'row must be one of ' + std.join(', ', [run.name for run in budget.runs]);
budget + { output: 'runs/budget100-' + row, runs: runs }
