"""Metrics against figures worked out by hand with conlleval's rules.

conlleval counts, over the whole corpus: found = gold chunks, guessed = predicted chunks,
correct = predicted chunks whose start, end and type all match a gold chunk. Then
precision = correct/guessed, recall = correct/found, F1 = 2*correct/(found + guessed), all
x100, and 0.0 where a denominator is 0. A chunk starts at B-X, at S-X, at I-X after O or
after another type (IOB1), and ends at E-X or S-X, or just before a new start or an O.
"""
from __future__ import annotations

import warnings

import pytest
from pydantic import ValidationError

from sparse_sharing.components.metrics import Accuracy, AccuracyConfig, Metric, SpanF1, SpanF1Config
from sparse_sharing.registry import METRICS, ComponentConfig

Tags = list[list[str]]
METRIC_CONFIGS: list[ComponentConfig] = [AccuracyConfig(type="accuracy"), SpanF1Config(type="span_f1")]


def span_f1(predicted: Tags, gold: Tags) -> dict[str, float]:
    metric = SpanF1(SpanF1Config(type="span_f1"))
    metric.update(predicted, gold)
    return metric.compute()


# (id, gold, predicted, expected figures); ids name what each case exercises.
SPAN_CASES: list[tuple[str, Tags, Tags, dict[str, float]]] = [
    (
        "perfect",
        # gold = guessed: PER(0-1) LOC(3) | ORG(1-3). found 3, guessed 3, correct 3.
        [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG", "I-ORG"]],
        [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG", "I-ORG"]],
        {"score": 100.0, "precision": 100.0, "recall": 100.0, "f1": 100.0,
         "f1-LOC": 100.0, "f1-ORG": 100.0, "f1-PER": 100.0},
    ),
    (
        "boundary_errors",
        # gold:    PER(0-1) LOC(3-4) ORG(6)
        # guessed: PER(0) PER(1) LOC(3-5) ORG(6)      -- PER split, LOC too long
        # found 3, guessed 4, correct 1 (ORG): P 1/4, R 1/3, F1 2/7.
        # Per type: PER 0/1 found, 0/2 guessed; LOC 0/1, 0/1; ORG 1/1, 1/1.
        [["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "B-ORG"]],
        [["B-PER", "B-PER", "O", "B-LOC", "I-LOC", "I-LOC", "B-ORG"]],
        {"score": 200 / 7, "precision": 25.0, "recall": 100 / 3, "f1": 200 / 7,
         "f1-LOC": 0.0, "f1-ORG": 100.0, "f1-PER": 0.0},
    ),
    (
        "type_errors",
        # gold:    PER(0-1) ORG(3)   | LOC(0-2)
        # guessed: ORG(0-1) ORG(3)   | LOC(0) PER(1) LOC(2)  -- I-PER inside LOC splits it in three
        # found 3, guessed 5, correct 1 (ORG(3)): P 1/5, R 1/3, F1 2/8.
        # Per type: ORG found 1, guessed 2, correct 1 -> F1 2/3; LOC and PER correct 0.
        [["B-PER", "I-PER", "O", "B-ORG"], ["B-LOC", "I-LOC", "I-LOC"]],
        [["B-ORG", "I-ORG", "O", "B-ORG"], ["B-LOC", "I-PER", "I-LOC"]],
        {"score": 25.0, "precision": 20.0, "recall": 100 / 3, "f1": 25.0,
         "f1-LOC": 0.0, "f1-ORG": 200 / 3, "f1-PER": 0.0},
    ),
    (
        "iob1_b_between_adjacent_same_type",
        # IOB1: chunks open with I-; B- only marks a chunk right after one of the same type.
        # gold:    PER(0-1) PER(2) LOC(4) | ORG(0) LOC(1)  -- I-LOC after I-ORG opens a new chunk
        # guessed: PER(0-2)        LOC(4) | ORG(0) LOC(1)  -- B- missed, the two PERs merge
        # found 5, guessed 4, correct 3: P 3/4, R 3/5, F1 6/9.
        # Per type: PER found 2, guessed 1, correct 0; LOC 2/2/2; ORG 1/1/1.
        [["I-PER", "I-PER", "B-PER", "O", "I-LOC"], ["I-ORG", "I-LOC", "O"]],
        [["I-PER", "I-PER", "I-PER", "O", "I-LOC"], ["I-ORG", "I-LOC", "O"]],
        {"score": 200 / 3, "precision": 75.0, "recall": 60.0, "f1": 200 / 3,
         "f1-LOC": 100.0, "f1-ORG": 100.0, "f1-PER": 0.0},
    ),
    (
        "bioes",
        # gold:    PER(0-1) LOC(3) ORG(5-7)
        # guessed: PER(0-1) LOC(3) ORG(5-6) MISC(9)
        # found 3, guessed 4, correct 2: P 2/4, R 2/3, F1 4/7.
        # Per type: PER 1/1/1, LOC 1/1/1, ORG found 1, guessed 1, correct 0; MISC 0/1/0.
        [["B-PER", "E-PER", "O", "S-LOC", "O", "B-ORG", "I-ORG", "E-ORG", "O", "O"]],
        [["B-PER", "E-PER", "O", "S-LOC", "O", "B-ORG", "E-ORG", "O", "O", "S-MISC"]],
        {"score": 400 / 7, "precision": 50.0, "recall": 200 / 3, "f1": 400 / 7,
         "f1-LOC": 100.0, "f1-MISC": 0.0, "f1-ORG": 0.0, "f1-PER": 100.0},
    ),
    (
        "bioes_adjacent_same_type",
        # E-X and S-X close a chunk, so adjacent same-type chunks stay apart.
        # gold:    PER(0-1) PER(2) LOC(4-5) LOC(6)
        # guessed: PER(0-1) PER(2) LOC(4-6)
        # found 4, guessed 3, correct 2: P 2/3, R 2/4, F1 4/7.
        # Per type: PER 2/2/2; LOC found 2, guessed 1, correct 0.
        # conlleval.pl (2004-01-26) has no S- rule and no E-X -> B-X/S-X end rule, so it merges
        # PER(0-1)+PER(2) and LOC(4-5)+LOC(6) and reports found 2, guessed 2, correct 2 (100.0):
        # the figures here are the BIOES-aware ones, as in the module docstring's rules.
        [["B-PER", "E-PER", "S-PER", "O", "B-LOC", "E-LOC", "S-LOC"]],
        [["B-PER", "E-PER", "S-PER", "O", "B-LOC", "I-LOC", "E-LOC"]],
        {"score": 400 / 7, "precision": 200 / 3, "recall": 50.0, "f1": 400 / 7,
         "f1-LOC": 0.0, "f1-PER": 100.0},
    ),
    (
        "i_starts_chunk_after_o",
        # BIO with an ill-formed I- opening a chunk: conlleval reads it as a start, not an error.
        # gold:    PER(0-1) LOC(3) | PER(0-1)
        # guessed: PER(0-1) LOC(3) | PER(1)
        # found 3, guessed 3, correct 2: P = R = F1 = 2/3.
        # Per type: LOC 1/1/1; PER found 2, guessed 2, correct 1 -> F1 1/2.
        [["B-PER", "I-PER", "O", "B-LOC"], ["B-PER", "I-PER"]],
        [["I-PER", "I-PER", "O", "I-LOC"], ["O", "I-PER"]],
        {"score": 200 / 3, "precision": 200 / 3, "recall": 200 / 3, "f1": 200 / 3,
         "f1-LOC": 100.0, "f1-PER": 50.0},
    ),
    (
        "no_gold_entities",
        # found 0, guessed 1, correct 0: P 0/1 = 0, R undefined -> 0, F1 0.
        [["O", "O", "O"]],
        [["B-PER", "O", "O"]],
        {"score": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0, "f1-PER": 0.0},
    ),
    (
        "no_entities_anywhere",
        # found 0, guessed 0: every figure undefined -> 0.0, and no per-type keys.
        [["O", "O"], []],
        [["O", "O"], []],
        {"score": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0},
    ),
]


@pytest.mark.parametrize(
    ("gold", "predicted", "expected"), [case[1:] for case in SPAN_CASES], ids=[case[0] for case in SPAN_CASES]
)
def test_span_f1_matches_conlleval_figures(gold: Tags, predicted: Tags, expected: dict[str, float]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figures = span_f1(predicted, gold)
    assert figures == pytest.approx(expected)
    assert set(figures) == set(expected)


def test_bio_and_bioes_encodings_of_the_same_spans_score_the_same() -> None:
    # gold spans:    PER(0-1) PER(2) LOC(4) ORG(6-8)
    # guessed spans: PER(0-1) PER(2) LOC(4-5) ORG(6-8) MISC(9)
    # found 4, guessed 5, correct 3: P 3/5, R 3/4, F1 6/9.
    # Per type: PER 2/2/2; LOC found 1, guessed 1, correct 0; ORG 1/1/1; MISC 0/1/0.
    gold_bio = [["B-PER", "I-PER", "B-PER", "O", "B-LOC", "O", "B-ORG", "I-ORG", "I-ORG", "O"]]
    gold_bioes = [["B-PER", "E-PER", "S-PER", "O", "S-LOC", "O", "B-ORG", "I-ORG", "E-ORG", "O"]]
    predicted_bio = [["B-PER", "I-PER", "B-PER", "O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "I-ORG", "B-MISC"]]
    predicted_bioes = [["B-PER", "E-PER", "S-PER", "O", "B-LOC", "E-LOC", "B-ORG", "I-ORG", "E-ORG", "S-MISC"]]
    expected = {"score": 200 / 3, "precision": 60.0, "recall": 75.0, "f1": 200 / 3,
                "f1-LOC": 0.0, "f1-MISC": 0.0, "f1-ORG": 100.0, "f1-PER": 100.0}

    bio = span_f1(predicted_bio, gold_bio)
    bioes = span_f1(predicted_bioes, gold_bioes)

    assert bio == pytest.approx(expected)
    assert bioes == bio


def test_span_f1_accumulates_over_batches_as_one_corpus() -> None:
    _, gold, predicted, expected = SPAN_CASES[2]  # type_errors: two sentences
    metric = SpanF1(SpanF1Config(type="span_f1"))
    for predicted_sentence, gold_sentence in zip(predicted, gold):
        metric.update([predicted_sentence], [gold_sentence])
    assert metric.compute() == pytest.approx(expected)


def test_accuracy_is_in_percent() -> None:
    metric = Accuracy(AccuracyConfig(type="accuracy"))
    # 3 of 5 tokens right.
    metric.update([["DT", "NN", "NN"], ["NN", ","]], [["DT", "NN", "VBZ"], ["NN", "."]])
    assert metric.compute() == pytest.approx({"score": 60.0, "accuracy": 60.0})


def test_accuracy_of_nothing_is_zero() -> None:
    assert Accuracy(AccuracyConfig(type="accuracy")).compute() == {"score": 0.0, "accuracy": 0.0}


@pytest.mark.parametrize("config", METRIC_CONFIGS, ids=lambda config: config.type)
def test_reset_forgets_earlier_batches(config: ComponentConfig) -> None:
    metric: Metric = METRICS.build(config)
    metric.update([["B-PER", "O"]], [["O", "B-LOC"]])
    metric.reset()
    metric.update([["B-PER", "O"]], [["B-PER", "O"]])
    assert metric.compute()["score"] == pytest.approx(100.0)


@pytest.mark.parametrize("config", METRIC_CONFIGS, ids=lambda config: config.type)
@pytest.mark.parametrize(
    ("predicted", "gold"),
    [
        ([["O"], ["O"]], [["O"]]),  # sentence counts differ
        ([["O", "O"], ["O"]], [["O", "O"], ["O", "O"]]),  # second sentence lengths differ
    ],
    ids=["sentences", "tokens"],
)
def test_misaligned_batch_raises_and_is_not_added(config: ComponentConfig, predicted: Tags, gold: Tags) -> None:
    metric: Metric = METRICS.build(config)
    metric.update([["B-PER"]], [["B-PER"]])
    with pytest.raises(ValueError):
        metric.update(predicted, gold)
    assert metric.compute()["score"] == pytest.approx(100.0)


def test_metrics_build_from_the_registry_by_name() -> None:
    assert isinstance(METRICS.build(AccuracyConfig(type="accuracy")), Accuracy)
    span = METRICS.build(SpanF1Config(type="span_f1"))
    assert isinstance(span, SpanF1) and span.name == "span_f1"
    with pytest.raises(ValidationError):
        SpanF1Config(type="span_f1", scheme="BIOES")
