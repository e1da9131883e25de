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
    bad = "5|Nausea after drug X.|vomiting|0|8|drug X|13|19\n"
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


# ----------------------------------------------------------------------------- TAC 2017
SEC1 = "Neutropenia and severe peripheral neuropathy occurred. Nausea was mild in most patients."
SEC2 = "Monitor for signs of liver toxicity."


def tac_xml(drug: str, mentions: list[str], sec1: str = SEC1) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Label drug="{drug}" track="TAC2017_ADR">\n<Text>\n'
        f'<Section id="S1" name="adverse reactions">{sec1}</Section>\n'
        f'<Section id="S2" name="warnings and precautions">{SEC2}</Section>\n</Text>\n<Mentions>\n'
        + "\n".join(mentions) + "\n</Mentions>\n</Label>\n"
    )


TAC_MENTIONS = [
    '<Mention id="M1" section="S1" type="AdverseReaction" start="0" len="11" str="Neutropenia"/>',
    '<Mention id="M2" section="S1" type="AdverseReaction" start="23" len="21" str="peripheral neuropathy"/>',
    '<Mention id="M3" section="S1" type="Severity" start="16" len="6" str="severe"/>',
    # Discontinuous: "severe ... neuropathy".
    '<Mention id="M4" section="S1" type="AdverseReaction" start="16,34" len="6,10" str="severe neuropathy"/>',
    '<Mention id="M5" section="S1" type="AdverseReaction" start="55" len="6" str="Nausea"/>',
    '<Mention id="M6" section="S2" type="AdverseReaction" start="21" len="14" str="liver toxicity"/>',
]


def test_tac_xml_sentences_mentions_and_discontinuous_rule(tmp_path, cache):
    (tmp_path / "tac" / "train_xml").mkdir(parents=True)
    (tmp_path / "tac" / "train_xml" / "drugA.xml").write_text(tac_xml("drugA", TAC_MENTIONS))
    ds = load_corpus("tac2017", data_dir=str(tmp_path / "tac"), cache_dir=cache)
    rows = all_rows(ds)
    assert sorted(rows) == ["drugA:0", "drugA:1", "drugA:2"]
    tokens, tags, row = rows["drugA:0"]
    assert row["text"] == "Neutropenia and severe peripheral neuropathy occurred."
    # Fragments of the discontinuous M4 are mentions of their own ("fragments" rule):
    # "severe" (16) is tagged; its "neuropathy" (34) overlaps M2 (23-44), which starts first.
    assert tags == ["B-ADR", "O", "B-ADR", "B-ADR", "I-ADR", "O", "O"]
    assert rows["drugA:1"][1][0] == "B-ADR" and rows["drugA:2"][1][-3:] == ["B-ADR", "I-ADR", "O"]
    spanned = load_corpus("tac2017", data_dir=str(tmp_path / "tac"), cache_dir=cache, discontinuous="drop", entity_types=["ADR", "Severity"])
    tokens, tags, _ = all_rows(spanned)["drugA:0"]
    assert tags == ["B-ADR", "O", "B-Severity", "B-ADR", "I-ADR", "O", "O"]
    only_ar = load_corpus("tac2017", data_dir=str(tmp_path / "tac"), cache_dir=cache, sections=["adverse reactions"])
    assert sorted(all_rows(only_ar)) == ["drugA:0", "drugA:1"]


def test_tac_json_equals_xml_and_bad_offsets(tmp_path, cache):
    import json

    mentions = [
        {"id": "M1", "section": "S1", "type": "AdverseReaction", "start": 0, "len": 11, "str": "Neutropenia"},
        {"id": "M2", "section": "S1", "type": "AdverseReaction", "start": "23", "len": "21", "str": "peripheral neuropathy"},
        {"id": "M9", "section": "S1", "type": "AdverseReaction", "start": 1, "len": 5, "str": "wrong"},
    ]
    doc = {"drug": "drugB", "sections": [{"id": "S1", "name": "adverse reactions", "text": SEC1}], "mentions": mentions}
    (tmp_path / "tac" / "train").mkdir(parents=True)
    (tmp_path / "tac" / "train" / "labels.json").write_text(json.dumps([doc]))
    ds = load_corpus("tac2017", data_dir=str(tmp_path / "tac"), cache_dir=cache)
    assert all_rows(ds)["drugB:0"][1] == ["B-ADR", "O", "O", "B-ADR", "I-ADR", "O", "O"]
    with pytest.raises(CorpusError, match="offset_mismatch: drugB mention M9"):
        load_corpus("tac2017", data_dir=str(tmp_path / "tac"), cache_dir=cache, strict=True)


@pytest.mark.parametrize(
    "mention, message",
    [
        ('<Mention id="M1" section="S1" type="AdverseReaction" start="0,5" len="3" str="x"/>', "drugC mention M1: expected as many lengths as starts"),
        ('<Mention id="M1" section="S7" type="AdverseReaction" start="0" len="3" str="Neu"/>', r"drugC mention M1: expected a section id among \['S1', 'S2'\]"),
        ('<Mention id="M1" section="S1" type="AdverseReaction" start="zero" len="3"/>', "expected 'start' as integers"),
        ('<Mention id="M1" section="S1" type="AdverseReaction" start="0" len="3"', "expected well-formed XML"),
    ],
)
def test_tac_malformed_xml(tmp_path, cache, mention, message):
    (tmp_path / "tac" / "train_xml").mkdir(parents=True)
    (tmp_path / "tac" / "train_xml" / "drugC.xml").write_text(tac_xml("drugC", [mention]))
    with pytest.raises(CorpusFormatError, match=message) as err:
        load_corpus("tac2017", data_dir=str(tmp_path / "tac"), cache_dir=cache)
    assert "drugC.xml" in str(err.value)


