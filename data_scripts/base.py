"""The base of every corpus builder: its options, skip reports, downloading, cache fingerprints,
and preparing a builder into a DatasetDict.

The other shared pieces live beside it, one job each: the errors (:mod:`.errors`), the label space
(:mod:`.label_space`), seeded splits and subsets (:mod:`.splits`), which file holds a split
(:mod:`.split_files`) and held-out labels (:mod:`.held_out`). Their names stay importable from here.

Bad-input policy (the same for every builder, see docs/DATA.md):

* A line or record that cannot be parsed raises :class:`CorpusFormatError` naming the file,
  the line (or document id) and what was expected.
* A label outside the corpus's label set raises :class:`CorpusFormatError`, unless the
  builder documents an explicit option to skip it (``on_unknown_label="skip"``).
* Entity offsets that do not match the text and empty documents are *skipped*, never
  mislabelled: each skip is counted by reason in ``builder.skips`` and summarised in the log
  once a split has been generated (``strict=True`` turns every skip into an error).
* A document id seen twice in one split, or in two splits, raises
  :class:`DuplicateDocumentError` unless ``duplicates="drop"`` (then only the first occurrence,
  in the order train, validation, test, is kept and the others are counted).
* A corpus that comes out with no example at all raises :class:`EmptyCorpusError`.
* Undecodable bytes, truncated ``.gz`` files and broken CSV quoting: see :mod:`.files`.
"""

from __future__ import annotations

import codecs
import hashlib
import inspect
import logging
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import datasets

from . import errors, held_out, label_space, split_files, splits
from .errors import (  # noqa: F401  (importable from here, where the builders look for them)
    AmbiguousSplitFileError,
    CorpusDownloadError,
    CorpusError,
    CorpusFormatError,
    DuplicateDocumentError,
    EmptyCorpusError,
)
from .held_out import HELD_OUT_DOCUMENTS, exclude_labels  # noqa: F401
from .label_space import TASKS, LabelSpace, classification_features  # noqa: F401
from .split_files import choose_split_file, split_files_option  # noqa: F401
from .splits import parse_fractions, seeded_split, subsample  # noqa: F401

logger = logging.getLogger(__name__)

# Shared modules whose code decides what a builder writes: part of every builder's cache key.
_SHARED_MODULES = (errors, label_space, split_files, splits, held_out)


class SkipReport(Counter):
    """Counts of skipped or adjusted items by reason, with a few examples each."""

    def __init__(self) -> None:
        super().__init__()
        self.examples: dict[str, list[str]] = {}

    def add(self, reason: str, example: str | None = None) -> None:
        self[reason] += 1
        if example is not None:
            ex = self.examples.setdefault(reason, [])
            if len(ex) < 3:
                ex.append(example)

    def summary(self) -> str:
        if not self:
            return "nothing skipped"
        parts = []
        for reason, n in sorted(self.items()):
            ex = self.examples.get(reason)
            parts.append(f"{reason}: {n}" + (f" (e.g. {'; '.join(ex)})" if ex else ""))
        return "; ".join(parts)


