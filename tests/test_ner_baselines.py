"""The paper's baselines (dictionary, CRF, BiLSTM-CRF) and our torch CRF layer."""

import itertools

import pytest
import torch

from labelwise.ner.baselines import BiLSTMCRFTagger, CRFTagger, DictionaryTagger, word_features
from labelwise.ner.crf import LinearChainCRF

# Trivially separable: "rash" and "fever" are always single-word ADRs, "liver failure" a two-word one.
TRAIN = [
    (["The", "patient", "developed", "rash", "after", "aspirin", "."], ["O", "O", "O", "B-ADR", "O", "O", "O"]),
    (["Fever", "was", "reported", "with", "ibuprofen", "."], ["B-ADR", "O", "O", "O", "O", "O"]),
    (["Liver", "failure", "followed", "rash", "."], ["B-ADR", "I-ADR", "O", "B-ADR", "O"]),
    (["She", "had", "fever", "and", "liver", "failure", "."], ["O", "O", "B-ADR", "O", "B-ADR", "I-ADR", "O"]),
    (["No", "events", "were", "seen", "."], ["O", "O", "O", "O", "O"]),
] * 4
TEST_TOKENS = [["A", "rash", "and", "fever", "appeared", "."], ["Liver", "failure", "was", "seen", "."]]
TEST_TAGS = [["O", "B-ADR", "O", "B-ADR", "O", "O"], ["B-ADR", "I-ADR", "O", "O", "O"]]


def _fit(tagger):
    return tagger.fit([t for t, _ in TRAIN], [g for _, g in TRAIN])


def test_dictionary_longest_match_at_word_boundaries_case_insensitive():
    tagger = DictionaryTagger().fit([["liver", "failure"], ["failure"], ["rash"]], [["B-ADR", "I-ADR"], ["B-ADR"], ["B-ADR"]])
    tokens = ["Acute", "LIVER", "failure", ",", "rashes", "and", "rash", "failure", "."]
    # Longest match wins over the contained "failure"; "rash" inside "rashes" is no word match;
    # the adjacent "rash" and "failure" are two entries, two entities.
    assert tagger.predict([tokens]) == [["O", "B-ADR", "I-ADR", "O", "O", "O", "B-ADR", "B-ADR", "O"]]
    exact = DictionaryTagger(lowercase=False).fit([["rash"]], [["B-ADR"]])
    assert exact.predict([["Rash", "rash"], []]) == [["O", "B-ADR"], []]


def test_dictionary_variants_stems_overlap_and_precision_filter():
    tokens = ["severe", "skin", "reactions", "and", "skin", "pain"]
    plain = DictionaryTagger().fit([["skin", "reaction"], ["skin"]], [["B-ADR", "I-ADR"], ["B-ADR"]])
    # Without stems "reactions" is not "reaction": only the entry "skin" matches, twice.
    assert plain.predict([tokens]) == [["O", "B-ADR", "O", "O", "B-ADR", "O"]]
    stemmed = DictionaryTagger(stem=True).fit([["skin", "reaction"], ["skin"]], [["B-ADR", "I-ADR"], ["B-ADR"]])
    assert stemmed.predict([tokens]) == [["O", "B-ADR", "I-ADR", "O", "B-ADR", "O"]]
    shortest = DictionaryTagger(stem=True, overlap="shortest").fit(
        [["skin", "reaction"], ["skin"]], [["B-ADR", "I-ADR"], ["B-ADR"]]
    )
    assert shortest.predict([tokens]) == [["O", "B-ADR", "O", "O", "B-ADR", "O"]]
    # "pain" is an ADR once and plain text three times in training: precision 0.25.
    train = [["pain"], ["pain", "relief"], ["no", "pain"], ["pain", "score"], ["rash"]]
    tags = [["B-ADR"], ["O", "O"], ["O", "O"], ["O", "O"], ["B-ADR"]]
    kept_all = DictionaryTagger().fit(train, tags)
    filtered = DictionaryTagger(min_precision=0.5).fit(train, tags)
    assert kept_all.predict([["pain", "rash"]]) == [["B-ADR", "B-ADR"]]
    assert filtered.predict([["pain", "rash"]]) == [["O", "B-ADR"]]
    assert filtered.dropped_entries == 1 and kept_all.dropped_entries == 0
    with pytest.raises(ValueError, match="overlap must be"):
        DictionaryTagger(overlap="first")


def test_dictionary_learns_the_fixture():
    assert _fit(DictionaryTagger()).predict(TEST_TOKENS) == TEST_TAGS


def test_crf_features_and_learning():
    features = word_features(["The", "5-FU", "dose"], 1)
    assert features["shape"] == "d-X" and features["-1:lower"] == "the" and features["2:pad"] == "EOS"
    assert _fit(CRFTagger(max_iterations=50)).predict(TEST_TOKENS) == TEST_TAGS


@pytest.mark.slow
def test_bilstm_crf_learns_the_fixture():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny LSTM steps: one thread is several times faster on a shared CPU
    tagger = BiLSTMCRFTagger(word_dim=16, char_dim=8, char_hidden=8, hidden=16, dropout=0.0, epochs=25, batch_size=4, learning_rate=0.02, unk_dropout=0.0)
    try:
        assert _fit(tagger).predict(TEST_TOKENS + [[]]) == TEST_TAGS + [[]]
    finally:
        torch.set_num_threads(threads)


def _brute_force(crf, emissions, length):
    """All num_tags**length paths of one sequence: (log Z, best path, score function)."""
    def score(path):
        total = crf.start_transitions[path[0]] + emissions[0, path[0]] + crf.end_transitions[path[-1]]
        for t in range(1, length):
            total = total + crf.transitions[path[t - 1], path[t]] + emissions[t, path[t]]
        return total

    paths = list(itertools.product(range(crf.num_tags), repeat=length))
    scores = torch.stack([score(p) for p in paths])
    return torch.logsumexp(scores, 0), list(paths[int(scores.argmax())]), score


def test_crf_layer_matches_brute_force_enumeration():
    torch.manual_seed(0)
    crf = LinearChainCRF(3)
    with torch.no_grad():  # larger than the init range, so paths really differ
        for parameter in crf.parameters():
            parameter.normal_()
    emissions = torch.randn(2, 4, 3)
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    tags = torch.tensor([[0, 2, 1, 1], [2, 0, 1, 1]])  # padding tags of row 2 must not matter
    log_z = crf.log_partition(emissions, mask)
    paths = crf.viterbi_decode(emissions, mask)
    scores = crf.path_score(emissions, tags, mask)
    for b, length in enumerate([4, 2]):
        expected_log_z, expected_path, score = _brute_force(crf, emissions[b, :length], length)
        assert log_z[b].item() == pytest.approx(expected_log_z.item(), abs=1e-5)
        assert paths[b] == expected_path
        assert scores[b].item() == pytest.approx(score(tags[b, :length].tolist()).item(), abs=1e-5)
    # Probabilities of all paths sum to one, so the NLL of any path is positive.
    assert crf.neg_log_likelihood(emissions, tags, mask).item() > 0
    with pytest.raises(ValueError, match="mask"):
        crf.log_partition(emissions, torch.zeros(2, 4, dtype=torch.bool))
