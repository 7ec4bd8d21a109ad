"""`ssl serve`: a trained run as an HTTP JSON service (Starlette on uvicorn, the `serve` extra).

    POST /predict  {"sentences": [["EU", "rejects", ...], ...], "tasks": ["ner"]}  (tasks optional)
                   → {"tasks": [...], "tags": [{"ner": ["B-ORG", "O", ...]}, ...]}
    GET  /health   → {"status": "ok", "run": ..., "tasks": [...]}
    GET  /         a page to type a sentence and see each task's tags on its tokens

Why Starlette: a small, well-kept ASGI toolkit (FastAPI is built on it) whose plain request and
response objects are all this needs; uvicorn serves it. A request the caller got wrong is a 4xx
with a JSON message, never a crash: the tagger sees only validated input. The model runs in a
worker thread, one request at a time (one torch thread each, as on the command line), so the
event loop keeps answering /health while a long batch is tagged.
"""
from __future__ import annotations

import json
import threading
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


def build_app(tagger: Tagger, limits: Limits, batch_size: int | None = None) -> Starlette:
    """The service for ``tagger``; every route answers JSON except the page. ``batch_size``:
    sentences per forward pass (`Tagger.predict`'s; None: the run's ``trainer.eval_batch_size``)."""
    lock = threading.Lock()
    page = files("sparse_sharing").joinpath("serve_page.html").read_text(encoding="utf-8")

    async def predict(request: Request) -> JSONResponse:
        try:
            sentences, tasks = parse(await read_body(request, limits.body_bytes), tagger.tasks, limits)
        except BadRequest as error:
            return JSONResponse({"error": str(error)}, status_code=error.status)

        def tag() -> list[dict[str, list[str]]]:
            with lock:
                return tagger.predict(sentences, tasks=tasks, batch_size=batch_size)

        try:
            tags = await run_in_threadpool(tag)
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
