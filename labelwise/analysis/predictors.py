"""Load a trained labelwise model (folder or Hub repo) as `predict(text) -> prediction dict`.

The prediction dicts are the shapes `labelwise.analysis.viewer` renders. Which loader a model gets
is its *saved kind*, read from `config.json` (`labelwise.saved_kinds`, the one table of saved kinds;
this module holds one loader per kind): the model kinds of `labelwise.kinds` each name theirs
(`ModelKind.saved_kind`), and `tests/test_kinds.py` checks that every kind's saved model is detected as
it and renders.

* `lame`: the LAME pipeline (`label-attention-classification`): labels, probabilities, evidence and
  per-word attention.
* `layerwise`: labels per hierarchy level.
* `token_classification`: the ADR tagger's entity spans.
* `sequence_classification`: labels and probabilities.

A model's own code (`auto_map`, `custom_pipelines` in its config.json) runs only with
`trust_remote_code=True` (`--trust_remote_code` on the demo and viewer commands), as in
transformers. Without it, LAME and layer-wise models are served by labelwise's own classes
(installed with the package) and any other model by transformers' built-in classes; a model that
needs its own code raises `RemoteCodeError` naming the config entries. Code from another
repository (`org/repo--module.Class`) is refused even with the flag. The rules are
`labelwise.remote_code`'s, shared with the endpoint handler and ONNX serving.

This module needs only transformers and torch (imported when a model is loaded) and the table of
saved kinds, so `labelwise.analysis.space.write_space_files` can copy it into a Hub Space that does not
install labelwise, next to the demo app, the viewer and `labelwise.saved_kinds` (as `labelwise_saved_kinds.py`).
Nothing here calls the network unless `model` is a Hub id.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
from collections.abc import Callable
from typing import Any

try:
    import labelwise.saved_kinds as saved_kinds
    from labelwise.remote_code import RemoteCodeError, check_trust, remote_code_entries
except ImportError:  # inside a Hub Space the table of saved kinds and the remote-code rules are copied next to this file
    import labelwise_saved_kinds as saved_kinds  # type: ignore[no-redef]
    from labelwise_remote_code import RemoteCodeError, check_trust, remote_code_entries  # type: ignore[no-redef]

SAVED_KINDS = saved_kinds.SAVED_KINDS

__all__ = ["SAVED_KINDS", "RemoteCodeError", "detect_kind", "load_network", "load_predictor", "remote_code_entries"]


def _read_config(model: str) -> dict[str, Any]:
    if os.path.isdir(model):
        path = os.path.join(model, "config.json")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{model} has no config.json: is it a saved model folder?")
    elif model.startswith(("/", ".", "~")) or model.count("/") > 1 or os.sep in model.replace("/", ""):
        # Hub ids are "name" or "namespace/name"; anything else was meant as a folder.
        raise FileNotFoundError(f"{model}: no such model folder (nor a Hub repo id of the form 'namespace/name').")
    else:
        from transformers.utils import cached_file

        path = cached_file(model, "config.json")
    with open(path, encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error}).") from error


def detect_kind(config: dict[str, Any] | str) -> str:
    """The saved kind of a model (a key of `SAVED_KINDS`) from its `config.json` dict, folder or Hub id
    (`labelwise.saved_kinds.detect`)."""
    return saved_kinds.detect(_read_config(config) if isinstance(config, str) else config)


def _tokenizer_and_model(model: str, auto_class: str, device: str | None, trust_remote_code: bool):
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(model, trust_remote_code=trust_remote_code)
    network = getattr(transformers, auto_class).from_pretrained(model, trust_remote_code=trust_remote_code)
    network.eval()
    if device:
        network.to(device)
    # Checkpoints saved with a hand-made tokenizer may carry no usable model_max_length. A model with
    # max_document_length (LAME, layer-wise) reads documents of that many pieces in segments.
    document_limit = getattr(network.config, "max_document_length", None)
    if document_limit:
        tokenizer.model_max_length = document_limit
    else:
        limit = getattr(network.config, "max_position_embeddings", 512)
        tokenizer.model_max_length = min(tokenizer.model_max_length, limit)
    return tokenizer, network


def _lame_predictor(
    model: str, config: dict, device: str | None, threshold: float | None, trust_remote_code: bool,
    evidence_method: str = "attention",
) -> Callable[[str], dict]:
    import transformers

    custom = config.get("custom_pipelines") or {}
    if custom and trust_remote_code:
        # The checkpoint ships its pipeline as remote code (the normal case for a Hub repo).
        task = next(iter(custom))
        classify = transformers.pipeline(task, model=model, trust_remote_code=True, device=device)
    else:
        from labelwise.modeling.pipeline_lame import LameClassificationPipeline

        # labelwise's own pipeline; without trust_remote_code also its own model class (nothing from
        # the model's folder is run).
        tokenizer, network = _tokenizer_and_model(model, "AutoModelForSequenceClassification", device, trust_remote_code)
        classify = LameClassificationPipeline(model=network, tokenizer=tokenizer)
    # The threshold applies to multi-label models; a multi-class model predicts its arg-max.
    if evidence_method == "attention":
        return lambda text: classify(text, threshold=threshold)
    if "evidence_method" not in inspect.signature(classify._sanitize_parameters).parameters:
        raise ValueError(
            f"evidence_method={evidence_method!r}: the pipeline code saved with {model} predates it. Load the model "
            "without trust_remote_code (labelwise's installed pipeline), or save it again with this labelwise."
        )
    classify._check_evidence_method(evidence_method)  # a bad method or model is refused now, not at the first text
    return lambda text: classify(text, threshold=threshold, evidence_method=evidence_method)


def _ner_predictor(
    model: str, config: dict, device: str | None, threshold: float | None, trust_remote_code: bool
) -> Callable[[str], dict]:
    tokenizer, network = _tokenizer_and_model(model, "AutoModelForTokenClassification", device, trust_remote_code)
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


def _layerwise_predictor(
    model: str, config: dict, device: str | None, threshold: float | None, trust_remote_code: bool
) -> Callable[[str], dict]:
    import torch

    tokenizer, network = _tokenizer_and_model(model, "AutoModelForSequenceClassification", device, trust_remote_code)
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


def _classification_predictor(
    model: str, config: dict, device: str | None, threshold: float | None, trust_remote_code: bool,
    evidence_method: str = "attention",
) -> Callable[[str], dict]:
    if evidence_method != "attention":  # refused before the model is loaded
        try:
            from labelwise.explain.evidence import add_evidence, check_evidence_method
        except ImportError as error:  # inside a Space, which carries this file without labelwise
            raise ImportError(f"evidence_method={evidence_method!r} for a plain classifier needs labelwise installed: {error}") from error
        check_evidence_method(evidence_method)
    tokenizer, network = _tokenizer_and_model(model, "AutoModelForSequenceClassification", device, trust_remote_code)
    multi_label = network.config.problem_type == "multi_label_classification"
    # The decision thresholds a training run tuned and stored in config.json (0.5 without them).
    count = network.config.num_labels
    if threshold is not None:
        thresholds = [threshold] * count
    else:
        thresholds = getattr(network.config, "label_thresholds", None) or [getattr(network.config, "decision_threshold", 0.5)] * count

    def predict(text: str) -> dict:
        scores = _scores(text, tokenizer, network)
        best = max(range(len(scores)), key=scores.__getitem__)
        labels = [
            {
                "label": network.config.id2label[i],
                "score": score,
                "predicted": score >= thresholds[i] if multi_label else i == best,
                "description": "",
                "evidence": [],
            }
            for i, score in enumerate(scores)
        ]
        return {"text": text, "labels": sorted(labels, key=lambda item: item["score"], reverse=True)}

    if evidence_method == "attention":  # a plain classifier has no attention evidence: labels only
        return predict
    label_ids = {str(name): int(index) for index, name in network.config.id2label.items()}
    return lambda text: add_evidence(predict(text), network, tokenizer, label_ids, tokenizer.model_max_length)


Loader = Callable[[str, dict, str | None, float | None, bool], Callable[[str], dict]]
"""`(model, config, device, threshold, trust_remote_code) -> predict` of one view."""

_LOADERS: dict[str, Loader] = {
    saved_kinds.LAME: _lame_predictor,
    saved_kinds.LAYERWISE: _layerwise_predictor,
    saved_kinds.TOKEN_CLASSIFICATION: _ner_predictor,
    saved_kinds.SEQUENCE_CLASSIFICATION: _classification_predictor,
}
# One loader per saved kind: a kind without one could be detected but not loaded.
if set(_LOADERS) != set(SAVED_KINDS):
    # Not ImportError: the demo would take that for "labelwise is not installed" and hide this message.
    raise RuntimeError(
        f"labelwise/analysis/predictors.py: _LOADERS has loaders for {sorted(_LOADERS)} but labelwise/saved_kinds.py "
        f"declares the kinds {sorted(SAVED_KINDS)}; add or remove a loader so that they match."
    )


def load_network(model: str, *, device: str | None = None, trust_remote_code: bool = False) -> tuple[str, Any, Any]:
    """`(view, tokenizer, network)` of a saved folder or Hub id, with the checks of `load_predictor`
    (its config read, its view recognised, its own code run only with `trust_remote_code`). For code
    that scores many texts at once (`labelwise.evaluate`) rather than one at a time."""
    config = _read_config(model)
    view = detect_kind(config)
    check_trust(model, config, trust_remote_code, folder=model if os.path.isdir(model) else None)
    tokenizer, network = _tokenizer_and_model(model, SAVED_KINDS[view].auto_class, device, trust_remote_code)
    return view, tokenizer, network


def load_predictor(
    model: str,
    *,
    device: str | None = None,
    threshold: float | None = None,
    trust_remote_code: bool = False,
    evidence_method: str = "attention",
) -> tuple[str, Callable[[str], dict]]:
    """Load `model` (folder or Hub id) and return `(kind, predict)`; `predict(text)` gives a viewer dict.

    `threshold` is the probability from which a label of a multi-label model (LAME, layer-wise or
    plain) is predicted; by default the model's own decision thresholds (config.json
    `label_thresholds` or `decision_threshold`, tuned on validation by `train.py`; else 0.5).
    Multi-class models predict their most probable label.
    `trust_remote_code=True` lets the model's own code run (module docstring); without it a model
    that needs that code raises `RemoteCodeError`. `predict` raises `ValueError` for an empty or
    whitespace-only text, which has no words to classify.
    `evidence_method="integrated_gradients"` computes the predicted labels' evidence words by
    Integrated Gradients instead of LAME's attention (LAME's pipeline option of that name), and
    gives a plain classifier evidence words (`labelwise.explain.evidence`, so not inside a Space):
    more faithful on HoC, at many forward passes per label.
    """
    config = _read_config(model)
    kind = detect_kind(config)
    check_trust(model, config, trust_remote_code, folder=model if os.path.isdir(model) else None)
    loader = _LOADERS[kind]
    if kind in (saved_kinds.LAME, saved_kinds.SEQUENCE_CLASSIFICATION):  # the text classifiers have evidence words
        loader = functools.partial(loader, evidence_method=evidence_method)
    elif evidence_method != "attention":
        raise ValueError(f"evidence_method={evidence_method!r} explains text classifiers (LAME or plain); {model} is a {kind} model")
    predict = loader(model, config, device, threshold, trust_remote_code)

    def checked(text: str) -> dict:
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"The text is empty or whitespace only ({text!r}): there is nothing to classify.")
        return predict(text)

    return kind, checked


