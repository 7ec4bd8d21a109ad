"""Loading a config: Jsonnet evaluation, ``-o`` overrides and readable validation errors."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional, Union

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sparse_sharing.config.errors import format_validation_error
from sparse_sharing.config.jsonnet import evaluate_jsonnet, parse_ext_vars
from sparse_sharing.config.loading import load_experiment
from sparse_sharing.config.overrides import apply_overrides, parse_overrides
from sparse_sharing.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- Jsonnet -----------------------------------------------------------------------------


def test_import_from_library_dir_and_next_to_file(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    write(lib / "defaults.libsonnet", "{ trainer: { num_epochs: 10, patience: 3 } }")
    write(tmp_path / "exp" / "local.libsonnet", "{ dim: 50 }")
    config = write(
        tmp_path / "exp" / "x.jsonnet",
        """
        local defaults = import 'defaults.libsonnet';
        local local_ = import 'local.libsonnet';
        defaults + { trainer+: { num_epochs: 3 }, dim: local_.dim }
        """,
    )
    assert evaluate_jsonnet(config, jpathdir=[lib]) == {"trainer": {"num_epochs": 3, "patience": 3}, "dim": 50}


def test_plain_json_file(tmp_path: Path) -> None:
    assert evaluate_jsonnet(write(tmp_path / "x.json", '{"a": [1, 2]}')) == {"a": [1, 2]}


def test_ext_vars_are_passed(tmp_path: Path) -> None:
    config = write(tmp_path / "x.jsonnet", "{ train: std.extVar('data_dir') + '/train.txt' }")
    assert evaluate_jsonnet(config, {"data_dir": "data/conll"}) == {"train": "data/conll/train.txt"}


def test_environment_is_not_visible_as_ext_vars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("data_dir", "from-env")
    config = write(tmp_path / "x.jsonnet", "{ d: std.extVar('data_dir') }")
    with pytest.raises(ConfigError):
        evaluate_jsonnet(config)


def test_missing_ext_var_says_how_to_pass_it(tmp_path: Path) -> None:
    config = write(tmp_path / "x.jsonnet", "{\n  train: std.extVar('data_dir'),\n}\n")
    with pytest.raises(ConfigError) as caught:
        evaluate_jsonnet(config)
    message = str(caught.value)
    assert "--ext-var data_dir=VALUE" in message
    assert f"{config}:2:" in message
    assert "During manifestation" not in message


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    config = write(tmp_path / "x.jsonnet", "{\n  a: 1,\n  b: 2\n  c: 3,\n}\n")
    with pytest.raises(ConfigError) as caught:
        evaluate_jsonnet(config)
    message = str(caught.value)
    assert message.startswith(f"{config}:4:3 ")
    assert "STATIC ERROR" not in message


def test_runtime_error_in_library_points_back_to_the_config(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    write(lib / "l.libsonnet", "{ f(x):: error 'bad ' + x }")
    config = write(tmp_path / "x.jsonnet", "local l = import 'l.libsonnet';\n{\n  a: l.f('q'),\n}\n")
    with pytest.raises(ConfigError) as caught:
        evaluate_jsonnet(config, jpathdir=[lib])
    first, *rest = str(caught.value).splitlines()
    assert first.startswith(f"{lib / 'l.libsonnet'}:1:") and first.endswith("bad q")
    assert any(line.strip().startswith(f"from {config}:3:") for line in rest)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found: .*nope.jsonnet"):
        evaluate_jsonnet(tmp_path / "nope.jsonnet")


def test_result_must_be_an_object(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must evaluate to a JSON object, got list"):
        evaluate_jsonnet(write(tmp_path / "x.jsonnet", "[1, 2]"))


def test_parse_ext_vars() -> None:
    assert parse_ext_vars(["data_dir=data/x=y", "empty="]) == {"data_dir": "data/x=y", "empty": ""}
    for bad in (["data_dir"], ["=x"], ["a=1", "a=2"]):
        with pytest.raises(ConfigError):
            parse_ext_vars(bad)


# --- Overrides ---------------------------------------------------------------------------


@pytest.fixture
def config() -> dict:
    return {
        "trainer": {"num_epochs": 10, "optimizer": {"type": "adam", "lr": 0.001}},
        "model": {
            "sharing": {"type": "sparse", "prune_rate": 0.1},
            "embedders": [{"dim": 50}, {"dim": 25}],
        },
        "data": {"train": "a.txt"},
    }


def test_json_override_merges_nested_objects(config: dict) -> None:
    overrides = parse_overrides(['{"trainer": {"num_epochs": 3, "optimizer": {"lr": 0.1}}}'])
    assert overrides == [(("trainer", "num_epochs"), 3), (("trainer", "optimizer", "lr"), 0.1)]
    result = apply_overrides(config, overrides)
    assert result["trainer"] == {"num_epochs": 3, "optimizer": {"type": "adam", "lr": 0.1}}
    assert config["trainer"]["num_epochs"] == 10, "the input config must not be modified"


def test_dotted_override_values(config: dict) -> None:
    overrides = parse_overrides(["trainer.num_epochs=3", "data.train=conll/train.txt", "trainer.optimizer.lr=1e-2"])
    assert overrides == [
        (("trainer", "num_epochs"), 3),
        (("data", "train"), "conll/train.txt"),
        (("trainer", "optimizer", "lr"), 0.01),
    ]
    result = apply_overrides(config, overrides)
    assert result["trainer"]["num_epochs"] == 3 and result["data"]["train"] == "conll/train.txt"


def test_list_index_in_path(config: dict) -> None:
    result = apply_overrides(config, parse_overrides(["model.embedders.1.dim=30"]))
    assert result["model"]["embedders"] == [{"dim": 50}, {"dim": 30}]
    with pytest.raises(ConfigError, match="'model.embedders' is a list of 2"):
        apply_overrides(config, parse_overrides(["model.embedders.2.dim=30"]))


def test_later_overrides_win(config: dict) -> None:
    result = apply_overrides(config, parse_overrides(["trainer.num_epochs=3", '{"trainer": {"num_epochs": 4}}']))
    assert result["trainer"]["num_epochs"] == 4


def test_unknown_path_is_an_error_with_suggestion(config: dict) -> None:
    with pytest.raises(ConfigError) as caught:
        apply_overrides(config, parse_overrides(["trainer.num_epoch=3"]))
    assert str(caught.value) == "-o trainer.num_epoch=3: no key 'num_epoch' in 'trainer'. Did you mean 'num_epochs'?"
    with pytest.raises(ConfigError, match=r"no key 'trainr' in the config\. Did you mean 'trainer'\?"):
        apply_overrides(config, parse_overrides(['{"trainr": {"num_epochs": 3}}']))
    with pytest.raises(ConfigError, match="not an object"):
        apply_overrides(config, parse_overrides(["trainer.num_epochs.x=3"]))


def test_json_object_value_replaces_subtree(config: dict) -> None:
    result = apply_overrides(config, parse_overrides(['model.sharing={"type": "hard"}']))
    assert result["model"]["sharing"] == {"type": "hard"}
    # A new subtree can then be refined key by key.
    result = apply_overrides(config, parse_overrides(['model.sharing={"type": "hard", "dim": 1}', "model.sharing.dim=2"]))
    assert result["model"]["sharing"] == {"type": "hard", "dim": 2}


@pytest.mark.parametrize("item", ["trainer.num_epochs", "trainer..x=1", "=3", '{"trainer": '])
def test_malformed_overrides(item: str) -> None:
    with pytest.raises(ConfigError, match="-o "):
        parse_overrides([item])


def test_override_adds_a_key_the_schema_accepts(config: dict) -> None:
    def schema_keys(raw: dict, path: tuple[str, ...]) -> list[str] | None:
        return ["num_epochs", "optimizer", "compile", "grad_clipping"] if path == ("trainer",) else None

    result = apply_overrides(config, parse_overrides(["trainer.compile=true"]), schema_keys)
    assert result["trainer"] == {**config["trainer"], "compile": True}
    with pytest.raises(ConfigError) as caught:
        apply_overrides(config, parse_overrides(["trainer.compil=true"]), schema_keys)
    assert str(caught.value) == "-o trainer.compil=true: no key 'compil' in 'trainer'. Did you mean 'compile'?"
    # An object left out is set whole; a path through it says so.
    with pytest.raises(ConfigError, match=r"leaves 'trainer.grad_clipping' out .* -o 'trainer.grad_clipping=\{"):
        apply_overrides(config, parse_overrides(["trainer.grad_clipping.max=1"]), schema_keys)
    result = apply_overrides(config, parse_overrides(['trainer.grad_clipping={"max": 1}',
                                                      "trainer.grad_clipping.max=2"]), schema_keys)
    assert result["trainer"]["grad_clipping"] == {"max": 2}
    # Without a schema only the config's own keys can be changed.
    with pytest.raises(ConfigError, match="no key 'compile'"):
        apply_overrides(config, parse_overrides(["trainer.compile=true"]))


def test_override_of_a_default_on_a_real_config(tiny_config: Path) -> None:
    """-o reaches keys the config leaves at the schema's default, anywhere in the schema (a
    component's own option included), but never adds a key the schema does not have there."""
    _, config = load_experiment(tiny_config, overrides=["trainer.compile=true", "trainer.selection=mean",
                                                        "model.encoder.implementation=packed"])
    assert config.trainer.compile is True and config.trainer.selection == "mean"
    assert config.model.encoder.implementation == "packed"
    raw, config = load_experiment(tiny_config, overrides=['trainer.grad_clipping={"max": 1.5}'])
    assert raw["trainer"]["grad_clipping"] == {"max": 1.5} and config.trainer.grad_clipping.type == "norm"
    with pytest.raises(ConfigError, match="no key 'precison' in 'trainer'. Did you mean 'precision'"):
        load_experiment(tiny_config, overrides=["trainer.precison=bf16"])
    with pytest.raises(ConfigError, match="no key 'pos2' in 'tasks'"):
        load_experiment(tiny_config, overrides=["tasks.pos2.loss_weight=2"])


