"""Rationales: for each document, the character spans a human marked as evidence for each label.

A rationale record is ``{"id", "text", "labels": [names], "rationales": {name: [[start, end], ...]}}``
(``end`` exclusive, offsets into ``text``). Two sources:

- HoC's original release (``hoc_rationales``): every sentence is annotated with its hallmarks, so a
  document label's rationale is the spans of the sentences annotated with it. The text is built as
  the HoC builder builds it (the release's non-empty lines, stripped, joined by one space), so the
  offsets hold for ``load_corpus("hoc", ...)``'s ``text`` of the same PMID.
- ADE-Corpus-V2 (``ade_rationales``): token-level rationales. Each sentence's rationale for
  ``ADR`` is its adverse-effect mentions (and for ``DRUG`` its drug mentions), as character spans
  into the sentence; sentences and splits are the ADE builder's (same seed, folds and ratio), so a
  sentence classifier trained on ADE (labels named ``ADR`` / ``DRUG``) is explained on its own test
  sentences. Sentences without a mention have no rationale and are left out.
- A JSON Lines file of rationale records (``read_rationale_file``), for any other corpus.
"""

from __future__ import annotations

import json
from pathlib import Path

from .base import CorpusFormatError
from .files import read_text
from .hoc import SEPARATOR, _find_release, parse_label_file


def hoc_rationales(data_dir: str, labels: str = "top", encoding: str = "utf-8") -> dict[str, dict]:
    """``{pmid: rationale record}`` of every abstract of the HoC release in ``data_dir`` with a hallmark.

    ``labels="top"``: the 10 hallmarks; ``labels="fine"``: every taxonomy node (a sentence annotated
    with a path is evidence for the path's ancestors too), named as the builder names them.
    """
    if labels not in ("top", "fine"):
        raise ValueError(f"hoc rationales: labels must be 'top' or 'fine', got {labels!r}")
    release = _find_release(data_dir)
    out = {}
    for text_path in sorted((release / "text").glob("*.txt")):
        label_path = release / "labels" / text_path.name
        if not label_path.exists():
            continue
        lines = [line.strip() for line in read_text(text_path, encoding).splitlines() if line.strip()]
        spans: dict[str, list[list[int]]] = {}
        start = 0
        for sentence, paths in zip(lines, parse_label_file(label_path, len(lines), encoding)):
            names = set()
            for path in paths:
                parts = path.split(SEPARATOR)
                if labels == "top":
                    names.add(parts[0])
                else:
                    names.update(SEPARATOR.join(parts[: i + 1]) for i in range(len(parts)))
            for name in names:
                spans.setdefault(name, []).append([start, start + len(sentence)])
            start += len(sentence) + 1
        if spans:
            out[text_path.stem] = {"id": text_path.stem, "text": " ".join(lines), "labels": sorted(spans), "rationales": spans}
    return out


def ade_rationales(data_dir: str, split: str = "test", entity_types: tuple[str, ...] = ("ADR", "DRUG"),
                   **options) -> list[dict]:
    """Rationale records of ADE's sentences with a mention, in the builder's ``split`` (``"all"``: every
    split): ``rationales`` maps each entity type in ``entity_types`` to its mentions' spans.
    ``options`` are the ADE builder's (``fold``, ``num_folds``, ``split_ratio``, ``seed``)."""
    from . import get_builder

    builder = get_builder("ade", data_dir=data_dir, **options)
    generators = {str(g.name): g.gen_kwargs["sentences"] for g in builder._split_generators(None)}
    if split != "all" and split not in generators:
        raise ValueError(f"ade rationales: split must be one of {sorted(generators)} or 'all', got {split!r}")
    out = []
    for name in generators if split == "all" else [split]:
        counts: dict[str, int] = {}
        for pmid, sentence, spans in generators[name]:
            number = counts[pmid] = counts.get(pmid, -1) + 1
            rationales: dict[str, list[list[int]]] = {}
            for start, end, etype in spans:
                if etype in entity_types and [start, end] not in rationales.get(etype, []):
                    rationales.setdefault(etype, []).append([start, end])
            if rationales:
                out.append({"id": f"{pmid}-{number}", "text": sentence, "labels": sorted(rationales), "rationales": rationales})
    return out


def read_rationale_file(path: str | Path) -> list[dict]:
    """Rationale records from a JSON Lines file; an error names the line and field at fault."""
    path = Path(path)
    records = []
    for number, line in enumerate(read_text(path, "utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise CorpusFormatError(path, number, "a JSON object", f"{line[:80]} ({error.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise CorpusFormatError(path, number, 'an object with a "text" string', line[:80])
        rationales = record.get("rationales")
        if not isinstance(rationales, dict):
            raise CorpusFormatError(path, number, 'a "rationales" object {label: [[start, end], ...]}', line[:80])
        for name, spans in rationales.items():
            for span in spans:
                if not (isinstance(span, list) and len(span) == 2 and 0 <= span[0] < span[1] <= len(record["text"])):
                    raise CorpusFormatError(
                        path, number, f'rationale spans [start, end] inside the text (label {name!r})', json.dumps(span)
                    )
        record.setdefault("id", str(number))
        record.setdefault("labels", sorted(rationales))
        records.append(record)
    return records
