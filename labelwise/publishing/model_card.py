"""Model cards for trained labelwise folders, filled from `training_summary.json` and `config.json`.

The card is a Jinja2 template from `labelwise.model_cards` (one per model kind, plus the sections
every kind shares) rendered through `huggingface_hub.ModelCard.from_template`, so the YAML header
(license, base model, datasets, `pipeline_tag`, widget, `model-index`) is written by
`ModelCardData` exactly as the Hub expects it.

Evaluation results come only from `training_summary.json["metrics"]`: a model that was not
evaluated gets no `model-index` and a card that says so.
"""

from __future__ import annotations

import json
import math
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from labelwise.kinds import KINDS
from labelwise.explain.evaluate import QUALITY_FILE
from labelwise.saved_kinds import LAME

SUMMARY_FILE = "training_summary.json"
CARD_FILE = "README.md"

MODEL_KINDS = tuple(KINDS)
TASKS = ("multi_label", "multi_class", "hierarchical", "ner")

REPO_ID_PLACEHOLDER = "<hub-user>/<model-name>"
"""Stands for the repo id in a card written before the repo is known; `push_folder` fills it in."""

HANDLER_SECTION = re.compile(r"<!-- labelwise:handler -->.*?<!-- /labelwise:handler -->\n?", flags=re.S)
"""The card's paragraph about `handler.py`; `push_folder(include_handler=False)` removes it."""

_SHARED_TEMPLATE = "_shared.md"
_SHARED_MARKER = "{# labelwise:shared-sections #}"

_TASK_WORDS = {
    "multi_label": "multi-label document classification",
    "multi_class": "multi-class document classification",
    "hierarchical": "hierarchical multi-label document classification",
    "ner": "named-entity recognition (token classification)",
}
# Trainer bookkeeping that `evaluate()` returns next to the metrics: not a measure of quality.
_NOT_RESULTS = ("runtime", "samples_per_second", "steps_per_second", "epoch")
_METRIC_NAMES = {
    "micro_f1": "Micro F1",
    "micro_precision": "Micro precision",
    "micro_recall": "Micro recall",
    "macro_f1": "Macro F1",
    "macro_precision": "Macro precision",
    "macro_recall": "Macro recall",
    "f1": "F1",
    "precision": "Precision",
    "recall": "Recall",
    "accuracy": "Accuracy",
    "loss": "Loss",
}


def _read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: line {err.lineno}, column {err.colno}: invalid JSON ({err.msg}).") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object at the top level, got {type(data).__name__}.")
    return data


def load_training_summary(folder: str | os.PathLike) -> dict:
    """Read and check `folder/training_summary.json` (the file `train.py` writes next to the weights)."""
    path = Path(folder) / SUMMARY_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: the model card is built from the training summary that train.py "
            "writes next to the model. Write it, or put your own README.md in the folder."
        )
    summary = _read_json(path)
    for key in ("model_kind", "task", "base_model", "dataset"):
        if key not in summary:
            raise ValueError(f"{path}: missing field {key!r}.")
    if summary["model_kind"] not in MODEL_KINDS:
        raise ValueError(
            f"{path}: field 'model_kind' is {summary['model_kind']!r}; expected one of {list(MODEL_KINDS)}."
        )
    if summary["task"] not in TASKS:
        raise ValueError(f"{path}: field 'task' is {summary['task']!r}; expected one of {list(TASKS)}.")
    if not isinstance(summary["dataset"], dict) or "name" not in summary["dataset"]:
        raise ValueError(f"{path}: field 'dataset' must be an object with at least a 'name'.")
    metrics = summary.get("metrics") or {}
    if not isinstance(metrics, dict) or not all(isinstance(values, dict) for values in metrics.values()):
        raise ValueError(f"{path}: field 'metrics' must map a split name to {{metric: value}}, got {metrics!r}.")
    return summary


def measured_results(summary: dict) -> dict[str, dict[str, float]]:
    """The numeric evaluation results of `summary`, per split: {split: {metric: value}}.

    A leading `eval_`/`test_` prefix (as `Trainer.evaluate` writes them) is dropped; runtime and
    throughput entries and non-numeric values are left out. Nothing is added.
    """
    results: dict[str, dict[str, float]] = {}
    for split, values in (summary.get("metrics") or {}).items():
        kept = {}
        for name, value in values.items():
            name = re.sub(r"^(eval|test|validation)_", "", name)
            if any(name.endswith(word) for word in _NOT_RESULTS):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            kept[name] = float(value)
        if kept:
            results[split] = kept
    return results


