"""`ssl corpus`: the bundled toy corpus as CoNLL files, to read, to edit, or to score a run against."""
from __future__ import annotations

from pathlib import Path

import click

from sparse_sharing.cli.common import error_boundary
from sparse_sharing.components.data.embedded import write_conll
from sparse_sharing.errors import UserError


@click.command("corpus")
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@error_boundary
def corpus_command(out_dir: Path) -> None:
    """Write the bundled corpus to OUT_DIR as train.txt, dev.txt and test.txt.

    Columns: word, POS, chunk (BIO), NER (BIO). `ssl evaluate` takes these files (or files in the
    same layout) for a run trained on the bundled corpus, and `ssl predict` their first column.
    """
    try:
        paths = write_conll(out_dir)
    except OSError as error:
        raise UserError(f"cannot write the corpus to {out_dir}: {error.strerror}") from None
    for split, path in paths.items():
        click.echo(f"{split}: {path}")
