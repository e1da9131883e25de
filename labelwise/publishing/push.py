"""Publish a trained labelwise folder to the Hugging Face Hub (the code behind `push_to_hub.py`).

    python push_to_hub.py outputs/lame-hoc --repo_id my-name/lame-hoc [--private] [--revision dev]

The folder is checked before anything is sent (`labelwise.publishing.folder_check`: safetensors
weights only, config.json, the remote code its `auto_map` / `custom_pipelines` name, a tokenizer, a
model card), then everything goes up in one commit: the folder's files (never Trainer checkpoints,
optimizer state or pickles), the model card with the repo id filled in, and the Inference Endpoints
`handler.py`.

The token comes from the `token` argument, `HF_TOKEN` or `hf auth login`; it is only ever handed
to `huggingface_hub`, never printed, logged or written.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import tempfile
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi, get_token
from huggingface_hub.errors import HfHubHTTPError

from labelwise.cli_errors import cli_main
from labelwise.publishing.folder_check import FolderError, UploadPlan, check_folder
from labelwise.publishing.handler import SUPPORT_FILES as HANDLER_SUPPORT_FILES
from labelwise.publishing.model_card import CARD_FILE, SUMMARY_FILE, card_for_repo, load_training_summary

logger = logging.getLogger(__name__)

HANDLER_TEMPLATE = Path(__file__).with_name("handler.py")
HANDLER_FILE = "handler.py"
HANDLER_REQUIREMENTS_FILE = "requirements.txt"
DEMO_FOLDER = "space"


class PushError(RuntimeError):
    """The Hub refused or failed a step of the upload; the local folder is left as it was."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


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
