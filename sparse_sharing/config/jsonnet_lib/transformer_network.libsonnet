// The base network of conll03_hard.jsonnet with its BiLSTM swapped for a from-scratch Transformer
// encoder at a size that trains on a CPU: 2 pre-norm layers of width 128 (4 heads, feed-forward
// 256), sinusoidal positions, dropout 0.1, over the same GloVe words and char CNN. Adam at 5e-4
// rather than the BiLSTM's SGD 0.1 with momentum (attention trained from scratch by plain SGD at
// that rate does not settle); batch 10, clipping 5 as the base network.
local base = import 'base_network.libsonnet';
base + {
  model+: {
    encoder: {
      type: 'transformer', num_layers: 2, hidden_size: 128, num_heads: 4, ffn_size: 256,
      dropout: 0.1, norm: 'pre', positions: 'sinusoidal',
    },
  },
  trainer+: {
    optimizer: { type: 'adam', lr: 0.0005 },
    lr_scheduler: { type: 'constant' },
  },
}
