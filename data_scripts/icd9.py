"""ICD-9-CM codes: formatting as in MIMIC-III/CAML and the code tree rebuilt from range nodes.

``ICD9_descriptions`` (as distributed with CAML) has one ``code<TAB>description`` a line:
point codes (``401``, ``401.9``, ``38.93``, ``E879.9``, ``V15.82``), range nodes
(``390-459.99``, ``E800-E807.9``, ``V01-V06.99``) and the root ``@``. There are no parent
links, so the tree is rebuilt:

* The parent of a point code with decimals is its longest existing prefix
  (``401.91 -> 401.9 -> 401``).
* The parent of a category (``401``, ``38``, ``E879``, ``V15``) and of a range is the
  *smallest* range that contains it, where a range contains a category when the category's
  number lies within the range's bounds and both belong to the same family: 3-digit
  diagnoses, 2-digit procedures, ``E`` codes or ``V`` codes. A range never contains a range
  with identical bounds.
* What is left (the chapters, e.g. ``001-999.99`` and ``00-99.99``) hangs below ``@``.

Levels follow :class:`Hierarchy`: ``@`` is level 1, the families (``DISEASES AND INJURIES``,
``PROCEDURES``, ...) level 2, chapters level 3 or 4, and so on; the paper drops the top
level (``truncate(min_level=2)``).
"""

from __future__ import annotations

import re
from pathlib import Path

from .base import CorpusFormatError
from .files import iter_lines
from .hierarchy import Hierarchy

ROOT = "@"
_CODE = re.compile(r"^(?:E\d{3}|V\d{2}|\d{2,3})(?:\.\d{0,2})?$")
_RANGE = re.compile(r"^(E\d{3}|V\d{2}|\d{2,3})(?:\.\d+)?-(E\d{3}|V\d{2}|\d{2,3})(?:\.\d+)?$")


def format_code(code: str, is_diagnosis: bool) -> str:
    """MIMIC-III's dot-less code -> the dotted form of ICD9_descriptions (CAML's rule).

    Diagnoses: ``E`` codes have 4 characters before the dot, others 3 (``4019 -> 401.9``,
    ``E8799 -> E879.9``, ``V1582 -> V15.82``); procedures have 2 (``3893 -> 38.93``)."""
    code = code.strip().replace(".", "")
    if not code:
        return code
    if is_diagnosis:
        head = 4 if code.startswith("E") else 3
    else:
        head = 2
    return code if len(code) <= head else f"{code[:head]}.{code[head:]}"


def _family_and_number(category: str) -> tuple[str, int]:
    """``("diag"|"proc"|"E"|"V", number)`` of a category such as ``401``, ``38``, ``E879``."""
    if category.startswith(("E", "V")):
        return category[0], int(category[1:])
    return ("diag" if len(category) == 3 else "proc"), int(category)


def read_descriptions(path: str | Path, encoding: str = "utf-8") -> dict[str, str]:
    """``{code: description}`` from an ``ICD9_descriptions`` file, checking every line."""
    path = Path(path)
    out: dict[str, str] = {}
    for i, line in iter_lines(path, encoding):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        code, sep, description = line.partition("\t")
        code = code.strip()
        if not sep or not (code == ROOT or _CODE.match(code) or _RANGE.match(code)):
            raise CorpusFormatError(path, i, "'<ICD-9 code or range><TAB><description>'", line)
        out.setdefault(code, description.strip())
    return out


def build_tree(codes: dict[str, str] | list[str]) -> Hierarchy:
    """The ICD-9 tree over `codes` (point codes, ranges, ``@``) by prefixes and range containment."""
    codes = list(codes)
    known = set(codes)
    ranges = []
    for code in codes:
        m = _RANGE.match(code)
        if m:
            (fam_lo, lo), (fam_hi, hi) = _family_and_number(m.group(1)), _family_and_number(m.group(2))
            if fam_lo != fam_hi or hi < lo:
                raise ValueError(f"ICD-9 range {code!r} mixes code families or is reversed")
            ranges.append((code, fam_lo, lo, hi))

    def smallest_range(family: str, lo: int, hi: int, exclude: str | None = None) -> str | None:
        best = None
        for code, fam, rlo, rhi in ranges:
            if code == exclude or fam != family or not (rlo <= lo and hi <= rhi) or (rlo, rhi) == (lo, hi) and exclude:
                continue
            if best is None or (rhi - rlo, code) < (best[1], best[0]):
                best = (code, rhi - rlo)
        return best[0] if best else None

    top = [ROOT] if ROOT in known else []
    parents: dict[str, list[str]] = {}
    for code in codes:
        if code == ROOT:
            parents[code] = []
            continue
        m = _RANGE.match(code)
        if m:
            fam, lo = _family_and_number(m.group(1))
            _, hi = _family_and_number(m.group(2))
            parent = smallest_range(fam, lo, hi, exclude=code)
            parents[code] = [parent] if parent else top
            continue
        category, _, decimals = code.partition(".")
        parent = None
        if decimals:
            prefix = code
            while parent is None and len(prefix) > len(category):
                prefix = prefix[:-1].rstrip(".")
                if prefix in known:
                    parent = prefix
        if parent is None:
            fam, num = _family_and_number(category)
            parent = smallest_range(fam, num, num)
        parents[code] = [parent] if parent else top
    return Hierarchy(parents)


def parent_for_unknown(code: str, tree: Hierarchy) -> str | None:
    """Where a code missing from the descriptions attaches: its longest known prefix, else the
    smallest range containing its category, else ``None``."""
    category, _, decimals = code.partition(".")
    prefix = code
    while len(prefix) > len(category):
        prefix = prefix[:-1].rstrip(".")
        if prefix in tree:
            return prefix
    try:
        fam, num = _family_and_number(category)
    except ValueError:
        return None
    best = None
    for label in tree.labels:
        m = _RANGE.match(label)
        if m:
            f, lo = _family_and_number(m.group(1))
            _, hi = _family_and_number(m.group(2))
            if f == fam and lo <= num <= hi and (best is None or hi - lo < best[1]):
                best = (label, hi - lo)
    return best[0] if best else None
