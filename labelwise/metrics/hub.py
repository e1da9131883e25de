"""Publish a packaged `evaluate` module as a Hub Space, so `evaluate.load("user/name")` finds it.

`evaluate` looks community metrics up in Spaces (`<endpoint>/spaces/<user>/<name>/resolve/main/<name>.py`).
Its own publishing command, `evaluate-cli create`, clones the Space with
`huggingface_hub.Repository`, which huggingface_hub 1.0 removed, so it fails with the
huggingface_hub 2.x this package needs. `push_to_hub` does the same job with the HTTP API:
it creates a Gradio Space and uploads the metric script, its README (the Space card), an `app.py`
that serves evaluate's widget, and a `requirements.txt` that installs `labelwise` (the script
imports it).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["stage_space", "push_to_hub"]

_APP = '''import evaluate
from evaluate.utils import launch_gradio_widget

module = evaluate.load("{repo_id}")
launch_gradio_widget(module)
'''


def stage_space(
    name: str,
    output_dir: str | os.PathLike,
    repo_id: str,
    labelwise_requirement: str = "labelwise",
) -> Path:
    """Write the files of the Space for metric `name` into `output_dir` and return that folder.

    Args:
        name: a packaged module (`labelwise.metrics.MODULES`).
        output_dir: an empty or new folder.
        repo_id: the Space id, `user/name`; `app.py` loads the metric from it.
        labelwise_requirement: how the Space installs labelwise, e.g. a pinned version or
            `git+https://...` URL; the metric script imports `labelwise.metrics`.
    """
    from . import module_path

    source = Path(module_path(name))
    target = Path(output_dir)
    target.mkdir(parents=True, exist_ok=True)
    if repo_id.count("/") != 1 or repo_id.split("/")[1] != name:
        # evaluate finds the script as <space name>.py, so the Space must carry the module's name.
        raise ValueError(f"repo_id must be '<user or org>/{name}' (evaluate loads <space name>.py); got {repo_id!r}.")
    for filename in (f"{name}.py", "README.md"):
        shutil.copyfile(source / filename, target / filename)
    (target / "app.py").write_text(_APP.format(repo_id=repo_id), encoding="utf-8")
    (target / "requirements.txt").write_text(
        f"evaluate>=0.4.6,<0.5\ngradio>=5\n{labelwise_requirement}\n", encoding="utf-8"
    )
    return target


def push_to_hub(
    name: str,
    repo_id: str,
    *,
    labelwise_requirement: str = "labelwise",
    private: bool = False,
    token: str | None = None,
    commit_message: str | None = None,
) -> str:
    """Create (or update) the Gradio Space `repo_id` holding metric `name`; return the Space URL.

    Afterwards anyone with labelwise installed runs `evaluate.load("<repo_id>")`.
    """
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    url = api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        stage_space(name, folder, repo_id, labelwise_requirement)
        api.upload_folder(
            repo_id=repo_id,
            repo_type="space",
            folder_path=folder,
            commit_message=commit_message or f"Upload the {name} metric from labelwise",
        )
    return str(url)
