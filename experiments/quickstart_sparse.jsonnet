// Sparse sharing on the bundled toy corpus: the whole pipeline (multi-task warm-up, a mask
// search per task by iterative magnitude pruning, automatic subnet choice, masked joint
// training) in a few minutes on 2 CPU cores, no downloads.
//   ssl train experiments/quickstart_sparse.jsonnet -s runs/quickstart-sparse
// Swap the sharing block for {type: 'hard'} and the same file is the hard-sharing baseline.
local quickstart = import 'quickstart.jsonnet';
quickstart + {
  model+: { sharing: { type: 'sparse' } },
  masks: {
    type: 'search',
    // 30 % of the remaining weights go each round: 4 rounds keep 70, 49, 34, 24 %.
    pruner: { type: 'magnitude', scope: 'global', rate: 0.3, rounds: 4 },
    steps_per_round: 120,
    warmup_steps: 120,
    selection: { type: 'best_dev' },
    jobs: 2,
  },
  trainer+: { num_epochs: 3 },
}
