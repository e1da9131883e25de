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
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets

from .base import CorpusBuilder, CorpusConfig, CorpusFormatError, LabelSpace, parse_fractions, seeded_split
from .files import iter_lines, read_text
from .hierarchy import Hierarchy

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
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if labels not in ("top", "fine"):
            raise ValueError(f"hoc: labels must be 'top' or 'fine', got {labels!r}")
        self.labels = labels
        self.split_dir = split_dir
        self.split_ratio = split_ratio
        self.include_unlabelled = include_unlabelled


def _find_release(data_dir: str) -> Path:
    """The folder holding text/ and labels/: data_dir, data_dir/raw or a downloaded archive."""
    root = Path(data_dir)
    for cand in [root, root / "raw", *sorted(root.glob("Hallmarks-of-Cancer*"))]:
        if (cand / "text").is_dir() and (cand / "labels").is_dir():
            return cand
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


class Hoc(CorpusBuilder):
    """Hallmarks of Cancer abstracts, multi-label (10 hallmarks) or fine-grained taxonomy."""

    CORPUS = "hoc"
    BUILDER_CONFIG_CLASS = HocConfig
    BUILDER_CONFIGS = [HocConfig(name="default")]
    DEFAULT_CONFIG_NAME = "default"
    DOWNLOAD_URLS = {"release": DOWNLOAD}

    def _documents(self) -> dict[str, tuple[str, list[str]]]:
        """``{pmid: (text, sorted paths)}`` for every abstract (cached on the builder)."""
        if getattr(self, "_docs", None) is None:
            release = _find_release(self.config.data_dir)
            encoding = self.config.encoding
            docs: dict[str, tuple[str, list[str]]] = {}
            texts = sorted((release / "text").glob("*.txt"))
            for text_path in texts:
                pmid = text_path.stem
                lines = [line.strip() for line in read_text(text_path, encoding).splitlines() if line.strip()]
                label_path = release / "labels" / text_path.name
                if not label_path.exists():
                    self.skip("text_without_label_file", str(text_path.relative_to(release)))
                    continue
                paths = sorted({p for sent in parse_label_file(label_path, len(lines), encoding) for p in sent})
                docs[pmid] = (" ".join(lines), paths)
            names = {p.name for p in texts}
            for label_path in sorted((release / "labels").glob("*.txt")):
                if label_path.name not in names:
                    self.skips.add("label_file_without_text", str(label_path.relative_to(release)))
            if not docs:
                raise FileNotFoundError(f"hoc: no text/*.txt file with a labels/*.txt file in {release}")
            self._docs = docs
        return self._docs

    def _build_label_space(self) -> LabelSpace:
        if self.config.labels == "top":
            return LabelSpace("multi_label", list(HALLMARKS), list(HALLMARKS.values()))
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
                found = [Path(split_dir) / f.format(stem) for f in SPLIT_FILES if (Path(split_dir) / f.format(stem)).exists()]
                if not found:
                    raise FileNotFoundError(f"hoc: split_dir {split_dir} lacks {' or '.join(f.format(stem) for f in SPLIT_FILES)}")
                if len(found) > 1:
                    raise FileNotFoundError(f"hoc: split_dir {split_dir} has both {found[0].name} and {found[1].name}; keep one layout")
                out[split] = [p for p in self._read_split_file(found[0], docs) if self._register_id(p, split, f"{found[0].name}")]
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

    def _split_generators(self, dl_manager):
        ids = self._split_ids()
        names = {"train": datasets.Split.TRAIN, "validation": datasets.Split.VALIDATION, "test": datasets.Split.TEST}
        return [datasets.SplitGenerator(name=names[s], gen_kwargs={"split": s, "pmids": ids[s]}) for s in names]

    def _generate_examples(self, split: str, pmids: list[str]):
        docs = self._documents()
        for pmid in pmids:
            text, paths = docs[pmid]
            if not text.strip():
                self.skip("empty_document", pmid)
                continue
            yield pmid, {"id": pmid, "text": text, "labels": self._doc_labels(paths)}
        self._report(split)
