// Negative-transfer check, sparse sharing: NER and position prediction each run their own
// subnetwork of one trunk (the weaker base network of lib/negative_transfer.libsonnet: random
// 50-d words, no char CNN, so only the LSTM weight matrices are pruned). The search is
// conll03_sparse.jsonnet's: a multi-task warm-up on hard sharing, then per task iterative
// global magnitude pruning (final 0.1 over 20 rounds) rewinding to the warm-up weights θw,
// the sparsest round within the search's noise of the best kept, then joint training from θw.
// The paper finds no loss of NER F1 here against single-task training.
//   ssl train experiments/negative_transfer_sparse.jsonnet --ext-var data_dir=../shared/data/conll2003 -s runs/nt-sparse
local negative_transfer = import 'negative_transfer.libsonnet';
negative_transfer + {
  model+: { sharing: { type: 'sparse' } },
  masks: {
    type: 'search',
    pruner: { type: 'magnitude', scope: 'global', final_kept: 0.1, rounds: 20 },
    rounds: 20,
    epochs_per_round: 1,
    warmup_steps: 2810,  // one pass over both tasks' batches (2 × 1,405)
    selection: { type: 'sparsest_within_noise', tolerance: 1.0 },  // as conll03_sparse.jsonnet
    jobs: 2,  // tasks searched in parallel processes, one torch thread each
  },
}
