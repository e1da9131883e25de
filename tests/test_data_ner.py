"""NER builders (ADE, TAC 2017, Brat, CoNLL) and the shared tokenisation/BIO rules."""

from pathlib import Path

import pytest

from labelwise.data_scripts import CorpusError, CorpusFormatError, load_corpus, load_label_space
from labelwise.data_scripts.base import SkipReport
from labelwise.data_scripts.ner_utils import sentence_spans, spans_to_bio, tokenize


@pytest.fixture
def cache(tmp_path):
    return str(tmp_path / "cache")


def tags_of(ds, split="train"):
    names = ds[split].features["ner_tags"].feature.names
    return {r["id"]: (r["tokens"], [names[t] for t in r["ner_tags"]]) for r in ds[split]}


def all_rows(ds):
    names = ds["train"].features["ner_tags"].feature.names
    return {r["id"]: ([*r["tokens"]], [names[t] for t in r["ner_tags"]], r) for split in ds.values() for r in split}


# ----------------------------------------------------------------------------- shared rules
def test_tokenizer_matches_nltk_and_keeps_original_characters():
    text = 'He said "no" (3.5 mg/kg) didn\'t help; e.g. rash.'
    tokens, spans = tokenize(text)
    # NLTKWordTokenizer gives ``/'' for the quotes; we keep the original characters.
    assert tokens == ["He", "said", '"', "no", '"', "(", "3.5", "mg/kg", ")", "did", "n't", "help", ";", "e.g.", "rash", "."]
    assert all(text[s:e] == t for t, (s, e) in zip(tokens, spans))


def test_sentence_splitter_respects_abbreviations_and_newlines():
    text = "Rash occurred, e.g. on the arms. Dr. Smith stopped it.\nSecond line here"
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "Rash occurred, e.g. on the arms.", "Dr. Smith stopped it.", "Second line here"]


def test_bio_rules_duplicates_overlaps_and_partial_tokens():
    offsets = [(0, 5), (6, 10), (11, 20), (21, 25)]
    report = SkipReport()
    mentions = [(6, 20, "ADR"), (6, 20, "ADR"), (11, 25, "ADR"), (0, 3, "DRUG")]
    assert spans_to_bio(offsets, mentions, report) == ["B-DRUG", "B-ADR", "I-ADR", "O"]
    assert report == {"duplicate_mention": 1, "overlapping_mention": 1, "boundary_inside_token": 1}


# ----------------------------------------------------------------------------- ADE
S1 = "Intravenous azithromycin-induced ototoxicity."
S2 = "Severe hepatic failure and rash followed methotrexate therapy."
S3 = "Lithium caused tremor, and lithium later caused tremor again."


def write_ade(root: Path, extra_rel: str = "", extra_neg: str = "") -> Path:
    root.mkdir(parents=True)
    # Document-level offsets: S1 starts at 10 in document 1; S2 at 100 and S3 at 300 in doc 2.
    rel = [
        f"1|{S1}|ototoxicity|{10 + 33}|{10 + 44}|azithromycin|{10 + 12}|{10 + 24}",
        f"2|{S2}|hepatic failure|{100 + 7}|{100 + 22}|methotrexate|{100 + 41}|{100 + 53}",
        f"2|{S2}|rash|{100 + 27}|{100 + 31}|methotrexate|{100 + 41}|{100 + 53}",
        # The second "tremor" (position 48) is meant; "lithium" at 0 and 27 both exist.
        f"2|{S3}|tremor|{300 + 48}|{300 + 54}|lithium|{300 + 27}|{300 + 34}",
    ]
    (root / "DRUG-AE.rel").write_text("\n".join(rel) + "\n" + extra_rel)
    neg = ["3 NEG No adverse event occurred with aspirin.", "4 NEG Patients were followed for two years.",
           f"1 NEG {S1}"]
    (root / "ADE-NEG.txt").write_text("\n".join(neg) + "\n" + extra_neg)
    return root


