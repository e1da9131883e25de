"""MIMIC-III discharge summaries with ICD-9 codes, read from the user's credentialed copy.

MIMIC-III is restricted (PhysioNet credentialing), so nothing is downloaded: ``data_dir``
must hold ``NOTEEVENTS``, ``DIAGNOSES_ICD`` and ``PROCEDURES_ICD`` as ``.csv`` or
``.csv.gz``, in the official column layout.

Documents
    One per admission (``HADM_ID``): all of its ``Discharge summary`` notes (report and
    addenda, ``ISERROR`` rows excluded) in ``CHARTDATE, ROW_ID`` order, joined by blank lines.
    Its labels are the admission's diagnosis and procedure codes, dotted as in
    ``ICD9_descriptions`` (:func:`icd9.format_code`). Admissions without a discharge summary
    or without codes are skipped and counted.

Labels (``label_set``)
    ``"used"`` (default): codes of the selected admissions; ``"top50"``: the 50 most
    frequent codes (ties by code), other codes are removed; ``"all"``: every code of
    ``ICD9_descriptions``. ``augment=True`` adds all ancestors (ranges included) to the
    labels. ``min_level`` / ``max_level`` truncate the tree (the paper: ``min_level=2``
    drops the ``@`` root level).

Hierarchy and descriptions
    From ``ICD9_descriptions`` (``icd9_descriptions`` option; default
    ``<data_dir>/ICD9_descriptions``), tree rebuilt by range containment
    (:mod:`labelwise.data_scripts.icd9`). A code missing from it is attached below its longest
    known prefix or smallest containing range and counted (``on_unknown_code="attach"``,
    default), or raises (``"error"``).

Splits
    CAML's id lists (``{train,dev,test}_{full,50}_hadm_ids.csv``) in ``split_dir`` (default:
    ``data_dir``) when present, with ``caml_setting="full"`` or ``"50"``; otherwise a seeded
    8:1:1 split by patient (``SUBJECT_ID``), so no patient is in two splits. An admission listed
    twice, or in two lists, is an error unless ``duplicates="drop"``.

Bad input
    CSV quoting is checked: an unbalanced quote (which would merge the following notes into
    one) or a file cut inside a quoted note raises an error naming the line; so does a
    truncated ``.csv.gz``. ``encoding`` (default ``"utf-8"``) sets the text encoding.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import datasets
from tqdm.auto import tqdm

from .base import CorpusBuilder, CorpusConfig, CorpusFormatError, LabelSpace, parse_fractions, seeded_split
from .files import iter_lines, read_csv
from .hierarchy import Hierarchy
from .icd9 import build_tree, format_code, parent_for_unknown, read_descriptions
from .split_files import choose_path

logger = logging.getLogger(__name__)
ICD9_URL = "https://raw.githubusercontent.com/jamesmullenbach/caml-mimic/master/mimicdata/ICD9_descriptions"


class Mimic3Config(CorpusConfig):
    """MIMIC-III options (see the module docstring)."""

    def __init__(
        self,
        *args: Any,
        icd9_descriptions: str | None = None,
        split_dir: str | None = None,
        caml_setting: str = "full",
        label_set: str = "used",
        augment: bool = False,
        min_level: int = 1,
        max_level: int | None = None,
        on_unknown_code: str = "attach",
        split_ratio: str = "8:1:1",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if caml_setting not in ("full", "50"):
            raise ValueError(f"mimic3: caml_setting must be 'full' or '50', got {caml_setting!r}")
        if label_set not in ("used", "top50", "all"):
            raise ValueError(f"mimic3: label_set must be 'used', 'top50' or 'all', got {label_set!r}")
        if on_unknown_code not in ("attach", "error"):
            raise ValueError(f"mimic3: on_unknown_code must be 'attach' or 'error', got {on_unknown_code!r}")
        self.icd9_descriptions, self.split_dir, self.caml_setting = icd9_descriptions, split_dir, caml_setting
        self.label_set, self.augment, self.min_level, self.max_level = label_set, augment, min_level, max_level
        self.on_unknown_code, self.split_ratio = on_unknown_code, split_ratio


# How a record of each table begins (ROW_ID,SUBJECT_ID,HADM_ID[,CHARTDATE]): a line like this
# inside a quoted note means an unbalanced quote has swallowed the following records.
RECORD_START = {
    "NOTEEVENTS": r'"?\d+"?,"?\d+"?,"?\d*"?,"?\d{4}-\d{2}-\d{2}',
    "DIAGNOSES_ICD": r'"?\d+"?,"?\d+"?,',
    "PROCEDURES_ICD": r'"?\d+"?,"?\d+"?,',
}


def _table_path(folder: Path, name: str) -> Path:
    path = choose_path(
        folder, (f"{name}.csv", f"{name}.csv.gz"), "mimic3", f"the {name} table",
        "keep one (the other may be a partial copy) and move the other away",
    )
    if path is not None:
        return path
    raise FileNotFoundError(f"mimic3: expected {name}.csv or {name}.csv.gz in {folder} (your local MIMIC-III copy)")


def _rows(folder: Path, name: str, required: tuple[str, ...], encoding: str = "utf-8") -> Iterator[tuple[Path, int, dict[str, str]]]:
    """Rows of a MIMIC table as dicts, checking the header, each row's field count and the
    quoting (:func:`labelwise.data_scripts.files.read_csv`; a truncated ``.gz`` is reported too)."""
    path = _table_path(folder, name)
    reader = read_csv(path, encoding, RECORD_START.get(name))
    _, header = next(reader, (1, []))
    header = [h.strip().upper() for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        raise CorpusFormatError(path, 1, f"a header with the columns {', '.join(required)}", ",".join(header))
    for line, row in reader:
        if len(row) != len(header):
            raise CorpusFormatError(path, line, f"{len(header)} fields as in the header", f"{len(row)} fields")
        yield path, line, dict(zip(header, row))


class Mimic3(CorpusBuilder):
    """MIMIC-III discharge summaries with ICD-9 diagnosis and procedure codes (local copy only)."""

    CORPUS = "mimic3"
    TASK = "hierarchical"
    BUILDER_CONFIG_CLASS = Mimic3Config
    BUILDER_CONFIGS = [Mimic3Config(name="default")]
    DEFAULT_CONFIG_NAME = "default"
    DOWNLOAD_URLS = None  # credentialed data: the base class explains that data_dir is needed

    # ------------------------------------------------------------------ codes and tree
    def _codes(self) -> dict[str, list[str]]:
        """``{hadm_id: [dotted codes]}`` (diagnoses in SEQ_NUM order, then procedures)."""
        if getattr(self, "_codes_cache", None) is None:
            folder = Path(self.config.data_dir)
            codes: dict[str, list[tuple[int, int, str]]] = {}
            for kind, table in ((0, "DIAGNOSES_ICD"), (1, "PROCEDURES_ICD")):
                for path, line, row in _rows(folder, table, ("HADM_ID", "SEQ_NUM", "ICD9_CODE"), self.config.encoding):
                    raw = row["ICD9_CODE"].strip()
                    if not raw:
                        continue  # MIMIC has a few rows without a code
                    if not row["HADM_ID"].strip().isdigit():
                        raise CorpusFormatError(path, line, "a numeric HADM_ID", row["HADM_ID"])
                    seq = int(row["SEQ_NUM"]) if row["SEQ_NUM"].strip().isdigit() else 0
                    codes.setdefault(row["HADM_ID"].strip(), []).append((kind, seq, format_code(raw, kind == 0)))
            self._codes_cache = {h: list(dict.fromkeys(c for _, _, c in sorted(v))) for h, v in codes.items()}
        return self._codes_cache

    def _tree(self) -> tuple[Hierarchy, dict[str, str]]:
        """The (possibly extended and truncated) ICD-9 tree and the code descriptions."""
        if getattr(self, "_tree_cache", None) is None:
            path = Path(self.config.icd9_descriptions or Path(self.config.data_dir) / "ICD9_descriptions")
            if not path.exists():
                raise FileNotFoundError(
                    f"mimic3: expected the ICD-9 descriptions at {path}; pass icd9_descriptions=<file> "
                    f"(CAML's file: {ICD9_URL})"
                )
            descriptions = read_descriptions(path, self.config.encoding)
            tree = build_tree(descriptions)
            used = sorted({c for cs in self._codes().values() for c in cs})
            unknown = [c for c in used if c not in tree]
            if unknown:
                if self.config.on_unknown_code == "error":
                    raise CorpusFormatError(path, None, "every code of DIAGNOSES_ICD/PROCEDURES_ICD to be described", ", ".join(unknown[:5]))
                parents = {k: list(v) for k, v in tree.to_dict()["parents"].items()}
                for code in unknown:
                    parent = parent_for_unknown(code, tree)
                    parents[code] = [parent] if parent else []
                    descriptions[code] = f"ICD-9 code {code}"
                    self.skips.add("code_not_in_icd9_descriptions", code)
                logger.warning("mimic3: %d code(s) missing from %s attached to their nearest known node, e.g. %s", len(unknown), path, unknown[:3])
                tree = Hierarchy(parents)
            if self.config.min_level != 1 or self.config.max_level is not None:
                tree = tree.truncate(self.config.min_level, self.config.max_level)
            self._tree_cache = (tree, descriptions)
        return self._tree_cache

    # ------------------------------------------------------------------ splits
    def _split_ids(self) -> dict[str, list[str]]:
        """Admission ids per split (computed once per builder: the label space needs them too)."""
        if getattr(self, "_split_cache", None) is None:
            self._split_cache = self._read_split_ids()
        return self._split_cache

    def _read_split_ids(self) -> dict[str, list[str]]:
        folder = Path(self.config.split_dir or self.config.data_dir)
        stem = self.config.caml_setting
        files = {s: folder / f"{f}_{stem}_hadm_ids.csv" for s, f in (("train", "train"), ("validation", "dev"), ("test", "test"))}
        if all(p.exists() for p in files.values()):
            self._reset_ids()
            out = {}
            for split, path in files.items():
                ids = []
                for i, line in iter_lines(path, self.config.encoding):
                    value = line.strip()
                    if not value:
                        continue
                    if not value.isdigit():
                        raise CorpusFormatError(path, i, "one numeric HADM_ID a line", value)
                    if self._register_id(value, split, f"{path.name}, line {i}"):
                        ids.append(value)
                out[split] = ids
            return out
        if self.config.split_dir is not None:
            raise FileNotFoundError(f"mimic3: split_dir {folder} lacks {', '.join(p.name for p in files.values() if not p.exists())}")
        subject_of: dict[str, str] = {}
        for _, _, row in _rows(Path(self.config.data_dir), "DIAGNOSES_ICD", ("SUBJECT_ID", "HADM_ID"), self.config.encoding):
            subject_of.setdefault(row["HADM_ID"].strip(), row["SUBJECT_ID"].strip())
        subjects = sorted(set(subject_of.values()))
        parts = seeded_split(subjects, parse_fractions(self.config.split_ratio), self.config.seed)
        split_of = {s: name for name, part in zip(("train", "validation", "test"), parts) for s in part}
        out = {"train": [], "validation": [], "test": []}
        for hadm, subject in sorted(subject_of.items()):
            out[split_of[subject]].append(hadm)
        return out

    # ------------------------------------------------------------------ label space
    def _build_label_space(self) -> LabelSpace:
        tree, descriptions = self._tree()
        codes = self._codes()
        if self.config.label_set == "all":
            keep = set(tree.labels)
        else:
            selected = {h for ids in self._split_ids().values() for h in ids}
            counts = Counter(c for h in selected for c in codes.get(h, ()))
            if self.config.label_set == "top50":
                counts = Counter(dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:50]))
            keep = {m for c in counts for m in tree.map_label(c)}
            if self.config.augment:
                keep = set(tree.augment(keep))
        self._mapping_tree = tree
        restricted = tree if keep == set(tree.labels) else tree.restrict(keep)
        names = restricted.labels
        return LabelSpace("hierarchical", names, [descriptions.get(c, c) for c in names], restricted)

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=self.__doc__, features=self.classification_features(), homepage="https://physionet.org/content/mimiciii/")

    def _split_generators(self, dl_manager):
        ids = self._split_ids()
        names = {"train": datasets.Split.TRAIN, "validation": datasets.Split.VALIDATION, "test": datasets.Split.TEST}
        return [datasets.SplitGenerator(name=names[s], gen_kwargs={"split": s, "hadm_ids": ids[s]}) for s in names]

    def _notes(self) -> dict[str, str]:
        """Discharge summary text per admission (read once, for all splits)."""
        if getattr(self, "_notes_cache", None) is None:
            wanted = {h for ids in self._split_ids().values() for h in ids}
            notes: dict[str, list[tuple[str, int, str]]] = {}
            rows = _rows(Path(self.config.data_dir), "NOTEEVENTS", ("ROW_ID", "HADM_ID", "CHARTDATE", "CATEGORY", "TEXT"), self.config.encoding)
            for path, line, row in tqdm(rows, desc="mimic3: reading NOTEEVENTS", unit=" notes"):
                if row["CATEGORY"].strip() != "Discharge summary" or row.get("ISERROR", "").strip() == "1":
                    continue
                hadm = row["HADM_ID"].strip()
                if hadm not in wanted:
                    continue
                row_id = int(row["ROW_ID"]) if row["ROW_ID"].strip().isdigit() else 0
                notes.setdefault(hadm, []).append((row["CHARTDATE"], row_id, row["TEXT"]))
            self._notes_cache = {h: "\n\n".join(t.strip() for _, _, t in sorted(v)) for h, v in notes.items()}
        return self._notes_cache

    def _generate_examples(self, split: str, hadm_ids: list[str]):
        space = self.label_space()
        tree, allowed = self._mapping_tree, set(space.names)
        notes, codes = self._notes(), self._codes()
        for hadm in hadm_ids:
            text = notes.get(hadm, "")
            if not text.strip():
                self.skip("admission_without_discharge_summary", hadm)
                continue
            labels = [m for c in codes.get(hadm, ()) for m in tree.map_label(c)]
            if self.config.augment:
                labels = tree.augment(labels)
            labels = [label for label in dict.fromkeys(labels) if label in allowed]
            if not labels:
                self.skip("admission_without_codes_in_label_set", hadm)
                continue
            yield hadm, {"id": hadm, "text": text, "labels": labels}
        self._report(split)
