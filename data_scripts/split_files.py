"""Which file (or folder) holds a split: a builder never chooses between two candidates silently."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import AmbiguousSplitFileError


def choose_split_file(
    folder: str | os.PathLike, split: str, candidates: Sequence[str], corpus: str, chosen: dict | None = None
) -> Path | None:
    """The one file (or folder) of `folder` that holds `split`, among `candidates` (names in order of
    preference), or None when none exists.

    A builder never picks between two candidates silently (``dev.tsv`` and ``devel.tsv`` side by side,
    as several benchmark collections ship JNLPBA): with more than one present it raises
    :class:`AmbiguousSplitFileError` naming them and the ``split_files`` option, unless `chosen`
    (the builder's ``split_files`` option, ``{split: name}``) names the one to read.
    """
    folder = Path(folder)
    if chosen and chosen.get(split):
        path = folder / str(chosen[split])
        if not path.exists():
            raise FileNotFoundError(f"{corpus}: split_files names {chosen[split]!r} for {split}, but {path} does not exist")
        return path
    found = [folder / name for name in candidates if (folder / name).exists()]
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise AmbiguousSplitFileError(
            f"{corpus}: {folder} holds {len(found)} candidates for the {split} split ({names}); say which to read "
            f"with the corpus option split_files, e.g. --corpus_options '{{\"split_files\": {{\"{split}\": "
            f"\"{found[-1].name}\"}}}}', or move the other one away"
        )
    return found[0] if found else None


def split_files_option(value: Any, corpus: str) -> dict[str, str] | None:
    """Check a builder's ``split_files`` option: ``{"train"|"validation"|"test": file name}``."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError(f"{corpus}: split_files must map split names to file names, got {value!r}")
    unknown = sorted(set(value) - {"train", "validation", "test"})
    if unknown:
        raise ValueError(f"{corpus}: split_files keys must be train, validation or test, got {', '.join(unknown)}")
    return dict(value)
