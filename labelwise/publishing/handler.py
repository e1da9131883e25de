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

At start the handler refuses a repo whose config files (at the root and in `onnx/`) point its remote
code at another repository (`auto_map` / `custom_pipelines` entries of the form
"other/repo--module.Class"): deploying this repo is consent to run this repo's code, not someone
else's. Call values are checked before any text is read (`threshold` a probability in [0, 1],
`max_length` within the model's length, counts positive, texts valid Unicode): a bad one is a
`ValueError` naming the parameter and the accepted range.

ONNX: when the repo has an `onnx/` export (`push_to_hub.py --include_onnx`), onnxruntime is installed
and the endpoint has no GPU, the same pipelines run on the ONNX graph (`onnx/onnx_serving.py`). The
endpoint variable LABELWISE_BACKEND overrides the choice: `torch`, `onnx`, or `onnx-int8` (the int8 graph).

This file runs on the endpoint, where labelwise is not installed: it imports only the standard
library, torch and transformers, the repo's own `onnx/onnx_serving.py` when serving ONNX, and the
two standard-library files `push_to_hub.py` uploads beside it (`SUPPORT_FILES`: labelwise's
remote-code rules and its parameter checks).
"""

from __future__ import annotations

import inspect
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


# Call parameters of transformers' standard pipelines that a request may set.
STANDARD_PARAMETERS = {
    "text-classification": {"top_k", "function_to_apply", "truncation", "max_length", "batch_size"},
    "token-classification": {"aggregation_strategy", "ignore_labels", "stride", "batch_size"},
}


def _support_module(file_name: str, installed_name: str):
    """A standard-library helper module this handler needs: the copy `push_to_hub.py` uploads beside
    handler.py (on an endpoint, where labelwise is not installed), else the installed labelwise's own
    (the handler used from the package, as in tests and `labelwise.publishing.handler`)."""
    import importlib
    import importlib.util

    beside = os.path.join(os.path.dirname(os.path.abspath(__file__)), file_name)
    if os.path.isfile(beside):
        name = f"_labelwise_handler_{file_name[:-3]}"
        spec = importlib.util.spec_from_file_location(name, beside)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    try:
        return importlib.import_module(installed_name)
    except ImportError as error:
        raise ImportError(
            f"{beside} is missing: push_to_hub.py uploads it with handler.py (labelwise's {installed_name}); "
            "copy it into the repository next to handler.py."
        ) from error


# What labelwise refuses to run (labelwise/remote_code.py) and how it checks call values
# (modeling/pipeline_parameters.py): one copy of each rule, shared with the demo, ONNX serving and the pipelines.
SUPPORT_FILES = {
    "labelwise_remote_code.py": "labelwise.remote_code",
    "pipeline_parameters.py": "labelwise.modeling.pipeline_parameters",
}
_rules = _support_module("labelwise_remote_code.py", SUPPORT_FILES["labelwise_remote_code.py"])
_parameters = _support_module("pipeline_parameters.py", SUPPORT_FILES["pipeline_parameters.py"])


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
    # Deploying this repository is consent to run its own code (onnx/'s pipeline files); code from
    # other repositories was refused at start, and onnx_serving refuses it again.
    return module.onnx_pipeline(folder, quantized=backend == "onnx-int8", trust_remote_code=True)


class EndpointHandler:
    """Load the model in `path` once; answer each request with its labels and probabilities."""

    def __init__(self, path: str = ""):
        path = path or "."
        # Every config file a serving path reads: the model's, and the ONNX export's (the default
        # backend on a CPU endpoint with onnxruntime).
        foreign = _rules.foreign_code_references(path) + _rules.foreign_code_references(os.path.join(path, ONNX_FOLDER))
        if foreign:
            raise _rules.RemoteCodeError(
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

    def _check_standard_parameters(self, parameters: dict[str, Any]) -> None:
        """The values transformers' own pipelines take unchecked (a custom pipeline checks its own)."""
        if "batch_size" in parameters:
            _parameters.check_integer(parameters["batch_size"], "batch_size", 1)
        if self.task not in STANDARD_PARAMETERS:
            return
        if "max_length" in parameters:
            limit = self.pipeline.model.config.max_position_embeddings
            _parameters.check_max_length(parameters["max_length"], limit)
        if parameters.get("top_k") is not None:
            _parameters.check_integer(parameters["top_k"], "top_k", 1, why=" (or null: every label)")

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
        for index, text in enumerate([inputs] if isinstance(inputs, str) else inputs):
            _parameters.check_text(text, '"inputs"' if isinstance(inputs, str) else f'"inputs"[{index}]')
        self._check_standard_parameters(parameters)
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
