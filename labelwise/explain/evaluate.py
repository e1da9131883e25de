"""Evaluate a trained model's word explanations against gold rationales (plausibility, faithfulness).

For each document and each of its gold labels that the model knows and that has a rationale, every
method scores the words; the scores are compared with the rationale's words (a word is gold when
its characters overlap a rationale span) and erased from the text (ERASER). `random` is the
random-removal baseline. Results: per method, micro-averaged over (document, label) pairs and per
label, with bootstrap 95% intervals (`labelwise.metrics.rationales.summarise`).

Resumable (`output_dir`): each method runs over all documents in turn, cheapest first. Every
explained document is appended to `<method>.rows.jsonl` as soon as it is done, and a finished method
writes `<method>.json`; a rerun with the same settings skips finished methods and documents, so
an interruption loses at most one document. The settings of the run are in `settings.json`.
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

COST_ORDER = ("random", "attention", "attention_rollout", "grad_x_input", "attingrad", "integrated_gradients")
"""The order methods run in: the cheap ones finish first, so an interrupted run already has them."""


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


def _document_rows(explainer: Explainer, encoded: Encoded, record: dict, method: str, label2id: dict,
                   fractions: Sequence[float], skipped: dict) -> tuple[list[dict], float]:
    """One method's rows for one document (one per explained gold label) and its explanation seconds."""
    rows, seconds = [], 0.0
    for name, spans in sorted(record["rationales"].items()):
        if name not in label2id:
            skipped["unknown_label"] += 1
            continue
        gold = gold_words(encoded, spans)
        if not gold.any():  # the rationale lies in the truncated tail
            skipped["empty_rationale"] += 1
            continue
        label = label2id[name]
        started = time.perf_counter()
        scores = word_scores(explainer.explain(encoded, label, method), encoded)
        seconds += time.perf_counter() - started

        def predict(keep: np.ndarray, label: int = label) -> np.ndarray:
            return explainer.probabilities(encoded, label, keep)

        rows.append({"label": name, "id": record.get("id"), **plausibility(scores, gold, fractions), **faithfulness(predict, scores, fractions)})
    return rows, seconds


def _read_lines(path: Path) -> list[dict]:
    """The complete lines of a rows file (a line cut short by an interruption is dropped, and redone)."""
    if not path.exists():
        return []
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return lines


def _write_json(path: Path, value: dict) -> None:
    partial = path.with_suffix(".json.partial")  # a result file is whole or absent
    partial.write_text(json.dumps(value, indent=2), encoding="utf-8")
    partial.replace(path)


def _check_settings(output_dir: Path, settings: dict) -> None:
    path = output_dir / "settings.json"
    if path.exists():
        before = json.loads(path.read_text(encoding="utf-8"))
        changed = sorted(k for k in settings if before.get(k) != settings[k])
        if changed:
            raise ValueError(f"{output_dir} holds results made with other settings ({', '.join(changed)} differ, see "
                             f"{path}); use another --output_dir, or delete it to start over")
    else:
        _write_json(path, settings)


def evaluate_method(explainer: Explainer, records: Sequence[dict], method: str, fractions: Sequence[float] = FRACTIONS,
                    resamples: int = 1000, seed: int = 0, output_dir: str | Path | None = None, progress: bool = True) -> dict:
    """One method over `records`: its summary, pair count, seconds per pair and per plain prediction.

    With `output_dir`, documents already in `<method>.rows.jsonl` are skipped and each new one is
    appended there when done; the summary is written to `<method>.json`."""
    model = explainer.model
    label2id = dict(model.config.label2id)
    rows_path = Path(output_dir) / f"{method}.rows.jsonl" if output_dir is not None else None
    done = _read_lines(rows_path) if rows_path else []
    if rows_path:
        rows_path.write_text("".join(json.dumps(line) + "\n" for line in done), encoding="utf-8")  # drop a cut line
    finished = {line["position"] for line in done}
    todo = [(i, r) for i, r in enumerate(records) if i not in finished]
    writer = rows_path.open("a", encoding="utf-8") if rows_path else None
    try:
        for position, record in tqdm(todo, desc=method, unit="doc", disable=not progress):
            skipped = {"unknown_label": 0, "empty_rationale": 0}
            encoded = explainer.encode(record["text"])
            line = {"position": position, "id": record.get("id"), "rows": [], "seconds": 0.0, "predict_seconds": None,
                    "skipped": skipped, "ig_steps": [], "ig_unconverged": 0}
            if encoded.words:
                started = time.perf_counter()
                with torch.no_grad():  # the plain prediction, for the cost of each explanation beside it
                    model(**encoded.inputs)
                line["predict_seconds"] = time.perf_counter() - started
                # Random scores seeded by the document, so a resumed run draws what a whole run would.
                explainer.rng = np.random.default_rng([seed, position])
                steps, unconverged = len(explainer.ig_steps_used), explainer.ig_unconverged
                line["rows"], line["seconds"] = _document_rows(explainer, encoded, record, method, label2id, fractions, skipped)
                line["ig_steps"] = explainer.ig_steps_used[steps:]
                line["ig_unconverged"] = explainer.ig_unconverged - unconverged
            done.append(line)
            if writer:
                writer.write(json.dumps(line) + "\n")
                writer.flush()
    finally:
        if writer:
            writer.close()
    rows = [row for line in done for row in line["rows"]]
    predictions = [line["predict_seconds"] for line in done if line["predict_seconds"] is not None]
    result = {
        "pairs": len(rows),
        "documents": len(done),
        "skipped": {key: sum(line["skipped"][key] for line in done) for key in ("unknown_label", "empty_rationale")},
        "seconds_per_pair": sum(line["seconds"] for line in done) / len(rows) if rows else None,
        "seconds_per_prediction": float(np.mean(predictions)) if predictions else None,
        "integrated_gradients_steps": sorted({s for line in done for s in line["ig_steps"]}),
        "integrated_gradients_unconverged": sum(line["ig_unconverged"] for line in done),
        "summary": summarise(rows, resamples=resamples, seed=seed),
    }
    if output_dir is not None:
        _write_json(Path(output_dir) / f"{method}.json", result)
    return result


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
    output_dir: str | Path | None = None,
    settings: dict | None = None,
) -> dict:
    """Plausibility and faithfulness of each method on `records` (rationale records, see
    `labelwise.data_scripts.rationales`). Returns a JSON-ready dict: `methods` -> summary, the
    settings, the pair count, seconds per explained (document, label) pair of each method (and of
    one plain prediction per document), and the Integrated Gradients step counts that met the
    convergence tolerance.

    With `output_dir` the run is resumable (see the module's docstring); `settings` (e.g. the model
    folder and corpus) are stored with it, and a rerun with other settings is refused."""
    explainer = Explainer(model, tokenizer, max_length=max_length, ig_max_steps=ig_max_steps, seed=seed)
    methods = list(methods or explainer.methods())
    for method in methods:
        if method not in explainer.methods():
            raise ValueError(f"method {method!r} is not available for {type(model).__name__}; use {', '.join(explainer.methods())}")
    if output_dir is not None:
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        _check_settings(output_dir, {**(settings or {}), "fractions": list(fractions), "max_length": max_length,
                                     "ig_max_steps": ig_max_steps, "resamples": resamples, "seed": seed,
                                     "documents": [r.get("id") for r in records]})
    results = {}
    for method in sorted(methods, key=COST_ORDER.index):
        path = output_dir / f"{method}.json" if output_dir is not None else None
        if path is not None and path.exists():
            results[method] = json.loads(path.read_text(encoding="utf-8"))
            continue
        results[method] = evaluate_method(explainer, records, method, fractions, resamples, seed, output_dir, progress)
    return combine(results, fractions, [m for m in METHODS if m in results])


