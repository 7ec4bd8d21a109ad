// Sluice network (Ruder et al. 2019) on CoNLL-2003: a trunk per task, each BiLSTM output split
// into 2 subspaces (forward and backward states), mixed across tasks by α, layers mixed by β,
// subspaces pushed apart by an orthogonality penalty. Differs from conll03_hard.jsonnet only in
// the sharing block. A step runs all three trunks.
//   ssl train experiments/conll03_sluice.jsonnet --ext-var data_dir=../shared/data/conll2003 -s runs/sluice
local hard = import 'conll03_hard.jsonnet';
hard + {
  model+: { sharing: { type: 'sluice', subspaces: 2, init_self: 0.9, orthogonality_weight: 0.001 } },
}
