"""Publish a trained labelwise folder to the Hugging Face Hub (the code behind `push_to_hub.py`).

    python push_to_hub.py outputs/lame-hoc --repo_id my-name/lame-hoc [--private] [--revision dev]

The folder is checked before anything is sent (safetensors weights only, config.json, the remote
code its `auto_map` / `custom_pipelines` name, a tokenizer, a model card), then everything goes up
in one commit: the folder's files (never Trainer checkpoints, optimizer state or pickles), the model
card with the repo id filled in, and the Inference Endpoints `handler.py`.

The token comes from the `token` argument, `HF_TOKEN` or `hf auth login`; it is only ever handed
to `huggingface_hub`, never printed, logged or written.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi, get_token
from huggingface_hub.errors import HfHubHTTPError

from labelwise.cli_errors import cli_main
from labelwise.publishing.handler import ONNX_FOLDER
from labelwise.publishing.handler import SUPPORT_FILES as HANDLER_SUPPORT_FILES
from labelwise.publishing.model_card import CARD_FILE, SUMMARY_FILE, card_for_repo, load_training_summary, write_model_card
from labelwise.remote_code import code_references, foreign_code_references
from labelwise.saved_kinds import SAVED_KINDS

logger = logging.getLogger(__name__)

HANDLER_TEMPLATE = Path(__file__).with_name("handler.py")
HANDLER_FILE = "handler.py"
HANDLER_REQUIREMENTS_FILE = "requirements.txt"
DEMO_FOLDER = "space"

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib")
# Trainer's run state: useful to resume a run, useless (and large) for someone using the model.
TRAINING_STATE = ("optimizer.", "scheduler.", "rng_state", "training_args.", "trainer_state.json", "scaler.")
TOKENIZER_FILES = ("tokenizer_config.json",)
# Models whose explanations come from their own pipeline, which should travel with the checkpoint.
PIPELINE_FILES = {kind.model_type: kind.pipeline_file for kind in SAVED_KINDS.values() if kind.pipeline_file}


class FolderError(ValueError):
    """The folder cannot be published as it is; the message says which file or field is at fault."""


class PushError(RuntimeError):
    """The Hub refused or failed a step of the upload; the local folder is left as it was."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


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


def handler_files() -> dict[str, bytes]:
    """`handler.py` and the standard-library files it loads from beside itself on an endpoint
    (`labelwise.publishing.handler.SUPPORT_FILES`), by their names in the repo."""
    import importlib

    files = {HANDLER_FILE: HANDLER_TEMPLATE.read_bytes()}
    for name, module in HANDLER_SUPPORT_FILES.items():
        files[name] = Path(importlib.import_module(module).__file__).read_bytes()
    return files


def handler_requirements() -> str:
    """requirements.txt for Inference Endpoints: the transformers major version the remote code was saved with.

    Endpoints install it before importing handler.py; the remote code uses the transformers 5 API,
    which an endpoint image with an older transformers would not have.
    """
    import safetensors
    import transformers

    major = int(transformers.__version__.split(".")[0])
    safetensors_minor = ".".join(safetensors.__version__.split(".")[:2])
    return f"transformers>={major}.0,<{major + 1}\nsafetensors>={safetensors_minor}\n"


def _onnx_requirements(include_onnx: bool) -> str:
    if not include_onnx:
        return ""
    from labelwise.export.publish import REQUIREMENTS

    return REQUIREMENTS


def _demo_operations(folder: Path, repo_id: str) -> list[CommitOperationAdd]:
    """The Gradio Space files for `repo_id` (written by labelwise.analysis.space), under DEMO_FOLDER/."""
    from labelwise.analysis.space import write_space_files

    summary = load_training_summary(folder) if (folder / SUMMARY_FILE).is_file() else {}
    with tempfile.TemporaryDirectory() as staging:
        written = write_space_files(staging, repo_id, examples=summary.get("widget_examples") or None)
        return [
            CommitOperationAdd(path_in_repo=f"{DEMO_FOLDER}/{Path(path).name}", path_or_fileobj=Path(path).read_bytes())
            for path in written
        ]


