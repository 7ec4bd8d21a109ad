"""The plugin API as a plugin author meets it in-process: what registration refuses, and the old forms it adapts.

Registrations go into fresh registries of each kind (same contract, runtime keywords and config
base as the real one), so nothing leaks into later tests.
"""
from __future__ import annotations

import warnings
from typing import Any, Literal, Sequence

import pytest
from pydantic import BaseModel, create_model

from sparse_sharing.components.metrics.base import Metric
from sparse_sharing.components.pruners.pruners import Pruner, PruningScheduleConfig
from sparse_sharing.errors import PluginError
from sparse_sharing.registry import (
    ALL_KINDS,
    METRICS,
    PRUNERS,
    SAMPLERS,
    ComponentConfig,
    PluginDeprecationWarning,
    Registry,
)
from sparse_sharing.registry.registry import contract_methods
from sparse_sharing.registry.signatures import is_protocol


def fresh(kind: str) -> Registry:
    real = ALL_KINDS[kind]
    return Registry(real.kind, "for the tests", real.contract, real.tag, real.runtime, real.config_base)


def config_class(registry: Registry, name: str) -> type[BaseModel]:
    return create_model(f"{name.title()}Config", __base__=registry.config_base,
                        **{registry.tag: (Literal[name], ...)})  # type: ignore[call-overload]


def accepting(*args: Any, **kwargs: Any) -> None:
    """Fits any call: the methods a test does not break."""


def plugin_class(registry: Registry, broken: str | None) -> type:
    """A class with every contract method, the ``broken`` one requiring five arguments no call passes."""
    methods = contract_methods(registry.contract)
    namespace: dict[str, Any] = {name: (lambda self, a, b, c, d, e: None) if name == broken else accepting
                                 for name in methods}
    namespace["__init__"] = lambda self, config, **runtime: None
    bases = (registry.contract,) if not is_protocol(registry.contract) else ()
    return type("Plugin", bases, namespace)


PROTOCOL_KINDS = sorted(k for k, r in ALL_KINDS.items() if is_protocol(r.contract))


def test_every_kind_but_the_torch_ones_has_a_written_contract() -> None:
    assert set(ALL_KINDS) - set(PROTOCOL_KINDS) == {"optimizer", "lr_scheduler"}


@pytest.mark.parametrize("kind", PROTOCOL_KINDS)
def test_a_contract_method_with_a_wrong_signature_is_refused_at_registration(kind: str) -> None:
    registry = fresh(kind)
    registry.register("fits", config=config_class(registry, "fits"))(plugin_class(registry, None))
    for method in [m for m in contract_methods(registry.contract) if callable(getattr(registry.contract, m))]:
        with pytest.raises(PluginError) as caught:
            registry.register("wrong", config=config_class(registry, "wrong"))(plugin_class(registry, method))
        message = str(caught.value)
        assert f"{kind} 'wrong' (" in message and f"`{method}(self, a, b, c, d, e)` cannot take" in message
        assert f"has the contract's `{method}(self" in message and f"docs/plugins.md#{kind}" in message
    assert registry.names() == ["fits"]


@pytest.mark.parametrize("kind", sorted(ALL_KINDS))
def test_a_factory_that_cannot_take_the_runtime_keywords_is_refused(kind: str) -> None:
    registry = fresh(kind)

    def build(config: Any, unexpected: int) -> None:
        """Requires an argument the framework never passes."""

    with pytest.raises(PluginError) as caught:
        registry.register("wrong", config=config_class(registry, "wrong"))(build)
    expected = f"build(config{''.join(f', {k}' for k in registry.runtime)})"
    assert f"the {kind} factory is called as `{expected}`" in str(caught.value)
    assert "`build(config: Any, unexpected: int) -> None`" in str(caught.value)


