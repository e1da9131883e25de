"""Bad input: every case ends in an error naming the file and the line (or field), or in a counted
skip; never in a raw exception or silently merged records. One test per case, on fixtures."""

import json
from pathlib import Path

import pytest

from labelwise.data_scripts import (
    CorpusEncodingError,
    CorpusFormatError,
    DuplicateDocumentError,
    EmptyCorpusError,
    get_builder,
    load_corpus,
    subsample,
)
from labelwise.data_scripts.base import as_dataset_dict, prepare_builder

from test_data_classification import EURLEX_DOCS, write_eurlex, write_hoc, write_medical
from test_data_mimic import write_mimic
from test_data_ner import TAC_MENTIONS, tac_xml, write_ade


@pytest.fixture
def cache(tmp_path):
    return str(tmp_path / "cache")


def built(name, **options):
    """Prepared builder (its ``skips`` hold the counts) and its DatasetDict."""
    builder = get_builder(name, **options)
    prepare_builder(builder)
    return builder, as_dataset_dict(builder)


# ----------------------------------------------------------------------------- CSV quoting
def edit_line(path: Path, number: int, new: str) -> None:
    lines = path.read_text().split("\n")
    lines[number - 1] = new
    path.write_text("\n".join(lines))


def test_csv_unbalanced_quote_is_an_error_naming_the_line(tmp_path, cache):
    root = write_medical(tmp_path / "ma", with_train=False)
    edit_line(root / "medical_tc_test.csv", 5, '4,"Abstract 3, about class 4.')  # closing quote lost
    with pytest.raises(CorpusFormatError, match=r"medical_tc_test.csv, line 5: expected balanced double quotes"):
        load_corpus("medical_abstracts", data_dir=str(root), cache_dir=cache)


def test_csv_unbalanced_quote_that_merges_rows_cleanly_is_detected(tmp_path, cache):
    # Without the check this parses as 2 valid fields: abstract 3 swallows the row of abstract 4.
    root = write_medical(tmp_path / "ma", with_train=False)
    edit_line(root / "medical_tc_test.csv", 5, '4,"Abstract 3, about class 4.')
    edit_line(root / "medical_tc_test.csv", 6, '5,Abstract 4 about class 5."')
    with pytest.raises(CorpusFormatError, match=r"line 5: expected one record per row: .* \(line 6\), so an unbalanced quote has merged rows 5-6"):
        load_corpus("medical_abstracts", data_dir=str(root), cache_dir=cache)


def test_csv_cut_inside_a_quoted_field_is_an_error(tmp_path, cache):
    root = write_medical(tmp_path / "ma", with_train=False)
    path = root / "medical_tc_test.csv"
    path.write_text(path.read_text()[:-12])  # the last abstract loses its end and closing quote
    with pytest.raises(CorpusFormatError, match=r"line 51: expected every quoted field to be closed.*truncated file"):
        load_corpus("medical_abstracts", data_dir=str(root), cache_dir=cache)


def test_mimic_noteevents_unbalanced_quote_is_an_error(tmp_path, cache):
    root = write_mimic(tmp_path / "mimic", n=6, gz=False)
    path = root / "NOTEEVENTS.csv"
    path.write_text(path.read_text().replace('HTN, CAD."', "HTN, CAD.", 1))
    with pytest.raises(CorpusFormatError, match=r"NOTEEVENTS.csv, line 2: expected"):
        load_corpus("mimic3", data_dir=str(root), cache_dir=cache)


def test_truncated_gz_names_the_file(tmp_path, cache):
    root = write_mimic(tmp_path / "mimic", n=40, gz=True)
    path = root / "NOTEEVENTS.csv.gz"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorpusFormatError, match=r"NOTEEVENTS.csv.gz, line \d+: expected a complete gzip file \(it looks truncated"):
        load_corpus("mimic3", data_dir=str(root), cache_dir=cache)


