"""Which file (or folder) a builder reads: it never chooses between two candidates silently.

Corpora come in several layouts (``dev.tsv`` or ``devel.tsv``, ``dev/`` or ``validation/``, the files
in ``data_dir`` or in a ``dataset/`` folder under it). A builder lists the names it accepts and
:func:`choose_path` finds the one present; when more than one is present it raises
:class:`AmbiguousSplitFileError` naming them and how to choose, instead of reading the first.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .errors import AmbiguousSplitFileError

HERE = "."
"""A candidate name meaning `folder` itself (e.g. label files directly in ``data_dir``)."""


def choose_path(
    folder: str | os.PathLike,
    candidates: Sequence[str],
    corpus: str,
    what: str,
    how_to_choose: str,
    accept: Callable[[Path], bool] | None = None,
) -> Path | None:
    """The one of `candidates` (names under `folder`, :data:`HERE` for `folder` itself) that `accept`
    admits (default: it exists), or None when none does.

    Raises :class:`AmbiguousSplitFileError` when several are admitted: the message names `folder`,
    the candidates found, `what` they are candidates for ("the validation split") and `how_to_choose`.
    Two names of one path (a link) count once.
    """
    folder = Path(folder)
    accept = accept or Path.exists
    found: dict[Path, str] = {}
    for name in candidates:
        path = folder / name
        if accept(path):
            found.setdefault(path.resolve(), name)
    if len(found) > 1:
        shown = ", ".join(_shown(name) for name in found.values())
        raise AmbiguousSplitFileError(
            f"{corpus}: {folder} holds {len(found)} candidates for {what} ({shown}); {how_to_choose}"
        )
    return folder / next(iter(found.values())) if found else None


def _shown(name: str) -> str:
    return "its own top level" if name == HERE else name


def choose_split_file(
    folder: str | os.PathLike,
    split: str,
    candidates: Sequence[str],
    corpus: str,
    chosen: dict | None = None,
    accept: Callable[[Path], bool] | None = None,
) -> Path | None:
    """The one file (or folder) of `folder` that holds `split`, among `candidates`, or None when none
    exists (:func:`choose_path`; `accept`: which candidates count, default: those that exist).

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
    present = [name for name in candidates if (accept or Path.exists)(folder / name)]
    example = present[-1] if present else split
    return choose_path(
        folder, candidates, corpus, f"the {split} split",
        f"say which to read with the corpus option split_files, e.g. --corpus_options "
        f"'{{\"split_files\": {{\"{split}\": \"{example}\"}}}}', or move the other one away",
        accept,
    )


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
