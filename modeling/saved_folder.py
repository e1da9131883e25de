"""`save_pretrained` that writes a complete folder: the model's remote code and its pipeline's.

Shared by LAME and the layer-wise model, and shipped with their checkpoints as remote code: it imports
only transformers and the standard library.

The config's `custom_pipelines` entry names the pipeline that `pipeline(model=folder,
trust_remote_code=True)` runs (e.g. `pipeline_lame.LameClassificationPipeline`). transformers copies
the model's own file and the siblings it imports; the pipeline file is not among them (the pipeline
imports the model's siblings, not the other way round), so [`CompleteFolderMixin.save_pretrained`]
copies it too, from wherever the running model's code came from:

- next to this file: the installed labelwise package, or the folder a remote-code model was loaded
  from when its pipeline has been loaded as well;
- otherwise the model's origin (`model.name_or_path`, a folder or a Hub repository), through
  transformers' own remote-code cache: a model loaded with `AutoModel...(folder,
  trust_remote_code=True)` and saved again still writes the pipeline file.
"""

from __future__ import annotations

import logging
import os
import shutil

logger = logging.getLogger(__name__)


def pipeline_files(config) -> list[str]:
    """The module files that `config.custom_pipelines` names, e.g. `["pipeline_lame.py"]`."""
    entries = (getattr(config, "custom_pipelines", None) or {}).values()
    return sorted({entry["impl"].rsplit(".", 1)[0] + ".py" for entry in entries if "impl" in entry})


def find_code_file(name: str, origin: str | None, revision: str | None = None) -> str | None:
    """The path of the remote-code file `name`: next to this module, else fetched from `origin` (a
    folder or a Hub repository) into transformers' module cache with the siblings it imports; `None`
    when neither has it."""
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    if os.path.isfile(here):
        return here
    if not origin:
        return None
    from transformers.dynamic_module_utils import HF_MODULES_CACHE, get_cached_module_file

    try:
        return os.path.join(HF_MODULES_CACHE, get_cached_module_file(origin, name, revision=revision))
    except (OSError, ValueError, ImportError) as err:  # not there, the Hub out of reach, or it needs a missing package
        logger.debug("%s not found in %r: %s", name, origin, err)
        return None


def copy_code_file(folder: str, source: str) -> None:
    """Copy the module file `source` and the sibling modules it imports into `folder`, leaving files
    already there (the model's own code, just written by transformers)."""
    from transformers.dynamic_module_utils import get_relative_import_files

    for path in [source, *get_relative_import_files(source)]:
        target = os.path.join(folder, os.path.basename(path))
        if not os.path.exists(target):
            shutil.copyfile(path, target)


class CompleteFolderMixin:
    """Mixed into both models before `PreTrainedModel`: every `save_pretrained` (from Python, from a
    model loaded as remote code, from train.py) writes the files of the pipeline that the config's
    `custom_pipelines` names, so the folder loads with `pipeline(model=folder, trust_remote_code=True)`
    once `tokenizer.save_pretrained(folder)` has added the tokenizer."""

    def save_pretrained(self, save_directory, *args, **kwargs):
        """`PreTrainedModel.save_pretrained`, plus the pipeline's code (same arguments and return value)."""
        result = super().save_pretrained(save_directory, *args, **kwargs)
        if not kwargs.get("is_main_process", True):
            return result
        for name in pipeline_files(self.config):
            source = find_code_file(name, self.name_or_path, getattr(self.config, "_commit_hash", None))
            if source is None:
                logger.warning(
                    "%s.save_pretrained(%r): config.json names the pipeline file %s (custom_pipelines), which "
                    "was found neither next to the model's code nor in %r; pipeline(model=folder, "
                    "trust_remote_code=True) will fail until that file is copied into the folder.",
                    type(self).__name__, str(save_directory), name, self.name_or_path,
                )
                continue
            copy_code_file(str(save_directory), source)
        return result