def combine(results: dict[str, dict], fractions: Sequence[float], order: Sequence[str]) -> dict:
    """The per-method results (`evaluate_method`) as one result: `methods` -> summary, and the costs."""
    first = results[order[0]] if order else {}
    predictions = [results[m]["seconds_per_prediction"] for m in order if results[m]["seconds_per_prediction"] is not None]
    return {
        "fractions": list(fractions),
        "pairs": first.get("pairs", 0),
        "skipped": first.get("skipped", {"unknown_label": 0, "empty_rationale": 0}),
        "seconds_per_pair": {m: results[m]["seconds_per_pair"] for m in order},
        "seconds_per_prediction": float(np.mean(predictions)) if predictions else None,
        "integrated_gradients_steps": results.get("integrated_gradients", {}).get("integrated_gradients_steps", []),
        "integrated_gradients_unconverged": results.get("integrated_gradients", {}).get("integrated_gradients_unconverged", 0),
        "methods": {m: results[m]["summary"] for m in order},
    }


def plot_comprehensiveness(result: dict, path: str | Path, metric: str = "comprehensiveness") -> Path:
    """Micro-averaged `metric` over k per method, with the bootstrap intervals as bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fractions = result["fractions"]
    xs = [f * 100 for f in fractions]
    figure, axes = plt.subplots(figsize=(8.0, 3.8))
    for method, summary in result["methods"].items():
        cells = [summary["micro"].get(f"{metric}@{percent(f)}") for f in fractions]
        if not all(cells):
            continue
        means = np.array([c["mean"] for c in cells])
        errors = np.array([[c["mean"] - c["low"] for c in cells], [c["high"] - c["mean"] for c in cells]])
        axes.errorbar(xs, means, yerr=errors, marker="o", capsize=3, label=method, linestyle="--" if method == "random" else "-")
    return save_over_k(figure, axes, xs, metric, path, legend_size=8)


def save_over_k(figure, axes, xs: list[float], metric: str, path: str | Path, legend_size: int) -> Path:
    """Label a plot of `metric` over k (% of words removed) and write it to `path` (folders made)."""
    import matplotlib.pyplot as plt

    axes.set_xlabel("k (% of words removed)")
    axes.set_ylabel(f"{metric} (probability drop)")
    axes.set_xticks(xs)
    # Beside the axes, not over them: with many methods an inside legend hides the lines it names.
    axes.legend(fontsize=legend_size, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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


QUALITY_FILE = "explanation_quality.json"
"""Where `python -m labelwise.explain --record_in_model` keeps `quality_record` in a model folder; its card reads it."""
QUALITY_KEYS = ("auprc", "precision@10", "recall@10", "comprehensiveness_area", "sufficiency_area")


def quality_record(result: dict, evidence_method: str = "attention") -> dict:
    """What a model folder keeps of an evaluation for its card (`explanation_quality.json`): per
    method the micro-averaged `QUALITY_KEYS` with their bootstrap 95% intervals, the corpus, split and
    pair count, and which method the model's pipeline shows as evidence."""
    methods = {
        method: {key: summary["micro"][key] for key in QUALITY_KEYS if key in summary["micro"]}
        for method, summary in result["methods"].items()
    }
    return {"corpus": result.get("corpus"), "split": result.get("split"), "pairs": result["pairs"],
            "fractions": result["fractions"], "evidence_method": evidence_method, "methods": methods}


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


__all__ = ["METHODS", "QUALITY_FILE", "QUALITY_KEYS", "combine", "evaluate_explanations", "evaluate_method", "gold_words", "load_model", "methods_table", "plot_comprehensiveness", "quality_record", "write_result"]
