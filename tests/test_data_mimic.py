"""ICD-9 tree by range containment and the MIMIC-III builder on fixtures in the MIMIC format."""

import csv
import gzip
from pathlib import Path

import pytest

from labelwise.data_scripts import CorpusDownloadError, CorpusFormatError, load_corpus, load_label_space
from labelwise.data_scripts.icd9 import build_tree, format_code, read_descriptions

DESCRIPTIONS = """@\tICD9 Hierarchy Root
00-99.99\tPROCEDURES
001-999.99\tDISEASES AND INJURIES
38-39.99\tOPERATIONS ON VESSELS
38\tIncision, excision, and occlusion of vessels
38.9\tPuncture of vessel
38.93\tVenous catheterization, not elsewhere classified
390-459.99\tDISEASES OF THE CIRCULATORY SYSTEM
401-405.99\tHYPERTENSIVE DISEASE
401\tEssential hypertension
401.9\tUnspecified essential hypertension
410-414.99\tISCHEMIC HEART DISEASE
414\tOther forms of chronic ischemic heart disease
414.01\tCoronary atherosclerosis of native coronary artery
414.0\tCoronary atherosclerosis
E870-E876.9\tMISADVENTURES DURING MEDICAL CARE
E800-E999.9\tEXTERNAL CAUSES
E870\tAccidental cut during medical care
E870.0\tAccidental cut during surgical operation
V10-V19.99\tPERSONAL HISTORY
V01-V86.99\tFACTORS INFLUENCING HEALTH STATUS
V15\tOther personal history
V15.82\tHistory of tobacco use
"""


def test_format_code_follows_mimic_conventions():
    assert format_code("4019", True) == "401.9"
    assert format_code("E8700", True) == "E870.0"
    assert format_code("V1582", True) == "V15.82"
    assert format_code("3893", False) == "38.93"
    assert format_code("401", True) == "401"


def test_tree_by_prefix_and_smallest_containing_range(tmp_path):
    path = tmp_path / "ICD9_descriptions"
    path.write_text(DESCRIPTIONS)
    tree = build_tree(read_descriptions(path))
    p = lambda code: tree.parents(code)  # noqa: E731
    assert p("414.01") == ("414.0",) and p("414.0") == ("414",) and p("414") == ("410-414.99",)
    assert p("410-414.99") == ("390-459.99",) and p("390-459.99") == ("001-999.99",) and p("001-999.99") == ("@",)
    assert p("38.93") == ("38.9",) and p("38") == ("38-39.99",) and p("38-39.99") == ("00-99.99",)
    assert p("E870.0") == ("E870",) and p("E870") == ("E870-E876.9",) and p("E870-E876.9") == ("E800-E999.9",)
    assert p("V15") == ("V10-V19.99",) and p("V01-V86.99") == ("@",)
    assert tree.level("@") == 1 and tree.level("414.01") == 7
    assert tree.truncate(min_level=2).roots() == ["00-99.99", "001-999.99", "E800-E999.9", "V01-V86.99"]


def test_malformed_description_line(tmp_path):
    path = tmp_path / "ICD9_descriptions"
    path.write_text(DESCRIPTIONS + "not a code line\n")
    with pytest.raises(CorpusFormatError, match=r"ICD9_descriptions, line 24: expected '<ICD-9 code or range><TAB><description>'"):
        read_descriptions(path)


def write_table(path: Path, header: list[str], rows: list[list], gz: bool = False) -> None:
    opener = (lambda p: gzip.open(p, "wt", newline="")) if gz else (lambda p: open(p, "w", newline=""))
    with opener(str(path) + (".csv.gz" if gz else ".csv")) as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def write_mimic(root: Path, n: int = 20, gz: bool = True) -> Path:
    """n admissions (HADM 100+i, patient 1+i//2); odd ones with an addendum; #7 without notes."""
    root.mkdir(parents=True)
    (root / "ICD9_descriptions").write_text(DESCRIPTIONS)
    notes, diags, procs = [], [], []
    for i in range(n):
        hadm, subj = 100 + i, 1 + i // 2
        if i != 7:
            notes.append([1000 + 2 * i, subj, hadm, "2150-01-02", "", "", "Discharge summary", "Report", "", "", f"Summary of admission {hadm}.\nHTN, CAD."])
        if i % 2 and i != 7:
            notes.append([1001 + 2 * i, subj, hadm, "2150-01-03", "", "", "Discharge summary", "Addendum", "", "", f"Addendum {hadm}."])
        notes.append([5000 + i, subj, hadm, "2150-01-01", "", "", "Nursing", "", "", "", "Not a discharge summary."])
        diags += [[1, subj, hadm, 2, "41401"], [2, subj, hadm, 1, "4019"]]
        if i % 3 == 0:
            diags.append([3, subj, hadm, 3, "V1582"])
        procs.append([4, subj, hadm, 1, "3893"])
    diags.append([9, 99, 100, 4, "E8700"])
    write_table(root / "NOTEEVENTS", ["ROW_ID", "SUBJECT_ID", "HADM_ID", "CHARTDATE", "CHARTTIME", "STORETIME", "CATEGORY", "DESCRIPTION", "CGID", "ISERROR", "TEXT"], notes, gz)
    write_table(root / "DIAGNOSES_ICD", ["ROW_ID", "SUBJECT_ID", "HADM_ID", "SEQ_NUM", "ICD9_CODE"], diags, gz)
    write_table(root / "PROCEDURES_ICD", ["ROW_ID", "SUBJECT_ID", "HADM_ID", "SEQ_NUM", "ICD9_CODE"], procs, gz)
    return root


