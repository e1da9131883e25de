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
pipeline call (e.g. {"top_k": 3} for classification, {"batch_size": 8} for any model); a parameter
the pipeline does not take, or an empty or whitespace-only text, is refused with a message naming it.

At start the handler refuses a repo whose config files point its remote code at another repository
(`auto_map` / `custom_pipelines` entries of the form "other/repo--module.Class"): deploying this
repo is consent to run this repo's code, not someone else's.

ONNX: when the repo has an `onnx/` export (`push_to_hub.py --include_onnx`), onnxruntime is installed
and the endpoint has no GPU, the same pipelines run on the ONNX graph (`onnx/onnx_serving.py`). The
endpoint variable LABELWISE_BACKEND overrides the choice: `torch`, `onnx`, or `onnx-int8` (the int8 graph).

This file runs on the endpoint, where labelwise is not installed: it imports only the standard
library, torch and transformers (and the repo's own `onnx/onnx_serving.py` when serving ONNX).
"""

from __future__ import annotations

import inspect
import json
import os
import re
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


# Files whose `auto_map` tells transformers which code to run (the model's and the tokenizer's classes).
REMOTE_CODE_CONFIG_FILES = ("config.json", "tokenizer_config.json", "preprocessor_config.json", "processor_config.json")
# Call parameters of transformers' standard pipelines that a request may set.
STANDARD_PARAMETERS = {
    "text-classification": {"top_k", "function_to_apply", "truncation", "max_length", "batch_size"},
    "token-classification": {"aggregation_strategy", "ignore_labels", "stride", "batch_size"},
}


def code_references(config: dict) -> list[tuple[str, str]]:
    """Every class a config dict asks transformers to load as code: `(field, "module.Class" reference)`.

    `auto_map` values are one reference or a list (a tokenizer's slow and fast classes, `None` for
    a missing one); `custom_pipelines[task]["impl"]` names a pipeline class.
    """
    found: list[tuple[str, str]] = []
    for auto_class, reference in (config.get("auto_map") or {}).items():
        for item in reference if isinstance(reference, list) else [reference]:
            if item is not None:
                found.append((f'auto_map["{auto_class}"]', item))
    for task, spec in (config.get("custom_pipelines") or {}).items():
        impl = spec.get("impl") if isinstance(spec, dict) else None
        if impl is not None:
            found.append((f'custom_pipelines["{task}"]["impl"]', impl))
    return found


def foreign_code_references(folder: str | os.PathLike) -> list[str]:
    """Entries of the folder's config files that would run code from outside it, as readable lines.

    A reference "namespace/repo--module.Class" makes transformers download and run `module.py` from
    that other repo, which the folder's owner does not control; anything but a "module.Class" at
    the top of the folder (a path, a package) is reported too, as is an unreadable config file,
    whose references cannot be checked.
    """
    problems = []
    for name in REMOTE_CODE_CONFIG_FILES:
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                config = json.load(handle)
        except (OSError, ValueError) as error:
            problems.append(f"{path}: cannot be read as JSON ({error})")
            continue
        if not isinstance(config, dict):
            continue
        for field, reference in code_references(config):
            if not isinstance(reference, str):
                problems.append(f"{path}: {field} = {reference!r} is not a \"module.Class\" name")
            elif "--" in reference:
                problems.append(f"{path}: {field} = {reference!r} points outside this repository")
            elif not re.fullmatch(r"[A-Za-z_]\w*\.[A-Za-z_]\w*", reference):
                # e.g. "../x.Class" or "pkg.sub.Class": not a file at the top of this repository.
                problems.append(f"{path}: {field} = {reference!r} is not a \"module.Class\" of this repository")
    return problems


def _empty_texts(inputs: str | list[str]) -> list[str]:
    """Where the request holds empty or whitespace-only texts: `"inputs"` or `"inputs"[i]`."""
    if isinstance(inputs, str):
        return [] if inputs.strip() else ['"inputs"']
    return [f'"inputs"[{index}]' for index, text in enumerate(inputs) if not text.strip()]


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
        foreign = foreign_code_references(path)
        if foreign:
            raise ValueError(
                "Refusing to serve this repository: its config would make transformers run code from outside it, "
                "or cannot be checked. " + "; ".join(foreign) + ". Point the entries at modules in this repository "
                "(\"module.Class\"), or remove them."
            )
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
        self.allowed_parameters = STANDARD_PARAMETERS.get(self.task) or self._declared_parameters()

    def _declared_parameters(self) -> set[str]:
        """A custom pipeline's call parameters: the named arguments of its `_sanitize_parameters`."""
        signature = inspect.signature(type(self.pipeline)._sanitize_parameters)
        named = {
            name
            for name, parameter in signature.parameters.items()
            if name != "self" and parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL)
        }
        return named | {"batch_size"}

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
        unknown = sorted(set(parameters) - self.allowed_parameters)
        if unknown:
            raise ValueError(
                f'Unknown "parameters" {unknown} for a {self.task} model; it takes {sorted(self.allowed_parameters)}.'
            )
        empty = _empty_texts(inputs)
        if empty:
            raise ValueError(f"{', '.join(empty)}: empty or whitespace-only text; there is nothing to classify.")
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
