"""The BioBERT ADR paper's three baselines: dictionary, CRF, BiLSTM-CRF.

All share the interface of `labelwise.training.tagger.TransformerTagger`, so cross-validation treats
them alike: `fit(tokens_list, tags_list)` with one IOB2 tag per word, then
`predict(tokens_list) -> tags_list`.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence

import ahocorasick
import torch
from torch import nn
from tqdm.auto import tqdm

from labelwise.metrics.entities import entity_spans
from .crf import LinearChainCRF

__all__ = ["DictionaryTagger", "CRFTagger", "BiLSTMCRFTagger", "word_features"]


class DictionaryTagger:
    """Aho-Corasick matching of the entity strings seen in training (pyahocorasick).

    - Dictionary: every training entity, as its (normalised) words joined by single spaces; an
      entry seen with several types keeps its most frequent type.
    - `lowercase` (default True): entries and text are lower-cased, since ADR mentions vary in
      capitalisation ("Rash" at a sentence start) and the paper does not state otherwise.
    - `stem` (default False): every word is reduced to its Porter stem before matching, so
      "reactions" in the text matches a training entry "reaction" (a stand-in for lemmas: the
      WordNet lemmatiser needs data that is not installed offline).
    - `overlap`: matches are taken greedily left to right, skipping any that overlaps one already
      taken; among matches starting at the same word, `"longest"` (default) takes the longest
      first and `"shortest"` the shortest.
    - `min_precision` (default None: keep all): drop every entry whose matches in the training
      sentences are gold entities of its type less often than this share (an entry such as
      "pain" that is an ADR in one sentence and not in ten others is dropped at 0.5).
    - Matches must start and end on word boundaries.
    """

    def __init__(
        self, lowercase: bool = True, stem: bool = False, overlap: str = "longest", min_precision: float | None = None
    ) -> None:
        if overlap not in ("longest", "shortest"):
            raise ValueError(f"DictionaryTagger: overlap must be 'longest' or 'shortest', got {overlap!r}.")
        self.lowercase = lowercase
        self.stem = stem
        self.overlap = overlap
        self.min_precision = min_precision
        self.automaton: ahocorasick.Automaton | None = None
        self.dropped_entries = 0
        self._stemmer = None
        if stem:
            from nltk.stem import PorterStemmer

            self._stemmer = PorterStemmer()

    def _norm_words(self, tokens: Sequence[str]) -> list[str]:
        words = [token.lower() if self.lowercase else token for token in tokens]
        if self._stemmer is not None:
            words = [self._stemmer.stem(word, to_lowercase=self.lowercase) for word in words]
        return words

    @staticmethod
    def _build(entries: dict[str, str]) -> ahocorasick.Automaton:
        automaton = ahocorasick.Automaton()
        for entry, kind in entries.items():
            automaton.add_word(entry, (len(entry), kind, entry))
        if len(automaton):
            automaton.make_automaton()
        return automaton

    def fit(self, tokens_list: Sequence[Sequence[str]], tags_list: Sequence[Sequence[str]]) -> "DictionaryTagger":
        types: dict[str, Counter] = defaultdict(Counter)
        for tokens, tags in zip(tokens_list, tags_list):
            words = self._norm_words(tokens)
            for kind, start, end in entity_spans(tags):
                types[" ".join(words[start:end])][kind] += 1
        entries = {entry: counts.most_common(1)[0][0] for entry, counts in types.items()}
        self.automaton = self._build(entries)
        self.dropped_entries = 0
        if self.min_precision is not None and len(self.automaton):
            hits: Counter = Counter()
            seen: Counter = Counter()
            for tokens, tags in zip(tokens_list, tags_list):
                gold = set(entity_spans(tags))
                for first, end, kind, entry in self._matches(self._norm_words(tokens)):
                    seen[entry] += 1
                    hits[entry] += (kind, first, end) in gold
            kept = {e: k for e, k in entries.items() if seen[e] == 0 or hits[e] / seen[e] >= self.min_precision}
            self.dropped_entries = len(entries) - len(kept)
            self.automaton = self._build(kept)
        return self

    def predict(self, tokens_list: Sequence[Sequence[str]]) -> list[list[str]]:
        if self.automaton is None:
            raise RuntimeError("DictionaryTagger.predict called before fit.")
        return [self._tag(list(tokens)) for tokens in tokens_list]

    def _matches(self, words: list[str]) -> list[tuple[int, int, str, str]]:
        """Every dictionary match `(first word, end word, type, entry)` on word boundaries."""
        if not words or not len(self.automaton):
            return []
        text = " ".join(words)
        # Word boundaries of the space-joined sentence: char position -> word index.
        starts, ends, cursor = {}, {}, 0
        for index, word in enumerate(words):
            starts[cursor] = index
            ends[cursor + len(word)] = index
            cursor += len(word) + 1
        matches = []
        for end_char, (length, kind, entry) in self.automaton.iter(text):
            first, last = starts.get(end_char + 1 - length), ends.get(end_char + 1)
            if first is not None and last is not None:  # both ends on word boundaries
                matches.append((first, last + 1, kind, entry))
        return matches

    def _tag(self, tokens: list[str]) -> list[str]:
        tags = ["O"] * len(tokens)
        sign = -1 if self.overlap == "longest" else 1
        taken = [False] * len(tokens)
        for first, end, kind, _ in sorted(self._matches(self._norm_words(tokens)), key=lambda m: (m[0], sign * (m[1] - m[0]))):
            if any(taken[first:end]):
                continue
            tags[first] = f"B-{kind}"
            for i in range(first + 1, end):
                tags[i] = f"I-{kind}"
            for i in range(first, end):
                taken[i] = True
        return tags


def _shape(word: str) -> str:
    """Collapsed word shape: "Aspirin" -> "Xx", "5-FU" -> "d-X", "mg/kg" -> "x/x"."""
    shape = []
    for char in word:
        code = "X" if char.isupper() else "x" if char.islower() else "d" if char.isdigit() else char
        if not shape or shape[-1] != code:
            shape.append(code)
    return "".join(shape)


def word_features(tokens: Sequence[str], index: int, window: int = 2) -> dict[str, object]:
    """Standard lexical, shape and context features of `tokens[index]` for a CRF."""
    word = tokens[index]
    features: dict[str, object] = {
        "bias": 1.0,
        "lower": word.lower(),
        "prefix3": word[:3].lower(),
        "suffix2": word[-2:].lower(),
        "suffix3": word[-3:].lower(),
        "suffix4": word[-4:].lower(),
        "shape": _shape(word),
        "is_title": word.istitle(),
        "is_upper": word.isupper(),
        "is_digit": word.isdigit(),
        "has_digit": any(c.isdigit() for c in word),
        "has_hyphen": "-" in word,
        "is_punct": not any(c.isalnum() for c in word),
        "length": min(len(word), 10),
    }
    for offset in range(-window, window + 1):
        if offset == 0:
            continue
        position = index + offset
        if 0 <= position < len(tokens):
            other = tokens[position]
            features[f"{offset}:lower"] = other.lower()
            features[f"{offset}:shape"] = _shape(other)
            features[f"{offset}:suffix3"] = other[-3:].lower()
        else:
            features[f"{offset}:pad"] = "BOS" if position < 0 else "EOS"
    if index + 1 < len(tokens):
        features["0:bigram+1"] = f"{word.lower()}|{tokens[index + 1].lower()}"
    if index > 0:
        features["-1:bigram0"] = f"{tokens[index - 1].lower()}|{word.lower()}"
    return features


class CRFTagger:
    """sklearn-crfsuite CRF (L-BFGS, elastic-net) over `word_features`."""

    def __init__(self, c1: float = 0.1, c2: float = 0.1, max_iterations: int = 100, window: int = 2) -> None:
        self.params = dict(c1=c1, c2=c2, max_iterations=max_iterations)
        self.window = window
        self.model = None

    def _featurise(self, tokens_list: Sequence[Sequence[str]]) -> list[list[dict]]:
        return [[word_features(tokens, i, self.window) for i in range(len(tokens))] for tokens in tokens_list]

    def fit(self, tokens_list: Sequence[Sequence[str]], tags_list: Sequence[Sequence[str]]) -> "CRFTagger":
        import sklearn_crfsuite

        self.model = sklearn_crfsuite.CRF(algorithm="lbfgs", all_possible_transitions=True, **self.params)
        self.model.fit(self._featurise(tokens_list), [list(tags) for tags in tags_list])
        return self

    def predict(self, tokens_list: Sequence[Sequence[str]]) -> list[list[str]]:
        if self.model is None:
            raise RuntimeError("CRFTagger.predict called before fit.")
        return [list(tags) for tags in self.model.predict(self._featurise(tokens_list))]


class _BiLSTMCRF(nn.Module):
    """Lample et al. (2016): [word embedding; char-BiLSTM] -> BiLSTM -> linear -> CRF."""

    def __init__(self, n_words: int, n_chars: int, n_tags: int, word_dim: int, char_dim: int, char_hidden: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.word_embedding = nn.Embedding(n_words, word_dim, padding_idx=0)
        self.char_embedding = nn.Embedding(n_chars, char_dim, padding_idx=0)
        self.char_lstm = nn.LSTM(char_dim, char_hidden, batch_first=True, bidirectional=True)
        self.lstm = nn.LSTM(word_dim + 2 * char_hidden, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.emissions = nn.Linear(2 * hidden, n_tags)
        self.crf = LinearChainCRF(n_tags)

    def emission_scores(self, words: torch.Tensor, chars: torch.Tensor, char_lengths: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """words (B, T), chars (B, T, C), char_lengths (B, T), mask (B, T) -> emissions (B, T, tags)."""
        batch, time, width = chars.shape
        flat_chars = chars.view(batch * time, width)
        flat_lengths = char_lengths.view(-1).clamp(min=1).cpu()  # padding words get a 1-char dummy
        packed = nn.utils.rnn.pack_padded_sequence(
            self.char_embedding(flat_chars), flat_lengths, batch_first=True, enforce_sorted=False
        )
        _, (h_n, _) = self.char_lstm(packed)  # h_n: (2, B*T, char_hidden), final states of both directions
        char_repr = torch.cat([h_n[0], h_n[1]], dim=-1).view(batch, time, -1)
        inputs = self.dropout(torch.cat([self.word_embedding(words), char_repr], dim=-1))
        packed = nn.utils.rnn.pack_padded_sequence(inputs, mask.sum(1).cpu(), batch_first=True, enforce_sorted=False)
        output, _ = self.lstm(packed)
        output, _ = nn.utils.rnn.pad_packed_sequence(output, batch_first=True, total_length=time)
        return self.emissions(self.dropout(output))


class BiLSTMCRFTagger:
    """BiLSTM-CRF with word and character embeddings (randomly initialised: no pretrained vectors offline).

    Words are lower-cased for the word embedding (characters keep case); training words seen once
    are replaced by <unk> with probability `unk_dropout` so the <unk> vector is learnt.
    """

    def __init__(
        self,
        word_dim: int = 100,
        char_dim: int = 25,
        char_hidden: int = 25,
        hidden: int = 100,
        dropout: float = 0.5,
        epochs: int = 10,
        batch_size: int = 32,
        learning_rate: float = 1e-3,
        unk_dropout: float = 0.5,
        seed: int = 42,
        show_progress: bool = False,
    ) -> None:
        self.dims = dict(word_dim=word_dim, char_dim=char_dim, char_hidden=char_hidden, hidden=hidden, dropout=dropout)
        self.epochs, self.batch_size, self.learning_rate = epochs, batch_size, learning_rate
        self.unk_dropout, self.seed, self.show_progress = unk_dropout, seed, show_progress
        self.model: _BiLSTMCRF | None = None

    def _tensors(self, tokens_list: Sequence[Sequence[str]], word_ids: list[list[int]]):
        batch, time = len(tokens_list), max(len(tokens) for tokens in tokens_list)
        width = max(len(token) for tokens in tokens_list for token in tokens)
        words = torch.zeros(batch, time, dtype=torch.long)
        chars = torch.zeros(batch, time, width, dtype=torch.long)
        char_lengths = torch.zeros(batch, time, dtype=torch.long)
        mask = torch.zeros(batch, time, dtype=torch.bool)
        for b, tokens in enumerate(tokens_list):
            words[b, : len(tokens)] = torch.tensor(word_ids[b])
            mask[b, : len(tokens)] = True
            for t, token in enumerate(tokens):
                ids = [self.char_vocab.get(c, 1) for c in token]
                chars[b, t, : len(ids)] = torch.tensor(ids)
                char_lengths[b, t] = len(ids)
        return words, chars, char_lengths, mask

    def fit(self, tokens_list: Sequence[Sequence[str]], tags_list: Sequence[Sequence[str]]) -> "BiLSTMCRFTagger":
        pairs = [(list(tokens), list(tags)) for tokens, tags in zip(tokens_list, tags_list) if len(tokens)]
        generator = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        rng = random.Random(self.seed)
        counts = Counter(token.lower() for tokens, _ in pairs for token in tokens)
        self.word_vocab = {"<pad>": 0, "<unk>": 1, **{w: i + 2 for i, w in enumerate(sorted(counts))}}
        chars = sorted({c for tokens, _ in pairs for token in tokens for c in token})
        self.char_vocab = {"<pad>": 0, "<unk>": 1, **{c: i + 2 for i, c in enumerate(chars)}}
        self.tag_names = sorted({tag for _, tags in pairs for tag in tags})
        tag_ids = {tag: i for i, tag in enumerate(self.tag_names)}
        self.model = _BiLSTMCRF(len(self.word_vocab), len(self.char_vocab), len(self.tag_names), **self.dims)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=self.learning_rate)
        self.model.train()
        for epoch in tqdm(range(self.epochs), desc="BiLSTM-CRF epochs", disable=not self.show_progress):
            order = torch.randperm(len(pairs), generator=generator).tolist()
            for begin in range(0, len(order), self.batch_size):
                batch = [pairs[i] for i in order[begin : begin + self.batch_size]]
                word_ids = [
                    [
                        1 if counts[t.lower()] == 1 and rng.random() < self.unk_dropout else self.word_vocab[t.lower()]
                        for t in tokens
                    ]
                    for tokens, _ in batch
                ]
                words, chars_t, char_lengths, mask = self._tensors([tokens for tokens, _ in batch], word_ids)
                tags = torch.zeros_like(words)
                for b, (_, sequence) in enumerate(batch):
                    tags[b, : len(sequence)] = torch.tensor([tag_ids[tag] for tag in sequence])
                emissions = self.model.emission_scores(words, chars_t, char_lengths, mask)
                loss = self.model.crf.neg_log_likelihood(emissions, tags, mask)
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)  # LSTMs: avoid exploding gradients
                optimizer.step()
        self.model.eval()
        return self

    @torch.no_grad()
    def predict(self, tokens_list: Sequence[Sequence[str]]) -> list[list[str]]:
        if self.model is None:
            raise RuntimeError("BiLSTMCRFTagger.predict called before fit.")
        predictions: list[list[str]] = [[] for _ in tokens_list]
        indices = [i for i, tokens in enumerate(tokens_list) if len(tokens)]
        for begin in range(0, len(indices), 256):
            chunk = indices[begin : begin + 256]
            batch = [list(tokens_list[i]) for i in chunk]
            word_ids = [[self.word_vocab.get(t.lower(), 1) for t in tokens] for tokens in batch]
            words, chars, char_lengths, mask = self._tensors(batch, word_ids)
            paths = self.model.crf.viterbi_decode(self.model.emission_scores(words, chars, char_lengths, mask), mask)
            for i, path in zip(chunk, paths):
                predictions[i] = [self.tag_names[tag] for tag in path]
        return predictions
