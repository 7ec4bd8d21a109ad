from collections import Counter
from pathlib import Path

import pytest
from pydantic import ValidationError

from conftest import SAMPLE
from sparse_sharing.components.data.conll import ConllReader, ConllReaderConfig
from sparse_sharing.components.data.embedded import EmbeddedReader, EmbeddedReaderConfig
from sparse_sharing.components.data.toy_corpus import generate_split, write_conll
from sparse_sharing.components.data.sentence import Sentence
from sparse_sharing.errors import DataError
from sparse_sharing.registry import DATASET_READERS

DATA = Path(__file__).resolve().parents[4] / "shared" / "data"



def reader(**kwargs) -> ConllReader:
    return DATASET_READERS.build(ConllReaderConfig(type="conll", **kwargs))


def write(tmp_path: Path, text: str, name: str = "data.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_registered():
    assert isinstance(reader(tag_column=3), ConllReader)
    assert DATASET_READERS.get("conll").config is ConllReaderConfig
    assert DATASET_READERS.get("embedded").config is EmbeddedReaderConfig


def test_reads_sentences_skipping_docstart(tmp_path):
    path = write(tmp_path, SAMPLE)
    sentences = reader(tag_column=3, input_scheme="iob1", tag_scheme="bio").read(path)
    assert sentences == [
        Sentence(("EU", "rejects", "German", "call", "."), ("B-ORG", "O", "B-MISC", "O", "O"), f"{path}:3"),
        Sentence(("Peter", "Blackburn"), ("B-PER", "I-PER"), f"{path}:9"),
    ]


def test_tag_column_and_schemes(tmp_path):
    path = write(tmp_path, SAMPLE)
    assert reader(tag_column=1).read(path)[0].tags == ("NNP", "VBZ", "JJ", "NN", ".")
    assert reader(tag_column=-1, input_scheme="iob1", tag_scheme="bioes").read(path)[1].tags == ("B-PER", "E-PER")
    assert reader(tag_column=2, input_scheme="iob1", tag_scheme="bio").read(path)[0].tags == (
        "B-NP", "B-VP", "B-NP", "I-NP", "O")
    assert reader(tag_column=3, input_scheme="iob1", tag_scheme="bio").tag_scheme == "bio"


def test_without_tags(tmp_path):
    path = write(tmp_path, SAMPLE)
    sentences = reader(tag_column=3).read(path, with_tags=False)
    assert [s.tags for s in sentences] == [None, None]
    assert sentences[1].words == ("Peter", "Blackburn")


def test_blank_line_runs_whitespace_lines_tabs_and_no_final_newline(tmp_path):
    text = "\n\n  \na\tDT B-NP\n\t b NN  I-NP \n \t\n\n\n-DOCSTART- -X- O\n\n\nc VB B-VP\n\n-DOCSTART-\nd NN B-NP"
    path = write(tmp_path, text)
    sentences = reader(tag_column=2, input_scheme="bio", tag_scheme="bio").read(path)
    assert [(s.words, s.tags, s.source) for s in sentences] == [
        (("a", "b"), ("B-NP", "I-NP"), f"{path}:4"),
        (("c",), ("B-VP",), f"{path}:12"),
        (("d",), ("B-NP",), f"{path}:15"),
    ]


def test_crlf_and_bom(tmp_path):
    path = tmp_path / "crlf.txt"
    path.write_bytes("\ufeff-DOCSTART- O\r\n\r\na O\r\nb O\r\n\r\nc O\r\n".encode())
    assert [s.words for s in reader(tag_column=1).read(path)] == [("a", "b"), ("c",)]


def test_docstart_inside_a_block_ends_the_sentence(tmp_path):
    path = write(tmp_path, "a O\n-DOCSTART- O\nb O\n")
    assert [s.words for s in reader(tag_column=1).read(path)] == [("a",), ("b",)]


def test_wrong_column_count_names_file_line_and_content(tmp_path):
    path = write(tmp_path, SAMPLE.replace("call NN I-NP O", "call NN I-NP"))
    with pytest.raises(DataError) as info:
        reader(tag_column=3, num_columns=4).read(path)
    assert str(info.value) == f"{path}:6: expected 4 columns, found 3: 'call NN I-NP'"
    with pytest.raises(DataError, match=r":6: expected 4 columns \(as on line 3\), found 3: 'call NN I-NP'"):
        reader(tag_column=3).read(path)


def test_empty_tab_column_is_a_column_count_error(tmp_path):
    path = write(tmp_path, "a\tDT\tB-NP\nb\t\tI-NP\n")
    with pytest.raises(DataError, match=r":2: expected 3 columns \(as on line 1\), found 2: 'b\\t\\tI-NP'"):
        reader(tag_column=2).read(path)


def test_unicode_space_stays_inside_a_token(tmp_path):
    path = write(tmp_path, "10\u00a0000 CD\nyen NN\n")
    assert reader(tag_column=1).read(path)[0].words == ("10\u00a0000", "yen")


def test_tag_column_out_of_range(tmp_path):
    path = write(tmp_path, "\n\na DT B-NP\n")
    with pytest.raises(DataError, match=r":3: tag column 3 is out of range for a line with 3 columns: 'a DT B-NP'"):
        reader(tag_column=3).read(path)
    with pytest.raises(DataError, match="tag column -4 is out of range"):
        reader(tag_column=-4).read(path)
    with pytest.raises(DataError, match="word column 5 is out of range"):
        reader(word_column=5, tag_column=0).read(path)
    # Unlabelled reading does not need the tag column.
    assert reader(tag_column=3).read(path, with_tags=False)[0].words == ("a",)


def test_config_rejects_columns_beyond_num_columns_and_bad_scheme_pairs():
    with pytest.raises(ValidationError, match="tag_column 4 is out of range for num_columns 4"):
        ConllReaderConfig(type="conll", tag_column=4, num_columns=4)
    with pytest.raises(ValidationError, match="word_column 2 is out of range"):
        ConllReaderConfig(type="conll", word_column=2, tag_column=0, num_columns=2)
    with pytest.raises(ValidationError, match="cannot convert tags from scheme 'none' to 'bio'"):
        ConllReaderConfig(type="conll", tag_column=3, tag_scheme="bio")
    with pytest.raises(ValidationError, match="cannot convert tags from scheme 'iob1' to 'none'"):
        ConllReaderConfig(type="conll", tag_column=3, input_scheme="iob1")
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        ConllReaderConfig(type="conll", tag_column=3, tag_colum=3)
    assert ConllReaderConfig(type="conll", tag_column=-1, num_columns=4).tag_column == -1


def test_every_field_is_described():
    for config in (ConllReaderConfig, EmbeddedReaderConfig):
        assert all(field.description for field in config.model_fields.values()), config


def test_bad_tag_names_file_and_line(tmp_path):
    path = write(tmp_path, "a O\n\nb B-PER\nc X-PER\n")
    with pytest.raises(DataError, match=r":4: tag 'X-PER' is not a valid iob1 tag"):
        reader(tag_column=1, input_scheme="iob1", tag_scheme="bio").read(path)
    path = write(tmp_path, "a B-\n")
    with pytest.raises(DataError, match=r":1: tag 'B-' has no type"):
        reader(tag_column=1, input_scheme="bio", tag_scheme="bioes").read(path)


def test_missing_file_directory_and_bad_encoding(tmp_path):
    with pytest.raises(DataError, match=f"^data file not found: {tmp_path / 'nope.txt'}$"):
        reader(tag_column=1).read(tmp_path / "nope.txt")
    with pytest.raises(DataError, match="data file not found"):
        reader(tag_column=1).read_words(str(tmp_path / "nope.txt"))
    with pytest.raises(DataError, match="is a directory"):
        reader(tag_column=1).read(tmp_path)
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"a O\n\ncaf\xe9 O\n")
    with pytest.raises(DataError, match=r"latin1.txt:3: not UTF-8 text"):
        reader(tag_column=1).read(path)


