"""Comparing methods by label frequency on a seeded subset of a large label set (issues 12, 13 and 29).

Data. `make_subset` links a seeded random subset of a corpus folder in the EURLEX57K layout
(`train/ dev/ test/` of one JSON file per document, plus `EURLEX57K.json`) into a work folder, in the
same layout, so `train.py`'s `label_set="train"` means "the labels of the training documents used".
`load_eval_data` reads the dev and test gold labels over the training labels first (in `train.py`'s
column order), then the zero-shot labels (in dev/test documents, in no training document).

Groups. Counted on the training subset (`labelwise.metrics.label_groups.frequency_groups`): *frequent*
(>= 50 training documents), *few* (1-49) and *zero* (no training document). Each group is scored on its
own columns and on the documents with a gold label in it. A label-specific model has no output for a
zero label: its zero-group scores are "n/a", not 0.

Scores (`scores_for_run`). Overall R-Precision, R-Precision@k, P@k, nDCG@k over the training labels (so
every method compares like with like), and micro-F1 overall and per group at one global threshold
tuned on the dev subset (micro-F1 over the training labels). Baselines without training:
`label_prior_scores` (every document gets each label's training frequency),
`similarity_probabilities` (untuned encoder cosines mapped to [0, 1]) and `ancestor_target_scores` (the
ceiling of a model trained on ancestor-augmented targets and scored on the gold labels).

Reports. `report` (Markdown: overall, then per group) and `plot_groups` (bars per group) read result
records of the form `{"test": scores_for_run(...), ...}`, one per run.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["GROUPS", "EvalData", "ancestor_target_scores", "label_prior_scores", "load_eval_data", "make_subset",
           "plot_collapse", "plot_groups", "query_similarity", "report", "representation_spread", "scores_for_run",
           "similarity_probabilities", "threads_note"]

GROUPS = ("frequent", "few", "zero")
SPLITS = ("validation", "test")


def make_subset(data_dir: Path, folder: Path, subset: Mapping[str, int]) -> dict:
    """Link a seeded random subset of `data_dir` (EURLEX57K layout) into `folder`; return its manifest.

    `subset`: documents drawn from each split (`train`, `dev`, `test`; more than a split has: all) and
    the `seed`. The manifest (`folder/subset.json`) lists the chosen files; a folder drawn with other
    settings is refused, so one work folder always holds one subset.
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
            _link(folder / split / name, source / split / name)
        documents[split] = chosen
    _link(folder / "EURLEX57K.json", concepts)
    manifest = {"request": request, "documents": documents}
    # Written whole under another name, then renamed: two runs drawing the same subset into one work folder at
    # once (the study's two lanes) never read a half-written manifest.
    partial = manifest_path.with_name(f"{manifest_path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    partial.replace(manifest_path)
    return manifest


def _link(link: Path, target: Path) -> None:
    """Link `link` to `target`, accepting a link to the same file that another run made meanwhile."""
    try:
        link.symlink_to(target.resolve())
    except FileExistsError:
        if link.resolve() != target.resolve():
            raise FileExistsError(f"{link} exists and is not a link to {target}; choose another --work_dir.") from None


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


def load_eval_data(subset_dir: Path, corpus_options: Mapping[str, Any], corpus: str = "eurlex57k") -> EvalData:
    """Read the subset twice: with `corpus_options` (whose `label_set="train"` gives train.py's label set,
    in its column order) and with every label used in the subset (the zero-shot columns and the gold labels)."""
    from labelwise.data_scripts import load_corpus, load_label_space

    train_space = load_label_space(corpus, data_dir=str(subset_dir), **corpus_options)
    used_options = {**corpus_options, "label_set": "used"}
    used_space = load_label_space(corpus, data_dir=str(subset_dir), **used_options)
    splits = load_corpus(corpus, data_dir=str(subset_dir), **used_options)
    description_of = dict(zip(used_space.names, used_space.descriptions))
    seen_names = list(train_space.names)
    zero_names = [n for n in used_space.names if n not in set(seen_names)]
    names = seen_names + zero_names
    column = {name: i for i, name in enumerate(names)}
    feature_names = splits["train"].features["labels"].feature.names

    def matrix(split: str) -> np.ndarray:
        gold = np.zeros((len(splits[split]), len(names)), dtype=np.int8)
        for row, ids in enumerate(splits[split]["labels"]):
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
        gold={split: matrix(split) for split in SPLITS},
        texts={split: list(splits[split]["text"]) for split in SPLITS},
        ids={split: list(splits[split]["id"]) for split in SPLITS},
    )