_METRIC_PATTERNS = (
    (r"rp_(micro|macro)", lambda m: f"R-Precision ({m[1]})"),
    (r"rp_level_(\d+)", lambda m: f"R-Precision, level {m[1]}"),
    (r"p_at_(\d+)", lambda m: f"P@{m[1]}"),
    (r"ndcg_at_(\d+)", lambda m: f"nDCG@{m[1]}"),
)


def metric_display_name(name: str) -> str:
    """'micro_f1' -> 'Micro F1', 'p_at_5' -> 'P@5', 'rp_level_2' -> 'R-Precision, level 2'."""
    if name in _METRIC_NAMES:
        return _METRIC_NAMES[name]
    for pattern, display in _METRIC_PATTERNS:
        match = re.fullmatch(pattern, name)
        if match:
            return display(match)
    return name.replace("_", " ").capitalize()


def _is_hub_id(name: str | None) -> bool:
    """True for 'org/name' (or a bare canonical name), False for local paths."""
    if not name or os.path.isabs(name) or name.startswith(".") or os.path.exists(name):
        return False
    return re.fullmatch(r"[\w.-]+(/[\w.-]+)?", name) is not None


def _template_text(kind: str) -> str:
    package = resources.files("labelwise.model_cards")
    template = KINDS[kind].card_template
    kind_text = (package / template).read_text(encoding="utf-8")
    shared_text = (package / _SHARED_TEMPLATE).read_text(encoding="utf-8")
    if _SHARED_MARKER not in kind_text:
        raise ValueError(f"model_cards/{template} lacks the line {_SHARED_MARKER}.")
    # Jinja2's `include` needs a loader, which `ModelCard.from_template` does not set up; splicing
    # the shared sections in keeps a single template rendered in one pass by huggingface_hub.
    return kind_text.replace(_SHARED_MARKER, shared_text)


def _labels(config: dict, summary: dict) -> list[dict[str, Any]]:
    id2label = config.get("id2label") or {}
    labels = [id2label[key] for key in sorted(id2label, key=int)]
    descriptions = summary.get("label_descriptions")
    if descriptions is None:
        # LameConfig keeps the descriptions in label-id order.
        listed = config.get("label_descriptions")
        descriptions = dict(zip(labels, listed)) if isinstance(listed, list) else {}
    levels = summary.get("levels") or {}
    return [{"name": label, "description": descriptions.get(label), "level": levels.get(label)} for label in labels]


def markdown_cell(text: Any) -> str:
    """`text` as one Markdown table cell, shown as written: line breaks (any Unicode one) become
    spaces, so a row stays one row; `|` is escaped, so it cannot open a column; `&`, `<` and `>`
    become entities, so a name cannot open an HTML tag or comment that hides the rest of the card;
    backslashes and backticks are escaped, so they cannot eat the escapes or open a code span."""
    text = " ".join(str(text).split())
    for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\\", "\\\\"), ("`", "\\`"), ("|", "\\|")):
        text = text.replace(raw, escaped)
    return text


def _shorten(text: str, limit: int = 300) -> str:
    """The first words of `text` up to `limit` characters: an example for the card's code, not a document."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    sentence_end = text.rfind(". ", 0, limit)
    if sentence_end > limit // 3:  # whole sentences read better than a cut one
        return text[: sentence_end + 1]
    return text[:limit].rsplit(" ", 1)[0] + " ..."


def _tokenizer_class(folder: Path) -> str:
    """The saved tokenizer's transformers class, so the card loads it directly.

    `AutoTokenizer.from_pretrained(repo)` reads `config.json` first, and for a custom-code model
    that means asking to run the remote code (transformers 5 loads `AutoConfig` before looking at
    `tokenizer_config.json`); the tokenizer's own class needs neither. "AutoTokenizer" when the
    folder names no class transformers has.
    """
    path = folder / "tokenizer_config.json"
    name = _read_json(path).get("tokenizer_class") if path.is_file() else None
    if isinstance(name, str) and re.fullmatch(r"[A-Za-z_]\w*", name):
        import transformers

        if hasattr(transformers, name):
            return name
    return "AutoTokenizer"


TESTED_ENCODER_FAMILIES = {
    "bert": "BERT", "roberta": "RoBERTa", "deberta-v2": "DeBERTa-v2", "electra": "ELECTRA", "xlm-roberta": "XLM-R",
    "modernbert": "ModernBERT",
}
"""Encoder families (`model_type`) on which labelwise tests LAME and layer-wise training, saving, serving
and ONNX export (tests/test_encoder_training.py), and LAME against a hand-built computation
(tests/test_encoders.py)."""


def _encoder_family(config: dict) -> str:
    """The encoder's `model_type`: the sub-config's, else BERT for a config saved before the sub-config
    (whose model type is ours), else the model's own (a plain transformers classifier)."""
    encoder = config.get("encoder")
    if isinstance(encoder, dict) and encoder.get("model_type"):
        return encoder["model_type"]
    model_type = config.get("model_type", "bert")
    return "bert" if model_type.startswith("labelwise") else model_type


