"""Files of a Hugging Face Space (Gradio SDK) that serves one labelwise model with the explanation viewer.

The Hub's hosted widget cannot run custom-code models such as LAME, so a model repo gets a Space
next to it. The Space does not install labelwise: `write_space_files` copies the demo app, the
model loading (`predictors`), the table of saved kinds and the remote-code rules it reads (`labelwise.saved_kinds`,
`labelwise.remote_code`) and the viewer (they
need only gradio, transformers and torch) next to a two-line `app.py`, and the model's
own remote code (modeling and pipeline files in the model repo) does the rest.

    from labelwise.analysis.space import write_space_files
    write_space_files("space/", "my-org/hoc-lame")
    # then: HfApi().upload_folder(folder_path="space/", repo_id="my-org/hoc-lame-demo", repo_type="space")
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

__all__ = ["SPACE_FILES", "write_space_files"]

SPACE_FILES = (
    "app.py", "labelwise_demo.py", "labelwise_predictors.py", "labelwise_saved_kinds.py", "labelwise_viewer.py",
    "labelwise_remote_code.py", "requirements.txt", "README.md",
)

# Versions the demo was tested with here; the Space's Gradio comes from `sdk_version` in README.md.
_REQUIREMENTS = """\
torch>=2.6
transformers>=5.0,<6
safetensors>=0.4
"""

_APP = '''\
"""Hugging Face Space serving {model!r}: written by labelwise.analysis.space.write_space_files."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from labelwise_demo import build_demo, default_theme  # noqa: E402  (after the environment is set)

MODEL = os.environ.get("LABELWISE_MODEL", {model!r})
# The Space exists to serve this model, whose own code (modeling and pipeline files) runs here.
demo = build_demo(MODEL, title={title!r}, examples={examples!r}, trust_remote_code=True)

if __name__ == "__main__":
    demo.launch(theme=default_theme())
'''

_README = """\
---
title: {yaml_title}
emoji: 🔎
colorFrom: yellow
colorTo: red
sdk: gradio
sdk_version: {gradio_version}
app_file: app.py
pinned: false
{models}---

# {title}

Paste a text to see the labels predicted by [{model}]({model_link}) with their probabilities and
the highlighted evidence (for LAME models: the words each label attended to; for ADR taggers: the
adverse drug reaction spans; for layer-wise models: the labels of every hierarchy level).

Written by labelwise (`labelwise.analysis.space.write_space_files`).
"""


def _gradio_version() -> str:
    try:
        import gradio

        return gradio.__version__
    except ImportError:  # writing the files does not need gradio; pick the major version tested here
        return "6.31.0"


def write_space_files(
    target_dir: str | os.PathLike,
    model_repo_id_or_path: str,
    *,
    title: str | None = None,
    examples: Sequence[str] | None = None,
) -> list[str]:
    """Write a Gradio Space for `model_repo_id_or_path` into `target_dir`; return the written paths.

    Args:
        target_dir: folder to write (created; existing files of the same names are replaced).
        model_repo_id_or_path: the Hub model repo the Space loads (`"org/name"`), or a local folder
            for trying the Space locally (`python app.py` in `target_dir`).
        title: page and Space title (default: the model name).
        examples: example texts shown under the text box.

    The files are `SPACE_FILES`: `app.py`, the copied demo, predictors, saved-kinds table, remote-code rules and viewer
    modules, `requirements.txt` and the Space card `README.md` (front matter: Gradio SDK, its version, the linked model).
    """
    from labelwise import demo as demo_module
    from labelwise import remote_code as remote_code_module
    from labelwise import saved_kinds as saved_kinds_module
    from labelwise.analysis import predictors as predictors_module
    from labelwise.analysis import viewer as viewer_module

    target = Path(target_dir)
    target.mkdir(parents=True, exist_ok=True)
    model = str(model_repo_id_or_path)
    name = title or f"labelwise: {os.path.basename(os.path.normpath(model))}"
    is_hub_id = not os.path.isdir(model)

    shutil.copyfile(demo_module.__file__, target / "labelwise_demo.py")
    shutil.copyfile(predictors_module.__file__, target / "labelwise_predictors.py")
    shutil.copyfile(saved_kinds_module.__file__, target / "labelwise_saved_kinds.py")  # predictors' fallback import
    shutil.copyfile(remote_code_module.__file__, target / remote_code_module.COPY_NAME)  # the same
    shutil.copyfile(viewer_module.__file__, target / "labelwise_viewer.py")
    (target / "app.py").write_text(
        _APP.format(model=model, title=name, examples=list(examples) if examples else None), encoding="utf-8"
    )
    (target / "requirements.txt").write_text(_REQUIREMENTS, encoding="utf-8")
    (target / "README.md").write_text(
        _README.format(
            title=name,
            yaml_title=json.dumps(name.replace("\n", " ")),  # a JSON string is valid YAML, colons and all
            gradio_version=_gradio_version(),
            models=f"models:\n- {model}\n" if is_hub_id else "",
            model=model,
            model_link=f"https://huggingface.co/{model}" if is_hub_id else model,
        ),
        encoding="utf-8",
    )
    return [str(target / name) for name in SPACE_FILES]
