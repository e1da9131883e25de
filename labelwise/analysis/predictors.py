"""Load a trained labelwise model (folder or Hub repo) as `predict(text) -> prediction dict`.

The prediction dicts are the shapes `labelwise.analysis.viewer` renders. Which loader a model gets
is its *view*, read from `config.json` (`VIEWS`): the model kinds of `labelwise.kinds` each name
theirs (`ModelKind.view`), and `tests/test_kinds.py` checks that every kind's saved model is
detected as its view and renders.

* `lame`: `model_type == "lame"`; the LAME pipeline (`label-attention-classification`): labels,
  probabilities, evidence and per-word attention.
* `layerwise`: `model_type == "labelwise_layerwise"`; labels per hierarchy level.
* `ner`: an `...ForTokenClassification` architecture: the ADR tagger's entity spans.
* `classification`: any other `...ForSequenceClassification`: labels and probabilities.

This module needs only transformers and torch (imported when a model is loaded), so
`labelwise.analysis.space.write_space_files` can copy it into a Hub Space that does not install
labelwise, next to the demo app and the viewer. Nothing here calls the network unless `model` is a Hub id.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["VIEWS", "View", "detect_kind", "load_predictor"]


def _read_config(model: str) -> dict[str, Any]:
    if os.path.isdir(model):
        path = os.path.join(model, "config.json")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{model} has no config.json: is it a saved model folder?")
    else:
        from transformers.utils import cached_file

        path = cached_file(model, "config.json")
    with open(path, encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error}).") from error


def detect_kind(config: dict[str, Any] | str) -> str:
    """The view of a model (one of `VIEWS`) from its `config.json` dict, folder or Hub id.

    The first view whose `model_type` matches wins; otherwise the first whose architecture suffix does.
    """
    if isinstance(config, str):
        config = _read_config(config)
    model_type = config.get("model_type")
    architectures = config.get("architectures") or []
    for name, view in VIEWS.items():
        if view.model_type is not None and model_type == view.model_type:
            return name
    for name, view in VIEWS.items():
        if view.architecture_suffix and any(arch.endswith(view.architecture_suffix) for arch in architectures):
            return name
    expected = [f"model_type {v.model_type!r}" for v in VIEWS.values() if v.model_type] + [
        f"a ...{v.architecture_suffix} architecture" for v in VIEWS.values() if v.architecture_suffix
    ]
    raise ValueError(
        f"config.json (model_type={model_type!r}, architectures={architectures}) is not a labelwise model the "
        f"demo knows: expected {', '.join(expected)}."
    )


def _tokenizer_and_model(model: str, auto_class: str, device: str | None):
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(model, trust_remote_code=True)
    network = getattr(transformers, auto_class).from_pretrained(model, trust_remote_code=True)
    network.eval()
    if device:
        network.to(device)
    # Checkpoints saved with a hand-made tokenizer may carry no usable model_max_length.
    limit = getattr(network.config, "max_position_embeddings", 512)
    tokenizer.model_max_length = min(tokenizer.model_max_length, limit)
    return tokenizer, network


def _lame_predictor(model: str, config: dict, device: str | None, threshold: float) -> Callable[[str], dict]:
    import transformers

    custom = config.get("custom_pipelines") or {}
    if custom:
        # The checkpoint ships its pipeline as remote code (the normal case for a Hub repo).
        task = next(iter(custom))
        classify = transformers.pipeline(task, model=model, trust_remote_code=True, device=device)
    else:
        from labelwise.modeling.pipeline_lame import LameClassificationPipeline

        tokenizer, network = _tokenizer_and_model(model, "AutoModelForSequenceClassification", device)
        classify = LameClassificationPipeline(model=network, tokenizer=tokenizer)
    # The threshold applies to multi-label models; a multi-class model predicts its arg-max.
    return lambda text: classify(text, threshold=threshold)


def _ner_predictor(model: str, config: dict, device: str | None, threshold: float) -> Callable[[str], dict]:
    tokenizer, network = _tokenizer_and_model(model, "AutoModelForTokenClassification", device)
    try:
        # Tag word by word exactly as the tagger was trained and evaluated (first piece, windows).
        from labelwise.ner.tagger import predict_spans

        def spans(text: str) -> list[dict]:
            return predict_spans(network, tokenizer, [text], max_length=tokenizer.model_max_length)[0]

    except ImportError:  # a Space without labelwise: transformers' pipeline, first-piece aggregation
        import transformers

        tag = transformers.pipeline(
            "token-classification", model=network, tokenizer=tokenizer, aggregation_strategy="first",
            stride=max(1, tokenizer.model_max_length // 4),
        )

        def spans(text: str) -> list[dict]:
            return [{key: item[key] for key in ("entity_group", "score", "word", "start", "end")} for item in tag(text)]

    return lambda text: {"text": text, "entities": [dict(span, score=float(span["score"])) for span in spans(text)]}


def _scores(text: str, tokenizer, network) -> list[float]:
    """Per-label probabilities `(num_labels,)` of one text: sigmoid for multi-label, else softmax."""
    import torch

    encoded = tokenizer(text, truncation=True, max_length=tokenizer.model_max_length, return_tensors="pt")
    encoded = {key: value.to(network.device) for key, value in encoded.items()}
    with torch.no_grad():
        logits = network(**encoded).logits[0].float()
    if network.config.problem_type == "multi_label_classification":
        return torch.sigmoid(logits).tolist()
    return torch.softmax(logits, dim=-1).tolist()


def _layerwise_predictor(model: str, config: dict, device: str | None, threshold: float) -> Callable[[str], dict]:
    import torch

    tokenizer, network = _tokenizer_and_model(model, "AutoModelForSequenceClassification", device)
    if not hasattr(network, "logits_to_levels"):
        raise TypeError(f"{model}: {type(network).__name__} has no logits_to_levels; is it a layer-wise checkpoint?")

    def predict(text: str) -> dict:
        encoded = tokenizer(text, truncation=True, max_length=tokenizer.model_max_length, return_tensors="pt")
        with torch.no_grad():
            logits = network(**{key: value.to(network.device) for key, value in encoded.items()}).logits
        # The model's own split (and hierarchical consistency, when its config asks for it); unlike
        # its pipeline, which keeps only predicted labels, every label's probability is shown.
        levels = {
            str(level.level): [
                {"label": name, "score": float(score), "predicted": bool(keep)}
                for name, score, keep in zip(level.labels, level.probabilities[0].tolist(), level.predicted[0].tolist())
            ]
            for level in network.logits_to_levels(logits, threshold)
        }
        return {"text": text, "levels": levels}

    return predict


def _classification_predictor(model: str, config: dict, device: str | None, threshold: float) -> Callable[[str], dict]:
    tokenizer, network = _tokenizer_and_model(model, "AutoModelForSequenceClassification", device)
    multi_label = network.config.problem_type == "multi_label_classification"

    def predict(text: str) -> dict:
        scores = _scores(text, tokenizer, network)
        best = max(range(len(scores)), key=scores.__getitem__)
        labels = [
            {
                "label": network.config.id2label[i],
                "score": score,
                "predicted": score >= threshold if multi_label else i == best,
                "description": "",
                "evidence": [],
            }
            for i, score in enumerate(scores)
        ]
        return {"text": text, "labels": sorted(labels, key=lambda item: item["score"], reverse=True)}

    return predict


@dataclass(frozen=True)
class View:
    """How the demo recognises, loads and introduces one prediction shape.

    Attributes:
        model_type: `config.json["model_type"]` that selects this view (checked first), or None.
        architecture_suffix: an `architectures` suffix that selects it (checked after every model_type).
        load: `(model, config, device, threshold) -> predict`.
        intro: the demo page's one-line instructions.
    """

    model_type: str | None
    architecture_suffix: str | None
    load: Callable[[str, dict, str | None, float], Callable[[str], dict]]
    intro: str


VIEWS: dict[str, View] = {
    "lame": View(
        "lame", None, _lame_predictor,
        "Paste a document: the model predicts its labels, and shades each word by how much the selected "
        "label attended to it. Click a label to switch.",
    ),
    "layerwise": View(
        "labelwise_layerwise", None, _layerwise_predictor,
        "Paste a document: the model predicts labels at every level of the hierarchy.",
    ),
    "ner": View(
        None, "ForTokenClassification", _ner_predictor,
        "Paste a text: the model marks adverse drug reaction spans; hover a span for its score.",
    ),
    "classification": View(
        None, "ForSequenceClassification", _classification_predictor,
        "Paste a document: the model predicts its labels with probabilities.",
    ),
}
"""Every view by name: the demo's and the viewer's only per-model-kind table."""


def load_predictor(
    model: str, *, device: str | None = None, threshold: float = 0.5
) -> tuple[str, Callable[[str], dict]]:
    """Load `model` (folder or Hub id) and return `(kind, predict)`; `predict(text)` gives a viewer dict.

    `threshold` is the probability from which a label of a multi-label model (LAME, layer-wise or
    plain) is predicted; multi-class models predict their most probable label.
    """
    config = _read_config(model)
    kind = detect_kind(config)
    return kind, VIEWS[kind].load(model, config, device, threshold)


