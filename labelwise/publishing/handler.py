"""Inference Endpoints handler for a model published with labelwise.

`push_to_hub.py` copies this file as `handler.py` to the root of the model repo. Inference Endpoints
then serves the model through `EndpointHandler` (a "custom handler"), which also works for models that
need remote code (LAME, layer-wise), where the Hub's hosted widget does not run.

Request:  {"inputs": "a text" | ["text", ...], "parameters": {...}}   (parameters are optional)
Response: what the model's pipeline returns, made JSON-serialisable:
  - classification: [{"label": ..., "score": ...}, ...] per text, every label, best first
    (sigmoid scores for multi-label models, softmax for multi-class);
  - a model with its own pipeline in `config.json["custom_pipelines"]` (LAME: labels,
    probabilities and evidence words): that pipeline's output;
  - token classification: [{"entity_group", "word", "score", "start", "end"}, ...] per text.
A single text gives a single result; a list gives a list of results. `parameters` are passed to the
pipeline call (e.g. {"top_k": 3} for classification).

ONNX: when the repo has an `onnx/` export (`push_to_hub.py --include_onnx`), onnxruntime is installed
and the endpoint has no GPU, the same pipelines run on the ONNX graph (`onnx/onnx_serving.py`). The
endpoint variable LABELWISE_BACKEND overrides the choice: `torch`, `onnx`, or `onnx-int8` (the int8 graph).

This file runs on the endpoint, where labelwise is not installed: it imports only the standard
library, torch and transformers (and the repo's own `onnx/onnx_serving.py` when serving ONNX).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import torch
from transformers import pipeline


def _jsonable(value: Any) -> Any:
    """Numpy / torch scalars and arrays in pipeline outputs -> plain Python for the JSON response."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if hasattr(value, "tolist"):  # numpy.ndarray, numpy scalar, torch.Tensor
        return value.tolist()
    return value


ONNX_FOLDER = "onnx"
BACKENDS = ("torch", "onnx", "onnx-int8")


def _onnx_pipeline(path: str):
    """The pipeline on the repo's ONNX graph when LABELWISE_BACKEND (or, unset, the setup) says so; else None."""
    import importlib.util

    backend = os.environ.get("LABELWISE_BACKEND", "").strip().lower()
    if backend and backend not in BACKENDS:
        raise ValueError(f"LABELWISE_BACKEND={backend!r}: choose one of {list(BACKENDS)} (or leave it unset).")
    folder = os.path.join(path, ONNX_FOLDER)
    available = os.path.exists(os.path.join(folder, "onnx_serving.py")) and importlib.util.find_spec("onnxruntime")
    if backend == "torch" or (not backend and (not available or torch.cuda.is_available())):
        return None
    if not available:
        raise ValueError(
            f"LABELWISE_BACKEND={backend!r}, but {folder}/onnx_serving.py or the onnxruntime package is missing "
            "(push with --include_onnx; add onnxruntime to requirements.txt)."
        )
    spec = importlib.util.spec_from_file_location("onnx_serving", os.path.join(folder, "onnx_serving.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there while it executes
    spec.loader.exec_module(module)
    return module.onnx_pipeline(folder, quantized=backend == "onnx-int8")


class EndpointHandler:
    """Load the model in `path` once; answer each request with its labels and probabilities."""

    def __init__(self, path: str = ""):
        path = path or "."
        with open(os.path.join(path, "config.json"), encoding="utf-8") as handle:
            config = json.load(handle)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        custom_tasks = list((config.get("custom_pipelines") or {}).keys())
        architectures = config.get("architectures") or []
        self.default_parameters: dict[str, Any] = {}
        onnx_pipeline = _onnx_pipeline(path)
        if onnx_pipeline is not None:
            self.pipeline, self.task = onnx_pipeline, onnx_pipeline.task
            if self.task == "text-classification":
                self.default_parameters = {"truncation": True}
        elif len(custom_tasks) == 1:
            # The model's own pipeline (e.g. LAME's, which adds the evidence words of each label).
            self.task = custom_tasks[0]
            self.pipeline = pipeline(self.task, model=path, trust_remote_code=True, device=device)
        elif any(name.endswith("ForTokenClassification") for name in architectures):
            self.task = "token-classification"
            self.pipeline = pipeline(
                self.task, model=path, trust_remote_code=True, device=device, aggregation_strategy="simple"
            )
        else:
            self.task = "text-classification"
            # top_k=None: every label with its score; the pipeline picks sigmoid or softmax from
            # config.problem_type. Long documents are truncated to the encoder's maximum length.
            self.pipeline = pipeline(self.task, model=path, trust_remote_code=True, device=device, top_k=None)
            self.default_parameters = {"truncation": True}

    def __call__(self, data: dict[str, Any]) -> list | dict:
        """Args: data: {"inputs": str | list[str], "parameters": dict (optional)}."""
        if not isinstance(data, dict) or "inputs" not in data:
            raise ValueError('The request body must be a JSON object with "inputs": a text or a list of texts.')
        inputs = data["inputs"]
        if isinstance(inputs, list):
            bad = [index for index, text in enumerate(inputs) if not isinstance(text, str)]
            if bad or not inputs:
                raise ValueError(f'"inputs" must be a text or a non-empty list of texts; items {bad} are not texts.')
        elif not isinstance(inputs, str):
            raise ValueError(f'"inputs" must be a text or a list of texts, got {type(inputs).__name__}.')
        parameters = data.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise ValueError(f'"parameters" must be a JSON object, got {type(parameters).__name__}.')
        outputs = self.pipeline(inputs, **{**self.default_parameters, **parameters})
        if (
            self.task == "text-classification"
            and isinstance(inputs, str)
            and len(outputs) == 1
            and isinstance(outputs[0], list)
        ):
            # The pipeline wraps one text's labels in an extra list when top_k=None, not otherwise.
            outputs = outputs[0]
        return _jsonable(outputs)
