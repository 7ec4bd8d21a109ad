"""Per-task masks over the trunk's prunable weights: True = kept.

Names are relative to the trunk (``encoder.layers.0.weight_ih_l0``, ``embedders.1.conv.weight``),
not to the model, so a mask searched with one strategy applies to a trunk held by any other
(the ``sparse`` trunk, a ``single_subnet`` trunk, the search model's).

The authors' code stored bare tensors with True = pruned. Here each task's file sits beside a
JSON report (names, shapes, kept fractions, round, dev score, whatever the caller adds) and
loading checks names, shapes and dtype against the model, so a mask never lands silently on
the wrong tensor. Files are plain ``torch.save`` dicts read back with ``weights_only=True``:
safe to load, and one format whatever packages the reading machine has.

A run writes ``masks/<task>.pt`` (name → bool tensor, what users read with ``torch.load``).
``masks/<task>.bits`` holds the same mask bit-packed, 8 entries a byte (67 KB for the paper's
534k prunable weights against 534 KB): the form committed under ``results/``, where the run
directory itself is not kept. Everything that reads masks reads either.
"""
from __future__ import annotations

import functools
import json
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from sparse_sharing.errors import ConfigError, RunDirError
from sparse_sharing.files import load_torch, save_torch, write_json
from sparse_sharing.paths import RunPaths

# The paper prunes every LSTM weight matrix and the char-CNN conv weight; never embeddings,
# biases, heads or CRFs. (What the ``bilstm`` encoder and the ``char_cnn`` embedder declare in
# their ``prunable`` attributes, which masked strategies use by default.)
PAPER_PRUNABLE: tuple[str, ...] = ("*weight_ih*", "*weight_hh*", "*conv.weight")

# What a packed mask file holds under "format"; a later layout gets a new string.
PACKED_FORMAT = "sparse-sharing packed mask v1"

# Keys the report computes itself; a caller's metadata may not overwrite them.
COMPUTED_REPORT_KEYS = ("task", "true_means", "kept_fraction", "kept", "total", "tensors")

Shape = tuple[int, ...]


def prunable_parameters(module: nn.Module, patterns: Sequence[str]) -> dict[str, nn.Parameter]:
    """Parameters whose name matches any of the glob ``patterns`` (case-sensitive), in module order."""
    return {name: p for name, p in module.named_parameters() if any(fnmatchcase(name, pat) for pat in patterns)}


def read_mask_report(directory: Path, task: str) -> dict[str, Any]:
    path = RunPaths(Path(directory)).mask_report(task)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise RunDirError(f"no mask report for task '{task}': {path} does not exist") from None
    except json.JSONDecodeError as error:
        raise RunDirError(f"mask report {path} is not valid JSON: {error}") from None


def all_kept(shapes: Mapping[str, Sequence[int]]) -> dict[str, torch.Tensor]:
    """Every entry kept (on the CPU, where masks live): round 0 of a search, hard sharing as a mask."""
    return {name: torch.ones(tuple(shape), dtype=torch.bool) for name, shape in shapes.items()}


