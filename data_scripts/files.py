"""Reading corpus files so that bad bytes, truncated archives and broken CSV quoting end in an
error naming the file and the line, never in a raw ``UnicodeDecodeError`` or silently merged rows.

Every builder reads through these helpers:

* :func:`iter_lines` reads a file line by line (``.gz`` files transparently); a byte sequence
  that is not valid in ``encoding`` raises :class:`CorpusEncodingError` with the line and the
  byte position (found by a second, binary pass, so the normal path stays a plain text
  stream), and a truncated ``.gz`` (an interrupted download) raises
  :class:`CorpusFormatError` instead of ``EOFError``.
* :func:`read_text` and :func:`read_json` build on it.
* :func:`read_csv` parses with ``strict`` quoting: a quote that is never closed (which would
  swallow the following rows into one field) or a file cut inside a quoted field raises an error
  naming the line where the broken record starts. A multi-line field that holds lines looking
  like the start of a record (``record_start``) is reported the same way.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import json
import logging
import os
import re
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .base import CorpusFormatError

logger = logging.getLogger(__name__)

# Encodings whose newline is not the single byte b"\n": these files are decoded whole.
_WIDE = ("utf-16", "utf-32", "utf_16", "utf_32")


class CorpusEncodingError(CorpusFormatError):
    """Bytes that are not valid in the configured encoding, named by file, line and byte."""


def _is_utf8(data: bytes, final: bool = True) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=final)
    except UnicodeDecodeError:
        return False
    return True


def guess_encoding(data: bytes) -> tuple[str, str]:
    """``(encoding, why)``: the encoding the bytes of a file most likely are in.

    Only what the bytes prove is claimed: valid UTF-8 (with a non-ASCII byte, text in a single-byte
    encoding practically never is), a UTF-16/32 byte-order mark, bytes 0x80-0x9F (printable in
    Windows-1252, control codes in Latin-1), else Latin-1, which decodes any byte sequence, so its
    accented letters are to be checked."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32", "it starts with a UTF-32 byte-order mark"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "it starts with a UTF-16 byte-order mark"
    if _is_utf8(data):
        return "utf-8", "all its bytes are valid UTF-8"
    if re.search(rb"[\x80-\x9f]", data):
        try:
            data.decode("cp1252")
            return "cp1252", "it is not UTF-8 and holds bytes 0x80-0x9F, printable characters in Windows-1252"
        except UnicodeDecodeError:
            pass
    return "latin-1", "it is not UTF-8; Latin-1 reads any bytes, so check that its accented letters come out right"


def _encoding_error(path: Path, line: int, line_start: int, err: UnicodeDecodeError, encoding: str) -> CorpusEncodingError:
    position = line_start + err.start
    bad = err.object[err.start : err.start + 8]
    with _open_binary(path) as handle:
        guess, why = guess_encoding(handle.read())
    return CorpusEncodingError(
        path,
        f"line {line}, byte {position}",
        f"text in the encoding {encoding!r} (the file looks like {guess}: {why}; pass encoding='{guess}', "
        f"command line: --config encoding={guess})",
        f"the bytes {bytes(bad)!r}",
    )


# (folder, encoding) pairs already warned about, so a corpus of many files gets one warning.
_mojibake_warned: set[tuple[str, str]] = set()


def _warn_if_utf8(path: Path, encoding: str) -> None:
    """Warn when a file read in a single-byte encoding is UTF-8 with non-ASCII text: every such
    character would come out as two or three wrong ones ("é" as "Ã©"), with no error."""
    name = codecs.lookup(encoding).name
    if name in ("utf-8", "utf-8-sig", "ascii") or name.startswith(_WIDE) or (str(path.parent), name) in _mojibake_warned:
        return
    with _open_binary(path) as handle:
        head = handle.read(1 << 16)
    if head.isascii() or not _is_utf8(head, final=False):
        return
    _mojibake_warned.add((str(path.parent), name))
    logger.warning(
        "%s is read with encoding=%r but its text is valid UTF-8 with non-ASCII characters: they will read as "
        "wrong characters (e.g. 'é' as 'Ã©'). Leave out the encoding option (UTF-8 is the default) unless you "
        "know the file is %s.",
        path, encoding, encoding,
    )


