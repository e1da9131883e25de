"""The errors the corpus builders raise (the bad-input policy is in :mod:`.base`)."""

from __future__ import annotations

import os


class CorpusError(ValueError):
    """Base class of the errors raised by the corpus builders."""


class CorpusFormatError(CorpusError):
    """A malformed line/record, named by file and line (or document id)."""

    def __init__(self, path: str | os.PathLike, where: int | str | None, expected: str, got: str | None = None):
        self.path, self.where, self.expected, self.got = str(path), where, expected, got
        loc = str(path)
        if isinstance(where, int):
            loc += f", line {where}"
        elif where is not None:
            loc += f", {where}"
        msg = f"{loc}: expected {expected}"
        if got is not None:
            shown = got if len(got) <= 120 else got[:117] + "..."
            msg += f", got {shown!r}"
        super().__init__(msg)


class CorpusDownloadError(CorpusError):
    """No local copy and the public source could not be downloaded."""


class DuplicateDocumentError(CorpusError):
    """The same document id twice in a split or in two splits (``duplicates="error"``)."""


class EmptyCorpusError(CorpusError):
    """The builder read no example at all from ``data_dir``."""


class AmbiguousSplitFileError(CorpusError):
    """Two files (or folders) could each be read for one part of a corpus (a split, the release folder),
    and no option says which one (:mod:`.split_files`)."""
