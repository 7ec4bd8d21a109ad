// Hierarchical sharing on CoNLL-2003 (Søgaard & Goldberg 2016): one shared 2-layer BiLSTM; POS
// is read from layer 1, chunking and NER from layer 2, as in the authors' code. Differs from
// conll03_hard.jsonnet in the sharing block and in the encoder depth that block needs.
//   ssl train experiments/conll03_hierarchical.jsonnet --ext-var data_dir=../shared/data/conll2003 -s runs/hierarchical
local hard = import 'conll03_hard.jsonnet';
hard + {
  model+: {
    encoder+: { num_layers: 2 },
    sharing: { type: 'hierarchical', task_layers: { pos: 1, chunk: 2, ner: 2 } },
  },
}
