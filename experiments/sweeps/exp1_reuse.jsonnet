// The Exp1 rows that reuse the masks searched by sparse seed 1 (runs/exp1/sparse/seed-1, from
// experiments/sweeps/exp1.jsonnet, which must have finished first): no second search. Run after
// exp1.jsonnet, or with it (one pool; these runs wait for sparse seed 1):
//   ssl sweep experiments/sweeps/exp1_reuse.jsonnet --ext-var data_dir=../shared/data/conll2003
//   ssl sweep experiments/sweeps/exp1.jsonnet experiments/sweeps/exp1_reuse.jsonnet --ext-var data_dir=...
// Same output as exp1.jsonnet, so `ssl compare runs/exp1/*/*` shows them in one table.
local searched = 'runs/exp1/sparse/seed-1';  // relative to where ssl sweep runs, like the output
// The whole masks block replaced (an object override may only set keys the block already has).
local masks(block) = 'masks=' + std.manifestJsonMinified({ type: 'from_run', path: searched } + block);
{
  output: 'runs/exp1',
  seeds: [1],
  ext_vars: { data_dir: std.extVar('data_dir') },
  runs: [
    // Each task alone on its own subnetwork of its own trunk: pruning without sharing.
    { name: 'single_subnet', config: '../conll03_sparse.jsonnet',
      overrides: ['model.sharing.type=single_subnet', masks({})] },
    // Sparse sharing at the paper's chosen kept fractions (rounds 6, 7 and 5 of the search):
    // the dev curve is flat, so what the choice of kept fraction costs or gains shows here.
    { name: 'sparse_paper_kept', config: '../conll03_sparse.jsonnet',
      overrides: [masks({ selection: { type: 'kept_fraction',
                                       kept_fraction: { pos: 0.5012, chunk: 0.4467, ner: 0.5623 } } })] },
  ],
}
