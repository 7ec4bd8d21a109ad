// Soft sharing with cross-stitch units (Misra et al. 2016) on CoNLL-2003: one set of word
// embeddings and char CNN for all tasks (as in the sluice paper's cross-stitch baseline, and as
// the sparse-sharing paper's 1,596k soft-sharing row counts: three BiLSTMs, one char conv), a
// BiLSTM per task, their outputs mixed by a learned 3×3 matrix that starts at 0.9 on the diagonal.
// Differs from conll03_hard.jsonnet only in the sharing block. A step runs all three BiLSTMs.
//   ssl train experiments/conll03_cross_stitch.jsonnet --ext-var data_dir=../shared/data/conll2003 -s runs/cross_stitch
local hard = import 'conll03_hard.jsonnet';
hard + {
  model+: { sharing: { type: 'cross_stitch', init_self: 0.9, trainable: true, share_embedders: true } },
}