@pytest.mark.parametrize("text, message", [
    ("", "the file is empty"),
    (" \n\t\n\n", "the file is empty"),
    ("-DOCSTART- -X- O O\n\n", "no sentences"),
])
def test_empty_file_or_no_sentences(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=message):
        reader(tag_column=1).read(path)
    with pytest.raises(DataError, match=message):
        reader(tag_column=1).read_words(path)


def test_read_words_takes_first_column_and_ignores_the_rest(tmp_path):
    path = write(tmp_path, "-DOCSTART-\n\nThe DT\nbank\n\n\nIt PRP B-NP O\n")
    assert reader(tag_column=1).read_words(path) == [
        Sentence(("The", "bank"), None, f"{path}:3"),
        Sentence(("It",), None, f"{path}:7"),
    ]


def test_parse_once_shares_a_files_parse_between_readers(tmp_path, monkeypatch):
    """POS, chunking and NER readers of one file parse it once per block, and an edited file anew."""
    from sparse_sharing.components.data import conll

    calls = []
    real_blocks = conll._blocks
    monkeypatch.setattr(conll, "_blocks", lambda *args: calls.append(args) or real_blocks(*args))
    path = write(tmp_path, SAMPLE)
    with conll.parse_once():
        pos = reader(tag_column=1).read(path)
        with conll.parse_once():  # nested: the outer block's parses serve
            ner = reader(tag_column=3, input_scheme="iob1", tag_scheme="bio").read(path)
        assert len(calls) == 1
        assert [s.tags for s in pos][1] == ("NNP", "NNP") and ner[1].tags == ("B-PER", "I-PER")
        path.write_text(SAMPLE.replace("Peter", "Paul"), encoding="utf-8")
        assert reader(tag_column=1).read(path)[1].words == ("Paul", "Blackburn")
        assert len(calls) == 2
        with pytest.raises(DataError, match="data file not found"):
            reader(tag_column=1).read(tmp_path / "nope.txt")
    reader(tag_column=1).read(path)
    reader(tag_column=1).read(path)
    assert len(calls) == 5  # outside a block nothing is kept


