"""Serve a labelwise ONNX export with ONNX Runtime through the usual transformers pipelines.

The exporter copies this file into every export folder as `onnx_serving.py`, with the table of saved kinds
(`labelwise.saved_kinds`) as `labelwise_saved_kinds.py` beside it, so it imports only the
standard library, numpy, onnxruntime, torch and transformers (no labelwise): it runs on an Inference
Endpoint or any machine with the export folder. The model itself runs in ONNX Runtime; torch only
carries the pipelines' pre- and post-processing tensors.

    from onnx_serving import onnx_pipeline          # or: from labelwise.export import onnx_pipeline
    classify = onnx_pipeline("exported/")            # LAME: labels, probabilities, evidence words
    classify("Chest pain radiating to the left arm.")
    fast = onnx_pipeline("exported/", quantized=True)   # the int8 file, when it was exported

Remote code follows labelwise's rules (`labelwise.remote_code`, copied into the folder as
`labelwise_remote_code.py`), as for the PyTorch model: the folder's own code (its LAME or layer-wise
pipeline and config files) runs only with `trust_remote_code=True`; without it labelwise's installed
classes serve the folder, or, where labelwise is not installed, a `RemoteCodeError` names the flag.
A config entry naming code in another repository ("org/repo--module.Class") is refused even with
the flag.

`OnnxModel` quacks like the PyTorch model for the pipelines (`config`, `device`, `__call__` returning
`logits`, and for LAME `cross_attentions`), so each kind's pipeline, and code such as
`labelwise.ner.tagger.predict_tags`, runs unchanged on it:

| kind (`onnx_export.json`) | pipeline |
|---|---|
| `lame` | the model's own `label-attention-classification` pipeline (`pipeline_lame.py` in the folder) |
| `layerwise` | its `hierarchical-classification` pipeline (`pipeline_layerwise.py`) |
| `sequence_classification` | transformers' `text-classification` (`top_k=None`: every label) |
| `token_classification` | transformers' `token-classification` (`aggregation_strategy="simple"`) |
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from transformers import AutoConfig, AutoTokenizer
from transformers.utils import ModelOutput

try:
    import labelwise.saved_kinds as saved_kinds
except ImportError:  # an export folder: the table was copied next to this file (the handler loads it by path)
    import importlib.util as _util

    _spec = _util.spec_from_file_location(
        "labelwise_saved_kinds", os.path.join(os.path.dirname(os.path.abspath(__file__)), "labelwise_saved_kinds.py"))
    saved_kinds = _util.module_from_spec(_spec)
    sys.modules[_spec.name] = saved_kinds  # dataclasses look their module up there
    _spec.loader.exec_module(saved_kinds)

MANIFEST = "onnx_export.json"
"""Written by the exporter beside the graphs: kind, files, inputs, outputs, measured parity."""


def remote_code_rules():
    """`labelwise.remote_code` (what may run; one copy of the rules): the installed package's, else,
    in an export folder used without labelwise, the copy the exporter put beside this file."""
    try:
        from labelwise import remote_code

        return remote_code
    except ImportError:
        import importlib.util
        import sys

        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "labelwise_remote_code.py")
        if not os.path.isfile(path):
            raise ImportError(
                f"{path} is missing: the exporter writes it beside {os.path.basename(__file__)}; export the model "
                "again with `python -m labelwise.export`."
            ) from None
        spec = importlib.util.spec_from_file_location("labelwise_remote_code", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module


@dataclass
class OnnxModelOutput(ModelOutput):
    """What a pipeline reads from a model call.

    Args:
        logits: `(batch, num_labels)`, or `(batch, sequence, num_labels)` for token classification.
        cross_attentions: LAME only: a 1-tuple holding the last label-attention block's weights
            averaged over heads, `(batch, 1, num_labels, sequence)` (the head axis kept, of size 1,
            so `cross_attentions[-1][0].mean(0)` gives the same `(num_labels, sequence)` as PyTorch).
        level_logits: layer-wise only: one `(batch, |L_n|)` tensor per level.
    """

    logits: torch.Tensor | None = None
    cross_attentions: tuple[torch.Tensor, ...] | None = None
    level_logits: tuple[torch.Tensor, ...] | None = None


def read_manifest(folder: str) -> dict:
    path = os.path.join(folder, MANIFEST)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{path} is missing: {folder!r} is not a labelwise ONNX export. Make one with "
            "`python -m labelwise.export --model <model folder> --output <folder>`."
        )
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def read_config(folder: str) -> dict:
    """The export's `config.json` as a dict (its remote-code entries are checked before transformers reads it)."""
    path = os.path.join(folder, "config.json")
    try:
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
    except OSError as error:
        raise FileNotFoundError(f"{path} cannot be read ({error.strerror or error}): is {folder!r} a labelwise ONNX export?") from None
    except ValueError as error:
        raise ValueError(f"{path}: not valid JSON ({error}).") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: expected a JSON object.")
    return config