# --- Validation errors -------------------------------------------------------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Encoder(Strict):
    hidden_size: int
    dropout: float = 0.0


class Hard(Strict):
    type: Literal["hard"]
    encoder: Encoder


class Single(Strict):
    type: Literal["single"]


Sharing = Annotated[Union[Hard, Single], Field(discriminator="type")]


class Task(Strict):
    labels: int
    encoder: Optional[Encoder] = None


class Model(Strict):
    sharing: Sharing


class Trainer(Strict):
    num_epochs: int = 10
    optimizer: str


class Experiment(Strict):
    model: Model
    trainer: Trainer
    tasks: dict[str, Task] = {}
    decoders: list[Sharing] = []


GOOD = {"model": {"sharing": {"type": "single"}}, "trainer": {"optimizer": "adam"}}


def error_lines(data: dict, source: str = "x.jsonnet") -> list[str]:
    with pytest.raises(ValidationError) as caught:
        Experiment.model_validate(data)
    header, *lines = format_validation_error(caught.value, Experiment, source).splitlines()
    assert header == f"Invalid config {source}:"
    return [line.strip() for line in lines]


def test_typo_key_inside_tagged_union_gets_suggestion() -> None:
    data = {**GOOD, "model": {"sharing": {"type": "hard", "encoder": {"hidden_size": 3, "hidden_sise": 4}}}}
    assert error_lines(data) == ["model.sharing.encoder.hidden_sise: unknown key. Did you mean 'hidden_size'?"]