def _files_fingerprint(path: str | None) -> str:
    """Cheap fingerprint of a data folder or file: relative names, sizes and mtimes."""
    if path is None:
        return "none"
    h = hashlib.sha256()
    p = Path(path)
    if p.is_file():
        st = p.stat()
        h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    elif p.is_dir():
        for root, dirs, files in os.walk(p):
            dirs.sort()
            for name in sorted(files):
                fp = Path(root) / name
                st = fp.stat()
                h.update(f"{fp.relative_to(p)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    else:
        h.update(f"missing:{path}".encode())
    return h.hexdigest()[:16]


class CorpusConfig(datasets.BuilderConfig):
    """Options shared by all corpora.

    Args:
        strict: raise instead of counting skips (offset mismatches, empty documents, ...).
        seed: seed of any random split.
        encoding: text encoding of the corpus files (``"utf-8"``; e.g. ``"latin-1"``).
        duplicates: ``"error"`` (default) raises on a document id repeated within a split or
            found in two splits; ``"drop"`` keeps the first occurrence (in the order train,
            validation, test) and counts what it removed (``duplicate_document``).
    """

    def __init__(
        self, *args: Any, strict: bool = False, seed: int = 42, encoding: str = "utf-8", duplicates: str = "error", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if duplicates not in ("error", "drop"):
            raise ValueError(f"duplicates must be 'error' or 'drop', got {duplicates!r}")
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"encoding={encoding!r} is not an encoding Python knows (e.g. 'utf-8', 'latin-1', 'cp1252')") from None
        self.strict = strict
        self.seed = seed
        self.encoding = encoding
        self.duplicates = duplicates


class CorpusBuilder(datasets.GeneratorBasedBuilder):
    """Base class of the labelwise builders.

    Subclasses set ``CORPUS`` (registry name), ``TASK``, optionally ``DOWNLOAD_URLS``
    (``{key: url}``, downloaded and extracted into ``data_dir`` when none is given) and
    implement ``label_space()``.

    The cache key covers the config options and ``data_dir`` (datasets' config id) plus a
    fingerprint of this builder's source and of the files under ``data_dir`` (passed as
    datasets' ``hash``), so an edited file never returns stale cached data.
    """

    CORPUS: str = ""
    TASK: str = ""
    DOWNLOAD_URLS: dict[str, str] | None = None
    NEEDS_DATA: bool = True
    BUILDER_CONFIG_CLASS = CorpusConfig

    def __init__(self, *args: Any, data_dir: str | None = None, cache_dir: str | None = None, **kwargs: Any) -> None:
        if data_dir is None and self.NEEDS_DATA:
            data_dir = self._download(cache_dir)
        if data_dir is not None:
            data_dir = os.path.abspath(os.path.expanduser(str(data_dir)))
            if not os.path.exists(data_dir):
                raise FileNotFoundError(f"{self.CORPUS}: data_dir {data_dir!r} does not exist")
        if kwargs.get("hash") is None:
            kwargs["hash"] = self._fingerprint(data_dir)
        self.skips = SkipReport()
        self._label_space: LabelSpace | None = None
        super().__init__(*args, data_dir=data_dir, cache_dir=cache_dir, **kwargs)

    def _create_builder_config(self, config_name=None, custom_features=None, config_id=None, **config_kwargs):
        """datasets copies the default config and sets the options as attributes, which skips
        the config's ``__init__``: build the config again through it, so every option is
        validated and normalised (e.g. ``scheme="BIOES"`` -> ``"IOBES"``). The cache id is the
        one datasets computed from the options as given."""
        config, config_id = super()._create_builder_config(config_name, custom_features, config_id, **config_kwargs)
        options = {name: getattr(config, name) for name in config_options(type(self)) if hasattr(config, name)}
        fresh = type(config)(
            name=config.name, version=config.version, data_dir=config.data_dir, data_files=config.data_files,
            description=config.description, **options,
        )
        return fresh, config_id

    # -- cache key
    def _fingerprint(self, data_dir: str | None) -> str:
        h = hashlib.sha256()
        for klass in type(self).__mro__:
            if klass.__module__.startswith("datasets"):
                break
            try:
                h.update(inspect.getsource(klass).encode())
            except (OSError, TypeError):
                h.update(klass.__qualname__.encode())
        # Modules hold helper functions too: hash the whole defining modules.
        for mod_name in {k.__module__ for k in type(self).__mro__ if not k.__module__.startswith(("datasets", "builtins"))}:
            mod = __import__(mod_name, fromlist=["_"])
            try:
                h.update(inspect.getsource(mod).encode())
            except (OSError, TypeError):
                pass
        for mod in _SHARED_MODULES:
            h.update(inspect.getsource(mod).encode())
        h.update(_files_fingerprint(data_dir).encode())
        return h.hexdigest()[:16]

    # -- downloading
    def _download(self, cache_dir: str | None) -> str:
        urls = self.DOWNLOAD_URLS
        if not urls:
            raise CorpusDownloadError(
                f"corpus {self.CORPUS!r} has no public download: pass data_dir= (command line: --data_dir) "
                f"pointing at your local copy"
            )
        first = next(iter(urls.values()))
        try:
            manager = datasets.DownloadManager(
                dataset_name=self.CORPUS,
                download_config=datasets.DownloadConfig(
                    cache_dir=os.path.join(cache_dir, "downloads") if cache_dir else None, max_retries=1
                ),
            )
            paths = manager.download_and_extract(dict(urls))
        except Exception as err:  # noqa: BLE001 - any failure means "no download", reported below
            raise CorpusDownloadError(
                f"corpus {self.CORPUS!r}: no data_dir given and downloading {first}"
                + (f" (and {len(urls) - 1} more file(s))" if len(urls) > 1 else "")
                + f" failed ({type(err).__name__}: {err}). Download it yourself and pass "
                f"data_dir=<folder> (command line: --data_dir <folder>)."
            ) from err
        return self._arrange_download(paths)

    def _arrange_download(self, paths: dict[str, str]) -> str:
        """Turn downloaded paths into a data_dir; the default takes the common parent."""
        return os.path.commonpath([os.path.dirname(p) if os.path.isfile(p) else p for p in paths.values()])

    # -- labels
    def label_space(self) -> LabelSpace:
        """The corpus's labels, descriptions and hierarchy (computed once per builder)."""
        if self._label_space is None:
            self._label_space = self._build_label_space()
        return self._label_space

    def _build_label_space(self) -> LabelSpace:
        raise NotImplementedError

    # -- skips
    def skip(self, reason: str, example: str) -> None:
        """Count a skip, or raise when the config asks for strict input."""
        if getattr(self.config, "strict", False):
            raise CorpusError(f"{self.CORPUS}: {reason}: {example} (strict=True turns skips into errors)")
        self.skips.add(reason, example)

    def _reset_ids(self) -> None:
        """Forget the ids seen so far (call when split generation starts)."""
        self._seen_ids: dict[str, tuple[str, str]] = {}

    def _register_id(self, doc_id: str, split: str, where: str) -> bool:
        """Record document `doc_id` of `split` read at `where` (a file, or file and line).

        Returns False when the document is a repeat that ``duplicates="drop"`` removes (counted
        as ``duplicate_document``); raises :class:`DuplicateDocumentError` under the default
        ``duplicates="error"``. Splits are registered in the order train, validation, test, so
        the first occurrence kept is the one in the earliest of them.
        """
        seen = getattr(self, "_seen_ids", None)
        if seen is None:
            self._reset_ids()
            seen = self._seen_ids
        doc_id = str(doc_id)
        if doc_id not in seen:
            seen[doc_id] = (split, where)
            return True
        first_split, first_where = seen[doc_id]
        place = "twice in the " + split + " split" if first_split == split else f"in the {first_split} and {split} splits"
        if getattr(self.config, "duplicates", "error") == "error":
            raise DuplicateDocumentError(
                f"{self.CORPUS}: document {doc_id!r} is {place} ({first_where}; {where}). Remove the repeat, or pass "
                f"duplicates='drop' (command line: --config duplicates=drop) to keep only its first occurrence."
            )
        self.skips.add("duplicate_document", f"{doc_id} {place}, removed from {where}")
        return False

    def _report(self, split: str) -> None:
        if self.skips:
            logger.warning("%s, after the %s split (counts so far): %s", self.CORPUS, split, self.skips.summary())

    def classification_features(self) -> datasets.Features:
        """``id``, ``text`` and ``labels`` as ClassLabel (multi-class) or a sequence of them."""
        return classification_features(self.label_space())


def config_options(klass: type[datasets.DatasetBuilder]) -> list[str]:
    """Keyword options of a corpus: the parameters of its BuilderConfig class and its bases."""
    names: dict[str, None] = {}
    for config_class in klass.BUILDER_CONFIG_CLASS.__mro__:
        init = config_class.__dict__.get("__init__")
        if init is None or config_class.__module__.startswith("datasets"):
            continue
        for param in inspect.signature(init).parameters.values():
            if param.kind is param.KEYWORD_ONLY or (param.kind is param.POSITIONAL_OR_KEYWORD and param.name != "self"):
                names[param.name] = None
    return list(names)


def prepare_builder(builder: datasets.DatasetBuilder, force_rebuild: bool = False) -> None:
    """``download_and_prepare`` that re-raises our own errors (bad input) as they are, instead
    of datasets' generic DatasetGenerationError, so the message naming the file is on top."""
    try:
        builder.download_and_prepare(download_mode=datasets.DownloadMode.FORCE_REDOWNLOAD if force_rebuild else None)
    except datasets.exceptions.DatasetGenerationError as err:
        cause = err.__cause__
        if isinstance(cause, (CorpusError, OSError)):
            raise cause from None
        raise
    splits = builder.info.splits or {}
    if splits and sum(info.num_examples for info in splits.values()) == 0:
        skipped = getattr(builder, "skips", None)
        raise EmptyCorpusError(
            f"{getattr(builder, 'CORPUS', builder.name)}: no example was read from {builder.config.data_dir} "
            f"(every split is empty; skipped: {skipped.summary() if skipped else 'nothing'}). Check data_dir and the options."
        )


def as_dataset_dict(builder: datasets.DatasetBuilder) -> datasets.DatasetDict:
    """``builder.as_dataset()``, but a split with no examples becomes an empty Dataset with the
    builder's features (datasets refuses to read empty splits)."""
    out = {}
    for name, info in builder.info.splits.items():
        if info.num_examples == 0:
            features = builder.info.features
            out[name] = datasets.Dataset.from_dict({k: [] for k in features}, features=features, info=builder.info.copy())
        else:
            out[name] = builder.as_dataset(split=name)
    return datasets.DatasetDict(out)


def link_downloads(paths: dict[str, str], names: dict[str, str], prefix: str) -> str:
    """Downloaded files have hashed cache names: link them under the names a builder reads,
    in a fresh folder, and return that folder."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    for key, path in paths.items():
        os.symlink(path, folder / names[key])
    return str(folder)


def require_file(path: str | os.PathLike, corpus: str, what: str) -> Path:
    """Return `path` as a Path, or raise FileNotFoundError saying which corpus needs it."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{corpus}: expected {what} at {p}")
    return p