def _status_of(error: BaseException) -> int | None:
    """HTTP status of the first HfHubHTTPError in the exception chain (LFS errors come wrapped)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, HfHubHTTPError) and error.response is not None:
            return error.response.status_code
        error = error.__cause__ or error.__context__
    return None


def _fail(step: str, repo_id: str, plan: UploadPlan, error: BaseException, token: str) -> PushError:
    status = _status_of(error)
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    server_message = getattr(error, "server_message", None)
    if server_message and server_message not in first_line:
        first_line += f" (the Hub said: {server_message.strip()})"
    folder = plan.folder
    unchanged = (
        f"{folder} is as it was, apart from the {CARD_FILE} written before the upload"
        if plan.card_written
        else f"nothing was changed in {folder}"
    )
    message = (
        f"Pushing {folder} to the Hub repo {repo_id} failed while {step}: "
        f"{f'HTTP {status}: ' if status else ''}{first_line}. The upload is all-or-nothing: {unchanged}."
    )
    # Defensive: error texts come from the server and libraries; a real token is never that short.
    if token and len(token) >= 8:
        message = message.replace(token, "***")
    return PushError(message, status=status)


def check_repo_id(repo_id: str) -> None:
    """Refuse a repo id the Hub client would refuse at the push (huggingface_hub's own rule), before
    anything is exported or sent, and in a dry run alike."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise ValueError(f"--repo_id {repo_id!r} is not a valid Hub repo id: {error}") from None


def push_folder(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
    token: str | None = None,
    include_handler: bool = True,
    include_demo: bool = False,
    allow_custom_code: bool = False,
    include_onnx: bool = False,
) -> str:
    """Publish a trained folder to the Hub repo `repo_id` in one commit; return the commit URL.

    Args:
        folder: the Hub-ready folder `train.py` wrote (see `check_folder` for what is required).
        repo_id: "namespace/name"; created if it does not exist (`private` applies at creation,
            and pushing with `private=True` into an existing public repo is refused).
        revision: branch to commit to, created from main if missing; default main.
        commit_message: default "Upload <model kind> model with labelwise".
        token: default `HF_TOKEN` or the token saved by `hf auth login`. Never printed or written.
        include_handler: add the Inference Endpoints `handler.py` (unless the folder has its own).
        include_demo: add a ready Gradio Space for the model in `space/` (app.py, the demo and
            viewer modules, requirements.txt, Space card; `labelwise.analysis.space`), and a
            "Demo Space" section to the pushed card saying how to launch it.
        allow_custom_code: publish remote-code files that differ from the ones labelwise ships
            (with a warning); code from another repository is refused regardless.
        include_onnx: export the model to ONNX (fp32 and int8, `labelwise.export`) into `onnx/`,
            add an "ONNX" section to the pushed card and onnxruntime to the handler's requirements.

    Raises:
        FolderError: the folder cannot be published (before anything is sent).
        ValueError: `repo_id` is not a valid Hub repo id, or `revision` is a commit id.
        PushError: a Hub request failed; the message names the repo, the step and the HTTP status.
    """
    folder = Path(folder)
    check_repo_id(repo_id)
    if revision is not None and re.fullmatch(r"[0-9a-f]{40}", revision):
        raise ValueError(f"revision={revision!r} is a commit id; commits go to a branch name.")
    plan = check_folder(folder, allow_custom_code=allow_custom_code)
    if plan.card_written:
        logger.info("Wrote the model card %s from %s.", folder / CARD_FILE, SUMMARY_FILE)
    for relative, reason in plan.skipped.items():
        logger.warning("Not uploading %s: %s.", relative, reason)
    for warning in plan.warnings:
        logger.warning("Warning: %s", warning)

    token = token if token is not None else get_token()
    if not token:
        raise PushError("No Hugging Face token: set HF_TOKEN or run `hf auth login` (a token with write access).")
    # HF_ENDPOINT is read when called (huggingface_hub reads it once, at import).
    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None)
    branch = revision or "main"

    onnx_files, onnx_section = {}, ""
    if include_onnx:  # exported before anything is sent: a model that does not export is not pushed half-way
        from labelwise.export.publish import onnx_upload

        onnx_files, onnx_section = onnx_upload(folder, repo_id)
    operations = []
    for relative in plan.files:
        if relative in onnx_files or (onnx_files and relative.startswith("onnx/")):
            continue  # a fresh export of these weights replaces an older onnx/ folder
        path = folder / relative
        if relative == CARD_FILE:
            text = card_for_repo(
                path.read_text(encoding="utf-8"),
                repo_id,
                include_handler=include_handler,
                demo_folder=DEMO_FOLDER if include_demo else None,
            ) + onnx_section
            operations.append(CommitOperationAdd(path_in_repo=relative, path_or_fileobj=text.encode("utf-8")))
        else:
            operations.append(CommitOperationAdd(path_in_repo=relative, path_or_fileobj=str(path)))
    if include_handler and HANDLER_FILE not in plan.files:
        operations += [
            CommitOperationAdd(path_in_repo=name, path_or_fileobj=data)
            for name, data in handler_files().items()
            if name not in plan.files  # e.g. pipeline_parameters.py, already there as the model's remote code
        ]
        if HANDLER_REQUIREMENTS_FILE not in plan.files:
            operations.append(
                CommitOperationAdd(
                    path_in_repo=HANDLER_REQUIREMENTS_FILE,
                    path_or_fileobj=(handler_requirements() + _onnx_requirements(include_onnx)).encode(),
                )
            )
    operations += [CommitOperationAdd(path_in_repo=path, path_or_fileobj=data) for path, data in onnx_files.items()]
    if include_demo:
        operations += _demo_operations(folder, repo_id)
    if commit_message is None:
        kind = load_training_summary(folder)["model_kind"] if (folder / SUMMARY_FILE).is_file() else "a"
        commit_message = f"Upload {kind} model with labelwise"

    step = "creating the repository"
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True, token=token)
        if private:
            step = "checking the repository's visibility"
            if not api.repo_info(repo_id, token=token).private:
                raise PushError(
                    f"{repo_id} already exists and is public; --private only applies when the repo is created. "
                    "Change its visibility in the repo settings, or push without --private."
                )
        if branch != "main":
            step = f"creating the branch {branch!r}"
            api.create_branch(repo_id, branch=branch, exist_ok=True, token=token)
        step = f"uploading {len(operations)} files and committing them to {branch!r}"
        logger.info("Uploading %d files from %s to %s (%s).", len(operations), folder, url, branch)
        commit = api.create_commit(repo_id, operations, commit_message=commit_message, revision=branch, token=token)
    except PushError:
        raise
    except (HfHubHTTPError, OSError, ValueError, RuntimeError) as error:
        raise _fail(step, repo_id, plan, error, token) from None
    return commit.commit_url


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="push_to_hub.py",
        description=(
            "Publish a trained labelwise folder to the Hugging Face Hub: safetensors weights, config, remote "
            "code and custom pipelines, tokenizer, model card and an Inference Endpoints handler.py. The token "
            "comes from HF_TOKEN or `hf auth login`."
        ),
    )
    parser.add_argument("folder", help="folder written by train.py (config.json, model.safetensors, ...)")
    parser.add_argument("--repo_id", required=True, help="target repo, 'namespace/name'")
    parser.add_argument("--private", action="store_true", help="create the repo as private")
    parser.add_argument("--revision", default=None, help="branch to push to (created if missing; default main)")
    parser.add_argument("--commit_message", default=None)
    parser.add_argument("--no_handler", action="store_true", help="do not add the Inference Endpoints handler.py")
    parser.add_argument(
        "--include_demo", action="store_true", help="add a ready Gradio Space for the model in space/ (see the card)"
    )
    parser.add_argument(
        "--include_onnx", action="store_true",
        help="also export the model to ONNX (fp32 + int8) into onnx/, with a card section on serving it (needs the onnx extra)",
    )
    parser.add_argument("--dry_run", action="store_true", help="check the folder and list the files; send nothing")
    parser.add_argument(
        "--allow_custom_code",
        action="store_true",
        help="publish remote-code files that differ from the ones labelwise ships (code from other repos is always refused)",
    )
    return parser


