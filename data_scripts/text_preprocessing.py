"""Document normalisation of the layer-wise guided training paper (appendix A), as an option.

Manginas et al. (2020) shorten EURLEX57K and MIMIC-III documents before BERT's 512-token limit by
removing numeric tokens, punctuation and stop words. `preprocess_document` does the same:

1. Split the text into sentences and words with the project's NLTK-based word tokeniser
   (`ner_utils`, no downloaded data needed; the paper used spaCy for EURLEX and regular
   expressions for MIMIC-III).
2. Drop numeric tokens: tokens with at least one digit and no letter (`2019`, `1.5`, `2658/87`,
   `3%`). Tokens that mix letters and digits (`COVID-19`, `H2O`, `ICD9`) are words and stay.
3. Drop punctuation: tokens made only of Unicode punctuation or symbol characters (`,`, `(`,
   `--`, `§`). Hyphens or apostrophes inside a word (`anti-dumping`) are kept.
4. Drop stop words: case-insensitive membership in `ENGLISH_STOP_WORDS` (below, our own list) or
   a list you pass. Negations (`no`, `not`, `without`, ...) are deliberately *not* stop words here:
   in clinical text "no evidence of pneumonia" must not become "evidence pneumonia".
5. Join the kept tokens with single spaces. Case is kept; an uncased tokenizer lower-cases later.

Truncation to 512 tokens is *not* done here: it happens in the model's tokenizer
(`tokenizer(text, truncation=True, max_length=512)`), which counts word pieces, the unit that the
limit is about. This step only makes more of the document fit before that cut.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from .ner_utils import sentence_spans, tokenize

# Our own English stop-word list: function words (articles, pronouns, auxiliaries, prepositions,
# conjunctions, determiners, common adverbs) plus the clitics NLTK splits off ("'s", "'ll").
# Negations are excluded on purpose (see NEGATIONS and the module docstring).
ENGLISH_STOP_WORDS: frozenset[str] = frozenset(
    """
    a an the
    i me my mine myself we us our ours ourselves you your yours yourself yourselves
    he him his himself she her hers herself it its itself they them their theirs themselves
    this that these those who whom whose which what whatever whichever whoever
    am is are was were be been being have has had having do does did doing done
    will would shall should can could may might must ought
    's 'm 're 've 'd 'll
    and or but if then else than so because as while whereas whether either neither both
    of at by for with about against between into through during before after above below
    to from up down in out on off over under again further once onto upon within via
    here there when where why how all any each every few more most other some such
    own same too very just also only even still yet already ever
    s t d ll m re ve
    across along among amongst around behind beside besides beyond toward towards
    throughout thus hence therefore however moreover furthermore nevertheless otherwise
    whereby wherein whereupon thereby therein thereof thereto hereby herein hereof
    much many several another anyone anything someone something somewhere everyone
    everything everywhere anyhow anyway somehow sometimes often always
    """.split()
)

# Words that carry negation; never removed by default (see module docstring). Add them to a
# custom `stop_words` list to reproduce a list that drops them.
NEGATIONS: frozenset[str] = frozenset({"no", "not", "nor", "never", "none", "nothing", "nobody", "without", "n't", "cannot"})


def is_numeric_token(token: str) -> bool:
    """True for a token with at least one digit and no letter (`2019`, `1.5`, `2658/87`, `3%`)."""
    return any(ch.isdigit() for ch in token) and not any(ch.isalpha() for ch in token)


def is_punctuation_token(token: str) -> bool:
    """True for a non-empty token made only of Unicode punctuation (P*) or symbol (S*) characters."""
    return bool(token) and all(unicodedata.category(ch)[0] in "PS" for ch in token)


def word_tokens(text: str) -> list[str]:
    """Word tokens of `text`, sentence by sentence (so sentence-final periods are split off)."""
    tokens: list[str] = []
    for start, end in sentence_spans(text):
        tokens.extend(tokenize(text[start:end])[0])
    return tokens


def preprocess_document(
    text: str,
    remove_numbers: bool = True,
    remove_punctuation: bool = True,
    remove_stopwords: bool = True,
    stop_words: Iterable[str] | None = None,
) -> str:
    """Appendix A normalisation: drop numeric tokens, punctuation and stop words (module docstring).

    Args:
        text: the document.
        remove_numbers / remove_punctuation / remove_stopwords: switch each step.
        stop_words: replaces `ENGLISH_STOP_WORDS` (compared lower-cased).
    Returns:
        The kept tokens joined by single spaces (an empty string if nothing is left). Truncation at
        512 tokens is left to the model's tokenizer (`truncation=True, max_length=512`).
    """
    if not isinstance(text, str):
        raise TypeError(f"preprocess_document expects a str, got {type(text).__name__}.")
    stops = ENGLISH_STOP_WORDS if stop_words is None else frozenset(word.lower() for word in stop_words)
    kept = []
    for token in word_tokens(text):
        if remove_numbers and is_numeric_token(token):
            continue
        if remove_punctuation and is_punctuation_token(token):
            continue
        if remove_stopwords and token.lower() in stops:
            continue
        kept.append(token)
    return " ".join(kept)
