"""HoC, Medical Abstracts and EURLEX57K builders on small fixtures written here."""

import json
from pathlib import Path

import pytest

from labelwise.data_scripts import CorpusDownloadError, CorpusFormatError, load_corpus, load_label_space
from labelwise.data_scripts.hoc import HALLMARKS

PROLIF, DEATH, ANGIO = "Sustaining proliferative signaling", "Resisting cell death", "Inducing angiogenesis"


@pytest.fixture
def cache(tmp_path):
    return str(tmp_path / "cache")


# ----------------------------------------------------------------------------- HoC
def write_hoc(root: Path, n: int = 20) -> Path:
    """n abstracts of 2 sentences; every 5th one has no hallmark (only NULL or nothing)."""
    (root / "raw" / "text").mkdir(parents=True)
    (root / "raw" / "labels").mkdir(parents=True)
    for i in range(n):
        pmid = str(1000 + i)
        (root / "raw" / "text" / f"{pmid}.txt").write_text(f"Sentence one of {pmid} .\nCells grew in study {i} .\n")
        if i % 5 == 0:
            labels = "< <NULL"
        elif i % 2:
            labels = f"< <{PROLIF}--Receptors AND{DEATH}--Apoptosis"
        else:
            labels = f"<{ANGIO}--< "
        (root / "raw" / "labels" / f"{pmid}.txt").write_text(labels)
    return root


def test_hoc_split_files_and_top_level_labels(tmp_path, cache):
    root = write_hoc(tmp_path / "hoc")
    (root / "blue_split").mkdir()
    (root / "blue_split" / "train_docid.txt").write_text("1001\n1002\n1003\n")
    (root / "blue_split" / "dev_docid.txt").write_text("1004\n")
    (root / "blue_split" / "test_docid.txt").write_text("1006\n1007\n")
    ds = load_corpus("hoc", data_dir=str(root), cache_dir=cache)
    assert {k: len(v) for k, v in ds.items()} == {"train": 3, "validation": 1, "test": 2}
    names = ds["train"].features["labels"].feature.names
    assert names == list(HALLMARKS)
    row = ds["train"][0]
    assert row["id"] == "1001" and row["text"] == "Sentence one of 1001 . Cells grew in study 1 ."
    assert [names[i] for i in row["labels"]] == [PROLIF, DEATH]
    assert [names[i] for i in ds["train"][1]["labels"]] == [ANGIO]
    space = load_label_space("hoc", data_dir=str(root))
    assert space.task == "multi_label" and len(space.descriptions) == 10


def test_hoc_random_split_and_fine_labels(tmp_path, cache):
    root = write_hoc(tmp_path / "hoc")
    ds = load_corpus("hoc", data_dir=str(root / "raw"), cache_dir=cache)
    # 16 labelled abstracts split 7:1:2 -> 11 / 2 / 3 (rounded cumulative bounds).
    assert {k: len(v) for k, v in ds.items()} == {"train": 11, "validation": 2, "test": 3}
    all_ids = sorted(i for split in ds.values() for i in split["id"])
    assert all_ids == sorted(str(1000 + i) for i in range(20) if i % 5)
    again = load_corpus("hoc", data_dir=str(root / "raw"), cache_dir=cache, seed=7)
    assert again["test"]["id"] != ds["test"]["id"]
    fine = load_corpus("hoc", data_dir=str(root / "raw"), cache_dir=cache, labels="fine", include_unlabelled=True)
    space = load_label_space("hoc", data_dir=str(root / "raw"), labels="fine")
    assert space.task == "hierarchical"
    assert space.names == [PROLIF, f"{PROLIF}--Receptors", DEATH, f"{DEATH}--Apoptosis", ANGIO]
    names = fine["train"].features["labels"].feature.names
    by_id = {r["id"]: [names[i] for i in r["labels"]] for split in fine.values() for r in split}
    assert len(by_id) == 20 and by_id["1000"] == []
    assert by_id["1001"] == [PROLIF, DEATH, f"{PROLIF}--Receptors", f"{DEATH}--Apoptosis"]


@pytest.mark.parametrize(
    "content, message",
    [
        ("<Made up hallmark--X<", "sentence 1: expected a path starting with one of the 10 hallmarks"),
        (f"<{PROLIF}", "expected 2 label groups"),
        (f"{PROLIF}<<", "introduced by '<'"),
    ],
)
def test_hoc_malformed_label_files_name_file_and_problem(tmp_path, cache, content, message):
    root = write_hoc(tmp_path / "hoc", n=3)
    bad = root / "raw" / "labels" / "1001.txt"
    bad.write_text(content)
    with pytest.raises(CorpusFormatError, match=message) as err:
        load_corpus("hoc", data_dir=str(root), cache_dir=cache)
    assert "1001.txt" in str(err.value)


