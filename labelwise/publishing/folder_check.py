"""Can a trained folder be published, and what would be sent? (`check_folder`; no network.)

Checked before anything is sent: safetensors weights only, config.json, the remote code its
`auto_map` / `custom_pipelines` name (present, byte-identical to what labelwise ships, importing
only torch, transformers and sibling files), a tokenizer, a model card. Trainer checkpoints,
optimizer state, pickles and test predictions stay local.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from labelwise.publishing.handler import ONNX_FOLDER
from labelwise.publishing.model_card import CARD_FILE, SUMMARY_FILE, load_training_summary, write_model_card
from labelwise.remote_code import code_references, foreign_code_references
from labelwise.saved_kinds import SAVED_KINDS

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib")
# Trainer's run state: useful to resume a run, useless (and large) for someone using the model.
TRAINING_STATE = ("optimizer.", "scheduler.", "rng_state", "training_args.", "trainer_state.json", "scaler.")
TOKENIZER_FILES = ("tokenizer_config.json",)
# Models whose explanations come from their own pipeline, which should travel with the checkpoint.
PIPELINE_FILES = {kind.model_type: kind.pipeline_file for kind in SAVED_KINDS.values() if kind.pipeline_file}


class FolderError(ValueError):
    """The folder cannot be published as it is; the message says which file or field is at fault."""


@dataclass
class UploadPlan:
    """What `push_folder` would send, worked out from the folder alone (no network)."""

    folder: Path
    files: list[str] = field(default_factory=list)  # paths relative to the folder, POSIX style
    skipped: dict[str, str] = field(default_factory=dict)  # relative path -> why it stays local
    config: dict = field(default_factory=dict)
    remote_code: list[str] = field(default_factory=list)
    card_written: bool = False  # README.md was missing and has been generated
    warnings: list[str] = field(default_factory=list)  # publishable, but worth fixing


def _skip_reason(relative: str) -> str | None:
    parts = relative.split("/")
    name = parts[-1]
    if any(part.startswith(".") for part in parts):
        return "hidden file"
    if any(part.startswith("checkpoint-") for part in parts[:-1]):
        return "Trainer checkpoint (resume state, not the published model)"
    if parts[0] in ("runs", "__pycache__", "wandb") or name.endswith(".pyc"):
        return "training logs / caches"
    if name.startswith(TRAINING_STATE):
        return "training state (optimizer, scheduler, RNG, Trainer arguments)"
    if name.endswith(PICKLE_SUFFIXES):
        return "pickle file: labelwise publishes safetensors only (pickles can run code when loaded)"
    if relative == "test_predictions.jsonl":
        # train.py's predictions file: NER rows quote the test sentences, which a corpus licence
        # (n2c2, MIMIC-III) may forbid publishing. Upload it yourself where the licence allows.
        return "test predictions (NER rows quote the corpus's sentences; not published)"
    return None


def _read_config(folder: Path) -> dict:
    path = folder / "config.json"
    if not path.is_file():
        raise FolderError(f"{path} is missing: is {folder} a folder written by save_pretrained / train.py?")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise FolderError(f"{path}: line {err.lineno}, column {err.colno}: invalid JSON ({err.msg}).") from err
    if not isinstance(config, dict):
        raise FolderError(f"{path}: expected a JSON object.")
    return config


def _referenced_modules(folder: Path, config: dict) -> dict[str, str]:
    """Local remote-code modules named by config.json -> the config field that names them.

    Raises `FolderError` for an entry that runs code from another repository
    ("org/repo--module.Class") in config.json or the tokenizer's config: the published repo would
    make its users run code its owner does not control.
    """
    # An onnx/ folder already in the model folder is published too, and the endpoint handler serves it.
    foreign = foreign_code_references(folder) + foreign_code_references(folder / ONNX_FOLDER)
    if foreign:
        raise FolderError(
            "Refusing to publish remote code from another repository: "
            + "; ".join(foreign)
            + '. Point each entry at a module in this folder ("module.Class"), e.g. by saving the model '
            "again with save_pretrained."
        )
    modules: dict[str, str] = {}
    for where, reference in code_references(config):
        modules.setdefault(reference.rsplit(".", 1)[0], f"{where} = {reference!r}")
    return modules


def shipped_remote_code() -> dict[str, Path]:
    """The remote-code files this labelwise installation ships (`labelwise.modeling`), by file name."""
    import labelwise.modeling

    folder = Path(labelwise.modeling.__file__).parent
    return {path.name: path for path in sorted(folder.glob("*.py")) if path.name != "__init__.py"}


def _check_shipped(folder: Path, names: list[str], allow_custom_code: bool, warnings: list[str]) -> None:
    """Every remote-code file must be byte-identical to the one labelwise ships (custom code: a warning)."""
    from labelwise import __version__

    shipped = shipped_remote_code()
    for name in names:
        if name not in shipped:
            problem = (
                f"{folder / name} is remote code that labelwise does not ship (labelwise ships "
                f"{', '.join(shipped)}); Hub users running this repo would run it"
            )
        elif (folder / name).read_bytes() != shipped[name].read_bytes():
            problem = (
                f"{folder / name} differs from the {name} labelwise {__version__} ships ({shipped[name]}); "
                "save the model again with this labelwise (it copies its own files), or review the changes"
            )
        else:
            continue
        if not allow_custom_code:
            raise FolderError(f"{problem}. Pass --allow_custom_code to publish it anyway.")
        warnings.append(f"{problem} (published because of --allow_custom_code).")


def _check_remote_code(folder: Path, config: dict) -> list[str]:
    """Check every remote-code file config.json needs is present and loadable without labelwise."""
    pending = _referenced_modules(folder, config)
    checked: list[str] = []
    while pending:
        module, where = pending.popitem()
        if module in checked:
            continue
        path = folder / f"{module}.py"
        if not path.is_file():
            raise FolderError(
                f"{folder / 'config.json'}: {where} needs {path.name} in {folder}, which is missing. "
                "save_pretrained copies it when the classes are registered with register_for_auto_class()."
            )
        checked.append(module)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if re.match(r"\s*(from|import)\s+labelwise\b", line):
                raise FolderError(
                    f"{path}:{number}: remote code imports labelwise ({line.strip()!r}); Hub users do not "
                    "have the package, so remote code may import only torch, transformers and sibling files."
                )
            sibling = re.match(r"\s*from\s+\.(\w+)\s+import\b", line)
            if sibling and sibling.group(1) not in checked:
                pending.setdefault(sibling.group(1), f"{path.name}:{number} ({line.strip()})")
    return sorted(f"{module}.py" for module in checked)


def check_folder(folder: str | os.PathLike, *, write_card: bool = True, allow_custom_code: bool = False) -> UploadPlan:
    """Check that `folder` can be published and list what would be uploaded.

    Raises `FolderError` naming the file or field at fault: among others, for config entries that
    run another repository's code, and for remote-code files that are not byte-identical to the
    ones labelwise ships (unless `allow_custom_code`, which turns the latter into a warning). With
    `write_card=True` a missing README.md is generated from training_summary.json (the only change
    made to the folder).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FolderError(f"{folder} is not a folder.")
    plan = UploadPlan(folder=folder, config=_read_config(folder))
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        reason = _skip_reason(relative)
        if reason:
            plan.skipped[relative] = reason
        else:
            plan.files.append(relative)

    weights = [name for name in plan.files if name.endswith(".safetensors")]
    if not weights:
        pickles = [name for name, why in plan.skipped.items() if name.endswith(PICKLE_SUFFIXES) and "/" not in name]
        if pickles:
            raise FolderError(
                f"{folder} holds its weights only as pickle files ({', '.join(pickles)}); labelwise publishes "
                "safetensors only. Load the model and save it again: model.save_pretrained(folder) writes "
                "model.safetensors."
            )
        raise FolderError(f"{folder} has no model weights (*.safetensors).")
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = set(json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}).values())
        missing = sorted(shard for shard in shards if shard not in plan.files)
        if missing:
            raise FolderError(f"{index} names shards that are not in the folder: {', '.join(missing)}.")

    plan.remote_code = _check_remote_code(folder, plan.config)
    _check_shipped(folder, plan.remote_code, allow_custom_code, plan.warnings)
    pipeline_file = PIPELINE_FILES.get(plan.config.get("model_type"))
    if pipeline_file and not plan.config.get("custom_pipelines"):
        plan.warnings.append(
            f"{folder / 'config.json'} names no custom pipeline, so the repo will not ship {pipeline_file} and "
            "`pipeline(model=repo, trust_remote_code=True)` will not find it; save the folder through the "
            "pipeline (`pipeline(<task>, model=model, tokenizer=tokenizer).save_pretrained(folder)`)."
        )
    if not any(name in plan.files for name in TOKENIZER_FILES):
        raise FolderError(
            f"{folder} has no tokenizer (tokenizer_config.json): pipelines, the handler and the card's code "
            "need one. Save it next to the model with tokenizer.save_pretrained(folder)."
        )
    if CARD_FILE not in plan.files:
        if not (folder / SUMMARY_FILE).is_file():
            raise FolderError(
                f"{folder} has neither a {CARD_FILE} nor the {SUMMARY_FILE} train.py writes to build one; "
                f"add one of them."
            )
        if write_card:
            write_model_card(folder)
            plan.files.append(CARD_FILE)
            plan.card_written = True
        else:
            load_training_summary(folder)  # at least check it would build
    return plan
