"""Your own label files: descriptions (`--label_descriptions`) and a hierarchy (`--label_hierarchy`), read
with the line of each entry, and matched with the labels that the data uses."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .files import read_csv, read_json
from .hierarchy import Hierarchy, HierarchyError
from .user_files import OPTIONS, SPLITS, UserDataError
from .user_rows import Example

logger = logging.getLogger(__name__)


def _is_json(path: Path, option: str) -> bool:
    """Whether a label file is JSON (else CSV, or TSV by its extension); a missing file is named with its option."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} ({option}): no such file.")
    return path.suffix.lower() == ".json"


def _json_object(path: Path, option: str, shape: str, encoding: str) -> dict:
    data = read_json(path, encoding)
    if not isinstance(data, dict):
        raise UserDataError(f"{path} ({option}): expected a JSON object {shape}, got {type(data).__name__}.")
    return data


def _csv_records(path: Path, header: tuple[str, ...], encoding: str) -> Iterator[tuple[str, list[str]]]:
    """`(where, fields)` of a label file's CSV (TSV) lines: blank lines and an optional first-line `header` skipped."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    for number, fields in read_csv(path, encoding, delimiter=delimiter):
        if not any(f.strip() for f in fields):
            continue
        if number == 1 and tuple(f.strip().lower() for f in fields) == header:
            continue
        yield f"{path}, line {number}", fields


def read_label_descriptions(path: str | os.PathLike, encoding: str = "utf-8") -> dict[str, tuple[str, str]]:
    """``{label: (description, where)}`` from a JSON object ``{label: description}`` or a CSV ``label,description``
    (an optional header line ``label,description``)."""
    path = Path(path)
    option = OPTIONS["descriptions"]
    found: dict[str, tuple[str, str]] = {}
    if _is_json(path, option):
        for label, description in _json_object(path, option, "{label: description}", encoding).items():
            where = f"{path}, label {label!r}"
            if not isinstance(description, str) or not description.strip():
                raise UserDataError(f"{where} ({option}): the description must be a non-empty string, got {description!r}.")
            found[str(label)] = (description.strip(), where)
        return found
    for where, fields in _csv_records(path, ("label", "description"), encoding):
        if len(fields) != 2:
            raise UserDataError(f"{where} ({option}): expected two fields, label and description, got {len(fields)} "
                                "(quote a description that holds a comma).")
        label, description = fields[0].strip(), fields[1].strip()
        if not label or not description:
            raise UserDataError(f"{where} ({option}): empty {'label' if not label else 'description'}.")
        if label in found:
            raise UserDataError(f"{where} ({option}): label {label!r} is described twice (first at {found[label][1]}).")
        found[label] = (description, where)
    return found


def read_label_hierarchy(path: str | os.PathLike, encoding: str = "utf-8") -> Hierarchy:
    """A :class:`Hierarchy` from a CSV of ``label,parent`` links (a root has an empty parent; a label with several
    parents has several lines; an optional header ``label,parent``) or a JSON object ``{label: [parents]}``.

    The hierarchy's own checks run (cycles, parents that are not labels); their errors name the lines at fault.
    """
    path = Path(path)
    option = OPTIONS["hierarchy"]
    parents: dict[str, list[str]] = {}
    link_at: dict[tuple[str, str], str] = {}
    if _is_json(path, option):
        for label, value in _json_object(path, option, "{label: [parents]}", encoding).items():
            where = f"{path}, label {label!r}"
            values = [] if value is None else [value] if isinstance(value, str) else value
            if not isinstance(values, list) or not all(isinstance(p, str) for p in values):
                raise UserDataError(f"{where} ({option}): parents must be a list of label names, got {value!r}.")
            parents[str(label)] = list(values)
            for parent in values:
                link_at[(str(label), parent)] = where
    else:
        for where, fields in _csv_records(path, ("label", "parent"), encoding):
            if len(fields) not in (1, 2) or not fields[0].strip():
                raise UserDataError(f"{where} ({option}): expected 'label,parent' (parent empty for a root), got {fields!r}.")
            label = fields[0].strip()
            parent = fields[1].strip() if len(fields) == 2 else ""
            parents.setdefault(label, [])
            if parent:
                parents[label].append(parent)
                link_at.setdefault((label, parent), where)
    if not parents:
        raise UserDataError(f"{path} ({option}): no label in the file.")
    try:
        return Hierarchy(parents)
    except HierarchyError as err:
        if err.cycle:
            lines = [link_at.get((child, parent), "?") for child, parent in zip(err.cycle, err.cycle[1:])]
            raise UserDataError(
                f"{path} ({option}): the hierarchy has a cycle, {' -> '.join(err.cycle)} (child -> parent), made by "
                f"{'; '.join(lines)}. A label cannot be its own ancestor: remove one of these links."
            ) from None
        if err.unknown_links:
            label, parent = err.unknown_links[0]
            raise UserDataError(
                f"{link_at.get((label, parent), path)} ({option}): parent {parent!r} of {label!r} is not a label of the "
                f"hierarchy ({len(err.unknown_links)} such link(s)); give every parent its own line "
                f"('{parent},' for a root)."
            ) from None
        raise UserDataError(f"{path} ({option}): {err}") from None


def hierarchy_names(hierarchy: Hierarchy, examples: dict[str, list[Example]], path: Any,
                     label_column: str) -> tuple[list[str], Hierarchy]:
    """The hierarchy's labels that occur in the data, with their ancestors, in the file's order."""
    used: set[str] = set()
    for split in SPLITS:
        for example in examples.get(split, []):
            for name in example.row["labels"]:
                if name not in hierarchy:
                    raise UserDataError(
                        f"{example.where}: label {name!r} (column {label_column!r}, {OPTIONS['label']}) is not in the "
                        f"hierarchy {path} ({OPTIONS['hierarchy']}). Add it there with its parent."
                    )
                used.add(name)
    if not used:
        raise UserDataError(f"no row has a label in column {label_column!r} ({OPTIONS['label']}).")
    keep = set(used)
    for name in used:
        keep |= hierarchy.ancestors(name)
    if len(keep) < len(hierarchy):
        logger.info("%s: %d of its %d labels occur in the data (with their ancestors); the model gets those.",
                    path, len(keep), len(hierarchy))
        hierarchy = hierarchy.restrict(keep)
    return hierarchy.labels, hierarchy


def descriptions_for(names: list[str], path: Any, encoding: str, first_seen: dict[str, str]) -> tuple[list[str], int]:
    """One description per label, by name; the count of descriptions of labels that never occur."""
    found = read_label_descriptions(path, encoding)
    missing = [name for name in names if name not in found]
    if missing:
        shown = "; ".join(f"{name!r}" + (f" (first at {first_seen[name]})" if name in first_seen else "")
                          for name in missing[:5])
        raise UserDataError(
            f"{path} ({OPTIONS['descriptions']}): no description for {len(missing)} of the {len(names)} labels: {shown}"
            f"{' ...' if len(missing) > 5 else ''}. Add a line '<label>,<description>' (CSV) or a key (JSON) for each."
        )
    unused = [label for label in found if label not in set(names)]
    if unused:
        logger.warning("%s: %d description(s) are of labels that never occur in the data (e.g. %s); not used.",
                       path, len(unused), ", ".join(repr(u) for u in unused[:3]))
    return [found[name][0] for name in names], len(unused)
