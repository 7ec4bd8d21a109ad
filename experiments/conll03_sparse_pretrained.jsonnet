// Sparse sharing over a pretrained transformer on CoNLL-2003: each task finds its subnetwork of
// one shared pretrained model (every weight matrix of its layers' linear maps: attention
// projections and feed-forward; never embeddings, norms, biases or the pooler) and of a
// 1-layer BiLSTM on top, then the three subnetworks train jointly. Tokens are the CoNLL tokens;
// each reads its first sub-word piece. Fine-tuning rates (AdamW 5e-5), batch 16.
// model_dir: a local directory holding the model and its fast tokenizer (save_pretrained), e.g.
// one made by `hf download bert-base-cased --local-dir models/bert-base-cased` (huggingface_hub);
// a hub name works too where this machine can reach the hub. Sized for a GPU: on a CPU every
// search round is hours.
//   ssl train experiments/conll03_sparse_pretrained.jsonnet --ext-var data_dir=../shared/data/conll2003 \
//     --ext-var model_dir=models/bert-base-cased -s runs/sparse-bert --device cuda
local conll03 = import 'conll03.libsonnet';
conll03 + {
  seed: 13,
  num_threads: 1,
  train_tasks: null,
  vocabulary: { lowercase_words: false, min_count: 1, pretrained_words: 'none' },
  model: {
    token_embedders: [
      {
        type: 'pretrained_transformer', model_name: std.extVar('model_dir'),
        pooling: 'first', trainable: true, prunable: true,
      },
    ],
    embedding_dropout: 0.1,
    encoder: { type: 'bilstm', hidden_size: 128, num_layers: 1, dropout: 0.1 },
    sharing: { type: 'sparse' },
  },
  trainer: {
    num_epochs: 5,
    batch_size: 16,
    eval_batch_size: 64,
    sampler: { type: 'proportional' },
    optimizer: { type: 'adamw', lr: 0.00005, weight_decay: 0.01 },
    grad_clipping: { type: 'norm', max: 1.0 },
    selection: 'per_task',
    callbacks: [
      { type: 'progress_bar' },
      { type: 'tensorboard' },
      { type: 'checkpoint' },
    ],
  },
  masks: {
    type: 'search',
    pruner: { type: 'magnitude', scope: 'global', final_kept: 0.1, rounds: 10 },
    rounds: 10,
    epochs_per_round: 1,
    warmup_steps: 2634,  // one pass over the three tasks' batches of 16
    selection: { type: 'sparsest_within_noise', tolerance: 1.0 },
    jobs: 1,
  },
}
