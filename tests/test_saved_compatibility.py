"""Folders saved by the release before LAME was split by job and the encoder became a sub-config
still load, and compute exactly what they computed then.

The folders under `tests/fixtures/saved_models/` were written by `tests/fixtures/make_saved_models.py`
run with that release's code (main at c9e66dc): BERT fields at the top level of `config.json`, "auto"
values unresolved, the encoder's weights under `bert.`. Each holds `expected.pt`: its inputs and the
outputs that release computed from them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

import labelwise.modeling  # noqa: F401  (registers the labelwise architectures)

FIXTURES = Path(__file__).parent / "fixtures" / "saved_models"
FOLDERS = sorted(path.name for path in FIXTURES.iterdir() if (path / "config.json").is_file())


def test_every_kind_has_a_fixture():
    assert set(FOLDERS) >= {
        "vanilla", "token_classification", "lame", "lame_label_agnostic", "lame_long", "frozen_lame", "layerwise"
    }


@pytest.mark.parametrize("name", FOLDERS)
def test_saved_folder_gives_identical_outputs(name):
    folder = FIXTURES / name
    auto = AutoModelForTokenClassification if name == "token_classification" else AutoModelForSequenceClassification
    model = auto.from_pretrained(str(folder)).eval()
    expected = torch.load(folder / "expected.pt")
    extra = {"output_cross_attentions": True} if "cross_attentions" in expected else {}
    with torch.no_grad():
        out = model(**expected["inputs"], **extra)
    assert torch.equal(out.logits, expected["logits"])
    for got, want in zip(getattr(out, "cross_attentions", None) or (), expected.get("cross_attentions", [])):
        assert torch.equal(got, want)
    if "cross_attentions" in expected:
        assert len(out.cross_attentions) == len(expected["cross_attentions"])


def test_old_auto_values_still_load():
    """A config saved with "auto" fields loads, and resolves them as that release did."""
    saved = json.loads((FIXTURES / "lame_label_agnostic" / "config.json").read_text())
    assert saved["description_pooling"] == "auto" and saved["similarity_term"] == "auto"
    model = AutoModelForSequenceClassification.from_pretrained(str(FIXTURES / "lame_label_agnostic"))
    assert model.config.pools_descriptions == "mean"
    assert model.config.uses_similarity_term is True
