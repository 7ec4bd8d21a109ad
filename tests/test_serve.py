"""`ssl serve` on localhost: the tags of `Tagger.predict`, a 4xx with a message for every bad
request (and the server still up), and a bounded load test from concurrent clients."""
from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

import sparse_sharing  # noqa: E402
from conftest import _ENV, read_sentences, write_tiny_config, write_tiny_corpus  # noqa: E402
from sparse_sharing.errors import UserError  # noqa: E402
from sparse_sharing.serve import RequestBatcher  # noqa: E402


@contextlib.contextmanager
def serving(run_dir: Path, *options: str) -> Iterator[str]:
    """``ssl serve RUN_DIR --port 0 OPTIONS`` while the block runs; yields its URL."""
    # --port 0: the server takes a free port and prints it (no other test can take it first)
    process = subprocess.Popen([sys.executable, "-m", "sparse_sharing", "serve", str(run_dir), "--port", "0",
                                *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=_ENV)  # one torch thread, as every test's subprocess
    try:
        assert process.stderr is not None
        lines = []
        while not (served := re.search(r" on (http://127\.0\.0\.1:(\d+))/$", lines[-1] if lines else "")):
            line = process.stderr.readline()
            if not line:
                raise RuntimeError(f"ssl serve did not start: {''.join(lines)}")
            lines.append(line.rstrip("\n"))
        url = served.group(1)
        assert served.group(2) != "0"
        urllib.request.urlopen(f"{url}/health", timeout=60).read()  # listening from before the message
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, list[list[str]]]]:
    workdir = tmp_path_factory.mktemp("serve")
    corpus = write_tiny_corpus(workdir / "data")
    config = write_tiny_config(workdir / "tiny.jsonnet", corpus, num_epochs=1)
    sparse_sharing.train(config, workdir / "run")
    sentences = [[line.split()[0] for line in s] for s in read_sentences(corpus["test"])]
    with serving(workdir / "run") as url:
        yield url, workdir / "run", sentences


def call(url: str, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        payload, status = error.read(), error.code
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode()


def test_a_port_in_use_is_one_message(server: tuple[str, Path, list[list[str]]]) -> None:
    url, run_dir, _ = server
    port = url.rsplit(":", 1)[1]
    result = subprocess.run([sys.executable, "-m", "sparse_sharing", "serve", str(run_dir), "--port", port],
                            capture_output=True, text=True, env=_ENV, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}: Address already in use. "
                                    "Choose another --port")
    assert "Traceback" not in result.stderr and "Serving" not in result.stderr


def test_health_page_and_tags(server: tuple[str, Path, list[list[str]]]) -> None:
    url, run_dir, sentences = server
    status, health = call(url, "/health")
    assert status == 200 and health["status"] == "ok" and health["tasks"] == ["chunk", "ner", "pos"]
    status, page = call(url, "/")
    assert status == 200 and "sparse-sharing tagger" in page and "fetch(\"predict\"" in page
    expected = sparse_sharing.Tagger.from_run(run_dir).predict(sentences)
    status, answer = call(url, "/predict", {"sentences": sentences})
    assert status == 200 and answer == {"tasks": ["chunk", "ner", "pos"], "tags": expected}
    status, answer = call(url, "/predict", {"sentences": sentences[:2], "tasks": ["ner"]})
    assert status == 200 and answer["tags"] == [{"ner": row["ner"]} for row in expected[:2]]


@pytest.mark.parametrize(("body", "status", "words"), [
    (b"not json", 400, "not JSON"),
    ([["EU"]], 422, "expected"),
    ({"sentences": "EU rejects"}, 422, "expected"),
    ({"sentences": [["EU"], []]}, 422, "sentence 2"),
    ({"sentences": [["EU", 3]]}, 422, "sentence 1"),
    ({"sentences": [["EU", " "]]}, 422, "sentence 1"),
    ({"sentences": [["EU"]], "tasks": ["nre"]}, 422, "unknown task(s) nre"),
    ({"sentences": [["EU"]], "tasks": "ner"}, 422, "list of task names"),
    ({"sentences": [["EU"]], "task": ["ner"]}, 422, "unknown field(s) task"),
    ({"sentences": [["EU"]] * 257}, 413, "at most 256"),
    ({"sentences": [["EU"] * 513]}, 413, "at most 512"),
    (b"[" + b" " * 1_000_001 + b"]", 413, "over 1,000,000 bytes"),
])
def test_bad_requests_get_a_4xx_and_the_server_stays_up(server: tuple[str, Path, list[list[str]]], body: Any,
                                                       status: int, words: str) -> None:
    url = server[0]
    got, answer = call(url, "/predict", raw=body if isinstance(body, bytes) else None,
                       body=None if isinstance(body, bytes) else body)
    assert got == status and words in answer["error"], answer
    assert call(url, "/health")[0] == 200