def session_options(threads: int | None = None):
    """ONNX Runtime options: all graph optimisations, `threads` intra-op threads (None: ORT's default)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return options


class OnnxModel:
    """An exported graph in an ONNX Runtime session, callable like the PyTorch model it came from.

    Args:
        folder: the export folder (graph files, `config.json`, tokenizer, `onnx_export.json`).
        quantized: load the int8 graph (`--quantize int8` at export) instead of the fp32 one.
        threads: intra-op threads of the session (None: ONNX Runtime's default, all cores).
        trust_remote_code: let the folder's own config and model code run (module docstring);
            without it labelwise's installed classes are used, or `RemoteCodeError` names the flag.
    """

    training = False
    dtype = torch.float32

    def __init__(self, folder: str, quantized: bool = False, threads: int | None = None, trust_remote_code: bool = False):
        import onnxruntime as ort

        self.folder = folder
        self.manifest = read_manifest(folder)
        # Before transformers reads any config: code from elsewhere never runs, the folder's own only on request.
        remote_code_rules().check_trust(folder, read_config(folder), trust_remote_code, folder=folder)
        self.trust_remote_code = trust_remote_code
        files = self.manifest["files"]
        key = "int8" if quantized else "fp32"
        if key not in files:
            raise FileNotFoundError(
                f"{os.path.join(folder, MANIFEST)} lists no {key} graph (it has {sorted(files)}); "
                "export again with `--quantize int8`." if quantized else f"{folder}: no fp32 graph listed."
            )
        self.path = os.path.join(folder, files[key])
        self.kind = saved_kinds.canonical_name(self.manifest["kind"])
        self.config = AutoConfig.from_pretrained(folder, trust_remote_code=trust_remote_code)
        self.session = ort.InferenceSession(self.path, session_options(threads), providers=["CPUExecutionProvider"])
        self.input_names = [item.name for item in self.session.get_inputs()]
        self.output_names = [item.name for item in self.session.get_outputs()]
        self.device = torch.device("cpu")
        self._head = self._head_helpers() if self.kind == saved_kinds.LAYERWISE else None

    def _head_helpers(self):
        """The layer-wise model class built on the meta device: its label-index helpers
        (`logits_to_levels`, `apply_hierarchical_consistency`) work on CPU tensors without weights.
        The folder's own class with `trust_remote_code`, else the installed one registered for the config."""
        from transformers import AutoModelForSequenceClassification
        from transformers.dynamic_module_utils import get_class_from_dynamic_module

        if self.trust_remote_code:
            reference = self.config.auto_map["AutoModelForSequenceClassification"]
            model_class = get_class_from_dynamic_module(reference, self.folder)
        else:
            model_class = AutoModelForSequenceClassification._model_mapping[type(self.config)]
        with torch.device("meta"):
            return model_class(self.config)

    # The pipelines treat the model as a torch module: these make the calls they use no-ops.
    def to(self, *args, **kwargs) -> "OnnxModel":
        return self

    def eval(self) -> "OnnxModel":
        return self

    def train(self, mode: bool = True) -> "OnnxModel":
        return self

    def can_generate(self) -> bool:
        return False

    def parameters(self):
        yield torch.empty(0)  # callers read `next(model.parameters()).device`: CPU

    def __getattr__(self, name: str) -> Any:
        # Layer-wise pipelines call the model's label-index helpers (weights not needed).
        head = self.__dict__.get("_head")
        if head is not None and name in ("logits_to_levels", "apply_hierarchical_consistency"):
            return getattr(head, name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def run(self, input_ids, attention_mask=None, token_type_ids=None) -> dict[str, np.ndarray]:
        """Run the graph on `(batch, sequence)` arrays or tensors; returns `{output name: array}`."""
        ids = _numpy(input_ids)
        feed = {
            "input_ids": ids,
            "attention_mask": _numpy(attention_mask) if attention_mask is not None else np.ones_like(ids),
            "token_type_ids": _numpy(token_type_ids) if token_type_ids is not None else np.zeros_like(ids),
        }
        values = self.session.run(None, {name: feed[name] for name in self.input_names})
        return dict(zip(self.output_names, values))

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        hierarchical_consistency: bool | None = None,
        **ignored,
    ) -> OnnxModelOutput:
        """Like the PyTorch model's forward (options the graph has no use for are ignored; LAME always
        returns its label attention)."""
        outputs = {name: torch.from_numpy(value) for name, value in self.run(input_ids, attention_mask, token_type_ids).items()}
        if self.kind == saved_kinds.LAME:
            return OnnxModelOutput(logits=outputs["logits"], cross_attentions=(outputs["label_attention"].unsqueeze(1),))
        if self.kind == saved_kinds.LAYERWISE:
            logits = outputs["logits"]
            if hierarchical_consistency is None:
                hierarchical_consistency = bool(getattr(self.config, "hierarchical_consistency", False))
            if hierarchical_consistency:
                logits = self._head.apply_hierarchical_consistency(logits)
                levels = tuple(logits[:, ids] for ids in self.config.level_label_ids())
            else:
                levels = tuple(outputs[name] for name in self.output_names[1:])
            return OnnxModelOutput(logits=logits, level_logits=levels)
        return OnnxModelOutput(logits=outputs["logits"])

    __call__ = forward


def _numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.int64)


