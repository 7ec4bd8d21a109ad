"""Pruning schedule and selection checked against hand-computed masks; MaskSet counts and files."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from sparse_sharing.components.masks import MaskSet, prunable_parameters, read_mask_report
from sparse_sharing.paths import RunPaths
from sparse_sharing.components.pruners import Pruner
from sparse_sharing.errors import ConfigError, RunDirError
from sparse_sharing.registry import PRUNERS


def pruner(type_: str = "magnitude", **options) -> Pruner:
    return PRUNERS.build(PRUNERS.get(type_).config(type=type_, **options))


def bools(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.bool)


def ones_like(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {n: torch.ones_like(w, dtype=torch.bool) for n, w in weights.items()}


# Ten entries; sorted by magnitude: b0 .05, a01 .1, a11 .2, a02 .3, b2 .4, a00 .5, b1 .6, a12 .7, b3 .8, a10 .9
HAND_WEIGHTS = {
    "a": torch.tensor([[0.5, -0.1, 0.3], [0.9, 0.2, -0.7]]),
    "b": torch.tensor([0.05, -0.6, 0.4, 0.8]),
}


class TestSchedule:
    def test_paper_schedule(self) -> None:
        p = pruner(final_kept=0.1, rounds=20)
        assert p.rate == pytest.approx(0.1087, abs=1e-4)
        kept = [round(100 * p.kept_fraction_after(k), 2) for k in range(1, 8)]
        assert kept == [89.13, 79.43, 70.79, 63.10, 56.23, 50.12, 44.67]
        assert p.kept_fraction_after(20) == pytest.approx(0.1)

    def test_explicit_rate_overrides(self) -> None:
        p = pruner(final_kept=0.1, rounds=20, rate=0.2)
        assert p.rate == 0.2
        assert p.kept_fraction_after(2) == pytest.approx(0.64)


class TestMagnitude:
    def test_global_threshold(self) -> None:
        new = pruner(scope="global", rate=0.3).prune(HAND_WEIGHTS, ones_like(HAND_WEIGHTS))
        assert torch.equal(new["a"], bools([[1, 0, 1], [1, 0, 1]]))
        assert torch.equal(new["b"], bools([0, 1, 1, 1]))

    def test_global_ignores_pruned_entries(self) -> None:
        # a01 and a11 (the 2nd and 3rd smallest) are already pruned: 8 kept, 0.25 of them = 2 go: b0 and a02.
        mask = {"a": bools([[1, 0, 1], [1, 0, 1]]), "b": bools([1, 1, 1, 1])}
        new = pruner(scope="global", rate=0.25).prune(HAND_WEIGHTS, mask)
        assert torch.equal(new["a"], bools([[1, 0, 0], [1, 0, 1]]))
        assert torch.equal(new["b"], bools([0, 1, 1, 1]))

    def test_layerwise(self) -> None:
        new = pruner(scope="layerwise", rate=0.5).prune(HAND_WEIGHTS, ones_like(HAND_WEIGHTS))
        assert torch.equal(new["a"], bools([[1, 0, 0], [1, 0, 1]]))
        assert torch.equal(new["b"], bools([0, 1, 0, 1]))

    @pytest.mark.parametrize("scope", ["global", "layerwise"])
    def test_ties_never_remove_more_than_asked(self, scope: str) -> None:
        weights = {"a": torch.full((2, 2), 0.5), "b": torch.full((4,), -0.5)}
        new = pruner(scope=scope, rate=0.25).prune(weights, ones_like(weights))
        if scope == "global":  # 2 of 8, the first in position order
            assert torch.equal(new["a"], bools([[0, 0], [1, 1]])) and bool(new["b"].all())
        else:  # 1 of 4 in each tensor
            assert torch.equal(new["a"], bools([[0, 1], [1, 1]]))
            assert torch.equal(new["b"], bools([0, 1, 1, 1]))

    def test_inputs_untouched(self) -> None:
        mask = ones_like(HAND_WEIGHTS)
        pruner(rate=0.5).prune(HAND_WEIGHTS, mask)
        assert all(bool(m.all()) for m in mask.values())

    @pytest.mark.parametrize("type_", ["magnitude", "random"])
    @pytest.mark.parametrize("scope", ["global", "layerwise"])
    def test_masks_only_shrink(self, type_: str, scope: str) -> None:
        generator = torch.Generator().manual_seed(0)
        weights = {"w": torch.randn(7, 5, generator=generator), "v": torch.randn(11, generator=generator)}
        p = pruner(type_, scope=scope)
        mask = ones_like(weights)
        for _ in range(6):
            kept = sum(int(m.sum()) for m in mask.values())
            # training moves the weights between rounds, pruned ones included
            weights = {n: w + 0.3 * torch.randn(w.shape, generator=generator) for n, w in weights.items()}
            new = p.prune(weights, mask)
            for name in mask:
                assert not bool((new[name] & ~mask[name]).any())
            if scope == "global":
                assert kept - sum(int(m.sum()) for m in new.values()) == round(p.rate * kept)
            mask = new

    def test_rejects_mismatched_inputs(self) -> None:
        with pytest.raises(ValueError, match="name different tensors"):
            pruner().prune(HAND_WEIGHTS, {"a": torch.ones(2, 3, dtype=torch.bool)})
        with pytest.raises(ValueError, match="torch.bool"):
            pruner().prune(HAND_WEIGHTS, {n: torch.ones_like(w) for n, w in HAND_WEIGHTS.items()})


class TestRandom:
    @pytest.mark.parametrize("scope", ["global", "layerwise"])
    def test_same_counts_as_magnitude_at_kept_positions(self, scope: str) -> None:
        generator = torch.Generator().manual_seed(1)
        weights = {"w": torch.randn(20, 10, generator=generator), "v": 3 * torch.randn(50, generator=generator)}
        mask = {n: torch.rand(w.shape, generator=generator) < 0.7 for n, w in weights.items()}
        by_magnitude = pruner(scope=scope).prune(weights, mask)
        at_random = pruner("random", scope=scope, seed=3).prune(weights, mask)
        for name in mask:
            assert int(at_random[name].sum()) == int(by_magnitude[name].sum())
            assert not bool((at_random[name] & ~mask[name]).any())
        assert any(not torch.equal(at_random[n], by_magnitude[n]) for n in mask)

    def test_reproducible_and_seeded(self) -> None:
        weights = {"w": torch.randn(30, 10)}
        mask = ones_like(weights)
        first = pruner("random", seed=3, rate=0.5).prune(weights, mask)["w"]
        assert torch.equal(first, pruner("random", seed=3, rate=0.5).prune(weights, mask)["w"])
        assert not torch.equal(first, pruner("random", seed=4, rate=0.5).prune(weights, mask)["w"])
        # two tasks start from the same all-ones mask; their different weights give different draws
        other = {"w": weights["w"] + 1.0}
        assert not torch.equal(first, pruner("random", seed=3, rate=0.5).prune(other, mask)["w"])


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(5, 3)
        self.conv = nn.Conv1d(3, 2, 3)
        self.lstm = nn.LSTM(2, 2, bidirectional=True)
        self.head = nn.Linear(4, 2)


def test_prunable_parameters_default_patterns() -> None:
    from sparse_sharing.components.masks import PAPER_PRUNABLE

    assert list(prunable_parameters(Tiny(), PAPER_PRUNABLE)) == [
        "conv.weight", "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.weight_ih_l0_reverse",
        "lstm.weight_hh_l0_reverse",
    ]
    assert list(prunable_parameters(Tiny(), ["head.*"])) == ["head.weight", "head.bias"]


# Two tensors, 8 entries. Union: x 1111, y 1110 -> 7; intersection: x 1000, y 0000 -> 1.
HAND_MASKS = MaskSet({
    "pos": {"x": bools([[1, 1], [0, 0]]), "y": bools([1, 0, 0, 0])},
    "ner": {"x": bools([[1, 0], [1, 1]]), "y": bools([0, 1, 1, 0])},
    "chunk": {"x": bools([[1, 0], [0, 0]]), "y": bools([0, 0, 1, 0])},
})


class TestMaskSet:
    def test_counts_and_fractions(self) -> None:
        assert HAND_MASKS.tasks == ["pos", "ner", "chunk"]
        assert HAND_MASKS.total_count() == 8
        assert HAND_MASKS.kept_count("ner") == 5
        assert HAND_MASKS.kept_fraction("ner") == 5 / 8
        assert HAND_MASKS.kept_fraction_per_tensor("pos") == {"x": 0.5, "y": 0.25}
        assert HAND_MASKS.union_count() == 7
        assert HAND_MASKS.union_count_per_tensor() == {"x": 4, "y": 3}
        assert HAND_MASKS.intersection_count() == 1

    def test_overlap_ratio(self) -> None:
        assert HAND_MASKS.overlap_ratio() == 1 / 7
        # pos ∩ ner = {x00}: 1; pos ∪ ner = x 1111, y 1110: 7
        assert HAND_MASKS.overlap_ratio(["pos", "ner"]) == 1 / 7
        # pos ∩ chunk = {x00}, union 4; ner ∩ chunk = {x00, y2}: 2, union = ner's 5
        assert HAND_MASKS.pairwise_overlaps() == {("pos", "ner"): 1 / 7, ("pos", "chunk"): 1 / 4,
                                                  ("ner", "chunk"): 2 / 5}
        assert MaskSet.all_ones({"x": torch.zeros(3, 2)}, ["a", "b"]).overlap_ratio() == 1.0

    def test_rejects_inconsistent_masks(self) -> None:
        with pytest.raises(ValueError, match="masks"):
            MaskSet({"a": {"x": bools([1])}, "b": {"y": bools([1])}})
        with pytest.raises(ValueError, match="torch.bool"):
            MaskSet({"a": {"x": torch.ones(2)}})
        with pytest.raises(KeyError, match="no mask for task"):
            HAND_MASKS.kept_fraction("srl")

    def test_save_load_round_trip(self, tmp_path) -> None:
        generator = torch.Generator().manual_seed(0)
        shapes = {"encoder.layers.0.weight_ih_l0": (8, 5), "embedders.1.conv.weight": (4, 3, 3)}
        masks = MaskSet({task: {n: torch.rand(s, generator=generator) < 0.5 for n, s in shapes.items()}
                         for task in ("ner", "pos")})
        masks.save(tmp_path, {"ner": {"round": 5, "dev_score": 90.35, "config": {"lr": 0.1}}})
        assert RunPaths(tmp_path).mask("ner").is_file() and RunPaths(tmp_path).mask_report("pos").is_file()
        assert not list((tmp_path / "masks").glob(".*"))  # no temporary files left behind

        loaded = MaskSet.load(tmp_path, shapes)
        assert loaded.tasks == ["ner", "pos"]
        for task in masks.tasks:
            for name in shapes:
                assert loaded[task][name].dtype == torch.bool
                assert torch.equal(loaded[task][name], masks[task][name])

        report = read_mask_report(tmp_path, "ner")
        assert report == json.loads(RunPaths(tmp_path).mask_report("ner").read_text())
        assert report["task"] == "ner" and report["true_means"] == "kept"
        assert report["round"] == 5 and report["dev_score"] == 90.35 and report["config"] == {"lr": 0.1}
        assert report["kept"] == masks.kept_count("ner") and report["total"] == 40 + 36
        assert report["kept_fraction"] == masks.kept_fraction("ner")
        assert list(report["tensors"]) == list(shapes)
        for name, shape in shapes.items():
            entry = report["tensors"][name]
            assert entry["shape"] == list(shape)
            assert entry["kept"] == int(masks["ner"][name].sum())
            assert entry["kept_fraction"] == masks.kept_fraction_per_tensor("ner")[name]
        assert read_mask_report(tmp_path, "pos")["round"] is None

    def test_report_metadata_cannot_overwrite_computed_keys(self, tmp_path) -> None:
        with pytest.raises(ValueError, match="kept_fraction"):
            HAND_MASKS.save(tmp_path, {"pos": {"kept_fraction": 1.0}})

    def test_load_selected_tasks_in_expected_order(self, tmp_path) -> None:
        HAND_MASKS.save(tmp_path)
        loaded = MaskSet.load(tmp_path, {"y": (4,), "x": (2, 2)}, tasks=["chunk"])
        assert loaded.tasks == ["chunk"] and loaded.names == ["y", "x"]

    @pytest.mark.parametrize("expected, error, message", [
        ({"x": (2, 2)}, ConfigError, "present for 'y'"),
        ({"x": (2, 2), "y": (4,), "z": (3,)}, ConfigError, "missing for 'z'"),
        ({"x": (2, 2), "y": (5,)}, ConfigError, r"shape \(4,\) but the model's tensor is \(5,\)"),
    ])
    def test_load_mismatch(self, tmp_path, expected, error, message) -> None:
        HAND_MASKS.save(tmp_path)
        with pytest.raises(error, match=message):
            MaskSet.load(tmp_path, expected)

    def test_load_broken_files(self, tmp_path) -> None:
        with pytest.raises(RunDirError, match="does not exist"):
            MaskSet.load(tmp_path, {"x": (2, 2)})
        HAND_MASKS.save(tmp_path)
        with pytest.raises(RunDirError, match="no mask for task 'srl'"):
            MaskSet.load(tmp_path, {"x": (2, 2), "y": (4,)}, tasks=["srl"])
        torch.save({"x": torch.ones(2, 2), "y": torch.ones(4, dtype=torch.bool)}, RunPaths(tmp_path).mask("pos"))
        with pytest.raises(RunDirError, match="not torch.bool"):
            MaskSet.load(tmp_path, {"x": (2, 2), "y": (4,)}, tasks=["pos"])
        RunPaths(tmp_path).mask("pos").write_bytes(b"not a checkpoint")
        with pytest.raises(RunDirError, match="cannot read"):
            MaskSet.load(tmp_path, {"x": (2, 2), "y": (4,)}, tasks=["pos"])