@pytest.fixture
def cache(tmp_path):
    return str(tmp_path / "cache")


def test_mimic_admissions_codes_and_patient_split(tmp_path, cache):
    root = write_mimic(tmp_path / "mimic")
    ds = load_corpus("mimic3", data_dir=str(root), cache_dir=cache)
    rows = {r["id"]: r for split in ds.values() for r in split}
    assert len(rows) == 19 and "107" not in rows  # admission 107 has no discharge summary
    names = ds["train"].features["labels"].feature.names
    assert rows["101"]["text"] == "Summary of admission 101.\nHTN, CAD.\n\nAddendum 101."
    assert [names[i] for i in rows["100"]["labels"]] == ["401.9", "414.01", "V15.82", "E870.0", "38.93"]
    for split in ds.values():  # patients (two admissions each) never straddle splits
        subjects = {(int(h) - 100) // 2 for h in split["id"]}
        for other in ds.values():
            if other is not split:
                assert subjects.isdisjoint({(int(h) - 100) // 2 for h in other["id"]})
    space = load_label_space("mimic3", data_dir=str(root))
    assert space.task == "hierarchical" and set(space.names) == {"401.9", "414.01", "V15.82", "E870.0", "38.93"}
    assert space.descriptions[space.names.index("401.9")] == "Unspecified essential hypertension"
    assert space.hierarchy.roots() == space.names  # no used code is an ancestor of another


def test_mimic_augmented_truncated_top_codes_and_caml_split(tmp_path, cache):
    root = write_mimic(tmp_path / "mimic", gz=False)
    aug = load_corpus("mimic3", data_dir=str(root), cache_dir=cache, augment=True, min_level=2)
    names = aug["train"].features["labels"].feature.names
    row = next(r for split in aug.values() for r in split if r["id"] == "102")
    labels = [names[i] for i in row["labels"]]
    assert "@" not in names and "001-999.99" in labels and "401-405.99" in labels and "38" in labels
    space = load_label_space("mimic3", data_dir=str(root), augment=True, min_level=2)
    assert space.hierarchy.level("001-999.99") == 1 and space.hierarchy.augment(["401.9"])[0] == "001-999.99"
    top = load_label_space("mimic3", data_dir=str(root), label_set="top50")
    assert len(top.names) == 5
    for name, ids in (("train", "100\n101\n102\n"), ("dev", "103\n"), ("test", "104\n105\n")):
        (root / f"{name}_full_hadm_ids.csv").write_text(ids)
    caml = load_corpus("mimic3", data_dir=str(root), cache_dir=cache)
    assert {k: v["id"] for k, v in caml.items()} == {"train": ["100", "101", "102"], "validation": ["103"], "test": ["104", "105"]}


def test_mimic_unknown_codes_attach_or_error_and_missing_files(tmp_path, cache):
    root = write_mimic(tmp_path / "mimic", n=4, gz=False)
    with open(root / "DIAGNOSES_ICD.csv", "a", newline="") as f:
        csv.writer(f).writerow([10, 1, 100, 5, "4011"])  # 401.1 is not described
    space = load_label_space("mimic3", data_dir=str(root))
    assert space.hierarchy.parents("401.1") == () and "401.1" in space.names
    full = load_label_space("mimic3", data_dir=str(root), label_set="all")
    assert full.hierarchy.parents("401.1") == ("401",)
    with pytest.raises(CorpusFormatError, match="every code of DIAGNOSES_ICD/PROCEDURES_ICD to be described, got '401.1'"):
        load_label_space("mimic3", data_dir=str(root), on_unknown_code="error")
    with pytest.raises(CorpusDownloadError, match="'mimic3' has no public download: pass data_dir="):
        load_corpus("mimic3", cache_dir=cache)
    (root / "PROCEDURES_ICD.csv").unlink()
    with pytest.raises(FileNotFoundError, match="PROCEDURES_ICD.csv or PROCEDURES_ICD.csv.gz"):
        load_corpus("mimic3", data_dir=str(root), cache_dir=cache)


def test_mimic_malformed_rows(tmp_path, cache):
    root = write_mimic(tmp_path / "mimic", n=4, gz=False)
    with open(root / "DIAGNOSES_ICD.csv", "a", newline="") as f:
        f.write("11,1,100,5\n")
    with pytest.raises(CorpusFormatError, match=r"DIAGNOSES_ICD.csv, line 13: expected 5 fields as in the header"):
        load_corpus("mimic3", data_dir=str(root), cache_dir=cache)
