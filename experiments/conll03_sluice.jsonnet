// Sluice network (Ruder et al. 2019) on CoNLL-2003, as its paper builds it: the tasks share the
// word embeddings and the char CNN ("The two networks A and B share an embedding layer"); each
// task has its own 3-layer BiLSTM of 100 units a direction, the sluice paper's network (with
// the Exp1 base network's one layer β would be one weight a task and mix nothing; three layers
// of 100 have 628,800 LSTM parameters a task against 451,200 for one of 200: 1.39 times the
// parameters and the multiply-adds per token). Each layer's units are cut into 2 subspaces
// (halves of each direction), mixed across tasks by α (starting at 0.9 on each subspace
// itself), layers mixed by β (0.9 on the last at the start), and the subspaces' LSTM input
// weights pushed apart by the orthogonality penalty (λ = 0.001). Otherwise as
// conll03_hard.jsonnet. A step runs all three encoders.
//   ssl train experiments/conll03_sluice.jsonnet --ext-var data_dir=../shared/data/conll2003 -s runs/sluice
local hard = import 'conll03_hard.jsonnet';
hard + {
  model+: {
    encoder+: { hidden_size: 100, num_layers: 3 },
    sharing: {
      type: 'sluice', subspaces: 2, alpha_init: 'imbalanced', beta_init: 'imbalanced',  // imbalanced α: init_self 0.9
      orthogonality_weight: 0.001, share_embedders: true,
    },
  },
}
