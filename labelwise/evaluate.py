"""Score a saved labelwise model (folder or Hub id) on texts, a file or a corpus split.

    python -m labelwise.evaluate runs/hoc/model --corpus hoc --data_dir data/hoc --split test --tune_on validation
    python -m labelwise.evaluate user/my-model --file my_docs.jsonl --output scores.json
    python -m labelwise.evaluate runs/hoc/model --texts notes.txt          # predictions only, no gold labels

In Python (a split loaded by `datasets`, a file, or plain texts with label names):

    from labelwise.evaluate import evaluate
    result = evaluate("runs/hoc/model", dataset=corpus["test"], tune_on=corpus["validation"])
    result.metrics["micro_f1"], result.tuned["per_label"]["metrics"]["micro_f1"]

What is scored depends on the saved model's kind (`labelwise.saved_kinds`, read from its
`config.json`): classifiers (LAME, layer-wise, plain) give per-label probabilities (sigmoid for
multi-label, softmax for multi-class) and are scored with the classification and ranking metrics
of `labelwise.metrics`; a tagger (`token_classification`) tags the words of each row (`tokens`/`ner_tags` columns)
exactly as in training and is scored on entities.

Thresholds (multi-label): by default the model's own (`label_thresholds` or `decision_threshold` in
its config.json, tuned by `train.py`; 0.5 without them), or one given `threshold`. With `tune_on`
(a second labelled split) one global and per-label thresholds are tuned there and the scored split
is also reported at those (`Evaluation.tuned`), as `train.py --tune_thresholds` does.

Gold labels are matched to the model's outputs by name; a gold label the model has no output for
is an error naming it (`ignore_unknown_labels=True` drops such labels instead and counts them).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from labelwise.cli_errors import cli_main, note_output_path
from labelwise.saved_kinds import LAYERWISE, TOKEN_CLASSIFICATION

__all__ = ["Evaluation", "LoadedModel", "evaluate", "load_model", "main", "predict_probabilities", "read_examples"]

RANKING_K = 5
"""The cut-off of the ranking metrics reported beside the thresholded ones (P@5, nDCG@5)."""


@dataclass
class LoadedModel:
    """A saved model ready to score: its view, tokenizer, network and reading length."""

    name: str
    view: str
    tokenizer: Any
    network: Any
    max_length: int
    summary: dict = field(default_factory=dict)
    """`training_summary.json` of a local folder (empty for a Hub id or a folder without one)."""

    @property
    def label_names(self) -> list[str]:
        id2label = self.network.config.id2label
        return [id2label[i] for i in range(len(id2label))]

    @property
    def multi_label(self) -> bool:
        # The layer-wise model scores every level's labels with a sigmoid, whatever its problem_type says.
        return self.view == LAYERWISE or self.network.config.problem_type == "multi_label_classification"

    def thresholds(self) -> float | np.ndarray:
        """The decision thresholds stored in the model's config (tuned by `train.py`), else 0.5."""
        config = self.network.config
        per_label = getattr(config, "label_thresholds", None)
        if per_label:
            return np.asarray(per_label, dtype=np.float64)
        return float(getattr(config, "decision_threshold", None) or 0.5)


def load_model(
    model: str, *, device: str | None = None, trust_remote_code: bool = False, max_length: int | None = None
) -> LoadedModel:
    """Load a saved folder or Hub id as the demo does (`labelwise.analysis.predictors.load_network`).

    `max_length`: pieces each document is read to; default the run's `--max_length` from
    `training_summary.json`, else the model's `max_document_length` or the tokenizer's limit.
    """
    from labelwise.analysis.predictors import load_network

    view, tokenizer, network = load_network(model, device=device, trust_remote_code=trust_remote_code)
    summary = {}
    summary_path = os.path.join(model, "training_summary.json")
    if os.path.isfile(summary_path):
        with open(summary_path, encoding="utf-8") as handle:
            summary = json.load(handle)
    trained_length = (summary.get("hyperparameters") or {}).get("max_length")
    document_length = getattr(network.config, "max_document_length", None)
    length = max_length or document_length or trained_length or tokenizer.model_max_length
    return LoadedModel(model, view, tokenizer, network, int(length), summary)


