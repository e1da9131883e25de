"""Sentence splitting, word tokenisation and BIO tagging shared by the NER builders.

Word tokenisation
    ``word_spans`` uses NLTK's ``NLTKWordTokenizer`` (the tokenizer behind
    ``nltk.word_tokenize``, which needs no downloaded data) and returns character spans.
    Tokens are the *original* substrings ``text[start:end]``: NLTK rewrites ``"`` to
    ``\u0060\u0060``/``''``, we keep the characters so that offsets always match the text.
    ``nltk.word_tokenize`` first splits sentences with Punkt (which needs downloaded data);
    our builders split sentences themselves (below) and tokenise each sentence, which is
    what ``word_tokenize`` does per sentence.

Sentence splitting
    Newlines are hard boundaries; within a line, NLTK's Punkt algorithm with its default
    (untrained) parameters plus a list of common biomedical abbreviations, so that
    ``e.g.``, ``i.v.`` or ``Dr.`` do not end a sentence.

BIO tagging (``spans_to_bio``)
    A token belongs to a mention when it shares at least one character with it (a mention
    that starts or ends inside a token, e.g. ``azithromycin`` in ``azithromycin-induced``,
    tags the whole token; counted as ``boundary_inside_token``). Mentions are placed in the
    order (start, longest first, type); a mention that repeats an already placed one exactly
    is counted as ``duplicate_mention``; one that shares a token with an already placed
    mention is dropped and counted as ``overlapping_mention``: the earliest-starting, then
    longest, mention wins. Tags are IOB2.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from nltk.tokenize import NLTKWordTokenizer
from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

from .base import SkipReport

# Lower-cased, without the final period (Punkt's convention).
ABBREVIATIONS = {
    "e.g", "i.e", "vs", "etc", "al", "fig", "figs", "dr", "mr", "mrs", "ms", "prof", "no", "nos",
    "approx", "ca", "cf", "i.v", "i.m", "s.c", "p.o", "b.i.d", "t.i.d", "q.i.d", "q.d", "h.s",
    "mg", "ml", "kg", "wk", "wks", "yr", "yrs", "min", "max", "st", "jr", "sr", "inc", "ltd",
    "co", "dept", "univ", "u.s", "u.k", "resp", "ref", "vol", "pp", "ed", "eds", "spp", "sp",
}


@lru_cache(maxsize=1)
def _word_tokenizer() -> NLTKWordTokenizer:
    return NLTKWordTokenizer()


@lru_cache(maxsize=1)
def _sentence_tokenizer() -> PunktSentenceTokenizer:
    params = PunktParameters()
    params.abbrev_types = set(ABBREVIATIONS)
    return PunktSentenceTokenizer(params)


def word_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of NLTK word tokens in `text` (see module docstring)."""
    try:
        return list(_word_tokenizer().span_tokenize(text))
    except ValueError:
        # NLTK's alignment fails on rare quote/ellipsis rewrites; fall back to a regex that
        # splits words, numbers and single punctuation marks, which always aligns.
        return [m.span() for m in re.finditer(r"\w+(?:[-'.]\w+)*|[^\w\s]", text)]


def tokenize(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Tokens (original substrings) and their spans."""
    spans = word_spans(text)
    return [text[s:e] for s, e in spans], spans


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of sentences in `text`, stripped of surrounding whitespace."""
    out: list[tuple[int, int]] = []
    pos = 0
    for line in text.split("\n"):
        if line.strip():
            for s, e in _sentence_tokenizer().span_tokenize(line):
                seg = line[s:e]
                lead = len(seg) - len(seg.lstrip())
                trail = len(seg) - len(seg.rstrip())
                if seg.strip():
                    out.append((pos + s + lead, pos + e - trail))
        pos += len(line) + 1
    return out


def bio_names(entity_types: Sequence[str]) -> list[str]:
    """``["O", "B-T1", "I-T1", "B-T2", ...]`` for the given entity types."""
    names = ["O"]
    for t in entity_types:
        names += [f"B-{t}", f"I-{t}"]
    return names


def spans_to_bio(
    offsets: Sequence[tuple[int, int]],
    mentions: Iterable[tuple[int, int, str]],
    report: SkipReport | None = None,
    where: str = "",
) -> list[str]:
    """IOB2 tags for tokens at `offsets` given mentions ``(start, end, type)`` in the same
    coordinates (module docstring states the overlap rules).

    Returns: one tag string per token.
    """
    tags = ["O"] * len(offsets)
    mentions = list(mentions)
    unique = sorted(set(mentions), key=lambda m: (m[0], -(m[1] - m[0]), m[2]))
    n_duplicates = len(mentions) - len(unique)
    if report is not None and n_duplicates:
        report.add("duplicate_mention", where)  # one example per sentence ...
        report["duplicate_mention"] += n_duplicates - 1  # ... but every repeat counted
    for start, end, etype in unique:
        idx = [i for i, (s, e) in enumerate(offsets) if s < end and e > start]
        if not idx:
            if report is not None:
                report.add("mention_outside_tokens", where)
            continue
        if any(tags[i] != "O" for i in idx):
            if report is not None:
                report.add("overlapping_mention", where)
            continue
        if report is not None and (offsets[idx[0]][0] != start or offsets[idx[-1]][1] != end):
            report.add("boundary_inside_token", where)
        tags[idx[0]] = f"B-{etype}"
        for i in idx[1:]:
            tags[i] = f"I-{etype}"
    return tags
