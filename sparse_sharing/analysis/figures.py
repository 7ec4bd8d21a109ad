"""The masks figure: where the tasks' masks overlap, and what sparsity cost each task on dev.

matplotlib is optional (the ``plot`` extra) and imported only when a figure is asked for. The
figure is drawn on a bare ``Figure`` with the Agg canvas, so it needs no display and touches
no pyplot state, whatever backend the environment selects.
"""
from __future__ import annotations

from pathlib import Path

from sparse_sharing.analysis.masks import RunMasks, overlap_matrix
from sparse_sharing.errors import UserError
from sparse_sharing.files import atomic_write


def require_matplotlib() -> None:
    """Checked before any work, so a missing extra costs the user nothing but the message."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UserError("--plot needs matplotlib: pip install 'sparse-sharing[plot]'") from None


def plot_masks(run: RunMasks, path: Path) -> None:
    """Two panels: the pairwise overlap heatmap, and dev score against kept fraction over the search rounds."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    masks, tasks = run.masks, run.masks.tasks
    figure = Figure(figsize=(11, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    heatmap, curves = figure.subplots(1, 2, width_ratios=[1, 1.3])

    matrix = overlap_matrix(masks)
    image = heatmap.imshow(matrix, vmin=0.0, vmax=1.0, cmap="viridis")
    heatmap.set_xticks(range(len(tasks)), tasks)
    heatmap.set_yticks(range(len(tasks)), tasks)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            heatmap.text(j, i, f"{value:.3f}", ha="center", va="center", color="white" if value < 0.6 else "black")
    figure.colorbar(image, ax=heatmap, label="overlap ratio |∩ M| / |∪ M|")
    heatmap.set_title(f"Pairwise mask overlap ({len(tasks)}-way: {masks.overlap_ratio():.3f})")

    for task in tasks:
        rounds = run.rounds[task]
        if not rounds:
            continue
        (line,) = curves.plot([100 * r["kept_fraction"] for r in rounds], [r["dev_score"] for r in rounds],
                              marker="o", label=task)
        for record in rounds:
            if record["round"] == run.reports[task].get("round"):
                curves.plot([100 * record["kept_fraction"]], [record["dev_score"]], linestyle="none", marker="*",
                            markersize=16, color=line.get_color(), markeredgecolor="black")
    if any(run.rounds.values()):
        # One neutral legend entry for the stars, whatever task colours them.
        curves.plot([], [], linestyle="none", marker="*", markersize=12, color="lightgrey", markeredgecolor="black",
                    label="chosen round")
        curves.invert_xaxis()  # the search runs from dense to sparse: read left to right
        curves.legend()
    else:
        curves.text(0.5, 0.5, "no mask-search rounds recorded", transform=curves.transAxes,
                    ha="center", va="center")
    curves.set_xlabel("kept fraction (%)")
    curves.set_ylabel("dev score")
    curves.set_title("Mask search: dev score per round")
    curves.grid(alpha=0.3)

    atomic_write(Path(path), lambda stream: figure.savefig(stream, format="png", dpi=120))