# ----------------------------------------------------------------------------- encodings
def _latin1(path: Path, old: str, new: str) -> int:
    """Replace `old` by `new` written in Latin-1 (not valid UTF-8); return the byte position."""
    data = path.read_bytes()
    assert old.encode() in data
    data = data.replace(old.encode(), new.encode("latin-1"), 1)
    path.write_bytes(data)
    return data.index("é".encode("latin-1"))


def _hoc(tmp):
    root = write_hoc(tmp / "c", n=10)
    return root, "hoc", root / "raw" / "text" / "1001.txt", "Cells grew", "Cells grew é", {}


def _medical(tmp):
    root = write_medical(tmp / "c", with_train=False)
    return root, "medical_abstracts", root / "medical_tc_test.csv", "Abstract 7,", "Abstract é 7,", {}


def _eurlex(tmp):
    root = write_eurlex(tmp / "c", EURLEX_DOCS)
    return root, "eurlex57k", root / "dev" / "C.json", "HEADER", "HEADéR", {}


def _ade(tmp):
    root = write_ade(tmp / "c")
    return root, "ade", root / "ADE-NEG.txt", "two years", "two yéars", {}


def _tac_xml(tmp):
    (tmp / "c" / "train_xml").mkdir(parents=True)
    path = tmp / "c" / "train_xml" / "drugA.xml"
    path.write_text(tac_xml("drugA", TAC_MENTIONS))
    return tmp / "c", "tac2017", path, "signs of", "signs éf", {}


def _tac_json(tmp):
    (tmp / "c" / "train").mkdir(parents=True)
    path = tmp / "c" / "train" / "labels.json"
    path.write_text(json.dumps({"drug": "d", "sections": [{"id": "S1", "name": "x", "text": "Rash was seen."}], "mentions": []}))
    return tmp / "c", "tac2017", path, "was seen", "wés seen", {}


def _brat(tmp):
    (tmp / "c").mkdir()
    (tmp / "c" / "a.txt").write_text("Patient had a rash.\n")
    (tmp / "c" / "a.ann").write_text("T1\tADR 14 18\trash\n")
    return tmp / "c", "brat", tmp / "c" / "a.txt", "Patient", "Patiént", {"split_ratio": "1:0:0"}


def _conll(tmp):
    (tmp / "c").mkdir()
    (tmp / "c" / "train.txt").write_text("Rash\tB-ADR\nseen\tO\n")
    return tmp / "c", "conll", tmp / "c" / "train.txt", "seen", "séen", {"split_ratio": "1:0:0"}


def _mimic(tmp):
    root = write_mimic(tmp / "c", n=6, gz=False)
    return root, "mimic3", root / "NOTEEVENTS.csv", "Addendum 101", "Addendum é101", {}


@pytest.mark.parametrize("make", [_hoc, _medical, _eurlex, _ade, _tac_xml, _tac_json, _brat, _conll, _mimic])
def test_non_utf8_file_names_file_line_and_byte_and_reads_with_encoding(tmp_path, cache, make):
    root, name, path, old, new, options = make(tmp_path)
    position = _latin1(path, old, new)
    with pytest.raises(CorpusEncodingError) as err:
        load_corpus(name, data_dir=str(root), cache_dir=cache, **options)
    text = str(err.value)
    assert path.name in text and f"byte {position}" in text and "encoding=" in text
    ds = load_corpus(name, data_dir=str(root), cache_dir=cache, encoding="latin-1", **options)
    assert any("é" in t for split in ds.values() for t in split["text"])


def test_unknown_encoding_option(tmp_path, cache):
    with pytest.raises(ValueError, match="encoding='utf-9' is not an encoding Python knows"):
        load_corpus("conll", data_dir=str(tmp_path), cache_dir=cache, encoding="utf-9")


