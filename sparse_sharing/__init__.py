"""Multi-task sequence labelling with sparse sharing and the sharing baselines, as swappable config blocks."""

__version__ = "0.2.0.dev0"  # the one place the version is written; pyproject.toml reads it
