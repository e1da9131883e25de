"""ADE-Corpus-V2 (Gurulingappa et al., 2012): adverse effect mentions in PubMed sentences.

Format
    ``DRUG-AE.rel``: ``PMID|sentence|adverse effect|begin|end|drug|begin|end``, one line per
    drug-effect relation; offsets are over the whole document (``PMID\\n\\nTitle\\n\\nAbstract``),
    which is not distributed. ``ADE-NEG.txt``: ``PMID NEG sentence``, sentences without an
    adverse effect (tagged all ``O``).

Sentence-level spans
    The lines of one (PMID, sentence) pair are merged. The sentence's start in the document is
    the offset ``base`` supported by most of its mentions (``doc_begin - position`` of an
    exact occurrence of the mention string in the sentence; ties go to the smallest base).
    Each mention's sentence span is ``doc_begin - base``, and it is verified against the
    sentence string. A mention whose string is not there is skipped and counted as
    ``offset_mismatch``; one whose ``end - begin`` differs from its string length is counted
    as ``offset_length_mismatch`` (the string wins). Repeated mentions (the same effect in
    several relations) are tagged once (``duplicate_mention``); overlaps follow
    :mod:`labelwise.data_scripts.ner_utils`.

Splits
    No official split exists (papers use 10-fold cross-validation), so documents (PMIDs) are
    split: ``fold=k`` of ``num_folds`` gives test = fold k, validation = fold k+1 and train =
    the rest; without ``fold``, a seeded ``split_ratio`` (8:1:1) split by PMID. A sentence
    listed in both files is kept once, as positive (``negative_also_positive``); a repeated
    ``ADE-NEG.txt`` line (same PMID and sentence) is read once (``repeated_negative_line``).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import datasets

from .base import CorpusFormatError, link_downloads, parse_fractions, seeded_split
from .files import iter_lines
from .split_files import HERE, choose_path
from .ner_base import NerBuilder, NerConfig

URL = "https://raw.githubusercontent.com/trunghlt/AdverseDrugReaction/master/ADE-Corpus-V2/"


class AdeConfig(NerConfig):
    """ADE options: entity types ``("ADR",)`` or ``("ADR", "DRUG")``, negatives, folds."""

    def __init__(
        self,
        *args: Any,
        include_negative: bool = True,
        fold: int | None = None,
        num_folds: int = 10,
        split_ratio: str = "8:1:1",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if fold is not None and not 0 <= fold < num_folds:
            raise ValueError(f"ade: fold must be in 0..{num_folds - 1}, got {fold}")
        self.include_negative, self.fold, self.num_folds, self.split_ratio = include_negative, fold, num_folds, split_ratio


Mention = tuple[str, int, int, str]  # (string, doc begin, doc end, type)


def read_relations(path: Path, encoding: str = "utf-8") -> dict[tuple[str, str], list[Mention]]:
    """``{(pmid, sentence): [mentions]}`` in file order from ``DRUG-AE.rel``."""
    out: dict[tuple[str, str], list[Mention]] = {}
    for i, line in iter_lines(path, encoding):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) < 8:
            raise CorpusFormatError(path, i, "8 '|'-separated fields PMID|sentence|effect|begin|end|drug|begin|end", line)
        pmid, sentence = parts[0], "|".join(parts[1:-6])
        effect, e0, e1, drug, d0, d1 = parts[-6:]
        try:
            mentions = [(effect, int(e0), int(e1), "ADR"), (drug, int(d0), int(d1), "DRUG")]
        except ValueError:
            raise CorpusFormatError(path, i, "integer begin/end offsets in fields 4, 5, 7 and 8", line) from None
        if not pmid.strip().isdigit():
            raise CorpusFormatError(path, i, "a numeric PMID in field 1", pmid)
        out.setdefault((pmid.strip(), sentence), []).extend(mentions)
    return out


def read_negatives(path: Path, encoding: str = "utf-8") -> list[tuple[str, str]]:
    """``[(pmid, sentence)]`` from ``ADE-NEG.txt``."""
    out = []
    for i, line in iter_lines(path, encoding):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        parts = line.split(" ", 2)
        if len(parts) != 3 or parts[1] != "NEG" or not parts[0].isdigit():
            raise CorpusFormatError(path, i, "'PMID NEG sentence'", line)
        out.append((parts[0], parts[2]))
    return out


class Ade(NerBuilder):
    """ADE-Corpus-V2 sentences with adverse effect (and optionally drug) mentions."""

    CORPUS = "ade"
    BUILDER_CONFIG_CLASS = AdeConfig
    BUILDER_CONFIGS = [AdeConfig(name="default")]
    DEFAULT_CONFIG_NAME = "default"
    DOWNLOAD_URLS = {"relations": URL + "DRUG-AE.rel", "negatives": URL + "ADE-NEG.txt"}

    def _folder(self) -> Path:
        root = Path(self.config.data_dir)
        folder = choose_path(
            root, (HERE, "ADE-Corpus-V2"), "ade", "the corpus folder with DRUG-AE.rel",
            f"point data_dir at {root / 'ADE-Corpus-V2'} to read that copy, or move it away to read the other",
            accept=lambda cand: (cand / "DRUG-AE.rel").exists(),
        )
        if folder is not None:
            return folder
        raise FileNotFoundError(f"ade: expected DRUG-AE.rel in {root} or {root / 'ADE-Corpus-V2'}")

    def _arrange_download(self, paths: dict[str, str]) -> str:
        return link_downloads(paths, {"relations": "DRUG-AE.rel", "negatives": "ADE-NEG.txt"}, "ade_")

    def sentences(self) -> list[tuple[str, str, list[tuple[int, int, str]]]]:
        """``[(pmid, sentence, [(start, end, type)])]``: positives in file order, then negatives."""
        folder = self._folder()
        relations = read_relations(folder / "DRUG-AE.rel", self.config.encoding)
        out = []
        for (pmid, sentence), mentions in relations.items():
            out.append((pmid, sentence, self._localise(pmid, sentence, mentions)))
        if self.config.include_negative:
            neg_path = folder / "ADE-NEG.txt"
            if not neg_path.exists():
                raise FileNotFoundError(f"ade: expected {neg_path} (or pass include_negative=False)")
            seen: set[tuple[str, str]] = set()
            for pmid, sentence in read_negatives(neg_path, self.config.encoding):
                if (pmid, sentence) in relations:
                    self.skips.add("negative_also_positive", pmid)
                elif (pmid, sentence) in seen:
                    self.skips.add("repeated_negative_line", pmid)
                else:
                    seen.add((pmid, sentence))
                    out.append((pmid, sentence, []))
        return out

    def _localise(self, pmid: str, sentence: str, mentions: list[Mention]) -> list[tuple[int, int, str]]:
        votes: Counter[int] = Counter()
        for text, begin, _, _ in set(mentions):
            start = sentence.find(text)
            while start >= 0 and text:
                votes[begin - start] += 1
                start = sentence.find(text, start + 1)
        base = min(votes, key=lambda b: (-votes[b], b)) if votes else None
        spans = []
        for text, begin, end, etype in mentions:
            where = f"PMID {pmid}: {text!r} at {begin}-{end}"
            local = None if base is None else begin - base
            if local is None or sentence[local : local + len(text)] != text or not text:
                self.skip("offset_mismatch", where)
                continue
            if end - begin != len(text):
                self.skips.add("offset_length_mismatch", where)
            spans.append((local, local + len(text), etype))
        return spans

    def _split_generators(self, dl_manager):
        sentences = self.sentences()
        pmids = sorted({s[0] for s in sentences}, key=int)
        if self.config.fold is not None:
            folds = seeded_split(pmids, [1 / self.config.num_folds] * self.config.num_folds, self.config.seed)
            k, n = self.config.fold, self.config.num_folds
            test, val = set(folds[k]), set(folds[(k + 1) % n])
            assign = {p: "test" if p in test else "validation" if p in val else "train" for p in pmids}
        else:
            parts = seeded_split(pmids, parse_fractions(self.config.split_ratio), self.config.seed)
            assign = {p: name for name, part in zip(("train", "validation", "test"), parts) for p in part}
        by_split: dict[str, list] = {"train": [], "validation": [], "test": []}
        for s in sentences:
            by_split[assign[s[0]]].append(s)
        names = {"train": datasets.Split.TRAIN, "validation": datasets.Split.VALIDATION, "test": datasets.Split.TEST}
        return [datasets.SplitGenerator(name=names[s], gen_kwargs={"split": s, "sentences": by_split[s]}) for s in names]

    def _generate_examples(self, split: str, sentences: list):
        def numbered():
            counts: Counter[str] = Counter()
            for pmid, sentence, spans in sentences:
                yield pmid, counts[pmid], sentence, spans
                counts[pmid] += 1

        yield from self._examples_from(numbered())
        self._report(split)
