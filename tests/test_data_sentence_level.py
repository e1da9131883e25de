"""Sentence-level HoC (from the original release and from BLUE's files as distributed), and builders
refusing to choose silently between two files for one split. Fixtures are written here."""

from pathlib import Path

import pytest
from test_data_classification import ANGIO, DEATH, PROLIF, write_hoc

from labelwise.data_scripts import CorpusFormatError, load_corpus, load_label_space
from labelwise.data_scripts.base import AmbiguousSplitFileError
from labelwise.data_scripts.hoc import BLUE_LABEL_ORDER, HALLMARKS

# BLUE's HoC label numbering, as its files use it: the hallmarks' lower-case names sorted.
BLUE_NAMES = [
    "activating invasion and metastasis", "avoiding immune destruction", "cellular energetics",
    "enabling replicative immortality", "evading growth suppressors", "genomic instability and mutation",
    "inducing angiogenesis", "resisting cell death", "sustaining proliferative signaling",
    "tumor promoting inflammation",
]


@pytest.fixture
def cache(tmp_path):
    return str(tmp_path / "cache")


def blue_labels(*names: str) -> str:
    """A BLUE label cell: every hallmark as `<k>_<0|1>`, in BLUE's (alphabetical) numbering."""
    present = {name.lower() for name in names}
    return ",".join(f"{k}_{int(name in present)}" for k, name in enumerate(BLUE_NAMES))