def test_ade_document_offsets_become_verified_sentence_spans(tmp_path, cache):
    root = write_ade(tmp_path / "ade")
    ds = load_corpus("ade", data_dir=str(root), cache_dir=cache, split_ratio="1:0:0")
    rows = all_rows(ds)
    assert len(ds["train"]) == 5  # 3 positive sentences + 2 negatives (the third repeats a positive)
    tokens, tags, row = rows["1:0"]
    assert tokens == ["Intravenous", "azithromycin-induced", "ototoxicity", "."] and tags == ["O", "O", "B-ADR", "O"]
    assert row["offsets"][2] == [33, 44] and row["document_id"] == "1"
    assert rows["2:0"][1] == ["O", "B-ADR", "I-ADR", "O", "B-ADR", "O", "O", "O", "O"]
    tokens, tags, _ = rows["2:1"]
    assert [t for t, g in zip(tokens, tags) if g != "O"] == ["tremor"] and tags[tokens.index("tremor", 5)] == "B-ADR"
    assert rows["3:0"][1] == ["O"] * 7
    drugs = load_corpus("ade", data_dir=str(root), cache_dir=cache, split_ratio="1:0:0", entity_types=["ADR", "DRUG"])
    tokens, tags, _ = all_rows(drugs)["2:1"]
    assert tags[:2] == ["O", "O"] and tags[tokens.index("lithium")] == "B-DRUG"
    assert load_label_space("ade", data_dir=str(root), entity_types=["ADR", "DRUG"]).names == ["O", "B-ADR", "I-ADR", "B-DRUG", "I-DRUG"]


def test_ade_offset_mismatch_is_counted_or_strict_error(tmp_path, cache):
    bad = f"5|Nausea after drug X.|vomiting|0|8|drug X|13|19\n"
    root = write_ade(tmp_path / "ade", extra_rel=bad)
    ds = load_corpus("ade", data_dir=str(root), cache_dir=cache, split_ratio="1:0:0")
    rows = all_rows(ds)
    # The sentence is kept, "vomiting" (not in it) is not tagged.
    assert rows["5:0"][1] == ["O"] * 5
    with pytest.raises(CorpusError, match="offset_mismatch: PMID 5: 'vomiting'"):
        load_corpus("ade", data_dir=str(root), cache_dir=str(tmp_path / "c2"), split_ratio="1:0:0", strict=True)


@pytest.mark.parametrize(
    "rel, neg, message",
    [
        ("6|Too few|fields\n", "", r"DRUG-AE.rel, line 5: expected 8 '\|'-separated fields"),
        ("6|Sentence.|x|a|b|y|1|2\n", "", r"DRUG-AE.rel, line 5: expected integer begin/end offsets"),
        ("", "7 POS Not a negative line.\n", r"ADE-NEG.txt, line 4: expected 'PMID NEG sentence'"),
    ],
)
def test_ade_malformed_lines(tmp_path, cache, rel, neg, message):
    root = write_ade(tmp_path / "ade", extra_rel=rel, extra_neg=neg)
    with pytest.raises(CorpusFormatError, match=message):
        load_corpus("ade", data_dir=str(root), cache_dir=cache)


def test_ade_folds_split_documents_and_protocol_filters(tmp_path, cache):
    root = write_ade(tmp_path / "ade")
    seen = []
    for fold in range(4):
        ds = load_corpus("ade", data_dir=str(root), cache_dir=cache, fold=fold, num_folds=4)
        test_docs = set(ds["test"]["document_id"])
        assert test_docs.isdisjoint(ds["train"]["document_id"]) and test_docs.isdisjoint(ds["validation"]["document_id"])
        seen += sorted(test_docs)
    assert sorted(seen) == ["1", "2", "3", "4"]
    short = load_corpus("ade", data_dir=str(root), cache_dir=cache, split_ratio="1:0:0", max_words=8)
    assert all(len(t) < 8 for t in short["train"]["tokens"]) and len(short["train"]) == 3
    dup = root / "ADE-NEG.txt"
    dup.write_text(dup.read_text() + "9 NEG Patients were followed for two years.\n")
    dedup = load_corpus("ade", data_dir=str(root), cache_dir=cache, split_ratio="1:0:0", drop_duplicates=True)
    assert len(dedup["train"]) == 5
    kept = load_corpus("ade", data_dir=str(root), cache_dir=cache, split_ratio="1:0:0")
    assert len(kept["train"]) == 6