def test_unknown_key_without_close_match_lists_allowed_keys() -> None:
    assert error_lines({**GOOD, "trainer": {"optimizer": "adam", "zzz": 1}}) == [
        "trainer.zzz: unknown key. Allowed: num_epochs, optimizer."
    ]


def test_wrong_type() -> None:
    data = {**GOOD, "model": {"sharing": {"type": "hard", "encoder": {"hidden_size": "big"}}}}
    assert error_lines(data) == ["model.sharing.encoder.hidden_size: expected an integer, got 'big'"]


def test_missing_key() -> None:
    assert error_lines({**GOOD, "trainer": {}}) == ["trainer.optimizer: missing required key"]


def test_bad_tag_gets_registered_names_and_suggestion() -> None:
    [line] = error_lines({**GOOD, "model": {"sharing": {"type": "hadr"}}})
    assert line == (
        "model.sharing.type: 'hadr' is not a registered sharing. Registered: hard, single. Did you mean 'hard'? "
        "A plugin's sharing is loaded by --include-package PKG or by an entry point in the group "
        "'sparse_sharing.plugins'.")


def test_missing_tag_lists_registered_names() -> None:
    assert error_lines({**GOOD, "model": {"sharing": {}}}) == [
        "model.sharing.type: missing required key. Registered sharing: hard, single"
    ]


def test_nested_path_inside_dict_and_list_of_models() -> None:
    data = {
        **GOOD,
        "tasks": {"pos": {"labels": 3, "encoder": {"hidden_size": 2, "dropuot": 0.1}}},
        "decoders": [{"type": "single"}, {"type": "hard", "encoder": {"hidden_size": 2.5}}],
    }
    assert error_lines(data) == [
        "tasks.pos.encoder.dropuot: unknown key. Did you mean 'dropout'?",
        "decoders.1.encoder.hidden_size: expected an integer, got 2.5",
    ]


def test_without_model_or_source_paths_still_print() -> None:
    with pytest.raises(ValidationError) as caught:
        Experiment.model_validate({**GOOD, "trainer": {}})
    assert format_validation_error(caught.value) == "Invalid config:\n  trainer.optimizer: missing required key"
