// Exp3 of Sun, Shao et al. (AAAI 2020): three tasks, each from its own corpus, so no sentence
// carries more than one task's labels (unlike Exp1, where CoNLL-2003 labels every sentence
// with all three). One ext var, `data_root`, names the shared/data folder (its README gives
// counts and checksums):
//   pos    ptb_pos/{train,dev,test}.txt    2 columns `word POS`; accuracy.
//          (NLTK's 10 % WSJ sample with a document-level split of our own, not the standard
//          full-WSJ split the paper used.)
//   chunk  conll2000/{train,test}.txt      3 columns `word POS chunk`, IOB2, trained in BIO;
//          span F1. CoNLL-2000 has no dev file and selection never uses test, so a seeded
//          10 % of the training sentences is held out as dev (`dev_from_train`) and not trained on.
//   ner    conll2003/{train,dev,test}.txt  4 columns, IOB1, trained in BIOES; span F1.
// CRF heads for all three, as in the paper's Exp3. The words of all three training sets go
// into one vocabulary; the base network and trainer are base_network.libsonnet's.
local data_root = std.extVar('data_root');
local reader(tag_column, num_columns, input_scheme, tag_scheme) = {
  type: 'conll', word_column: 0, tag_column: tag_column, num_columns: num_columns,
  input_scheme: input_scheme, tag_scheme: tag_scheme,
};
{
  tasks: {
    pos: {
      dataset_reader: reader(1, 2, 'none', 'none'),
      train_path: data_root + '/ptb_pos/train.txt',
      dev_path: data_root + '/ptb_pos/dev.txt',
      test_path: data_root + '/ptb_pos/test.txt',
      metric: { type: 'accuracy' },
      head: { type: 'crf' },
    },
    chunk: {
      dataset_reader: reader(2, 3, 'bio', 'bio'),
      train_path: data_root + '/conll2000/train.txt',
      dev_from_train: { fraction: 0.1, seed: 0 },
      test_path: data_root + '/conll2000/test.txt',
      metric: { type: 'span_f1' },
      head: { type: 'crf' },
    },
    ner: {
      dataset_reader: reader(3, 4, 'iob1', 'bioes'),
      train_path: data_root + '/conll2003/train.txt',
      dev_path: data_root + '/conll2003/dev.txt',
      test_path: data_root + '/conll2003/test.txt',
      metric: { type: 'span_f1' },
      head: { type: 'crf' },
    },
  },
}