def predict_probabilities(
    loaded: LoadedModel, texts: Sequence[str], batch_size: int = 32, show_progress: bool = False
) -> np.ndarray:
    """Per-label probabilities `(len(texts), num_labels)` in the model's column order (`id2label`).

    Texts are batched by length (less padding) and truncated at `loaded.max_length` pieces; a model
    with `max_document_length` reads them in segments itself.
    """
    import torch
    from tqdm.auto import tqdm

    if loaded.view == TOKEN_CLASSIFICATION:
        raise ValueError(f"{loaded.name} is a token tagger: it has no per-document label probabilities.")
    network, tokenizer = loaded.network, loaded.tokenizer
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), network.config.num_labels), dtype=np.float32)
    starts = range(0, len(order), batch_size)
    with torch.inference_mode():
        for start in tqdm(starts, desc="Scoring", disable=not show_progress):
            rows = order[start : start + batch_size]
            encoded = tokenizer([texts[i] for i in rows], truncation=True, max_length=loaded.max_length,
                                padding=True, return_tensors="pt")
            encoded = {key: value.to(network.device) for key, value in encoded.items()}
            logits = network(**encoded).logits.float()
            probabilities = torch.sigmoid(logits) if loaded.multi_label else torch.softmax(logits, dim=-1)
            out[rows] = probabilities.cpu().numpy()
    return out


