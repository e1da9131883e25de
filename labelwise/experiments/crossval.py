"""5-fold cross-validation of ADR taggers, grouped by document, with the BioBERT paper's Table 2.

Protocol (Symeonidou et al., BioBERT ADR NER):
- Data options as in the paper: keep sentences of fewer than `max_words` (130) words, drop
  duplicate sentences (same words; the first occurrence is kept); optionally keep only sentences
  with at least one entity (the paper's ADE count, 4,271, is the positive sentences only).
- Folds: `n_folds` (5) with a fixed seed, GROUPED BY `document_id`: all sentences of one abstract
  fall into the same fold, so no abstract is in training and test at once (sentences of one
  abstract share wording and ADR mentions, and splitting them would inflate the scores).
- Every method is trained on the other folds and scored on the held-out fold with the same
  entity-level exact-match metric (`labelwise.metrics.entities.entity_scores`, seqeval strict
  IOB2). Each (method, fold) result is one JSON file in `output_dir`; a file that exists is
  skipped, so an interrupted run continues where it stopped.
- Summary: mean and 95% confidence half-width `t(0.975, n-1) * sd / sqrt(n)` over folds.

Command:
    python -m labelwise.experiments.crossval --corpus ade --data_dir ../shared/data/ade_corpus_v2/ADE-Corpus-V2 \\
        --output_dir runs/ner_cv_ade --methods transformer,dictionary,crf,bilstm_crf --epochs 1 --max_length 150
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from labelwise.cli_errors import cli_main, note_output_path
from labelwise.metrics.entities import entity_scores

__all__ = [
    "METHODS",
    "examples_from_dataset",
    "filter_examples",
    "group_folds",
    "t_confidence_interval",
    "data_fingerprint",
    "make_tagger",
    "run_crossval",
    "summarize",
    "format_table",
    "main",
]

METHODS = {"dictionary": "Dictionary", "crf": "CRF", "bilstm_crf": "BiLSTM-CRF", "transformer": "Transformer"}
"""Method keys (command line, file names) and their column titles, in the paper's order."""

METRICS = (("precision", "P"), ("recall", "R"), ("f1", "F"))


def examples_from_dataset(dataset) -> list[dict]:
    """Sentences as `{"tokens", "tags", "document_id", "id"}` dicts, tags as IOB2 names.

    Args:
        dataset: a `DatasetDict` (all splits are concatenated: cross-validation makes its own
            folds), a `Dataset`, or a list of dicts with `tokens` and `tags` (or `ner_tags` names).
            Rows without `document_id` are their own group.
    """
    from datasets import ClassLabel, Dataset, DatasetDict

    if isinstance(dataset, DatasetDict):
        return [example for split in dataset for example in examples_from_dataset(dataset[split])]
    names = None
    if isinstance(dataset, Dataset):
        feature = getattr(dataset.features.get("ner_tags"), "feature", None)
        names = feature.names if isinstance(feature, ClassLabel) else None
    examples = []
    for index, row in enumerate(dataset):
        tags = row.get("tags", row.get("ner_tags"))
        if tags is None or "tokens" not in row:
            raise ValueError(f"row {index}: expected 'tokens' and 'ner_tags' (or 'tags'); got keys {sorted(row)}")
        if names is not None or (tags and not isinstance(tags[0], str)):
            if names is None:
                raise ValueError(f"row {index}: integer ner_tags but no ClassLabel feature to name them")
            tags = [names[tag] for tag in tags]
        row_id = str(row.get("id", index))
        examples.append({
            "id": row_id,
            "document_id": str(row.get("document_id") or f"row-{row_id}"),
            "tokens": list(row["tokens"]),
            "tags": list(tags),
        })
    return examples


def filter_examples(
    examples: Sequence[dict], max_words: int | None = 130, drop_duplicates: bool = True, only_with_entities: bool = False
) -> tuple[list[dict], dict[str, int]]:
    """Apply the paper's data options; returns the kept examples and how many each rule removed.

    `max_words`: keep sentences with FEWER than this many words (the paper: "less than 130 words").
    `drop_duplicates`: a sentence whose word sequence was already seen is dropped (first kept).
    """
    kept, seen = [], set()
    counts = {"input": len(examples), "too_long": 0, "duplicate": 0, "without_entities": 0}
    for example in examples:
        if max_words is not None and len(example["tokens"]) >= max_words:
            counts["too_long"] += 1
            continue
        key = tuple(example["tokens"])
        if drop_duplicates and key in seen:
            counts["duplicate"] += 1
            continue
        if only_with_entities and all(tag == "O" for tag in example["tags"]):
            counts["without_entities"] += 1
            continue
        seen.add(key)
        kept.append(example)
    counts["kept"] = len(kept)
    return kept, counts


