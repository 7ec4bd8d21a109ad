"""`ssl corpus`: the bundled toy corpus as CoNLL files, to read, to edit, or to score a run against."""
from __future__ import annotations

from pathlib import Path

import click

from sparse_sharing.cli.common import error_boundary
from sparse_sharing.components.data.toy_corpus import write_conll


@click.command("corpus")
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@error_boundary
def corpus_command(out_dir: Path) -> None:
    """Write the bundled corpus to OUT_DIR as train.txt, dev.txt and test.txt.

    Columns: word, POS, chunk (BIO), NER (BIO). `ssl evaluate` takes these files (or files in the
    same layout) for a run trained on the bundled corpus, and `ssl predict` their first column.
    """
    paths = write_conll(out_dir)  # a path that cannot be written is the user's to fix; a full disk a fault
    for split, path in paths.items():
        click.echo(f"{split}: {path}")
