"""Common config, features and sentence-to-example logic of the NER builders.

Every NER corpus yields one example per sentence::

    id           "<document_id>:<sentence index>"
    document_id  the source document (PMID, drug label, file name, ...)
    text         the sentence
    tokens       NLTK-compatible word tokens (original substrings of `text`)
    ner_tags     IOB2 tags (ClassLabel), e.g. O / B-ADR / I-ADR
    offsets      [start, end] character offsets of each token in `text`

Documents (TAC sections, Brat files) are split into sentences by
:func:`ner_utils.sentence_spans`; a mention belongs to the sentence it starts in and one that
runs past that sentence's end is clipped to it (counted as ``mention_crosses_sentence``).

Discontinuous mentions (TAC, Brat) follow ``discontinuous``: ``"fragments"`` (default) tags
each fragment as its own mention, ``"span"`` tags everything from the first fragment's start
to the last one's end, ``"drop"`` ignores them; all are counted (``discontinuous_mention``).

Mention strings are checked against the text at their offsets (:meth:`NerBuilder.check_mention`):
an exact match is kept; a match that differs only by letter case (a distributor lower-cased
the mention string) is kept too and counted as ``offset_case_mismatch``; anything else is
skipped as ``offset_mismatch``. Mentions of a type outside ``entity_types`` are left untagged
and counted (``entity_type_not_selected``).

The paper's protocol is available as options: ``max_words=130`` drops sentences of 130 words
(tokens) or more, ``drop_duplicates=True`` keeps only the first occurrence of a sentence text
in the corpus. Both are counted in ``builder.skips``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import datasets

from .base import CorpusBuilder, CorpusConfig, LabelSpace
from .ner_utils import bio_names, sentence_spans, spans_to_bio, tokenize


def ner_features(names: Sequence[str]) -> datasets.Features:
    """The features of an NER corpus whose IOB2 tags are `names` (module docstring)."""
    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "document_id": datasets.Value("string"),
            "text": datasets.Value("string"),
            "tokens": datasets.Sequence(datasets.Value("string")),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=list(names))),
            "offsets": datasets.Sequence(datasets.Sequence(datasets.Value("int32"), length=2)),
        }
    )


class NerConfig(CorpusConfig):
    """NER options.

    Args:
        entity_types: entity types to tag, in tag order (names of the B-/I- tags); ``None``
            (user formats only) means every type found in the files, sorted.
        max_words: drop sentences with this many word tokens or more (``None`` keeps all;
            the paper used 130).
        drop_duplicates: drop a sentence whose text was already seen (the paper did).
        discontinuous: rule for discontinuous mentions (module docstring).
    """

    def __init__(
        self,
        *args: Any,
        entity_types: Sequence[str] | None = ("ADR",),
        max_words: int | None = None,
        drop_duplicates: bool = False,
        discontinuous: str = "fragments",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.entity_types = None if entity_types is None else tuple(entity_types)
        self.max_words = max_words
        self.drop_duplicates = drop_duplicates
        if discontinuous not in ("fragments", "span", "drop"):
            raise ValueError(f"discontinuous must be 'fragments', 'span' or 'drop', got {discontinuous!r}")
        self.discontinuous = discontinuous


class NerBuilder(CorpusBuilder):
    """Base of the NER builders: features, label space and ``_sentence_example``."""

    TASK = "ner"
    BUILDER_CONFIG_CLASS = NerConfig
    BUILDER_CONFIGS = [NerConfig(name="default")]
    DEFAULT_CONFIG_NAME = "default"

    def _build_label_space(self) -> LabelSpace:
        return LabelSpace("ner", bio_names(self.entity_types()))

    def entity_types(self) -> tuple[str, ...]:
        """The configured entity types, or those found in the data when none are configured."""
        if self.config.entity_types is not None:
            return self.config.entity_types
        if getattr(self, "_found_types", None) is None:
            self._found_types = tuple(sorted(self._discover_entity_types()))
        return self._found_types

    def _discover_entity_types(self) -> set[str]:
        raise ValueError(f"{self.CORPUS}: pass entity_types=[...]")

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=(self.__doc__ or "").strip().split("\n")[0],
            features=ner_features(self.label_space().names),
        )

    def _sentence_example(
        self,
        document_id: str,
        index: int,
        text: str,
        mentions: Sequence[tuple[int, int, str]],
        spans: Sequence[tuple[int, int]] | None = None,
    ) -> tuple[str, dict] | None:
        """Tokenise one sentence, tag it and apply the protocol filters.

        Args:
            mentions: ``(start, end, type)`` in sentence coordinates; types not in
                ``config.entity_types`` are ignored.
            spans: token spans when the corpus comes tokenised (CoNLL); else the sentence is
                tokenised here.
        Returns:
            ``(key, example)`` or ``None`` when a filter drops the sentence (counted).
        """
        where = f"{document_id}:{index}"
        if not text.strip():
            self.skip("empty_sentence", where)
            return None
        if self.config.drop_duplicates:
            seen = getattr(self, "_seen_sentences", None)
            if seen is None:
                seen = self._seen_sentences = set()
            if text in seen:
                self.skips.add("duplicate_sentence", where)
                return None
            seen.add(text)
        if spans is None:
            tokens, spans = tokenize(text)
        else:
            tokens = [text[s:e] for s, e in spans]
        if self.config.max_words is not None and len(tokens) >= self.config.max_words:
            self.skips.add(f"sentence_of_{self.config.max_words}_words_or_more", where)
            return None
        wanted = set(self.entity_types())
        kept = [m for m in mentions if m[2] in wanted]
        for m in mentions:
            if m[2] not in wanted:
                self.skips.add("entity_type_not_selected", f"{m[2]} in {where}")
        tags = spans_to_bio(spans, kept, self.skips, where)
        return where, {
            "id": where,
            "document_id": str(document_id),
            "text": text,
            "tokens": tokens,
            "ner_tags": tags,
            "offsets": [list(s) for s in spans],
        }

    def _examples_from(self, sentences: Iterator[tuple]):
        """Turn ``(document_id, index, text, mentions[, spans])`` tuples into examples."""
        for item in sentences:
            out = self._sentence_example(*item)
            if out is not None:
                yield out

    def check_mention(self, found: str, expected: str | None, where: str) -> bool:
        """Whether a mention whose offsets select `found` and whose annotated string is
        `expected` (None: not given) is kept; counts case-only differences and skips the rest."""
        if expected is None or found == expected:
            return True
        if found.lower() == expected.lower():
            self.skips.add("offset_case_mismatch", where)
            return True
        self.skip("offset_mismatch", where)
        return False

    def _resolve_fragments(self, fragments: Sequence[tuple[int, int]], etype: str, where: str) -> list[tuple[int, int, str]]:
        """Mentions for one (possibly discontinuous) annotation, by ``config.discontinuous``."""
        if len(fragments) == 1:
            return [(fragments[0][0], fragments[0][1], etype)]
        self.skips.add("discontinuous_mention", where)
        rule = self.config.discontinuous
        if rule == "drop":
            return []
        if rule == "span":
            return [(min(s for s, _ in fragments), max(e for _, e in fragments), etype)]
        return [(s, e, etype) for s, e in fragments]

    def _document_sentences(self, document_id: str, text: str, mentions: Sequence[tuple[int, int, str]], first_index: int = 0):
        """Split a document into sentences and move its mentions into sentence coordinates.

        Yields ``(document_id, index, sentence, mentions)`` tuples for ``_examples_from``."""
        sentences = sentence_spans(text)
        local: list[list[tuple[int, int, str]]] = [[] for _ in sentences]
        for start, end, etype in mentions:
            for i, (s, e) in enumerate(sentences):
                if s <= start < e:
                    if end > e:
                        self.skips.add("mention_crosses_sentence", f"{document_id}:{start}-{end}")
                    local[i].append((start - s, min(end, e) - s, etype))
                    break
            else:
                self.skips.add("mention_outside_sentences", f"{document_id}:{start}-{end}")
        for i, (s, e) in enumerate(sentences):
            yield document_id, first_index + i, text[s:e], local[i]
