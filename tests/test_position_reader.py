"""The synthetic `position` task: its labels, its errors, and a tiny run through `ssl train`."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from conftest import SAMPLE, run_ssl
from sparse_sharing.components.data.position import PositionReader, PositionReaderConfig, position_labels
from sparse_sharing.components.data.sentence import Sentence
from sparse_sharing.errors import DataError
from sparse_sharing.registry import DATASET_READERS



def reader(**kwargs) -> PositionReader:
    return DATASET_READERS.build(PositionReaderConfig(type="position", **kwargs))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_registered_and_described():
    assert isinstance(reader(), PositionReader)
    assert DATASET_READERS.get("position").config is PositionReaderConfig
    assert all(field.description for field in PositionReaderConfig.model_fields.values())


def test_labels_are_one_based_positions_capped_at_max_position(tmp_path):
    path = write(tmp_path, SAMPLE)
    sentences = reader(max_position=4).read(path)
    assert sentences == [
        Sentence(("EU", "rejects", "German", "call", "."), ("1", "2", "3", "4+", "4+"), f"{path}:3"),
        Sentence(("Peter", "Blackburn"), ("1", "2"), f"{path}:9"),
    ]
    assert reader().read(path)[0].tags == ("1", "2", "3", "4", "5")  # default cap 20: none reached
    assert reader().tag_scheme == "none" and reader().file_scheme == "none"


def test_position_labels():
    assert position_labels(0, 3) == ()
    assert position_labels(2, 3) == ("1", "2")
    assert position_labels(3, 3) == ("1", "2", "3+")
    assert position_labels(25, 20)[18:] == ("19", "20+", "20+", "20+", "20+", "20+", "20+")
    assert len(set(position_labels(100, 20))) == 20  # max_position labels in all


def test_word_column_and_unlabelled_reading(tmp_path):
    path = write(tmp_path, "1 EU\n2 rejects\n\n1 Peter\n")
    assert reader(word_column=1).read(path)[0].words == ("EU", "rejects")
    assert [s.tags for s in reader(word_column=1).read(path, with_tags=False)] == [None, None]
    assert reader().read_words(path)[1] == Sentence(("1",), None, f"{path}:4")


def test_config_checks():
    with pytest.raises(ValidationError, match="greater than or equal to 2"):
        PositionReaderConfig(type="position", max_position=1)
    with pytest.raises(ValidationError, match="word_column 4 is out of range for num_columns 4"):
        PositionReaderConfig(type="position", word_column=4, num_columns=4)
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        PositionReaderConfig(type="position", tag_column=3)


def test_malformed_files_name_file_and_line(tmp_path):
    path = write(tmp_path, SAMPLE.replace("call NN I-NP O", "call NN I-NP"))
    with pytest.raises(DataError) as info:
        reader(num_columns=4).read(path)
    assert str(info.value) == f"{path}:6: expected 4 columns, found 3: 'call NN I-NP'"
    with pytest.raises(DataError, match=r"data.txt:6: expected 4 columns \(as on line 3\), found 3"):
        reader().read(path)
    with pytest.raises(DataError, match=r"data.txt:3: word column 7 is out of range for a line with 4 columns"):
        reader(word_column=7).read(write(tmp_path, SAMPLE))
    with pytest.raises(DataError, match=r"data.txt: no sentences"):
        reader().read(write(tmp_path, "-DOCSTART- -X- O O\n\n"))
    with pytest.raises(DataError, match="data file not found"):
        reader().read(tmp_path / "nope.txt")
    path.write_bytes(b"a O\n\ncaf\xe9 O\n")
    with pytest.raises(DataError, match=r"data.txt:3: not UTF-8 text"):
        reader().read(path)


def test_trains_beside_ner_through_the_cli(tmp_path, tiny_config):
    """NER and position prediction on the same tiny files, position's dev held out of train."""
    config = tmp_path / "negative_transfer.jsonnet"
    config.write_text(f"""
local tiny = import '{tiny_config.name}';
tiny + {{
  tasks: {{
    ner: tiny.tasks.ner,
    position: tiny.tasks.ner + {{
      dataset_reader: {{ type: 'position', num_columns: 4, max_position: 5 }},
      dev_path: null,
      dev_from_train: {{ fraction: 0.25 }},
      metric: {{ type: 'accuracy' }},
      head: {{ type: 'softmax' }},
    }},
  }},
  trainer+: {{ num_epochs: 1 }},
}}
""")
    run = tmp_path / "run"
    result = run_ssl("train", config, "-s", run)
    assert result.returncode == 0, result.stderr
    assert "position: dev-best epoch 1" in result.stdout
    labels = json.loads((run / "vocabulary.json").read_text())["labels"]
    assert labels["position"] == ["1", "2", "3", "4", "5+"]
    assert "task position: train 30, dev 10, test 15 sentences (dev held out of" in result.stderr
    accuracy = json.loads((run / "metrics.json").read_text())["tasks"]["position"]["dev"]
    assert 0.0 <= accuracy <= 100.0