def _custom_pipeline_task(config: dict) -> str | None:
    tasks = list((config.get("custom_pipelines") or {}).keys())
    return tasks[0] if len(tasks) == 1 else None


def _explanation_quality(folder: Path) -> dict | None:
    """The folder's measured explanation quality (`QUALITY_FILE`), with its methods in card order: the
    evidence the pipeline shows first, the random baseline last."""
    path = folder / QUALITY_FILE
    if not path.is_file():
        return None
    record = _read_json(path)
    shown, methods = record.get("evidence_method"), record.get("methods") or {}
    order = sorted(methods, key=lambda m: (m != shown, m == "random"))
    ks = [f"{100 * f:g}" for f in record.get("fractions") or []]
    k_percent = ", ".join(ks[:-1]) + " and " + ks[-1] if len(ks) > 1 else "".join(ks)
    return {**record, "methods": {m: methods[m] for m in order}, "k_percent": k_percent}


def build_model_card(folder: str | os.PathLike, *, repo_id: str | None = None) -> ModelCard:
    """Build the model card of a trained folder (config.json + training_summary.json).

    Args:
        folder: the Hub-ready folder `train.py` wrote.
        repo_id: the Hub repo the card's code examples load from; when `None` they show
            `REPO_ID_PLACEHOLDER`, which `push_folder` replaces with the real repo id.
    """
    folder = Path(folder)
    summary = load_training_summary(folder)
    config = _read_json(folder / "config.json") if (folder / "config.json").is_file() else {}
    kind = summary["model_kind"]
    dataset = summary["dataset"]
    pipeline_tag = KINDS[kind].pipeline_tag
    resolved = folder.resolve()
    # train.py writes <output_dir>/model: the output directory is the name the user chose.
    model_name = summary.get("model_name") or (resolved.parent.name if resolved.name == "model" else resolved.name)
    base_model = summary.get("base_model")
    results = measured_results(summary)
    dataset_id = dataset.get("hub_id") or dataset["name"]

    eval_results = [
        EvalResult(
            task_type=pipeline_tag,
            task_name=_TASK_WORDS[summary["task"]],
            dataset_type=dataset_id,
            dataset_name=dataset["name"],
            # "test_tuned": the test split scored at the decision threshold tuned on validation.
            dataset_split=split.removesuffix("_tuned"),
            metric_type=name + ("_tuned_threshold" if split.endswith("_tuned") else ""),
            metric_name=metric_display_name(name) + (" (tuned threshold)" if split.endswith("_tuned") else ""),
            metric_value=value,
        )
        for split, values in results.items()
        for name, value in values.items()
    ]
    custom_code = bool(config.get("auto_map"))
    tags = ["labelwise", kind.replace("_", "-"), summary["task"].replace("_", "-")]
    if custom_code:
        tags.append("custom_code")
    card_data = ModelCardData(
        model_name=model_name,
        language=summary.get("language", "en"),
        license=summary.get("license", "apache-2.0"),
        library_name="transformers",
        pipeline_tag=pipeline_tag,
        base_model=base_model if _is_hub_id(base_model) else None,
        datasets=[dataset["hub_id"]] if dataset.get("hub_id") else None,
        tags=tags,
        eval_results=eval_results or None,
        widget=[{"text": text} for text in summary.get("widget_examples") or []] or None,
    )
    problem_type = config.get("problem_type") or (
        "multi_label_classification"
        if summary["task"] in ("multi_label", "hierarchical")
        else "single_label_classification"
    )
    template_vars = dict(
        model_name=model_name,
        repo_id=repo_id or REPO_ID_PLACEHOLDER,
        kind=kind,
        # The kinds whose predictions come with attention evidence (the LAME view of the demo).
        shows_evidence=KINDS[kind].saved_kind == LAME,
        # LAME's feature-extraction baseline, as its config says (the card template reads facts, not kind names).
        frozen_encoder=bool(config.get("freeze_encoder")),
        feature_head=config.get("feature_head"),
        # The head scores any label from its description (LameConfig.label_scoring).
        label_agnostic=config.get("label_scoring") == "label_agnostic",
        # Plain fine-tuning's free rows beside the head (LameConfig.document_classifier).
        document_classifier=config.get("document_classifier") is True,
        task=summary["task"],
        task_words=_TASK_WORDS[summary["task"]],
        base_model=base_model,
        encoder_family=_encoder_family(config),
        tested_encoder_families=TESTED_ENCODER_FAMILIES,
        base_model_is_hub_id=_is_hub_id(base_model),
        dataset=dataset,
        dataset_config=json.dumps(dataset.get("config") or {}, sort_keys=True),
        labelwise_version=summary.get("labelwise_version"),
        architectures=config.get("architectures") or [],
        custom_code=custom_code,
        tokenizer_class=_tokenizer_class(folder),
        custom_pipeline_task=_custom_pipeline_task(config),
        multi_label=problem_type == "multi_label_classification",
        labels=_labels(config, summary),
        # Label names and descriptions come from the user's data: escaped wherever the card shows them.
        cell=markdown_cell,
        has_levels=bool(summary.get("levels")),
        # Options that were not set (None) say nothing about this run.
        hyperparameters={k: v for k, v in (summary.get("hyperparameters") or {}).items() if v is not None},
        results=results,
        decision_thresholds=summary.get("decision_thresholds"),
        metric_display_name=metric_display_name,
        train_runtime_seconds=summary.get("train_runtime_seconds"),
        hardware=summary.get("hardware"),
        # What the metrics were measured on: rows per split and the subset/budget options behind them.
        measured_on=summary.get("measured_on") or {},
        prediction_warnings=summary.get("prediction_warnings") or [],
        widget_examples=summary.get("widget_examples") or [],
        explanation_quality=_explanation_quality(folder),
        example_text=_shorten((summary.get("widget_examples") or ["Replace this with a document to classify."])[0]),
    )
    return ModelCard.from_template(card_data, template_str=_template_text(kind), **template_vars)


