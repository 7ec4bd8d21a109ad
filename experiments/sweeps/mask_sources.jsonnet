// Where sparse sharing's masks come from, on Exp1 (CoNLL-2003, seed 1): joint sparse training
// with masks from IMP (the paper's search), from gradual magnitude pruning, from one-shot
// pruning, and from IMP with the random pruner (the control). Each run's mask reports and
// metrics.json record the training steps its source spent per task (masks.search_steps).
//   ssl sweep experiments/sweeps/mask_sources.jsonnet --ext-var data_dir=../shared/data/conll2003
// Every source uses IMP's candidates, 0.1^(k/20) kept for k = 1..20, and its warm-up.
local candidates = [std.pow(0.1, k / 20) for k in std.range(1, 20)];
local warmup = 4213;  // conll03_sparse.jsonnet's: one pass over the three tasks' batches
local masks(source) = ['masks=' + std.manifestJsonMinified(source + {
  kept_fractions: candidates, scope: 'global', warmup_steps: warmup, selection: { type: 'best_dev' },
})];
{
  output: 'runs/mask_sources',
  seeds: [1],
  ext_vars: { data_dir: std.extVar('data_dir') },
  runs: [
    { name: 'imp', config: '../conll03_sparse.jsonnet' },
    // One run per task of 4 passes: pruning over the first 3, every 100 steps, the last pass at 10 %.
    { name: 'gradual', config: '../conll03_sparse.jsonnet',
      overrides: masks({ type: 'gradual', epochs: 4, prune_start: 0, prune_end: 0.75, prune_every: 100 }) },
    // One dense pass, then a quarter pass of retraining per candidate.
    { name: 'one_shot', config: '../conll03_sparse.jsonnet',
      overrides: masks({ type: 'one_shot', train_epochs: 1, retrain_epochs: 0.25 }) },
    { name: 'imp_random', config: '../conll03_sparse.jsonnet', overrides: ['masks.pruner.type=random'] },
  ],
}
