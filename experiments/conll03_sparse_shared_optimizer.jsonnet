// conll03_sparse.jsonnet trained as the authors' train_mtl.py optimises joint sparse training:
// one SGD with momentum shared by all tasks (`optimizers: 'shared'`), so the momentum of one
// task's steps moves weights outside another task's mask on that task's steps. This breaks the
// no-leak guarantee of the default (`per_task`: each task its own optimizer state) on purpose,
// to measure whether leak-free optimisation changes the scores.
//   ssl train experiments/conll03_sparse_shared_optimizer.jsonnet --ext-var data_dir=../shared/data/conll2003 -s runs/sparse-shared
local sparse = import 'conll03_sparse.jsonnet';
sparse + {
  model+: { sharing: { type: 'sparse', optimizers: 'shared' } },
}
