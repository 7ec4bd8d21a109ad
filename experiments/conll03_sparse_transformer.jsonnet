// Sparse sharing on CoNLL-2003 over the Transformer encoder of conll03_hard_transformer.jsonnet:
// the search of conll03_sparse.jsonnet (multi-task warm-up, per-task iterative global magnitude
// pruning, final 0.1 over 20 rounds, rewinding to the warm-up weights, the sparsest round within
// the noise of the best), then joint training of the three subnetworks. What is pruned is what
// the components declare: each layer's attention in/out projections and feed-forward matrices,
// and the char-CNN conv (never embeddings, positions, norms or biases); set
// model.sharing.prunable to choose other tensors.
//   ssl train experiments/conll03_sparse_transformer.jsonnet --ext-var data_dir=../shared/data/conll2003 -s runs/sparse-tfm
local network = import 'transformer_network.libsonnet';
local conll03 = import 'conll03.libsonnet';
network + conll03 + {
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
    jobs: 2,
  },
}
