"""Read every real corpus found under a data root with the builders and print its counts.

    python -m labelwise.data_scripts.verify --data_root ../shared/data [--corpora hoc ade]

Not a test: the corpora are not part of the project. The printed figures are recorded in
docs/DATA.md next to the published ones. Expected layout (the one of ../shared/data):
``hoc/{raw,blue_split}``, ``medical_abstracts``, ``ade_corpus_v2/ADE-Corpus-V2``,
``eurlex57k``, ``icd9/mimicdata`` (ICD-9 descriptions and CAML split lists; the MIMIC-III
tables themselves only when the user has them, in ``mimic3/``).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections import Counter
from pathlib import Path

from labelwise.cli_errors import cli_main

from . import load_corpus, load_label_space
from .ade import read_negatives, read_relations
from .hoc import _find_release
from .icd9 import build_tree, read_descriptions
from .registry import get_builder


FREQUENT = 50  # EURLEX57K: a label is frequent with 50 or more training documents


def _names(ds, column="labels"):
    feature = ds["train"].features[column]
    return feature.names if hasattr(feature, "names") else feature.feature.names


def verify_hoc(root: Path, cache: str) -> None:
    release = _find_release(str(root))
    n_files = len(list((release / "text").glob("*.txt")))
    ds = load_corpus("hoc", data_dir=str(root), cache_dir=cache)
    random = load_corpus("hoc", data_dir=str(release), cache_dir=cache)
    fine = load_label_space("hoc", data_dir=str(root), labels="fine")
    builder = get_builder("hoc", data_dir=str(root), cache_dir=cache)
    labelled = sum(1 for _, paths in builder._documents().values() if paths)
    print(f"files read: {builder.skips.summary()}")
    names = _names(ds)
    print(f"abstracts (text files): {n_files}")
    print(f"abstracts with >= 1 hallmark: {labelled}")
    print("BLUE split (train/validation/test): " + " / ".join(str(len(ds[s])) for s in ("train", "validation", "test")))
    print("7:1:2 random split, seed 42 (train/validation/test): " + " / ".join(str(len(random[s])) for s in ("train", "validation", "test")))
    print(f"top-level labels: {len(names)}; taxonomy nodes (labels='fine'): {len(fine.names)}, depth {fine.hierarchy.depth}")
    counts = Counter(names[i] for split in ds.values() for labels in split["labels"] for i in labels)
    print("abstracts per hallmark (all splits): " + "; ".join(f"{k} {v}" for k, v in counts.most_common()))
    per_doc = [len(labels) for split in ds.values() for labels in split["labels"]]
    print(f"labels per abstract: mean {statistics.mean(per_doc):.2f}, max {max(per_doc)}")


def verify_medical_abstracts(root: Path, cache: str) -> None:
    ds = load_corpus("medical_abstracts", data_dir=str(root), cache_dir=cache)
    names = _names(ds)
    total = Counter(names[i] for split in ds.values() for i in split["labels"])
    n = sum(total.values())
    has_train = (root / "medical_tc_train.csv").exists()
    print(f"abstracts read: {n} ({'train + test files' if has_train else 'test file only'})")
    print("per class: " + "; ".join(f"{name} {total[name]}" for name in names))
    print("splits (train/validation/test): " + " / ".join(str(len(ds[s])) for s in ("train", "validation", "test")))
    words = [len(t.split()) for split in ds.values() for t in split["text"]]
    print(f"words per abstract: mean {statistics.mean(words):.0f}, max {max(words)}")


def verify_ade(root: Path, cache: str) -> None:
    folder = get_builder("ade", data_dir=str(root), cache_dir=cache)._folder()  # the builder's choice, and its refusal
    relations = read_relations(folder / "DRUG-AE.rel")
    n_lines = sum(1 for line in (folder / "DRUG-AE.rel").open(encoding="utf-8") if line.strip())
    negatives = read_negatives(folder / "ADE-NEG.txt")
    print(f"DRUG-AE.rel relations (lines): {n_lines}")
    print(f"positive sentences (distinct PMID + sentence): {len(relations)}; distinct sentence texts: {len({s for _, s in relations})}")
    print(f"ADE-NEG.txt lines: {len(negatives)}; distinct PMID + sentence: {len(set(negatives))}")
    effects = {(p, s, m[0], m[1]) for (p, s), ms in relations.items() for m in ms if m[3] == "ADR"}
    drugs = {(p, s, m[0], m[1]) for (p, s), ms in relations.items() for m in ms if m[3] == "DRUG"}
    print(f"distinct adverse-effect mentions: {len(effects)}; distinct drug mentions: {len(drugs)}")
    for label, options in (("all sentences", {}), ("paper protocol (max_words=130, drop_duplicates)", {"max_words": 130, "drop_duplicates": True})):
        builder = get_builder("ade", data_dir=str(root), cache_dir=cache, **options)
        builder.download_and_prepare()
        ds = builder.as_dataset()
        rows = sum(len(d) for d in ds.values())
        positive = sum(1 for d in ds.values() for tags in d["ner_tags"] if any(tags))
        b_tags = sum(1 for d in ds.values() for tags in d["ner_tags"] for t in tags if t == 1)
        print(f"{label}: {rows} sentences, {positive} with an ADR, {b_tags} ADR mentions tagged; 8:1:1 by PMID: " + " / ".join(str(len(ds[s])) for s in ("train", "validation", "test")))
        print(f"  rules applied: {builder.skips.summary()}")


def verify_eurlex57k(root: Path, cache: str) -> None:
    ds = load_corpus("eurlex57k", data_dir=str(root), cache_dir=cache)
    space = load_label_space("eurlex57k", data_dir=str(root))
    h = space.hierarchy
    names = _names(ds)
    print("documents (train/validation/test): " + " / ".join(str(len(ds[s])) for s in ("train", "validation", "test")))
    levels = h.levels()
    print(f"EUROVOC concepts: {len(h)}; roots: {len(h.roots())}; depth: {h.depth}; with several parents: {sum(1 for c in h.labels if len(h.parents(c)) > 1)}")
    print("concepts per level: " + ", ".join(f"L{lvl} {n}" for lvl, n in sorted(Counter(levels.values()).items())))
    used = {s: Counter(names[i] for labels in ds[s]["labels"] for i in labels) for s in ds}
    all_used = set().union(*used.values())
    print(f"concepts assigned to documents: {len(all_used)} (train {len(used['train'])}, validation {len(used['validation'])}, test {len(used['test'])}); "
          f"in validation/test but never in train: {len((set(used['validation']) | set(used['test'])) - set(used['train']))}")
    per_doc = [len(labels) for split in ds.values() for labels in split["labels"]]
    print(f"labels per document: mean {statistics.mean(per_doc):.2f}, max {max(per_doc)}")
    print("assigned concepts per level: " + ", ".join(f"L{lvl} {n}" for lvl, n in sorted(Counter(levels[c] for c in all_used).items())))
    freq = Counter(c for s in used.values() for c, n in s.items() for _ in range(n))
    train_freq = used["train"]
    # The EURLEX57K paper's frequent labels occur in 50 or more training documents.
    frequent = sum(1 for c in all_used if train_freq[c] >= FREQUENT)
    few = sum(1 for c in all_used if 0 < train_freq[c] < FREQUENT)
    zero = sum(1 for c in all_used if train_freq[c] == 0)
    print(f"assigned concepts by training frequency: frequent (>={FREQUENT}) {frequent}, few (1-{FREQUENT - 1}) {few}, zero {zero}; most frequent: {freq.most_common(1)[0]}")
    truncated = load_label_space("eurlex57k", data_dir=str(root), max_level=3)
    print(f"truncated to levels 1-3: {len(truncated.hierarchy)} concepts")


def verify_icd9(root: Path, cache: str) -> None:
    desc = read_descriptions(root / "ICD9_descriptions")
    tree = build_tree(desc)
    ranges = sum(1 for c in desc if "-" in c)
    print(f"ICD9_descriptions: {len(desc)} codes ({ranges} range nodes); tree depth {tree.depth}; roots {tree.roots()}")
    print("codes per level: " + ", ".join(f"L{lvl} {n}" for lvl, n in sorted(Counter(tree.levels().values()).items())))
    print("level 2: " + "; ".join(f"{c} {desc[c]}" for c in tree.labels_at_level(2)))
    caml = root / "mimic3"
    for setting in ("full", "50"):
        counts = []
        for split in ("train", "dev", "test"):
            path = caml / f"{split}_{setting}_hadm_ids.csv"
            counts.append(str(sum(1 for line in path.open() if line.strip())) if path.exists() else "-")
        print(f"CAML MIMIC-III {setting} split admission ids (train/dev/test): {' / '.join(counts)}")


CHECKS = {
    "hoc": ("hoc", verify_hoc),
    "medical_abstracts": ("medical_abstracts", verify_medical_abstracts),
    "ade": ("ade_corpus_v2", verify_ade),
    "eurlex57k": ("eurlex57k", verify_eurlex57k),
    "icd9": ("icd9/mimicdata", verify_icd9),
}


@cli_main("python -m labelwise.data_scripts.verify")
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Print counts of the real corpora under --data_root.")
    parser.add_argument("--data_root", required=True)
    parser.add_argument("--corpora", nargs="*", default=list(CHECKS), choices=list(CHECKS))
    parser.add_argument("--cache_dir", help="datasets cache (default: a temporary folder)")
    args = parser.parse_args(argv)
    cache = args.cache_dir or tempfile.mkdtemp(prefix="labelwise_verify_")
    for name in args.corpora:
        folder, check = CHECKS[name]
        path = Path(args.data_root) / folder
        print(f"\n== {name} ({path})")
        if not path.exists():
            print("not found, skipped")
            continue
        check(path, cache)


if __name__ == "__main__":
    main()
