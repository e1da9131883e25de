"""`hierarchical-classification` pipeline: labels per hierarchy level for a layer-wise guided model.

Shipped with a checkpoint as remote code (it imports only `torch` and `transformers`): after
`register_layerwise_pipeline()` and `pipe.save_pretrained(folder)`, anyone can run
`pipeline(model=folder, trust_remote_code=True)` without labelwise installed.

Example:
    >>> pipe = pipeline("hierarchical-classification", model=model, tokenizer=tokenizer)
    >>> pipe("Council directive on fish imports", threshold=0.4)
    [{"level": 1, "labels": [{"label": "trade", "score": 0.91}]}, {"level": 2, "labels": [...]}, ...]
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import AutoModelForSequenceClassification, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY

from .pipeline_parameters import check_max_length, check_text, check_threshold
from .segments import input_length_limit, require_tokenizer

TASK_NAME = "hierarchical-classification"


class HierarchicalClassificationPipeline(Pipeline):
    """Classify texts into a label hierarchy; returns, per level, the labels scoring at least `threshold`.

    Call parameters (also accepted by the constructor):
        threshold (`float`, *optional*): minimum sigmoid probability of a returned label; defaults to
            the model's decision thresholds (`config.label_thresholds`, else `config.decision_threshold`,
            0.5 unless `train.py --tune_thresholds` chose them on the validation split).
        hierarchical_consistency (`bool`, *optional*): cap each label's probability by its parents'
            (no child without its parent); defaults to the model's `config.hierarchical_consistency`.
        truncation (`bool`, defaults to `True`) and max_length (`int`, *optional*): tokenizer
            truncation; by default at the model's `config.max_document_length` when set (the model
            reads long documents in segments), else at the encoder's length (512 for BERT).

    A list of texts with `batch_size=n` runs n texts per forward pass, with the results of one-by-one
    calls. An empty or whitespace-only text raises `ValueError`.

    Output for one text: a list with one entry per level, level 1 first,
    `{"level": n, "labels": [{"label": str, "score": float}, ...]}`, labels by descending score.
    """

    # The pipeline only moves tensors; no generation, image or audio processors.
    _load_processor = False
    _load_image_processor = False
    _load_video_processor = False
    _load_feature_extractor = False
    # Optional for transformers, so that a folder without a tokenizer gets __init__'s error naming the
    # fix instead of transformers' "Couldn't instantiate the backend tokenizer".
    _load_tokenizer = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        require_tokenizer(self)

    def _sanitize_parameters(
        self,
        threshold: float | None = None,
        hierarchical_consistency: bool | None = None,
        truncation: bool | None = None,
        max_length: int | None = None,
        **kwargs: Any,
    ):
        if kwargs:
            raise TypeError(f"{TASK_NAME} pipeline got unexpected arguments {sorted(kwargs)}.")
        preprocess_params: dict[str, Any] = {}
        if truncation is not None:
            preprocess_params["truncation"] = truncation
        # Checked here, before any text is read: each bad value is one error naming the parameter.
        if max_length is not None:
            preprocess_params["max_length"] = check_max_length(max_length, input_length_limit(self.model.config))
        postprocess_params: dict[str, Any] = {}
        if threshold is not None:
            postprocess_params["threshold"] = check_threshold(threshold)
        if hierarchical_consistency is not None:
            postprocess_params["hierarchical_consistency"] = hierarchical_consistency
        return preprocess_params, {}, postprocess_params

    def preprocess(self, inputs: str, truncation: bool = True, max_length: int | None = None) -> dict[str, torch.Tensor]:
        check_text(inputs, f"{TASK_NAME} pipeline: a text")
        if not inputs.strip():
            # With no words the level classifiers would still score the [CLS] of "[CLS] [SEP]".
            raise ValueError(f"{TASK_NAME} pipeline: a text is empty or whitespace only ({inputs!r}); nothing to classify.")
        if truncation and max_length is None:
            max_length = input_length_limit(self.model.config, self.tokenizer)
        return self.tokenizer(inputs, return_tensors="pt", truncation=truncation, max_length=max_length)

    def _forward(self, model_inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        # Raw scores: consistency is applied in postprocess, where the call's option is known.
        output = self.model(**model_inputs, hierarchical_consistency=False)
        return {"logits": output.logits}

    def postprocess(
        self, model_outputs: dict[str, torch.Tensor], threshold: float | None = None, hierarchical_consistency: bool | None = None
    ) -> list[dict[str, Any]]:
        levels = self.model.logits_to_levels(model_outputs["logits"], threshold, hierarchical_consistency)
        result = []
        for level in levels:
            scores = level.probabilities[0].tolist()
            chosen = [
                {"label": name, "score": score}
                for name, score, keep in zip(level.labels, scores, level.predicted[0].tolist())
                if keep
            ]
            chosen.sort(key=lambda item: item["score"], reverse=True)
            result.append({"level": level.level, "labels": chosen})
        return result


def register_layerwise_pipeline() -> None:
    """Register the `hierarchical-classification` task with transformers (idempotent).

    Call it before `pipeline("hierarchical-classification", ...)` or before `pipe.save_pretrained`,
    which then writes `custom_pipelines` into `config.json` and copies this file next to the model.
    """
    if TASK_NAME in PIPELINE_REGISTRY.supported_tasks and PIPELINE_REGISTRY.supported_tasks[TASK_NAME]["impl"] is HierarchicalClassificationPipeline:
        return
    PIPELINE_REGISTRY.register_pipeline(
        TASK_NAME,
        pipeline_class=HierarchicalClassificationPipeline,
        # Saved by name and resolved as `transformers.<name>` when loading, so it must be a
        # transformers class; the checkpoint's auto_map then picks the remote model class.
        pt_model=AutoModelForSequenceClassification,
        type="text",
    )
