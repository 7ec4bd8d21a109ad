"""`ssl serve`: a run's tagger as an HTTP JSON service (see ``sparse_sharing.serve``)."""
from __future__ import annotations

import socket
from pathlib import Path

import click

from sparse_sharing.api import Tagger
from sparse_sharing.cli.common import device_option, error_boundary, include_package_option
from sparse_sharing.errors import UserError


@click.command("serve")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on; 0: any free port (the one taken is printed).")
@click.option("--batch-size", type=click.IntRange(min=1), metavar="N",
              help="Sentences per forward pass. Default: the run's trainer.eval_batch_size.")
@click.option("--max-sentences", type=click.IntRange(min=1), default=256, show_default=True,
              help="Sentences a request may hold (more: 413).")
@click.option("--max-tokens", type=click.IntRange(min=1), default=512, show_default=True,
              help="Tokens a sentence may hold (more: 413).")
@click.option("--max-token-chars", type=click.IntRange(min=1), default=100, show_default=True,
              help="Characters a token may hold (more: 422).")
@click.option("--max-body-bytes", type=click.IntRange(min=1), default=1_000_000, show_default=True,
              help="Bytes a request body may hold (more: 413, refused before it is read whole).")
@include_package_option
@device_option
@error_boundary
def serve_command(run_dir: Path, host: str, port: int, batch_size: int | None, max_sentences: int, max_tokens: int,
                  max_token_chars: int, max_body_bytes: int, include_packages: tuple[str, ...],
                  device: str | None) -> None:
    """Serve RUN_DIR's tagger: POST /predict, GET /health, and a page at / to try it
    (needs the `serve` extra: pip install 'sparse-sharing[serve]')."""
    try:
        import uvicorn

        from sparse_sharing.serve import Limits, build_app
    except ImportError as error:
        raise UserError(f"ssl serve needs the serve extra ({error.name} is missing): "
                        f"pip install 'sparse-sharing[serve]'") from None
    listener = listen(host, port)
    tagger = Tagger.from_run(run_dir, device=device, include_packages=include_packages)
    address = f"[{host}]" if ":" in host else host
    click.echo(f"Serving {run_dir} (tasks {', '.join(tagger.tasks)}) on "
               f"http://{address}:{listener.getsockname()[1]}/", err=True)
    limits = Limits(max_body_bytes, max_sentences, max_tokens, max_token_chars)
    app = build_app(tagger, limits, batch_size)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[listener])


def listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound and listening here rather than in uvicorn: before the model loads,
    a port in use is one message (uvicorn would log it and exit 1 after loading), and with port 0
    the port the system chose is known, to print."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                                flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as error:
        raise UserError(f"--host {host}: not an address of this machine ({error.strerror})") from None
    listener = socket.socket(family, kind, protocol)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a restart need not wait
    try:
        listener.bind(address)
        listener.listen(2048)  # uvicorn's backlog; connections made before it serves wait in it
    except OSError as error:
        listener.close()
        raise UserError(f"cannot listen on {host}:{port}: {error.strerror}. Choose another --port "
                        f"(--port 0: any free one) or --host.") from None
    return listener