# ----------------------------------------------------------------------------- Brat
def test_brat_documents_discovered_types_and_mismatches(tmp_path, cache):
    root = tmp_path / "brat"
    for split, n in (("train", 2), ("test", 1)):
        (root / split).mkdir(parents=True)
        for i in range(n):
            (root / split / f"d{i}.txt").write_text("Patient had a skin rash.\nDrug X was stopped after hair loss.\n")
            (root / split / f"d{i}.ann").write_text(
                "T1\tADR 14 23\tskin rash\n"
                "T2\tDrug 25 31\tDrug X\n"
                "T3\tADR 50 54;55 59\thair loss\n"
                "R1\tcauses Arg1:T2 Arg2:T3\n"
                "#1\tAnnotatorNotes T1\tcheck\n"
                "T4\tADR 0 7\tWrong text\n"
            )
    ds = load_corpus("brat", data_dir=str(root), cache_dir=cache)
    assert {k: len(v) for k, v in ds.items()} == {"train": 4, "validation": 0, "test": 2}
    assert ds["train"].features["ner_tags"].feature.names == ["O", "B-ADR", "I-ADR", "B-Drug", "I-Drug"]
    rows = all_rows(ds)
    assert rows["train/d0:0"][1] == ["O", "O", "O", "B-ADR", "I-ADR", "O"]
    # The discontinuous T3 becomes two fragments under the default rule.
    assert rows["train/d0:1"][1] == ["B-Drug", "I-Drug", "O", "O", "O", "B-ADR", "B-ADR", "O"]
    spanned = load_corpus("brat", data_dir=str(root), cache_dir=cache, discontinuous="span", entity_types=["ADR"])
    assert all_rows(spanned)["train/d0:1"][1] == ["O", "O", "O", "O", "O", "B-ADR", "I-ADR", "O"]
    (root / "train" / "d1.ann").write_text("T1\tADR 14 x\tskin rash\n")
    with pytest.raises(CorpusFormatError, match=r"d1.ann, line 1: expected 'T<n><TAB><type>"):
        load_corpus("brat", data_dir=str(root), cache_dir=cache)


# ----------------------------------------------------------------------------- CoNLL
CONLL = """-DOCSTART- O

Patient\tO
had\tO
skin\tB-ADR
rash\tI-ADR
.\tO

Nausea\tI-ADR
and\tO
dizziness\tB-ADR
.\tO
"""


def test_conll_reader_keeps_tokens_and_repairs_iob(tmp_path, cache):
    root = tmp_path / "conll"
    root.mkdir()
    (root / "train.conll").write_text(CONLL)
    (root / "test.conll").write_text("Rash\tB-ADR\n.\tO\n")
    ds = load_corpus("conll", data_dir=str(root), cache_dir=cache)
    rows = all_rows(ds)
    tokens, tags, row = rows["train-1:0"]
    assert row["text"] == "Patient had skin rash ." and tags == ["O", "O", "B-ADR", "I-ADR", "O"]
    assert row["offsets"][3] == [17, 21]
    assert rows["train-1:1"][1] == ["B-ADR", "O", "B-ADR", "O"]
    assert len(ds["validation"]) == 0 and len(ds["test"]) == 1
    (root / "train.conll").write_text("A B-ADR\nB B-ADR\nC I-ADR\n\nD I-ADR\nE B-ADR\n")
    iob1 = load_corpus("conll", data_dir=str(root), cache_dir=cache, scheme="IOB1")
    rows = all_rows(iob1)
    assert rows["train:0"][1] == ["B-ADR", "B-ADR", "I-ADR"] and rows["train:1"][1] == ["B-ADR", "B-ADR"]


@pytest.mark.parametrize("line, message", [("token\n", "line 2: expected a token and a tag"), ("token\tX-ADR\n", "line 2: expected a non-empty token and a tag O")])
def test_conll_malformed_lines(tmp_path, cache, line, message):
    root = tmp_path / "conll"
    root.mkdir()
    (root / "train.txt").write_text("ok\tO\n" + line)
    with pytest.raises(CorpusFormatError, match=message) as err:
        load_corpus("conll", data_dir=str(root), cache_dir=cache)
    assert "train.txt" in str(err.value)


def test_ade_repeated_and_positive_negative_lines_are_counted(tmp_path, cache):
    from labelwise.data_scripts import get_builder

    root = write_ade(tmp_path / "ade", extra_neg="4 NEG Patients were followed for two years.\n")
    builder = get_builder("ade", data_dir=str(root), cache_dir=cache)
    sentences = builder.sentences()
    assert len(sentences) == 5
    assert builder.skips["negative_also_positive"] == 1 and builder.skips["repeated_negative_line"] == 1