@cli_main("push_to_hub.py")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Our own progress notes at INFO; huggingface_hub / httpx stay at their usual WARNING level.
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("labelwise").setLevel(logging.INFO)
    try:
        if args.dry_run:
            check_repo_id(args.repo_id)  # as the real push does first
            # A dry run only reports: a missing card is checked to build, not written.
            plan = check_folder(args.folder, write_card=False, allow_custom_code=args.allow_custom_code)
            files = plan.files + ([CARD_FILE] if CARD_FILE not in plan.files else [])
            print(f"{len(files)} files would be uploaded from {args.folder}: {', '.join(files)}")
            if CARD_FILE not in plan.files:
                print(f"{CARD_FILE} would be generated from {SUMMARY_FILE} before the upload")
            for relative, reason in plan.skipped.items():
                print(f"stays local: {relative} ({reason})")
            for warning in plan.warnings:
                print(f"warning: {warning}")
            return 0
        commit_url = push_folder(
            args.folder,
            args.repo_id,
            private=args.private,
            revision=args.revision,
            commit_message=args.commit_message,
            include_handler=not args.no_handler,
            include_demo=args.include_demo,
            allow_custom_code=args.allow_custom_code,
            include_onnx=args.include_onnx,
        )
    except (FolderError, PushError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Pushed {args.folder} to {args.repo_id}: {commit_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
