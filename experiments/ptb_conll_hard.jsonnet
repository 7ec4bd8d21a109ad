// Hard sharing in the Exp3 setting (lib/ptb_conll.libsonnet): POS from the PTB sample, chunking
// from CoNLL-2000 (dev held out of train), NER from CoNLL-2003, one trunk, a CRF head per task,
// tasks sampled in proportion to their training sets.
//   ssl train experiments/ptb_conll_hard.jsonnet --ext-var data_root=../shared/data -s runs/ptb-conll-hard
local base = import 'base_network.libsonnet';
local ptb_conll = import 'ptb_conll.libsonnet';
base + ptb_conll + {
  seed: 13,
  num_threads: 1,
  train_tasks: null,
  model+: { sharing: { type: 'hard' } },
}
