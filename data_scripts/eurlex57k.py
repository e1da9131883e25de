"""EURLEX57K (Chalkidis et al., 2019): EU legislation tagged with EUROVOC concepts.

Format
    One JSON per document in ``train/``, ``dev/`` and ``test/`` with ``celex_id, uri, type,
    concepts, title, header, recitals, main_body (a list of strings), attachments``, and
    ``EURLEX57K.json``: ``{concept_id: {"concept_id", "label", "alt_labels", "parents"}}``.
    A concept may have several parents.

Labels
    Concept ids; the description of a concept is its EUROVOC ``label`` (with
    ``alt_labels`` appended when ``descriptions="label+alt"``). ``label_set="all"`` (default)
    uses every concept of ``EURLEX57K.json``; ``"used"`` only concepts assigned to some
    document of the corpus; ``"train"`` only those of the training documents (others are then
    removed from documents and counted as ``label_not_in_train``); the label space's hierarchy
    is then the one induced on that set (:meth:`Hierarchy.restrict`).

Hierarchy
    From the ``parents`` lists; levels by the rule of :class:`Hierarchy` (1 + min over
    parents). ``min_level`` / ``max_level`` truncate it (the paper dropped the deepest
    levels): document labels then move to their nearest kept ancestors.
    ``augment=True`` adds all ancestors to every document's labels.
    A document concept missing from ``EURLEX57K.json`` raises an error unless
    ``on_unknown_label="skip"`` (then it is removed and counted).

Text
    ``text_fields`` (default title, header, recitals, main_body) joined by newlines. Each
    field must be a string, a list of strings or null; anything else (an object, a number)
    is an error naming the file and the field.

Documents
    A ``celex_id`` seen twice (in one split or in two) is an error unless
    ``duplicates="drop"`` (the first occurrence in the order train, dev, test is kept).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets

from .base import CorpusBuilder, CorpusConfig, CorpusFormatError, LabelSpace, link_downloads
from .files import read_json
from .hierarchy import Hierarchy
from .split_files import HERE, choose_path

URLS = {
    "documents": "http://nlp.cs.aueb.gr/software_and_datasets/EURLEX57K/datasets.zip",
    "concepts": "http://nlp.cs.aueb.gr/software_and_datasets/EURLEX57K/eurovoc_en.json",
}
TEXT_FIELDS = ("title", "header", "recitals", "main_body", "attachments")
SPLIT_DIRS = {"train": "train", "validation": "dev", "test": "test"}


class Eurlex57kConfig(CorpusConfig):
    """EURLEX57K options (see the module docstring)."""

    def __init__(
        self,
        *args: Any,
        text_fields: tuple[str, ...] | list[str] = ("title", "header", "recitals", "main_body"),
        label_set: str = "all",
        descriptions: str = "label",
        min_level: int = 1,
        max_level: int | None = None,
        augment: bool = False,
        on_unknown_label: str = "error",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        bad = [f for f in text_fields if f not in TEXT_FIELDS]
        if bad or not text_fields:
            raise ValueError(f"eurlex57k: text_fields must be a non-empty subset of {TEXT_FIELDS}, got {list(text_fields)}")
        if label_set not in ("all", "used", "train"):
            raise ValueError(f"eurlex57k: label_set must be 'all', 'used' or 'train', got {label_set!r}")
        if descriptions not in ("label", "label+alt"):
            raise ValueError(f"eurlex57k: descriptions must be 'label' or 'label+alt', got {descriptions!r}")
        if on_unknown_label not in ("error", "skip"):
            raise ValueError(f"eurlex57k: on_unknown_label must be 'error' or 'skip', got {on_unknown_label!r}")
        self.text_fields = tuple(text_fields)
        self.label_set, self.descriptions = label_set, descriptions
        self.min_level, self.max_level, self.augment = min_level, max_level, augment
        self.on_unknown_label = on_unknown_label


def read_concepts(path: Path, encoding: str = "utf-8") -> dict[str, dict]:
    """EUROVOC concepts ``{id: {"label", "alt_labels", "parents"}}`` with their fields checked."""
    data = read_json(path, encoding)
    if not isinstance(data, dict):
        raise CorpusFormatError(path, None, "a JSON object {concept_id: concept}", type(data).__name__)
    for cid, concept in data.items():
        if not isinstance(concept, dict) or not isinstance(concept.get("label"), str) or not isinstance(concept.get("parents", []), list):
            raise CorpusFormatError(path, f"concept {cid}", "an object with a string 'label' and a list 'parents'", str(concept)[:100])
    return data


def read_document(path: Path, encoding: str = "utf-8") -> dict:
    """One document, with ``celex_id``, ``concepts`` and the text fields checked."""
    doc = read_json(path, encoding)
    if not isinstance(doc, dict) or not isinstance(doc.get("concepts"), list) or "celex_id" not in doc:
        raise CorpusFormatError(path, None, "an object with 'celex_id' and a list 'concepts'", str(doc)[:100])
    where = f"document {doc['celex_id']}"
    for i, cid in enumerate(doc["concepts"]):
        if not isinstance(cid, (str, int)) or isinstance(cid, bool):
            raise CorpusFormatError(path, f"{where}, field 'concepts' item {i}", "a concept id (string)", repr(cid))
    # EURLEX57K.json's keys are strings: an id written as a number is the same concept.
    doc["concepts"] = [str(cid) for cid in doc["concepts"]]
    for field in TEXT_FIELDS:
        value = doc.get(field)
        if value is None or isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            continue
        shown = type(value).__name__ if not isinstance(value, list) else "a list holding " + ", ".join(sorted({type(v).__name__ for v in value if not isinstance(v, str)}))
        raise CorpusFormatError(path, f"{where}, field '{field}'", "a string, a list of strings or null", shown)
    return doc


def document_text(doc: dict, fields: tuple[str, ...]) -> str:
    """The chosen text fields of a checked document, joined by newlines."""
    parts = []
    for field in fields:
        value = doc.get(field) or ""
        parts.append("\n".join(value) if isinstance(value, list) else value)
    return "\n".join(p.strip() for p in parts if p and p.strip())


class Eurlex57k(CorpusBuilder):
    """EURLEX57K documents with EUROVOC concepts and their hierarchy."""

    CORPUS = "eurlex57k"
    TASK = "hierarchical"
    BUILDER_CONFIG_CLASS = Eurlex57kConfig
    BUILDER_CONFIGS = [Eurlex57kConfig(name="default")]
    DEFAULT_CONFIG_NAME = "default"
    DOWNLOAD_URLS = URLS

    def _folder(self) -> Path:
        root = Path(self.config.data_dir)
        folder = choose_path(
            root, (HERE, "dataset", "EURLEX57K"), "eurlex57k", "the documents folder with train/",
            "point data_dir at the one to read, or move the other away", accept=lambda cand: (cand / "train").is_dir(),
        )
        if folder is not None:
            return folder
        raise FileNotFoundError(f"eurlex57k: expected train/ dev/ test/ folders in {root}")

    def _concepts_path(self) -> Path:
        root = Path(self.config.data_dir)
        inner = str(self._folder().relative_to(root))
        path = choose_path(
            root, ("EURLEX57K.json", f"{inner}/EURLEX57K.json", "eurovoc_en.json"), "eurlex57k",
            "the EUROVOC concepts file", "keep the one to read and move the others away",
        )
        if path is not None:
            return path
        raise FileNotFoundError(f"eurlex57k: expected EURLEX57K.json in {self.config.data_dir}")

    def _arrange_download(self, paths: dict[str, str]) -> str:
        folder = Path(link_downloads({"concepts": paths["concepts"]}, {"concepts": "EURLEX57K.json"}, "eurlex57k_"))
        extracted = Path(paths["documents"])
        inner = extracted / "dataset" if (extracted / "dataset").is_dir() else extracted
        for split in SPLIT_DIRS.values():
            (folder / split).symlink_to(inner / split, target_is_directory=True)
        return str(folder)

    def _paths(self, split: str) -> list[Path]:
        folder = self._folder() / SPLIT_DIRS[split]
        if not folder.is_dir():
            raise FileNotFoundError(f"eurlex57k: expected the folder {folder}")
        return sorted(folder.glob("*.json"))

    def _build_label_space(self) -> LabelSpace:
        concepts = read_concepts(self._concepts_path(), self.config.encoding)
        full = Hierarchy({cid: c.get("parents", []) for cid, c in concepts.items()})
        hierarchy = full
        if self.config.min_level != 1 or self.config.max_level is not None:
            hierarchy = full.truncate(self.config.min_level, self.config.max_level)
        names = hierarchy.labels
        if self.config.label_set != "all":
            splits = ["train"] if self.config.label_set == "train" else list(SPLIT_DIRS)
            used: set[str] = set()
            for split in splits:
                for path in self._paths(split):
                    for cid in read_document(path, self.config.encoding)["concepts"]:
                        if cid in full:
                            used.update(hierarchy.map_label(cid))
            if self.config.augment:
                used = set(hierarchy.augment(used))
            names = [n for n in names if n in used]
        # Documents are mapped with the unrestricted hierarchy (a label outside the set is
        # removed, not moved to an ancestor); the label space carries the induced hierarchy.
        self._mapping_hierarchy = hierarchy
        if len(names) < len(hierarchy):
            hierarchy = hierarchy.restrict(names)
        descriptions = []
        for cid in names:
            text = concepts[cid]["label"]
            alts = concepts[cid].get("alt_labels") or []
            if self.config.descriptions == "label+alt" and alts:
                text += " (" + "; ".join(alts) + ")"
            descriptions.append(text)
        return LabelSpace("hierarchical", names, descriptions, hierarchy)

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=self.__doc__, features=self.classification_features(), homepage="http://nlp.cs.aueb.gr/software_and_datasets/EURLEX57K/")

    def _split_generators(self, dl_manager):
        self._reset_ids()
        names = {"train": datasets.Split.TRAIN, "validation": datasets.Split.VALIDATION, "test": datasets.Split.TEST}
        return [datasets.SplitGenerator(name=names[s], gen_kwargs={"split": s, "paths": self._paths(s)}) for s in names]

    def _generate_examples(self, split: str, paths: list[Path]):
        space = self.label_space()
        hierarchy, allowed = self._mapping_hierarchy, set(space.names)
        for path in paths:
            doc = read_document(path, self.config.encoding)
            if not self._register_id(doc["celex_id"], split, f"{path.parent.name}/{path.name}"):
                continue
            text = document_text(doc, self.config.text_fields)
            if not text:
                self.skip("empty_document", path.name)
                continue
            labels: list[str] = []
            for cid in doc["concepts"]:
                try:
                    labels.extend(hierarchy.map_label(cid))
                except ValueError:
                    if self.config.on_unknown_label == "error":
                        raise CorpusFormatError(path, f"document {doc['celex_id']}", "concepts listed in EURLEX57K.json (or on_unknown_label='skip')", cid) from None
                    self.skips.add("unknown_concept", f"{doc['celex_id']}:{cid}")
            if self.config.augment:
                labels = hierarchy.augment(labels)
            kept = list(dict.fromkeys(label for label in labels if label in allowed))
            if len(kept) < len(set(labels)):
                reason = "label_not_in_train" if self.config.label_set == "train" else "label_outside_label_set"
                self.skips.add(reason, doc["celex_id"])
            yield doc["celex_id"], {"id": str(doc["celex_id"]), "text": text, "labels": kept}
        self._report(split)
