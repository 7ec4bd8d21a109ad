"""`ssl masks`: the figures of a masked run's chosen masks, as tables, JSON and a PNG.

The masks are made by hand with a known layout, so every printed figure can be checked
against arithmetic done here rather than against the code that prints it.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import run_ssl, write_tiny_config, write_tiny_corpus
from sparse_sharing.analysis.masks import overlap_matrix, read_run_masks, summary
from sparse_sharing.components.masks import MaskSet
from sparse_sharing.config.loading import load_experiment
from sparse_sharing.registry import import_plugins
from sparse_sharing.training.experiment import build_experiment
from sparse_sharing.files import write_json

# Twelve masked entries: tensor "w" (2×4) holds flat indices 0–7, "v" (4) holds 8–11.
KEPT = {"pos": {0, 1, 2, 3, 4, 5}, "chunk": {3, 4, 5, 6, 7}, "ner": {0, 4, 8, 9, 10, 11}}
# |∩| / |∪| of each pair and of all three, counted by hand from KEPT.
PAIRWISE = {("pos", "chunk"): 3 / 8, ("pos", "ner"): 2 / 10, ("chunk", "ner"): 1 / 10}
THREE_WAY = 1 / 12
# Disk order without a model: sorted task names.
DISK_ORDER = ["chunk", "ner", "pos"]
POS_ROUNDS = [(0, 1.0, 90.0), (1, 0.8, 91.5), (2, 0.64, 92.25), (3, 0.512, 91.0)]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def hand_made_masks() -> MaskSet:
    def split(kept: set[int]) -> dict[str, torch.Tensor]:
        flat = torch.tensor([i in kept for i in range(12)])
        return {"w": flat[:8].reshape(2, 4), "v": flat[8:]}

    return MaskSet({task: split(kept) for task, kept in KEPT.items()})


def write_fake_run(root: Path) -> Path:
    """What a masked run leaves about its masks, without config.json: the masks-only path."""
    reports = {"pos": {"round": 2, "dev_score": 92.25}, "chunk": {"round": 1, "dev_score": 88.0}, "ner": {}}
    hand_made_masks().save(root, reports)
    for k, kept, dev in POS_ROUNDS:
        write_json(root / "mask_search" / "pos" / f"round_{k:02d}.json",
                   {"task": "pos", "round": k, "kept_fraction": kept, "dev_score": dev, "steps": 10, "seconds": 0.1})
    return root


@pytest.fixture
def fake_run(tmp_path: Path) -> Path:
    return write_fake_run(tmp_path / "run")


# ------------------------------------------------------------------ figure computations
def test_overlap_matrix_of_known_masks() -> None:
    masks = hand_made_masks()
    matrix = overlap_matrix(masks)
    index = {task: i for i, task in enumerate(masks.tasks)}
    assert [matrix[i][i] for i in range(3)] == [1.0, 1.0, 1.0]
    for (a, b), expected in PAIRWISE.items():
        assert matrix[index[a]][index[b]] == pytest.approx(expected)
        assert matrix[index[b]][index[a]] == pytest.approx(expected)
    assert masks.overlap_ratio() == pytest.approx(THREE_WAY)


def test_summary_of_a_run_without_a_model(fake_run: Path) -> None:
    figures = summary(read_run_masks(fake_run))
    assert list(figures["tasks"]) == DISK_ORDER
    pos = figures["tasks"]["pos"]
    assert (pos["round"], pos["dev_score"], pos["kept"], pos["total"]) == (2, 92.25, 6, 12)
    assert pos["tensors"]["w"] == {"shape": [2, 4], "kept": 6, "kept_fraction": 0.75}
    assert pos["tensors"]["v"] == {"shape": [4], "kept": 0, "kept_fraction": 0.0}
    assert figures["tasks"]["chunk"]["kept_fraction"] == pytest.approx(5 / 12)
    assert figures["tasks"]["ner"]["round"] is None  # a report without search metadata
    assert pos["search_rounds"] == [{"round": k, "kept_fraction": f, "dev_score": d} for k, f, d in POS_ROUNDS]
    assert figures["tasks"]["chunk"]["search_rounds"] == []
    assert figures["figures"]["overlap_ratio"] == pytest.approx(THREE_WAY)
    assert figures["figures"]["pairwise_overlap"]["chunk-pos"] == pytest.approx(PAIRWISE[("pos", "chunk")])
    assert (figures["intersection_count"], figures["figures"]["union_count"]) == (1, 12)
    assert figures["union_count_per_tensor"] == {"w": 8, "v": 4}
    parameters = figures["parameters"]
    assert parameters["counted_from"] == "masks"
    assert parameters["paper"] is None and parameters["total"] is None
    assert "config.json" in parameters["note"]


def test_search_rounds_fall_back_to_the_report(tmp_path: Path) -> None:
    """Masks taken `from_run` have no search directory; their report carries the rounds."""
    rounds = [{"task": "pos", "round": k, "kept_fraction": f, "dev_score": d} for k, f, d in POS_ROUNDS]
    hand_made_masks().save(tmp_path, {"pos": {"round": 3, "dev_score": 91.0, "rounds": rounds[::-1]}})
    run = read_run_masks(tmp_path)
    assert [r["round"] for r in run.rounds["pos"]] == [0, 1, 2, 3]


@pytest.fixture(scope="module")
def model_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, MaskSet]:
    """A sparse run directory as `ssl train` starts it (config.json, vocabulary.json) plus chosen masks;
    the data files are deleted afterwards, since counting must not need them."""
    root = tmp_path_factory.mktemp("model_run")
    corpus = write_tiny_corpus(root / "data")
    config_path = write_tiny_config(root / "tiny.jsonnet", corpus)
    config_path.write_text(config_path.read_text().replace("sharing: { type: 'hard' }", "sharing: { type: 'sparse' }"))
    import_plugins()
    raw, config = load_experiment(config_path)
    experiment = build_experiment(config)
    run = root / "run"
    write_json(run / "vocabulary.json", experiment.vocab.to_json())
    write_json(run / "config.json", raw)
    generator = torch.Generator().manual_seed(0)
    shapes = experiment.model.sharing.mask_shapes()
    masks = MaskSet({task: {name: torch.rand(shape, generator=generator) < keep for name, shape in shapes.items()}
                     for task, keep in zip(experiment.tasks, (0.5, 0.45, 0.56))})
    masks.save(run, {task: {"round": 1, "dev_score": 50.0} for task in masks.tasks})
    for path in corpus.values():
        path.unlink()
    return run, masks


def test_counts_from_the_runs_model(model_run: tuple[Path, MaskSet]) -> None:
    run_dir, masks = model_run
    parameters = summary(read_run_masks(run_dir))["parameters"]
    assert parameters["counted_from"] == "model", parameters["note"]
    # The union replaces the masked tensors; everything else counted (LSTM and conv biases) stays whole.
    masked_total = sum(math.prod(shape) for shape in masks.shapes.values())
    assert parameters["paper"] == parameters["paper_unmasked"] - masked_total + masks.union_count()
    assert parameters["total"] > parameters["paper_unmasked"]


# ------------------------------------------------------------------ the command
def table_rows(out: str, first_cell: str) -> list[list[str]]:
    """The cells of every rich table row whose first cell is ``first_cell``."""
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in out.splitlines() if line.startswith("│")]
    return [row for row in rows if row[0] == first_cell]


def test_table(fake_run: Path) -> None:
    result = run_ssl("masks", fake_run)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # task: round, dev score, kept, kept %, search rounds; then its row of pairwise overlaps (chunk, ner, pos)
    assert table_rows(out, "pos") == [["pos", "2", "92.25", "6 / 12", "50.00%", "4"],
                                      ["pos", "0.3750", "0.2000", "1.0000"]]
    assert table_rows(out, "chunk") == [["chunk", "1", "88.00", "5 / 12", "41.67%", "0"],
                                        ["chunk", "1.0000", "0.1000", "0.3750"]]
    assert table_rows(out, "ner")[0] == ["ner", "—", "—", "6 / 12", "50.00%", "0"]
    # tensor: shape, kept by chunk, ner, pos, union
    assert table_rows(out, "w") == [["w", "2×4", "62.50%", "25.00%", "75.00%", "100.00%"]]
    assert table_rows(out, "v") == [["v", "4", "0.00%", "100.00%", "0.00%", "100.00%"]]
    assert "OR(chunk, ner, pos) = |∩M|₀ / |∪M|₀ = 1 / 12 = 0.0833" in out
    assert "counted from the masks alone" in out and "no config.json" in out


def test_json(fake_run: Path) -> None:
    result = run_ssl("masks", fake_run, "--format", "json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["figures"]["overlap_ratio"] == pytest.approx(THREE_WAY)
    assert figures["figures"]["kept_fraction"] == pytest.approx({"pos": 0.5, "chunk": 5 / 12, "ner": 0.5})
    assert figures["tasks"]["ner"]["tensors"]["v"]["kept_fraction"] == 1.0
    assert figures["parameters"]["counted_from"] == "masks"


def test_table_with_counts_from_the_model(model_run: tuple[Path, MaskSet]) -> None:
    run_dir, _ = model_run
    result = run_ssl("masks", run_dir)
    assert result.returncode == 0, result.stderr
    expected = summary(read_run_masks(run_dir))["parameters"]
    assert f"masked weights as kept by the masks): {expected['paper']:,}" in result.stdout
    assert f"total (every parameter of the model): {expected['total']:,}" in result.stdout


def test_plot(fake_run: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "figures" / "masks.png"
    result = run_ssl("masks", fake_run, "--plot", target, "--format", "json")
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)  # the plot's message goes to stderr and leaves the JSON parseable
    assert target.read_bytes()[:8] == PNG_MAGIC
    assert not [p for p in target.parent.iterdir() if p != target]  # no temporary file left behind


def test_plot_without_matplotlib(fake_run: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "blocked" / "matplotlib"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('matplotlib hidden for this test')\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(blocker.parent), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-m", "sparse_sharing", "masks", str(fake_run), "--plot",
                             str(tmp_path / "masks.png")], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "pip install 'sparse-sharing[plot]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "masks.png").exists()


def test_no_masks_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    result = run_ssl("masks", tmp_path)
    assert result.returncode == 2
    assert "only runs of masked strategies" in result.stderr
    assert "Traceback" not in result.stderr
