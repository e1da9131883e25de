"""Write a trained model as a Hub-ready folder, the same way for every kind.

`save_model_folder` saves the model (through its custom pipeline when the kind has one, so the
pipeline file and `custom_pipelines` travel with the checkpoint), the tokenizer with only what a
user of the tokenizer needs, and gives every file the same permissions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

TOKENIZER_CONFIG = "tokenizer_config.json"
TOKENIZER_FILE = "tokenizer.json"

LOADER_KEYS = ("is_local", "local_files_only", "name_or_path", "_commit_hash")
"""How the training run happened to load the tokenizer: meaningless on another machine."""

CALL_KEYS = ("max_length", "stride", "truncation_strategy", "pad_to_multiple_of")
"""Per-call encoding arguments (the backbone's `tokenizer.json` truncation of 128 shows up as
`max_length`): a user passes them when encoding; saved, they read as a limit of the model.
`model_max_length` (the position limit) stays."""


def save_model_folder(folder: str | os.PathLike, model, tokenizer, pipeline_task: str | None = None) -> None:
    """Save `model` and `tokenizer` into `folder` (see the module docstring).

    Args:
        pipeline_task: the custom pipeline task to save through (`ModelKind.saved.pipeline_task`, from `labelwise.saved_kinds`), or None
            for `model.save_pretrained` + `tokenizer.save_pretrained`.
    """
    if pipeline_task is not None:
        from transformers import pipeline

        import labelwise.modeling  # noqa: F401  (registers the custom pipeline tasks)

        pipeline(pipeline_task, model=model, tokenizer=tokenizer).save_pretrained(str(folder))
    else:
        model.save_pretrained(str(folder))
        tokenizer.save_pretrained(str(folder))
    clean_tokenizer_files(folder)
    even_permissions(folder)


def clean_tokenizer_files(folder: str | os.PathLike) -> None:
    """Drop loader and per-call keys from `tokenizer_config.json`, and the fixed truncation and
    padding from `tokenizer.json`, which would otherwise cut or pad every text a user encodes."""
    folder = Path(folder)
    config_path = folder / TOKENIZER_CONFIG
    if config_path.is_file():
        config = json.loads(config_path.read_text(encoding="utf-8"))
        kept = {key: value for key, value in config.items() if key not in LOADER_KEYS + CALL_KEYS}
        if kept != config:
            config_path.write_text(json.dumps(kept, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tokenizer_path = folder / TOKENIZER_FILE
    if tokenizer_path.is_file():
        data = json.loads(tokenizer_path.read_text(encoding="utf-8"))
        if data.get("truncation") is not None or data.get("padding") is not None:
            data["truncation"] = data["padding"] = None
            tokenizer_path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


def even_permissions(folder: str | os.PathLike) -> None:
    """Give every file in `folder` the mode a plain `open()` would (0644 under umask 022).

    safetensors writes `model.safetensors` through a private temporary file (mode 0600), so the
    weights alone would be unreadable for the other users of a shared machine or a served folder.
    """
    umask = os.umask(0)
    os.umask(umask)
    for path in Path(folder).rglob("*"):
        if path.is_file():
            path.chmod(0o666 & ~umask)
