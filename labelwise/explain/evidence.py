"""Evidence words by another method than attention, for the predictions the viewer and demo show.

The LAME pipeline's evidence is its label attention: one forward gives every label's words. An
`evidence_method` other than "attention" replaces them, for the labels a prediction names, with
that method's word scores (`labelwise.explain.methods`, the code the explanation evaluation
measured), and gives a plain fine-tuned classifier the evidence it otherwise lacks. How the methods
compare on HoC, and what each costs per label, is in docs/RESULTS.md ("Are LAME's highlighted words
right?") and docs/BENCHMARKS.md.

    from labelwise.analysis.predictors import load_predictor
    kind, predict = load_predictor("runs/hoc-lame", evidence_method="integrated_gradients")
    predict("Tumour cells evade apoptosis ...")["labels"][0]["evidence"]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .methods import Explainer, word_scores

EVIDENCE_METHODS: tuple[str, ...] = ("attention", "integrated_gradients")
"""What `evidence_method` accepts: the pipeline's attention (one forward for every label, the default)
and Integrated Gradients (the most faithful method measured on HoC, tens of forwards per label)."""


def check_evidence_method(method: str) -> None:
    if method not in EVIDENCE_METHODS:
        raise ValueError(f"evidence_method={method!r} is not offered; choose from {', '.join(EVIDENCE_METHODS)}")


def explained_labels(prediction: dict[str, Any]) -> list[int]:
    """Positions in `prediction["labels"]` that get evidence: the predicted labels, or the most
    probable one when none is predicted (each costs the method's full price)."""
    labels = prediction["labels"]
    chosen = [i for i, item in enumerate(labels) if item.get("predicted")]
    return chosen or [max(range(len(labels)), key=lambda i: float(labels[i]["score"]))]


def add_evidence(
    prediction: dict[str, Any], explainer: Explainer, method: str, label_ids: dict[str, int], top_k: int = 5
) -> dict[str, Any]:
    """`prediction` (the viewer's LAME shape) with the explained labels' evidence and word weights
    computed by `method` instead of attention; other labels lose their attention weights, so one
    view never mixes two methods.

    `label_ids` maps a label name to its index in the model's logits. A word's weight is its score
    clipped at 0 (the viewer shades support for the label, not evidence against it); `evidence`
    lists the `top_k` highest-scoring words with a positive score. The prediction records the
    method in `"evidence_method"`.
    """
    check_evidence_method(method)
    if method == "attention":
        return prediction
    encoded = explainer.encode(prediction["text"])
    words = [{"word": prediction["text"][start:end], "start": start, "end": end} for start, end in encoded.words]
    labels = [dict(item) for item in prediction["labels"]]
    weights: dict[str, list[float]] = {}
    for position in explained_labels(prediction):
        item = labels[position]
        scores = word_scores(explainer.explain(encoded, label_ids[item["label"]], method), encoded)
        top = [i for i in np.argsort(-scores, kind="stable")[:top_k] if scores[i] > 0]
        item["evidence"] = [{**words[i], "weight": float(scores[i])} for i in top]
        weights[item["label"]] = [max(float(s), 0.0) for s in scores]
    for position, item in enumerate(labels):
        if item["label"] not in weights:
            item["evidence"] = []
    return {**prediction, "labels": labels, "words": words, "word_weights": weights, "evidence_method": method}
