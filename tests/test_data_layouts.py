"""Public corpus layouts read as they are distributed, on fixtures written here in each layout:
BLURB's HoC split files, the OnSIDES redistribution of TAC 2017, CoNLL files with bare B/I tags
(the BioBERT/BLURB NER files), IOBES/BILOU and IOB1 files."""

import json
from pathlib import Path

import pytest

from labelwise.data_scripts import CorpusFormatError, get_builder, load_corpus
from labelwise.data_scripts.base import as_dataset_dict, prepare_builder

from test_data_classification import write_hoc


@pytest.fixture
def cache(tmp_path):
    return str(tmp_path / "cache")


def tags_by_id(ds):
    names = next(iter(ds.values())).features["ner_tags"].feature.names
    return {r["id"]: [names[t] for t in r["ner_tags"]] for split in ds.values() for r in split}


# ----------------------------------------------------------------------------- HoC, BLURB split files
def write_blurb_split(folder: Path, parts: dict[str, list[str]]) -> Path:
    """BLURB's layout: one line of comma-separated ``<PMID>.txt`` names, no trailing newline."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem, pmids in parts.items():
        (folder / f"{stem}_pmid.tsv").write_text(",".join(f"{p}.txt" for p in pmids))
    return folder


def test_hoc_blurb_split_files_keep_unlabelled_abstracts(tmp_path, cache):
    root = write_hoc(tmp_path / "hoc", n=10)  # 1000 and 1005 have no hallmark
    split = write_blurb_split(tmp_path / "blurb", {"train": ["1000", "1001", "1002", "1003", "1004", "1005"], "dev": ["1006", "1007"], "test": ["1008", "1009"]})
    ds = load_corpus("hoc", data_dir=str(root), cache_dir=cache, split_dir=str(split))
    assert {k: v["id"] for k, v in ds.items()} == {
        "train": ["1000", "1001", "1002", "1003", "1004", "1005"], "validation": ["1006", "1007"], "test": ["1008", "1009"]}
    labels = {r["id"]: r["labels"] for r in ds["train"]}
    assert labels["1000"] == [] and labels["1005"] == [] and labels["1001"] == [0, 2]


def test_hoc_blurb_split_file_names_the_item_at_fault(tmp_path, cache):
    root = write_hoc(tmp_path / "hoc", n=4)
    split = write_blurb_split(tmp_path / "blurb", {"train": ["1000", "1001"], "dev": ["1002"], "test": ["1003", "4242"]})
    with pytest.raises(CorpusFormatError, match=r"test_pmid.tsv, line 1, item 2 of 2: expected a PMID .* got '4242.txt'"):
        load_corpus("hoc", data_dir=str(root), cache_dir=cache, split_dir=str(split))


# ----------------------------------------------------------------------------- TAC 2017 as OnSIDES JSON
TEXT_A = "Neutropenia and Nausea were reported. Rash was rare."
TEXT_B = "Hepatotoxicity may occur."


def onsides_record(label_id, name, text, events):
    return {"label_id": label_id, "section_name": name, "section_text": text, "adverse_events": events}


def event(term, start, length):
    # [term (lower-cased), MedDRA PT, PT id, LLT, LLT id, start, length, source]
    return [term, term.title(), "10000001", term, "10000002", None if start is None else str(start), str(length), "tac"]


def write_onsides(folder: Path) -> Path:
    folder.mkdir(parents=True)
    train = [
        onsides_record("drug-a", "adverse reactions", TEXT_A, [event("neutropenia", 0, 11), event("nausea", 16, 6), event("rash", None, 4)]),
        onsides_record("drug-a", "warnings and precautions", TEXT_B, [event("hepatotoxicity", 0, 14)]),
    ] + [onsides_record(f"drug-{i}", "adverse reactions", "Rash occurred.", [event("rash", 0, 4)]) for i in range(10)]
    test = [onsides_record("drug-t", "adverse reactions", "Severe nausea was seen.", [event("nausea", 7, 6)])]
    (folder / "demner-fushman-train-labels.json").write_text(json.dumps(train))
    (folder / "demner-fushman-test-labels.json").write_text(json.dumps(test))
    return folder


def test_tac_onsides_files_read_as_distributed_with_the_official_split(tmp_path, cache):
    root = write_onsides(tmp_path / "onsides")
    builder = get_builder("tac2017", data_dir=str(root), cache_dir=cache)
    prepare_builder(builder)
    ds = as_dataset_dict(builder)
    # The test file is the test split: never pooled into training and re-split.
    assert set(ds["test"]["document_id"]) == {"drug-t"}
    train_docs = set(ds["train"]["document_id"]) | set(ds["validation"]["document_id"])
    assert train_docs == {"drug-a"} | {f"drug-{i}" for i in range(10)} and len(ds["validation"]) >= 1
    tags = tags_by_id(ds)
    # Sections of one label_id form one document; sentences are numbered across its sections.
    assert tags["drug-a:0"] == ["B-ADR", "O", "B-ADR", "O", "O", "O"]
    assert tags["drug-a:1"] == ["O", "O", "O", "O"]  # "Rash" has no offset (start null)
    assert tags["drug-a:2"] == ["B-ADR", "O", "O", "O"]
    assert tags["drug-t:0"] == ["O", "B-ADR", "O", "O", "O"]
    # Lower-cased terms match "Neutropenia", "Nausea", "Hepatotoxicity", "Rash" only by case.
    assert builder.skips["event_without_offset"] == 1
    assert builder.skips["offset_case_mismatch"] == 3 + 10
    assert "offset_mismatch" not in builder.skips


# ----------------------------------------------------------------------------- CoNLL variants
BARE = "Familial\tO\nadenomatous\tB\npolyposis\tI\ncoli\tI\n.\tO\n\nNo\tO\ndisease\tO\n"


def write_conll(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_conll_bare_bi_tags_as_in_biobert_files_with_entity_type(tmp_path, cache):
    # BioBERT's NER folders: train.tsv, devel.tsv, test.tsv with bare tags.
    root = write_conll(tmp_path / "ncbi", {"train.tsv": BARE, "devel.tsv": "Colon\tB\ncancer\tI\n", "test.tsv": "Ataxia\tB\n"})
    ds = load_corpus("conll", data_dir=str(root), cache_dir=cache, entity_type="Disease")
    assert ds["train"].features["ner_tags"].feature.names == ["O", "B-Disease", "I-Disease"]
    tags = tags_by_id(ds)
    assert tags["train:0"] == ["O", "B-Disease", "I-Disease", "I-Disease", "O"]
    assert tags["devel:0"] == ["B-Disease", "I-Disease"] and tags["test:0"] == ["B-Disease"]
    with pytest.raises(CorpusFormatError, match=r"train.tsv, line 2: expected .*bare tags .* pass entity_type='<name>'"):
        load_corpus("conll", data_dir=str(root), cache_dir=cache)


IOBES = "Severe\tB-ADR\nskin\tI-ADR\nrash\tE-ADR\nand\tO\nnausea\tS-ADR\nafter\tO\naspirin\tS-DRUG\n\nfever\tS-ADR\nchills\tS-ADR\n\nbad\tI-ADR\nheadache\tE-ADR\n"


@pytest.mark.parametrize("scheme, text", [("IOBES", IOBES), ("BIOES", IOBES), ("BILOU", IOBES.replace("E-", "L-").replace("S-", "U-"))])
def test_conll_iobes_and_bilou_become_iob2(tmp_path, cache, scheme, text):
    root = write_conll(tmp_path / "c", {"train.iobes": text, "test.iobes": "x\tO\n"})
    builder = get_builder("conll", data_dir=str(root), cache_dir=cache, scheme=scheme)
    prepare_builder(builder)
    tags = tags_by_id(as_dataset_dict(builder))
    assert tags["train:0"] == ["B-ADR", "I-ADR", "I-ADR", "O", "B-ADR", "O", "B-DRUG"]
    assert tags["train:1"] == ["B-ADR", "B-ADR"]  # two adjacent single-token mentions stay two
    assert tags["train:2"] == ["B-ADR", "I-ADR"]  # I- without an open mention starts one (counted)
    assert builder.skips["i_tag_starts_mention"] == 1


def test_conll_iobes_tags_under_iob2_say_which_scheme_to_pass(tmp_path, cache):
    root = write_conll(tmp_path / "c", {"train.txt": IOBES})
    with pytest.raises(CorpusFormatError, match=r"line 3: expected .* pass scheme='IOBES' or 'BILOU'"):
        load_corpus("conll", data_dir=str(root), cache_dir=cache)


def test_conll_iob1_file_with_bare_tags(tmp_path, cache):
    # IOB1: I starts a mention; B only separates two adjacent mentions of one type.
    text = "aspirin\tI\ncaused\tO\nrenal\tI\nfailure\tI\nliver\tB\ndamage\tI\n"
    root = write_conll(tmp_path / "c", {"train.conll": text, "test.conll": "x\tO\n"})
    ds = load_corpus("conll", data_dir=str(root), cache_dir=cache, scheme="IOB1", entity_type="ADR")
    assert tags_by_id(ds)["train:0"] == ["B-ADR", "O", "B-ADR", "I-ADR", "B-ADR", "I-ADR"]


def test_tac_train_dev_test_files_in_one_folder_give_the_three_splits(tmp_path, cache):
    root = tmp_path / "tac"
    root.mkdir()
    for role, drugs in (("train", ["a", "b", "c"]), ("dev", ["d"]), ("test", ["e"])):
        records = [onsides_record(f"drug-{x}", "adverse reactions", "Rash occurred.", [event("rash", 0, 4)]) for x in drugs]
        (root / f"labels-{role}.json").write_text(json.dumps(records))
    ds = load_corpus("tac2017", data_dir=str(root), cache_dir=cache)
    assert {k: sorted(set(v["document_id"])) for k, v in ds.items()} == {
        "train": ["drug-a", "drug-b", "drug-c"], "validation": ["drug-d"], "test": ["drug-e"]}
