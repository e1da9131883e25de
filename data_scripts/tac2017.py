"""TAC 2017 Adverse Drug Reaction Extraction from drug labels (Roberts et al., 2017).

XML format (one file per drug label)::

    <Label drug="..." track="TAC2017_ADR">
      <Text><Section id="S1" name="adverse reactions">...</Section>...</Text>
      <Mentions>
        <Mention id="M1" section="S1" type="AdverseReaction" start="120" len="9" str="neutropenia"/>
        <Mention id="M2" section="S1" type="AdverseReaction" start="10,40" len="5,8" str="..."/>
      </Mentions>
      ...
    </Label>

``start``/``len`` are character offsets in the section text; a discontinuous mention lists
several comma-separated starts and lengths (handled by ``discontinuous``, see
:mod:`ner_base`). The same content as JSON (``*.json``: one object or a list) is accepted::

    {"drug": "...", "sections": [{"id": "S1", "name": "...", "text": "..."}],
     "mentions": [{"id": "M1", "section": "S1", "type": "AdverseReaction",
                   "start": "120" | 120 | [10, 40], "len": ..., "str": "..."}]}

Entity types: ``AdverseReaction`` is tagged ``ADR``; the other TAC types (``Severity``,
``Factor``, ``DrugClass``, ``Negation``, ``Animal``) keep their names and are tagged when
listed in ``entity_types``. Each fragment is checked against the section text (for a
continuous mention, also against ``str``); a mismatch skips the mention, counted as
``offset_mismatch``. ``sections`` limits which sections are read (by name, e.g.
``["adverse reactions"]``). Sentences and tokens: :mod:`ner_utils`.

Splits: ``train_xml/`` (or ``train/``) and ``gold_xml/`` (or ``test/``) under ``data_dir``;
a seeded ``validation_fraction`` of training labels is held out. Without a test folder, a
seeded 8:1:1 split by drug label.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import datasets

from .base import CorpusFormatError, parse_fractions, seeded_split
from .ner_base import NerBuilder, NerConfig

TYPE_NAMES = {"AdverseReaction": "ADR"}
URL = "https://bionlp.nlm.nih.gov/tac2017adversereactions/train_xml.tar.gz"


class Tac2017Config(NerConfig):
    """TAC 2017 options: ``sections`` (names to read, ``None`` = all), ``validation_fraction``."""

    def __init__(self, *args: Any, sections: list[str] | tuple[str, ...] | None = None, validation_fraction: float = 0.1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sections = None if sections is None else tuple(s.lower() for s in sections)
        self.validation_fraction = validation_fraction


def _int_list(value: Any, path: Path, where: str, field: str) -> list[int]:
    if isinstance(value, int):
        return [value]
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        return list(value)
    try:
        return [int(v) for v in str(value).split(",")]
    except ValueError:
        raise CorpusFormatError(path, where, f"'{field}' as integers (comma-separated for discontinuous mentions)", str(value)) from None


def _check_label(data: Any, path: Path, where: str) -> dict:
    if not isinstance(data, dict) or not isinstance(data.get("sections"), list) or not isinstance(data.get("mentions", []), list):
        raise CorpusFormatError(path, where, "an object with a list 'sections' and a list 'mentions'", str(data)[:100])
    for i, sec in enumerate(data["sections"]):
        if not isinstance(sec, dict) or not all(isinstance(sec.get(k), str) for k in ("id", "text")):
            raise CorpusFormatError(path, f"{where}, section {i}", "an object with string 'id' and 'text'", str(sec)[:100])
    return data


def read_xml(path: Path) -> dict:
    """One TAC label file as ``{"drug", "sections", "mentions"}`` (the JSON form)."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise CorpusFormatError(path, err.position[0], "well-formed XML", str(err)) from None
    if root.tag != "Label":
        raise CorpusFormatError(path, None, "a <Label> root element", f"<{root.tag}>")
    sections = [
        {"id": sec.get("id", ""), "name": sec.get("name", ""), "text": sec.text or ""}
        for sec in root.iter("Section")
    ]
    mentions = []
    for m in root.iter("Mention"):
        missing = [k for k in ("section", "type", "start", "len") if m.get(k) is None]
        if missing:
            raise CorpusFormatError(path, f"mention {m.get('id', '?')}", f"attributes section, type, start, len (missing {', '.join(missing)})")
        mentions.append(dict(m.attrib))
    return _check_label({"drug": root.get("drug", path.stem), "sections": sections, "mentions": mentions}, path, "label")