# The embedded toy corpus -----------------------------------------------------------------

def test_embedded_is_deterministic_and_sized():
    for split, size in (("train", 2000), ("dev", 300), ("test", 300)):
        sentences = generate_split(split)
        assert sentences == generate_split(split)
        assert len(sentences) == size
        assert all(8 <= len(sentence) <= 25 for sentence in sentences)
    assert generate_split("dev") != generate_split("test")


def test_embedded_tag_inventories():
    tokens = [token for sentence in generate_split("train") for token in sentence]
    assert {pos for _, pos, _, _ in tokens} == {
        "DT", "JJ", "NN", "NNS", "NNP", "VBD", "VBZ", "IN", "CC", "CD", "PRP", "RB", ".", ","}
    assert {chunk for _, _, chunk, _ in tokens} == {
        "B-NP", "I-NP", "B-VP", "I-VP", "B-PP", "B-ADVP", "O"}
    assert {ner for _, _, _, ner in tokens} == {f"{p}-{t}" for p in "BI" for t in ("PER", "LOC", "ORG", "MISC")} | {"O"}
    assert all(chunk == "O" for word, _, chunk, _ in tokens if word in {".", ","})


def test_embedded_has_context_dependent_tags_and_unseen_names():
    def tags_of(split, column):
        seen: dict[str, set[str]] = {}
        for sentence in generate_split(split):
            for token in sentence:
                seen.setdefault(token[0], set()).add(token[column][2:] if column == 3 else token[column])
        return seen

    ner = tags_of("train", 3)
    assert {"PER", "LOC"} <= ner["Florence"]
    pos = tags_of("train", 1)
    assert {"NNS", "VBZ"} <= pos["plans"]
    train_words = set(tags_of("train", 1))
    unseen_names = {word for sentence in generate_split("test") for word, _, _, tag in sentence
                    if tag != "O" and word not in train_words}
    assert len(unseen_names) >= 5


