import pytest

from sparse_sharing.components.data.tag_schemes import SCHEMES, TagSchemeError, convert_tags


def test_schemes():
    assert SCHEMES == ("iob1", "bio", "bioes", "none")


@pytest.mark.parametrize(
    "iob1, bio",
    [
        # CoNLL-2003: "EU rejects German call" -> every span starts with B- in BIO.
        (["I-ORG", "O", "I-MISC", "O"], ["B-ORG", "O", "B-MISC", "O"]),
        # B- between two adjacent spans of one type.
        (["I-PER", "I-PER", "B-PER", "I-PER"], ["B-PER", "I-PER", "B-PER", "I-PER"]),
        # The two quirky CoNLL-2003 B-MISC after O: still a span start.
        (["O", "B-MISC", "I-MISC", "O"], ["O", "B-MISC", "I-MISC", "O"]),
        (["O", "B-MISC", "O"], ["O", "B-MISC", "O"]),
        # I- of a different type starts a new span.
        (["I-ORG", "I-LOC", "I-LOC"], ["B-ORG", "B-LOC", "I-LOC"]),
        (["I-NP", "I-VP", "I-NP", "I-NP", "B-NP"], ["B-NP", "B-VP", "B-NP", "I-NP", "B-NP"]),
        # Sentence starting with I-, types with dashes.
        (["I-B-X", "I-B-X"], ["B-B-X", "I-B-X"]),
        ([], []),
    ],
)
def test_iob1_to_bio(iob1, bio):
    assert convert_tags(iob1, "iob1", "bio") == bio


@pytest.mark.parametrize(
    "bio, bioes",
    [
        (["B-PER"], ["S-PER"]),
        (["B-PER", "I-PER"], ["B-PER", "E-PER"]),
        (["B-PER", "I-PER", "I-PER", "O"], ["B-PER", "I-PER", "E-PER", "O"]),
        (["B-LOC", "B-LOC", "O", "B-ORG"], ["S-LOC", "S-LOC", "O", "S-ORG"]),
        (["B-LOC", "I-LOC", "B-LOC", "I-LOC"], ["B-LOC", "E-LOC", "B-LOC", "E-LOC"]),
        (["B-ORG", "B-LOC", "I-LOC"], ["S-ORG", "B-LOC", "E-LOC"]),
        (["O", "O"], ["O", "O"]),
    ],
)
def test_bio_bioes_both_ways(bio, bioes):
    assert convert_tags(bio, "bio", "bioes") == bioes
    assert convert_tags(bioes, "bioes", "bio") == bio


def test_iob1_to_bioes():
    iob1 = ["I-ORG", "O", "I-PER", "I-PER", "B-PER", "O", "B-MISC", "I-LOC"]
    assert convert_tags(iob1, "iob1", "bioes") == ["S-ORG", "O", "B-PER", "E-PER", "S-PER", "O", "S-MISC", "S-LOC"]


def test_to_iob1_uses_b_only_between_adjacent_spans_of_one_type():
    bio = ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG"]
    assert convert_tags(bio, "bio", "iob1") == ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG"]


@pytest.mark.parametrize("scheme", ["iob1", "bio", "bioes"])
def test_round_trips(scheme):
    bio = ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "I-LOC", "I-LOC", "B-ORG", "B-MISC", "O", "B-X"]
    there = convert_tags(bio, "bio", scheme)
    assert convert_tags(there, scheme, "bio") == bio
    assert convert_tags(there, scheme, scheme) == there


def test_identity_and_none():
    tags = ["NN", "NN|SYM", "B-", "X-PER", "."]
    assert convert_tags(tags, "none", "none") == tags
    assert convert_tags(("B-PER", "I-PER"), "bio", "bio") == ["B-PER", "I-PER"]


def test_ill_formed_input_reads_like_conlleval():
    # An I- after O, or an E- with no B-, starts a span.
    assert convert_tags(["O", "I-PER", "I-PER"], "bio", "bio") == ["O", "B-PER", "I-PER"]
    assert convert_tags(["O", "E-PER", "E-PER"], "bioes", "bioes") == ["O", "S-PER", "S-PER"]
    assert convert_tags(["B-PER", "E-PER", "I-PER"], "bioes", "bio") == ["B-PER", "I-PER", "B-PER"]


@pytest.mark.parametrize(
    "tags, source, position, fragment",
    [
        (["O", "X-PER"], "iob1", 1, "'X-PER' is not a valid iob1 tag"),
        (["B-PER", "E-PER"], "bio", 1, "'E-PER' is not a valid bio tag"),
        (["O", "O", "B-"], "bio", 2, "'B-' has no type"),
        (["S-"], "bioes", 0, "'S-' has no type"),
        (["PER"], "bioes", 0, "'PER' is not a valid bioes tag"),
        (["o"], "bio", 0, "'o' is not a valid bio tag"),
    ],
)
def test_bad_tags_name_tag_and_position(tags, source, position, fragment):
    with pytest.raises(ValueError, match="position") as info:
        convert_tags(tags, source, "bio" if source != "bio" else "bioes")
    assert isinstance(info.value, TagSchemeError)
    assert info.value.position == position
    assert fragment in str(info.value)
    assert f"position {position}" in str(info.value)


@pytest.mark.parametrize("source, target", [("none", "bio"), ("bio", "none"), ("iob1", "none"), ("none", "bioes")])
def test_none_converts_only_to_none(source, target):
    with pytest.raises(ValueError, match="'none'"):
        convert_tags(["O"], source, target)


def test_unknown_scheme():
    with pytest.raises(ValueError, match="unknown target tag scheme 'iob2'.*iob1, bio, bioes, none"):
        convert_tags(["O"], "bio", "iob2")
