"""Labels held out of training (zero-shot evaluation): the reduced label space and corpus."""

from __future__ import annotations

import datasets

from .label_space import LabelSpace

HELD_OUT_DOCUMENTS = ("keep", "drop")
"""What `exclude_labels` does with the training documents that carry a held-out label."""


def exclude_labels(
    space: LabelSpace, corpus: datasets.DatasetDict, names: list[str], held_out_documents: str = "keep"
) -> tuple[LabelSpace, datasets.DatasetDict]:
    """The label space and corpus without the labels `names` (held out of training, e.g. to test zero-shot).

    The remaining labels keep their order and get consecutive ids. Multi-label corpora only: in a
    multi-class corpus every document of a removed class would be left without its class.

    Args:
        held_out_documents: what happens to the "train" split's documents that carry a held-out label.
            "keep": they stay, with their other labels; one left with none becomes a negative for every
            label, so training teaches the model that the held-out topic is "no label", which works
            against scoring that label later. "drop": they are removed from "train", so the model never
            reads a document of a held-out label (the usual zero-shot protocol). The other splits keep
            every document in both cases: they evaluate.
    """
    if held_out_documents not in HELD_OUT_DOCUMENTS:
        raise ValueError(
            f"exclude_labels: held_out_documents must be one of {list(HELD_OUT_DOCUMENTS)}, got {held_out_documents!r}."
        )
    if space.task != "multi_label":
        raise ValueError(
            f"exclude_labels: the corpus task is {space.task!r}; labels can be held out of multi_label corpora only."
        )
    unknown = [name for name in names if name not in space.names]
    if unknown:
        raise ValueError(f"exclude_labels: {unknown} not among the corpus labels {space.names}.")
    if len(set(names)) >= len(space.names):
        raise ValueError(f"exclude_labels: holding out {sorted(set(names))} would leave no label to train on.")
    kept = [index for index, name in enumerate(space.names) if name not in set(names)]
    new_id = {old: new for new, old in enumerate(kept)}
    kept_names = [space.names[index] for index in kept]
    reduced = LabelSpace(
        task=space.task,
        names=kept_names,
        descriptions=[space.descriptions[index] for index in kept] if space.descriptions else None,
    )

    def remap(batch: dict) -> dict:
        return {"labels": [[new_id[i] for i in ids if i in new_id] for ids in batch["labels"]]}

    split = next(iter(corpus.values()))
    features = split.features.copy()
    features["labels"] = datasets.List(datasets.ClassLabel(names=kept_names))
    held = {space.names.index(name) for name in names}
    reduced_corpus = {}
    for name, dataset in corpus.items():
        if held_out_documents == "drop" and name == "train":
            dataset = dataset.filter(lambda batch: [not held & set(ids) for ids in batch["labels"]], batched=True)
        reduced_corpus[name] = dataset.map(remap, batched=True, features=features)
    return reduced, datasets.DatasetDict(reduced_corpus)
