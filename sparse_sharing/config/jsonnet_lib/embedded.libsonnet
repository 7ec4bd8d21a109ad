// The toy corpus bundled in the package (generated in sparse_sharing/components/data/toy_corpus.py): the
// same generated sentences carry POS, chunk (BIO) and NER (BIO) labels. No files needed.
local task(column, scheme, metric, head) = {
  dataset_reader: { type: 'embedded', column: column, tag_scheme: scheme },
  train_path: 'train',
  dev_path: 'dev',
  test_path: 'test',
  metric: { type: metric },
  head: { type: head },
};
{
  tasks: {
    pos: task('pos', 'none', 'accuracy', 'softmax'),
    chunk: task('chunk', 'bio', 'span_f1', 'crf'),
    ner: task('ner', 'bioes', 'span_f1', 'crf'),
  },
}