def test_hoc_split_file_with_unknown_pmid(tmp_path, cache):
    root = write_hoc(tmp_path / "hoc", n=3)
    split = tmp_path / "split"
    split.mkdir()
    for name, ids in (("train", "1001\n"), ("dev", "1002\n"), ("test", "1001\n999\n")):
        (split / f"{name}_docid.txt").write_text(ids)
    with pytest.raises(CorpusFormatError, match=r"test_docid.txt, line 2: expected a PMID .* got '999'"):
        load_corpus("hoc", data_dir=str(root), cache_dir=cache, split_dir=str(split))


def test_changed_data_is_not_served_from_cache(tmp_path, cache):
    root = write_hoc(tmp_path / "hoc", n=10)
    first = load_corpus("hoc", data_dir=str(root), cache_dir=cache)
    (root / "raw" / "text" / "1001.txt").write_text("Changed text .\nSecond .\n")
    second = load_corpus("hoc", data_dir=str(root), cache_dir=cache)
    texts = lambda ds: {r["id"]: r["text"] for split in ds.values() for r in split}  # noqa: E731
    assert texts(first)["1001"] != texts(second)["1001"] == "Changed text . Second ."


def test_missing_data_dir_names_corpus_url_and_option(cache):
    with pytest.raises(CorpusDownloadError) as err:
        load_corpus("hoc", cache_dir=cache)
    text = str(err.value)
    assert "'hoc'" in text and "github.com/sb895/Hallmarks-of-Cancer" in text and "data_dir" in text


# ----------------------------------------------------------------------------- Medical Abstracts
def write_medical(root: Path, with_train: bool) -> Path:
    root.mkdir(parents=True)
    (root / "medical_tc_labels.csv").write_text(
        "condition_label,condition_name\n1,neoplasms\n2,digestive system diseases\n3,nervous system diseases\n"
        "4,cardiovascular diseases\n5,general pathological conditions\n"
    )
    rows = ["condition_label,medical_abstract"] + [f'{i % 5 + 1},"Abstract {i}, about class {i % 5 + 1}."' for i in range(50)]
    (root / "medical_tc_test.csv").write_text("\n".join(rows) + "\n")
    if with_train:
        rows = ["condition_label,medical_abstract"] + [f"{i % 5 + 1},Training abstract {i}." for i in range(100)]
        (root / "medical_tc_train.csv").write_text("\n".join(rows) + "\n")
    return root


def test_medical_abstracts_test_only_split_is_stratified_8_1_1(tmp_path, cache):
    root = write_medical(tmp_path / "ma", with_train=False)
    ds = load_corpus("disease5", data_dir=str(root), cache_dir=cache)
    assert {k: len(v) for k, v in ds.items()} == {"train": 40, "validation": 5, "test": 5}
    assert ds["train"].features["labels"].names[0] == "neoplasms"
    for split in ds.values():
        assert sorted(set(split["labels"])) == [0, 1, 2, 3, 4] or len(split) < 5
    assert sorted(ds["validation"]["labels"]) == [0, 1, 2, 3, 4]
    row = next(r for r in ds["train"] if r["id"] == "medical_tc_test-3")
    assert row["text"] == "Abstract 2, about class 3." and row["labels"] == 2
    space = load_label_space("medical_abstracts", data_dir=str(root))
    assert space.task == "multi_class" and space.num_labels == 5 and all(space.descriptions)


def test_medical_abstracts_official_split(tmp_path, cache):
    root = write_medical(tmp_path / "ma", with_train=True)
    ds = load_corpus("medical_abstracts", data_dir=str(root), cache_dir=cache)
    assert {k: len(v) for k, v in ds.items()} == {"train": 90, "validation": 10, "test": 50}
    pooled = load_corpus("medical_abstracts", data_dir=str(root), cache_dir=cache, split="8:1:1")
    assert {k: len(v) for k, v in pooled.items()} == {"train": 120, "validation": 15, "test": 15}


@pytest.mark.parametrize(
    "line, message",
    [("7,Unknown class.", r"line 3: expected condition_label in 1..5, got '7'"), ("1,too,many,fields", "line 3: expected 2 fields")],
)
def test_medical_abstracts_malformed_rows(tmp_path, cache, line, message):
    root = write_medical(tmp_path / "ma", with_train=False)
    path = root / "medical_tc_test.csv"
    lines = path.read_text().splitlines()
    lines[2] = line
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CorpusFormatError, match=message) as err:
        load_corpus("medical_abstracts", data_dir=str(root), cache_dir=cache)
    assert "medical_tc_test.csv" in str(err.value)


