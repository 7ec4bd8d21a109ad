"""Written contracts per kind, the unknown-name error of every kind, and nested registry fields.

Registration tests use fresh registries (registering into the global ones would leak into
later tests); the unknown-name tests validate configs against the real schema.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest

from sparse_sharing.config.schema import validate_experiment
from sparse_sharing.errors import ConfigError, PluginError
from sparse_sharing.files import check_loads_safely
from sparse_sharing.registry import ALL_KINDS, ComponentConfig, Nested, Registry, contracts


class HeadConfig(ComponentConfig):
    type: Literal["half_head"]


def heads() -> Registry:
    return Registry("head", "Heads for the tests.", contracts.Head)


def test_a_class_without_the_contracts_methods_is_refused_at_registration() -> None:
    registry = heads()
    with pytest.raises(PluginError) as caught:

        @registry.register("half_head", config=HeadConfig)
        class HalfHead:  # loss but no decode
            def __init__(self, config: HeadConfig) -> None:
                pass

            def loss(self, features: Any, tags: Any, mask: Any) -> Any:
                return 0

    message = str(caught.value)
    assert "HalfHead" in message and "'half_head'" in message and "head contract" in message
    assert "`decode`" in message and "`loss`" not in message
    assert registry.names() == []


def test_what_a_factory_builds_must_meet_the_contract_attributes_included() -> None:
    encoders = Registry("encoder", "Encoders for the tests.", contracts.Encoder, runtime=("input_dim",))

    class NoDimConfig(ComponentConfig):
        type: Literal["no_dim"]

    class NoDim:
        def forward(self, x: Any, lengths: Any) -> Any:
            return x

    @encoders.register("no_dim", config=NoDimConfig)
    def build(config: NoDimConfig, input_dim: int) -> NoDim:
        return NoDim()

    with pytest.raises(PluginError, match=r"encoder 'no_dim' .* lacks `output_dim`"):
        encoders.build(NoDimConfig(type="no_dim"), input_dim=3)


def test_every_builtin_component_meets_its_contract() -> None:
    for registry in ALL_KINDS.values():
        for entry in registry.entries():
            if isinstance(entry.factory, type) and isinstance(registry.contract, type):
                missing = [m for m in contracts_methods(registry) if not callable(getattr(entry.factory, m, None))]
                assert missing == [], f"{registry.kind} '{entry.name}' lacks {missing}"


def contracts_methods(registry: Registry) -> list[str]:
    from sparse_sharing.registry.registry import contract_methods

    return contract_methods(registry.contract)


class Opaque:
    """An object of the sampler's own class: pickled by reference, which the safe loader refuses."""


def test_a_sampler_state_the_safe_loader_refuses_is_caught_when_it_is_made() -> None:
    check_loads_safely({"rng": {"state": 2**100, "name": "PCG64"}, "position": [1, 2]}, "sampler 'fine'")
    with pytest.raises(PluginError, match=r"sampler 'opaque'.*weights_only=True"):
        check_loads_safely({"schedule": Opaque()}, "sampler 'opaque'")


# --- a component config naming a component of another kind ---------------------------------

class InnerAConfig(ComponentConfig):
    type: Literal["a"]


class InnerBConfig(ComponentConfig):
    type: Literal["b"]
    size: int = 1


def test_a_nested_field_takes_components_registered_after_its_class_was_defined() -> None:
    inner: Registry = Registry("inner", "Inner components.")
    inner.register("a", config=InnerAConfig)(lambda config: config)
    outer: Registry = Registry("outer", "Outer components.")

    class OuterConfig(ComponentConfig):
        type: Literal["outer"]
        part: Annotated[ComponentConfig, Nested(inner)] = InnerAConfig(type="a")

    outer.register("outer", config=OuterConfig)(lambda config: config)
    inner.register("b", config=InnerBConfig)(lambda config: config)  # a plugin, imported later

    from pydantic import TypeAdapter

    adapter = TypeAdapter(outer.union())
    parsed = adapter.validate_python({"type": "outer", "part": {"type": "b", "size": 3}})
    assert isinstance(parsed, OuterConfig) and parsed.part == InnerBConfig(type="b", size=3)
    assert adapter.validate_python({"type": "outer"}).part == InnerAConfig(type="a")
    with pytest.raises(Exception, match="'c' is not a registered inner. Registered: a, b."):
        adapter.validate_python({"type": "outer", "part": {"type": "c"}})


# --- one error for an unknown name, whatever the kind ---------------------------------------

