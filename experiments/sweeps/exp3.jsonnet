// Exp3 of Sun, Shao et al. (2020): POS from the PTB sample, chunking from CoNLL-2000, NER from
// CoNLL-2003 (three corpora, so no sentence carries all three tasks), hard and sparse sharing.
//   ssl sweep experiments/sweeps/exp3.jsonnet --ext-var data_root=../shared/data
{
  output: 'runs/exp3',
  seeds: [1],
  ext_vars: { data_root: std.extVar('data_root') },
  runs: [
    { name: 'hard', config: '../ptb_conll_hard.jsonnet' },
    { name: 'sparse', config: '../ptb_conll_sparse.jsonnet' },
  ],
}
