// The negative-transfer check of Sun, Shao et al. (AAAI 2020): NER on CoNLL-2003 trained
// beside a synthetic task unrelated to it, "position prediction", on the very same sentences.
// The paper reports that hard sharing loses 9.4 NER F1 to the unrelated task while sparse
// sharing does not.
//
// Tasks:
//   ner       4th column, IOB1 in the files, trained and scored in BIOES; CRF head, span F1.
//   position  the 1-based position of each token in its sentence, "1" ... "113", up to the
//             longest training sentence (113 tokens); the one test sentence longer than that
//             (124 tokens) has its last 11 tokens labelled "113" (the `position` reader,
//             sparse_sharing/components/data/position.py); softmax head, accuracy. Not
//             capped at 20 as before: with "20+" for every later token every model scored
//             100.00 and the task could not compete for weights with NER.
//
// A WEAKER base network than Exp1's (base_network.libsonnet), as the authors' code has for
// this experiment: randomly initialised 50-d word embeddings (no GloVe, case kept) and no
// char CNN, before the same 1-layer BiLSTM of 200 units and the same trainer. On a small
// model the effect of sharing shows (the paper's single-task NER F1 here is 71.05, not 89).
//
// The three experiments differ only in their sharing block (and the sparse one's masks):
//   negative_transfer_{single,hard,sparse}.jsonnet --ext-var data_dir=../shared/data/conll2003
local base = import 'base_network.libsonnet';
local data_dir = std.extVar('data_dir');
local splits = {
  train_path: data_dir + '/train.txt',
  dev_path: data_dir + '/dev.txt',
  test_path: data_dir + '/test.txt',
};
base + {
  seed: 13,
  num_threads: 1,
  train_tasks: null,
  tasks: {
    ner: splits + {
      dataset_reader: {
        type: 'conll', word_column: 0, tag_column: 3, num_columns: 4,
        input_scheme: 'iob1', tag_scheme: 'bioes',
      },
      metric: { type: 'span_f1' },
      head: { type: 'crf' },
    },
    position: splits + {
      dataset_reader: { type: 'position', word_column: 0, num_columns: 4 },
      metric: { type: 'accuracy' },
      head: { type: 'softmax' },
    },
  },
  vocabulary: { lowercase_words: false, min_count: 1, pretrained_words: 'none' },
  model+: {
    token_embedders: [{ type: 'word', dim: 50, trainable: true }],
  },
}
