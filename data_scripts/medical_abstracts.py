"""Medical Abstracts / Disease-5 (Schopf et al., 2022): five disease classes, multi-class.

Format (github.com/sebischair/Medical-Abstracts-TC-Corpus)
    ``medical_tc_train.csv`` and ``medical_tc_test.csv`` with the header
    ``condition_label,medical_abstract``; labels 1..5. ``medical_tc_labels.csv``
    (``condition_label,condition_name``) names the classes; when it is absent the five
    published names are used.

Splits (``split``)
    ``"auto"`` (default): with a train file, the official test file is the test split and a
    seeded, class-stratified ``validation_fraction`` of the train file is held out for
    validation; with only the test file (the copy in ../shared/data), a seeded stratified
    8:1:1 split of it (logged). A ratio such as ``"8:1:1"`` (the paper's protocol) pools all
    available files and splits them seeded and stratified.

Conflicting rows
    The published files hold abstracts that occur in several rows with different classes (113 in
    the test file); they are kept, one example per row, and a warning gives their number.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import datasets

from .base import CorpusBuilder, CorpusConfig, CorpusFormatError, LabelSpace, link_downloads, parse_fractions, seeded_split
from .files import read_csv

logger = logging.getLogger(__name__)

CLASSES: dict[str, str] = {
    "neoplasms": "Neoplasms: benign and malignant tumours and cancers of any organ, their staging, chemotherapy, radiotherapy and surgery.",
    "digestive system diseases": "Diseases of the digestive system: oesophagus, stomach, intestines, liver, gallbladder and pancreas.",
    "nervous system diseases": "Diseases of the nervous system: brain, spinal cord and nerves, such as stroke, epilepsy, dementia and neuropathy.",
    "cardiovascular diseases": "Cardiovascular diseases: disorders of the heart and blood vessels, such as coronary disease, hypertension and heart failure.",
    "general pathological conditions": "General pathological conditions that do not belong to one organ system, such as infection, inflammation, shock or injury.",
}
URL = "https://raw.githubusercontent.com/sebischair/Medical-Abstracts-TC-Corpus/main/"
FILES = {"train": "medical_tc_train.csv", "test": "medical_tc_test.csv", "labels": "medical_tc_labels.csv"}


class MedicalAbstractsConfig(CorpusConfig):
    """Medical Abstracts options (see the module docstring)."""

    def __init__(self, *args: Any, split: str = "auto", validation_fraction: float = 0.1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if split != "auto":
            parse_fractions(split)  # fail early on a malformed ratio
        self.split = split
        self.validation_fraction = validation_fraction


# A line inside a quoted abstract that starts like a record ("3,") means a quote was left open.
RECORD_START = r"\s*\d+\s*,"


def read_label_names(path: Path, encoding: str = "utf-8") -> list[str]:
    """Class names from ``medical_tc_labels.csv`` in label-id order (ids must be 1..n)."""
    names: dict[int, str] = {}
    rows = read_csv(path, encoding, RECORD_START)
    line, header = next(rows, (1, None))
    if header != ["condition_label", "condition_name"]:
        raise CorpusFormatError(path, 1, "the header condition_label,condition_name", ",".join(header or []))
    for line, row in rows:
        if len(row) != 2 or not row[0].strip().isdigit():
            raise CorpusFormatError(path, line, "<integer id>,<name>", ",".join(row))
        names[int(row[0])] = row[1].strip()
    if sorted(names) != list(range(1, len(names) + 1)):
        raise CorpusFormatError(path, None, "class ids 1..n without gaps", str(sorted(names)))
    return [names[i] for i in range(1, len(names) + 1)]


def read_abstracts(path: Path, n_classes: int, encoding: str = "utf-8") -> list[tuple[str, int, str]]:
    """``[(id, 0-based class, text)]`` of one CSV file; ids are ``<file stem>-<row number>``.

    Quoting is checked (:func:`labelwise.data_scripts.files.read_csv`): an unbalanced quote or a
    file cut inside a quoted abstract raises an error naming the line."""
    out = []
    rows = read_csv(path, encoding, RECORD_START)
    _, header = next(rows, (1, None))
    if header != ["condition_label", "medical_abstract"]:
        raise CorpusFormatError(path, 1, "the header condition_label,medical_abstract", ",".join(header or []))
    for i, (line, row) in enumerate(rows, 1):
        if len(row) != 2:
            raise CorpusFormatError(path, line, "2 fields condition_label,medical_abstract", f"{len(row)} fields")
        label = row[0].strip()
        if not label.isdigit() or not 1 <= int(label) <= n_classes:
            raise CorpusFormatError(path, line, f"condition_label in 1..{n_classes}", label)
        out.append((f"{path.stem}-{i}", int(label) - 1, row[1]))
    return out


def conflicting_labels(rows: list[tuple[str, int, str]]) -> list[list[tuple[str, int]]]:
    """Abstracts that occur in several rows with different classes: for each, its ``(row id, class)`` pairs.

    Texts are compared with their whitespace normalised, as the model sees them."""
    by_text: dict[str, list[tuple[str, int]]] = {}
    for key, label, text in rows:
        by_text.setdefault(" ".join(text.split()), []).append((key, label))
    return [found for text, found in by_text.items() if text and len({label for _, label in found}) > 1]


def warn_conflicting_labels(rows: list[tuple[str, int, str]], names: list[str]) -> None:
    """Log how many abstracts carry two or more classes (the published files have such rows): as
    multi-class examples they teach and score contradicting answers."""
    conflicts = conflicting_labels(rows)
    if conflicts:
        first = conflicts[0]
        example = ", ".join(f"{key} ({names[label]})" for key, label in first[:3])
        logger.warning(
            "medical_abstracts: %d abstract(s) occur in several rows with different classes, e.g. %s. They are kept "
            "as they are (one example per row), so the same text is trained and scored with contradicting "
            "classes; a multi-class model can be right on at most one of them.",
            len(conflicts), example,
        )


class MedicalAbstracts(CorpusBuilder):
    """Medical Abstracts (Disease-5): abstracts in five disease classes, multi-class."""

    CORPUS = "medical_abstracts"
    BUILDER_CONFIG_CLASS = MedicalAbstractsConfig
    BUILDER_CONFIGS = [MedicalAbstractsConfig(name="default")]
    DEFAULT_CONFIG_NAME = "default"
    DOWNLOAD_URLS = {k: URL + v for k, v in FILES.items()}

    def _path(self, key: str) -> Path:
        return Path(self.config.data_dir) / FILES[key]

    def _build_label_space(self) -> LabelSpace:
        label_file = self._path("labels")
        names = read_label_names(label_file, self.config.encoding) if label_file.exists() else list(CLASSES)
        unknown = [n for n in names if n not in CLASSES]
        if unknown:
            raise CorpusFormatError(label_file, None, f"the five class names {list(CLASSES)}", str(unknown))
        return LabelSpace("multi_class", names, [CLASSES[n] for n in names])

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=self.__doc__, features=self.classification_features(), homepage="https://github.com/sebischair/Medical-Abstracts-TC-Corpus")

    def _arrange_download(self, paths: dict[str, str]) -> str:
        return link_downloads(paths, FILES, "medical_abstracts_")

    def _split_generators(self, dl_manager):
        n = self.label_space().num_labels
        test_path, train_path = self._path("test"), self._path("train")
        if not test_path.exists():
            raise FileNotFoundError(f"medical_abstracts: expected {test_path}")
        test = read_abstracts(test_path, n, self.config.encoding)
        train = read_abstracts(train_path, n, self.config.encoding) if train_path.exists() else []
        warn_conflicting_labels(train + test, self.label_space().names)
        seed = self.config.seed
        if self.config.split == "auto" and train:
            f = self.config.validation_fraction
            tr_ids, va_ids = seeded_split([r[0] for r in train], (1 - f, f), seed, strata=[r[1] for r in train])
            by_id = {r[0]: r for r in train}
            parts = {"train": [by_id[i] for i in tr_ids], "validation": [by_id[i] for i in va_ids], "test": test}
        else:
            if self.config.split == "auto":
                logger.warning("medical_abstracts: no %s in %s; splitting the test file 8:1:1 (seed %d)", FILES["train"], self.config.data_dir, seed)
            pool = train + test
            ratio = parse_fractions("8:1:1" if self.config.split == "auto" else self.config.split)
            by_id = {r[0]: r for r in pool}
            ids = seeded_split([r[0] for r in pool], ratio, seed, strata=[r[1] for r in pool])
            parts = {name: [by_id[i] for i in part] for name, part in zip(("train", "validation", "test"), ids)}
        names = {"train": datasets.Split.TRAIN, "validation": datasets.Split.VALIDATION, "test": datasets.Split.TEST}
        return [datasets.SplitGenerator(name=names[s], gen_kwargs={"split": s, "rows": parts[s]}) for s in names]

    def _generate_examples(self, split: str, rows: list[tuple[str, int, str]]):
        for key, label, text in rows:
            if not text.strip():
                self.skip("empty_document", key)
                continue
            yield key, {"id": key, "text": text.strip(), "labels": label}
        self._report(split)