def group_folds(groups: Sequence[str], n_folds: int = 5, seed: int = 42) -> list[list[int]]:
    """Split example indices into `n_folds` test folds that never share a group.

    Groups are shuffled with `seed`, then assigned largest first to the fold with the fewest
    examples so far (balanced fold sizes, deterministic for a seed).

    Returns:
        Per fold, the sorted indices of its test examples.
    """
    by_group: dict[str, list[int]] = {}
    for index, group in enumerate(groups):
        by_group.setdefault(group, []).append(index)
    if len(by_group) < n_folds:
        raise ValueError(f"{len(by_group)} documents cannot fill {n_folds} folds grouped by document_id.")
    names = sorted(by_group)
    random.Random(seed).shuffle(names)
    names.sort(key=lambda name: -len(by_group[name]))  # stable: the shuffle breaks ties
    folds: list[list[int]] = [[] for _ in range(n_folds)]
    for name in names:
        smallest = min(range(n_folds), key=lambda k: (len(folds[k]), k))
        folds[smallest].extend(by_group[name])
    return [sorted(fold) for fold in folds]


def t_confidence_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the two-sided t confidence interval: `t(1-a/2, n-1) * sd / sqrt(n)`.

    With one value the half-width is NaN (no spread to estimate).
    """
    from scipy import stats

    values = [float(v) for v in values]
    if not values:
        raise ValueError("t_confidence_interval needs at least one value.")
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, float("nan")
    quantile = stats.t.ppf(0.5 + confidence / 2, df=len(values) - 1)
    return mean, float(quantile * statistics.stdev(values) / math.sqrt(len(values)))


def data_fingerprint(examples: Sequence[dict]) -> str:
    """SHA-1 of the examples' ids, documents, words and tags: changes when the corpus does."""
    digest = hashlib.sha1()
    for example in examples:
        digest.update(json.dumps([example["id"], example["document_id"], example["tokens"], example["tags"]]).encode())
    return digest.hexdigest()


def make_tagger(method: str, options: dict, workdir: str):
    """A fresh tagger for `method` with its `options` (see `METHODS`)."""
    from labelwise.ner.baselines import BiLSTMCRFTagger, CRFTagger, DictionaryTagger

    if method == "dictionary":
        return DictionaryTagger(**options)
    if method == "crf":
        return CRFTagger(**options)
    if method == "bilstm_crf":
        return BiLSTMCRFTagger(**options)
    if method == "transformer":
        # The training layer (it reads the kinds and train.py's Trainer): this command sits above it.
        from labelwise.training.tagger import TransformerTagger

        return TransformerTagger(output_dir=workdir, **options)
    raise ValueError(f"unknown method {method!r}; choose from {sorted(METHODS)}")


