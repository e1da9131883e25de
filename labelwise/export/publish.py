"""The ONNX part of `push_to_hub.py --include_onnx`: export into the repo's `onnx/` folder, and the card section.

Kept apart from `labelwise.publishing` so the publishing code only calls `onnx_upload(folder, repo_id)`.
"""

from __future__ import annotations

import tempfile
from importlib import resources
from pathlib import Path

from labelwise.export.exporter import ExportOptions, export_model
from labelwise.remote_code import RemoteCodeError, foreign_code_references
from labelwise.saved_kinds import SAVED_KINDS

ONNX_FOLDER = "onnx"
CARD_SECTION_TEMPLATE = "_onnx_section.md"
REQUIREMENTS = "onnxruntime>=1.23,<2\nnumpy\n"
"""Added to the endpoint's requirements.txt so handler.py can serve the ONNX graph."""

PIPELINE_NOTES = {name: f": {kind.outputs}" for name, kind in SAVED_KINDS.items()}


def onnx_card_section(manifest: dict, repo_id: str, folder: str = ONNX_FOLDER, example: str | None = None) -> str:
    """The model-card section that says what the ONNX files are and how to run them."""
    template = (resources.files("labelwise.model_cards") / CARD_SECTION_TEMPLATE).read_text(encoding="utf-8")
    parity = manifest["max_abs_diff_vs_pytorch"]
    int8_note = ""
    if "int8" in parity:
        int8_note = (
            f"; the int8 graph (dynamic quantization) differed by up to {max(parity['int8'].values()):.1e} on the "
            "same random inputs: check its effect on your metric before serving it"
        )
    return template.format(
        folder=folder,
        kind=manifest["kind"],
        files="`, `".join(manifest["files"].values()),
        fp32_file=manifest["files"]["fp32"],
        fp32_diff=max(parity["fp32"].values()),
        int8_note=int8_note,
        outputs=", ".join(f"`{name}`" for name in manifest["outputs"]),
        pipeline_note=PIPELINE_NOTES.get(manifest["kind"], ""),
        repo_id=repo_id,
        name=repo_id.rsplit("/", 1)[-1],
        example=(example or "A text to classify.").replace('"', "'"),
    )


def onnx_upload(folder: str | Path, repo_id: str, quantize: str | None = "int8", example: str | None = None):
    """Export `folder` and return `(files, card_section)`: `files` maps each path in the repo
    (under `onnx/`) to the file's bytes."""
    with tempfile.TemporaryDirectory() as staging:
        manifest = export_model(str(folder), staging, ExportOptions(quantize=quantize))
        # The endpoint serves onnx/ by default on CPU: its configs follow the same rules as the model's
        # (the exporter refused such a source already; this checks what is actually uploaded).
        foreign = foreign_code_references(staging)
        if foreign:
            raise RemoteCodeError(f"Refusing to publish the ONNX export of {folder}: " + "; ".join(foreign) + ".")
        files = {
            f"{ONNX_FOLDER}/{path.relative_to(staging).as_posix()}": path.read_bytes()
            for path in sorted(Path(staging).rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts
        }
    return files, onnx_card_section(manifest, repo_id, example=example)
