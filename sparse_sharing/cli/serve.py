"""`ssl serve`: a run's tagger as an HTTP JSON service (see ``sparse_sharing.serve``)."""
from __future__ import annotations

from pathlib import Path

import click

from sparse_sharing.api import Tagger
from sparse_sharing.cli.common import device_option, error_boundary, include_package_option
from sparse_sharing.errors import UserError


@click.command("serve")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on.")
@include_package_option
@device_option
@error_boundary
def serve_command(run_dir: Path, host: str, port: int, include_packages: tuple[str, ...], device: str | None) -> None:
    """Serve RUN_DIR's tagger: POST /predict, GET /health, and a page at / to try it
    (needs the `serve` extra: pip install 'sparse-sharing[serve]')."""
    try:
        import uvicorn

        from sparse_sharing.serve import build_app
    except ImportError as error:
        raise UserError(f"ssl serve needs the serve extra ({error.name} is missing): "
                        f"pip install 'sparse-sharing[serve]'") from None
    tagger = Tagger.from_run(run_dir, device=device, include_packages=include_packages)
    click.echo(f"Serving {run_dir} (tasks {', '.join(tagger.tasks)}) on http://{host}:{port}/", err=True)
    uvicorn.run(build_app(tagger), host=host, port=port, log_level="warning")
