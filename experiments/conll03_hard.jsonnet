// Hard sharing on CoNLL-2003: one trunk, a head per task.
//   ssl train experiments/conll03_hard.jsonnet --ext-var data_dir=../shared/data/conll2003 -s runs/hard
local base = import 'base_network.libsonnet';
local conll03 = import 'conll03.libsonnet';
base + conll03 + {
  seed: 13,
  num_threads: 1,
  train_tasks: null,
  model+: { sharing: { type: 'hard' } },
}
