"""The Python API gives what the CLI gives: a run trained with ``sparse_sharing.train`` tags and
scores through ``Tagger`` exactly as ``ssl predict`` and ``ssl evaluate`` do on the same run."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import sparse_sharing
from conftest import _ENV, read_sentences, run_ssl, write_sentences, write_tiny_config, write_tiny_corpus
from sparse_sharing.errors import UserError


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    workdir = tmp_path_factory.mktemp("api")
    corpus = write_tiny_corpus(workdir / "data")
    config = write_tiny_config(workdir / "tiny.jsonnet", corpus)
    metrics = sparse_sharing.train(config, workdir / "run", overrides=["trainer.num_epochs=1"])
    assert metrics["finished"] and metrics["epochs_completed"] == 1
    return workdir / "run", corpus


def test_train_equals_ssl_train(trained: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    run_dir, corpus = trained
    config = write_tiny_config(tmp_path / "tiny.jsonnet", corpus)
    assert run_ssl("train", config, "-s", tmp_path / "cli", "-o", "trainer.num_epochs=1").returncode == 0
    ours, theirs = (json.loads((d / "metrics.json").read_text()) for d in (run_dir, tmp_path / "cli"))
    assert ours["tasks"] == theirs["tasks"] and ours["history"] == theirs["history"]


def test_predict_equals_ssl_predict(trained: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    run_dir, corpus = trained
    sentences = [[line.split()[0] for line in s] for s in read_sentences(corpus["test"])]
    tokens = write_sentences(tmp_path / "tokens.txt", sentences, docstart=False)
    result = run_ssl("predict", run_dir, tokens)
    assert result.returncode == 0, result.stderr
    cli = [line.split() for line in result.stdout.splitlines() if line]
    tagger = sparse_sharing.Tagger.from_run(run_dir)
    tagged = tagger.predict(sentences, batch_size=3)
    api = [[word, *(row[task][j] for task in tagger.tasks)] for s, row in zip(sentences, tagged)
           for j, word in enumerate(s)]
    assert api == cli and len(api) == sum(len(s) for s in sentences)
    # one sentence as a plain token list, and a subset of tasks
    assert tagger.predict(sentences[0], tasks=["ner"]) == [{"ner": tagged[0]["ner"]}]


def test_verbose_shows_a_progress_bar_and_changes_nothing(trained: tuple[Path, dict[str, Path]],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    run_dir, corpus = trained
    sentences = [[line.split()[0] for line in s] for s in read_sentences(corpus["test"])]
    tagger = sparse_sharing.Tagger.from_run(run_dir)
    quiet = tagger.predict(sentences, batch_size=3)
    assert capsys.readouterr().err == ""
    assert tagger.predict(sentences, batch_size=3, verbose=True) == quiet
    bar = capsys.readouterr().err
    assert "tagging chunk" in bar and f"/{3 * len(sentences)}" in bar and "sentences/s" in bar  # 3 tasks
    assert tagger.evaluate(corpus["test"], tasks=["ner"], verbose=True) == tagger.evaluate(corpus["test"],
                                                                                          tasks=["ner"])
    assert "evaluating ner" in capsys.readouterr().err
    assert sparse_sharing.evaluate(run_dir, corpus["test"], tasks=["pos"], verbose=True) == tagger.evaluate(
        corpus["test"], tasks=["pos"])
    assert "evaluating pos" in capsys.readouterr().err
    result = run_ssl("predict", run_dir, corpus["test"])  # standard error is not a terminal here: no bar
    assert result.returncode == 0 and "sentences/s" not in result.stderr and "tagging" not in result.stderr


def ssl_predict_stdin(run_dir: Path, text: bytes, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sparse_sharing", "predict", str(run_dir), "-", *args],
                          input=text, capture_output=True, env=_ENV, timeout=300)


def test_predict_reads_tokenized_text_and_writes_json_lines(trained: tuple[Path, dict[str, Path]],
                                                           tmp_path: Path) -> None:
    run_dir, corpus = trained
    sentences = [[line.split()[0] for line in s] for s in read_sentences(corpus["test"])]
    expected = sparse_sharing.Tagger.from_run(run_dir).predict(sentences)
    # one sentence a line, spaces and tabs between tokens, blank lines skipped, from standard input
    text = "\n\n".join(" \t".join(s) for s in sentences).encode() + b"\n"
    result = ssl_predict_stdin(run_dir, text, "--format", "text", "--jsonl")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert rows == [{"tokens": s, "tags": tags} for s, tags in zip(sentences, expected)]
    # the same from a file, as CoNLL columns: what the CoNLL input gives
    (tmp_path / "text.txt").write_bytes(text)
    from_text = run_ssl("predict", run_dir, tmp_path / "text.txt", "--format", "text")
    tokens = write_sentences(tmp_path / "tokens.txt", sentences, docstart=False)
    from_conll = run_ssl("predict", run_dir, tokens)
    assert from_text.returncode == 0 and from_text.stdout == from_conll.stdout, from_text.stderr
    # CoNLL input with --jsonl
    jsonl = run_ssl("predict", run_dir, tokens, "--jsonl", "--task", "ner")
    assert [json.loads(line) for line in jsonl.stdout.splitlines()] == [
        {"tokens": s, "tags": {"ner": tags["ner"]}} for s, tags in zip(sentences, expected)]


@pytest.mark.parametrize("text, args, message", [
    (b"EU rejects\n", (), "Error: standard input (-) is read as --format text"),
    (b"EU\nrejects \xff German\n", ("--format", "text"), "Error: standard input:2: not UTF-8 text (byte 0xff)"),
    (b" \n", ("--format", "text"), "Error: standard input: the file is empty"),
])
def test_predict_bad_standard_input_is_one_message(trained: tuple[Path, dict[str, Path]], text: bytes,
                                                   args: tuple[str, ...], message: str) -> None:
    result = ssl_predict_stdin(trained[0], text, *args)
    assert result.returncode == 2 and result.stderr.decode().startswith(message), result.stderr
    assert b"Traceback" not in result.stderr and not result.stdout


def test_evaluate_equals_ssl_evaluate(trained: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    run_dir, corpus = trained
    result = run_ssl("evaluate", run_dir, corpus["test"], "--output", tmp_path / "scores.json")
    assert result.returncode == 0, result.stderr
    assert sparse_sharing.evaluate(run_dir, corpus["test"]) == json.loads((tmp_path / "scores.json").read_text())


def test_compare_equals_ssl_compare_json(trained: tuple[Path, dict[str, Path]]) -> None:
    run_dir = trained[0]
    result = run_ssl("compare", run_dir, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert sparse_sharing.compare([run_dir]) == json.loads(result.stdout)
    # a pattern is expanded as the shell would; names as --name
    table = sparse_sharing.compare(str(run_dir.parent / "r*"), names=["mine"])
    assert [row["name"] for row in table["rows"]] == ["mine"] and table["rows"][0]["runs"] == [str(run_dir)]
    with pytest.raises(UserError, match="no run directory matches"):
        sparse_sharing.compare(str(run_dir.parent / "nothing-*"))


def test_bad_calls_are_user_errors(trained: tuple[Path, dict[str, Path]]) -> None:
    tagger = sparse_sharing.Tagger.from_run(trained[0])
    with pytest.raises(UserError, match="tokens, not a string"):
        tagger.predict("EU rejects German call")
    with pytest.raises(UserError, match="non-empty list"):
        tagger.predict([["EU"], []])
    with pytest.raises(UserError, match="no task 'nre'.*Did you mean 'ner'"):
        tagger.predict([["EU"]], tasks=["nre"])
    with pytest.raises(UserError, match="no task 'nre'"):
        sparse_sharing.Tagger.from_run(trained[0], tasks=["nre"])
    assert tagger.predict([]) == []


def test_importing_the_package_stays_light() -> None:
    code = "import sys, sparse_sharing; assert 'torch' not in sys.modules; print(sorted(sparse_sharing.__all__))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
