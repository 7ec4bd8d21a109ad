"""The component registry and plugin loading.

In-process tests use a fresh ``Registry``: registering into the global ones would leak the
test's components into every later test of the session. Plugins are exercised through the
real CLI in a subprocess, where the global registries start clean.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Literal

import pytest

from conftest import run_ssl
from sparse_sharing.errors import ConfigError, PluginError
from sparse_sharing.registry import ComponentConfig, Registry


class ThingConfig(ComponentConfig):
    type: Literal["bilstm"]


class OtherThingConfig(ComponentConfig):
    type: Literal["transformer"]


@pytest.fixture
def things() -> Registry:
    registry: Registry = Registry("thing", "Things the tests register.")

    @registry.register("bilstm", config=ThingConfig)
    def build_bilstm(config: ThingConfig, size: int) -> tuple[str, int]:
        return ("bilstm", size)

    @registry.register("transformer", config=OtherThingConfig)
    def build_transformer(config: OtherThingConfig, size: int) -> tuple[str, int]:
        return ("transformer", size)

    return registry


def test_build_passes_runtime_facts_as_keywords(things: Registry) -> None:
    assert things.names() == ["bilstm", "transformer"]
    assert things.build(ThingConfig(type="bilstm"), size=3) == ("bilstm", 3)


def test_unknown_name_lists_registered_and_suggests_nearest(things: Registry) -> None:
    with pytest.raises(ConfigError) as caught:
        things.get("bilstn")
    message = str(caught.value)
    assert "'bilstn' is not a registered thing" in message
    assert "Registered: bilstm, transformer." in message
    assert "Did you mean 'bilstm'?" in message


def test_unknown_name_far_from_every_option_has_no_suggestion(things: Registry) -> None:
    with pytest.raises(ConfigError) as caught:
        things.get("zzz")
    assert "Did you mean" not in str(caught.value)
    assert "bilstm, transformer" in str(caught.value)


def test_duplicate_registration_names_both_factories(things: Registry) -> None:
    with pytest.raises(PluginError) as caught:

        @things.register("bilstm", config=ThingConfig)
        def another_bilstm(config: ThingConfig) -> None:
            return None

    message = str(caught.value)
    assert "thing 'bilstm'" in message
    assert "another_bilstm" in message  # the newcomer
    assert "build_bilstm" in message  # the one already there
    # The first registration is untouched.
    assert things.get("bilstm").factory.__name__ == "build_bilstm"


class PlainStrConfig(ComponentConfig):
    type: str


class WrongLiteralConfig(ComponentConfig):
    type: Literal["gru"]


class TwoLiteralsConfig(ComponentConfig):
    type: Literal["lstm", "gru"]


@pytest.mark.parametrize("config", [PlainStrConfig, WrongLiteralConfig, TwoLiteralsConfig])
def test_config_type_must_be_literal_of_registered_name(things: Registry, config: type[ComponentConfig]) -> None:
    """The ``type`` literal is the union discriminator; any other annotation would break the schema."""
    with pytest.raises(PluginError, match=r'type: Literal\["lstm"\]'):
        things.register("lstm", config=config)
    assert "lstm" not in things.names()


# --- plugins through the CLI ---------------------------------------------------------------

PLUGIN = '''
"""A user's package: a renamed hard sharing strategy and a renamed accuracy metric."""
from typing import Literal

from sparse_sharing.components.metrics.accuracy import Accuracy
from sparse_sharing.components.sharing.hard import HardSharing
from sparse_sharing.registry import METRICS, SHARING, ComponentConfig


class MyHardConfig(ComponentConfig):
    type: Literal["my_hard"]


@SHARING.register("my_hard", config=MyHardConfig)
class MyHard(HardSharing):
    pass


class MyAccuracyConfig(ComponentConfig):
    type: Literal["my_accuracy"]


@METRICS.register("my_accuracy", config=MyAccuracyConfig)
class MyAccuracy(Accuracy):
    name = "my_accuracy"
'''


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    package = tmp_path / "my_plugin"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    return tmp_path


def test_plugin_components_are_listed(plugin_dir: Path) -> None:
    result = run_ssl("components", "sharing", "--include-package", "my_plugin", cwd=plugin_dir)
    assert result.returncode == 0, result.stderr
    assert "my_hard" in result.stdout
    assert "hard" in result.stdout.replace("my_hard", "")  # the built-ins are still there


def test_plugin_components_train(plugin_dir: Path, tiny_config: Path) -> None:
    run_dir = plugin_dir / "run"
    result = run_ssl(
        "train", tiny_config, "-s", run_dir, "--include-package", "my_plugin",
        "-o", 'model.sharing={"type": "my_hard"}', "-o", 'tasks.pos.metric={"type": "my_accuracy"}',
        "-o", "trainer.num_epochs=1",
        cwd=plugin_dir,
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["finished"] is True
    assert metrics["strategy"] == "my_hard"
    assert set(metrics["tasks"]["pos"]["dev_metrics"]) == {"score", "accuracy"}


def test_missing_include_package_is_a_user_error(tmp_path: Path) -> None:
    result = run_ssl("components", "sharing", "--include-package", "does_not_exist", cwd=tmp_path)
    assert result.returncode == 2
    assert "--include-package does_not_exist: no module named 'does_not_exist'" in result.stderr
    assert "Traceback" not in result.stderr
