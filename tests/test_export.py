"""`ssl export`: the exported file tags as `ssl predict` does, run where sparse_sharing cannot be imported.

Three tiny runs (hard, single, sparse with real masks from a two-round search), trained enough that
every task predicts varied tags; each task (POS with a softmax head; chunking and NER with CRF heads,
NER trained in BIOES and written in BIO) exported through the real CLI and run through the shipped
``tagger_runtime.py`` in an interpreter where ``import sparse_sharing`` fails. Masks are checked bit
for bit in the folded weights and counted again in the file.
"""
from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import sparse_sharing
from conftest import read_sentences, run_ssl, write_sentences, write_tiny_config, write_tiny_corpus
from sparse_sharing.components.data.batching import evaluation_batches, index_sentences
from sparse_sharing.components.data.sentence import Sentence
from sparse_sharing.components.data.tag_schemes import SCHEMES, check_conversion, convert_tags
from sparse_sharing.components.heads.crf_layer import ConditionalRandomField, transition_constraints
from sparse_sharing.export_runtime import convert_tags as runtime_convert_tags
from sparse_sharing.export_runtime import viterbi

TASKS = ("pos", "chunk", "ner")
SEARCH = {"type": "search", "pruner": {"type": "magnitude", "rate": 0.3, "rounds": 2}, "steps_per_round": 5,
          "warmup_steps": 5, "jobs": 1, "selection": {"type": "round", "round": 2}}
RUNS = {"hard": "{}", "single": "{ model+: { sharing: { type: 'single' } } }",
        "sparse": f"{{ model+: {{ sharing: {{ type: 'sparse' }} }}, masks: {json.dumps(SEARCH)} }}"}
# Beyond the test split: an unknown word, a word longer than the 30 characters the pipeline keeps,
# accents, and a one-token sentence.
EXTRA = [["Zzyzx", "visited", "Überlingen", "with", "Ab" * 20, "."], ["Müller"]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[list[str]]]:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    workdir = tmp_path_factory.mktemp("export")
    corpus = write_tiny_corpus(workdir / "data")
    config = write_tiny_config(workdir / "tiny.jsonnet", corpus, callbacks=[{"type": "checkpoint"}])
    for name, change in RUNS.items():
        variant = workdir / f"{name}.jsonnet"
        variant.write_text(f"(import 'tiny.jsonnet') + {change}\n", encoding="utf-8")
        sparse_sharing.train(variant, workdir / name, overrides=["trainer.num_epochs=8", "trainer.batch_size=4"])
        for task in TASKS:
            result = run_ssl("export", workdir / name, "--task", task, "-o", workdir / "out" / name / f"{task}.onnx")
            assert result.returncode == 0, result.stderr
            assert "parameters stored" in result.stdout and "gzip" in result.stdout
    sentences = [[line.split()[0] for line in s] for s in read_sentences(corpus["test"])] + EXTRA
    return workdir, sentences


def ssl_predict(run_dir: Path, sentences: list[list[str]], workdir: Path) -> dict[str, list[list[str]]]:
    """Each task's tags from `ssl predict` on ``sentences``."""
    tokens = write_sentences(workdir / "tokens.txt", sentences, docstart=False)
    result = run_ssl("predict", run_dir, tokens)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line]
    assert len(rows) == sum(len(s) for s in sentences)
    tags: dict[str, list[list[str]]] = {task: [] for task in TASKS}
    start = 0
    for sentence in sentences:
        for column, task in enumerate(sorted(TASKS), 1):  # the columns of a run without train_tasks: by name
            tags[task].append([row[column] for row in rows[start: start + len(sentence)]])
        start += len(sentence)
    return tags


