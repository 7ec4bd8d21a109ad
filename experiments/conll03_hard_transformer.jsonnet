// Hard sharing on CoNLL-2003 with a from-scratch Transformer encoder in place of the BiLSTM
// (lib/transformer_network.libsonnet): one trunk, a head per task.
//   ssl train experiments/conll03_hard_transformer.jsonnet --ext-var data_dir=../shared/data/conll2003 -s runs/hard-tfm
local network = import 'transformer_network.libsonnet';
local conll03 = import 'conll03.libsonnet';
network + conll03 + {
  seed: 13,
  num_threads: 1,
  train_tasks: null,
  model+: { sharing: { type: 'hard' } },
}
