"""Export a trained labelwise model (any kind in `labelwise.export.graphs.KINDS`) to ONNX, check it, quantize it.

Machinery: `torch.onnx.export(..., dynamo=True)` (torch.export + onnxscript), not optimum. Why, in short
(docs/EXPORT.md has the measurements): optimum's ONNX exporters (optimum-onnx 0.1) require
transformers < 4.58 and only know built-in architectures, so LAME and the layer-wise model would need
custom ONNX configs against an older transformers; the TorchScript exporter (`dynamo=False`) traced
transformers 5's BERT mask code wrongly here (0.025 max abs difference on MiniLM logits); the dynamo
exporter gave 6e-8.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer
from transformers.models.auto.modeling_auto import MODEL_MAPPING

from labelwise import remote_code, saved_kinds
from labelwise.export import serving
from labelwise.export.graphs import INPUT_NAMES, GraphSpec, build_graph

FP32_FILE = "model.onnx"
INT8_FILE = "model_int8.onnx"
SERVING_FILE = "onnx_serving.py"
SAVED_KINDS_FILE = "labelwise_saved_kinds.py"
"""`labelwise.saved_kinds`, copied beside `onnx_serving.py` (which runs without labelwise)."""
QUANTIZATIONS = ("int8",)
PARITY_TOLERANCE = 1e-4


@dataclass
class ExportOptions:
    """Every knob of an export.

    Attributes:
        quantize: `None` (fp32 only) or `"int8"`: also write `model_int8.onnx`, ONNX Runtime dynamic
            quantization (int8 weights of every MatMul/Gemm with a constant weight, activations
            quantized per call).
        per_channel: int8 weights with one scale per output channel (default) instead of one per
            matrix: as fast here, and closer to fp32 on HoC and ADE (docs/EXPORT.md).
        reduce_range: int8 weights in 7 bits (-64..64: two uint8 x int8 products sum to at most
            32,640) instead of 8; `None` (default): with per-channel scales only. x86 CPUs without
            VNNI (AVX2 only, or AVX-512 without VNNI: many cloud VMs, AMD EPYC up to Zen 3) multiply
            uint8 activations by int8 weights with an instruction that adds two products into a
            saturating int16; full-range weights can
            overflow it, and the scores then depend on the CPU. With 7-bit weights no sum overflows,
            so every x86 CPU computes the same integer products. One scale per matrix has too few
            levels left in 7 bits (HoC -12.8, ADE -11.8 points), so per-tensor stays 8-bit
            (docs/EXPORT.md, "int8 on CPUs without VNNI").
        opset: ONNX opset. 23 is the first with the `Attention` operator, which the exporter
            emits for the encoder's `sdpa` attention and ONNX Runtime runs as one fused kernel.
        attn_implementation: attention implementation of the encoder while exporting. `"sdpa"`
            (with opset >= 23) becomes one `Attention` node per layer; `"eager"` gives plain
            MatMul/Softmax attention (about 15% slower in ONNX Runtime here, docs/EXPORT.md).
        tolerance: largest allowed |ONNX Runtime - PyTorch| of any fp32 output on the check inputs;
            the export fails above it.
        check_batch / check_length: shape of the random check inputs (different from the tracing
            shape, so a graph that baked in a shape fails the check).
        trace_batch / trace_length: shape of the example inputs the graph is traced with.
    """

    quantize: str | None = None
    per_channel: bool = True
    reduce_range: bool | None = None
    opset: int | None = 23
    attn_implementation: str = "sdpa"
    tolerance: float = PARITY_TOLERANCE
    check_batch: int = 3
    check_length: int = 37
    trace_batch: int = 2
    trace_length: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        if self.quantize not in (None, *QUANTIZATIONS):
            raise ValueError(f"--quantize must be one of {list(QUANTIZATIONS)} (or omitted), got {self.quantize!r}.")
        if self.reduce_range is None:
            self.reduce_range = self.per_channel


WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt")


class ExportError(ValueError):
    """The model folder or the output cannot be exported to/from: the message names the file at fault."""


def resolve_model_folder(model: str, revision: str | None = None) -> str:
    """A local folder as is; otherwise a Hub id, downloaded (weights, config, tokenizer, remote code)."""
    if os.path.isdir(model):
        return model
    if os.path.exists(model):
        raise ExportError(f"--model {model!r} is a file; give the model's folder (config.json, weights, tokenizer).")
    if model.startswith(("/", ".", "~")) or model.count("/") > 1 or os.sep in model.replace("/", ""):
        # Hub ids are "name" or "namespace/name": this was meant as a folder, and asking the Hub only delays the error.
        raise FileNotFoundError(f"--model {model!r}: no such folder (nor a Hub repo id of the form 'namespace/name').")
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(model, revision=revision, allow_patterns=["*.json", "*.py", "*.safetensors", "*.txt", "*.model"])
    except Exception as err:
        raise FileNotFoundError(
            f"--model {model!r} is neither a local folder nor a Hub repo that could be downloaded ({err})."
        ) from err


def check_model_folder(folder: str) -> dict:
    """What a folder needs before anything is loaded: a readable `config.json` (returned as a dict),
    weights, a tokenizer, and no remote code from outside it. Raises `ExportError` (`RemoteCodeError`
    for the code) naming the file or field at fault. Whether the weights hold a trained head is
    checked when they are loaded (`load_model`)."""
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        raise ExportError(f"{path} is missing: is {folder} a model folder written by save_pretrained / train.py?")
    try:
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
    except json.JSONDecodeError as error:
        raise ExportError(f"{path}: line {error.lineno}, column {error.colno}: invalid JSON ({error.msg}).") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ExportError(f"{path} cannot be read ({error}).") from None
    if not isinstance(config, dict) or "model_type" not in config:
        raise ExportError(f"{path}: not a transformers model config (a JSON object with a model_type field).")
    if not any(os.path.isfile(os.path.join(folder, name)) for name in WEIGHT_FILES):
        raise ExportError(f"{folder} has no model weights ({', '.join(WEIGHT_FILES)}).")
    if not any(os.path.isfile(os.path.join(folder, name)) for name in TOKENIZER_FILES):
        raise ExportError(
            f"{folder} has no tokenizer ({', '.join(TOKENIZER_FILES)}); the export folder needs one to serve the "
            "model. Save it beside the model with tokenizer.save_pretrained(folder)."
        )
    # Exporting runs only labelwise's installed classes and transformers' own: nothing from the folder.
    remote_code.check_trust(folder, config, trust_remote_code=False, folder=folder)
    return config


def encoder_supports_sdpa(config) -> bool:
    """Whether the encoder class a config builds (labelwise's `config.encoder`, else the config's own model)
    has an sdpa attention path."""
    encoder_config = getattr(config, "encoder", None) or config
    encoder_class = MODEL_MAPPING.get(type(encoder_config), None)
    return bool(getattr(encoder_class, "_supports_sdpa", False))


def load_model(folder: str, attn_implementation: str = "sdpa"):
    """Load the model in `folder` with the Auto class its `config.json` architecture needs, in eval mode.

    labelwise's and transformers' installed classes only (`trust_remote_code=False`). Raises `ExportError`
    when a weight of the model is not in the folder (e.g. a plain encoder with no trained head), since
    the export would hold a randomly initialised one.
    """
    import labelwise.modeling  # noqa: F401  (registers the labelwise architectures with the Auto classes)

    config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
    architectures = getattr(config, "architectures", None) or []
    auto = (
        AutoModelForTokenClassification
        if any(name.endswith("ForTokenClassification") for name in architectures)
        else AutoModelForSequenceClassification
    )
    if attn_implementation == "sdpa" and not encoder_supports_sdpa(config):
        attn_implementation = "eager"  # DeBERTa-v2, for one: no sdpa path; eager exports the same function
    model, info = auto.from_pretrained(
        folder, trust_remote_code=False, attn_implementation=attn_implementation, output_loading_info=True
    )
    missing = sorted(info.get("missing_keys") or [])
    if missing:
        shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
        raise ExportError(
            f"{folder}: the weights lack {len(missing)} tensor(s) of {type(model).__name__} ({shown}); they would be "
            "exported with random values. Is the head trained? Export a folder saved after training (train.py's "
            "output) whose weights hold the classifier."
        )
    return model.eval()


def example_inputs(config, batch: int, length: int, seed: int) -> dict[str, torch.Tensor]:
    """Random `(batch, length)` inputs; every row but the first is padded from a random point, so the
    masks are exercised. Ids avoid the first 5 (special tokens in BERT vocabularies)."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, config.vocab_size, (batch, length), generator=generator)
    attention_mask = torch.ones(batch, length, dtype=torch.long)
    for row in range(1, batch):
        keep = int(torch.randint(2, length, (1,), generator=generator))
        attention_mask[row, keep:] = 0
        input_ids[row, keep:] = config.pad_token_id or 0
    return {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": torch.zeros_like(input_ids)}


def export_graph(spec: GraphSpec, config, path: str, options: ExportOptions) -> None:
    """Write `spec.module` to `path` with dynamic batch and sequence axes."""
    import onnxscript.optimizer  # the `onnx` extra: imported when exporting, as onnxruntime is

    example = example_inputs(config, options.trace_batch, options.trace_length, options.seed)
    batch = torch.export.Dim("batch", min=1, max=4096)
    sequence = torch.export.Dim("sequence", min=1, max=config.max_position_embeddings)
    dynamic = {name: {0: batch, 1: sequence} for name in INPUT_NAMES}
    kwargs = {"opset_version": options.opset} if options.opset else {}
    program = torch.onnx.export(
        spec.module,
        tuple(example[name] for name in INPUT_NAMES),
        dynamo=True,
        input_names=list(INPUT_NAMES),
        output_names=spec.output_names,
        dynamic_shapes=dynamic,
        optimize=False,
        verbose=False,
        **kwargs,
    )
    # torch's `optimize=True` is this constant folding and clean-up, then onnxscript's opset-23 fusions.
    # Those fusions are left out: the RotaryEmbedding one (onnxscript 0.7) hands the node cos/sin caches
    # of batch 1 (rotary encoders compute them from `(1, sequence)` position ids), and ONNX Runtime
    # refuses such a node for any batch > 1 (docs/EXPORT.md, "Rotary encoders"). The other fusions
    # (RMSNorm, grouped-query attention) match nothing in the encoders labelwise exports.
    onnxscript.optimizer.optimize_ir(program.model)
    program.save(path)


def quantize_int8(source: str, target: str, per_channel: bool = True, reduce_range: bool = True) -> None:
    """ONNX Runtime dynamic quantization: int8 weights for MatMul/Gemm with a constant weight matrix.

    Activation-by-activation products (attention scores) stay float (`MatMulConstBOnly`): quantizing
    both sides of those costs accuracy for little speed. `reduce_range`: 7-bit weights, which cannot
    saturate the int16 sums of x86 CPUs without VNNI (`ExportOptions.reduce_range`).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as scratch:
        prepared = os.path.join(scratch, "prepared.onnx")
        # Shape inference and graph cleanup first, as the quantization tool recommends.
        quant_pre_process(source, prepared, skip_symbolic_shape=True)
        quantize_dynamic(
            prepared,
            target,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            reduce_range=reduce_range,
            op_types_to_quantize=["MatMul", "Gemm"],
            extra_options={"MatMulConstBOnly": True},
        )


def torch_outputs(spec: GraphSpec, inputs: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    with torch.no_grad():
        values = spec.module(*(inputs[name] for name in INPUT_NAMES))
    return {name: value.float().numpy() for name, value in zip(spec.output_names, values)}


def parity(spec: GraphSpec, path: str, inputs: dict[str, torch.Tensor]) -> dict[str, float]:
    """Max |ONNX Runtime - PyTorch| of every output on `inputs`."""
    import onnxruntime as ort

    session = ort.InferenceSession(path, serving.session_options(), providers=["CPUExecutionProvider"])
    got = session.run(spec.output_names, {name: inputs[name].numpy() for name in INPUT_NAMES})
    expected = torch_outputs(spec, inputs)
    return {name: float(np.abs(value - expected[name]).max()) for name, value in zip(spec.output_names, got)}


SUPPORT_GLOBS = ("config.json", "*.py", "training_summary.json", "README.md")


def copy_support_files(source: str, output: str, kind: str) -> list[str]:
    """Config, remote code, tokenizer and training summary beside the graphs; the serving module as
    `onnx_serving.py`. Returns the copied file names."""
    copied = []
    for pattern in SUPPORT_GLOBS:
        for path in sorted(Path(source).glob(pattern)):
            if path.name in ("handler.py", SERVING_FILE, remote_code.COPY_NAME):
                continue
            target = Path(output) / ("MODEL_README.md" if path.name == "README.md" else path.name)
            shutil.copyfile(path, target)
            copied.append(target.name)
    # onnx_serving.py's copy of the remote-code rules, for folders served where labelwise is not installed.
    shutil.copyfile(remote_code.__file__, Path(output) / remote_code.COPY_NAME)
    copied.append(remote_code.COPY_NAME)
    # The kind's remote code and pipeline must be there for serving, also when the model was saved without them.
    import labelwise.modeling as package

    modeling_dir = Path(package.__file__).parent
    for name in saved_kinds.remote_code_files(kind, str(modeling_dir)):
        if not (Path(output) / name).exists():
            shutil.copyfile(modeling_dir / name, Path(output) / name)
            copied.append(name)
    AutoTokenizer.from_pretrained(source).save_pretrained(output)
    shutil.copyfile(serving.__file__, Path(output) / SERVING_FILE)
    shutil.copyfile(saved_kinds.__file__, Path(output) / SAVED_KINDS_FILE)  # the serving module's table
    return copied + ["tokenizer", SERVING_FILE, SAVED_KINDS_FILE]


def export_model(model: str, output: str, options: ExportOptions | None = None, revision: str | None = None) -> dict:
    """Export `model` (folder or Hub id) to `output`; returns the manifest written as `onnx_export.json`.

    Raises:
        ExportError: the folder is not an exportable classifier (`check_model_folder`, `load_model`), or
            `output` is a file.
        RemoteCodeError: a config names code from outside the folder (`labelwise.remote_code`).
        ValueError: an fp32 output differs from PyTorch by more than `options.tolerance`.
    """
    options = options or ExportOptions()
    started = time.time()
    if os.path.exists(output) and not os.path.isdir(output):
        raise ExportError(f"--output {output!r} is a file; give a folder (it is created if missing).")
    folder = resolve_model_folder(model, revision)
    check_model_folder(folder)
    loaded = load_model(folder, options.attn_implementation)
    if getattr(loaded.config, "max_document_length", None) is not None:
        # The graphs take one encoder window per row; splitting documents into segments is not in them.
        raise ValueError(
            f"{folder}/config.json: max_document_length={loaded.config.max_document_length} (long documents read in "
            "segments) cannot be exported to ONNX. Export a copy with max_document_length set to null in config.json "
            "(documents are then truncated at the encoder's length), or serve this model with PyTorch."
        )
    spec = build_graph(loaded)
    os.makedirs(output, exist_ok=True)
    fp32_path = os.path.join(output, FP32_FILE)
    export_graph(spec, loaded.config, fp32_path, options)

    check = example_inputs(loaded.config, options.check_batch, min(options.check_length, loaded.config.max_position_embeddings), options.seed + 1)
    report = {"fp32": parity(spec, fp32_path, check)}
    worst = max(report["fp32"].values())
    if worst > options.tolerance:
        raise ValueError(
            f"{fp32_path}: ONNX Runtime differs from PyTorch by {worst:.2e} (per output: {report['fp32']}), "
            f"above the tolerance {options.tolerance:.0e}; try --attn_implementation eager or another --opset."
        )
    files = {"fp32": FP32_FILE}
    if options.quantize == "int8":
        int8_path = os.path.join(output, INT8_FILE)
        quantize_int8(fp32_path, int8_path, options.per_channel, options.reduce_range)
        report["int8"] = parity(spec, int8_path, check)
        files["int8"] = INT8_FILE
    copied = copy_support_files(folder, output, spec.kind)

    import onnxruntime
    import transformers

    manifest = {
        "format": 1,
        "kind": spec.kind,
        "source": model,
        "files": files,
        "inputs": {name: ["batch", "sequence"] for name in INPUT_NAMES},
        "outputs": {name: spec.output_axes.get(name, {}) for name in spec.output_names},
        "exporter": "torch.onnx.export(dynamo=True)",
        "attn_implementation": options.attn_implementation,
        "opset": options.opset,
        "quantization": {"method": "onnxruntime dynamic", "weights": "int8", "per_channel": options.per_channel,
                         "reduce_range": options.reduce_range}
        if options.quantize
        else None,
        "max_abs_diff_vs_pytorch": report,
        "check_inputs": [options.check_batch, check["input_ids"].shape[1]],
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "onnxruntime": onnxruntime.__version__},
        "support_files": copied,
        "seconds": round(time.time() - started, 1),
    }
    with open(os.path.join(output, serving.MANIFEST), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2)
    return manifest
