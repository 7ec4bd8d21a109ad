// CoNLL-2003 with three tasks on the same sentences (Exp1 of Sun, Shao et al. 2020):
// POS from the 2nd column, chunking from the 3rd, NER from the 4th. The files use IOB1;
// chunking trains in BIO and NER in BIOES, as the paper does.
local data_dir = std.extVar('data_dir');
local task(column, input_scheme, tag_scheme, metric) = {
  dataset_reader: {
    type: 'conll', word_column: 0, tag_column: column, num_columns: 4,
    input_scheme: input_scheme, tag_scheme: tag_scheme,
  },
  train_path: data_dir + '/train.txt',
  dev_path: data_dir + '/dev.txt',
  test_path: data_dir + '/test.txt',
  metric: { type: metric },
  head: { type: 'crf' },
};
{
  tasks: {
    pos: task(1, 'none', 'none', 'accuracy') + { head: { type: 'softmax' } },
    chunk: task(2, 'iob1', 'bio', 'span_f1'),
    ner: task(3, 'iob1', 'bioes', 'span_f1'),
  },
}
