"""Hallmarks of Cancer (HoC; Baker et al., 2016), read from the original release.

Format (github.com/sb895/Hallmarks-of-Cancer)
    ``text/<PMID>.txt``: one tokenised sentence a line.
    ``labels/<PMID>.txt``: one group per sentence, each group introduced by ``<``; the
    labels of a group are joined by ``AND``, each a taxonomy path
    ``Top level--Sub level--...`` (a trailing ``--`` marks the node itself). ``NULL`` means
    "no hallmark" and is ignored.

Document labels
    ``labels="top"`` (default): the union of its sentences' top-level hallmarks, 10 labels,
    multi-label. ``labels="fine"``: every taxonomy node of its sentences' paths (so each
    fine label comes with its ancestors), hierarchical, names are the paths.

Splits
    ``split_dir`` (default: ``<data_dir>/blue_split`` when present) holds one of two layouts:
    BLUE's ``{train,dev,test}_docid.txt`` (one PMID a line; the 1,580 labelled abstracts,
    1,108 / 157 / 315) or BLURB's ``{train,dev,test}_pmid.tsv`` (one line of comma-separated
    ``<PMID>.txt`` names; all 1,852 abstracts, with those without a hallmark, 1,295 / 186 /
    371). A PMID listed twice, or in two splits, is an error unless ``duplicates="drop"``.
    Without a split folder, the labelled abstracts are split ``split_ratio`` (7:1:2, as the
    paper) with ``seed``. ``include_unlabelled=True`` keeps abstracts without any hallmark
    (272 of 1,852) in a random split, with no labels.

Orphans
    A ``text/`` file without its ``labels/`` file is skipped and counted
    (``text_without_label_file``); a label file without text is counted
    (``label_file_without_text``).

Sentence level (``level="sentence"``)
    HoC is annotated per sentence, and BLUE and BLURB classify sentences. With
    ``level="sentence"`` every sentence is a row: id ``<PMID>_s<N>`` (``N`` counts the abstract's
    sentences from 0, as BLUE's ``index`` column), text the sentence, labels that sentence's own
    annotations (top-level or fine, as ``labels`` says); sentences without a hallmark are kept
    with no label. Splits are by abstract, as above, so no abstract has sentences in two splits.

BLUE's sentence-level files (``blue_dir``)
    BLUE distributes HoC as ``train.tsv``, ``dev.tsv`` and ``test.tsv``: a header ``labels sentence
    index`` (TAB-separated; a comma-separated copy is read too), then one sentence a line, its labels
    as ``<k>_<0|1>`` items joined by commas (``0_0,1_1,...``: label ``k`` present when ``1``) and its
    index ``<PMID>_s<N>``. ``k`` numbers the hallmarks in **alphabetical order** of their lower-case
    names (``BLUE_LABEL_ORDER``), not in this builder's order (Hanahan & Weinberg's). Items may also be
    hallmark names. ``blue_dir`` names the folder (default: ``data_dir`` when it holds ``train.tsv``
    and no ``text/``/``labels/`` release). ``level="sentence"`` reads the rows as they are;
    ``level="document"`` joins each PMID's sentences (in ``N`` order) into one abstract whose labels
    are the union of its sentences'. BLUE's files hold top-level hallmarks only, so ``labels="fine"``
    needs the original release.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets

import re

from .base import (
    CorpusBuilder,
    CorpusConfig,
    CorpusFormatError,
    LabelSpace,
    choose_split_file,
    parse_fractions,
    seeded_split,
    split_files_option,
)
from .files import iter_lines, read_csv, read_text
from .hierarchy import Hierarchy
from .split_files import HERE, choose_path

# The ten hallmarks, in the order of Hanahan & Weinberg (2011). Descriptions written by us.
HALLMARKS: dict[str, str] = {
    "Sustaining proliferative signaling": "Cancer cells keep dividing because growth factor receptors and downstream signalling pathways are switched on without the normal external signals.",
    "Evading growth suppressors": "Cancer cells ignore signals that stop cell division, for example by losing tumour suppressors, cell cycle checkpoints or contact inhibition.",
    "Resisting cell death": "Cancer cells avoid apoptosis, necrosis and autophagic death that would normally remove damaged cells.",
    "Enabling replicative immortality": "Cancer cells divide without limit by maintaining telomeres and escaping senescence.",
    "Inducing angiogenesis": "Tumours stimulate the growth of new blood vessels, through angiogenic factors, to obtain oxygen and nutrients.",
    "Activating invasion and metastasis": "Cancer cells invade surrounding tissue and spread to distant organs to form metastases.",
    "Genomic instability and mutation": "Cancer cells accumulate mutations and DNA damage because DNA repair mechanisms fail.",
    "Tumor promoting inflammation": "Inflammation and immune cells in the tumour environment, with oxidative stress, help tumours grow and progress.",
    "Cellular energetics": "Cancer cells reprogram their energy metabolism, for example relying on glycolysis even with oxygen (the Warburg effect).",
    "Avoiding immune destruction": "Tumours escape attack by the immune system, for example through immunosuppression.",
}

BLUE_LABEL_ORDER: list[str] = sorted(HALLMARKS, key=str.lower)
"""The hallmarks as BLUE numbers them in its ``<k>_<0|1>`` label items: alphabetical by lower-case name."""

LEVELS = ("document", "sentence")
BLUE_COLUMNS = ("labels", "sentence", "index")
BLUE_FILES = {"train": ("train.tsv", "train.csv"), "validation": ("dev.tsv", "devel.tsv", "dev.csv"), "test": ("test.tsv", "test.csv")}
_BLUE_INDEX = re.compile(r"^(\S+)_s(\d+)$")
_BLUE_ITEM = re.compile(r"^(\d+)_([01])$")

DOWNLOAD = "https://github.com/sb895/Hallmarks-of-Cancer/archive/refs/heads/master.zip"
SEPARATOR = "--"
# Split-file layouts: BLUE (one PMID a line) and BLURB (comma-separated "<PMID>.txt" names).
SPLIT_FILES = ("{}_docid.txt", "{}_pmid.tsv")


class HocConfig(CorpusConfig):
    """HoC options (see the module docstring)."""

    def __init__(
        self,
        *args: Any,
        labels: str = "top",
        split_dir: str | None = None,
        split_ratio: str = "7:1:2",
        include_unlabelled: bool = False,
        level: str = "document",
        blue_dir: str | None = None,
        split_files: dict | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if labels not in ("top", "fine"):
            raise ValueError(f"hoc: labels must be 'top' or 'fine', got {labels!r}")
        if level not in LEVELS:
            raise ValueError(f"hoc: level must be 'document' or 'sentence', got {level!r}")
        self.level = level
        self.blue_dir = blue_dir
        self.split_files = split_files_option(split_files, "hoc")
        self.labels = labels
        self.split_dir = split_dir
        self.split_ratio = split_ratio
        self.include_unlabelled = include_unlabelled


def _find_release(data_dir: str) -> Path:
    """The folder holding text/ and labels/: data_dir, data_dir/raw or a downloaded archive."""
    root = Path(data_dir)
    release = choose_path(
        root, [HERE, "raw", *sorted(p.name for p in root.glob("Hallmarks-of-Cancer*"))], "hoc",
        "the original release with text/ and labels/", "point data_dir at the one to read, or move the others away",
        accept=lambda cand: (cand / "text").is_dir() and (cand / "labels").is_dir(),
    )
    if release is not None:
        return release
    raise FileNotFoundError(f"hoc: expected folders text/ and labels/ in {root} (or in {root / 'raw'})")


def parse_label_file(path: Path, n_sentences: int, encoding: str = "utf-8") -> list[list[str]]:
    """Per-sentence label paths of one ``labels/<PMID>.txt`` (trailing ``--`` removed)."""
    raw = read_text(path, encoding)
    if raw.strip() and not raw.lstrip().startswith("<"):
        raise CorpusFormatError(path, 1, "sentence label groups each introduced by '<'", raw)
    groups = raw.split("<")[1:]
    if len(groups) != n_sentences:
        raise CorpusFormatError(
            path, 1, f"{n_sentences} label groups (one '<' per sentence of the text file)", f"{len(groups)} groups"
        )
    out = []
    for i, group in enumerate(groups, 1):
        labels = []
        for label in group.split("AND"):
            label = label.strip().rstrip("-").strip()
            if not label or label == "NULL":
                continue
            top = label.split(SEPARATOR)[0].strip()
            if top not in HALLMARKS:
                raise CorpusFormatError(path, f"line 1, sentence {i}", "a path starting with one of the 10 hallmarks", label)
            labels.append(SEPARATOR.join(p.strip() for p in label.split(SEPARATOR)))
        out.append(labels)
    return out


def read_blue_file(path: Path, encoding: str = "utf-8") -> list[tuple[str, str, int, str, list[str]]]:
    """Rows ``(index, pmid, sentence number, sentence, hallmark names)`` of one BLUE HoC file."""
    lines = iter_lines(path, encoding)
    try:
        _, header_line = next(lines)
    except StopIteration:
        raise CorpusFormatError(path, 1, "a header naming the columns labels, sentence and index", "an empty file") from None
    tabbed = "\t" in header_line
    if tabbed:
        records = ((i, line.rstrip("\r\n").split("\t")) for i, line in lines)
        header = header_line.rstrip("\r\n").split("\t")
    else:
        records = read_csv(path, encoding)
        _, header = next(records)
    columns = [c.strip().lower() for c in header]
    if not all(c in columns for c in BLUE_COLUMNS):
        raise CorpusFormatError(
            path, 1, "a header naming the columns labels, sentence and index (BLUE's HoC files)", header_line.strip()
        )
    where = {c: columns.index(c) for c in BLUE_COLUMNS}
    by_name = {name.lower(): name for name in HALLMARKS}
    rows = []
    for i, fields in records:
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(columns):
            separator = "TAB" if tabbed else "comma"
            raise CorpusFormatError(path, i, f"{len(columns)} {separator}-separated fields ({', '.join(columns)})", separator.join(fields) if not tabbed else "\t".join(fields))
        index = fields[where["index"]].strip()
        match = _BLUE_INDEX.match(index)
        if not match:
            raise CorpusFormatError(path, i, "an index <PMID>_s<N> (e.g. 12345678_s0)", index)
        names = set()
        for item in (x.strip() for x in fields[where["labels"]].split(",")):
            if not item:
                continue
            numbered = _BLUE_ITEM.match(item)
            if numbered and int(numbered.group(1)) < len(BLUE_LABEL_ORDER):
                if numbered.group(2) == "1":
                    names.add(BLUE_LABEL_ORDER[int(numbered.group(1))])
            elif item.lower() in by_name:
                names.add(by_name[item.lower()])
            elif item.upper() != "NULL":
                raise CorpusFormatError(
                    path, i, f"label items <k>_<0|1> with k from 0 to {len(BLUE_LABEL_ORDER) - 1} (alphabetical hallmark "
                    "order), or hallmark names", item,
                )
        ordered = [name for name in HALLMARKS if name in names]
        rows.append((index, match.group(1), int(match.group(2)), fields[where["sentence"]].strip(), ordered))
    return rows


class Hoc(CorpusBuilder):
    """Hallmarks of Cancer abstracts or sentences, multi-label (10 hallmarks) or fine-grained taxonomy."""

    CORPUS = "hoc"
    BUILDER_CONFIG_CLASS = HocConfig
    BUILDER_CONFIGS = [HocConfig(name="default")]
    DEFAULT_CONFIG_NAME = "default"
    DOWNLOAD_URLS = {"release": DOWNLOAD}

    def _blue_folder(self) -> Path | None:
        """The folder of BLUE's sentence-level files, when they are what this builder reads."""
        if self.config.blue_dir:
            return Path(self.config.blue_dir)
        root = Path(self.config.data_dir)
        if not any((root / name).exists() for name in BLUE_FILES["train"]):
            return None
        try:
            release = _find_release(self.config.data_dir)
        except FileNotFoundError:
            return root
        raise ValueError(
            f"hoc: {root} holds both BLUE's sentence files (train.tsv, ...) and the original release ({release}); "
            f"pass blue_dir={str(root)!r} to read BLUE's files, or point data_dir at the release alone"
        )

    def _abstracts(self) -> dict[str, list[tuple[str, list[str]]]]:
        """``{pmid: [(sentence, sorted label paths)]}`` of the release (cached on the builder)."""
        if getattr(self, "_abstract_cache", None) is None:
            release = _find_release(self.config.data_dir)
            encoding = self.config.encoding
            abstracts: dict[str, list[tuple[str, list[str]]]] = {}
            texts = sorted((release / "text").glob("*.txt"))
            for text_path in texts:
                pmid = text_path.stem
                lines = [line.strip() for line in read_text(text_path, encoding).splitlines() if line.strip()]
                label_path = release / "labels" / text_path.name
                if not label_path.exists():
                    self.skip("text_without_label_file", str(text_path.relative_to(release)))
                    continue
                per_sentence = parse_label_file(label_path, len(lines), encoding)
                abstracts[pmid] = [(line, sorted(set(paths))) for line, paths in zip(lines, per_sentence)]
            names = {p.name for p in texts}
            for label_path in sorted((release / "labels").glob("*.txt")):
                if label_path.name not in names:
                    self.skips.add("label_file_without_text", str(label_path.relative_to(release)))
            if not abstracts:
                raise FileNotFoundError(f"hoc: no text/*.txt file with a labels/*.txt file in {release}")
            self._abstract_cache = abstracts
        return self._abstract_cache

    def _documents(self) -> dict[str, tuple[str, list[str]]]:
        """``{pmid: (text, sorted paths)}`` for every abstract of the release: its sentences joined, the
        union of their labels."""
        return {
            pmid: (" ".join(text for text, _ in sentences), sorted({p for _, paths in sentences for p in paths}))
            for pmid, sentences in self._abstracts().items()
        }

    def _build_label_space(self) -> LabelSpace:
        if self.config.labels == "top":
            return LabelSpace("multi_label", list(HALLMARKS), list(HALLMARKS.values()))
        if self._blue_folder() is not None:
            raise ValueError("hoc: labels='fine' needs the original release (text/, labels/); BLUE's files hold the "
                             "10 top-level hallmarks only")
        paths = sorted({p for _, ps in self._documents().values() for p in ps}, key=lambda p: (list(HALLMARKS).index(p.split(SEPARATOR)[0]), p))
        hierarchy = Hierarchy.from_paths(paths, SEPARATOR)
        # Fine labels are described by their own path, read from the root down.
        descriptions = [
            HALLMARKS[n] if n in HALLMARKS else n.replace(SEPARATOR, ": ") for n in hierarchy.labels
        ]
        return LabelSpace("hierarchical", hierarchy.labels, descriptions, hierarchy)

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=self.__doc__, features=self.classification_features(), homepage="https://github.com/sb895/Hallmarks-of-Cancer")

    def _doc_labels(self, paths: list[str]) -> list[str]:
        if self.config.labels == "top":
            return sorted({p.split(SEPARATOR)[0] for p in paths}, key=list(HALLMARKS).index)
        return self.label_space().hierarchy.augment(paths)

    def _split_ids(self) -> dict[str, list[str]]:
        docs = self._documents()
        split_dir = self.config.split_dir
        if split_dir is None and (Path(self.config.data_dir) / "blue_split").is_dir():
            split_dir = str(Path(self.config.data_dir) / "blue_split")
        if split_dir is not None:
            self._reset_ids()
            out = {}
            for split, stem in (("train", "train"), ("validation", "dev"), ("test", "test")):
                found = choose_split_file(split_dir, split, [f.format(stem) for f in SPLIT_FILES], "hoc", self.config.split_files)
                if found is None:
                    raise FileNotFoundError(f"hoc: split_dir {split_dir} lacks {' or '.join(f.format(stem) for f in SPLIT_FILES)}")
                out[split] = [p for p in self._read_split_file(found, docs) if self._register_id(p, split, f"{found.name}")]
            return out
        keys = [k for k, (_, paths) in docs.items() if paths or self.config.include_unlabelled]
        train, val, test = seeded_split(keys, parse_fractions(self.config.split_ratio), self.config.seed)
        return {"train": train, "validation": val, "test": test}

    def _read_split_file(self, path: Path, docs: dict) -> list[str]:
        """PMIDs of a BLUE or BLURB split file, each checked against the release."""
        ids = []
        for i, line in iter_lines(path, self.config.encoding):
            items = line.strip().split(",")
            for k, item in enumerate(items, 1):
                item = item.strip()
                if not item:
                    continue
                pmid = item[: -len(".txt")] if item.endswith(".txt") else item
                if pmid not in docs:
                    where = i if len(items) == 1 else f"line {i}, item {k} of {len(items)}"
                    raise CorpusFormatError(path, where, "a PMID (or <PMID>.txt) with text/ and labels/ files in the release", item)
                ids.append(pmid)
        return ids

    def _blue_rows(self) -> dict[str, list[tuple[str, str, int, str, list[str]]]]:
        """BLUE's rows by split (``read_blue_file``), from ``_blue_folder()``."""
        folder = self._blue_folder()
        out = {}
        for split, names in BLUE_FILES.items():
            path = choose_split_file(folder, split, names, "hoc", self.config.split_files)
            if path is None:
                raise FileNotFoundError(f"hoc: {folder} lacks {' or '.join(names)} (BLUE's sentence-level files)")
            out[split] = [(*row, path.name) for row in read_blue_file(path, self.config.encoding)]
        return out

    def _split_generators(self, dl_manager):
        names = {"train": datasets.Split.TRAIN, "validation": datasets.Split.VALIDATION, "test": datasets.Split.TEST}
        self.label_space()  # a labels='fine' request on BLUE's files fails here, before any split is written
        if self._blue_folder() is not None:
            rows = self._blue_rows()
            self._reset_ids()
            return [datasets.SplitGenerator(name=names[s], gen_kwargs={"split": s, "blue_rows": rows[s]}) for s in names]
        ids = self._split_ids()
        return [datasets.SplitGenerator(name=names[s], gen_kwargs={"split": s, "pmids": ids[s]}) for s in names]

    def _generate_examples(self, split: str, pmids: list[str] | None = None, blue_rows: list | None = None):
        if blue_rows is not None:
            yield from self._blue_examples(split, blue_rows)
        elif self.config.level == "sentence":
            abstracts = self._abstracts()
            for pmid in pmids:
                for n, (text, paths) in enumerate(abstracts[pmid]):
                    key = f"{pmid}_s{n}"
                    yield key, {"id": key, "text": text, "labels": self._doc_labels(paths)}
        else:
            docs = self._documents()
            for pmid in pmids:
                text, paths = docs[pmid]
                if not text.strip():
                    self.skip("empty_document", pmid)
                    continue
                yield pmid, {"id": pmid, "text": text, "labels": self._doc_labels(paths)}
        self._report(split)

    def _blue_examples(self, split: str, rows: list):
        if self.config.level == "sentence":
            for index, _, _, sentence, labels, file_name in rows:
                if not sentence:
                    self.skip("empty_document", index)
                    continue
                if self._register_id(index, split, file_name):
                    yield index, {"id": index, "text": sentence, "labels": labels}
            return
        abstracts: dict[str, list[tuple[int, str, list[str]]]] = {}
        files: dict[str, str] = {}
        for _, pmid, n, sentence, labels, file_name in rows:
            abstracts.setdefault(pmid, []).append((n, sentence, labels))
            files.setdefault(pmid, file_name)
        for pmid, sentences in abstracts.items():
            sentences.sort(key=lambda item: item[0])
            text = " ".join(sentence for _, sentence, _ in sentences if sentence)
            if not text:
                self.skip("empty_document", pmid)
                continue
            labels = [name for name in HALLMARKS if any(name in found for _, _, found in sentences)]
            if self._register_id(pmid, split, files[pmid]):
                yield pmid, {"id": pmid, "text": text, "labels": labels}
