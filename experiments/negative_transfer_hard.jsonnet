// Negative-transfer check, hard sharing: NER and position prediction share the whole trunk
// (the weaker base network of lib/negative_transfer.libsonnet: random 50-d words, no char
// CNN). The paper's NER F1 falls by 9.4 against single-task training.
//   ssl train experiments/negative_transfer_hard.jsonnet --ext-var data_dir=../shared/data/conll2003 -s runs/nt-hard
local negative_transfer = import 'negative_transfer.libsonnet';
negative_transfer + {
  model+: { sharing: { type: 'hard' } },
}
