// Single-task baselines on CoNLL-2003: every task has its own trunk. All tasks train in one
// run by default; train one at a time (e.g. in parallel processes) with
//   ssl train experiments/conll03_single.jsonnet --ext-var data_dir=../shared/data/conll2003 \
//       -o 'train_tasks=["ner"]' -o num_threads=1 -s runs/single-ner
local base = import 'base_network.libsonnet';
local conll03 = import 'conll03.libsonnet';
base + conll03 + {
  seed: 13,
  num_threads: 1,
  train_tasks: null,
  model+: { sharing: { type: 'single' } },
}
