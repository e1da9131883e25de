"""The library stays readable: no file of it is over 500 lines.

Static (the files are read, nothing is run). "The library" is what users install and run:
`labelwise/`, `modeling/` (the Hub's remote code), `data_scripts/`, `train.py` and `push_to_hub.py`;
not `tests/` or `bench/`. `tests/test_saved_kinds.py` reads the same files for the kind names.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY_FOLDERS = ("labelwise", "modeling", "data_scripts")
LIBRARY_SCRIPTS = ("train.py", "push_to_hub.py")
MAX_LINES = 500


def library_files() -> list[Path]:
    """Every Python file of the library, scripts included."""
    files = [path for folder in LIBRARY_FOLDERS for path in sorted((ROOT / folder).rglob("*.py"))]
    return files + [ROOT / name for name in LIBRARY_SCRIPTS]


def test_the_library_is_every_installed_module_and_script_and_nothing_else() -> None:
    files = {path.relative_to(ROOT).as_posix() for path in library_files()}
    assert {"train.py", "push_to_hub.py", "modeling/modeling_lame.py", "labelwise/publishing/push.py",
            "data_scripts/hoc.py"} <= files
    assert not any(name.startswith(("tests/", "bench/")) for name in files)


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