BASE: dict[str, Any] = {
    "tasks": {"pos": {
        "dataset_reader": {"type": "conll", "tag_column": 1},
        "train_path": "train.txt", "dev_path": "dev.txt",
        "metric": {"type": "accuracy"}, "head": {"type": "softmax"},
    }},
    "model": {
        "token_embedders": [{"type": "word", "dim": 4, "pretrained": {"source": "file", "path": "v.txt"}}],
        "encoder": {"type": "bilstm"},
        "sharing": {"type": "sparse"},
    },
    "masks": {"type": "search", "steps_per_round": 1, "pruner": {"type": "magnitude"},
              "selection": {"type": "best_dev"}},
    "trainer": {"num_epochs": 1, "optimizer": {"type": "sgd"}, "lr_scheduler": {"type": "constant"},
                "sampler": {"type": "uniform"}, "callbacks": [{"type": "checkpoint"}]},
}

WHERE = {
    "dataset_reader": ("tasks", "pos", "dataset_reader"),
    "metric": ("tasks", "pos", "metric"),
    "head": ("tasks", "pos", "head"),
    "token_embedder": ("model", "token_embedders", 0),
    "pretrained_vectors": ("model", "token_embedders", 0, "pretrained"),
    "encoder": ("model", "encoder"),
    "sharing": ("model", "sharing"),
    "mask": ("masks",),
    "pruner": ("masks", "pruner"),
    "selection": ("masks", "selection"),
    "optimizer": ("trainer", "optimizer"),
    "lr_scheduler": ("trainer", "lr_scheduler"),
    "sampler": ("trainer", "sampler"),
    "callback": ("trainer", "callbacks", 0),
}


def test_the_base_config_is_valid_and_names_every_kind() -> None:
    validate_experiment(BASE)
    assert set(WHERE) == set(ALL_KINDS)


@pytest.mark.parametrize("kind", sorted(WHERE))
def test_an_unknown_name_of_every_kind_gets_the_registry_error(kind: str) -> None:
    raw = copy.deepcopy(BASE)
    block = raw
    for key in WHERE[kind]:
        block = block[key]
    tag = ALL_KINDS[kind].tag
    block[tag] = "zzz_plugin"
    with pytest.raises(ConfigError) as caught:
        validate_experiment(raw, source="x.jsonnet")
    path = ".".join(str(k) for k in (*WHERE[kind], tag))
    registered = ", ".join(ALL_KINDS[kind].names())
    assert str(caught.value).splitlines()[1:] == [
        f"  {path}: 'zzz_plugin' is not a registered {kind}. Registered: {registered}. A plugin's {kind} is "
        f"loaded by --include-package PKG or by an entry point in the group 'sparse_sharing.plugins'."
    ]


# --- the loop tells the sampler where training is -------------------------------------------

class SpyConfig(ComponentConfig):
    type: Literal["spy"]


class SpySampler:
    """Round robin that records what the trainer tells it."""

    def __init__(self, config: SpyConfig, sizes: dict[str, int], seed: int) -> None:
        self.tasks, self.told = list(sizes), []

    def next_task(self, step: int, epoch: int) -> str:
        self.told.append((step, epoch))
        return self.tasks[step % len(self.tasks)]

    def state_dict(self) -> dict[str, Any]:
        return {"told": [list(t) for t in self.told]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.told = [tuple(t) for t in state["told"]]


def test_the_sampler_is_told_the_step_and_the_epoch(tmp_path: Path, tiny_config: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from sparse_sharing.config.loading import load_experiment
    from sparse_sharing.paths import RunPaths
    from sparse_sharing.registry import SAMPLERS
    from sparse_sharing.registry.registry import Entry
    from sparse_sharing.training.experiment import build_experiment
    from sparse_sharing.training.trainer import Trainer

    monkeypatch.setitem(SAMPLERS._entries, "spy", Entry("spy", SpySampler, SpyConfig))
    _, config = load_experiment(tiny_config)
    config = config.model_copy(update={"trainer": config.trainer.model_copy(update={"sampler": SpyConfig(type="spy")})})
    experiment = build_experiment(config)
    trainer = Trainer(config, experiment.model, experiment.data, experiment.vocab, RunPaths(tmp_path / "run"), [],
                      experiment.tasks, device=experiment.device)
    trainer.train()
    per_epoch = trainer.steps_per_epoch
    assert trainer.sampler.told == [(step, step // per_epoch) for step in range(2 * per_epoch)]
