// Negative-transfer check, single-task baselines: NER and position prediction each on its
// own trunk (the weaker base network of lib/negative_transfer.libsonnet: random 50-d words,
// no char CNN). The NER score to compare hard and sparse sharing with.
//   ssl train experiments/negative_transfer_single.jsonnet --ext-var data_dir=../shared/data/conll2003 -s runs/nt-single
local negative_transfer = import 'negative_transfer.libsonnet';
negative_transfer + {
  model+: { sharing: { type: 'single' } },
}