def write_model_card(folder: str | os.PathLike, *, repo_id: str | None = None) -> Path:
    """Build the card (see `build_model_card`) and save it as `folder/README.md`; return that path."""
    card = build_model_card(folder, repo_id=repo_id)
    path = Path(folder) / CARD_FILE
    card.save(path)
    return path


DEMO_SECTION = """
## Demo Space

The `{folder}/` folder of this repository is a ready Gradio Space for this model (the labels, their
probabilities and the highlighted evidence). It loads the model from `{repo_id}` and does not need
labelwise. To run it as your own Space:

```bash
hf download {repo_id} --include "{folder}/*" --local-dir {name}-demo
hf repos create <hub-user>/{name}-demo --type space --sdk gradio
hf upload <hub-user>/{name}-demo {name}-demo/{folder} . --type space
```

or locally: `pip install gradio transformers torch` and `python app.py` in that folder.
"""


def card_for_repo(text: str, repo_id: str, *, include_handler: bool = True, demo_folder: str | None = None) -> str:
    """The card text as pushed to `repo_id`.

    The repo-id placeholder is filled in, the `handler.py` paragraph is dropped when the handler is
    not pushed, and a "Demo Space" section is appended when the demo is pushed in `demo_folder`.
    """
    text = text.replace(REPO_ID_PLACEHOLDER, repo_id)
    if not include_handler:
        text = HANDLER_SECTION.sub("", text)
    if demo_folder:
        name = repo_id.rsplit("/", 1)[-1]
        text = text.rstrip("\n") + "\n" + DEMO_SECTION.format(folder=demo_folder, repo_id=repo_id, name=name)
    return text
