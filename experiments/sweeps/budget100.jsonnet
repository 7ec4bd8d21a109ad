// The budget check: one finished 50-epoch Exp1 run each of single, hard and sparse, extended to
// the authors' 100 epochs, so the table shows whether the ranking depends on the budget. A
// run here continues a copy of the exp1 run (the sweep sees the changed num_epochs and resumes
// it with `--resume`, which may raise trainer.num_epochs: an extended run equals one planned
// for 100 epochs). Copy the three run directories first, then run the sweep:
//   mkdir -p runs/budget100/{single,hard,sparse}
//   cp -r runs/exp1/single/seed-2 runs/budget100/single/ && cp -r runs/exp1/hard/seed-3 runs/budget100/hard/ \
//     && cp -r runs/exp1/sparse/seed-1 runs/budget100/sparse/
//   ssl sweep experiments/sweeps/budget100.jsonnet --ext-var data_dir=../shared/data/conll2003
local exp1 = import 'exp1.jsonnet';
local seeds = { single: [2], hard: [3], sparse: [1] };
{
  output: 'runs/budget100',
  seeds: [1],
  ext_vars: exp1.ext_vars,
  runs: [
    run + { seeds: seeds[run.name], overrides: ['trainer.num_epochs=100'] }
    for run in exp1.runs if std.objectHas(seeds, run.name)
  ],
}
