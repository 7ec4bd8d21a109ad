// Sparse sharing in the Exp3 setting (lib/ptb_conll.libsonnet): POS from the PTB sample,
// chunking from CoNLL-2000 (dev held out of train), NER from CoNLL-2003, on the base network
// of base_network.libsonnet. The search is conll03_sparse.jsonnet's: a multi-task warm-up on
// hard sharing, then per task iterative global magnitude pruning of the LSTM weight matrices
// and the char-CNN conv (final 0.1 over 20 rounds), rewinding to the warm-up weights θw; each
// task keeps the sparsest round within the search's noise of the best, then the three
// subnetworks train jointly.
//   ssl train experiments/ptb_conll_sparse.jsonnet --ext-var data_root=../shared/data -s runs/ptb-conll-sparse
// ptb_conll_hard.jsonnet is the same experiment with hard sharing.
local base = import 'base_network.libsonnet';
local ptb_conll = import 'ptb_conll.libsonnet';
base + ptb_conll + {
  seed: 13,
  num_threads: 1,
  train_tasks: null,
  model+: { sharing: { type: 'sparse' } },
  masks: {
    type: 'search',
    pruner: { type: 'magnitude', scope: 'global', final_kept: 0.1, rounds: 20 },
    rounds: 20,
    epochs_per_round: 1,
    warmup_steps: 2550,  // one pass over the three tasks' batches (340 + 805 + 1,405)
    selection: { type: 'sparsest_within_noise', tolerance: 1.0 },  // as conll03_sparse.jsonnet
    jobs: 2,  // tasks searched in parallel processes, one torch thread each
  },
}