def write_blue(folder: Path, rows: dict[str, list[tuple[str, str, str]]], separator: str = "\t") -> Path:
    """BLUE's files: `labels<sep>sentence<sep>index` header, one sentence a line."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in rows.items():
        quote = (lambda text: f'"{text}"') if separator == "," else (lambda text: text)
        body = [separator.join(["labels", "sentence", "index"])]
        body += [separator.join([quote(labels), quote(sentence), index]) for labels, sentence, index in lines]
        (folder / name).write_text("\n".join(body) + "\n", encoding="utf-8")
    return folder


BLUE_ROWS = {
    "train.tsv": [
        (blue_labels(PROLIF, DEATH), "Growth factors kept cells dividing .", "111_s0"),
        (blue_labels(), "We studied mice .", "111_s1"),
        (blue_labels(ANGIO), "New vessels formed .", "222_s1"),
        (blue_labels(), "Background sentence .", "222_s0"),
    ],
    "dev.tsv": [(blue_labels("Tumor promoting inflammation"), "Inflamed tissue .", "333_s0")],
    "test.tsv": [(blue_labels("Avoiding immune destruction"), "T cells were evaded .", "444_s0")],
}


def test_blue_label_order_is_alphabetical_and_documented():
    assert [name.lower() for name in BLUE_LABEL_ORDER] == BLUE_NAMES
    assert set(BLUE_LABEL_ORDER) == set(HALLMARKS)
    data_doc = (Path(__file__).parent.parent / "docs" / "DATA.md").read_text(encoding="utf-8")
    for k, name in enumerate(BLUE_NAMES):
        assert f"| {k} | {name} |" in data_doc.lower()


@pytest.mark.parametrize("separator", ["\t", ","])
def test_blue_sentence_files_load_as_distributed(tmp_path, cache, separator):
    folder = write_blue(tmp_path / "blue", BLUE_ROWS, separator)
    if separator == ",":
        for name in list(BLUE_ROWS):
            (folder / name).rename(folder / name.replace(".tsv", ".csv"))
    ds = load_corpus("hoc", data_dir=str(folder), cache_dir=cache, level="sentence")
    assert {k: len(v) for k, v in ds.items()} == {"train": 4, "validation": 1, "test": 1}
    names = ds["train"].features["labels"].feature.names
    assert names == list(HALLMARKS)  # ids in this builder's order, whatever BLUE's numbering
    by_id = {row["id"]: row for row in ds["train"]}
    assert by_id["111_s0"]["text"] == "Growth factors kept cells dividing ."
    assert [names[i] for i in by_id["111_s0"]["labels"]] == [PROLIF, DEATH]
    assert by_id["111_s1"]["labels"] == []
    assert [names[i] for i in ds["validation"][0]["labels"]] == ["Tumor promoting inflammation"]
    assert [names[i] for i in ds["test"][0]["labels"]] == ["Avoiding immune destruction"]


def test_blue_files_joined_into_abstracts(tmp_path, cache):
    folder = write_blue(tmp_path / "blue", BLUE_ROWS)
    ds = load_corpus("hoc", data_dir=str(folder), cache_dir=cache)  # level="document" by default
    rows = {row["id"]: row for row in ds["train"]}
    assert set(rows) == {"111", "222"}
    # Sentences in index order (222_s0 comes after 222_s1 in the file), labels the union.
    assert rows["222"]["text"] == "Background sentence . New vessels formed ."
    names = ds["train"].features["labels"].feature.names
    assert [names[i] for i in rows["111"]["labels"]] == [PROLIF, DEATH]


def test_blue_files_refuse_fine_labels_and_bad_rows(tmp_path, cache):
    folder = write_blue(tmp_path / "blue", BLUE_ROWS)
    with pytest.raises(ValueError, match="labels='fine' needs the original release"):
        load_label_space("hoc", data_dir=str(folder), labels="fine")
    bad = dict(BLUE_ROWS, **{"train.tsv": [("0_1,12_1", "Sentence .", "555_s0")]})
    write_blue(tmp_path / "bad", bad)
    with pytest.raises(CorpusFormatError, match=r"train.tsv, line 2: expected label items <k>_<0\|1> with k from 0 to 9"):
        load_corpus("hoc", data_dir=str(tmp_path / "bad"), cache_dir=cache, level="sentence")
    bad = dict(BLUE_ROWS, **{"dev.tsv": [(blue_labels(), "Sentence .", "555-0")]})
    write_blue(tmp_path / "bad2", bad)
    with pytest.raises(CorpusFormatError, match=r"dev.tsv, line 2: expected an index <PMID>_s<N>"):
        load_corpus("hoc", data_dir=str(tmp_path / "bad2"), cache_dir=cache, level="sentence")
    (tmp_path / "bad3").mkdir()
    (tmp_path / "bad3" / "train.tsv").write_text("label\ttext\n0_1\tx\n")
    with pytest.raises(CorpusFormatError, match="train.tsv, line 1: expected a header naming the columns labels, sentence and index"):
        load_corpus("hoc", data_dir=str(tmp_path / "bad3"), cache_dir=cache, level="sentence")


def test_sentence_level_task_from_the_original_release(tmp_path, cache):
    root = write_hoc(tmp_path / "hoc")
    (root / "blue_split").mkdir()
    (root / "blue_split" / "train_docid.txt").write_text("1001\n1002\n")
    (root / "blue_split" / "dev_docid.txt").write_text("1004\n")
    (root / "blue_split" / "test_docid.txt").write_text("1006\n")
    ds = load_corpus("hoc", data_dir=str(root), cache_dir=cache, level="sentence")
    assert {k: len(v) for k, v in ds.items()} == {"train": 4, "validation": 2, "test": 2}
    names = ds["train"].features["labels"].feature.names
    rows = {row["id"]: row for row in ds["train"]}
    assert list(rows) == ["1001_s0", "1001_s1", "1002_s0", "1002_s1"]
    # write_hoc's odd abstracts: no label on sentence 1, two hallmarks on sentence 2.
    assert rows["1001_s0"]["labels"] == [] and rows["1001_s0"]["text"] == "Sentence one of 1001 ."
    assert [names[i] for i in rows["1001_s1"]["labels"]] == [PROLIF, DEATH]
    assert [names[i] for i in rows["1002_s0"]["labels"]] == [ANGIO] and rows["1002_s1"]["labels"] == []
    fine = load_corpus("hoc", data_dir=str(root), cache_dir=cache, level="sentence", labels="fine")
    fine_names = fine["train"].features["labels"].feature.names
    row = {r["id"]: r for r in fine["train"]}["1001_s1"]
    assert {fine_names[i] for i in row["labels"]} == {PROLIF, f"{PROLIF}--Receptors", DEATH, f"{DEATH}--Apoptosis"}


def test_two_candidate_files_for_a_split_are_refused_until_one_is_named(tmp_path, cache):
    folder = tmp_path / "jnlpba"
    folder.mkdir()
    (folder / "train.tsv").write_text("IL-2\tB-protein\ngene\tI-protein\nworks\tO\n\nT\tB-cell_type\ncells\tI-cell_type\n")
    (folder / "dev.tsv").write_text("IL-2\tB-protein\nruns\tO\n")
    (folder / "devel.tsv").write_text("T\tB-cell_type\ncells\tI-cell_type\n")
    (folder / "test.tsv").write_text("IL-4\tB-protein\n")
    with pytest.raises(AmbiguousSplitFileError, match=r"2 candidates for the validation split \(dev.tsv, devel.tsv\).*split_files"):
        load_corpus("conll", data_dir=str(folder), cache_dir=cache)
    ds = load_corpus("conll", data_dir=str(folder), cache_dir=cache, split_files={"validation": "devel.tsv"})
    assert ds["validation"][0]["tokens"] == ["T", "cells"]
    ds = load_corpus("conll", data_dir=str(folder), cache_dir=cache, split_files={"validation": "dev.tsv"})
    assert ds["validation"][0]["tokens"] == ["IL-2", "runs"]
    with pytest.raises(FileNotFoundError, match="split_files names 'valid.tsv'"):
        load_corpus("conll", data_dir=str(folder), cache_dir=cache, split_files={"validation": "valid.tsv"})
    # The same rule for BLUE's HoC files.
    blue = write_blue(tmp_path / "blue", dict(BLUE_ROWS, **{"devel.tsv": BLUE_ROWS["dev.tsv"]}))
    with pytest.raises(AmbiguousSplitFileError, match=r"dev.tsv, devel.tsv"):
        load_corpus("hoc", data_dir=str(blue), cache_dir=cache, level="sentence")
    ds = load_corpus("hoc", data_dir=str(blue), cache_dir=cache, level="sentence", split_files={"validation": "devel.tsv"})
    assert len(ds["validation"]) == 1


def test_entity_types_missing_from_training_are_named(tmp_path, cache, caplog):
    folder = tmp_path / "typed"
    folder.mkdir()
    (folder / "train.tsv").write_text("IL-2\tB-protein\nworks\tO\n")
    (folder / "devel.tsv").write_text("T\tB-cell_type\ncells\tI-cell_type\n")
    (folder / "test.tsv").write_text("IL-4\tB-protein\n")
    with caplog.at_level("WARNING", logger="labelwise.data_scripts.conll"):
        load_corpus("conll", data_dir=str(folder), cache_dir=cache)
    messages = [r.getMessage() for r in caplog.records]
    assert any("devel.tsv has entity types that no training sentence has (cell_type)" in m for m in messages)
    assert not any("test.tsv" in m for m in messages)


def write_brat_doc(folder: Path, name: str, text: str, ann: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.txt").write_text(text)
    (folder / f"{name}.ann").write_text(ann)


def test_brat_split_folders_dev_and_validation_are_refused_until_one_is_named(tmp_path, cache):
    root = tmp_path / "brat"
    write_brat_doc(root / "train", "a", "Skin rash seen.\n", "T1\tADR 0 9\tSkin rash\n")
    write_brat_doc(root / "test", "b", "Hair loss seen.\n", "T1\tADR 0 9\tHair loss\n")
    write_brat_doc(root / "dev", "c", "Nausea seen.\n", "T1\tADR 0 6\tNausea\n")
    write_brat_doc(root / "validation", "d", "Fever seen.\n", "T1\tADR 0 5\tFever\n")
    # Before, both folders were read as one validation split; now neither is, until one is named.
    with pytest.raises(AmbiguousSplitFileError, match=r"2 candidates for the validation split \(dev, validation\).*split_files"):
        load_corpus("brat", data_dir=str(root), cache_dir=cache)
    ds = load_corpus("brat", data_dir=str(root), cache_dir=cache, split_files={"validation": "validation"})
    assert [row["id"] for row in ds["validation"]] == ["validation/d:0"]
    (root / "validation").rename(root / "devel")  # dev/ and devel/: the same rule
    with pytest.raises(AmbiguousSplitFileError, match=r"\(dev, devel\)"):
        load_corpus("brat", data_dir=str(root), cache_dir=cache)
    ds = load_corpus("brat", data_dir=str(root), cache_dir=cache, split_files={"validation": "dev"})
    assert [row["id"] for row in ds["validation"]] == ["dev/c:0"]


def test_tac_training_folders_are_refused_until_one_is_named(tmp_path, cache):
    from test_data_ner import TAC_MENTIONS, tac_xml

    root = tmp_path / "tac"
    for folder, drug in (("train_xml", "drugA"), ("train", "drugB"), ("gold_xml", "drugC")):
        (root / folder).mkdir(parents=True)
        (root / folder / f"{drug}.xml").write_text(tac_xml(drug, TAC_MENTIONS))
    with pytest.raises(AmbiguousSplitFileError, match=r"candidates for the train split \(train_xml, train\)"):
        load_corpus("tac2017", data_dir=str(root), cache_dir=cache)
    ds = load_corpus("tac2017", data_dir=str(root), cache_dir=cache, split_files={"train": "train"}, validation_fraction=0.0)
    assert {row["id"].split(":")[0] for row in ds["train"]} == {"drugB"}
    assert {row["id"].split(":")[0] for row in ds["test"]} == {"drugC"}


def test_corpus_folders_and_files_found_twice_are_refused(tmp_path, cache):
    """Every other place a builder looks in several places: the copy it would read is never chosen silently."""
    from test_data_classification import EURLEX_DOCS, write_eurlex
    from test_data_ner import write_ade

    from labelwise.data_scripts import get_builder
    from labelwise.data_scripts.mimic3 import _table_path

    ade = write_ade(tmp_path / "ade")
    write_ade(ade / "ADE-Corpus-V2")
    with pytest.raises(AmbiguousSplitFileError, match=r"2 candidates for the corpus folder with DRUG-AE.rel \(its own top level, ADE-Corpus-V2\)"):
        get_builder("ade", data_dir=str(ade), cache_dir=cache)._folder()
    assert get_builder("ade", data_dir=str(ade / "ADE-Corpus-V2"), cache_dir=cache)._folder() == ade / "ADE-Corpus-V2"

    eurlex = write_eurlex(tmp_path / "eurlex", EURLEX_DOCS)
    assert get_builder("eurlex57k", data_dir=str(eurlex), cache_dir=cache)._concepts_path() == eurlex / "EURLEX57K.json"
    (eurlex / "eurovoc_en.json").write_text("{}")  # the download's name for the concepts file, beside ours
    with pytest.raises(AmbiguousSplitFileError, match=r"EUROVOC concepts file \(EURLEX57K.json, eurovoc_en.json\)"):
        get_builder("eurlex57k", data_dir=str(eurlex), cache_dir=cache)._concepts_path()
    (eurlex / "dataset" / "train").mkdir(parents=True)
    with pytest.raises(AmbiguousSplitFileError, match=r"documents folder with train/ \(its own top level, dataset\)"):
        get_builder("eurlex57k", data_dir=str(eurlex), cache_dir=cache)._folder()

    hoc = write_hoc(tmp_path / "hoc", n=2)  # the release in raw/, and another copy's folders at the top
    for part in ("text", "labels"):
        (hoc / part).mkdir()
    with pytest.raises(AmbiguousSplitFileError, match=r"original release with text/ and labels/ \(its own top level, raw\)"):
        load_corpus("hoc", data_dir=str(hoc), cache_dir=cache)

    (tmp_path / "mimic").mkdir()
    for name in ("NOTEEVENTS.csv", "NOTEEVENTS.csv.gz"):
        (tmp_path / "mimic" / name).write_text("")
    with pytest.raises(AmbiguousSplitFileError, match=r"NOTEEVENTS table \(NOTEEVENTS.csv, NOTEEVENTS.csv.gz\)"):
        _table_path(tmp_path / "mimic", "NOTEEVENTS")
