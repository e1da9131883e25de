"""Which code a saved model's config files make transformers run, and when labelwise refuses to run it.

The rules, for every path that loads a model labelwise did not just train (the demo and viewer, the
endpoint handler, ONNX serving, `push_to_hub.py`, the ONNX exporter):

1. Code from another repository is never run, not even with `trust_remote_code=True`: an `auto_map`
   or `custom_pipelines` entry `"org/repo--module.Class"` makes transformers download and import
   `module.py` from a repository the model's owner does not control. Entries that are not a
   `"module.Class"` at the top of the model's own folder (a path, a package) are refused too, as is
   a config file that cannot be read, since its entries cannot be checked.
2. The model's own code (its `auto_map` / `custom_pipelines` files) runs only with
   `trust_remote_code=True`. Without it, classes installed on this machine serve the model
   (labelwise's LAME and layer-wise classes, transformers' built-in ones); a model that has none
   raises `RemoteCodeError` naming the entries and the flag.

Standard library only (transformers is imported inside `installed_classes_serve`): the handler
(`handler.py` of a pushed repo), ONNX serving (`onnx_serving.py` of an export folder) and the demo
of a Space run where labelwise is not installed, so `push_to_hub.py`, the exporter and
`labelwise.analysis.space` copy this file next to them as `labelwise_remote_code.py`.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

__all__ = [
    "COPY_NAME",
    "REMOTE_CODE_CONFIG_FILES",
    "RemoteCodeError",
    "check_trust",
    "code_references",
    "config_problems",
    "foreign_code_references",
    "installed_classes_serve",
    "remote_code_entries",
]

COPY_NAME = "labelwise_remote_code.py"
"""The name this file has where it is copied next to code that runs without labelwise."""

REMOTE_CODE_CONFIG_FILES = ("config.json", "tokenizer_config.json", "preprocessor_config.json", "processor_config.json")
"""Files whose `auto_map` (or `custom_pipelines`) tells transformers which code to run."""

_OWN_MODULE_CLASS = re.compile(r"[A-Za-z_]\w*\.[A-Za-z_]\w*")


class RemoteCodeError(ValueError):
    """The model needs code it ships and `trust_remote_code` was not given, or it names code from elsewhere."""


def code_references(config: dict) -> list[tuple[str, Any]]:
    """Every class a config dict asks transformers to load as code: `(field, "module.Class" reference)`.

    `auto_map` values are one reference or a list (a tokenizer's slow and fast classes, `None` for
    a missing one); `custom_pipelines[task]["impl"]` names a pipeline class.
    """
    found: list[tuple[str, Any]] = []
    auto_map = config.get("auto_map") or {}
    for auto_class, reference in auto_map.items() if isinstance(auto_map, dict) else []:
        for item in reference if isinstance(reference, list) else [reference]:
            if item is not None:
                found.append((f'auto_map["{auto_class}"]', item))
    pipelines = config.get("custom_pipelines") or {}
    for task, spec in pipelines.items() if isinstance(pipelines, dict) else []:
        impl = spec.get("impl") if isinstance(spec, dict) else spec
        if impl is not None:
            found.append((f'custom_pipelines["{task}"]["impl"]', impl))
    return found


def config_problems(config: Any, where: str) -> list[str]:
    """The entries of one config dict that would run code from outside the model's folder (rule 1),
    as readable lines starting with `where` (the file's path or name)."""
    if not isinstance(config, dict):
        return []
    problems = []
    for field, reference in code_references(config):
        if not isinstance(reference, str):
            problems.append(f"{where}: {field} = {reference!r} is not a \"module.Class\" name")
        elif "--" in reference:
            problems.append(f"{where}: {field} = {reference!r} points outside this repository (code from another repository)")
        elif not _OWN_MODULE_CLASS.fullmatch(reference):
            # e.g. "../x.Class" or "pkg.sub.Class": not a file at the top of this repository.
            problems.append(f"{where}: {field} = {reference!r} is not a \"module.Class\" of this repository")
    return problems


def foreign_code_references(folder: str | os.PathLike) -> list[str]:
    """`config_problems` of every config file in `folder` (`REMOTE_CODE_CONFIG_FILES`), plus a line for
    each of them that cannot be read as JSON (its entries cannot be checked)."""
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
        problems += config_problems(config, path)
    return problems


def remote_code_entries(config: dict[str, Any]) -> list[str]:
    """The config.json entries that name code shipped with the model, one readable line per entry."""
    entries = [f"auto_map[{key!r}] = {value!r}" for key, value in (config.get("auto_map") or {}).items()]
    entries += [
        f"custom_pipelines[{task!r}] = {(spec or {}).get('impl') if isinstance(spec, dict) else spec!r}"
        for task, spec in (config.get("custom_pipelines") or {}).items()
    ]
    return entries


def installed_classes_serve(config: dict[str, Any]) -> bool:
    """Whether an installed library (labelwise's modeling package, or transformers) has this model's classes."""
    try:
        import labelwise.modeling  # noqa: F401  (registers LAME and layer-wise with the Auto classes)
    except ImportError:  # on an endpoint, in a Space or an export folder without labelwise
        pass
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    return config.get("model_type") in CONFIG_MAPPING


def check_trust(
    model: str, config: dict[str, Any], trust_remote_code: bool, folder: str | os.PathLike | None = None
) -> None:
    """Raise `RemoteCodeError` when loading `model` would break the rules of the module docstring.

    Args:
        model: how the user named the model (folder or Hub id), for the message.
        config: its config.json as a dict.
        trust_remote_code: the user's opt-in to run the model's own code.
        folder: the local folder, when there is one: all its config files are checked, not only `config`.
    """
    problems = foreign_code_references(folder) if folder is not None else config_problems(config, "config.json")
    if problems:
        raise RemoteCodeError(
            f"{model}: its config points at code in another repository or outside the model's folder "
            f"({'; '.join(problems)}); labelwise does not run it, even with --trust_remote_code "
            "(trust_remote_code=True). Load that repository itself if you trust its code, or point the entries "
            'at modules in the model\'s folder ("module.Class").'
        )
    entries = remote_code_entries(config)
    if trust_remote_code or not entries or installed_classes_serve(config):
        return
    raise RemoteCodeError(
        f"{model}: config.json asks to run code shipped with the model ({'; '.join(entries)}), and no installed "
        f"library has classes for model_type {config.get('model_type')!r}. Running it means running that code on "
        "this machine: read it first, then pass --trust_remote_code (Python: trust_remote_code=True)."
    )