def test_embedded_files_parse_with_the_conll_reader(tmp_path):
    paths = write_conll(tmp_path / "toy")
    assert {name: path.name for name, path in paths.items()} == {
        "train": "train.txt", "dev": "dev.txt", "test": "test.txt"}
    assert paths["dev"].read_text().startswith("-DOCSTART- -X- O O\n\n")
    for column, config in (("pos", dict(tag_column=1)),
                           ("chunk", dict(tag_column=2, input_scheme="bio", tag_scheme="bio")),
                           ("ner", dict(tag_column=3, input_scheme="bio", tag_scheme="bioes"))):
        from_file = reader(num_columns=4, **config).read(paths["dev"])
        embedded = EmbeddedReader(EmbeddedReaderConfig(
            type="embedded", column=column, tag_scheme=config.get("tag_scheme", "none"))).read("dev")
        assert [(s.words, s.tags) for s in from_file] == [(s.words, s.tags) for s in embedded]
        assert [s.source.rsplit(":", 1)[1] for s in from_file] == [s.source.rsplit(":", 1)[1] for s in embedded]


def test_embedded_reader():
    ner = DATASET_READERS.build(EmbeddedReaderConfig(type="embedded", column="ner"))
    assert ner.tag_scheme == "bio"
    assert DATASET_READERS.build(EmbeddedReaderConfig(type="embedded", column="pos")).tag_scheme == "none"
    sentences = ner.read("train")
    assert len(sentences) == 2000 and sentences[0].source == "embedded/train.txt:3"
    bioes = DATASET_READERS.build(EmbeddedReaderConfig(type="embedded", column="ner", tag_scheme="bioes"))
    assert any(tag.startswith(("S-", "E-")) for s in bioes.read("dev") for tag in s.tags)
    words = ner.read_words("test")
    assert all(s.tags is None for s in words) and words[0].words == ner.read("test")[0].words
    with pytest.raises(DataError, match="no split 'valid'; valid names: train, dev, test"):
        ner.read("valid")
    with pytest.raises(ValidationError, match="cannot convert"):
        EmbeddedReaderConfig(type="embedded", column="pos", tag_scheme="bio")
    with pytest.raises(ValidationError, match="cannot convert"):
        EmbeddedReaderConfig(type="embedded", column="chunk", tag_scheme="none")


# Real CoNLL-2003, when the shared data is present ----------------------------------------

def conll2003(split: str) -> Path:
    path = DATA / "conll2003" / f"{split}.txt"
    if not path.exists():
        pytest.skip(f"{path} is not present")
    return path


def test_conll2003_train_counts():
    path = conll2003("train")
    sentences = reader(tag_column=3, num_columns=4, input_scheme="iob1", tag_scheme="bio").read(path)
    assert len(sentences) == 14_041
    assert sum(len(s.words) for s in sentences) == 203_621
    spans = Counter(tag[2:] for s in sentences for tag in s.tags if tag.startswith("B-"))
    assert spans == {"LOC": 7140, "MISC": 3438, "ORG": 6321, "PER": 6600}


@pytest.mark.parametrize("split, sentences, tokens", [("dev", 3250, 51_362), ("test", 3453, 46_435)])
def test_conll2003_dev_test_counts(split, sentences, tokens):
    read = reader(tag_column=3, input_scheme="iob1", tag_scheme="bioes").read(conll2003(split))
    assert len(read) == sentences
    assert sum(len(s.words) for s in read) == tokens