# ----------------------------------------------------------------------------- duplicate documents
def test_hoc_split_files_repeated_pmid_error_or_drop(tmp_path, cache):
    root = write_hoc(tmp_path / "hoc", n=10)
    split = tmp_path / "split"
    split.mkdir()
    for name, ids in (("train", "1001\n1002\n1001\n"), ("dev", "1003\n"), ("test", "1004\n1002\n")):
        (split / f"{name}_docid.txt").write_text(ids)
    with pytest.raises(DuplicateDocumentError, match=r"document '1001' is twice in the train split .* duplicates='drop'"):
        load_corpus("hoc", data_dir=str(root), cache_dir=cache, split_dir=str(split))
    (split / "train_docid.txt").write_text("1001\n1002\n")
    with pytest.raises(DuplicateDocumentError, match=r"document '1002' is in the train and test splits"):
        load_corpus("hoc", data_dir=str(root), cache_dir=cache, split_dir=str(split))
    builder, ds = built("hoc", data_dir=str(root), cache_dir=cache, split_dir=str(split), duplicates="drop")
    assert ds["train"]["id"] == ["1001", "1002"] and ds["test"]["id"] == ["1004"]
    assert builder.skips["duplicate_document"] == 1


def test_mimic_id_lists_same_admission_in_two_splits(tmp_path, cache):
    root = write_mimic(tmp_path / "mimic", n=6, gz=False)
    for name, ids in (("train", "100\n101\n"), ("dev", "102\n"), ("test", "103\n101\n")):
        (root / f"{name}_full_hadm_ids.csv").write_text(ids)
    with pytest.raises(DuplicateDocumentError, match=r"document '101' is in the train and test splits \(train_full_hadm_ids.csv, line 2; test_full_hadm_ids.csv, line 2\)"):
        load_corpus("mimic3", data_dir=str(root), cache_dir=cache)
    builder, ds = built("mimic3", data_dir=str(root), cache_dir=cache, duplicates="drop")
    assert ds["test"]["id"] == ["103"] and builder.skips["duplicate_document"] == 1


def test_eurlex_same_celex_id_in_two_splits(tmp_path, cache):
    root = write_eurlex(tmp_path / "eurlex", EURLEX_DOCS)
    doc = json.loads((root / "train" / "A.json").read_text())
    (root / "dev" / "A-copy.json").write_text(json.dumps(doc))
    with pytest.raises(DuplicateDocumentError, match=r"document 'A' is in the train and validation splits \(train/A.json; dev/A-copy.json\)"):
        load_corpus("eurlex57k", data_dir=str(root), cache_dir=cache)
    builder, ds = built("eurlex57k", data_dir=str(root), cache_dir=cache, duplicates="drop")
    assert ds["validation"]["id"] == ["C"] and builder.skips["duplicate_document"] == 1


def test_tac_same_drug_in_train_and_test(tmp_path, cache):
    for folder in ("train_xml", "gold_xml"):
        (tmp_path / "tac" / folder).mkdir(parents=True)
        (tmp_path / "tac" / folder / "drugA.xml").write_text(tac_xml("drugA", TAC_MENTIONS))
    (tmp_path / "tac" / "train_xml" / "drugB.xml").write_text(tac_xml("drugB", TAC_MENTIONS))
    with pytest.raises(DuplicateDocumentError, match=r"document 'drugA' is in the train and test splits"):
        load_corpus("tac2017", data_dir=str(tmp_path / "tac"), cache_dir=cache)
    builder, ds = built("tac2017", data_dir=str(tmp_path / "tac"), cache_dir=cache, duplicates="drop", validation_fraction=0.0)
    # The first occurrence (train, validation, test order) is kept: the test copy is removed.
    assert set(ds["train"]["document_id"]) == {"drugA", "drugB"} and len(ds["test"]) == 0
    assert builder.skips["duplicate_document"] == 1


def test_duplicates_option_is_checked(tmp_path, cache):
    with pytest.raises(ValueError, match="duplicates must be 'error' or 'drop'"):
        get_builder("conll", data_dir=str(tmp_path), cache_dir=cache, duplicates="keep")


