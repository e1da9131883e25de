"""Generic CoNLL reader: one token a line with its tag, blank lines between sentences.

Each non-blank line holds at least two columns, separated by a TAB when the line has one,
else by whitespace; the token is column ``token_column`` (0) and the tag column ``tag_column``
(-1, the last). ``-DOCSTART-`` lines start a new document. Tags must be ``O``, ``B-<type>``
or ``I-<type>``; ``scheme="IOB1"`` input is converted to IOB2, and in IOB2 input an ``I-``
tag that does not continue a mention of its type starts one (counted as
``i_tag_starts_mention``).

The tokenisation of the file is kept: ``text`` is the tokens joined by single spaces and
``offsets`` point into it. Files: ``train``, ``dev`` (or ``validation``/``valid``) and
``test`` with any of the suffixes ``.txt .conll .tsv .iob .bio`` in ``data_dir``. Without a
test file, the training file is split ``split_ratio`` (8:1:1) with ``seed``: by document
(``-DOCSTART-``), or by sentence when it has fewer than 10 documents.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import datasets

from .base import CorpusFormatError, parse_fractions, seeded_split
from .ner_base import NerBuilder, NerConfig

SUFFIXES = (".txt", ".conll", ".tsv", ".iob", ".bio")
STEMS = {"train": ("train",), "validation": ("dev", "validation", "valid"), "test": ("test",)}
_TAG = re.compile(r"^(O|[BI]-\S+)$")


class ConllConfig(NerConfig):
    """CoNLL options: columns, tag scheme, ``entity_types`` (None = all found)."""

    def __init__(self, *args: Any, entity_types: Any = None, token_column: int = 0, tag_column: int = -1, scheme: str = "IOB2", split_ratio: str = "8:1:1", **kwargs: Any) -> None:
        super().__init__(*args, entity_types=entity_types, **kwargs)
        if scheme not in ("IOB1", "IOB2"):
            raise ValueError(f"conll: scheme must be 'IOB1' or 'IOB2', got {scheme!r}")
        self.token_column, self.tag_column, self.scheme, self.split_ratio = token_column, tag_column, scheme, split_ratio


Sentence = tuple[str, list[str], list[str]]  # (document id, tokens, tags)


def read_conll(path: Path, token_column: int = 0, tag_column: int = -1) -> list[Sentence]:
    """Sentences of one CoNLL file with raw tags, checking every line."""
    out: list[Sentence] = []
    doc = path.stem
    n_docs = 0
    tokens: list[str] = []
    tags: list[str] = []

    def flush():
        if tokens:
            out.append((doc, list(tokens), list(tags)))
            tokens.clear()
            tags.clear()

    with path.open(encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                flush()
                continue
            if line.startswith("-DOCSTART-"):
                flush()
                n_docs += 1
                doc = f"{path.stem}-{n_docs}"
                continue
            fields = line.split("\t") if "\t" in line else line.split()
            if len(fields) < 2:
                raise CorpusFormatError(path, i, "a token and a tag separated by TAB or spaces", line)
            try:
                token, tag = fields[token_column].strip(), fields[tag_column].strip()
            except IndexError:
                raise CorpusFormatError(path, i, f"columns {token_column} (token) and {tag_column} (tag)", line) from None
            if not token or not _TAG.match(tag):
                raise CorpusFormatError(path, i, "a non-empty token and a tag O, B-<type> or I-<type>", line)
            tokens.append(token)
            tags.append(tag)
    flush()
    return out


class Conll(NerBuilder):
    """CoNLL token/tag files as sentence-level IOB2 NER."""

    CORPUS = "conll"
    BUILDER_CONFIG_CLASS = ConllConfig
    BUILDER_CONFIGS = [ConllConfig(name="default")]
    DEFAULT_CONFIG_NAME = "default"

    def _file(self, split: str) -> Path | None:
        root = Path(self.config.data_dir)
        for stem in STEMS[split]:
            for suffix in SUFFIXES:
                if (root / f"{stem}{suffix}").exists():
                    return root / f"{stem}{suffix}"
        return None

    def _sentences(self) -> dict[str, list[Sentence]]:
        if getattr(self, "_sentence_cache", None) is None:
            read = lambda p: read_conll(p, self.config.token_column, self.config.tag_column)  # noqa: E731
            files = {s: self._file(s) for s in STEMS}
            if files["train"] is None:
                raise FileNotFoundError(f"conll: expected train{{{','.join(SUFFIXES)}}} in {self.config.data_dir}")
            if files["test"] is not None:
                out = {s: read(p) if p is not None else [] for s, p in files.items()}
            else:
                sentences = read(files["train"])
                docs = sorted({d for d, _, _ in sentences})
                if len(docs) < 10:  # too few documents to split by document: split sentences
                    keys = list(range(len(sentences)))
                    parts = seeded_split(keys, parse_fractions(self.config.split_ratio), self.config.seed)
                    out = {n: [sentences[k] for k in sorted(p)] for n, p in zip(("train", "validation", "test"), parts)}
                else:
                    parts = seeded_split(docs, parse_fractions(self.config.split_ratio), self.config.seed)
                    split_of = {d: n for n, p in zip(("train", "validation", "test"), parts) for d in p}
                    out = {n: [s for s in sentences if split_of[s[0]] == n] for n in ("train", "validation", "test")}
            self._sentence_cache = out
        return self._sentence_cache

    def _discover_entity_types(self) -> set[str]:
        return {t[2:] for sents in self._sentences().values() for _, _, tags in sents for t in tags if t != "O"}

    def _split_generators(self, dl_manager):
        sents = self._sentences()
        names = {"train": datasets.Split.TRAIN, "validation": datasets.Split.VALIDATION, "test": datasets.Split.TEST}
        return [datasets.SplitGenerator(name=names[s], gen_kwargs={"split": s, "sentences": sents[s]}) for s in names]

    def _mentions(self, tags: list[str], spans: list[tuple[int, int]], where: str) -> list[tuple[int, int, str]]:
        mentions: list[list] = []
        prev = "O"
        for tag, (s, e) in zip(tags, spans):
            if tag == "O":
                prev = tag
                continue
            kind, etype = tag[0], tag[2:]
            continues = prev != "O" and prev[2:] == etype
            if kind == "I" and not continues and self.config.scheme == "IOB2":
                self.skips.add("i_tag_starts_mention", where)
            # IOB1: B- only separates two adjacent mentions of the same type.
            starts = not continues or (kind == "B" and (self.config.scheme == "IOB2" or prev[2:] == etype))
            if starts:
                mentions.append([s, e, etype])
            else:
                mentions[-1][1] = e
            prev = tag
        return [tuple(m) for m in mentions]

    def _generate_examples(self, split: str, sentences: list[Sentence]):
        def items():
            counts: dict[str, int] = {}
            for doc, tokens, tags in sentences:
                index = counts.get(doc, 0)
                counts[doc] = index + 1
                spans, pos = [], 0
                for t in tokens:
                    spans.append((pos, pos + len(t)))
                    pos += len(t) + 1
                text = " ".join(tokens)
                yield doc, index, text, self._mentions(tags, spans, f"{doc}:{index}"), spans

        yield from self._examples_from(items())
        self._report(split)
