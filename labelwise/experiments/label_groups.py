"""Scoring by label frequency group on a EURLEX57K-layout subset: the shared logic of `bench/eurlex_label_groups.py`.

A seeded subset of the corpus folder is linked into a work folder (`make_subset`), its dev and test gold
labels are read over the training labels first, then the zero-shot ones (`load_eval_data`), and a method's
dev and test label scores become its overall and per-group test scores at a dev-tuned threshold
(`scores_for_run`; groups: `labelwise.metrics.label_groups.frequency_groups`). `epoch_timer` records the
time of each (part of an) epoch of a resumable run; `threads_note` says how many threads the steps ran on.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["GROUPS", "EvalData", "epoch_timer", "json_default", "load_eval_data", "make_subset", "percent",
           "scores_for_run", "similarity_probabilities", "threads_note"]

GROUPS = ("frequent", "few", "zero")


def make_subset(data_dir: Path, folder: Path, subset: dict) -> dict:
    """Link a seeded random subset of `data_dir` (EURLEX57K layout: `subset` documents of train/dev/test and
    its `seed`) into `folder`; return its manifest.

    The manifest (`folder/subset.json`) lists the chosen files; a folder drawn with other settings is
    refused, so one work folder always holds one subset.
    """
    manifest_path = folder / "subset.json"
    source = data_dir / "dataset" if (data_dir / "dataset" / "train").is_dir() else data_dir
    request = {"source": str(source.resolve()), **subset}
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest["request"] != request:
            raise ValueError(f"{folder} holds a subset drawn with {manifest['request']}, not {request}; "
                             "choose another --work_dir.")
        return manifest
    concepts = next((p for p in (data_dir / "EURLEX57K.json", source / "EURLEX57K.json") if p.exists()), None)
    if concepts is None or not (source / "train").is_dir():
        raise FileNotFoundError(f"{data_dir}: expected train/ dev/ test/ and EURLEX57K.json (the EURLEX57K layout).")
    rng = random.Random(subset["seed"])
    documents = {}
    for split in ("train", "dev", "test"):
        files = sorted(p.name for p in (source / split).glob("*.json"))
        if not files:
            raise FileNotFoundError(f"{source / split}: no document files (*.json).")
        chosen = sorted(rng.sample(files, min(subset[split], len(files))))
        (folder / split).mkdir(parents=True, exist_ok=True)
        for name in chosen:
            link = folder / split / name
            if not link.exists():
                link.symlink_to((source / split / name).resolve())
        documents[split] = chosen
    link = folder / "EURLEX57K.json"
    if not link.exists():
        link.symlink_to(concepts.resolve())
    manifest = {"request": request, "documents": documents}
    manifest_path.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


@dataclass
class EvalData:
    """Gold labels of the dev and test subsets over the evaluation label set.

    Columns: the training labels first (`seen` of them, in the order of train.py's label space),
    then the zero-shot labels (in dev/test documents, in no training document).
    """

    names: list[str]
    descriptions: list[str]
    seen: int
    train_counts: np.ndarray  # (labels,) training documents per label
    gold: dict[str, np.ndarray]  # split -> (documents, labels) 0/1
    texts: dict[str, list[str]]
    ids: dict[str, list[str]]

    def groups(self) -> dict[str, np.ndarray]:
        from labelwise.metrics.label_groups import frequency_groups

        return frequency_groups(self.train_counts)


def load_eval_data(subset_dir: Path, corpus_options: dict) -> EvalData:
    """Read the subset (corpus options `corpus_options`, whose `label_set` must be "train") twice: with train.py's label set (the training labels, in its column order) and
    with every label used in the subset (for the zero-shot columns and the dev/test gold labels)."""
    from labelwise.data_scripts import load_corpus, load_label_space

    train_space = load_label_space("eurlex57k", data_dir=str(subset_dir), **corpus_options)
    used_options = {**corpus_options, "label_set": "used"}
    used_space = load_label_space("eurlex57k", data_dir=str(subset_dir), **used_options)
    corpus = load_corpus("eurlex57k", data_dir=str(subset_dir), **used_options)
    description_of = dict(zip(used_space.names, used_space.descriptions))
    seen_names = list(train_space.names)
    zero_names = [n for n in used_space.names if n not in set(seen_names)]
    names = seen_names + zero_names
    column = {name: i for i, name in enumerate(names)}
    feature_names = corpus["train"].features["labels"].feature.names

    def matrix(split: str) -> np.ndarray:
        gold = np.zeros((len(corpus[split]), len(names)), dtype=np.int8)
        for row, ids in enumerate(corpus[split]["labels"]):
            gold[row, [column[feature_names[i]] for i in ids]] = 1
        return gold

    train_counts = matrix("train").sum(axis=0)
    if (train_counts[: len(seen_names)] == 0).any() or train_counts[len(seen_names):].any():
        raise ValueError(f"{subset_dir}: label_set='train' does not match the labels of the training documents.")
    return EvalData(
        names=names,
        descriptions=[description_of[n] for n in names],
        seen=len(seen_names),
        train_counts=train_counts,
        gold={split: matrix(split) for split in ("validation", "test")},
        texts={split: list(corpus[split]["text"]) for split in ("validation", "test")},
        ids={split: list(corpus[split]["id"]) for split in ("validation", "test")},
    )


def scores_for_run(
    scores: dict[str, np.ndarray], data: EvalData, scores_unseen: bool, k: int = 5
) -> dict:
    """Test scores of one method from its dev and test label scores.

    Args:
        scores: split -> `(documents, labels)` probabilities in `data`'s column order: every column
            when `scores_unseen`, else the `data.seen` training columns only.
        data: gold labels and groups.
        scores_unseen: whether the zero-shot columns are scored.

    Returns:
        `{"threshold", "dev_micro_f1", "overall": {...}, "groups": {group: {...} or "n/a"}}`.
    """
    from labelwise.metrics.classification import multilabel_scores
    from labelwise.metrics.label_groups import label_group_scores, r_precision_at_k
    from labelwise.metrics.ranking import ndcg_at_k, precision_at_k, r_precision
    from labelwise.metrics.thresholds import tune_global_threshold

    seen = slice(0, data.seen)
    width = len(data.names) if scores_unseen else data.seen
    for split, matrix in scores.items():
        if matrix.shape != (data.gold[split].shape[0], width):
            raise ValueError(f"{split} scores have shape {matrix.shape}; expected {(data.gold[split].shape[0], width)}.")
    threshold, dev_f1 = tune_global_threshold(data.gold["validation"][:, seen], scores["validation"][:, seen])
    gold, test = data.gold["test"][:, seen], scores["test"][:, seen]
    at = multilabel_scores(gold, (test >= threshold).astype(np.int8))
    overall = {
        "r_precision": r_precision(gold, test),
        f"rp_at_{k}": r_precision_at_k(gold, test, k),
        f"p_at_{k}": precision_at_k(gold, test, k),
        f"ndcg_at_{k}": ndcg_at_k(gold, test, k),
        "micro_f1": at["micro_f1"],
        "micro_precision": at["micro_precision"],
        "micro_recall": at["micro_recall"],
    }
    groups = data.groups()
    if scores_unseen:
        flat = label_group_scores(data.gold["test"], scores["test"], groups, k=k, threshold=threshold)
    else:
        flat = label_group_scores(gold, test, {g: groups[g] for g in ("frequent", "few")}, k=k, threshold=threshold)
    by_group: dict[str, dict | str] = {}
    for group in GROUPS:
        prefix = f"{group}_"
        values = {key.removeprefix(prefix): value for key, value in flat.items() if key.startswith(prefix)}
        by_group[group] = values or "n/a"
    return {"threshold": threshold, "dev_micro_f1": dev_f1, "overall": overall, "groups": by_group,
            "group_sizes": {g: {"labels": int(len(groups[g])),
                                "test_documents": int((data.gold["test"][:, groups[g]].sum(axis=1) > 0).sum())}
                            for g in GROUPS}}


def similarity_probabilities(backbone: str, texts: list[str], descriptions: list[str], max_length: int) -> np.ndarray:
    """The shared untuned-encoder baseline (`labelwise.analysis.similarity_baseline`), its cosines mapped
    to [0, 1] by (cos + 1) / 2 so one threshold grid serves every method. `(documents, labels)`."""
    from labelwise.analysis.similarity_baseline import similarity_scores

    return (similarity_scores(texts, descriptions, backbone, max_length) + 1) / 2


def epoch_timer(path: Path):
    """A `TrainerCallback` appending `{"epoch", "steps", "seconds", "torch_threads"}` of each (part of an)
    epoch to `path`, so a resumed run keeps the times of the epochs before the interruption (and says how
    many threads each part had, as a run may resume with another `--torch_threads`)."""
    import torch
    from transformers import TrainerCallback

    class EpochTimer(TrainerCallback):
        def on_epoch_begin(self, args, state, control, **kwargs):
            self.started, self.first_step = time.time(), state.global_step

        def on_epoch_end(self, args, state, control, **kwargs):
            records = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
            records.append({"epoch": round(state.epoch, 3), "steps": state.global_step - self.first_step,
                            "seconds": round(time.time() - self.started, 1), "torch_threads": torch.get_num_threads()})
            path.write_text(json.dumps(records, indent=1), encoding="utf-8")

    return EpochTimer()


def threads_note(record: dict) -> str:
    """"" for a run trained on one thread throughout, else how many steps ran on how many threads
    (an epoch timed before threads were recorded ran on one)."""
    steps_by_threads: dict[int, int] = {}
    for epoch in record.get("epoch_times", []):
        threads = epoch.get("torch_threads", 1)
        steps_by_threads[threads] = steps_by_threads.get(threads, 0) + epoch["steps"]
    if set(steps_by_threads) <= {1}:
        return ""
    return " (" + ", ".join(f"{steps} steps on {threads} thread{'s' if threads > 1 else ''}"
                            for threads, steps in sorted(steps_by_threads.items())) + ")"


def percent(value, scale: float = 100.0) -> str:
    """A score as a table cell: `value * scale` with two decimals, "-" for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value * scale:.2f}"


def json_default(value):
    """`json.dump`'s `default` for records: numpy scalars as Python numbers, anything else as text."""
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
