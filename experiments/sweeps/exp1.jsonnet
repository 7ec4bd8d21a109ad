// Exp1 of Sun, Shao et al. (2020): every sharing strategy on CoNLL-2003 (POS, chunking, NER),
// each run an ordinary run directory runs/exp1/<strategy>/seed-<k>. Single-task, hard and
// sparse sharing with seeds 1–3 (the headline rows), the other strategies with seed 1.
//   ssl sweep experiments/sweeps/exp1.jsonnet --ext-var data_dir=../shared/data/conll2003 --baseline single
// Then experiments/sweeps/exp1_reuse.jsonnet: the rows that reuse sparse seed 1's search.
// Config paths are relative to this file; output and data_dir to where ssl sweep runs.
{
  output: 'runs/exp1',
  seeds: [1],
  ext_vars: { data_dir: std.extVar('data_dir') },
  runs: [
    { name: 'single', config: '../conll03_single.jsonnet', seeds: [1, 2, 3] },
    { name: 'hard', config: '../conll03_hard.jsonnet', seeds: [1, 2, 3] },
    { name: 'sparse', config: '../conll03_sparse.jsonnet', seeds: [1, 2, 3] },
    { name: 'hierarchical', config: '../conll03_hierarchical.jsonnet' },
    { name: 'cross_stitch', config: '../conll03_cross_stitch.jsonnet' },
    { name: 'sluice', config: '../conll03_sluice.jsonnet' },
    // The authors' optimisation of joint sparse training (train_mtl.py): one SGD with momentum shared
    // by all tasks, which moves weights outside a task's mask on its steps (leaks on purpose); one
    // seed, to show whether the leak-free default changes the scores.
    { name: 'sparse_shared_optimizer', config: '../conll03_sparse_shared_optimizer.jsonnet', seeds: [1] },
  ],
}
