"""The prepare command: Parquet + label_space.json + dataset card, read back with datasets."""

import json

import datasets
import pytest

from labelwise.data_scripts import LabelSpace, load_corpus, load_label_space
from labelwise.data_scripts.prepare import main, parse_config


def test_parse_config_reads_json_values():
    assert parse_config(["labels=fine", "max_words=130", "entity_types=[\"ADR\",\"DRUG\"]", "augment=true"]) == {
        "labels": "fine", "max_words": 130, "entity_types": ["ADR", "DRUG"], "augment": True}
    with pytest.raises(ValueError, match="key=value"):
        parse_config(["oops"])


def test_prepare_writes_parquet_that_loads_back_with_features(tmp_path, capsys):
    out = tmp_path / "out"
    main(["demo_hierarchical", "--output_dir", str(out), "--cache_dir", str(tmp_path / "cache"), "--config", "num_train=30"])
    printed = capsys.readouterr().out
    assert "train: 30 examples" in printed
    assert sorted(p.name for p in (out / "data").iterdir()) == ["test.parquet", "train.parquet", "validation.parquet"]
    card = (out / "README.md").read_text()
    assert "- split: validation\n    path: data/validation.parquet" in card and '{"num_train": 30}' in card
    loaded = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache2"))
    original = load_corpus("demo_hierarchical", cache_dir=str(tmp_path / "cache"), num_train=30)
    assert loaded["train"].features == original["train"].features
    assert loaded["train"][:] == original["train"][:] and len(loaded["test"]) == 60
    space = LabelSpace.from_dict(json.loads((out / "label_space.json").read_text()))
    assert space == load_label_space("demo_hierarchical")


def test_prepare_requires_a_destination(tmp_path):
    with pytest.raises(SystemExit):
        main(["demo"])


def test_push_to_hub_uploads_parquet_and_label_space(tmp_path):
    """Against the fake Hub server, in a subprocess so HF_ENDPOINT is read at import time."""
    import os
    import subprocess
    import sys

    from fake_hub import FakeHub

    with FakeHub(tmp_path / "hub", token="hf_test") as hub:
        env = dict(os.environ, HF_ENDPOINT=hub.endpoint, HF_HUB_DISABLE_XET="1", HF_TOKEN="hf_test", HF_HUB_OFFLINE="0")
        cmd = [sys.executable, "-m", "labelwise.data_scripts.prepare", "demo", "--push_to_hub", "user/demo",
               "--cache_dir", str(tmp_path / "cache"), "--config", "num_train=20"]
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        files = hub.files("user/demo", repo_type="dataset")
    assert {"README.md", "label_space.json", "data/train-00000-of-00001.parquet", "data/test-00000-of-00001.parquet"} <= set(files)
    assert json.loads(files["label_space.json"])["names"] == load_label_space("demo").names
    assert b"split: validation" in files["README.md"]
