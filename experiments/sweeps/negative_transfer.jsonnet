// The negative-transfer check: NER beside the synthetic position-prediction task, single-task,
// hard and sparse sharing, seeds 1–3 (runs/negative_transfer/<strategy>/seed-<k>).
//   ssl sweep experiments/sweeps/negative_transfer.jsonnet --ext-var data_dir=../shared/data/conll2003 --baseline single
{
  output: 'runs/negative_transfer',
  seeds: [1, 2, 3],
  ext_vars: { data_dir: std.extVar('data_dir') },
  runs: [
    { name: 'single', config: '../negative_transfer_single.jsonnet' },
    { name: 'hard', config: '../negative_transfer_hard.jsonnet' },
    { name: 'sparse', config: '../negative_transfer_sparse.jsonnet' },
  ],
}