class MaskSet:
    """Task → (name → bool tensor), every task over the same tensors with the same shapes.

    The tensors are held, not copied: callers that keep mutating theirs should pass clones.
    """

    def __init__(self, masks: Mapping[str, Mapping[str, torch.Tensor]]) -> None:
        if not masks:
            raise ValueError("a MaskSet needs at least one task")
        first_task, first = next(iter(masks.items()))
        if not first:
            raise ValueError(f"task '{first_task}' masks no tensor")
        self._shapes: dict[str, Shape] = {name: tuple(t.shape) for name, t in first.items()}
        self._masks: dict[str, dict[str, torch.Tensor]] = {}
        for task, mask in masks.items():
            _check_task_name(task)
            if set(mask) != set(self._shapes):
                raise ValueError(f"task '{task}' masks {sorted(mask)} but task '{first_task}' masks "
                                 f"{sorted(self._shapes)}")
            for name, shape in self._shapes.items():
                tensor = mask[name]
                if tuple(tensor.shape) != shape or tensor.dtype != torch.bool:
                    raise ValueError(f"mask '{name}' of task '{task}' is {tensor.dtype} {tuple(tensor.shape)}; "
                                     f"expected torch.bool {shape}")
            self._masks[task] = {name: mask[name] for name in self._shapes}

    @classmethod
    def all_ones(cls, params: Mapping[str, torch.Tensor], tasks: Iterable[str]) -> "MaskSet":
        """Every entry kept: the starting point of a search, and hard sharing as a mask set. On the CPU,
        where every mask lives, whatever device ``params`` are on."""
        return cls({task: all_kept({name: p.shape for name, p in params.items()}) for task in tasks})

    @property
    def tasks(self) -> list[str]:
        return list(self._masks)

    @property
    def names(self) -> list[str]:
        return list(self._shapes)

    @property
    def shapes(self) -> dict[str, Shape]:
        return dict(self._shapes)

    def __getitem__(self, task: str) -> dict[str, torch.Tensor]:
        return dict(self._masks[self._select([task])[0]])

    def __contains__(self, task: object) -> bool:
        return task in self._masks

    def total_count(self) -> int:
        """Entries under the masks, kept or not."""
        return sum(_numel(shape) for shape in self._shapes.values())

    def kept_count(self, task: str) -> int:
        return sum(int(m.sum()) for m in self[task].values())

    def kept_fraction(self, task: str) -> float:
        return self.kept_count(task) / self.total_count()

    def kept_fraction_per_tensor(self, task: str) -> dict[str, float]:
        return {name: int(m.sum()) / m.numel() for name, m in self[task].items()}

    def union_count_per_tensor(self, tasks: Sequence[str] | None = None) -> dict[str, int]:
        """Per tensor, the entries kept by at least one of ``tasks`` (default: all)."""
        return self._combined_counts(tasks, torch.logical_or)

    def union_count(self, tasks: Sequence[str] | None = None) -> int:
        """Entries kept by at least one task: the shared network's size under these masks."""
        return sum(self.union_count_per_tensor(tasks).values())

    def intersection_count(self, tasks: Sequence[str] | None = None) -> int:
        return sum(self._combined_counts(tasks, torch.logical_and).values())

    def overlap_ratio(self, tasks: Sequence[str] | None = None) -> float:
        """The paper's OR(M_1..M_T) = |∩ M_t|₀ / |∪ M_t|₀ over every masked entry (default: all tasks)."""
        union = self.union_count(tasks)
        if union == 0:
            raise ValueError("the overlap ratio is undefined: no task keeps any entry")
        return self.intersection_count(tasks) / union

    def pairwise_overlaps(self) -> dict[tuple[str, str], float]:
        """The overlap ratio of every unordered pair of tasks, in task order."""
        tasks = self.tasks
        return {(a, b): self.overlap_ratio([a, b]) for i, a in enumerate(tasks) for b in tasks[i + 1:]}

    def _select(self, tasks: Sequence[str] | None) -> list[str]:
        selected = self.tasks if tasks is None else list(tasks)
        unknown = [t for t in selected if t not in self._masks]
        if unknown:
            raise KeyError(f"no mask for task(s) {unknown}; this MaskSet holds {self.tasks}")
        if not selected:
            raise ValueError("select at least one task")
        return selected

    def _combined_counts(self, tasks: Sequence[str] | None,
                         combine: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> dict[str, int]:
        selected = self._select(tasks)
        return {name: int(functools.reduce(combine, (self._masks[t][name] for t in selected)).sum())
                for name in self._shapes}

    def summary(self) -> dict[str, Any]:
        """The masks' figures for metrics.json and ``ssl masks``: kept fractions, overlaps, counts."""
        return {
            "kept_fraction": {t: self.kept_fraction(t) for t in self.tasks},
            "overlap_ratio": self.overlap_ratio(),
            "pairwise_overlap": {f"{a}-{b}": v for (a, b), v in self.pairwise_overlaps().items()},
            "union_count": self.union_count(),
            "masked_total": self.total_count(),
        }

    # ------------------------------------------------------------------ files
    def report(self, task: str, metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The JSON written beside a task's mask; ``metadata`` (round, dev_score, config, ...) is kept as given."""
        metadata = dict(metadata or {})
        clash = [key for key in COMPUTED_REPORT_KEYS if key in metadata]
        if clash:
            raise ValueError(f"report metadata may not set {clash}: the report computes them")
        per_tensor = self.kept_fraction_per_tensor(task)
        return {
            "task": task,
            "true_means": "kept",
            "round": None,
            "dev_score": None,
            **metadata,
            "kept_fraction": self.kept_fraction(task),
            "kept": self.kept_count(task),
            "total": self.total_count(),
            "tensors": {name: {"shape": list(m.shape), "kept": int(m.sum()), "kept_fraction": per_tensor[name]}
                        for name, m in self[task].items()},
        }

    def save(self, directory: Path, reports: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """Write ``masks/<task>.pt`` and ``masks/<task>.json`` under ``directory`` for every task, atomically.

        ``reports`` maps a task to the metadata of its report (see ``report``).
        """
        reports = reports or {}
        unknown = [t for t in reports if t not in self._masks]
        if unknown:
            raise ValueError(f"reports given for task(s) {unknown} that this MaskSet does not hold ({self.tasks})")
        for task, mask in self._masks.items():
            report = self.report(task, reports.get(task))
            paths = RunPaths(Path(directory))
            save_torch(paths.mask(task), {name: m.detach().cpu().clone() for name, m in mask.items()})
            write_json(paths.mask_report(task), report)

    def save_packed(self, directory: Path) -> None:
        """Write ``masks/<task>.bits`` under ``directory`` for every task (the compact form)."""
        for task, mask in self._masks.items():
            save_torch(RunPaths(Path(directory)).packed_mask(task), pack(mask))

    @classmethod
    def load(cls, directory: Path, expected: Mapping[str, Sequence[int]],
             tasks: Sequence[str] | None = None) -> "MaskSet":
        """Read the masks of ``tasks`` (default: every task with a file under ``directory/masks``).

        ``expected`` is name → shape of the model's masked tensors; a file whose names or shapes
        differ was searched for another model or other prunable patterns (ConfigError); a file
        that is missing, unreadable or not boolean is a broken run directory (RunDirError).
        """
        paths = RunPaths(Path(directory))
        folder = paths.masks
        if tasks is None:
            if not folder.is_dir():
                raise RunDirError(f"no masks: {folder} does not exist")
            tasks = stored_mask_tasks(directory)
            if not tasks:
                raise RunDirError(f"no masks: {folder} holds no <task>.pt or <task>.bits file")
        return cls({task: _load_task(mask_file(directory, task), task, expected) for task in tasks})


def stored_mask_tasks(directory: Path) -> list[str]:
    """The tasks with a mask file (``.pt`` or packed ``.bits``) under ``directory/masks``."""
    folder = RunPaths(Path(directory)).masks
    return sorted({p.stem for pattern in ("*.pt", "*.bits") for p in folder.glob(pattern)}) if folder.is_dir() else []


def mask_file(directory: Path, task: str) -> Path:
    """The task's mask file: ``<task>.pt``, else the packed ``<task>.bits`` where only that exists."""
    paths = RunPaths(Path(directory))
    plain, packed = paths.mask(task), paths.packed_mask(task)
    return packed if packed.is_file() and not plain.is_file() else plain


def pack(mask: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """A mask as its names, shapes and every entry in one bit string (``numpy.packbits``, row-major)."""
    flat = np.concatenate([m.detach().cpu().numpy().astype(bool).ravel() for m in mask.values()])
    return {"format": PACKED_FORMAT, "names": list(mask), "shapes": [list(m.shape) for m in mask.values()],
            "bits": torch.from_numpy(np.packbits(flat))}


def unpack(stored: Any, path: Path) -> dict[str, torch.Tensor]:
    """The bool tensors of a packed mask file, or a RunDirError saying why the file is unusable."""
    try:
        if stored.get("format") != PACKED_FORMAT:
            raise ValueError(f"format {stored.get('format')!r}, expected {PACKED_FORMAT!r}")
        names, shapes, bits = stored["names"], [tuple(s) for s in stored["shapes"]], stored["bits"]
        sizes = [_numel(shape) for shape in shapes]
        if len(names) != len(shapes) or bits.dtype != torch.uint8 or bits.numel() != (sum(sizes) + 7) // 8:
            raise ValueError("its names, shapes and bits do not agree")
        flat = torch.from_numpy(np.unpackbits(bits.numpy(), count=sum(sizes)).astype(bool))
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise RunDirError(f"packed mask file {path} is damaged ({error})") from None
    return {name: part.reshape(shape).clone()
            for name, shape, part in zip(names, shapes, torch.split(flat, sizes))}


def read_mask_file(path: Path) -> dict[str, torch.Tensor]:
    """A mask file's name → tensor dict (a packed ``.bits`` file unpacked), or a RunDirError saying why
    the file is unusable."""
    stored = load_torch(path, "mask file", advice="delete the run's masks/ to search again, or copy the "
                                                  "masks from a backup")
    if path.suffix == ".bits":
        return unpack(stored, path)
    if not isinstance(stored, dict) or not all(isinstance(t, torch.Tensor) for t in stored.values()):
        raise RunDirError(f"mask file {path} does not hold a dict of name → tensor")
    return stored


def _load_task(path: Path, task: str, expected: Mapping[str, Sequence[int]]) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise RunDirError(f"no mask for task '{task}': {path} does not exist")
    stored = read_mask_file(path)
    missing = [n for n in expected if n not in stored]
    extra = [n for n in stored if n not in expected]
    if missing or extra:
        raise ConfigError(
            f"the masks in {path} do not fit this model: "
            + "; ".join(part for part in (
                f"missing for {_listing(missing)}" if missing else "",
                f"present for {_listing(extra)}, which the model does not mask" if extra else "") if part)
            + ". Were they searched with another model config or other prunable patterns?"
        )
    for name, shape in expected.items():
        tensor = stored[name]
        if tuple(tensor.shape) != tuple(shape):
            raise ConfigError(f"the mask of '{name}' in {path} has shape {tuple(tensor.shape)} but the model's "
                              f"tensor is {tuple(shape)}: the masks were searched for a different model size")
        if tensor.dtype != torch.bool:
            raise RunDirError(f"the mask of '{name}' in {path} is {tensor.dtype}, not torch.bool (True = kept)")
    return {name: stored[name] for name in expected}


def _listing(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _numel(shape: Shape) -> int:
    return int(torch.Size(shape).numel())


def _check_task_name(task: str) -> None:
    """Task names become file names under masks/."""
    if not task or task in (".", "..") or "/" in task or "\\" in task:
        raise ValueError(f"task name {task!r} cannot name a mask file")
