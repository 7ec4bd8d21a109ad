// Hard sharing on the bundled toy corpus: runs anywhere in a minute or two, no downloads.
//   ssl train experiments/quickstart.jsonnet -s runs/quickstart
local embedded = import 'embedded.libsonnet';
embedded + {
  seed: 13,
  num_threads: 1,
  train_tasks: null,
  vocabulary: { lowercase_words: false, min_count: 1, pretrained_words: 'none' },
  model: {
    token_embedders: [
      { type: 'word', dim: 50, trainable: true, word_dropout: 0.05 },
      { type: 'char_cnn', char_dim: 20, num_filters: 30, kernel_size: 3, dropout: 0.25 },
    ],
    embedding_dropout: 0.25,
    encoder: { type: 'bilstm', hidden_size: 64, num_layers: 1, dropout: 0.25 },
    sharing: { type: 'hard' },
  },
  trainer: {
    num_epochs: 4,
    batch_size: 16,
    eval_batch_size: 128,
    sampler: { type: 'proportional' },
    optimizer: { type: 'adam', lr: 0.005 },
    lr_scheduler: null,
    grad_clipping: { type: 'norm', max: 5.0 },
    selection: 'per_task',
    callbacks: [
      { type: 'progress_bar' },
      { type: 'tensorboard' },
      { type: 'checkpoint' },
    ],
  },
}
