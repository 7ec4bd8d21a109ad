// Exp1 of Sun, Shao et al. (2020): every sharing strategy on CoNLL-2003 (POS, chunking, NER),
// each run an ordinary run directory runs/exp1/<strategy>/seed-<k>. Single-task, hard and
// sparse sharing with seeds 1–3 (the headline rows), the other strategies with seed 1.
//   ssl sweep experiments/sweeps/exp1.jsonnet --ext-var data_dir=../shared/data/conll2003 --baseline single
// Then experiments/sweeps/exp1_reuse.jsonnet: the rows that reuse sparse seed 1's search.
// Config paths are relative to this file; output and data_dir to where ssl sweep runs.
// cross_stitch and sluice join once they are defined as their papers do (issue 16).
{
  output: 'runs/exp1',
  seeds: [1],
  ext_vars: { data_dir: std.extVar('data_dir') },
  runs: [
    { name: 'single', config: '../conll03_single.jsonnet', seeds: [1, 2, 3] },
    { name: 'hard', config: '../conll03_hard.jsonnet', seeds: [1, 2, 3] },
    { name: 'sparse', config: '../conll03_sparse.jsonnet', seeds: [1, 2, 3] },
    { name: 'hierarchical', config: '../conll03_hierarchical.jsonnet' },
  ],
}