# ----------------------------------------------------------------------------- scoring
def scores_for_run(scores: dict[str, np.ndarray], data: EvalData, scores_unseen: bool, k: int = 5) -> dict:
    """Test scores of one method from its dev and test label scores.

    Args:
        scores: split -> `(documents, labels)` probabilities in `data`'s column order: every column
            when `scores_unseen`, else the `data.seen` training columns only.
        data: gold labels and groups.
        scores_unseen: whether the zero-shot columns are scored.

    Returns:
        `{"threshold", "dev_micro_f1", "overall": {...}, "groups": {group: {...} or "n/a"}, "group_sizes"}`.
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
    """The untuned-encoder baseline (`labelwise.analysis.similarity_baseline`), its cosines mapped
    to [0, 1] by (cos + 1) / 2 so one threshold grid serves every method. `(documents, labels)`."""
    from labelwise.analysis.similarity_baseline import similarity_scores

    return (similarity_scores(texts, descriptions, backbone, max_length) + 1) / 2


def label_prior_scores(data: EvalData, train_documents: int) -> dict[str, np.ndarray]:
    """Dev and test scores `(documents, seen labels)`: each training label's share of the
    `train_documents` training documents, the same row for every document."""
    prior = data.train_counts[: data.seen] / train_documents
    return {split: np.tile(prior, (len(data.texts[split]), 1)) for split in SPLITS}


def ancestor_target_scores(data: EvalData, hierarchy, seed: int = 0) -> dict[str, np.ndarray]:
    """Dev and test scores `(documents, seen labels)` of a model that has learned the ancestor-augmented
    targets of layer-wise training exactly: 1 for each gold label and each of its ancestors, 0 elsewhere,
    with seeded jitter below 1e-3 so that ties fall in random order. Scored on the gold labels alone,
    this is the ceiling of training on those targets (what the ancestors cost before any learning)."""
    rng = np.random.default_rng(seed)
    column = {name: i for i, name in enumerate(data.names[: data.seen])}
    scores = {}
    for split in SPLITS:
        gold = data.gold[split][:, : data.seen]
        split_scores = rng.random(gold.shape) * 1e-3
        for row, labels in enumerate(gold):
            names = [data.names[i] for i in np.flatnonzero(labels)]
            for name in hierarchy.augment(names, on_unknown="ignore"):
                if name in column:
                    split_scores[row, column[name]] += 1.0
        scores[split] = split_scores
    return scores


def query_similarity(descriptions: list[str], backbone: str, max_length: int = 64) -> dict:
    """How alike an untuned encoder's label queries are: the `labelwise.metrics.spread.spread` of the
    descriptions' embeddings, [CLS] against mean pooling."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from labelwise.metrics.spread import spread
    from labelwise.modeling.segments import masked_mean

    tokenizer, encoder = AutoTokenizer.from_pretrained(backbone), AutoModel.from_pretrained(backbone).eval()
    pooled: dict[str, list] = {"cls": [], "mean": []}
    with torch.no_grad():
        for start in range(0, len(descriptions), 64):
            encoded = tokenizer(descriptions[start : start + 64], padding=True, truncation=True, max_length=max_length,
                                return_tensors="pt")
            states = encoder(**encoded).last_hidden_state
            pooled["cls"].append(states[:, 0])
            pooled["mean"].append(masked_mean(states, encoded["attention_mask"]))
    record = {"backbone": backbone, "labels": len(descriptions), "max_description_length": max_length}
    for pooling, parts in pooled.items():
        record[pooling] = spread(torch.cat(parts))
    return record


def representation_spread(model, batch: Mapping[str, Any]) -> dict:
    """How far apart a model's representations of different documents (and, for LAME, of different
    labels) lie, in eval mode: a model whose encoder collapsed maps every document to nearly one
    vector and ranks the labels the same for all of them.

    `batch`: model inputs of a few documents (`input_ids`, `attention_mask`, ...; no `labels`).
    Returns the `labelwise.metrics.spread.spread` of the last encoder layer's [CLS] and masked-mean states over the documents,
    of the label queries (models with `encode_label_descriptions`), the logits' standard deviation
    across documents (mean over labels) and across labels (mean over documents), and how many
    distinct top-ranked labels the documents get.
    """
    import torch

    from labelwise.metrics.spread import spread
    from labelwise.modeling.segments import masked_mean

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            output = model(**batch, output_hidden_states=True)
            states = output.hidden_states[-1]
            mask = batch.get("attention_mask")
            if mask is None or mask.shape != states.shape[:2]:  # a segmenting model's states are per segment
                mask = torch.ones(states.shape[:2], dtype=torch.long, device=states.device)
            logits = output.logits.float()
            record = {"documents": len(logits),
                      "document_cls": spread(states[:, 0]), "document_mean": spread(masked_mean(states, mask)),
                      "logit_std_across_documents": round(logits.std(0).mean().item(), 4),
                      "logit_std_across_labels": round(logits.std(1).mean().item(), 4),
                      "distinct_top_labels": len(set(logits.argmax(-1).tolist()))}
            if hasattr(model, "encode_label_descriptions"):
                record["label_queries"] = spread(model.encode_label_descriptions())
    finally:
        model.train(was_training)
    return record


