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
:mod:`ner_base`). An element inside a section's text (e.g. ``<sup>``) is read as text: the
section text is all the text inside ``<Section>`` (counted as ``inline_xml_in_section``).
The same content as JSON (``*.json``: one object or a list) is accepted::

    {"drug": "...", "sections": [{"id": "S1", "name": "...", "text": "..."}],
     "mentions": [{"id": "M1", "section": "S1", "type": "AdverseReaction",
                   "start": "120" | 120 | [10, 40], "len": ..., "str": "..."}]}

OnSIDES JSON (the TAC 2017 annotations as redistributed by the OnSIDES project,
``demner-fushman-{train,test}-labels.json``): a list of records, one per drug-label section,
``{"label_id", "section_name", "section_text", "adverse_events"}``, each event an 8-item list
``[term (lower-cased), MedDRA PT, PT id, LLT, LLT id, start, length, source]`` with ``start`` and
``length`` as strings; ``start`` may be null (counted as ``event_without_offset``). Records of
one ``label_id`` form one drug label; events are ``AdverseReaction`` mentions.

Entity types: ``AdverseReaction`` is tagged ``ADR``; the other TAC types (``Severity``,
``Factor``, ``DrugClass``, ``Negation``, ``Animal``) keep their names and are tagged when
listed in ``entity_types``. Each fragment is checked against the section text (for a
continuous mention, also against ``str``): a string that differs only by case is accepted and
counted (``offset_case_mismatch``), any other mismatch skips the mention (``offset_mismatch``).
``sections`` limits which sections are read (by name, e.g. ``["adverse reactions"]``).
Sentences and tokens: :mod:`ner_utils`.

Splits: ``train_xml/`` (or ``train/``) and ``gold_xml/`` (or ``test/``) under ``data_dir``. In
a folder of files, a file whose name says ``test`` or ``gold`` (``dev``/``valid``) is the
official test (validation) split, never pooled into training: so both OnSIDES files in one
folder give the official train/test split. A seeded ``validation_fraction`` of the training
labels is held out when no validation file exists; without any test file, a seeded 8:1:1
split by drug label. A drug label seen twice (in a split or across splits) is an error unless
``duplicates="drop"``. Two folders with label files for one split (``train_xml/`` and ``train/``, or
label files in ``train/`` and in ``data_dir`` itself) are an error naming both, unless ``split_files``
says which to read, e.g. ``split_files={"train": "train_xml"}`` (``"."``: ``data_dir`` itself).
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import datasets

from .base import CorpusFormatError, parse_fractions, seeded_split
from .files import read_json as read_json_file
from .files import read_text
from .ner_base import NerBuilder, NerConfig
from .split_files import HERE, choose_split_file, split_files_option

logger = logging.getLogger(__name__)

TYPE_NAMES = {"AdverseReaction": "ADR"}
URL = "https://bionlp.nlm.nih.gov/tac2017adversereactions/train_xml.tar.gz"
ONSIDES_FIELDS = ("label_id", "section_name", "section_text", "adverse_events")
# A file-name word that names an official split ("demner-fushman-test-labels.json", "gold_xml").
_ROLE_WORD = re.compile(r"(?<![a-z])(train|training|dev|devel|valid|validation|test|testing|gold)(?![a-z])")
_ROLES = {"train": "train", "training": "train", "dev": "validation", "devel": "validation", "valid": "validation",
          "validation": "validation", "test": "test", "testing": "test", "gold": "test"}


