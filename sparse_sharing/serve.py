"""`ssl serve`: a trained run as an HTTP JSON service (Starlette on uvicorn, the `serve` extra).

    POST /predict  {"sentences": [["EU", "rejects", ...], ...], "tasks": ["ner"]}  (tasks optional)
                   → {"tasks": [...], "tags": [{"ner": ["B-ORG", "O", ...]}, ...]}
    GET  /health   → {"status": "ok", "run": ..., "tasks": [...]}
    GET  /         a page to type a sentence and see each task's tags on its tokens

Why Starlette: a small, well-kept ASGI toolkit (FastAPI is built on it) whose plain request and
response objects are all this needs; uvicorn serves it. A request the caller got wrong is a 4xx
with a JSON message, never a crash: the tagger sees only validated input. The model runs in a
worker thread, one call at a time (one torch thread, as on the command line), so the event
loop keeps answering /health while a long batch is tagged; requests that arrive meanwhile are
tagged together next (`RequestBatcher`).
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from sparse_sharing.api import Tagger
from sparse_sharing.errors import UserError


@dataclass(frozen=True)
class Limits:
    """What one request may hold (`ssl serve --max-...`, where the defaults are). They bound the
    memory and time a single caller can take from the one model that every caller shares;
    anything over is a 413 or 422."""

    body_bytes: int
    sentences: int
    tokens: int  # per sentence
    token_chars: int


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(eq=False)  # each request is itself, however alike two are
class Waiting:
    """A request's sentences and tasks, and the future its handler awaits."""

    sentences: list[list[str]]
    tasks: list[str]
    tags: asyncio.Future


class RequestBatcher:
    """Tags requests one model call at a time; the requests that arrive while the model is busy
    are then tagged together, in one `Tagger.predict` of up to ``batch_size`` sentences (those
    that ask for the same tasks, in order of arrival).

    Why: on one CPU thread a forward pass over 32 sentences costs far less than 32 passes over
    one, so under load the server answers more requests a second; and nothing waits for a batch
    to fill, so a lone request is answered as soon as it would be without batching. A sentence
    gets the tags it gets alone: each is decoded at its own length, whatever shares its batch.
    """

    def __init__(self, tagger: Tagger, batch_size: int) -> None:
        self.tagger = tagger
        self.batch_size = batch_size
        self.waiting: list[Waiting] = []
        self.worker: asyncio.Task | None = None  # the task tagging the queue, while there is one

    async def tag(self, sentences: list[list[str]], tasks: list[str]) -> list[dict[str, list[str]]]:
        request = Waiting(sentences, tasks, asyncio.get_running_loop().create_future())
        self.waiting.append(request)
        if self.worker is None:
            self.worker = asyncio.create_task(self._work())
        return await request.tags

    async def _work(self) -> None:
        try:
            while self.waiting:
                await self._tag_together(self._next_batch())
        finally:
            self.worker = None

    def _next_batch(self) -> list[Waiting]:
        """The first waiting request, and after it those with the same tasks while they fit."""
        self.waiting = [request for request in self.waiting if not request.tags.done()]  # clients gone
        if not self.waiting:
            return []
        first, batch, size = self.waiting[0], [], 0
        for request in self.waiting:
            if request is first or (request.tasks == first.tasks and size + len(request.sentences) <= self.batch_size):
                batch.append(request)
                size += len(request.sentences)
        self.waiting = [request for request in self.waiting if request not in batch]
        return batch

    async def _tag_together(self, batch: list[Waiting]) -> None:
        if not batch:
            return
        sentences = [sentence for request in batch for sentence in request.sentences]
        try:
            tags = await run_in_threadpool(self.tagger.predict, sentences, batch[0].tasks, self.batch_size)
        except UserError as error:
            if len(batch) > 1:  # whose sentences was it? each request alone says
                for request in batch:
                    await self._tag_together([request])
                return
            answer(batch[0], error=error)
            return
        except Exception as error:  # a bug: each handler answers 500 rather than wait for ever
            for request in batch:
                answer(request, error=error)
            return
        start = 0
        for request in batch:
            answer(request, tags[start:start + len(request.sentences)])
            start += len(request.sentences)


def answer(request: Waiting, tags: list[dict[str, list[str]]] | None = None,
           error: Exception | None = None) -> None:
    if request.tags.done():  # its client went away, and its handler with it
        return
    if error is not None:
        request.tags.set_exception(error)
    else:
        request.tags.set_result(tags)


def build_app(tagger: Tagger, limits: Limits, batch_size: int | None = None) -> Starlette:
    """The service for ``tagger``; every route answers JSON except the page. ``batch_size``:
    sentences per forward pass, and the most that requests waiting together are tagged in at once
    (None: the run's ``trainer.eval_batch_size``)."""
    batcher = RequestBatcher(tagger, batch_size or tagger.config.trainer.eval_batch_size)
    page = files("sparse_sharing").joinpath("serve_page.html").read_text(encoding="utf-8")

    async def predict(request: Request) -> JSONResponse:
        try:
            sentences, tasks = parse(await read_body(request, limits.body_bytes), tagger.tasks, limits)
        except BadRequest as error:
            return JSONResponse({"error": str(error)}, status_code=error.status)
        try:
            tags = await batcher.tag(sentences, tasks)
        except UserError as error:  # what parse cannot see; never the server's end
            return JSONResponse({"error": str(error)}, status_code=422)
        return JSONResponse({"tasks": tasks, "tags": tags})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "run": str(tagger.run_dir), "tasks": tagger.tasks})

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(page)

    return Starlette(routes=[Route("/predict", predict, methods=["POST"]), Route("/health", health),
                             Route("/", index)])


async def read_body(request: Request, max_bytes: int) -> Any:
    """The request's JSON, refusing bodies over ``max_bytes`` before reading them whole."""
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise BadRequest(413, f"request body over {max_bytes:,} bytes")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(400, f"request body is not JSON: {error}") from None


def parse(payload: Any, available: list[str], limits: Limits) -> tuple[list[list[str]], list[str]]:
    """``{"sentences": [[token, ...], ...], "tasks": [...]}`` checked; the tasks default to all."""
    if not isinstance(payload, dict) or not isinstance(payload.get("sentences"), list):
        raise BadRequest(422, 'expected {"sentences": [["token", ...], ...], "tasks": [...] (optional)}')
    unknown_keys = sorted(set(payload) - {"sentences", "tasks"})
    if unknown_keys:
        raise BadRequest(422, f"unknown field(s) {', '.join(unknown_keys)}: only sentences and tasks")
    sentences = payload["sentences"]
    if len(sentences) > limits.sentences:
        raise BadRequest(413, f"{len(sentences)} sentences: at most {limits.sentences} a request")
    for number, sentence in enumerate(sentences, 1):
        if not isinstance(sentence, list) or not sentence or not all(
                isinstance(t, str) and t and not t.isspace() and len(t) <= limits.token_chars for t in sentence):
            raise BadRequest(422, f"sentence {number} must be a non-empty list of tokens (non-blank strings of "
                                  f"at most {limits.token_chars} characters)")
        if len(sentence) > limits.tokens:
            raise BadRequest(413, f"sentence {number} has {len(sentence)} tokens: at most {limits.tokens}")
    tasks = payload.get("tasks") or available
    if not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
        raise BadRequest(422, "tasks must be a list of task names")
    unknown = [t for t in tasks if t not in available]
    if unknown:
        raise BadRequest(422, f"unknown task(s) {', '.join(unknown)}; this run has {', '.join(available)}")
    return sentences, list(dict.fromkeys(tasks))
