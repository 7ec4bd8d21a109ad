// Sparse sharing on the bundled toy corpus with every component of the example plugin:
// a GRU encoder, word vectors from a word2vec file, the annealed temperature sampler, and a
// mask search that prunes whole rows and keeps the sparsest round near the best.
// From this folder:
//   PYTHONPATH=src ssl train example.jsonnet -s /tmp/ssl-example --include-package ssl_examples
// or, with the package installed (pip install -e .), without --include-package.
local task(column, scheme, metric, head) = {
  dataset_reader: { type: 'embedded', column: column, tag_scheme: scheme },
  train_path: 'train',
  dev_path: 'dev',
  test_path: 'test',
  metric: { type: metric },
  head: { type: head },
};
{
  seed: 13,
  num_threads: 1,
  tasks: {
    pos: task('pos', 'none', 'accuracy', 'softmax'),
    chunk: task('chunk', 'bio', 'span_f1', 'crf'),
    ner: task('ner', 'bioes', 'span_f1', 'crf'),
  },
  vocabulary: { lowercase_words: false, min_count: 1, pretrained_words: 'none' },
  model: {
    token_embedders: [
      { type: 'word', dim: 16, pretrained: { source: 'word2vec', path: 'vectors.w2v.txt' } },
      { type: 'char_cnn', char_dim: 8, num_filters: 16, kernel_size: 3, dropout: 0.1 },
    ],
    embedding_dropout: 0.1,
    encoder: { type: 'gru', hidden_size: 32, num_layers: 1, dropout: 0.1 },
    sharing: { type: 'sparse' },
  },
  masks: {
    type: 'search',
    pruner: { type: 'row_norm', rate: 0.3, rounds: 2 },
    steps_per_round: 40,
    warmup_steps: 40,
    selection: { type: 'sparsest_within', tolerance: 1.0 },
  },
  trainer: {
    num_epochs: 2,
    batch_size: 16,
    sampler: { type: 'annealed_temperature', start: 1.0, end: 10.0, anneal_epochs: 2 },
    optimizer: { type: 'adam', lr: 0.005 },
    callbacks: [{ type: 'progress_bar' }, { type: 'checkpoint' }],
  },
}