def onnx_pipeline(
    folder: str, quantized: bool = False, threads: int | None = None, trust_remote_code: bool = False, **pipeline_kwargs
):
    """The kind's pipeline (see the module docstring) running on the ONNX graph in `folder`.

    `trust_remote_code=True` runs the folder's own pipeline and config code (LAME, layer-wise), as
    `pipeline(..., trust_remote_code=True)` would; without it labelwise's installed pipeline and
    classes serve the folder, or `RemoteCodeError` names the flag. Code from another repository is
    refused either way. `pipeline_kwargs` go to the pipeline's constructor (e.g. `threshold=0.3` for LAME).
    """
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    model = OnnxModel(folder, quantized=quantized, threads=threads, trust_remote_code=trust_remote_code)
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
    common = dict(model=model, tokenizer=tokenizer, device=-1, **pipeline_kwargs)
    kind = saved_kinds.SAVED_KINDS[model.kind]
    if kind.pipeline_task:
        task, reference = kind.pipeline_task, kind.pipeline_class
        if not trust_remote_code:
            return _on_onnx(_installed_pipeline(folder, task))(task=task, **common)
        # The model's own pipeline file, as config.json's custom_pipelines names it (saved through its
        # pipeline), else the file labelwise ships for the kind.
        custom = getattr(model.config, "custom_pipelines", None) or {}
        if task in custom:
            reference = custom[task]["impl"]
        return _on_onnx(get_class_from_dynamic_module(reference, folder))(task=task, **common)
    from transformers import TextClassificationPipeline, TokenClassificationPipeline

    if kind.standard_pipeline == "token-classification":
        common.setdefault("aggregation_strategy", "simple")
        return _on_onnx(TokenClassificationPipeline)(task="token-classification", **common)
    common.setdefault("top_k", None)
    return _on_onnx(TextClassificationPipeline)(task="text-classification", **common)


def _installed_pipeline(folder: str, task: str) -> type:
    """The pipeline class installed for `task` (labelwise registers its own when `labelwise.modeling`
    is imported), used when the folder's own pipeline file may not run."""
    from transformers.pipelines import PIPELINE_REGISTRY

    if task not in PIPELINE_REGISTRY.supported_tasks:
        raise remote_code_rules().RemoteCodeError(
            f"{folder}: the {task!r} pipeline is the folder's own code (pipeline file named in config.json), and no "
            "installed library provides it: install labelwise, or read that code and pass trust_remote_code=True."
        )
    return PIPELINE_REGISTRY.supported_tasks[task]["impl"]


def _on_onnx(pipeline_class: type) -> type:
    """`pipeline_class` without its model-class check, which logs an error for any class not in
    transformers' model mappings (the check is about PyTorch classes; OnnxModel carries the same outputs)."""
    return type(pipeline_class.__name__, (pipeline_class,), {"check_model_type": lambda self, supported: None})