# ----------------------------------------------------------------------------- EURLEX57K
CONCEPTS = {
    "1": {"concept_id": "1", "label": "trade", "alt_labels": ["commerce"], "parents": []},
    "2": {"concept_id": "2", "label": "agriculture", "alt_labels": [], "parents": []},
    "10": {"concept_id": "10", "label": "import", "alt_labels": [], "parents": ["1"]},
    "11": {"concept_id": "11", "label": "fish product", "alt_labels": [], "parents": ["2", "10"]},
    "12": {"concept_id": "12", "label": "frozen fish", "alt_labels": [], "parents": ["11"]},
}


def write_eurlex(root: Path, docs: dict[str, list[tuple[str, list[str]]]]) -> Path:
    root.mkdir(parents=True)
    (root / "EURLEX57K.json").write_text(json.dumps(CONCEPTS))
    for split, items in docs.items():
        (root / split).mkdir()
        for celex, concepts in items:
            doc = {
                "celex_id": celex, "uri": "u", "type": "Regulation", "concepts": concepts,
                "title": f"Regulation {celex} on fish\n", "header": "HEADER", "recitals": "Whereas trade.",
                "main_body": ["Article 1 imports.", "Article 2 entry into force."], "attachments": "Annex",
            }
            (root / split / f"{celex}.json").write_text(json.dumps(doc))
    return root


EURLEX_DOCS = {"train": [("A", ["12"]), ("B", ["10", "2"])], "dev": [("C", ["11"])], "test": [("D", ["1"])]}


def test_eurlex_documents_labels_and_hierarchy(tmp_path, cache):
    root = write_eurlex(tmp_path / "eurlex", EURLEX_DOCS)
    ds = load_corpus("eurlex57k", data_dir=str(root), cache_dir=cache)
    assert {k: len(v) for k, v in ds.items()} == {"train": 2, "validation": 1, "test": 1}
    names = ds["train"].features["labels"].feature.names
    assert names == ["1", "2", "10", "11", "12"]
    row = ds["train"][0]
    assert row["text"] == "Regulation A on fish\nHEADER\nWhereas trade.\nArticle 1 imports.\nArticle 2 entry into force."
    assert [names[i] for i in row["labels"]] == ["12"]
    space = load_label_space("eurlex57k", data_dir=str(root), descriptions="label+alt")
    assert space.descriptions[0] == "trade (commerce)"
    # "11" has parents 2 (level 1) and 10 (level 2): level 2 by the shortest-path rule.
    assert space.hierarchy.levels() == {"1": 1, "2": 1, "10": 2, "11": 2, "12": 3}
    aug = load_corpus("eurlex57k", data_dir=str(root), cache_dir=cache, augment=True, text_fields=["title"])
    assert [names[i] for i in aug["train"][0]["labels"]] == ["1", "2", "10", "11", "12"]
    assert aug["train"][0]["text"] == "Regulation A on fish"


def test_eurlex_truncation_and_train_label_set(tmp_path, cache):
    root = write_eurlex(tmp_path / "eurlex", EURLEX_DOCS)
    ds = load_corpus("eurlex57k", data_dir=str(root), cache_dir=cache, max_level=2, label_set="train")
    names = ds["train"].features["labels"].feature.names
    # Concept 12 (level 3) moves to 11; only labels seen in training remain.
    assert names == ["2", "10", "11"]
    assert [names[i] for i in ds["train"][0]["labels"]] == ["11"]
    assert [names[i] for i in ds["test"][0]["labels"]] == []


def test_eurlex_unknown_concept_error_or_counted_skip(tmp_path, cache):
    docs = {"train": [("A", ["12", "999"])], "dev": [("C", ["11"])], "test": [("D", ["1"])]}
    root = write_eurlex(tmp_path / "eurlex", docs)
    with pytest.raises(CorpusFormatError, match=r"A.json, document A: expected concepts listed in EURLEX57K.json .* got '999'"):
        load_corpus("eurlex57k", data_dir=str(root), cache_dir=cache)
    ds = load_corpus("eurlex57k", data_dir=str(root), cache_dir=cache, on_unknown_label="skip")
    assert ds["train"][0]["labels"] == [4]


def test_eurlex_malformed_json_names_file(tmp_path, cache):
    root = write_eurlex(tmp_path / "eurlex", EURLEX_DOCS)
    (root / "dev" / "C.json").write_text('{"celex_id": "C", "concepts": [')
    with pytest.raises(CorpusFormatError, match=r"C.json, line 1: expected valid JSON"):
        load_corpus("eurlex57k", data_dir=str(root), cache_dir=cache)
