"""`ssl export`: one task of a run as an ONNX or TorchScript file (see ``sparse_sharing.export``)."""
from __future__ import annotations

from pathlib import Path

import click

from sparse_sharing.api import Tagger
from sparse_sharing.cli.common import error_boundary, include_package_option
from sparse_sharing.export import FORMATS, RUNTIME_FILE, check_writable, export_task, require_backend, sidecar_path
from sparse_sharing.files import human_size


@click.command("export")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--task", required=True, help="The task to export (one file per task).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="onnx", show_default=True,
              help="onnx (run with onnxruntime) or torchscript (run with torch.jit.load).")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, metavar="FILE",
              help="The model file; FILE.json (vocabularies, tags, CRF transitions) and tagger_runtime.py go "
                   "beside it.")
@include_package_option
@error_boundary
def export_command(run_dir: Path, task: str, fmt: str, output: Path, include_packages: tuple[str, ...]) -> None:
    """Write RUN_DIR's TASK (its dev-best weights; masks folded into the weights) as one model file that runs
    without sparse-sharing: `python tagger_runtime.py FILE tokens.txt`, or `ExportedTagger(FILE).predict(...)`
    from tagger_runtime.py. ONNX needs the export extra: pip install 'sparse-sharing[export]'."""
    require_backend(fmt)
    check_writable(output)
    tagger = Tagger.from_run(run_dir, device="cpu", tasks=[task], include_packages=include_packages)
    sizes = export_task(tagger, task, output, fmt)
    click.echo(f"Wrote {output}, {sidecar_path(output).name} and {RUNTIME_FILE} ({task}, {fmt})")
    click.echo(f"  parameters stored   {sizes['parameters']:>12,}  ({human_size(sizes['dense_bytes'])} as float32)")
    click.echo(f"  nonzero             {sizes['nonzero']:>12,}  ({human_size(sizes['nonzero_bytes'])}; "
               f"{sizes['nonzero'] / max(sizes['parameters'], 1):.1%} of them)")
    click.echo(f"  file                {sizes['file_bytes']:>12,}  ({human_size(sizes['file_bytes'])}; "
               f"gzip {human_size(sizes['gzip_bytes'])})")
