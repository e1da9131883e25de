"""Generic CoNLL reader: one token a line with its tag, blank lines between sentences.

Each non-blank line holds at least two columns, separated by a TAB when the line has one,
else by whitespace; the token is column ``token_column`` (0) and the tag column ``tag_column``
(-1, the last). ``-DOCSTART-`` lines start a new document.

Tag schemes (``scheme``)
    ``"IOB2"`` (alias ``"BIO"``, default): ``O``, ``B-<type>``, ``I-<type>``; an ``I-`` tag that
    does not continue a mention of its type starts one (counted as ``i_tag_starts_mention``).
    ``"IOB1"``: ``I-`` starts mentions, ``B-`` only separates two adjacent mentions of one type.
    ``"IOBES"`` (alias ``"BIOES"``): adds ``E-`` (last token) and ``S-`` (single-token mention);
    ``"BILOU"``: the same with ``L-`` and ``U-``. A broken sequence (``I-``/``E-`` without an open
    mention of its type) starts a mention and is counted (``i_tag_starts_mention``).
    All are converted to IOB2.

Bare tags
    The NER benchmark files used by BioBERT and BLURB (NCBI-disease, BC5CDR-disease,
    BC5CDR-chem, ...) have one entity type and bare ``B``/``I``/``O`` tags. Pass
    ``entity_type="Disease"`` (any name) to read them as ``B-Disease``/``I-Disease``; without it
    a bare tag is an error that says so. With it, a tag that names another type (``B-Chemical``)
    is an error too: the option would not apply to it.

The tokenisation of the file is kept: ``text`` is the tokens joined by single spaces and
``offsets`` point into it. Files: ``train``, ``dev`` (or ``devel``/``validation``/``valid``)
and ``test`` with any of the suffixes ``.txt .conll .tsv .iob .bio .iobes`` in ``data_dir``.
Two candidates for one split (``dev.tsv`` and ``devel.tsv``, as several benchmark collections ship
JNLPBA) are an error naming both, unless ``split_files`` says which to read, e.g.
``split_files={"validation": "devel.tsv"}`` (any file name, relative to ``data_dir``).
Without a test file, the training file is split ``split_ratio`` (8:1:1) with ``seed``: by
document (``-DOCSTART-``), or by sentence when it has fewer than 10 documents.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import datasets

from .base import CorpusFormatError, choose_split_file, parse_fractions, seeded_split, split_files_option
from .files import iter_lines
from .ner_base import NerBuilder, NerConfig

logger = logging.getLogger(__name__)

SUFFIXES = (".txt", ".conll", ".tsv", ".iob", ".bio", ".iobes")
STEMS = {"train": ("train",), "validation": ("dev", "devel", "validation", "valid"), "test": ("test",)}
# Scheme -> {prefix in the file: prefix of our state machine (B, I, E = last, S = single)}.
SCHEMES = {
    "IOB2": {"B": "B", "I": "I"},
    "IOB1": {"B": "B", "I": "I"},
    "IOBES": {"B": "B", "I": "I", "E": "E", "S": "S"},
    "BILOU": {"B": "B", "I": "I", "L": "E", "U": "S"},
}
SCHEME_ALIASES = {"BIO": "IOB2", "BIOES": "IOBES"}


class ConllConfig(NerConfig):
    """CoNLL options: columns, tag ``scheme``, ``entity_type`` for bare tags, ``entity_types``
    (None = all found)."""

    def __init__(
        self,
        *args: Any,
        entity_types: Any = None,
        entity_type: str | None = None,
        token_column: int = 0,
        tag_column: int = -1,
        scheme: str = "IOB2",
        split_ratio: str = "8:1:1",
        split_files: dict | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, entity_types=entity_types, **kwargs)
        self.split_files = split_files_option(split_files, "conll")
        scheme = SCHEME_ALIASES.get(str(scheme).upper(), str(scheme).upper())
        if scheme not in SCHEMES:
            raise ValueError(f"conll: scheme must be one of {', '.join([*SCHEMES, *SCHEME_ALIASES])}, got {scheme!r}")
        if entity_type is not None and not re.fullmatch(r"\S+", str(entity_type)):
            raise ValueError(f"conll: entity_type must be a name without spaces, got {entity_type!r}")
        self.token_column, self.tag_column, self.scheme, self.split_ratio = token_column, tag_column, scheme, split_ratio
        self.entity_type = entity_type


Sentence = tuple[str, list[str], list[str]]  # (document id, tokens, tags as "<prefix>-<type>" or "O")


def read_conll(
    path: Path,
    token_column: int = 0,
    tag_column: int = -1,
    scheme: str = "IOB2",
    entity_type: str | None = None,
    encoding: str = "utf-8",
) -> list[Sentence]:
    """Sentences of one CoNLL file, checking every line; tags keep the file's prefixes
    (``B``, ``I``, ``E``, ``S``, ...), bare tags get `entity_type`."""
    prefixes = SCHEMES[scheme]
    typed = re.compile(rf"^({'|'.join(prefixes)})-(\S+)$")
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

    for i, line in iter_lines(path, encoding):
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
        if tag in prefixes and entity_type is not None:
            tag = f"{tag}-{entity_type}"
        elif entity_type is not None and typed.match(tag) and tag.split("-", 1)[1] != entity_type:
            # The option would be ignored: the user expects every mention to be of that type.
            raise CorpusFormatError(
                path, i, f"a bare tag ({', '.join(prefixes)} or O): entity_type={entity_type!r} types bare tags only, "
                f"and this file's tags name their own type; leave out entity_type to keep those types "
                f"(entity_types=[...] selects some of them)", line,
            )
        if not token or not (tag == "O" or typed.match(tag)):
            shown = ", ".join(f"{p}-<type>" for p in prefixes)
            hint = ""
            if tag in prefixes:
                hint = ("; this file has bare tags without a type (as in the BioBERT/BLURB NER files): "
                        "pass entity_type='<name>', e.g. entity_type='Disease' (command line: --config entity_type=Disease)")
            elif re.match(r"^[A-Z]-\S+$", tag) or tag in ("B", "I", "E", "S", "L", "U"):
                hint = f"; scheme={scheme!r} is set: pass scheme='IOBES' or 'BILOU' for E-/S- or L-/U- tags"
            raise CorpusFormatError(path, i, f"a non-empty token and a tag O, {shown}{hint}", line)
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
        names = [f"{stem}{suffix}" for stem in STEMS[split] for suffix in SUFFIXES]
        return choose_split_file(self.config.data_dir, split, names, "conll", self.config.split_files)

    def _sentences(self) -> dict[str, list[Sentence]]:
        if getattr(self, "_sentence_cache", None) is None:
            c = self.config
            read = lambda p: read_conll(p, c.token_column, c.tag_column, c.scheme, c.entity_type, c.encoding)  # noqa: E731
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
            self._warn_unseen_types(out, files)
        return self._sentence_cache

    def _warn_unseen_types(self, sentences: dict[str, list[Sentence]], files: dict[str, Path | None]) -> None:
        """Say so when validation or test hold entity types that training never shows (e.g. a typed
        ``devel.tsv`` beside a train file of other types): the model cannot learn them."""
        types = {s: {t.split("-", 1)[1] for _, _, tags in sents for t in tags if t != "O"} for s, sents in sentences.items()}
        for split in ("validation", "test"):
            unseen = sorted(types.get(split, set()) - types.get("train", set()))
            if unseen:
                where = files.get(split) or f"the {split} split"
                logger.warning(
                    "conll: %s has entity types that no training sentence has (%s): a model trained on %s cannot "
                    "predict them. Check that the files belong together (split_files chooses them).",
                    where, ", ".join(unseen), files.get("train"),
                )

    def _discover_entity_types(self) -> set[str]:
        return {t.split("-", 1)[1] for sents in self._sentences().values() for _, _, tags in sents for t in tags if t != "O"}

    def _split_generators(self, dl_manager):
        sents = self._sentences()
        names = {"train": datasets.Split.TRAIN, "validation": datasets.Split.VALIDATION, "test": datasets.Split.TEST}
        return [datasets.SplitGenerator(name=names[s], gen_kwargs={"split": s, "sentences": sents[s]}) for s in names]

    def _mentions(self, tags: list[str], spans: list[tuple[int, int]], where: str) -> list[tuple[int, int, str]]:
        """Mentions ``(start, end, type)`` of one sentence's tags under ``config.scheme``."""
        scheme = self.config.scheme
        prefixes = SCHEMES[scheme]
        mentions: list[list] = []
        open_type: str | None = None  # type of the mention the next I-/E- tag may continue
        for tag, (s, e) in zip(tags, spans):
            if tag == "O":
                open_type = None
                continue
            raw, etype = tag.split("-", 1)
            kind = prefixes[raw]
            continues = open_type == etype
            if scheme == "IOB1":
                # B- only separates two adjacent mentions of one type; I- starts any other.
                starts = not continues or kind == "B"
            elif kind in ("B", "S"):
                starts = True
            else:
                starts = not continues
                if starts:
                    self.skips.add("i_tag_starts_mention", where)
            if starts:
                mentions.append([s, e, etype])
            else:
                mentions[-1][1] = e
            open_type = None if kind in ("E", "S") else etype
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
