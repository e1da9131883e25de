"""Evaluate a trained model's word explanations against gold rationales (plausibility, faithfulness).

For each document and each of its gold labels that the model knows and that has a rationale, every
method scores the words; the scores are compared with the rationale's words (a word is gold when
its characters overlap a rationale span) and erased from the text (ERASER). `random` is the
random-removal baseline. Results: per method, micro-averaged over (document, label) pairs and per
label, with bootstrap 95% intervals (`labelwise.metrics.rationales.summarise`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from labelwise.metrics.rationales import FRACTIONS, faithfulness, percent, plausibility, summarise

from .methods import IG_STEPS, METHODS, Encoded, Explainer, word_scores


def gold_words(encoded: Encoded, spans: Iterable[Sequence[int]]) -> np.ndarray:
    """Which words overlap any `[start, end)` character span."""
    spans = [tuple(span) for span in spans]
    return np.array([any(start < end_ and s < end for s, end_ in spans) for start, end in encoded.words], dtype=bool)


def load_model(model_dir: str):
    """Model and tokenizer of a trained model folder (LAME or a plain sequence classifier)."""
    import labelwise.modeling  # noqa: F401  (registers LAME with the Auto classes)
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if not (Path(model_dir) / "config.json").is_file():
        raise FileNotFoundError(f"{model_dir}: no config.json; --model must name a trained model folder")
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    return model.eval(), AutoTokenizer.from_pretrained(model_dir)


def evaluate_explanations(
    model,
    tokenizer,
    records: Sequence[dict],
    methods: Sequence[str] | None = None,
    fractions: Sequence[float] = FRACTIONS,
    max_length: int = 512,
    ig_max_steps: int = IG_STEPS[1],
    resamples: int = 1000,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Plausibility and faithfulness of each method on `records` (rationale records, see
    `labelwise.data_scripts.rationales`). Returns a JSON-ready dict: `methods` -> summary, the
    settings, the pair count, seconds per explained (document, label) pair of each method (and of
    one plain prediction per document), and the
    Integrated Gradients step counts that met the convergence tolerance."""
    explainer = Explainer(model, tokenizer, max_length=max_length, ig_max_steps=ig_max_steps, seed=seed)
    methods = list(methods or explainer.methods())
    for method in methods:
        if method not in explainer.methods():
            raise ValueError(f"method {method!r} is not available for {type(model).__name__}; use {', '.join(explainer.methods())}")
    label2id = dict(model.config.label2id)
    rows: dict[str, list[dict]] = {m: [] for m in methods}
    seconds = {m: 0.0 for m in methods}
    skipped = {"unknown_label": 0, "empty_rationale": 0}
    predict_seconds: list[float] = []
    for record in tqdm(records, desc="explaining", unit="doc", disable=not progress):
        encoded = explainer.encode(record["text"])
        if not encoded.words:
            continue
        started = time.perf_counter()
        with torch.no_grad():  # the plain prediction, for the cost of each explanation beside it
            model(**encoded.inputs)
        predict_seconds.append(time.perf_counter() - started)
        for name, spans in sorted(record["rationales"].items()):
            if name not in label2id:
                skipped["unknown_label"] += 1
                continue
            gold = gold_words(encoded, spans)
            if not gold.any():  # the rationale lies in the truncated tail
                skipped["empty_rationale"] += 1
                continue
            label = label2id[name]

            def predict(keep: np.ndarray) -> np.ndarray:
                return explainer.probabilities(encoded, label, keep)

            for method in methods:
                started = time.perf_counter()
                scores = word_scores(explainer.explain(encoded, label, method), encoded)
                seconds[method] += time.perf_counter() - started
                rows[method].append(
                    {"label": name, "id": record.get("id"), **plausibility(scores, gold, fractions), **faithfulness(predict, scores, fractions)}
                )
    pairs = len(rows[methods[0]]) if methods else 0
    return {
        "fractions": list(fractions),
        "pairs": pairs,
        "skipped": skipped,
        "seconds_per_pair": {m: seconds[m] / pairs if pairs else None for m in methods},
        "seconds_per_prediction": float(np.mean(predict_seconds)) if predict_seconds else None,
        "integrated_gradients_steps": sorted(set(explainer.ig_steps_used)),
        "integrated_gradients_unconverged": explainer.ig_unconverged,
        "methods": {m: summarise(rows[m], resamples=resamples, seed=seed) for m in methods},
    }


def plot_comprehensiveness(result: dict, path: str | Path, metric: str = "comprehensiveness") -> Path:
    """Micro-averaged `metric` over k per method, with the bootstrap intervals as bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fractions = result["fractions"]
    xs = [f * 100 for f in fractions]
    figure, axes = plt.subplots(figsize=(5.5, 3.8))
    for method, summary in result["methods"].items():
        cells = [summary["micro"].get(f"{metric}@{percent(f)}") for f in fractions]
        if not all(cells):
            continue
        means = np.array([c["mean"] for c in cells])
        errors = np.array([[c["mean"] - c["low"] for c in cells], [c["high"] - c["mean"] for c in cells]])
        axes.errorbar(xs, means, yerr=errors, marker="o", capsize=3, label=method, linestyle="--" if method == "random" else "-")
    axes.set_xlabel("k (% of words removed)")
    axes.set_ylabel(f"{metric} (probability drop)")
    axes.set_xticks(xs)
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def methods_table(result: dict) -> str:
    """A Markdown table of the micro-averaged headline metrics, one row per method."""
    keys = ["auprc", "precision@10", "recall@10", "comprehensiveness_area", "sufficiency_area"]
    lines = ["| method | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for method, summary in result["methods"].items():
        cells = []
        for key in keys:
            cell = summary["micro"].get(key)
            cells.append(f"{cell['mean']:.3f} [{cell['low']:.3f}, {cell['high']:.3f}]" if cell else "-")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_result(result: dict, output_dir: str | Path) -> dict[str, Path]:
    """`explanations.json`, `comprehensiveness.png` and `explanations.md` (the table) in `output_dir`."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    files = {"json": output_dir / "explanations.json", "plot": output_dir / "comprehensiveness.png", "table": output_dir / "explanations.md"}
    partial = files["json"].with_suffix(".json.partial")
    partial.write_text(json.dumps(result, indent=2), encoding="utf-8")
    partial.replace(files["json"])
    plot_comprehensiveness(result, files["plot"])
    files["table"].write_text(methods_table(result) + "\n", encoding="utf-8")
    return files


__all__ = ["METHODS", "evaluate_explanations", "gold_words", "load_model", "methods_table", "plot_comprehensiveness", "write_result"]