def read_json(path: Path) -> list[dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise CorpusFormatError(path, err.lineno, "valid JSON", err.msg) from None
    items = data if isinstance(data, list) else [data]
    return [_check_label(item, path, f"item {i}") for i, item in enumerate(items)]


class Tac2017(NerBuilder):
    """TAC 2017 ADR drug labels (XML or JSON), adverse reaction mentions in IOB2."""

    CORPUS = "tac2017"
    BUILDER_CONFIG_CLASS = Tac2017Config
    BUILDER_CONFIGS = [Tac2017Config(name="default")]
    DEFAULT_CONFIG_NAME = "default"
    DOWNLOAD_URLS = {"train": URL}

    def _folders(self) -> tuple[Path, Path | None]:
        root = Path(self.config.data_dir)
        train = next((p for p in (root / "train_xml", root / "train", root) if p.is_dir() and self._files(p)), None)
        if train is None:
            raise FileNotFoundError(f"tac2017: expected *.xml or *.json label files in {root}/train_xml, {root}/train or {root}")
        test = next((p for p in (root / "gold_xml", root / "test") if p.is_dir() and self._files(p)), None)
        return train, test

    @staticmethod
    def _files(folder: Path) -> list[Path]:
        return sorted([*folder.glob("*.xml"), *folder.glob("*.json")])

    def _labels(self, folder: Path) -> list[tuple[Path, dict]]:
        out = []
        for path in self._files(folder):
            items = [read_xml(path)] if path.suffix == ".xml" else read_json(path)
            out.extend((path, item) for item in items)
        return out

    def _split_generators(self, dl_manager):
        train_dir, test_dir = self._folders()
        train = self._labels(train_dir)
        if test_dir is not None:
            test = self._labels(test_dir)
            f = self.config.validation_fraction
            keys = [str(i) for i in range(len(train))]
            tr, va = seeded_split(keys, (1 - f, f), self.config.seed)
            parts = {"train": [train[int(k)] for k in sorted(tr, key=int)], "validation": [train[int(k)] for k in sorted(va, key=int)], "test": test}
        else:
            keys = [str(i) for i in range(len(train))]
            ids = seeded_split(keys, parse_fractions("8:1:1"), self.config.seed)
            parts = {n: [train[int(k)] for k in sorted(p, key=int)] for n, p in zip(("train", "validation", "test"), ids)}
        names = {"train": datasets.Split.TRAIN, "validation": datasets.Split.VALIDATION, "test": datasets.Split.TEST}
        return [datasets.SplitGenerator(name=names[s], gen_kwargs={"split": s, "labels": parts[s]}) for s in names]

    def _mentions(self, path: Path, label: dict, section: dict) -> list[tuple[int, int, str]]:
        text, out = section["text"], []
        for m in label.get("mentions", []):
            if m.get("section") != section["id"]:
                continue
            where = f"{label['drug']} mention {m.get('id', '?')}"
            starts = _int_list(m.get("start"), path, where, "start")
            lengths = _int_list(m.get("len"), path, where, "len")
            if len(starts) != len(lengths):
                raise CorpusFormatError(path, where, "as many lengths as starts", f"start={m.get('start')} len={m.get('len')}")
            fragments = [(s, s + n) for s, n in zip(starts, lengths)]
            if any(s < 0 or n <= 0 or s + n > len(text) for s, n in zip(starts, lengths)) or (
                len(fragments) == 1 and m.get("str") is not None and text[fragments[0][0] : fragments[0][1]] != m["str"]
            ):
                self.skip("offset_mismatch", where)
                continue
            etype = TYPE_NAMES.get(m["type"], m["type"])
            out.extend(self._resolve_fragments(fragments, etype, where))
        return out

    def _generate_examples(self, split: str, labels: list[tuple[Path, dict]]):
        def sentences():
            for path, label in labels:
                index = 0
                known = {s["id"] for s in label["sections"]}
                for m in label.get("mentions", []):
                    if m.get("section") not in known:
                        raise CorpusFormatError(path, f"{label['drug']} mention {m.get('id', '?')}", f"a section id among {sorted(known)}", str(m.get("section")))
                for section in label["sections"]:
                    if self.config.sections is not None and section.get("name", "").lower() not in self.config.sections:
                        continue
                    mentions = self._mentions(path, label, section)
                    doc_sentences = list(self._document_sentences(str(label["drug"]), section["text"], mentions, index))
                    index += len(doc_sentences)
                    yield from doc_sentences

        yield from self._examples_from(sentences())
        self._report(split)