def run_without_package(folder: Path, files: dict[str, str], sentences: list[list[str]]) -> dict:
    """``tagger_runtime.py`` of ``folder`` in a fresh isolated interpreter where ``import sparse_sharing``
    raises ImportError: each task's tags, and whether torch got imported. What it proves: the runtime and
    the files need nothing of the package (numpy, onnxruntime and torch come from this environment)."""
    code = ("import json, sys; sys.modules['sparse_sharing'] = None; sys.path.insert(0, sys.argv[1]); "
            "from tagger_runtime import ExportedTagger; files, sentences = json.loads(sys.stdin.read()); "
            "tags = {task: ExportedTagger(sys.argv[1] + '/' + name).predict(sentences) "
            "for task, name in files.items()}; "
            "print(json.dumps({'tags': tags, 'torch': 'torch' in sys.modules}))")
    result = subprocess.run([sys.executable, "-I", "-c", code, str(folder)], input=json.dumps([files, sentences]),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("strategy", list(RUNS))
def test_exported_onnx_tags_equal_ssl_predict(runs: tuple[Path, list[list[str]]], strategy: str) -> None:
    import onnx

    workdir, sentences = runs
    expected = ssl_predict(workdir / strategy, sentences, workdir)
    folder = workdir / "out" / strategy
    got = run_without_package(folder, {task: f"{task}.onnx" for task in TASKS}, sentences)
    assert not got["torch"]  # ONNX needs numpy and onnxruntime only
    for task in TASKS:
        assert got["tags"][task] == expected[task], task
        assert len({tag for s in expected[task] for tag in s}) > 3  # trained enough to say something
        onnx.checker.check_model(onnx.load(folder / f"{task}.onnx"), full_check=True)


def test_torchscript_tags_equal_ssl_predict(runs: tuple[Path, list[list[str]]]) -> None:
    workdir, sentences = runs
    folder = workdir / "torchscript"
    for task in TASKS:
        result = run_ssl("export", workdir / "sparse", "--task", task, "--format", "torchscript",
                         "-o", folder / f"{task}.pt")
        assert result.returncode == 0, result.stderr
    got = run_without_package(folder, {task: f"{task}.pt" for task in TASKS}, sentences)
    assert got["tags"] == ssl_predict(workdir / "sparse", sentences, workdir)


def test_folded_weights_are_w_times_m_bit_for_bit(runs: tuple[Path, list[list[str]]]) -> None:
    from sparse_sharing.export import task_network

    workdir, sentences = runs
    tagger = sparse_sharing.Tagger.from_run(workdir / "sparse")
    for task in TASKS:
        sharing = tagger.models[task].sharing
        stored = {name: w.detach().clone() for name, w in sharing.prunable_weights(task).items()}
        network = task_network(tagger, task)
        pruned = 0
        for name, mask in sharing.masks[task].as_dict().items():
            folded = network.features.get_parameter(name).detach()
            assert torch.equal(folded, stored[name] * mask)  # W ⊙ M_t, as the masked forward computes it
            bits, stored_bits = folded.view(torch.int32), stored[name].view(torch.int32)
            assert torch.equal(bits[mask], stored_bits[mask])  # kept entries: the trained weights, bit for bit
            assert not bits[~mask].any()  # pruned entries: +0.0 exactly
            assert torch.equal(sharing.prunable_weights(task)[name], stored[name])  # the tagger's own untouched
            pruned += int((~mask).sum())
        assert 0 < pruned
        # The file stores exactly the folded network's zeros: nothing of the mask is lost in export.
        folded_zeros = sum(int((p == 0).sum()) for p in network.parameters())
        sizes = json.loads((workdir / "out" / "sparse" / f"{task}.onnx.json").read_text())["sizes"]
        assert sizes["parameters"] - sizes["nonzero"] == folded_zeros >= pruned
        assert sizes["file_bytes"] == (workdir / "out" / "sparse" / f"{task}.onnx").stat().st_size
        # and the folded network computes what the masked model computes
        dataset = index_sentences([Sentence(tuple(s), None, "test") for s in sentences], tagger.vocab, None)
        batch = next(evaluation_batches(dataset, len(sentences)))
        with torch.no_grad():
            masked = tagger.models[task].heads[task].projection(sharing(batch, task))
            assert torch.equal(network(batch.words, batch.chars, batch.lengths), masked)


def test_sidecar_says_what_a_consumer_needs(runs: tuple[Path, list[list[str]]]) -> None:
    workdir, _ = runs
    vocabulary = json.loads((workdir / "hard" / "vocabulary.json").read_text())
    for task, head in (("pos", None), ("ner", "crf")):
        meta = json.loads((workdir / "out" / "hard" / f"{task}.onnx.json").read_text())
        assert meta["format_version"] == 1 and meta["format"] == "onnx" and meta["model_file"] == f"{task}.onnx"
        assert meta["source"]["task"] == task and meta["source"]["sharing"] == "hard"
        assert meta["words"]["vocabulary"] == vocabulary["words"] and meta["chars"]["vocabulary"] == vocabulary["chars"]
        assert meta["words"]["lowercase"] is False and meta["chars"]["max_per_word"] == 30
        assert meta["tags"]["labels"] == vocabulary["labels"][task]
        assert (meta["crf"] is not None) == (head == "crf") and meta["decoder"] == ("viterbi" if head else "argmax")
    ner = json.loads((workdir / "out" / "hard" / "ner.onnx.json").read_text())
    assert (ner["tags"]["scheme"], ner["tags"]["output_scheme"]) == ("bioes", "bio")
    allowed = transition_constraints(ner["tags"]["labels"], "bioes").allowed
    transitions = np.array(ner["crf"]["transitions"])
    assert (transitions[~np.array(allowed)] == -10000.0).all()  # disallowed moves as the decoder sees them


def test_export_mistakes_are_one_message(runs: tuple[Path, list[list[str]]], tmp_path: Path) -> None:
    workdir, _ = runs
    run = workdir / "hard"
    (tmp_path / "file").write_text("")
    cases = [
        (["--task", "nre", "-o", tmp_path / "a.onnx"], "no task 'nre'"),
        (["--task", "ner", "-o", tmp_path / "file" / "a.onnx"], "is not a directory"),
        (["--task", "ner", "-o", tmp_path], "is a directory"),
        (["--task", "ner", "--format", "tflite", "-o", tmp_path / "a.tflite"], "'tflite' is not one of"),
    ]
    for args, message in cases:
        result = run_ssl("export", run, *args)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, args
    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    for name in ("config.json", "vocabulary.json"):
        (no_weights / name).write_bytes((run / name).read_bytes())
    result = run_ssl("export", no_weights, "--task", "ner", "-o", tmp_path / "a.onnx")
    assert result.returncode == 2 and "no dev-best checkpoint for task 'ner'" in result.stderr
    code = ("import sys; sys.modules['onnx'] = None; from sparse_sharing.cli.main import main; "
            f"sys.argv = ['ssl', 'export', {str(run)!r}, '--task', 'ner', '-o', {str(tmp_path / 'a.onnx')!r}]; main()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "pip install 'sparse-sharing[export]'" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "no_weights"]  # nothing written


# ------------------------------------------------------------------ the runtime's numpy parts
def test_runtime_tag_conversion_equals_the_packages_on_every_short_sequence() -> None:
    labels = ["O", "B-X", "I-X", "E-X", "S-X", "B-Y", "I-Y", "S-Y"]
    for source, target in itertools.product(SCHEMES, SCHEMES):
        try:
            check_conversion(source, target)
        except ValueError:
            continue
        allowed = ["O", "B-X", "I-X", "B-Y", "I-Y"] if source in ("bio", "iob1") else labels
        if source == "none":
            allowed = ["NN", "VB", "O"]
        for length in range(1, 5):
            for tags in itertools.product(allowed, repeat=length):
                assert runtime_convert_tags(tags, source, target) == convert_tags(tags, source, target), tags


@pytest.mark.parametrize("constrained", [True, False])
def test_runtime_viterbi_equals_the_crf_decoder(constrained: bool) -> None:
    labels = ["O", "B-X", "I-X", "E-X", "S-X", "B-Y", "I-Y", "E-Y", "S-Y"]
    torch.manual_seed(0)
    crf = ConditionalRandomField(len(labels), transition_constraints(labels, "bioes") if constrained else None)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.normal_()
    lengths = torch.tensor([7, 1, 4, 7, 2])
    logits = torch.randn(len(lengths), 7, len(labels))
    mask = torch.arange(7).unsqueeze(0) < lengths.unsqueeze(1)
    transitions, start, end = (t.detach().numpy() for t in crf._scores(torch.float32))
    expected = crf.viterbi_decode(logits, mask)
    # The whole padded batch at once, and each sentence alone: the same paths as the package's decoder.
    assert viterbi(logits.numpy(), lengths.numpy(), transitions, start, end) == expected
    assert [viterbi(logits[b: b + 1, :n].numpy(), [n], transitions, start, end)[0]
            for b, n in enumerate(lengths.tolist())] == expected
