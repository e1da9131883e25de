"""What a model needs to know about a corpus's labels, and the features of a classification corpus."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import datasets

from .hierarchy import Hierarchy

TASKS = ("multi_label", "multi_class", "hierarchical", "ner")


@dataclass
class LabelSpace:
    """What a model needs to know about a corpus's labels.

    Attributes:
        task: ``"multi_label"``, ``"multi_class"``, ``"hierarchical"`` or ``"ner"``.
        names: label ids in ``ClassLabel`` order (BIO tag names for NER).
        descriptions: one natural-language description per name (classification corpora),
            used by label-aware models; ``None`` for NER.
        hierarchy: the label hierarchy for hierarchical corpora, else ``None``.
    """

    task: str
    names: list[str]
    descriptions: list[str] | None = None
    hierarchy: Hierarchy | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if len(set(self.names)) != len(self.names):
            dup = [n for n, c in Counter(self.names).items() if c > 1]
            raise ValueError(f"duplicate label names: {dup[:5]}")
        if self.descriptions is not None and len(self.descriptions) != len(self.names):
            raise ValueError(f"{len(self.descriptions)} descriptions for {len(self.names)} labels")

    @property
    def num_labels(self) -> int:
        return len(self.names)

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.names))

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    def to_dict(self) -> dict:
        return {
            "task": self.task,
            "names": list(self.names),
            "descriptions": None if self.descriptions is None else list(self.descriptions),
            "hierarchy": None if self.hierarchy is None else self.hierarchy.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "LabelSpace":
        h = data.get("hierarchy")
        return cls(data["task"], list(data["names"]), data.get("descriptions"), Hierarchy.from_dict(h) if h else None)


def classification_features(space: LabelSpace) -> datasets.Features:
    """The features of a classification corpus with labels `space`: ``id``, ``text`` and ``labels`` as
    ClassLabel (multi-class) or a sequence of them (multi-label, hierarchical)."""
    label = datasets.ClassLabel(names=space.names)
    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "text": datasets.Value("string"),
            "labels": label if space.task == "multi_class" else datasets.Sequence(label),
        }
    )
