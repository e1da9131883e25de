"""`labelwise.saved_kinds`: one table and one set of names for the saved shapes, read by every reader."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from test_library_shape import library_files

import labelwise.modeling
from labelwise.kinds import KINDS
from labelwise.saved_kinds import LEGACY_NAMES, SAVED_KINDS, canonical_name, detect, remote_code_files

REPO = Path(__file__).resolve().parents[1]
# "ner" is also a corpus task (multi_label / multi_class / hierarchical / ner: data_scripts.base.TASKS), a
# vocabulary of its own; as the 0.1 alias of token_classification it is written only in saved_kinds.py.
NOT_KIND_NAMES_ONLY = {"ner"}


def string_literals(path: Path) -> set[str]:
    """The string constants of a module that are not docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value) for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings}


def test_each_kind_name_is_a_string_literal_in_at_most_two_library_files():
    """Code names a kind through the table's constants or the kind's declaration, not by retyping its name."""
    names = (set(KINDS) | set(SAVED_KINDS) | set(LEGACY_NAMES)) - NOT_KIND_NAMES_ONLY
    files: dict[str, list[str]] = {name: [] for name in names}
    for path in library_files():  # labelwise/, modeling/, data_scripts/, train.py, push_to_hub.py
        for name in string_literals(path) & names:
            files[name].append(str(path.relative_to(REPO)))
    assert "labelwise/saved_kinds.py" in files["layerwise"]  # the table itself: the scan sees literals
    spread = {name: where for name, where in files.items() if len(where) > 2}
    assert not spread, f"kind names typed in more than two library files: {spread}"


# config.json fields of folders saved by labelwise 0.1 (the current release), one per saved kind.
RELEASED_CONFIGS = {
    "lame": {"model_type": "lame", "architectures": ["LameForSequenceClassification"]},
    "layerwise": {"model_type": "labelwise_layerwise", "architectures": ["LayerwiseBertForHierarchicalClassification"]},
    "token_classification": {"model_type": "bert", "architectures": ["BertForTokenClassification"]},
    "sequence_classification": {"model_type": "bert", "architectures": ["BertForSequenceClassification"]},
}


@pytest.mark.parametrize("name", list(RELEASED_CONFIGS))
def test_released_config_files_are_recognised(name):
    assert detect(RELEASED_CONFIGS[name]) == name


def test_old_view_names_are_aliases_and_unknown_names_are_refused():
    assert {canonical_name(old) for old in LEGACY_NAMES} == {"sequence_classification", "token_classification"}
    with pytest.raises(ValueError, match="not a saved-model kind"):
        canonical_name("lame_v2")
    with pytest.raises(ValueError, match=r"model_type='bert', architectures=\['BertModel'\]"):
        detect({"model_type": "bert", "architectures": ["BertModel"]})


def test_remote_code_follows_the_single_dot_imports():
    modeling = Path(labelwise.modeling.__file__).parent
    for name, kind in SAVED_KINDS.items():
        files = remote_code_files(name, str(modeling))
        if kind.model_file is None:
            assert files == [] and kind.standard_pipeline
            continue
        assert {kind.model_file, kind.pipeline_file} <= set(files)
        assert all((modeling / f).is_file() for f in files)
        # Closed: every single-dot import of a listed file is listed too.
        for file in files:
            tree = ast.parse((modeling / file).read_text(encoding="utf-8"))
            imported = {f"{n.module}.py" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 1}
            assert imported <= set(files), f"{file} imports {imported - set(files)}"
    assert "configuration_lame.py" in remote_code_files("lame", str(modeling))
