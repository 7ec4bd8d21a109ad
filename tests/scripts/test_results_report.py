"""The results pages (results/README.md, README.md's results block) are what
scripts/results_report.py makes from results/: a committed run without its regenerated page, or a
hand edit of a generated table, fails here."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "results_report.py"


def test_the_results_pages_are_current() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
