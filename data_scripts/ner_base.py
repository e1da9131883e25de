"""Common config, features and sentence-to-example logic of the NER builders.

Every NER corpus yields one example per sentence::

    id           "<document_id>:<sentence index>"
    document_id  the source document (PMID, drug label, file name, ...)
    text         the sentence
    tokens       NLTK-compatible word tokens (original substrings of `text`)
    ner_tags     IOB2 tags (ClassLabel), e.g. O / B-ADR / I-ADR
    offsets      [start, end] character offsets of each token in `text`

The paper's protocol is available as options: ``max_words=130`` drops sentences of 130 words
(tokens) or more, ``drop_duplicates=True`` keeps only the first occurrence of a sentence text
in the corpus. Both are counted in ``builder.skips``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import datasets

from .base import CorpusBuilder, CorpusConfig, LabelSpace
from .ner_utils import bio_names, spans_to_bio, tokenize


class NerConfig(CorpusConfig):
    """NER options.

    Args:
        entity_types: entity types to tag, in tag order (names of the B-/I- tags).
        max_words: drop sentences with this many word tokens or more (``None`` keeps all;
            the paper used 130).
        drop_duplicates: drop a sentence whose text was already seen (the paper did).
    """

    def __init__(
        self,
        *args: Any,
        entity_types: Sequence[str] = ("ADR",),
        max_words: int | None = None,
        drop_duplicates: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.entity_types = tuple(entity_types)
        self.max_words = max_words
        self.drop_duplicates = drop_duplicates


class NerBuilder(CorpusBuilder):
    """Base of the NER builders: features, label space and ``_sentence_example``."""

    TASK = "ner"
    BUILDER_CONFIG_CLASS = NerConfig
    BUILDER_CONFIGS = [NerConfig(name="default")]
    DEFAULT_CONFIG_NAME = "default"

    def _build_label_space(self) -> LabelSpace:
        return LabelSpace("ner", bio_names(self.config.entity_types))

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=(self.__doc__ or "").strip().split("\n")[0],
            features=datasets.Features(
                {
                    "id": datasets.Value("string"),
                    "document_id": datasets.Value("string"),
                    "text": datasets.Value("string"),
                    "tokens": datasets.Sequence(datasets.Value("string")),
                    "ner_tags": datasets.Sequence(datasets.ClassLabel(names=self.label_space().names)),
                    "offsets": datasets.Sequence(datasets.Sequence(datasets.Value("int32"), length=2)),
                }
            ),
        )

    def _protocol_reset(self) -> None:
        self._seen_sentences: set[str] = set()

    def _sentence_example(
        self,
        document_id: str,
        index: int,
        text: str,
        mentions: Sequence[tuple[int, int, str]],
    ) -> tuple[str, dict] | None:
        """Tokenise one sentence, tag it and apply the protocol filters.

        Args:
            mentions: ``(start, end, type)`` in sentence coordinates; types not in
                ``config.entity_types`` are ignored.
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
        tokens, spans = tokenize(text)
        if self.config.max_words is not None and len(tokens) >= self.config.max_words:
            self.skips.add(f"sentence_of_{self.config.max_words}_words_or_more", where)
            return None
        wanted = set(self.config.entity_types)
        kept = [m for m in mentions if m[2] in wanted]
        tags = spans_to_bio(spans, kept, self.skips, where)
        return where, {
            "id": where,
            "document_id": str(document_id),
            "text": text,
            "tokens": tokens,
            "ner_tags": tags,
            "offsets": [list(s) for s in spans],
        }

    def _examples_from(self, sentences: Iterator[tuple[str, int, str, Sequence[tuple[int, int, str]]]]):
        """Turn ``(document_id, index, text, mentions)`` tuples into examples."""
        for document_id, index, text, mentions in sentences:
            out = self._sentence_example(document_id, index, text, mentions)
            if out is not None:
                yield out