def run_crossval(
    examples: Sequence[dict],
    methods: Sequence[str],
    output_dir: str,
    n_folds: int = 5,
    seed: int = 42,
    method_options: dict[str, dict] | None = None,
    folds_to_run: Sequence[int] | None = None,
    run_info: dict | None = None,
    data_options: dict | None = None,
) -> list[dict]:
    """Train and score each method on each fold; one JSON per (method, fold) in `output_dir`.

    A (method, fold) whose JSON exists is skipped, after checking that it was made with the same
    method options, `data_options` (corpus, filters), examples and folds (otherwise a ValueError names the file: use another `output_dir`).

    Returns:
        The records of all requested (method, fold) pairs, finished now or before.
    """
    method_options = method_options or {}
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    folds = group_folds([example["document_id"] for example in examples], n_folds, seed)
    fingerprint = data_fingerprint(examples)
    fold_ids = list(range(n_folds)) if folds_to_run is None else list(folds_to_run)
    records = []
    jobs = [(method, fold) for fold in fold_ids for method in methods]
    progress = tqdm(jobs, desc="cross-validation", unit="run")
    for method, fold in progress:
        path = output / f"{method}_fold{fold}.json"
        signature = {
            "method": method,
            "options": method_options.get(method, {}),
            "n_folds": n_folds,
            "seed": seed,
            "data": data_options or {},
            "n_examples": len(examples),
            "test_ids_head": [examples[i]["id"] for i in folds[fold][:5]],
        }
        if path.exists():
            record = json.loads(path.read_text())
            if record.get("signature") != signature:
                raise ValueError(
                    f"{path} was made with different settings ({record.get('signature')}) than this run "
                    f"({signature}); use another --output_dir or delete that file."
                )
            if record.get("data_fingerprint", fingerprint) != fingerprint:
                raise ValueError(
                    f"{path} was made from other sentences or tags (data fingerprint {record['data_fingerprint']}, "
                    f"now {fingerprint}; did the corpus builder change?); use another --output_dir."
                )
            progress.write(f"skip {method} fold {fold}: {path} exists (F1 {record['f1']:.4f})")
            records.append(record)
            continue
        progress.set_postfix_str(f"{method} fold {fold}")
        test = set(folds[fold])
        train_examples = [example for i, example in enumerate(examples) if i not in test]
        test_examples = [examples[i] for i in folds[fold]]
        with tempfile.TemporaryDirectory(prefix=f"ner_cv_{method}_") as workdir:
            tagger = make_tagger(method, dict(method_options.get(method, {})), workdir)
            started = time.perf_counter()
            tagger.fit([e["tokens"] for e in train_examples], [e["tags"] for e in train_examples])
            train_seconds = time.perf_counter() - started
            started = time.perf_counter()
            predictions = tagger.predict([e["tokens"] for e in test_examples])
            predict_seconds = time.perf_counter() - started
        scores = entity_scores([e["tags"] for e in test_examples], predictions)
        record = {
            "method": method,
            "fold": fold,
            "precision": scores["precision"],
            "recall": scores["recall"],
            "f1": scores["f1"],
            "support": scores["support"],
            "per_type": scores["per_type"],
            "n_train": len(train_examples),
            "n_test": len(test_examples),
            "n_train_documents": len({e["document_id"] for e in train_examples}),
            "n_test_documents": len({e["document_id"] for e in test_examples}),
            "train_seconds": round(train_seconds, 2),
            "predict_seconds": round(predict_seconds, 2),
            "truncation": getattr(tagger, "truncation", None),
            "signature": signature,
            "data_fingerprint": fingerprint,
            "run_info": run_info or {},
        }
        # Write to a temporary name first: a run killed mid-write must not leave a half file that is then skipped.
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(record, indent=2))
        os.replace(temporary, path)
        progress.write(f"{method} fold {fold}: P {record['precision']:.4f} R {record['recall']:.4f} F1 {record['f1']:.4f}")
        records.append(record)
    return records


def summarize(records: Sequence[dict], confidence: float = 0.95) -> dict[str, dict]:
    """Per method: `{"folds": n, metric: (mean, half_width)}` over its fold records."""
    by_method: dict[str, list[dict]] = {}
    for record in records:
        by_method.setdefault(record["method"], []).append(record)
    summary = {}
    for method, rows in by_method.items():
        summary[method] = {"folds": len(rows)}
        for metric, _ in METRICS:
            summary[method][metric] = t_confidence_interval([row[metric] for row in rows], confidence)
    return summary


