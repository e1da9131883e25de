"""Demo corpora and the load_corpus / load_label_space entry points."""

import pytest

from labelwise.data_scripts import CORPORA, LabelSpace, load_corpus, load_label_space


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("hf_cache"))


def test_registry_names_and_unknown_name():
    for name in ("demo", "demo_hierarchical", "demo_ner"):
        assert name in CORPORA
    with pytest.raises(ValueError, match="unknown corpus 'nope'.*demo"):
        load_corpus("nope")


def test_demo_is_multilabel_deterministic_and_sized(cache, tmp_path):
    ds = load_corpus("demo", cache_dir=cache)
    assert {k: len(v) for k, v in ds.items()} == {"train": 300, "validation": 60, "test": 60}
    space = load_label_space("demo")
    assert isinstance(space, LabelSpace) and space.task == "multi_label"
    assert 4 <= space.num_labels <= 6 and len(space.descriptions) == space.num_labels
    assert ds["train"].features["labels"].feature.names == space.names
    lengths = [len(t.split()) for t in ds["train"]["text"]]
    assert min(lengths) >= 30 and max(lengths) <= 90
    assert all(1 <= len(labels) <= 3 for labels in ds["train"]["labels"])
    # Every label occurs in training data, and splits differ from one another.
    assert {i for labels in ds["train"]["labels"] for i in labels} == set(range(space.num_labels))
    assert len(set(ds["train"]["text"]) & set(ds["test"]["text"])) < 3
    # A fresh cache rebuilds exactly the same data.
    again = load_corpus("demo", cache_dir=str(tmp_path))
    assert again["train"][:] == ds["train"][:]


def test_demo_config_changes_are_not_served_from_cache(cache):
    small = load_corpus("demo", cache_dir=cache, num_train=20, seed=3)
    assert len(small["train"]) == 20
    other = load_corpus("demo", cache_dir=cache, num_train=20, seed=4)
    assert other["train"]["text"] != small["train"]["text"]


def test_demo_hierarchical_labels_are_closed_under_ancestors(cache):
    ds = load_corpus("demo_hierarchical", cache_dir=cache)
    space = load_label_space("demo_hierarchical")
    h = space.hierarchy
    assert space.task == "hierarchical" and h.depth == 3 and len(space.descriptions) == len(space.names)
    assert set(h.labels) == set(space.names)
    names = ds["train"].features["labels"].feature.names
    for ids in ds["train"]["labels"][:50]:
        labels = [names[i] for i in ids]
        assert h.augment(labels) == labels
        assert any(h.level(label) == 3 for label in labels)


def test_demo_ner_bio_tags_match_offsets(cache):
    ds = load_corpus("demo_ner", cache_dir=cache)
    space = load_label_space("demo_ner")
    assert space.names == ["O", "B-ADR", "I-ADR"]
    names = ds["train"].features["ner_tags"].feature.names
    n_with_adr = 0
    for ex in ds["train"]:
        assert len(ex["tokens"]) == len(ex["ner_tags"]) == len(ex["offsets"])
        for token, (s, e) in zip(ex["tokens"], ex["offsets"]):
            assert ex["text"][s:e] == token
        tags = [names[t] for t in ex["ner_tags"]]
        for prev, tag in zip(["O"] + tags, tags):
            assert not (tag.startswith("I-") and prev == "O")
        n_with_adr += "B-ADR" in tags
    assert 0.5 * len(ds["train"]) < n_with_adr < len(ds["train"])
    with_drugs = load_corpus("demo_ner", cache_dir=cache, entity_types=["ADR", "DRUG"])
    assert with_drugs["train"].features["ner_tags"].feature.names == ["O", "B-ADR", "I-ADR", "B-DRUG", "I-DRUG"]


def test_unknown_option_lists_the_corpus_options():
    with pytest.raises(ValueError, match=r"corpus 'demo' has no option\(s\) \['foo'\]; its options: num_train, .*seed"):
        load_corpus("demo", foo=1)