# ----------------------------------------------------------------------------- counted and reported
def test_entity_types_outside_entity_types_are_counted(tmp_path, cache):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "train.txt").write_text("Aspirin\tB-Chemical\ncaused\tO\nrash\tB-Disease\n")
    builder, ds = built("conll", data_dir=str(tmp_path / "c"), cache_dir=cache, split_ratio="1:0:0", entity_types=["Disease"])
    names = ds["train"].features["ner_tags"].feature.names
    assert [names[t] for t in ds["train"][0]["ner_tags"]] == ["O", "O", "B-Disease"]
    assert builder.skips["entity_type_not_selected"] == 1
    assert builder.skips.examples["entity_type_not_selected"] == ["Chemical in train:0"]


def test_brat_orphan_files_are_counted(tmp_path, cache):
    root = tmp_path / "brat"
    root.mkdir()
    for i in range(3):
        (root / f"d{i}.txt").write_text("Patient had a skin rash.\n")
    (root / "d0.ann").write_text("T1\tADR 14 23\tskin rash\n")
    (root / "d1.ann").write_text("T1\tADR 14 23\tSkin Rash\n")  # differs only by case: kept, counted
    (root / "lost.ann").write_text("T1\tADR 0 4\tnone\n")
    builder, ds = built("brat", data_dir=str(root), cache_dir=cache, split_ratio="1:0:0")
    tags = {r["id"]: r["ner_tags"] for r in ds["train"]}
    assert tags["d0:0"] == tags["d1:0"] == [0, 0, 0, 1, 2, 0]
    assert builder.skips["ann_without_txt"] == 1 and builder.skips.examples["ann_without_txt"] == ["lost.ann"]
    assert builder.skips["txt_without_ann"] == 1 and builder.skips["offset_case_mismatch"] == 1


def test_hoc_orphan_text_and_label_files_are_counted(tmp_path, cache):
    root = write_hoc(tmp_path / "hoc", n=10)
    (root / "raw" / "labels" / "1003.txt").unlink()
    (root / "raw" / "labels" / "4242.txt").write_text("<")
    builder, ds = built("hoc", data_dir=str(root), cache_dir=cache)
    assert "1003" not in [i for split in ds.values() for i in split["id"]]
    assert builder.skips["text_without_label_file"] == 1 and builder.skips["label_file_without_text"] == 1


def test_corpus_with_zero_rows_is_an_error(tmp_path, cache):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "train.txt").write_text("-DOCSTART- O\n\n\n")
    with pytest.raises(EmptyCorpusError, match=r"conll: no example was read from .*every split is empty"):
        load_corpus("conll", data_dir=str(tmp_path / "c"), cache_dir=cache)


# ----------------------------------------------------------------------------- structural surprises
def tac_json_dir(tmp_path: Path, label: dict) -> Path:
    (tmp_path / "tac" / "train").mkdir(parents=True)
    (tmp_path / "tac" / "train" / "labels.json").write_text(json.dumps([label]))
    return tmp_path / "tac"


SECTION = {"id": "S1", "name": "adverse reactions", "text": "Rash was seen."}


def test_tac_json_mention_without_type(tmp_path, cache):
    root = tac_json_dir(tmp_path, {"drug": "d", "sections": [SECTION], "mentions": [{"id": "M1", "section": "S1", "start": 0, "len": 4}]})
    with pytest.raises(CorpusFormatError, match=r"labels.json, d mention M1, field 'type': expected the field 'type' in every mention"):
        load_corpus("tac2017", data_dir=str(root), cache_dir=cache)


def test_tac_json_label_without_drug(tmp_path, cache):
    root = tac_json_dir(tmp_path, {"sections": [SECTION], "mentions": []})
    with pytest.raises(CorpusFormatError, match=r"labels.json, item 0, field 'drug': expected the drug name"):
        load_corpus("tac2017", data_dir=str(root), cache_dir=cache)


