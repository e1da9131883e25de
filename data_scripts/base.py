"""Shared pieces of every corpus builder: the label space, errors, skip reports, splits,
downloading and cache fingerprints.

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
import random
import tempfile
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets

from .hierarchy import Hierarchy

logger = logging.getLogger(__name__)

TASKS = ("multi_label", "multi_class", "hierarchical", "ner")


@dataclass
class LabelSpace:
    """What a model needs to know about a corpus's labels.

    Attributes:
        task: ``"multi_label"``, ``"multi_class"``, ``"hierarchical"`` or ``"ner"``.
        names: label ids in ``ClassLabel`` order (BIO tag names for NER).
        descriptions: one natural-language description per name (classification corpora),
            used by label-aware models; ``None`` for NER.
        hierarchy: the label hierarchy for hierarchical corpora, else ``None``.
    """

    task: str
    names: list[str]
    descriptions: list[str] | None = None
    hierarchy: Hierarchy | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if len(set(self.names)) != len(self.names):
            dup = [n for n, c in Counter(self.names).items() if c > 1]
            raise ValueError(f"duplicate label names: {dup[:5]}")
        if self.descriptions is not None and len(self.descriptions) != len(self.names):
            raise ValueError(f"{len(self.descriptions)} descriptions for {len(self.names)} labels")

    @property
    def num_labels(self) -> int:
        return len(self.names)

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.names))

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    def to_dict(self) -> dict:
        return {
            "task": self.task,
            "names": list(self.names),
            "descriptions": None if self.descriptions is None else list(self.descriptions),
            "hierarchy": None if self.hierarchy is None else self.hierarchy.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "LabelSpace":
        h = data.get("hierarchy")
        return cls(data["task"], list(data["names"]), data.get("descriptions"), Hierarchy.from_dict(h) if h else None)


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
    """Two files (or folders) could each be a split, and no option says which one to read."""


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


def seeded_split(
    keys: Sequence[Hashable],
    fractions: Sequence[float],
    seed: int,
    strata: Sequence[Hashable] | None = None,
) -> list[list[Hashable]]:
    """Split `keys` into ``len(fractions)`` parts with a fixed seed.

    Keys are sorted before shuffling, so the result does not depend on the input order (e.g.
    ``os.listdir``). With `strata` (one value per key) each stratum is split separately, which
    keeps class proportions in every part. Part sizes are ``round(cumulative fraction * n)``
    differences, so all keys are used exactly once.
    """
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1, got {fractions}")
    groups: dict[Hashable, list[Hashable]] = {}
    if strata is None:
        groups[None] = list(keys)
    else:
        for key, stratum in zip(keys, strata, strict=True):
            groups.setdefault(stratum, []).append(key)
    parts: list[list[Hashable]] = [[] for _ in fractions]
    for stratum in sorted(groups, key=repr):
        members = sorted(groups[stratum], key=repr)
        random.Random(f"{seed}:{stratum!r}").shuffle(members)
        bounds, total = [0], 0.0
        for f in fractions:
            total += f
            bounds.append(round(total * len(members)))
        for i in range(len(fractions)):
            parts[i].extend(members[bounds[i] : bounds[i + 1]])
    return parts


def parse_fractions(value: str | Sequence[float]) -> tuple[float, ...]:
    """``"8:1:1"`` or ``(0.8, 0.1, 0.1)`` -> normalised fractions."""
    if isinstance(value, str):
        try:
            nums = [float(x) for x in value.split(":")]
        except ValueError:
            raise ValueError(f"split ratio must look like '8:1:1', got {value!r}") from None
    else:
        nums = [float(x) for x in value]
    if len(nums) != 3 or any(x < 0 for x in nums) or sum(nums) <= 0:
        raise ValueError(f"need three non-negative train:validation:test ratios, got {value!r}")
    s = sum(nums)
    return tuple(x / s for x in nums)


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


def classification_features(space: LabelSpace) -> datasets.Features:
    """The features of a classification corpus with labels `space`: ``id``, ``text`` and ``labels`` as
    ClassLabel (multi-class) or a sequence of them (multi-label, hierarchical)."""
    label = datasets.ClassLabel(names=space.names)
    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "text": datasets.Value("string"),
            "labels": label if space.task == "multi_class" else datasets.Sequence(label),
        }
    )


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


def subsample(dataset: datasets.Dataset, n: int | None, seed: int) -> datasets.Dataset:
    """A seeded random subset of `n` rows, in their original order (all rows when `n` is None
    or not smaller than the dataset). Taking the first rows instead would keep only the first
    documents of a corpus ordered by document (e.g. TAC sections grouped by drug label)."""
    if n is None or n >= len(dataset):
        return dataset
    if n < 0:
        raise ValueError(f"subsample: n must be >= 0, got {n}")
    return dataset.select(sorted(random.Random(seed).sample(range(len(dataset)), n)))


HELD_OUT_DOCUMENTS = ("keep", "drop")
"""What `exclude_labels` does with the training documents that carry a held-out label."""


def exclude_labels(
    space: LabelSpace, corpus: datasets.DatasetDict, names: list[str], held_out_documents: str = "keep"
) -> tuple[LabelSpace, datasets.DatasetDict]:
    """The label space and corpus without the labels `names` (held out of training, e.g. to test zero-shot).

    The remaining labels keep their order and get consecutive ids. Multi-label corpora only: in a
    multi-class corpus every document of a removed class would be left without its class.

    Args:
        held_out_documents: what happens to the "train" split's documents that carry a held-out label.
            "keep": they stay, with their other labels; one left with none becomes a negative for every
            label, so training teaches the model that the held-out topic is "no label", which works
            against scoring that label later. "drop": they are removed from "train", so the model never
            reads a document of a held-out label (the usual zero-shot protocol). The other splits keep
            every document in both cases: they evaluate.
    """
    if held_out_documents not in HELD_OUT_DOCUMENTS:
        raise ValueError(
            f"exclude_labels: held_out_documents must be one of {list(HELD_OUT_DOCUMENTS)}, got {held_out_documents!r}."
        )
    if space.task != "multi_label":
        raise ValueError(
            f"exclude_labels: the corpus task is {space.task!r}; labels can be held out of multi_label corpora only."
        )
    unknown = [name for name in names if name not in space.names]
    if unknown:
        raise ValueError(f"exclude_labels: {unknown} not among the corpus labels {space.names}.")
    if len(set(names)) >= len(space.names):
        raise ValueError(f"exclude_labels: holding out {sorted(set(names))} would leave no label to train on.")
    kept = [index for index, name in enumerate(space.names) if name not in set(names)]
    new_id = {old: new for new, old in enumerate(kept)}
    kept_names = [space.names[index] for index in kept]
    reduced = LabelSpace(
        task=space.task,
        names=kept_names,
        descriptions=[space.descriptions[index] for index in kept] if space.descriptions else None,
    )

    def remap(batch: dict) -> dict:
        return {"labels": [[new_id[i] for i in ids if i in new_id] for ids in batch["labels"]]}

    split = next(iter(corpus.values()))
    features = split.features.copy()
    features["labels"] = datasets.List(datasets.ClassLabel(names=kept_names))
    held = {space.names.index(name) for name in names}
    reduced_corpus = {}
    for name, dataset in corpus.items():
        if held_out_documents == "drop" and name == "train":
            dataset = dataset.filter(lambda batch: [not held & set(ids) for ids in batch["labels"]], batched=True)
        reduced_corpus[name] = dataset.map(remap, batched=True, features=features)
    return reduced, datasets.DatasetDict(reduced_corpus)


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