def format_table(summary: dict[str, dict], dataset_name: str, methods: Sequence[str] | None = None, titles: dict[str, str] | None = None) -> str:
    """Markdown table shaped like the paper's Table 2: rows P, R, F; one column per method.

    Cells are `mean (±half-width)` in percent; the best F1 is bold. A method with fewer folds
    than the others says so in its column title.
    """
    methods = [m for m in (methods or METHODS) if m in summary]
    titles = {**METHODS, **(titles or {})}
    most = max((summary[m]["folds"] for m in methods), default=0)
    header = ["Dataset", "Metric"] + [
        titles[m] + ("" if summary[m]["folds"] == most else f" ({summary[m]['folds']} folds)") for m in methods
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    best_f1 = max((summary[m]["f1"][0] for m in methods), default=None)
    for index, (metric, letter) in enumerate(METRICS):
        cells = [dataset_name if index == 0 else "", letter]
        for m in methods:
            mean, half = summary[m][metric]
            text = f"{100 * mean:.2f} (±{100 * half:.2f})" if not math.isnan(half) else f"{100 * mean:.2f} (n/a)"
            cells.append(f"**{text}**" if metric == "f1" and mean == best_f1 else text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m labelwise.experiments.crossval", description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default="ade", help="corpus name for labelwise.data_scripts.load_corpus (ade, demo_ner)")
    parser.add_argument("--data_dir", default=None, help="local copy of the corpus (e.g. ../shared/data/ade_corpus_v2/ADE-Corpus-V2)")
    parser.add_argument("--output_dir", required=True, help="per-fold JSON files and table.md go here; existing folds are skipped")
    parser.add_argument("--methods", default="dictionary,crf,bilstm_crf,transformer", help="comma-separated subset of " + ",".join(METHODS))
    parser.add_argument(
        "--corpus_option", action="append", default=[], metavar="KEY=VALUE",
        help="builder option for load_corpus, VALUE parsed as JSON when possible (e.g. include_negative=false); repeatable",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (1 is fastest for the BiLSTM on a busy CPU)")
    parser.add_argument("--n_folds", type=int, default=5)
    parser.add_argument("--folds", default=None, help="comma-separated fold numbers to run now (default: all); the table uses every finished fold")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max_words", type=int, default=130, help="keep sentences with fewer words (0: no limit)")
    parser.add_argument("--keep_duplicates", action="store_true", help="do not drop duplicate sentences")
    parser.add_argument("--only_with_entities", action="store_true", help="keep only sentences with at least one entity")
    parser.add_argument("--backbone", default="default", help="transformer checkpoint (Hub id, folder, or 'default' = packaged MiniLM)")
    parser.add_argument("--epochs", type=float, default=1.0, help="transformer fine-tuning epochs")
    parser.add_argument("--max_length", type=int, default=150, help="transformer window length in pieces, special tokens included")
    parser.add_argument("--stride", type=int, default=32, help="pieces of overlap between windows of a long sentence")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--learning_rate", type=float, default=5e-5)
    parser.add_argument("--bilstm_epochs", type=int, default=10)
    parser.add_argument("--crf_iterations", type=int, default=100)
    parser.add_argument("--table", default=None, help="markdown output (default: <output_dir>/table.md)")
    return parser.parse_args(argv)


@cli_main("python -m labelwise.experiments.crossval")
def main(argv: Sequence[str] | None = None) -> str:
    args = _parse_args(argv)
    note_output_path(args.output_dir)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise SystemExit(f"--methods: unknown {unknown}; choose from {list(METHODS)}")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    corpus_options = {}
    for item in args.corpus_option:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--corpus_option {item!r}: expected KEY=VALUE")
        try:
            corpus_options[key] = json.loads(value)
        except json.JSONDecodeError:
            corpus_options[key] = value
    from labelwise.data_scripts import load_corpus

    dataset = load_corpus(args.corpus, data_dir=args.data_dir, **corpus_options)
    examples, counts = filter_examples(
        examples_from_dataset(dataset),
        max_words=args.max_words or None,
        drop_duplicates=not args.keep_duplicates,
        only_with_entities=args.only_with_entities,
    )
    print(f"data: {counts}, documents: {len({e['document_id'] for e in examples})}", flush=True)
    options = {
        "dictionary": {},
        "crf": {"max_iterations": args.crf_iterations},
        "bilstm_crf": {"epochs": args.bilstm_epochs, "seed": args.seed},
        "transformer": {
            "backbone": args.backbone,
            "max_length": args.max_length,
            "stride": args.stride,
            "num_train_epochs": args.epochs,
            "per_device_train_batch_size": args.batch_size,
            "learning_rate": args.learning_rate,
            "seed": args.seed,
        },
    }
    folds_to_run = [int(k) for k in args.folds.split(",")] if args.folds else None
    data_options = {
        "corpus": args.corpus,
        "corpus_options": corpus_options,
        "max_words": args.max_words or None,
        "drop_duplicates": not args.keep_duplicates,
        "only_with_entities": args.only_with_entities,
    }
    started = time.perf_counter()
    run_crossval(
        examples, methods, args.output_dir, args.n_folds, args.seed, options, folds_to_run,
        run_info={"command": " ".join(sys.argv), "data_counts": counts},
        data_options=data_options,
    )
    print(f"wall time this invocation: {time.perf_counter() - started:.1f} s", flush=True)
    # The table covers every finished fold in output_dir, including those of earlier sessions.
    records = [
        json.loads(path.read_text())
        for method in methods
        for path in sorted(Path(args.output_dir).glob(f"{method}_fold*.json"))
    ]
    backbone_name = "all-MiniLM-L6-v2" if args.backbone == "default" else os.path.basename(args.backbone.rstrip("/"))
    titles = {"transformer": f"Transformer ({backbone_name or args.backbone})"}
    table = format_table(summarize(records), args.corpus, methods=[m for m in METHODS if m in methods], titles=titles)
    table_path = Path(args.table or Path(args.output_dir) / "table.md")
    table_path.write_text(table)
    print(table, flush=True)
    print(f"table written to {table_path}")
    return table


if __name__ == "__main__":
    main()
