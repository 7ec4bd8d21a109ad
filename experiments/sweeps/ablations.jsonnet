// Ablations of sparse sharing on Exp1 (CoNLL-2003, seed 1), each beside exp1's sparse row:
// - sparse_theta0: no multi-task warm-up, every search rewinds to θ0 (the paper's Table 8:
//   95.36 / 89.62 / 91.04 POS / NER / chunk without, 95.56 / 90.35 / 91.55 with);
// - where the masks come from, at the same selection rule as IMP (exp1's sparse seed 1 is the
//   IMP row): gradual magnitude pruning and one-shot pruning; and IMP's own search with the
//   random pruner (the control for magnitude), taking the rounds at the kept fractions that
//   exp1's sparse seed 1 chose (its masks/*.json, rerun of 2026-12-05: chunk round 8, NER
//   round 18, POS round 13, the same rounds as the lost first attempt).
// Each run's metrics.json records its source's cost (masks.search_steps, search_seconds).
//   ssl sweep experiments/sweeps/ablations.jsonnet --ext-var data_dir=../shared/data/conll2003
local candidates = [std.pow(0.1, k / 20) for k in std.range(1, 20)];  // IMP's kept fractions
local warmup = 4213;  // conll03_sparse.jsonnet's: one pass over the three tasks' batches
local masks(source) = ['masks=' + std.manifestJsonMinified(source + {
  kept_fractions: candidates, scope: 'global', warmup_steps: warmup,
  selection: { type: 'sparsest_within_noise', tolerance: 1.0 },
})];
{
  output: 'runs/ablations',
  seeds: [1],
  ext_vars: { data_dir: std.extVar('data_dir') },
  runs: [
    { name: 'sparse_theta0', config: '../conll03_sparse.jsonnet', overrides: ['masks.warmup_steps=0'] },
    // One run per task of 4 passes: pruning over the first 3, every 100 steps, the last pass at 10 %.
    { name: 'gradual', config: '../conll03_sparse.jsonnet',
      overrides: masks({ type: 'gradual', epochs: 4, prune_start: 0, prune_end: 0.75, prune_every: 100 }) },
    // One dense pass, then a quarter pass of retraining per candidate.
    { name: 'one_shot', config: '../conll03_sparse.jsonnet',
      overrides: masks({ type: 'one_shot', train_epochs: 1, retrain_epochs: 0.25 }) },
    { name: 'imp_random', config: '../conll03_sparse.jsonnet',
      overrides: ['masks.pruner.type=random', 'masks.selection=' + std.manifestJsonMinified({
        type: 'kept_fraction', kept_fraction: { chunk: 0.3981, ner: 0.1259, pos: 0.2239 } })] },
  ],
}
