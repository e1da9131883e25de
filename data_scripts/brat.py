"""Generic Brat standoff reader: ``<name>.txt`` + ``<name>.ann`` pairs, for the user's own corpora.

Only text-bound annotations are read: ``T<n><TAB><type> <start> <end>[;<start> <end>...]<TAB><text>``.
Relations, events, attributes, notes and normalisations (``R``, ``E``, ``A``/``M``, ``#``,
``N``, ``*``) are ignored. Each fragment's text is checked against the ``.txt`` file (the
annotation's text is its fragments joined by single spaces, as Brat writes it); a mismatch
skips the annotation (``offset_mismatch``). Discontinuous annotations follow
``discontinuous`` (:mod:`ner_base`). ``entity_types=None`` (default) tags every type found.

A fragment text that differs from the file only by case is accepted and counted
(``offset_case_mismatch``).

Splits: ``train/``, ``dev/`` (or ``devel/``, ``validation/``, ``valid/``) and ``test/`` subfolders
when present, otherwise a seeded 8:1:1 split of the documents (``split_ratio``). Two candidate
folders for one split (``dev/`` and ``validation/``) are an error naming both, unless
``split_files`` says which to read, e.g. ``split_files={"validation": "devel"}``. Files are found
recursively; a ``.txt`` without ``.ann`` is read as a document without mentions and counted
(``txt_without_ann``); an ``.ann`` without ``.txt`` is counted (``ann_without_txt``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import datasets

from .base import CorpusFormatError, parse_fractions, seeded_split
from .split_files import choose_split_file, split_files_option
from .files import read_text
from .ner_base import NerBuilder, NerConfig

_T_LINE = re.compile(r"^(T\d+)\t(\S+) (\d+ \d+(?:;\d+ \d+)*)\t(.*)$")
SPLIT_FOLDERS = {"train": ("train",), "validation": ("dev", "devel", "validation", "valid"), "test": ("test",)}


class BratConfig(NerConfig):
    """Brat options: ``entity_types`` (None = all found), ``split_ratio`` without split folders,
    ``split_files`` (``{split: folder name}``) where two folders could hold one split."""

    def __init__(
        self, *args: Any, entity_types: Any = None, split_ratio: str = "8:1:1", split_files: dict | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, entity_types=entity_types, **kwargs)
        self.split_ratio = split_ratio
        self.split_files = split_files_option(split_files, "brat")


def read_ann(path: Path, encoding: str = "utf-8") -> list[tuple[str, str, list[tuple[int, int]], str]]:
    """``[(id, type, fragments, text)]`` of the text-bound annotations of one ``.ann`` file."""
    out = []
    for i, line in enumerate(read_text(path, encoding).splitlines(), 1):
        if not line.strip() or not line.startswith("T"):
            continue
        m = _T_LINE.match(line)
        if not m:
            raise CorpusFormatError(path, i, "'T<n><TAB><type> <start> <end>[;<start> <end>]<TAB><text>'", line)
        fragments = [tuple(int(x) for x in frag.split()) for frag in m.group(3).split(";")]
        out.append((m.group(1), m.group(2), fragments, m.group(4)))
    return out


class Brat(NerBuilder):
    """Brat standoff documents (``.txt`` + ``.ann``) as sentence-level IOB2 NER."""

    CORPUS = "brat"
    BUILDER_CONFIG_CLASS = BratConfig
    BUILDER_CONFIGS = [BratConfig(name="default")]
    DEFAULT_CONFIG_NAME = "default"

    def _documents(self) -> dict[str, list[Path]]:
        root = Path(self.config.data_dir)
        found = {
            split: choose_split_file(root, split, names, "brat", self.config.split_files, accept=Path.is_dir)
            for split, names in SPLIT_FOLDERS.items()
        }
        if found["train"] and found["test"]:
            return {split: sorted(folder.rglob("*.txt")) if folder else [] for split, folder in found.items()}
        docs = sorted(root.rglob("*.txt"))
        if not docs:
            raise FileNotFoundError(f"brat: no .txt files under {root}")
        keys = [str(p.relative_to(root)) for p in docs]
        parts = seeded_split(keys, parse_fractions(self.config.split_ratio), self.config.seed)
        return {name: sorted(root / k for k in part) for name, part in zip(("train", "validation", "test"), parts)}

    def _discover_entity_types(self) -> set[str]:
        return {
            a[1] for docs in self._documents().values() for p in docs if p.with_suffix(".ann").exists()
            for a in read_ann(p.with_suffix(".ann"), self.config.encoding)
        }

    def _split_generators(self, dl_manager):
        docs = self._documents()
        root = Path(self.config.data_dir)
        for ann in sorted(root.rglob("*.ann")):
            if not ann.with_suffix(".txt").exists():
                self.skips.add("ann_without_txt", str(ann.relative_to(root)))
        names = {"train": datasets.Split.TRAIN, "validation": datasets.Split.VALIDATION, "test": datasets.Split.TEST}
        return [datasets.SplitGenerator(name=names[s], gen_kwargs={"split": s, "paths": docs[s]}) for s in names]

    def _generate_examples(self, split: str, paths: list[Path]):
        root = Path(self.config.data_dir)

        def sentences():
            for txt in paths:
                # Line endings kept as they are, so offsets count characters exactly as Brat does.
                text = read_text(txt, self.config.encoding, universal_newlines=False)
                doc_id = str(txt.relative_to(root).with_suffix(""))
                ann = txt.with_suffix(".ann")
                if not ann.exists():
                    self.skips.add("txt_without_ann", doc_id)
                mentions = []
                for tid, etype, fragments, ann_text in read_ann(ann, self.config.encoding) if ann.exists() else []:
                    where = f"{ann.name} {tid}"
                    if any(not (0 <= s < e <= len(text)) for s, e in fragments):
                        self.skip("offset_mismatch", where)
                        continue
                    if not self.check_mention(" ".join(text[s:e] for s, e in fragments), ann_text, where):
                        continue
                    mentions.extend(self._resolve_fragments(fragments, etype, where))
                if not text.strip():
                    self.skip("empty_document", doc_id)
                    continue
                yield from self._document_sentences(doc_id, text, mentions)

        yield from self._examples_from(sentences())
        self._report(split)