def test_limits_and_batch_size_are_options(server: tuple[str, Path, list[list[str]]]) -> None:
    _, run_dir, sentences = server
    expected = sparse_sharing.Tagger.from_run(run_dir).predict(sentences[:2])
    with serving(run_dir, "--max-sentences", "2", "--max-tokens", "40", "--max-token-chars", "20",
                 "--max-body-bytes", "2000", "--batch-size", "1") as url:
        status, answer = call(url, "/predict", {"sentences": sentences[:2]})
        assert status == 200 and answer["tags"] == expected  # one sentence a forward pass, the same tags
        for body, status, words in [
            ({"sentences": sentences[:3]}, 413, "3 sentences: at most 2"),
            ({"sentences": [["EU"] * 41]}, 413, "41 tokens: at most 40"),
            ({"sentences": [["E" * 21]]}, 422, "at most 20 characters"),
            ({"sentences": [["EU"] * 40] * 2 + [["x" * 2000]]}, 413, "over 2,000 bytes"),
        ]:
            got, answer = call(url, "/predict", body)
            assert got == status and words in answer["error"], answer
    for option in ("--max-sentences", "--batch-size"):
        result = subprocess.run([sys.executable, "-m", "sparse_sharing", "serve", str(run_dir), option, "0"],
                                capture_output=True, text=True, env=_ENV, timeout=120)
        assert result.returncode == 2 and option in result.stderr and "Traceback" not in result.stderr


class GatedTagger:
    """Tags each token as "task:token" once ``gate`` is open; a sentence ["bad"] is a UserError."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.calls: list[tuple[list[str], list[str]]] = []

    def predict(self, sentences: list[list[str]], tasks: list[str], batch_size: int) -> list[dict[str, list[str]]]:
        assert self.gate.wait(30)
        self.calls.append(([" ".join(s) for s in sentences], list(tasks)))
        if ["bad"] in sentences:
            raise UserError("a bad sentence")
        return [{task: [f"{task}:{word}" for word in s] for task in tasks} for s in sentences]


def test_requests_that_wait_are_tagged_together() -> None:
    """While the model tags one request, four arrive; then those asking for the same tasks share one
    call, up to the batch size, in order of arrival; a call that fails is retried request by request,
    so only the request at fault gets the error."""
    tagger = GatedTagger()

    async def scenario() -> tuple[Any, list[Any]]:
        batcher = RequestBatcher(tagger, batch_size=3)  # type: ignore[arg-type]
        first = asyncio.create_task(batcher.tag([["a"]], ["ner"]))
        await asyncio.sleep(0.1)  # the model is busy with it (waiting at the gate)
        rest = [asyncio.create_task(batcher.tag(sentences, tasks)) for sentences, tasks in [
            ([["b"], ["c"]], ["ner"]), ([["d"]], ["pos"]), ([["e"]], ["ner"]), ([["bad"]], ["pos"]),
            ([["f"]], ["ner"])]]
        gone = asyncio.create_task(batcher.tag([["x"]], ["ner"]))
        await asyncio.sleep(0.1)
        gone.cancel()  # its client went away before its turn: it is not tagged
        await asyncio.sleep(0.1)
        tagger.gate.set()
        return await first, await asyncio.gather(*rest, return_exceptions=True)

    first, rest = asyncio.run(scenario())
    assert tagger.calls == [(["a"], ["ner"]), (["b", "c", "e"], ["ner"]), (["d", "bad"], ["pos"]), (["d"], ["pos"]),
                            (["bad"], ["pos"]), (["f"], ["ner"])]
    assert first == [{"ner": ["ner:a"]}]
    assert rest[:3] == [[{"ner": ["ner:b"]}, {"ner": ["ner:c"]}], [{"pos": ["pos:d"]}], [{"ner": ["ner:e"]}]]
    assert isinstance(rest[3], UserError) and rest[4] == [{"ner": ["ner:f"]}]


def test_predict_is_post_only(server: tuple[str, Path, list[list[str]]]) -> None:
    assert call(server[0], "/predict")[0] == 405


def test_concurrent_clients(server: tuple[str, Path, list[list[str]]]) -> None:
    """500 requests from 8 clients, each a random slice of the test sentences: every answer correct."""
    url, run_dir, sentences = server
    expected = sparse_sharing.Tagger.from_run(run_dir).predict(sentences)
    generator = random.Random(0)
    slices = [sorted(generator.sample(range(len(sentences)), generator.randint(1, 4))) for _ in range(500)]

    def one(indices: list[int]) -> tuple[float, bool]:
        started = time.monotonic()
        status, answer = call(url, "/predict", {"sentences": [sentences[i] for i in indices]})
        return time.monotonic() - started, status == 200 and answer["tags"] == [expected[i] for i in indices]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, slices))
    assert all(ok for _, ok in results)
    latencies = sorted(seconds for seconds, _ in results)
    print(f"\nssl serve, 500 requests from 8 clients: latency p50 {1000 * statistics.median(latencies):.1f} ms, "
          f"p95 {1000 * latencies[474]:.1f} ms, p99 {1000 * latencies[494]:.1f} ms")