@pytest.mark.parametrize("value, got", [({"article": "1"}, "'dict'"), (["Article 1.", 7], "'a list holding int'"), (12, "'int'")])
def test_eurlex_main_body_that_is_not_text(tmp_path, cache, value, got):
    root = write_eurlex(tmp_path / "eurlex", EURLEX_DOCS)
    doc = json.loads((root / "test" / "D.json").read_text())
    doc["main_body"] = value
    (root / "test" / "D.json").write_text(json.dumps(doc))
    with pytest.raises(CorpusFormatError, match=rf"D.json, document D, field 'main_body': expected a string, a list of strings or null, got {got}"):
        load_corpus("eurlex57k", data_dir=str(root), cache_dir=cache)


def test_tac_inline_xml_element_in_a_section_is_read_as_text(tmp_path, cache):
    section = "Severe neutropenia<sup>1</sup> and nausea occurred."
    mentions = ['<Mention id="M1" section="S1" type="AdverseReaction" start="7" len="11" str="neutropenia"/>',
                '<Mention id="M2" section="S1" type="AdverseReaction" start="24" len="6" str="nausea"/>']
    (tmp_path / "tac" / "train_xml").mkdir(parents=True)
    (tmp_path / "tac" / "train_xml" / "d.xml").write_text(tac_xml("d", mentions, sec1=section))
    builder, ds = built("tac2017", data_dir=str(tmp_path / "tac"), cache_dir=cache)
    rows = {r["id"]: r for split in ds.values() for r in split}
    assert rows["d:0"]["text"] == "Severe neutropenia1 and nausea occurred."
    names = ds["train"].features["ner_tags"].feature.names
    tagged = [t for t, g in zip(rows["d:0"]["tokens"], rows["d:0"]["ner_tags"]) if names[g] != "O"]
    assert tagged == ["neutropenia1", "nausea"]  # the text after <sup> is kept, both mentions tagged
    assert "offset_mismatch" not in builder.skips and builder.skips["inline_xml_in_section"] == 1


def test_tac_test_named_file_among_training_files_with_a_test_folder(tmp_path, cache):
    root = tmp_path / "tac"
    (root / "test").mkdir(parents=True)
    (root / "test" / "drugT.xml").write_text(tac_xml("drugT", TAC_MENTIONS))
    (root / "drugA.xml").write_text(tac_xml("drugA", TAC_MENTIONS))
    (root / "extra-test-labels.xml").write_text(tac_xml("drugB", TAC_MENTIONS))
    with pytest.raises(FileNotFoundError, match=r"extra-test-labels.xml is named as a test file but sits with the training files"):
        load_corpus("tac2017", data_dir=str(root), cache_dir=cache)


def test_tac_test_file_in_the_training_folder_is_never_pooled(tmp_path, cache):
    root = tmp_path / "tac"
    root.mkdir()
    for i in range(5):
        (root / f"drug{i}.xml").write_text(tac_xml(f"drug{i}", TAC_MENTIONS))
    (root / "gold-drugT.xml").write_text(tac_xml("drugT", TAC_MENTIONS))
    ds = load_corpus("tac2017", data_dir=str(root), cache_dir=cache)
    assert set(ds["test"]["document_id"]) == {"drugT"}
    assert "drugT" not in set(ds["train"]["document_id"]) | set(ds["validation"]["document_id"])


# ----------------------------------------------------------------------------- seeded subsets
def test_subsample_is_seeded_random_and_keeps_order():
    import datasets

    data = datasets.Dataset.from_dict({"i": list(range(100))})
    a, b, c = subsample(data, 10, 42), subsample(data, 10, 42), subsample(data, 10, 7)
    assert a["i"] == b["i"] == sorted(a["i"]) and a["i"] != c["i"]
    assert a["i"] != list(range(10)) and max(a["i"]) > 50
    assert subsample(data, None, 1) is data and len(subsample(data, 500, 1)) == 100


def test_ner_paper_config_states_one_learning_rate_for_every_group():
    from labelwise.training.arguments import parse_arguments

    args, training_args = parse_arguments(["--config", "ner_paper"])
    assert training_args.learning_rate == args.head_learning_rate == args.classifier_learning_rate == 5e-5
