"""The synthetic `position` task: its labels, its errors, and a tiny run through `ssl train`."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from conftest import SAMPLE, run_ssl
from sparse_sharing.components.data.holdout import DevFromTrainConfig
from sparse_sharing.components.data.position import PositionReader, PositionReaderConfig, position_labels
from sparse_sharing.components.data.sentence import Sentence
from sparse_sharing.errors import DataError
from sparse_sharing.registry import DATASET_READERS
from sparse_sharing.registry.contracts import ClosedLabelReader
from sparse_sharing.training.data_setup import _read_task


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


def test_labels_are_one_based_positions(tmp_path):
    path = write(tmp_path, SAMPLE)
    assert reader().read(path) == [
        Sentence(("EU", "rejects", "German", "call", "."), ("1", "2", "3", "4", "5"), f"{path}:3"),
        Sentence(("Peter", "Blackburn"), ("1", "2"), f"{path}:9"),
    ]
    assert reader().tag_scheme == "none" and reader().file_scheme == "none"


def test_an_explicit_max_position_caps_the_labels(tmp_path):
    path = write(tmp_path, SAMPLE)
    assert [s.tags for s in reader(max_position=4).read(path)] == [("1", "2", "3", "4+", "4+"), ("1", "2")]


def test_position_labels():
    assert position_labels(0) == ()
    assert position_labels(150)[-1] == "150" and len(set(position_labels(150))) == 150
    assert position_labels(2, 3) == ("1", "2")
    assert position_labels(3, 3) == ("1", "2", "3+")
    assert position_labels(25, 20)[18:] == ("19", "20+", "20+", "20+", "20+", "20+", "20+")
    assert len(set(position_labels(100, 20))) == 20  # max_position labels in all


def sentence(length: int, tagged: bool = True) -> Sentence:
    return Sentence(tuple("w" * length), position_labels(length) if tagged else None, "x:1")


def test_positions_beyond_the_longest_training_sentence_take_the_last_label():
    training = set(position_labels(4))
    closed = reader().close_labels([sentence(6), sentence(3), sentence(5, tagged=False)], training)
    assert [s.tags for s in closed] == [("1", "2", "3", "4", "4", "4"), ("1", "2", "3"), None]
    assert closed[1] == sentence(3)
    capped = reader(max_position=3).close_labels([sentence(2)], {"1", "2", "3+"})  # an explicit cap: nothing beyond
    assert capped == [sentence(2)]
    assert isinstance(reader(), ClosedLabelReader)


def test_data_setup_closes_dev_and_test_to_the_training_positions(tmp_path):
    """Train's longest sentence has 3 tokens; a dev sentence of 5 and test sentences of 4 and 2 map to
    "1" … "3"; the training labels, and so the vocabulary's, are "1", "2", "3"; with dev held out of
    train the held-out sentences are closed to what stays in train."""
    files = {split: tmp_path / f"{split}.txt" for split in ("train", "dev", "test")}
    files["train"].write_text("a\nb\nc\n\nd\n\n", encoding="utf-8")
    files["dev"].write_text("a\nb\nc\nd\ne\n", encoding="utf-8")
    files["test"].write_text("a\nb\nc\nd\n\na\nb\n", encoding="utf-8")
    task = SimpleNamespace(dataset_reader=PositionReaderConfig(type="position", num_columns=1), dev_from_train=None,
                           **{f"{split}_path": str(path) for split, path in files.items()})
    data = _read_task("position", task)
    assert [s.tags for s in data.sentences["dev"]] == [("1", "2", "3", "3", "3")]
    assert [s.tags for s in data.sentences["test"]] == [("1", "2", "3", "3"), ("1", "2")]
    files["train"].write_text("a\nb\nc\nd\ne\n\na\nb\n\na\n\na\nb\nc\n\n", encoding="utf-8")
    held_out = SimpleNamespace(**{**vars(task), "dev_path": None, "dev_from_train": DevFromTrainConfig(fraction=0.25)})
    data = _read_task("position", held_out)
    longest = max(len(s.words) for s in data.sentences["train"])
    assert all(max(map(int, s.tags)) <= longest for split in ("dev", "test") for s in data.sentences[split])


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
    """NER and position prediction on the same tiny files, position's dev held out of train; the labels
    are the positions up to the longest training sentence, and `ssl evaluate` scores a longer one."""
    config = tmp_path / "negative_transfer.jsonnet"
    config.write_text(f"""
local tiny = import '{tiny_config.name}';
tiny + {{
  tasks: {{
    ner: tiny.tasks.ner,
    position: tiny.tasks.ner + {{
      dataset_reader: {{ type: 'position', num_columns: 4 }},
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
    labels = json.loads((run / "vocabulary.json").read_text())["labels"]["position"]
    longest = max(map(int, labels))
    assert sorted(labels, key=int) == [str(i) for i in range(1, longest + 1)] and longest > 5
    assert "task position: train 30, dev 10, test 15 sentences (dev held out of" in result.stderr
    accuracy = json.loads((run / "metrics.json").read_text())["tasks"]["position"]["dev"]
    assert 0.0 <= accuracy <= 100.0
    longer = tmp_path / "longer.txt"
    longer.write_text("".join(f"w{i} NN O O\n" for i in range(longest + 3)), encoding="utf-8")
    scored = run_ssl("evaluate", run, longer, "--task", "position")
    assert scored.returncode == 0, scored.stderr
    assert scored.stdout.startswith("position: accuracy ")
