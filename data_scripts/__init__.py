"""Corpus builders: one ``datasets.GeneratorBasedBuilder`` per corpus behind one entry point.

>>> from labelwise.data_scripts import load_corpus, load_label_space
>>> ds = load_corpus("demo")                       # DatasetDict: train / validation / test
>>> space = load_label_space("demo")                # LabelSpace: task, names, descriptions, hierarchy
>>> ds = load_corpus("hoc", data_dir="path/to/hoc")  # real corpora read their original files

Options of a corpus (its ``BuilderConfig`` fields, e.g. ``labels="fine"`` for HoC) are passed
as keyword arguments. See docs/DATA.md for every corpus, its options and the bad-input policy.
"""

from __future__ import annotations

from typing import Any

import datasets

from .base import (
    CorpusBuilder,
    CorpusDownloadError,
    CorpusError,
    CorpusFormatError,
    DuplicateDocumentError,
    EmptyCorpusError,
    HELD_OUT_DOCUMENTS,
    LabelSpace,
    as_dataset_dict,
    exclude_labels,
    prepare_builder,
    subsample,
)
from .files import CorpusEncodingError
from .hierarchy import Hierarchy, HierarchyError
from .registry import ALIASES, CORPORA, get_builder


def load_corpus(
    name: str,
    data_dir: str | None = None,
    *,
    cache_dir: str | None = None,
    config_name: str | None = None,
    force_rebuild: bool = False,
    **config: Any,
) -> datasets.DatasetDict:
    """Build (or load from the cache) a corpus as a DatasetDict with train/validation/test.

    Args:
        name: a key of :data:`CORPORA` (or an alias such as ``"disease5"``).
        data_dir: folder with the corpus in its original format; when ``None`` the public
            source is downloaded (an error names the URL and this option when that fails).
        cache_dir: datasets cache folder (default: the datasets cache).
        config_name: a named ``BUILDER_CONFIGS`` entry, if the corpus has several.
        force_rebuild: regenerate even if a cached copy exists.
        **config: corpus options (fields of the corpus's BuilderConfig).
    """
    builder = get_builder(name, data_dir=data_dir, cache_dir=cache_dir, config_name=config_name, **config)
    prepare_builder(builder, force_rebuild)
    return as_dataset_dict(builder)


def load_label_space(
    name: str,
    data_dir: str | None = None,
    *,
    cache_dir: str | None = None,
    config_name: str | None = None,
    **config: Any,
) -> LabelSpace:
    """The corpus's :class:`LabelSpace` (label names, descriptions, hierarchy), without
    generating the dataset. Arguments as for :func:`load_corpus`."""
    builder = get_builder(name, data_dir=data_dir, cache_dir=cache_dir, config_name=config_name, **config)
    return builder.label_space()


__all__ = [
    "ALIASES",
    "CORPORA",
    "CorpusBuilder",
    "CorpusDownloadError",
    "CorpusError",
    "CorpusEncodingError",
    "CorpusFormatError",
    "DuplicateDocumentError",
    "EmptyCorpusError",
    "HELD_OUT_DOCUMENTS",
    "Hierarchy",
    "HierarchyError",
    "LabelSpace",
    "exclude_labels",
    "get_builder",
    "load_corpus",
    "load_label_space",
    "subsample",
]
