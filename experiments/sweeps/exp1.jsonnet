// Exp1 of Sun, Shao et al. (2020): every sharing strategy on CoNLL-2003 (POS, chunking, NER),
// seeds 1–3, each run an ordinary run directory runs/exp1/<strategy>/seed-<k>.
//   ssl sweep experiments/sweeps/exp1.jsonnet --ext-var data_dir=../shared/data/conll2003 --baseline single
// Config paths are relative to this file; output and data_dir to where ssl sweep runs.
{
  output: 'runs/exp1',
  seeds: [1, 2, 3],
  ext_vars: { data_dir: std.extVar('data_dir') },
  runs: [
    { name: 'single', config: '../conll03_single.jsonnet' },
    // Each task on its own subnetwork of its own trunk: the masks of the sparse search, no sharing.
    { name: 'single_subnet', config: '../conll03_sparse.jsonnet',
      overrides: { model: { sharing: { type: 'single_subnet' } } } },
    { name: 'hard', config: '../conll03_hard.jsonnet' },
    { name: 'hierarchical', config: '../conll03_hierarchical.jsonnet' },
    { name: 'cross_stitch', config: '../conll03_cross_stitch.jsonnet' },
    { name: 'sluice', config: '../conll03_sluice.jsonnet' },
    { name: 'sparse', config: '../conll03_sparse.jsonnet' },
    // The authors' optimisation of joint sparse training (train_mtl.py): one SGD with momentum shared
    // by all tasks, which moves weights outside a task's mask on its steps (leaks on purpose); one
    // seed, to show whether the leak-free default changes the scores.
    { name: 'sparse_shared_optimizer', config: '../conll03_sparse_shared_optimizer.jsonnet', seeds: [1] },
  ],
}