def test_a_metric_that_leaves_compute_abstract_is_refused() -> None:
    class NoCompute(Metric):
        def reset(self) -> None: ...

        def update(self, predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> None: ...

    with pytest.raises(PluginError, match=r"metric 'no_compute' .*NoCompute\) is abstract: it leaves `compute` "
                                          r"unimplemented.*docs/plugins.md#metric"):
        METRICS.register("no_compute", config=config_class(METRICS, "no_compute"))(NoCompute)
    assert "no_compute" not in METRICS.names()


def test_a_pruner_that_defines_score_instead_of_scores_is_refused() -> None:
    class Misnamed(Pruner):
        def score(self, weights: Any, mask: Any) -> Any: ...

    config = create_model("MisnamedConfig", __base__=PruningScheduleConfig, type=(Literal["misnamed"], ...))
    with pytest.raises(PluginError, match="is abstract: it leaves `scores` unimplemented"):
        PRUNERS.register("misnamed", config=config)(Misnamed)


def test_a_config_not_derived_from_component_config_is_refused() -> None:
    class Loose(BaseModel):  # extra keys ignored: a misspelt option would be kept silently
        type: Literal["loose"]

    class Unforbidden(ComponentConfig, extra="ignore"):
        type: Literal["unforbidden"]

    for config in (Loose, Unforbidden):
        with pytest.raises(PluginError, match=r"must derive from sparse_sharing.registry.ComponentConfig and keep "
                                              r"its extra='forbid'"):
            SAMPLERS.register(config.model_fields["type"].annotation.__args__[0], config=config)


# --- the old sampler form keeps working ---------------------------------------------------------

class CycleConfig(ComponentConfig):
    type: Literal["cycle"]


class OldCycle:
    """Written for plugin API 1: ``next_task()`` is not told the step; it counts itself."""

    def __init__(self, config: Any, sizes: dict[str, int], seed: int) -> None:
        self.tasks, self.calls = list(sizes), 0

    def next_task(self) -> str:
        self.calls += 1
        return self.tasks[(self.calls * 7) % len(self.tasks)]

    def state_dict(self) -> dict[str, Any]:
        return {"calls": self.calls}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.calls = state["calls"]


class NewCycle(OldCycle):
    def next_task(self, step: int, epoch: int) -> str:  # type: ignore[override]
        return super().next_task()


def test_an_old_form_sampler_is_adapted_with_one_warning_and_samples_as_its_new_twin() -> None:
    registry = fresh("sampler")
    with pytest.warns(PluginDeprecationWarning) as caught:
        registry.register("cycle", config=CycleConfig)(OldCycle)
        old = [registry.build(CycleConfig(type="cycle"), sizes={"a": 3, "b": 2, "c": 5}, seed=1) for _ in range(3)][-1]
    assert len(caught) == 1
    assert "`next_task(self) -> str` is the form of plugin API 1" in str(caught[0].message)
    assert "`next_task(self, step: int, epoch: int) -> str`" in str(caught[0].message)
    assert caught[0].filename == __file__  # points at the plugin's method
    twins = Registry("sampler", "", SAMPLERS.contract, runtime=SAMPLERS.runtime)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        twins.register("cycle", config=CycleConfig)(NewCycle)
    new = twins.build(CycleConfig(type="cycle"), sizes={"a": 3, "b": 2, "c": 5}, seed=1)
    sequence = [old.next_task(step, step // 4) for step in range(40)]
    assert sequence == [new.next_task(step, step // 4) for step in range(40)]
    assert len(set(sequence)) == 3


def test_an_old_form_metric_is_adapted_with_a_warning() -> None:
    with pytest.warns(PluginDeprecationWarning, match="implements `_add`, the form before plugin API 3"):
        class Counted(Metric):
            def reset(self) -> None:
                self.tokens = 0

            def _add(self, predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> None:
                self.tokens += sum(len(tags) for tags in gold)

            def compute(self) -> dict[str, float]:
                return {"score": float(self.tokens)}

    metric = Counted()
    metric.reset()
    metric.update([["O", "O"]], [["O", "B-X"]])
    assert metric.compute() == {"score": 2.0}
    with pytest.raises(ValueError, match="1 predicted tags for 2 gold tags"):
        metric.update([["O"]], [["O", "O"]])


def test_an_optional_argument_must_keep_the_contracts_keyword_name() -> None:
    """``reader.read(path, with_tags=False)``: the framework passes it by name."""
    registry = fresh("dataset_reader")

    class Renamed:
        tag_scheme = "none"

        def __init__(self, config: Any) -> None: ...

        def read(self, path: str, tags: bool = True) -> list: ...

        def read_words(self, path: str) -> list: ...

    with pytest.raises(PluginError, match=r"`read\(self, path: str, tags: bool = True\) -> list` cannot take the "
                                          r"framework's call; .*`read\(self, path: str, with_tags: bool = True\)"):
        registry.register("renamed", config=config_class(registry, "renamed"))(Renamed)

    class PositionalRenamed(Renamed):  # positional parameters may be named as the author likes
        def read(self, file: str, with_tags: bool = True) -> list: ...  # type: ignore[override]

    registry.register("fine", config=config_class(registry, "fine"))(PositionalRenamed)


@pytest.mark.parametrize("old", ["SharingStrategy", "MaskedSharing", "MaskSource", "Callback", "Metric",
                                 "TaskSampler", "Pruner"])
def test_a_contracts_former_name_still_imports_with_a_warning(old: str) -> None:
    import sparse_sharing.registry.contracts as contracts

    with pytest.warns(PluginDeprecationWarning, match=f"contracts.{old} is now {old}Contract"):
        former = getattr(contracts, old)
    assert former is getattr(contracts, f"{old}Contract")
    with pytest.raises(AttributeError):
        getattr(contracts, "NoSuchContract")


def test_the_mask_sources_registry_keeps_its_former_name_with_a_warning() -> None:
    import sparse_sharing.registry as registry

    with pytest.warns(PluginDeprecationWarning, match="MASKS is now MASK_SOURCES"):
        former = registry.MASKS
    assert former is registry.MASK_SOURCES


def test_a_batchs_padding_mask_keeps_its_former_name_with_a_warning() -> None:
    from sparse_sharing.components.data.batching import index_sentences
    from sparse_sharing.components.data.sentence import Sentence
    from sparse_sharing.components.data.vocabulary import Vocabulary

    sentences = [Sentence(("a", "b", "c"), None, "s1"), Sentence(("d",), None, "s2")]
    vocab = Vocabulary(["<pad>", "<unk>", "a", "b", "c", "d"], ["<pad>", "<unk>", "a", "b", "c", "d"], {}, False)
    batch = index_sentences(sentences, vocab, None).batch([0, 1])
    assert batch.padding_mask.tolist() == [[True, True, True], [True, False, False]]
    with pytest.warns(PluginDeprecationWarning, match="Batch.mask is now Batch.padding_mask"):
        assert batch.mask is batch.padding_mask
