"""ONNX export and ONNX Runtime serving of every labelwise model kind (`python -m labelwise.export`).

- `export_model(model, output, ExportOptions(quantize="int8"))`: graph(s), config, tokenizer, remote
  code and `onnx_serving.py` in `output`, parity with PyTorch checked (docs/EXPORT.md).
- `onnx_pipeline(output)`: the kind's usual pipeline running on ONNX Runtime.
- `OnnxModel(output)`: the graph as a callable with the PyTorch model's interface.
"""

from labelwise.export.exporter import ExportOptions, export_model
from labelwise.export.graphs import KINDS, LAME_HEAD_OPTIONS, GraphSpec, build_graph, model_kind
from labelwise.export.serving import OnnxModel, onnx_pipeline

__all__ = [
    "ExportOptions",
    "export_model",
    "KINDS",
    "LAME_HEAD_OPTIONS",
    "GraphSpec",
    "build_graph",
    "model_kind",
    "OnnxModel",
    "onnx_pipeline",
]
