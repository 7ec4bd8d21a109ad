// Sparse sharing on CoNLL-2003 (Exp1 of Sun, Shao et al. 2020), on the base network of
// conll03_hard.jsonnet: a multi-task warm-up on hard sharing, then for each task iterative
// global magnitude pruning of the LSTM weight matrices and the char-CNN conv (final 0.1 over
// 20 rounds: 10.87 % of the remaining weights go each round), rewinding to the warm-up
// weights θw; each task keeps the sparsest round whose dev score is within the search's own
// round-to-round noise of the best (README "Choosing a subnet": the dev curve is flat down to
// 15–20 % kept, so the best round alone is noise); then joint training of the three
// subnetworks from θw. {type: 'best_dev'} is the paper's rule.
//   ssl train experiments/conll03_sparse.jsonnet --ext-var data_dir=../shared/data/conll2003 -s runs/sparse
// Swap the sharing block for {type: 'hard'} and the same file is the hard-sharing baseline.
local base = import 'base_network.libsonnet';
local conll03 = import 'conll03.libsonnet';
base + conll03 + {
  seed: 13,
  num_threads: 1,
  train_tasks: null,
  model+: { sharing: { type: 'sparse' } },
  masks: {
    type: 'search',
    pruner: { type: 'magnitude', scope: 'global', final_kept: 0.1, rounds: 20 },
    rounds: 20,
    epochs_per_round: 1,
    warmup_steps: 4213,  // one pass over the three tasks' batches
    selection: { type: 'sparsest_within_noise', tolerance: 1.0 },
    jobs: 2,  // tasks searched in parallel processes, one torch thread each
  },
}
