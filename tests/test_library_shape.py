"""The library stays readable: no file over 500 lines, and each kind's name is written in at most 2 files.

Static checks (the files are read, nothing is run). "The library" is what users install and run:
`labelwise/`, `modeling/` (the Hub's remote code), `data_scripts/`, `train.py` and `push_to_hub.py`;
not `tests/` or `bench/`.

A kind's name is counted where it is a string literal: an `ast` string constant equal to the name
(docstrings and comments that mention it do not count, a `"lame"` in a dict key or a comparison
does). Everywhere else, code names the kind through `labelwise.saved_kinds` or the kind's own object.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY_FOLDERS = ("labelwise", "modeling", "data_scripts")
LIBRARY_SCRIPTS = ("train.py", "push_to_hub.py")
MAX_LINES = 500
MAX_FILES_PER_KIND_NAME = 2
# "ner" is also a task name (multi_label / multi_class / hierarchical / ner: data_scripts.base.TASKS),
# a vocabulary of its own that corpora and cards use; as a legacy kind alias it is written only in
# labelwise/saved_kinds.py, so counting it here would measure the task vocabulary, not the kinds.
NOT_COUNTED = {"ner"}


def library_files() -> list[Path]:
    files = [path for folder in LIBRARY_FOLDERS for path in sorted((ROOT / folder).rglob("*.py"))]
    return files + [ROOT / name for name in LIBRARY_SCRIPTS]


def kind_names() -> set[str]:
    from labelwise.kinds import KINDS
    from labelwise.saved_kinds import LEGACY_NAMES, SAVED_KINDS

    return (set(KINDS) | set(SAVED_KINDS) | set(LEGACY_NAMES)) - NOT_COUNTED


def string_literal_files(names: set[str]) -> dict[str, dict[str, list[int]]]:
    """name -> {library file (relative) -> lines where the name is a string literal}."""
    found: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for path in library_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
                found[node.value].setdefault(path.relative_to(ROOT).as_posix(), []).append(node.lineno)
    return found


def test_the_scan_sees_the_library() -> None:
    files = {path.relative_to(ROOT).as_posix() for path in library_files()}
    assert {"train.py", "modeling/modeling_lame.py", "labelwise/saved_kinds.py", "data_scripts/hoc.py"} <= files
    assert not any(name.startswith(("tests/", "bench/")) for name in files)
    # The kind table itself writes each saved kind's name once: the count can see a literal.
    found = string_literal_files({"layerwise", "token_classification"})
    assert "labelwise/saved_kinds.py" in found["layerwise"]
    assert "labelwise/saved_kinds.py" in found["token_classification"]


def test_no_library_file_is_over_500_lines() -> None:
    too_long = {}
    for path in library_files():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            too_long[path.relative_to(ROOT).as_posix()] = lines
    assert not too_long, (
        f"library files over {MAX_LINES} lines (split them by job, as modeling/*_lame.py and "
        f"labelwise/publishing/ are): {too_long}"
    )


def test_each_kind_name_is_a_string_literal_in_at_most_2_files() -> None:
    names = kind_names()
    assert {"lame", "layerwise", "vanilla", "frozen_lame", "sequence_classification"} <= names
    found = string_literal_files(names)
    spread = {name: files for name, files in found.items() if len(files) > MAX_FILES_PER_KIND_NAME}
    assert not spread, (
        f"kind names written as string literals in more than {MAX_FILES_PER_KIND_NAME} library files "
        f"(use the constants of labelwise/saved_kinds.py or the kind's own object): {spread}"
    )