@dataclass
class Evaluation:
    """What `evaluate` measured.

    Attributes:
        model / view: the model scored and how it was recognised.
        documents: rows scored.
        metrics: scores at `threshold` (multi-label), at the arg-max (multi-class) or on entities (ner),
            plus the threshold-free ranking scores (`r_precision`, `p_at_5`, `ndcg_at_5`) of multi-label models.
        threshold: the decision threshold(s) `metrics` were taken at (a float, or one per label).
        tuned: with `tune_on`: `{"global": {"threshold", "metrics"}, "per_label": {"thresholds", "metrics"}}`.
        unknown_labels: gold labels without a model output, dropped (`ignore_unknown_labels=True`), with counts.
        predictions: without gold labels: per text, the predicted labels (or entity spans).
    """

    model: str
    view: str
    documents: int
    metrics: dict[str, float] = field(default_factory=dict)
    threshold: float | list[float] | None = None
    tuned: dict | None = None
    unknown_labels: dict[str, int] = field(default_factory=dict)
    predictions: list | None = None

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------- examples
def read_examples(path: str, label_separator: str = ";", text_column: str | None = None,
                  label_column: str | None = None) -> tuple[list[str], list | None]:
    """Texts and gold labels of a file: a `.txt` file is one text per line, without labels; any other
    data file (CSV, TSV, JSON lines, a JSON list, Parquet) is read and checked as for training, by
    `labelwise.data_scripts.user_data.read_user_examples` (columns `text` and optionally `labels`, or those
    named by `text_column` / `label_column`, as train.py's `--text_column_name` / `--label_column_name`; label
    names as a list or one string split at `label_separator`; or `tokens` and `ner_tags`, a tagger's rows).

    Returns `(texts, labels or None)`; for tagger rows `texts` are the token lists and `labels` the tag lists.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file.")
    if os.path.splitext(path)[1].lower() == ".txt":
        with open(path, encoding="utf-8") as handle:
            return [line.rstrip("\n") for line in handle if line.strip()], None
    from labelwise.data_scripts.user_data import read_user_examples

    texts, labels = read_user_examples(path, text_column=text_column, label_column=label_column,
                                       label_delimiter=label_separator)
    if not texts:
        raise ValueError(f"{path}: no rows.")
    return texts, labels


def _split_examples(dataset) -> tuple[list, list | None]:
    """Texts and gold label names of a `datasets.Dataset` (ClassLabel ids turned into names)."""
    columns = dataset.column_names
    if "tokens" in columns:
        names = _class_names(dataset.features.get("ner_tags"))
        tags = dataset["ner_tags"] if "ner_tags" in columns else None
        if tags is not None and names:
            tags = [[names[t] for t in row] for row in tags]
        return list(dataset["tokens"]), tags
    if "text" not in columns:
        raise ValueError(f"The split has no 'text' column (columns: {columns}).")
    if "labels" not in columns:
        return list(dataset["text"]), None
    names = _class_names(dataset.features["labels"])
    labels = dataset["labels"]
    if names:
        labels = [[names[i] for i in row] if isinstance(row, list) else names[row] for row in labels]
    return list(dataset["text"]), labels


def _class_names(feature) -> list[str] | None:
    inner = getattr(feature, "feature", feature)
    return list(inner.names) if hasattr(inner, "names") else None


def _gold_matrix(labels: Sequence, names: list[str], ignore_unknown: bool, unknown: dict[str, int]) -> np.ndarray:
    column = {name: i for i, name in enumerate(names)}
    gold = np.zeros((len(labels), len(names)), dtype=np.int8)
    for row, value in enumerate(labels):
        for name in [value] if isinstance(value, (str, int)) else value:
            name = str(name)
            if name in column:
                gold[row, column[name]] = 1
            elif ignore_unknown:
                unknown[name] = unknown.get(name, 0) + 1
            else:
                raise ValueError(
                    f"Row {row}: gold label {name!r} is not one of the model's {len(names)} labels "
                    f"(e.g. {names[:5]}); pass ignore_unknown_labels=True (--ignore_unknown_labels) to drop such labels."
                )
    return gold


# ----------------------------------------------------------------------------- scoring
def _classification_metrics(gold: np.ndarray, probabilities: np.ndarray, multi_label: bool, threshold) -> dict:
    from labelwise.metrics.classification import multiclass_scores, multilabel_scores
    from labelwise.metrics.ranking import ndcg_at_k, precision_at_k, r_precision
    from labelwise.metrics.thresholds import apply_thresholds

    if not multi_label:
        if (gold.sum(axis=1) != 1).any():
            raise ValueError("A multi-class model needs exactly one gold label per row.")
        return multiclass_scores(gold.argmax(axis=1), probabilities.argmax(axis=1))
    metrics = multilabel_scores(gold, apply_thresholds(probabilities, threshold))
    if gold.any(axis=1).any():
        metrics.update({
            "r_precision": r_precision(gold, probabilities),
            f"p_at_{RANKING_K}": precision_at_k(gold, probabilities, RANKING_K),
            f"ndcg_at_{RANKING_K}": ndcg_at_k(gold, probabilities, RANKING_K),
        })
    return metrics


def _tuned(gold_dev: np.ndarray, dev: np.ndarray, gold: np.ndarray, probabilities: np.ndarray) -> dict:
    from labelwise.metrics.thresholds import tune_global_threshold, tune_label_thresholds

    global_threshold, dev_f1 = tune_global_threshold(gold_dev, dev)
    per_label = tune_label_thresholds(gold_dev, dev, fallback=global_threshold)
    return {
        "global": {"threshold": global_threshold, "tuning_micro_f1": dev_f1,
                   "metrics": _classification_metrics(gold, probabilities, True, global_threshold)},
        "per_label": {"thresholds": per_label.round(4).tolist(),
                      "metrics": _classification_metrics(gold, probabilities, True, per_label)},
    }


def _examples(dataset, file, texts, labels, label_separator, columns: dict) -> tuple[list, list | None]:
    given = [name for name, value in (("dataset", dataset), ("file", file), ("texts", texts)) if value is not None]
    if len(given) != 1:
        raise ValueError(f"Give exactly one of dataset, file or texts (got {given or 'none'}).")
    if dataset is not None:
        return _split_examples(dataset)
    if file is not None:
        return read_examples(file, label_separator, **columns)
    if labels is not None and len(labels) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(labels)} label lists.")
    return list(texts), labels


def evaluate(
    model: str | LoadedModel,
    *,
    dataset=None,
    file: str | None = None,
    texts: Sequence[str] | None = None,
    labels: Sequence | None = None,
    tune_on=None,
    threshold: float | None = None,
    ignore_unknown_labels: bool = False,
    label_separator: str = ";",
    text_column: str | None = None,
    label_column: str | None = None,
    batch_size: int = 32,
    max_length: int | None = None,
    device: str | None = None,
    trust_remote_code: bool = False,
    show_progress: bool = False,
) -> Evaluation:
    """Score `model` (a saved folder, a Hub id, or a `load_model` result) on one set of examples.

    Args:
        dataset: a `datasets.Dataset` split with `text` and `labels` (ClassLabel ids or names), or a
            tagger's `tokens` and `ner_tags`.
        file: a `.jsonl` / `.json` / `.csv` / `.tsv` / `.parquet` / `.txt` file (`read_examples`).
        texts / labels: plain texts, and optionally their gold label names (one list per text, or one name).
        tune_on: a second labelled split (same forms as `dataset`, or a file path) on which thresholds are tuned.
        threshold: decision threshold of multi-label models; default the model's own.
        ignore_unknown_labels: drop gold labels the model has no output for (counted in `unknown_labels`).
        text_column / label_column: the columns of `file` and of a `tune_on` file, when not `text` and `labels`.

    Without gold labels the result holds `predictions` and no metrics.
    """
    loaded = model if isinstance(model, LoadedModel) else load_model(
        model, device=device, trust_remote_code=trust_remote_code, max_length=max_length)
    columns = {"text_column": text_column, "label_column": label_column}
    inputs, gold_labels = _examples(dataset, file, texts, labels, label_separator, columns)
    if not inputs:
        raise ValueError("No examples to score.")
    if loaded.view == TOKEN_CLASSIFICATION:
        return _evaluate_tagger(loaded, inputs, gold_labels, batch_size, show_progress)
    names = loaded.label_names
    chosen = loaded.thresholds() if threshold is None else float(threshold)
    probabilities = predict_probabilities(loaded, inputs, batch_size, show_progress)
    result = Evaluation(loaded.name, loaded.view, len(inputs),
                        threshold=chosen.tolist() if isinstance(chosen, np.ndarray) else chosen)
    if gold_labels is None:
        result.predictions = _predicted_labels(probabilities, names, loaded.multi_label, chosen)
        return result
    gold = _gold_matrix(gold_labels, names, ignore_unknown_labels, result.unknown_labels)
    result.metrics = _classification_metrics(gold, probabilities, loaded.multi_label, chosen)
    if tune_on is not None:
        if not loaded.multi_label:
            raise ValueError("tune_on: a multi-class model predicts its arg-max; it has no thresholds to tune.")
        dev_inputs, dev_labels = read_examples(tune_on, label_separator, **columns) if isinstance(tune_on, str) \
            else _split_examples(tune_on)
        if dev_labels is None:
            raise ValueError("tune_on: the tuning examples have no gold labels.")
        dev_gold = _gold_matrix(dev_labels, names, ignore_unknown_labels, {})
        dev = predict_probabilities(loaded, dev_inputs, batch_size, show_progress)
        result.tuned = _tuned(dev_gold, dev, gold, probabilities)
    return result


def _predicted_labels(probabilities: np.ndarray, names: list[str], multi_label: bool, threshold) -> list[list[dict]]:
    if not multi_label:
        return [[{"label": names[int(row.argmax())], "score": float(row.max())}] for row in probabilities]
    keep = probabilities >= np.asarray(threshold)
    return [
        sorted(({"label": names[i], "score": float(row[i])} for i in np.flatnonzero(mask)), key=lambda x: -x["score"])
        for row, mask in zip(probabilities, keep)
    ]


def _evaluate_tagger(loaded: LoadedModel, inputs: list, gold: list | None, batch_size: int, progress: bool) -> Evaluation:
    from labelwise.metrics.entities import entity_scores
    from labelwise.ner.tagger import predict_spans, predict_tags

    result = Evaluation(loaded.name, loaded.view, len(inputs))
    if isinstance(inputs[0], str):
        if gold is not None:
            raise ValueError("A tagger is scored on rows of `tokens` and `ner_tags`, not on texts with labels.")
        result.predictions = predict_spans(loaded.network, loaded.tokenizer, inputs, max_length=loaded.max_length,
                                           batch_size=batch_size, show_progress=progress)
        return result
    predicted = predict_tags(loaded.network, loaded.tokenizer, inputs, max_length=loaded.max_length,
                             batch_size=batch_size, show_progress=progress)
    if gold is None:
        result.predictions = predicted
        return result
    scores = entity_scores(gold, predicted)
    result.metrics = {key: scores[key] for key in ("precision", "recall", "f1")}
    return result


# ----------------------------------------------------------------------------- command
def _corpus_split(name: str, data_dir: str | None, options: str | None, split: str):
    from labelwise.data_scripts import load_corpus

    try:
        corpus_options = json.loads(options) if options else {}
    except json.JSONDecodeError as err:
        raise ValueError(f"--corpus_options is not valid JSON ({err}): {options!r}") from err
    corpus = load_corpus(name, data_dir=data_dir, **corpus_options)
    if split not in corpus:
        raise ValueError(f"Corpus {name!r} has no {split!r} split (it has {sorted(corpus)}).")
    return corpus, corpus[split]


def _print(result: Evaluation) -> None:
    print(f"labelwise.evaluate: {result.model} ({result.view}), {result.documents} rows")
    for key, value in result.metrics.items():
        print(f"  {key:18s} {value:.4f}")
    for mode, values in (result.tuned or {}).items():
        shown = ", ".join(f"{k}={v:.4f}" for k, v in values["metrics"].items() if k.startswith("micro"))
        print(f"  tuned {mode:12s} {shown}")
    if result.unknown_labels:
        print(f"  dropped {sum(result.unknown_labels.values())} gold labels the model has no output for "
              f"({len(result.unknown_labels)} distinct)")


@cli_main("python -m labelwise.evaluate")
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m labelwise.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="A saved model folder (train.py's <output_dir>/model) or a Hub repo id.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus", help="A corpus of labelwise.data_scripts (hoc, eurlex57k, demo, ...).")
    source.add_argument("--file", help="A .jsonl/.json/.csv/.tsv/.parquet file with `text` and optionally `labels` (or "
                        "`tokens`/`ner_tags`), read as train.py reads data files; or a .txt file, one text per line.")
    source.add_argument("--texts", help="A .txt file, one text per line: predictions only.")
    parser.add_argument("--data_dir", default=None, help="The corpus's files (with --corpus).")
    parser.add_argument("--corpus_options", default=None, help="JSON options of the corpus builder (with --corpus).")
    parser.add_argument("--split", default="test", help="The corpus split to score (default test).")
    parser.add_argument("--tune_on", default=None,
                        help="Tune thresholds on this corpus split (with --corpus) or labelled file, and report them too.")
    parser.add_argument("--threshold", type=float, default=None, help="Decision threshold (default: the model's own).")
    parser.add_argument("--label_separator", "--label_delimiter", dest="label_separator", default=";",
                        help="Separator of label names in a CSV `labels` cell (train.py's --label_delimiter).")
    parser.add_argument("--text_column_name", default=None, help="Column of the texts in --file (default: text).")
    parser.add_argument("--label_column_name", default=None,
                        help="Column of the gold labels in --file (default: labels, else label).")
    parser.add_argument("--ignore_unknown_labels", action="store_true",
                        help="Drop gold labels the model has no output for (default: stop and name them).")
    parser.add_argument("--max_length", type=int, default=None, help="Pieces per document (default: as trained).")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--device", default=None)
    parser.add_argument("--trust_remote_code", action="store_true", help="Let the model's own code run (see the demo).")
    parser.add_argument("--output", default=None, help="Write the result as JSON here.")
    options = parser.parse_args(argv)
    if options.output:
        note_output_path(options.output)
    tune_on = options.tune_on
    examples: dict[str, Any] = {"file": options.file or options.texts}
    if options.corpus:
        corpus, split = _corpus_split(options.corpus, options.data_dir, options.corpus_options, options.split)
        examples = {"dataset": split}
        if tune_on is not None:
            if tune_on not in corpus:
                raise ValueError(f"--tune_on: corpus {options.corpus!r} has no {tune_on!r} split (it has {sorted(corpus)}).")
            tune_on = corpus[tune_on]
    result = evaluate(
        options.model, **examples, tune_on=tune_on, threshold=options.threshold,
        ignore_unknown_labels=options.ignore_unknown_labels, label_separator=options.label_separator,
        text_column=options.text_column_name, label_column=options.label_column_name,
        batch_size=options.batch_size, max_length=options.max_length, device=options.device,
        trust_remote_code=options.trust_remote_code, show_progress=True,
    )
    _print(result)
    if options.output:
        with open(options.output, "w", encoding="utf-8") as handle:
            json.dump(result.to_dict(), handle, indent=2)
        print(f"wrote {options.output}")
    elif result.predictions is not None:
        print(json.dumps(result.predictions, indent=1))


if __name__ == "__main__":
    main()