# ----------------------------------------------------------------------------- report
def _cell(value, scale: float = 100.0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value * scale:.2f}"


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


def report(records: Mapping[str, dict], rows: list[tuple[str, str]]) -> str:
    """Markdown: the overall test scores of each run, then R-Precision@5 / nDCG@5 / micro-F1 per group.

    `records`: run name -> record; `rows`: `(run name, how it got its model)` in table order, a run
    without a record shown as "not yet run". A record's `epochs_run`, `best_checkpoint`, `stopped_by`,
    `seconds_per_epoch`, `epoch_times` and `dev_shortlist_recall` are shown when present."""
    lines = [
        "| method | status | train s/epoch | epochs run (best) | RP | RP@5 | P@5 | nDCG@5 | micro-F1 (P / R) @ dev threshold |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, model in rows:
        record = records.get(key)
        if record is None:
            lines.append(f"| {key} | not yet run | | | | | | | |")
            continue
        o = record["test"]["overall"]
        stopped = f", {record['stopped_by']}" if record.get("stopped_by") else ""
        epochs = f"{record.get('epochs_run')} ({record.get('best_checkpoint')}{stopped})" if model == "trained" else model
        seconds = record.get("seconds_per_epoch")
        lines.append(
            f"| {key} | done | {seconds if seconds is not None else '-'}{threads_note(record)} | {epochs} | {_cell(o['r_precision'])} | "
            f"{_cell(o['rp_at_5'])} | {_cell(o['p_at_5'])} | {_cell(o['ndcg_at_5'])} | "
            f"{_cell(o['micro_f1'])} ({_cell(o['micro_precision'])} / {_cell(o['micro_recall'])}) @ {record['test']['threshold']:.2f} |"
        )
    lines += ["", "| method | " + " | ".join(f"{g} RP@5 | {g} nDCG@5 | {g} micro-F1" for g in GROUPS) + " |",
              "|---|" + "---|" * (3 * len(GROUPS))]
    for key, _ in rows:
        record = records.get(key)
        if record is None:
            lines.append(f"| {key} | not yet run |" + " |" * (3 * len(GROUPS) - 1))
            continue
        cells = []
        for group in GROUPS:
            values = record["test"]["groups"][group]
            if values == "n/a":
                cells += ["n/a"] * 3
            else:
                cells += [_cell(values.get("rp_at_5")), _cell(values.get("ndcg_at_5")), _cell(values.get("micro_f1"))]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    lines += seeds_summary(records)
    recalls = [f"{m} {r['dev_shortlist_recall']:.4f}" for m, r in records.items()
               if isinstance(r.get("dev_shortlist_recall"), float)]
    if recalls:
        lines += ["", "Dev recall of gold labels inside LAME's first-stage shortlist: " + "; ".join(recalls)]
    if records:
        sizes = next(iter(records.values()))["test"]["group_sizes"]
        lines += ["", "Groups (test subset): " + "; ".join(
            f"{g}: {s['labels']} labels, {s['test_documents']} documents" for g, s in sizes.items())]
    return "\n".join(lines)


def seeds_summary(records: Mapping[str, dict]) -> list[str]:
    """Markdown lines: each method run with more than one seed, its test scores averaged over the seeds,
    with the lowest and highest seed's R-Precision (the seeds' spread); no lines when no method has two."""
    by_method: dict[str, list[dict]] = {}
    for record in records.values():
        by_method.setdefault(record["method"], []).append(record)
    repeated = {method: sorted(runs, key=lambda r: r["seed"]) for method, runs in by_method.items() if len(runs) > 1}
    if not repeated:
        return []

    def mean(runs: list[dict], score: str, group: str = "overall") -> str:
        scores = [r["test"]["overall"] if group == "overall" else r["test"]["groups"][group] for r in runs]
        values = [v[score] for v in scores if v != "n/a" and v.get(score) is not None]
        return _cell(sum(values) / len(values)) if values else "-"

    lines = ["", "Over seeds (mean; RP's range over the seeds in brackets):", "",
             "| method | seeds | RP | RP@5 | nDCG@5 | micro-F1 @ dev threshold | few RP@5 |", "|---|---|---|---|---|---|---|"]
    for method, runs in repeated.items():
        precisions = [r["test"]["overall"]["r_precision"] for r in runs]
        lines.append(
            f"| {method} | {', '.join(str(r['seed']) for r in runs)} | {mean(runs, 'r_precision')} "
            f"({_cell(min(precisions))}-{_cell(max(precisions))}) | {mean(runs, 'rp_at_5')} | {mean(runs, 'ndcg_at_5')} | "
            f"{mean(runs, 'micro_f1')} | {mean(runs, 'rp_at_5', 'few')} |")
    return lines


def plot_groups(records: Mapping[str, dict], path: Path, title: str, metric: str = "rp_at_5") -> dict[str, dict[str, float | None]]:
    """Grouped bars: test `metric` (in %) of each run, overall and per label group. A label-specific
    model has no score on the zero group: its bar is missing and marked n/a. Returns the values drawn,
    by run and group (None where n/a)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = ("overall",) + GROUPS
    values: dict[str, dict[str, float | None]] = {}
    for method, record in records.items():
        test = record["test"]
        row = {"overall": 100.0 * test["overall"][metric]}
        for group in GROUPS:
            scores = test["groups"][group]
            row[group] = None if scores == "n/a" else 100.0 * scores[metric]
        values[method] = row
    if not values:
        raise FileNotFoundError(f"No finished run to plot ({path}).")
    width = 0.8 / len(values)
    colours = plt.get_cmap("tab10" if len(values) <= 10 else "tab20").colors  # no two runs share a colour
    figure, axis = plt.subplots(figsize=(max(7.0, 1.1 * len(values) + 4), 4))
    for i, (method, row) in enumerate(values.items()):
        xs = [c + (i - (len(values) - 1) / 2) * width for c in range(len(columns))]
        axis.bar(xs, [row[c] if row[c] is not None else 0.0 for c in columns], width, label=method,
                 color=colours[i % len(colours)])
        for x, column in zip(xs, columns):
            if row[column] is None:
                axis.text(x, 1.0, "n/a", rotation=90, ha="center", va="bottom", fontsize=7)
    ticks = {"overall": "overall", "frequent": "frequent\n(>= 50 training docs)", "few": "few\n(1-49)",
             "zero": "zero\n(not in training)"}
    axis.set_xticks(range(len(columns)), [ticks[c] for c in columns])
    name = {"rp_at_5": "R-Precision@5", "ndcg_at_5": "nDCG@5", "micro_f1": "micro-F1"}.get(metric, metric)
    axis.set_ylabel(f"test {name} (%)")
    axis.set_title(f"{title}: test {name} by label group")
    axis.grid(axis="y", alpha=0.3)
    axis.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return values


def plot_collapse(records: Mapping[str, dict], path: Path, title: str,
                  saved: Mapping[str, dict] | None = None) -> dict[str, dict[str, list]]:
    """Two panels over training steps, one line per probed method (`--probe_collapse` records): the mean
    pairwise cosine of the documents' mean token states, and of the label queries (methods that have
    them). Near 1 means collapsed: every document (or label) is nearly one vector. `saved`: a method's
    `--probe_saved` record, whose checkpoints (those with a step) are drawn as crosses in its colour.
    Returns the values drawn, by method: `steps`, `documents`, `queries` (None where a method has no
    queries)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not records:
        raise FileNotFoundError(f"No probe record to plot ({path}).")
    drawn: dict[str, dict[str, list]] = {}
    figure, (documents, queries) = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for method, record in records.items():
        rows = record["measurements"]
        values = {"steps": [m["step"] for m in rows],
                  "documents": [m["document_mean"]["mean_pairwise_cosine"] for m in rows],
                  "queries": [m["label_queries"]["mean_pairwise_cosine"] if "label_queries" in m else None for m in rows]}
        drawn[method] = values
        line = documents.plot(values["steps"], values["documents"], marker="o", label=method)[0]
        if values["queries"][0] is not None:
            queries.plot(values["steps"], values["queries"], marker="o", color=line.get_color(), label=method)
        checkpoints = [m for m in ((saved or {}).get(method) or {}).get("measurements", []) if m.get("step")]
        if checkpoints:
            steps = [m["step"] for m in checkpoints]
            documents.plot(steps, [m["document_mean"]["mean_pairwise_cosine"] for m in checkpoints], "x", markersize=9,
                           color=line.get_color(), label=f"{method}: its run's checkpoints")
            if "label_queries" in checkpoints[0]:
                queries.plot(steps, [m["label_queries"]["mean_pairwise_cosine"] for m in checkpoints], "x",
                             markersize=9, color=line.get_color())
    documents.set_title("documents (mean token states)")
    queries.set_title("label queries")
    documents.set_ylabel("mean pairwise cosine (1 = one vector)")
    for axis in (documents, queries):
        axis.set_xlabel("training step")
        axis.set_ylim(0, 1.02)
        axis.grid(alpha=0.3)
    # In the query panel's empty lower half, off the document curves.
    queries.legend(*documents.get_legend_handles_labels(), fontsize=7, loc="lower right")
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return drawn
