"""Metric functions and the `evaluate` modules that wrap them.

Plain functions (numpy in, floats out) are what training and benchmarks call; the `evaluate`
modules in the sub-folders (`hierarchical_ranking`, `entity_f1`, `multilabel_f1`) wrap the same
functions for users of `evaluate` and for publishing on the Hub. `load(name)` loads one of them
from this installed package, offline.
"""

from __future__ import annotations

from pathlib import Path

from .classification import multiclass_scores, multilabel_scores
from .entities import entity_scores, entity_spans
from .label_groups import frequency_groups, label_group_scores, r_precision_at_k
from .ranking import hierarchical_scores, ndcg_at_k, precision_at_k, r_precision

__all__ = [
    "MODULES",
    "entity_scores",
    "entity_spans",
    "frequency_groups",
    "hierarchical_scores",
    "label_group_scores",
    "load",
    "module_path",
    "multiclass_scores",
    "multilabel_scores",
    "ndcg_at_k",
    "precision_at_k",
    "r_precision",
    "r_precision_at_k",
]

#: The `evaluate` modules shipped in this package (one folder each, `<name>/<name>.py`).
MODULES = ("hierarchical_ranking", "entity_f1", "multilabel_f1")


def module_path(name: str) -> str:
    """Absolute path of the folder of the packaged `evaluate` module `name`."""
    if name not in MODULES:
        raise ValueError(f"Unknown labelwise metric {name!r}; expected one of {', '.join(MODULES)}.")
    folder = Path(__file__).resolve().parent / name
    if not (folder / f"{name}.py").is_file():
        raise FileNotFoundError(
            f"{folder / (name + '.py')} is missing: the package data of labelwise.metrics was not installed."
        )
    return str(folder)


def load(name: str, **kwargs):
    """`evaluate.load` a packaged metric by name, from its local folder (no network).

    >>> metric = load("hierarchical_ranking")
    >>> metric.compute(predictions=[[0.9, 0.1]], references=[[1, 0]], label_levels=[1, 1])["rp_micro"]
    1.0
    """
    import evaluate  # imported lazily: it is slow to import and the plain functions do not need it

    return evaluate.load(module_path(name), **kwargs)