def _open_binary(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def _locate_decode_error(path: Path, encoding: str) -> CorpusEncodingError | None:
    """Find the first undecodable byte of `path` (second, slow pass: only after a failure)."""
    with _open_binary(path) as handle:
        if encoding.lower().replace("-", "_").startswith(_WIDE):
            data = handle.read()
            try:
                data.decode(encoding)
            except UnicodeDecodeError as err:
                return _encoding_error(path, data[: err.start].count(b"\n") + 1, 0, err, encoding)
            return None
        offset = 0
        for number, raw in enumerate(handle, 1):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError as err:
                return _encoding_error(path, number, offset, err, encoding)
            offset += len(raw)
    return None


def iter_lines(path: str | os.PathLike, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a text file, line endings kept as they are in the file.

    Raises:
        CorpusEncodingError: a line is not valid in `encoding` (file, line, byte position).
        CorpusFormatError: a ``.gz`` file is truncated or corrupt.
    """
    path = Path(path)
    number = 0
    _warn_if_utf8(path, encoding)
    try:
        # newline="": lines keep their endings untranslated (csv needs that, Brat counts them).
        handle = gzip.open(path, "rt", encoding=encoding, newline="") if path.suffix == ".gz" else path.open(encoding=encoding, newline="")
        with handle:
            for number, line in enumerate(handle, 1):
                yield number, line
    except UnicodeDecodeError as err:
        located = _locate_decode_error(path, encoding)
        if located is None:  # a decoder that fails only across lines: report what Python said
            raise CorpusEncodingError(path, None, f"text in the encoding {encoding!r}", str(err)) from None
        raise located from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise CorpusFormatError(
            path, number + 1, "a complete gzip file (it looks truncated: an interrupted download? fetch it again)", str(err)
        ) from None


def read_text(path: str | os.PathLike, encoding: str = "utf-8", universal_newlines: bool = True) -> str:
    """The whole file as text; ``\\r\\n`` and ``\\r`` become ``\\n`` unless
    `universal_newlines` is False (Brat offsets count every character)."""
    text = "".join(line for _, line in iter_lines(path, encoding))
    if universal_newlines:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def read_json(path: str | os.PathLike, encoding: str = "utf-8") -> Any:
    """A JSON file, with a syntax error reported by file and line."""
    try:
        return json.loads(read_text(path, encoding))
    except json.JSONDecodeError as err:
        raise CorpusFormatError(path, err.lineno, "valid JSON", err.msg) from None


def read_csv(
    path: str | os.PathLike,
    encoding: str = "utf-8",
    record_start: str | re.Pattern | None = None,
    delimiter: str = ",",
) -> Iterator[tuple[int, list[str]]]:
    """``(first line of the record, fields)`` for each CSV record, header included.

    Args:
        record_start: a pattern matching the beginning of a record of this file (e.g.
            ``r"\\d+,"``); a quoted field spanning several lines that contains such a line is
            taken as an unbalanced quote that merged records, and raises.
        delimiter: the field separator (``"\\t"`` for TSV files).

    Raises:
        CorpusFormatError: unbalanced quote, file ending inside a quoted field, or merged records,
            naming the line where the broken record starts.
    """
    path = Path(path)
    csv.field_size_limit(sys.maxsize)  # clinical notes are long fields
    pattern = re.compile(record_start) if isinstance(record_start, str) else record_start
    lines = (line for _, line in iter_lines(path, encoding))
    # TSV files (LibMultiLabel's `labels<TAB>text`, spreadsheet exports) do not quote: a '"' in a text is text.
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(lines, strict=True, delimiter=delimiter, quoting=quoting)
    previous = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            start, end = previous + 1, reader.line_num
            if "unexpected end of data" in str(err):
                raise CorpusFormatError(
                    path, start, "every quoted field to be closed: the file ends inside the quoted field of the record "
                    "starting here (a truncated file?)", str(err)
                ) from None
            raise CorpusFormatError(
                path, start, f"balanced double quotes (the record starting here breaks at line {end}; an unbalanced "
                "or unescaped '\"' merges rows: write a quote inside a quoted field as '\"\"')", str(err)
            ) from None
        start = previous + 1
        previous = reader.line_num
        if pattern is not None and reader.line_num > start:
            for field in row:
                inner = field.split("\n")[1:]
                for k, text in enumerate(inner, 1):
                    if pattern.match(text.lstrip("\r")):
                        raise CorpusFormatError(
                            path, start, "one record per row: a quoted field holds a line that looks like a new record "
                            f"(line {start + k}), so an unbalanced quote has merged rows {start}-{reader.line_num}", text
                        )
        yield start, row
