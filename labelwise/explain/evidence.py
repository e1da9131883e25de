"""Evidence words by Integrated Gradients for a plain fine-tuned classifier, in the viewer's shape.

A LAME model's pipeline computes them itself (`evidence_method="integrated_gradients"`,
`modeling/pipeline_lame.py`); a plain `*ForSequenceClassification` has no evidence words, and this
gives it the same ones, by the same code (`modeling/integrated_gradients.py`, which the explanation
evaluation checks against captum's). How the methods compare on HoC, and what each costs per label,
is in docs/RESULTS.md ("Are LAME's highlighted words right?") and docs/BENCHMARKS.md.

    from labelwise.analysis.predictors import load_predictor
    kind, predict = load_predictor("runs/hoc-finetuned", evidence_method="integrated_gradients")
    predict("Tumour cells evade apoptosis ...")["labels"][0]["evidence"]
"""

from __future__ import annotations

from typing import Any

import torch

from labelwise.modeling.integrated_gradients import explained_labels, integrated_gradients, label_logit, padding_baseline
from labelwise.modeling.pipeline_lame import EVIDENCE_METHODS, check_evidence_method

from .methods import Encoded, word_scores

__all__ = ["EVIDENCE_METHODS", "add_evidence", "check_evidence_method"]


def add_evidence(
    prediction: dict[str, Any], model, tokenizer, label_ids: dict[str, int], max_length: int, top_k: int = 5
) -> dict[str, Any]:
    """`prediction` (the viewer's shape, from a plain classifier) with Integrated Gradients evidence for
    the labels that `explained_labels` chooses, as LAME's pipeline gives it: `evidence` lists the
    `top_k` highest-scoring words with a positive score, `word_weights` holds the explained labels'
    word scores clipped at 0, and `"evidence_method"` says which method made them.

    `label_ids` maps a label name to its index in the model's logits.
    """
    encoded = Encoded.of(tokenizer, prediction["text"], max_length)
    inputs = {key: value.to(model.device) for key, value in encoded.inputs.items()}
    embed = model.get_input_embeddings()
    keep = torch.tensor([[w is None for w in encoded.word_ids]], device=model.device)
    with torch.no_grad():
        embeddings = embed(inputs["input_ids"])
    baseline = padding_baseline(embed, inputs["input_ids"], keep, tokenizer.pad_token_id)
    words = [{"word": prediction["text"][start:end], "start": start, "end": end} for start, end in encoded.words]
    labels = [dict(item, evidence=[]) for item in prediction["labels"]]
    weights: dict[str, list[float]] = {}
    for position in explained_labels([bool(i.get("predicted")) for i in labels], [float(i["score"]) for i in labels]):
        item = labels[position]
        pieces, _, _ = integrated_gradients(label_logit(model, label_ids[item["label"]], inputs), embeddings, baseline)
        scores = word_scores(pieces.cpu().numpy(), encoded)
        top = [i for i in (-scores).argsort(kind="stable")[:top_k] if scores[i] > 0]
        item["evidence"] = [{**words[i], "weight": float(scores[i])} for i in top]
        weights[item["label"]] = [max(float(s), 0.0) for s in scores]
    return {**prediction, "labels": labels, "words": words, "word_weights": weights, "evidence_method": "integrated_gradients"}