class Tac2017Config(NerConfig):
    """TAC 2017 options: ``sections`` (names to read, ``None`` = all), ``validation_fraction``,
    ``split_files`` (``{"train"|"test": folder name}``) where two folders could hold one split."""

    def __init__(
        self,
        *args: Any,
        sections: list[str] | tuple[str, ...] | None = None,
        validation_fraction: float = 0.1,
        split_files: dict | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.sections = None if sections is None else tuple(s.lower() for s in sections)
        self.validation_fraction = validation_fraction
        self.split_files = split_files_option(split_files, "tac2017")


def _int_list(value: Any, path: Path, where: str, field: str) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        return list(value)
    try:
        return [int(v) for v in str(value).split(",")]
    except ValueError:
        raise CorpusFormatError(path, where, f"'{field}' as integers (comma-separated for discontinuous mentions)", str(value)) from None


def _check_label(data: Any, path: Path, where: str) -> dict:
    """A label in our JSON form with every field a builder reads checked."""
    if not isinstance(data, dict) or not isinstance(data.get("sections"), list) or not isinstance(data.get("mentions", []), list):
        raise CorpusFormatError(path, where, "an object with a list 'sections' and a list 'mentions'", str(data)[:100])
    if not isinstance(data.get("drug"), (str, int)) or isinstance(data.get("drug"), bool) or str(data["drug"]).strip() == "":
        raise CorpusFormatError(path, f"{where}, field 'drug'", "the drug name as a non-empty string", repr(data.get("drug")))
    for i, sec in enumerate(data["sections"]):
        if not isinstance(sec, dict) or not all(isinstance(sec.get(k), str) for k in ("id", "text")):
            raise CorpusFormatError(path, f"{where}, section {i}", "an object with string 'id' and 'text'", str(sec)[:100])
    for i, m in enumerate(data.get("mentions", [])):
        name = f"{data['drug']} mention {m.get('id', i) if isinstance(m, dict) else i}"
        if not isinstance(m, dict):
            raise CorpusFormatError(path, name, "an object with section, type, start, len", str(m)[:100])
        for key in ("section", "type", "start", "len"):
            if key not in m:
                raise CorpusFormatError(path, f"{name}, field '{key}'", f"the field '{key}' in every mention", str(m)[:100])
        if not isinstance(m["type"], str):
            raise CorpusFormatError(path, f"{name}, field 'type'", "a type name (string)", repr(m["type"]))
    return data


def read_xml(path: Path, encoding: str = "utf-8") -> dict:
    """One TAC label file as ``{"drug", "sections", "mentions"}`` (the JSON form); sections
    holding inline elements list their tags under ``"inline"``."""
    text = read_text(path, encoding)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise CorpusFormatError(path, err.position[0], "well-formed XML", str(err)) from None
    if root.tag != "Label":
        raise CorpusFormatError(path, None, "a <Label> root element", f"<{root.tag}>")
    sections = []
    for sec in root.iter("Section"):
        # itertext: the text after an inline element (<sup>, <b>, ...) belongs to the section too.
        entry = {"id": sec.get("id", ""), "name": sec.get("name", ""), "text": "".join(sec.itertext())}
        if len(sec):
            entry["inline"] = sorted({child.tag for child in sec.iter() if child is not sec})
        sections.append(entry)
    mentions = []
    for m in root.iter("Mention"):
        missing = [k for k in ("section", "type", "start", "len") if m.get(k) is None]
        if missing:
            raise CorpusFormatError(path, f"mention {m.get('id', '?')}", f"attributes section, type, start, len (missing {', '.join(missing)})")
        mentions.append(dict(m.attrib))
    return _check_label({"drug": root.get("drug", path.stem), "sections": sections, "mentions": mentions}, path, "label")


def from_onsides(records: list, path: Path) -> list[dict]:
    """OnSIDES section records -> labels in our JSON form, one per ``label_id`` (first-seen order)."""
    labels: dict[str, dict] = {}
    for i, rec in enumerate(records):
        where = f"record {i}"
        if not isinstance(rec, dict):
            raise CorpusFormatError(path, where, "an object with " + ", ".join(ONSIDES_FIELDS), str(rec)[:100])
        for key in ONSIDES_FIELDS:
            if key not in rec:
                raise CorpusFormatError(path, f"{where}, field '{key}'", "the OnSIDES fields " + ", ".join(ONSIDES_FIELDS), str(rec)[:100])
        if not isinstance(rec["section_text"], str) or not isinstance(rec["adverse_events"], list):
            raise CorpusFormatError(path, f"{where} (label {rec['label_id']})", "'section_text' a string and 'adverse_events' a list", str(rec)[:100])
        drug = str(rec["label_id"])
        label = labels.setdefault(drug, {"drug": drug, "sections": [], "mentions": []})
        sid = f"S{len(label['sections']) + 1}"
        label["sections"].append({"id": sid, "name": str(rec["section_name"] or ""), "text": rec["section_text"]})
        for j, event in enumerate(rec["adverse_events"]):
            if not isinstance(event, list) or len(event) != 8:
                raise CorpusFormatError(
                    path, f"{where} (label {drug}), adverse_events[{j}]",
                    "an 8-item list [term, MedDRA PT, PT id, LLT, LLT id, start, length, source]", str(event)[:100],
                )
            term, start, length = event[0], event[5], event[6]
            label["mentions"].append({"id": f"{sid}.E{j}", "section": sid, "type": "AdverseReaction", "start": start, "len": length, "str": term})
    return list(labels.values())


def read_json(path: Path, encoding: str = "utf-8") -> list[dict]:
    """Labels of a JSON file in our form or in the OnSIDES form (detected by its fields)."""
    data = read_json_file(path, encoding)
    items = data if isinstance(data, list) else [data]
    if items and isinstance(items[0], dict) and "section_text" in items[0]:
        return [_check_label(item, path, f"label {item['drug']}") for item in from_onsides(items, path)]
    return [_check_label(item, path, f"item {i}") for i, item in enumerate(items)]


def file_role(path: Path) -> str | None:
    """``"train"``, ``"validation"`` or ``"test"`` when the file name says so, else None."""
    roles = {_ROLES[w] for w in _ROLE_WORD.findall(path.stem.lower())}
    return roles.pop() if len(roles) == 1 else None


class Tac2017(NerBuilder):
    """TAC 2017 ADR drug labels (XML or JSON), adverse reaction mentions in IOB2."""

    CORPUS = "tac2017"
    BUILDER_CONFIG_CLASS = Tac2017Config
    BUILDER_CONFIGS = [Tac2017Config(name="default")]
    DEFAULT_CONFIG_NAME = "default"
    DOWNLOAD_URLS = {"train": URL}

    @staticmethod
    def _files(folder: Path) -> list[Path]:
        return sorted([*folder.glob("*.xml"), *folder.glob("*.json")])

    def _split_files(self) -> dict[str, list[Path]]:
        """Files of each official split (empty lists where the corpus has none)."""
        root = Path(self.config.data_dir)
        holds_labels = lambda folder: folder.is_dir() and bool(self._files(folder))  # noqa: E731
        chosen = self.config.split_files
        train = choose_split_file(root, "train", ("train_xml", "train", HERE), "tac2017", chosen, holds_labels)
        if train is None:
            raise FileNotFoundError(f"tac2017: expected *.xml or *.json label files in {root}/train_xml, {root}/train or {root}")
        test = choose_split_file(root, "test", ("gold_xml", "test"), "tac2017", chosen, holds_labels)
        out: dict[str, list[Path]] = {"train": [], "validation": [], "test": self._files(test) if test else []}
        for path in self._files(train):
            role = file_role(path) if train == root else None
            if role in ("test", "validation") and test is not None:
                raise FileNotFoundError(
                    f"tac2017: {path} is named as a {role} file but sits with the training files while {test} holds the "
                    "test split; move it, so that no official test file is read as training data"
                )
            out[role if role in ("test", "validation") else "train"].append(path)
        named = [p.name for p in out["test"] + out["validation"] if p.parent == train]
        if named:
            logger.info("tac2017: official split from the file names: %s not read as training data", ", ".join(named))
        return out

    def _labels(self, files: list[Path]) -> list[tuple[Path, dict]]:
        out = []
        for path in files:
            items = [read_xml(path, self.config.encoding)] if path.suffix == ".xml" else read_json(path, self.config.encoding)
            out.extend((path, item) for item in items)
        return out

    def _unique(self, labels: list[tuple[Path, dict]], split: str) -> list[tuple[Path, dict]]:
        return [(p, lab) for p, lab in labels if self._register_id(str(lab["drug"]), split, p.name)]

    def _split_generators(self, dl_manager):
        files = self._split_files()
        self._reset_ids()
        train = self._unique(self._labels(files["train"]), "train")
        validation = self._unique(self._labels(files["validation"]), "validation")
        test = self._unique(self._labels(files["test"]), "test")
        keys = [str(i) for i in range(len(train))]
        pick = lambda part: [train[int(k)] for k in sorted(part, key=int)]  # noqa: E731
        if files["test"] or files["validation"]:
            if not files["validation"]:
                f = self.config.validation_fraction
                tr, va = seeded_split(keys, (1 - f, f), self.config.seed)
                train, validation = pick(tr), pick(va)
            parts = {"train": train, "validation": validation, "test": test}
        else:
            ids = seeded_split(keys, parse_fractions("8:1:1"), self.config.seed)
            parts = {n: pick(p) for n, p in zip(("train", "validation", "test"), ids)}
        names = {"train": datasets.Split.TRAIN, "validation": datasets.Split.VALIDATION, "test": datasets.Split.TEST}
        return [datasets.SplitGenerator(name=names[s], gen_kwargs={"split": s, "labels": parts[s]}) for s in names]

    def _mentions(self, path: Path, label: dict, section: dict) -> list[tuple[int, int, str]]:
        text, out = section["text"], []
        for m in label.get("mentions", []):
            if m.get("section") != section["id"]:
                continue
            where = f"{label['drug']} mention {m.get('id', '?')}"
            if m.get("start") is None or m.get("len") is None:
                self.skip("event_without_offset", where)
                continue
            starts = _int_list(m.get("start"), path, where, "start")
            lengths = _int_list(m.get("len"), path, where, "len")
            if len(starts) != len(lengths):
                raise CorpusFormatError(path, where, "as many lengths as starts", f"start={m.get('start')} len={m.get('len')}")
            fragments = [(s, s + n) for s, n in zip(starts, lengths)]
            if any(s < 0 or n <= 0 or s + n > len(text) for s, n in zip(starts, lengths)):
                self.skip("offset_mismatch", where)
                continue
            if len(fragments) == 1 and not self.check_mention(text[fragments[0][0] : fragments[0][1]], m.get("str"), where):
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
                    if section.get("inline"):
                        self.skips.add("inline_xml_in_section", f"{label['drug']} {section['id']} <{'>, <'.join(section['inline'])}>")
                    mentions = self._mentions(path, label, section)
                    doc_sentences = list(self._document_sentences(str(label["drug"]), section["text"], mentions, index))
                    index += len(doc_sentences)
                    yield from doc_sentences

        yield from self._examples_from(sentences())
        self._report(split)
