"""Appendix A document normalisation (labelwise.data_scripts.text_preprocessing)."""

from __future__ import annotations

import pytest
from helpers import tiny_tokenizer

from labelwise.data_scripts.text_preprocessing import (
    ENGLISH_STOP_WORDS,
    NEGATIONS,
    is_numeric_token,
    is_punctuation_token,
    preprocess_document,
)

LEGAL = "Council Regulation (EEC) No 2658/87 of 23 July 1987, on the tariff nomenclature. It applies from 1.1.1988."
CLINICAL = "The patient was admitted with no heart issues; he didn't have COVID-19 -- 'anti-dumping' of 3.5% (§ 4)."


@pytest.mark.parametrize("token", ["2019", "1.5", "2658/87", "3%", "1.1.1988", "-4", "12:30"])
def test_numeric_tokens(token):
    assert is_numeric_token(token)


@pytest.mark.parametrize("token", ["COVID-19", "H2O", "ICD9", "July", "", "%"])
def test_tokens_with_letters_or_no_digits_are_not_numeric(token):
    assert not is_numeric_token(token)


@pytest.mark.parametrize("token", [",", "(", "--", "§", "``", "...", "%"])
def test_punctuation_tokens(token):
    assert is_punctuation_token(token)


@pytest.mark.parametrize("token", ["anti-dumping", "a", "3", "", "n't"])
def test_words_are_not_punctuation(token):
    assert not is_punctuation_token(token)


def test_full_preprocessing_of_a_legal_sentence():
    assert preprocess_document(LEGAL) == "Council Regulation EEC No July tariff nomenclature applies"


def test_full_preprocessing_of_a_clinical_sentence_keeps_negations():
    assert preprocess_document(CLINICAL) == "patient admitted no heart issues n't COVID-19 anti-dumping"


def test_each_step_can_be_switched_off():
    assert preprocess_document(LEGAL, remove_numbers=False, remove_stopwords=False) == (
        "Council Regulation EEC No 2658/87 of 23 July 1987 on the tariff nomenclature It applies from 1.1.1988"
    )
    assert preprocess_document(LEGAL, remove_punctuation=False, remove_stopwords=False) == (
        "Council Regulation ( EEC ) No of July , on the tariff nomenclature . It applies from ."
    )
    assert preprocess_document(LEGAL, remove_numbers=False, remove_punctuation=False, remove_stopwords=False) == (
        "Council Regulation ( EEC ) No 2658/87 of 23 July 1987 , on the tariff nomenclature . It applies from 1.1.1988 ."
    )


def test_custom_stop_words_replace_the_default_list_case_insensitively():
    assert preprocess_document(CLINICAL, stop_words=["PATIENT", "No", "n't"]) == (
        "The was admitted with heart issues he did have COVID-19 anti-dumping of"
    )


def test_stop_word_list_is_lower_case_and_spares_negations():
    assert all(word == word.lower() for word in ENGLISH_STOP_WORDS)
    assert not ENGLISH_STOP_WORDS & NEGATIONS
    assert {"the", "of", "and", "which", "is", "'s"} <= ENGLISH_STOP_WORDS


def test_edge_cases():
    assert preprocess_document("") == ""
    assert preprocess_document("  12, 13 (and) the.  ") == ""
    assert preprocess_document("Line one.\nLine two!") == "Line one Line two"
    with pytest.raises(TypeError, match="expects a str, got NoneType"):
        preprocess_document(None)


def test_truncation_is_left_to_the_tokenizer(tmp_path):
    # The preprocessing never cuts; a long document is truncated by the tokenizer to max_length.
    long_text = " ".join(["cancer cells growth 1987 ,"] * 300)
    cleaned = preprocess_document(long_text)
    assert cleaned.split() == ["cancer", "cells", "growth"] * 300
    tokenizer = tiny_tokenizer(tmp_path)
    encoded = tokenizer(cleaned, truncation=True, max_length=512)
    assert len(encoded["input_ids"]) == 512
